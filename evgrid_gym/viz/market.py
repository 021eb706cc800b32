"""The market of one tick as the dashboard shows it: bids by price, who got own energy, who bought
from the external supplier (seed 000's market, :mod:`evgrid_gym.core.market`).

Households bid ``market.household_bid_eur_per_kwh`` for all of their load; a station's bid curve
starts at ``1 - fill`` and falls by ``1 / storage`` per kWh (storage: its plugged EVs'
batteries and its BESS, kWh, at the start of the tick). Own energy goes to the highest bids
first, so on the merit order of all bids (price against the energy asked at that price or
above) the first ``own_energy_used_kwh`` are own energy and the rest is bought externally.
A station whose link is down has no bid (its demand is all external).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evgrid_gym.viz.state import FrameState


def _merit_order(household_kwh, household_bid, bid_start, storage_kwh, demand_kwh):
    """``(kwh, price)`` points of the merit order: cumulative energy asked at ``price`` or above."""
    slope = np.divide(1.0, storage_kwh, out=np.zeros_like(storage_kwh), where=storage_kwh > 0)
    bid_end = bid_start - demand_kwh * slope
    on = demand_kwh > 0
    prices = np.unique(np.concatenate([bid_start[on], bid_end[on]]))[::-1]
    kwh, price = [0.0, household_kwh], [household_bid, household_bid]
    for p in prices:
        take = np.minimum(np.maximum((bid_start - p) * storage_kwh, 0.0), demand_kwh)
        kwh.append(household_kwh + float(take[on].sum()))
        price.append(float(p))
    return kwh, price


def market_of_tick(before: FrameState, after: FrameState) -> dict[str, Any]:
    """The market of the tick run between ``before`` (its start) and ``after`` (its end).

    Returns:
        A JSON-ready dict: ``supply_kwh`` (own production and station exports on offer),
        ``own_used_kwh``, ``external_kwh``, ``surplus_kwh`` (exported or curtailed),
        ``clearing_price_eur_per_kwh`` (the lowest accepted bid), ``consumers`` (households
        and each station: ``name``, ``bid_eur_per_kwh`` (first unit), ``last_bid_eur_per_kwh``,
        ``demand_kwh``, ``own_kwh``, ``external_kwh``, ``in_market``), and ``merit_order``
        (``kwh`` and ``price`` lists: the bid curve of all consumers, highest first).
    """
    sc = after.scenario
    dt_h = sc.config.dt_h
    in_market = ~before.link_down
    net_kwh = after.station_net_kw * dt_h
    demand = np.where(in_market, np.maximum(net_kwh, 0.0), 0.0)
    storage = before.storage_kwh
    bid_start = after.station_bid_eur_per_kwh
    household_kwh = after.kpi_value("household_kwh")
    household_bid = sc.config.market.household_bid_eur_per_kwh
    own_used = after.kpi_value("own_energy_used_kwh")
    station_own = after.station_own_kwh
    consumers = [
        {
            "name": "households",
            "bid_eur_per_kwh": household_bid,
            "last_bid_eur_per_kwh": household_bid,
            "demand_kwh": household_kwh,
            "own_kwh": own_used - float(station_own.sum()),
            "external_kwh": household_kwh - (own_used - float(station_own.sum())),
            "in_market": True,
        }
    ]
    for s, station in enumerate(sc.config.stations):
        last = bid_start[s] - demand[s] / storage[s] if storage[s] > 0 else bid_start[s]
        consumers.append(
            {
                "name": station.id,
                "bid_eur_per_kwh": float(bid_start[s]),
                "last_bid_eur_per_kwh": float(last),
                "demand_kwh": float(max(net_kwh[s], 0.0)),
                "own_kwh": float(station_own[s]),
                "external_kwh": float(after.station_external_kwh[s]),
                "in_market": bool(in_market[s]),
            }
        )
    kwh, price = _merit_order(household_kwh, household_bid, bid_start, storage, demand)
    return {
        "supply_kwh": after.kpi_value("renewable_kwh") + float(np.maximum(-net_kwh, 0.0).sum()),
        "own_used_kwh": own_used,
        "external_kwh": after.kpi_value("external_energy_kwh"),
        "surplus_kwh": after.kpi_value("export_kwh") + after.kpi_value("curtailed_kwh"),
        "clearing_price_eur_per_kwh": after.kpi_value("clearing_price_eur_per_kwh"),
        "consumers": consumers,
        "merit_order": {"kwh": kwh, "price": price},
    }
