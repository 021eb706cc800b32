"""Market clearing kernel (core/market.py) against the reference, seed 000's discrete units
and hand-worked cases."""

import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose

from evgrid_gym.core.market import clear_market, scratch_size


def _clear(household_kwh, demand, fill, capacity, supply, uniform=False, household_bid=1.0):
    """Calls the kernel; returns the same dict as ``reference.clear``."""
    own = np.full(len(demand), np.nan)
    payment = np.full(len(demand), np.nan)
    h_own, h_pay, price, surplus = clear_market(
        float(household_kwh),
        np.array(demand, dtype=float),
        np.array(fill, dtype=float),
        np.array(capacity, dtype=float),
        float(supply),
        float(household_bid),
        uniform,
        own,
        payment,
        np.full(scratch_size(len(demand)), np.nan),
    )
    return {
        "household_own_kwh": h_own,
        "household_payment_eur": h_pay,
        "clearing_price": price,
        "surplus_kwh": surplus,
        "station_own_kwh": own,
        "station_payment_eur": payment,
    }


def _assert_same(got, want, rtol=1e-9, atol=1e-9):
    for key in want:
        assert_allclose(got[key], want[key], rtol=rtol, atol=atol, err_msg=key)


# --- hand-worked cases -----------------------------------------------------------------------


def test_households_are_served_first():
    got = _clear(10.0, [5.0], [0.0], [50.0], supply=8.0)
    assert_allclose(got["household_own_kwh"], 8.0)
    assert_allclose(got["household_payment_eur"], 8.0)  # households bid 1.0 EUR/kWh
    assert_allclose(got["station_own_kwh"], [0.0])
    assert_allclose(got["station_payment_eur"], [0.0])
    assert_allclose(got["clearing_price"], 1.0)
    assert got["surplus_kwh"] == 0.0


def test_enough_supply_serves_everybody_and_leaves_a_surplus():
    got = _clear(4.0, [3.0, 2.0], [0.5, 0.2], [10.0, 20.0], supply=12.0)
    assert_allclose(got["household_own_kwh"], 4.0)
    assert_allclose(got["station_own_kwh"], [3.0, 2.0])
    assert_allclose(got["surplus_kwh"], 3.0)
    # pay-as-bid: station 0 bids 0.5 - x/10 on [0, 3]: 1.5 - 0.45; station 1 0.8 - x/20 on [0, 2]
    assert_allclose(got["station_payment_eur"], [1.5 - 0.45, 1.6 - 0.1])
    # the lowest accepted bid: station 0's last kWh at 0.5 - 0.3
    assert_allclose(got["clearing_price"], 0.2)


def test_station_with_lower_fill_wins_own_energy():
    # bids 0.8 - x/100 and 0.4 - x/100: 10 kWh all go to the emptier station 0
    for uniform in (False, True):
        got = _clear(0.0, [10.0, 10.0], [0.2, 0.6], [100.0, 100.0], supply=10.0, uniform=uniform)
        assert_allclose(got["station_own_kwh"], [10.0, 0.0], atol=1e-12)
        assert_allclose(got["clearing_price"], 0.7)
        assert_allclose(got["station_payment_eur"], [7.5 if not uniform else 7.0, 0.0])
        assert got["surplus_kwh"] == 0.0


def test_bid_curves_cross():
    # station 0: 0.8 - x/10 (5 kWh), station 1: 0.5 - x/10 (5 kWh), 4 kWh of own energy.
    # Station 0 alone down to 0.5 (3 kWh); then (0.8 - p) 10 + (0.5 - p) 10 = 4 -> p = 0.45.
    got = _clear(0.0, [5.0, 5.0], [0.2, 0.5], [10.0, 10.0], supply=4.0)
    assert_allclose(got["station_own_kwh"], [3.5, 0.5])
    assert_allclose(got["clearing_price"], 0.45)
    assert_allclose(got["station_payment_eur"], [0.8 * 3.5 - 3.5**2 / 20, 0.5 * 0.5 - 0.5**2 / 20])
    got = _clear(0.0, [5.0, 5.0], [0.2, 0.5], [10.0, 10.0], supply=4.0, uniform=True)
    assert_allclose(got["station_payment_eur"], [0.45 * 3.5, 0.45 * 0.5])


def test_equal_bids_share_in_proportion_to_capacity():
    # both start at 0.5; (0.5 - p) (100 + 300) = 20 -> p = 0.45, takes 5 and 15
    got = _clear(0.0, [50.0, 50.0], [0.5, 0.5], [100.0, 300.0], supply=20.0)
    assert_allclose(got["station_own_kwh"], [5.0, 15.0])
    assert_allclose(got["clearing_price"], 0.45)


def test_no_own_energy():
    got = _clear(3.0, [2.0, 1.0], [0.1, 0.9], [10.0, 10.0], supply=0.0, uniform=True)
    assert_allclose(got["station_own_kwh"], [0.0, 0.0])
    assert got["household_own_kwh"] == 0.0
    assert got["clearing_price"] == 0.0  # nothing sold
    assert got["household_payment_eur"] == 0.0
    assert_allclose(got["station_payment_eur"], [0.0, 0.0])


