"""Market clearing of seed 000: consumers bid for the community's own energy, producers sell it
to the highest bids first (merit order), the external supplier covers the rest.

Bids (seed 000, "Heuristic Approach"): households bid ``household_bid`` (1.0 EUR/kWh) for all
of their load, so they are always served first. A station is a store holding ``F`` kWh of
``N`` kWh capacity (its plugged EVs plus its BESS); seed 000 bids its k-th unit of ``N`` at
``1 - (f + k - 1) / N``. We use the limit of that rule for an infinitesimal unit: the
station's x-th kWh is bid at

    price(x) = (1 - F / N) - x / N,        0 <= x <= demand,

a linear, decreasing bid curve that starts at ``1 - fill``. The limit makes the clearing exact
and free of an arbitrary unit size. Own energy goes to the households, then to the station bids
above a threshold price ``lam`` chosen so that exactly the available own energy is sold
(stations with equal bids share it in proportion to their capacity). Everything not served
from own energy is bought from the external supplier at its price, so no consumer is starved.

Payments for own energy are transfers inside the community: pay-as-bid (each unit pays its
bid: the area under the bid curve) or uniform price (every unit pays the clearing price, the
lowest accepted bid of more than :data:`MIN_TRADE_KWH`).

Households' bid must be at least 1.0 (the highest a station can bid), so serving them first is
also the merit order. A station whose grid demand in a tick exceeds its free storage (its
losses) bids the last part of it below 0: the linear rule is kept as it is.
"""

import numpy as np

from evgrid_gym.core.jit import kernel
from evgrid_gym.core.sort import insertion_sort

MIN_TRADE_KWH = 1e-6
"""Accepted quantities at or below this (rounding slivers, e.g. a BESS 1e-16 below its soc
limit) are still delivered and paid for but do not set the uniform clearing price."""


def scratch_size(n_stations):
    """Length of the ``scratch`` work space :func:`clear_market` needs, float64 entries."""
    return 3 * n_stations


@kernel
def _station_take_kwh(bid_start, capacity_kwh, demand_kwh, price):
    """Energy a station's bid curve asks for at or above ``price``, kWh."""
    return min(max((bid_start - price) * capacity_kwh, 0.0), demand_kwh)


@kernel
def _stations_take_kwh(bid_start, capacity_kwh, demand_kwh, price):
    total = 0.0
    for s in range(demand_kwh.shape[0]):
        if demand_kwh[s] > 0.0:
            total += _station_take_kwh(bid_start[s], capacity_kwh[s], demand_kwh[s], price)
    return total


@kernel
def _threshold_price(bid_start, capacity_kwh, demand_kwh, supply_kwh, breaks):
    """Price ``lam`` at which the stations' bids above ``lam`` take exactly ``supply_kwh``.

    The total take is a non-increasing, piecewise-linear function of the price with
    breakpoints where a curve starts (``bid_start``) or ends (``bid_start - demand/N``); we
    find the segment that brackets ``supply_kwh`` and interpolate on it.
    Requires ``0 <= supply_kwh < total demand``. ``breaks`` is work space of shape (2S,).
    """
    n = demand_kwh.shape[0]
    m = 0
    for s in range(n):
        if demand_kwh[s] > 0.0:
            breaks[m] = bid_start[s]
            breaks[m + 1] = bid_start[s] - demand_kwh[s] / capacity_kwh[s]
            m += 2
    insertion_sort(breaks[:m])
    high_price = breaks[m - 1]
    high_take = 0.0
    for j in range(m - 1, -1, -1):  # descending prices
        take = _stations_take_kwh(bid_start, capacity_kwh, demand_kwh, breaks[j])
        if take >= supply_kwh:
            if take == high_take:
                return breaks[j]
            return high_price + (supply_kwh - high_take) * (breaks[j] - high_price) / (
                take - high_take
            )
        high_price = breaks[j]
        high_take = take
    return breaks[0]


@kernel
def clear_market(
    household_kwh,
    station_demand_kwh,
    station_fill,
    station_capacity_kwh,
    own_supply_kwh,
    household_bid,
    uniform_price,
    station_own_kwh,
    station_payment_eur,
    scratch,
):
    """Clears one tick of the community energy market.

    Args:
        household_kwh: household demand, kWh (>= 0).
        station_demand_kwh: stations' net grid demand, kWh, shape (S,) (>= 0).
        station_fill: stored / capacity of each station's storage, 0..1, shape (S,).
        station_capacity_kwh: storage capacity of each station, kWh, shape (S,); must be
            > 0 where the demand is > 0.
        own_supply_kwh: own renewable energy (plus station exports) on offer, kWh (>= 0).
        household_bid: households' bid, EUR/kWh.
        uniform_price: True for uniform price, False for pay-as-bid.
        station_own_kwh: output, own energy each station buys, kWh, shape (S,).
        station_payment_eur: output, what each station pays for it, EUR, shape (S,).
        scratch: work space, float64, shape (>= ``scratch_size(S)``,); overwritten.

    Returns:
        ``(household_own_kwh, household_payment_eur, clearing_price, surplus_kwh)``: own
        energy the households get and pay for, the lowest accepted bid (0 when nothing
        tradable is sold) and the own energy left unsold (to export or curtail). External energy is
        ``demand - own`` for each consumer.
    """
    n_stations = station_demand_kwh.shape[0]
    bid_start = scratch[:n_stations]
    for s in range(n_stations):
        bid_start[s] = 1.0 - station_fill[s]
    household_own_kwh = min(household_kwh, own_supply_kwh)
    supply_kwh = own_supply_kwh - household_own_kwh
    total_station_kwh = station_demand_kwh.sum()
    if supply_kwh >= total_station_kwh:
        for s in range(n_stations):  # a loop: an array copy compiles numba's shape-error path
            station_own_kwh[s] = station_demand_kwh[s]
    else:
        breaks = scratch[n_stations : 3 * n_stations]
        lam = _threshold_price(
            bid_start, station_capacity_kwh, station_demand_kwh, supply_kwh, breaks
        )
        for s in range(n_stations):
            station_own_kwh[s] = _station_take_kwh(
                bid_start[s], station_capacity_kwh[s], station_demand_kwh[s], lam
            )
    # clearing price: the lowest accepted bid of a tradable quantity
    clearing_price = household_bid if household_own_kwh > MIN_TRADE_KWH else np.inf
    for s in range(n_stations):
        if station_own_kwh[s] > MIN_TRADE_KWH:
            last_bid = bid_start[s] - station_own_kwh[s] / station_capacity_kwh[s]
            clearing_price = min(clearing_price, last_bid)
    if clearing_price == np.inf:
        clearing_price = 0.0
    for s in range(n_stations):
        own = station_own_kwh[s]
        if uniform_price:
            station_payment_eur[s] = clearing_price * own
        elif own > 0.0:
            station_payment_eur[s] = (bid_start[s] - 0.5 * own / station_capacity_kwh[s]) * own
        else:
            station_payment_eur[s] = 0.0
    price = clearing_price if uniform_price else household_bid
    household_payment_eur = price * household_own_kwh
    surplus_kwh = own_supply_kwh - household_own_kwh - station_own_kwh.sum()
    return household_own_kwh, household_payment_eur, clearing_price, max(surplus_kwh, 0.0)