def test_uniform_price_households_pay_the_clearing_price():
    # households take 2 of 5 kWh; station 0 (bid 0.9 - x/10) takes the other 3 -> last bid 0.6
    got = _clear(2.0, [4.0], [0.1], [10.0], supply=5.0, uniform=True)
    assert_allclose(got["station_own_kwh"], [3.0])
    assert_allclose(got["clearing_price"], 0.6)
    assert_allclose(got["household_payment_eur"], 1.2)
    assert_allclose(got["station_payment_eur"], [1.8])
    got = _clear(2.0, [4.0], [0.1], [10.0], supply=5.0, uniform=False)
    assert_allclose(got["household_payment_eur"], 2.0)
    assert_allclose(got["station_payment_eur"], [0.9 * 3 - 9 / 20])


def test_station_without_demand_gets_nothing():
    got = _clear(0.0, [0.0, 2.0], [0.0, 0.9], [0.0, 10.0], supply=1.0)
    assert_allclose(got["station_own_kwh"], [0.0, 1.0])
    assert_allclose(got["station_payment_eur"], [0.0, 0.1 - 1 / 20])


# --- random cases ----------------------------------------------------------------------------


def _random_market(rng, n_max=5, knife_edge=True):
    """A random market; ``knife_edge`` adds supplies that exactly end a station's curve.

    There, a rounding-level sliver (1e-15 kWh) may go to the next station and move the
    clearing price (the lowest accepted bid) across the gap between the two curves.
    """
    n = int(rng.integers(1, n_max + 1))
    capacity = rng.uniform(5.0, 300.0, n)
    fill = rng.uniform(0.0, 1.0, n)
    fill[rng.random(n) < 0.2] = fill[0]  # ties
    demand = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0.0, 1.0, n) * (1 - fill) * capacity)
    household = rng.choice([0.0, rng.uniform(0.0, 50.0)])
    total = household + demand.sum()
    supply = rng.choice([0.0, rng.uniform(0.0, 1.2 * total), household])
    if knife_edge and rng.random() < 0.3:
        supply = household + demand[0]
    return household, demand, fill, capacity, supply, bool(rng.random() < 0.5)


def test_matches_reference():
    rng = np.random.default_rng(21)
    for _ in range(2000):
        household, demand, fill, capacity, supply, uniform = _random_market(rng, knife_edge=False)
        got = _clear(household, demand, fill, capacity, supply, uniform)
        want = ref.clear(household, demand, fill, capacity, supply, 1.0, uniform)
        _assert_same(got, want)


@pytest.mark.parametrize("uniform", [False, True])
def test_converges_to_seed_000_discrete_units(uniform):
    """Seed 000's unit bids with tiny units reach the kernel's continuous result."""
    rng = np.random.default_rng(22 + uniform)
    unit = 1e-3
    for _ in range(6):
        household, demand, fill, capacity, supply, _ = _random_market(rng, 4, knife_edge=False)
        demand = np.minimum(demand, 8.0)
        got = _clear(household, demand, fill, capacity, supply, uniform)
        want = ref.clear_discrete(
            household, list(demand), list(fill), list(capacity), supply, 1.0, uniform, unit
        )
        # each station's allocation is off by at most a unit or so; payments by that times a bid
        _assert_same(got, want, rtol=0.0, atol=3 * unit * len(demand))


def test_invariants():
    rng = np.random.default_rng(23)
    for _ in range(2000):
        household, demand, fill, capacity, supply, uniform = _random_market(rng)
        got = _clear(household, demand, fill, capacity, supply, uniform)
        own = got["station_own_kwh"]
        eps = 1e-9 * (1.0 + supply + demand.sum() + household)
        assert 0.0 <= got["household_own_kwh"] <= household
        assert np.all(own >= 0.0) and np.all(own <= demand + eps)
        # own energy is either used or left over, never more than there is
        used = got["household_own_kwh"] + own.sum()
        assert_allclose(used + got["surplus_kwh"], supply, rtol=1e-9, atol=eps)
        assert got["surplus_kwh"] >= 0.0
        if got["surplus_kwh"] > eps:  # leftover only when every consumer is served
            assert_allclose(own, demand, atol=eps)
            assert_allclose(got["household_own_kwh"], household, atol=eps)
        # households first: stations get own energy only when households have all theirs
        if got["household_own_kwh"] < household - eps:
            assert np.all(own <= eps)
        # merit order: a station left short never bid more than any unit that was accepted
        last_bid = 1.0 - fill - own / np.where(capacity > 0, capacity, 1.0)
        short = demand - own > eps
        served = own > eps
        if short.any() and served.any():
            assert last_bid[short].max() <= last_bid[served].min() + 1e-9
        # transfers: what consumers pay is what producers get for the units they sold
        paid = got["household_payment_eur"] + got["station_payment_eur"].sum()
        price = got["clearing_price"]
        if uniform:
            assert_allclose(paid, price * used, rtol=1e-9, atol=eps)
        else:
            area = (1.0 - fill) * own - own**2 / (2.0 * capacity)
            assert_allclose(paid, got["household_own_kwh"] + area.sum(), rtol=1e-9, atol=eps)
        tradable = 1e-6  # kWh; smaller accepted quantities do not set the price
        if own.max(initial=0.0) > tradable or got["household_own_kwh"] > tradable:
            # the clearing price is the lowest accepted bid of a tradable quantity
            accepted = list(last_bid[own > tradable])
            accepted += [1.0] * int(got["household_own_kwh"] > tradable)
            assert_allclose(price, min(accepted), rtol=1e-9, atol=1e-9)
        else:
            assert price == 0.0
