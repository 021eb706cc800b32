"""Heuristic baselines: the shared allocation rule, each policy on a hand-built scenario whose
right answer is worked out by hand, and every policy on every bundled scenario within the
limits (the env's projection has nothing to cut)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from baselines import make_policy
from baselines.allocation import allocate
from baselines.heuristics import HEURISTICS as POLICIES
from evgrid_gym import EVGridEnv
from evgrid_gym.core import layout as L
from evgrid_gym.core.observation import OBS_HOUSEHOLD

REPO = Path(__file__).resolve().parents[1]
ISSUE_POLICIES = {
    "random", "uncontrolled", "alap", "round_robin", "edf", "llf", "equal_share",
    "greedy_fcfs", "bess_boost", "contract_net",
}  # fmt: skip
BUNDLED = ("default", "caltech_acn", "scenario1_normal", "scenario2_high_demand", "electra_station")


# --- hand-built scenarios -----------------------------------------------------------------


def _ev(arrival, departure, kw=7.0, battery_kwh=100.0, soc=0.1, target=1.0) -> dict:
    return {
        "station": "a", "arrival_tick": arrival, "departure_tick": departure,
        "battery_kwh": battery_kwh, "soc_arrival": soc, "soc_target": target, "max_ac_kw": kw,
    }  # fmt: skip


def _env(
    evs, grid_kw=10.0, chargers=None, bess=None, ticks=8, transition_soc=1.0, feeder_kw=1000.0,
    pilot="average",
) -> EVGridEnv:  # fmt: skip
    """One station ``a``; by default one 7 kW charger (efficiency 1) per EV, no households,
    no wind, a fixed price, pure constant-power charging (``transition_soc`` 1): the EV can
    take ``min(its kW, energy to target / dt_h)`` each tick, so every number is by hand."""
    chargers = chargers or [
        {"max_power_kw": 7.0, "efficiency": 1.0, "connectors": 1, "count": len(evs)}
    ]
    return EVGridEnv({
        "name": "hand", "dt_h": 0.25, "episode_ticks": ticks,
        "grid": {"feeder_limit_kw": feeder_kw},
        "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.3},
        "households": {"count": 0},
        "stations": [{"id": "a", "grid_capacity_kw": grid_kw, "bess": bess, "chargers": chargers}],
        "evs": {"source": "sessions", "sessions": evs},
        "battery": {"transition_soc": transition_soc, "pilot": pilot},
        "action": {"bess_control": bess is not None},
    })  # fmt: skip


def _first_kw(name: str, env: EVGridEnv, **options) -> tuple[np.ndarray, np.ndarray, dict]:
    """The policy's first action as connector kW (and BESS kW), and the env's info after it."""
    policy = make_policy(name, env.scenario, **options)
    observation, info = env.reset(seed=0)
    policy.reset(seed=0)
    action = policy.act(observation, info)
    sc = env.scenario
    connector_kw = _granted_kw(env, action, observation)
    bess_kw = action[sc.n_connectors :].astype(np.float64) * sc.station_f[L.ST_BESS_KW]
    _, _, _, _, info = env.step(action)
    return connector_kw, bess_kw, info


def _granted_kw(env: EVGridEnv, action: np.ndarray, observation: np.ndarray) -> np.ndarray:
    """Connector kW an action asks for, capped at what each EV can take now (the policies
    ask for the charger's full power, 1.0, where they grant an EV all it takes)."""
    sc = env.scenario
    asked_kw = action[: sc.n_connectors].astype(np.float64) * sc.connector_rated_kw
    return np.minimum(asked_kw, sc.unpack(observation.astype(np.float64)).max_power_kw)


def _episode_kw(name: str, env: EVGridEnv, **options) -> tuple[np.ndarray, dict]:
    """Connector kW the policy granted at every tick (:func:`_granted_kw`), shape (ticks, C),
    and the last info."""
    policy = make_policy(name, env.scenario, **options)
    observation, info = env.reset(seed=0)
    policy.reset(seed=0)
    rows, terminated = [], False
    while not terminated:
        action = policy.act(observation, info)
        rows.append(_granted_kw(env, action, observation))
        observation, _, terminated, _, info = env.step(action)
    return np.array(rows), info


# --- the allocation rule -------------------------------------------------------------------


def _alloc(request, priority, cap, connector_charger, charger_kw, conn_station, station_kw, feeder,
           weights=None):  # fmt: skip
    return allocate(
        np.asarray(request, float), np.asarray(priority, float), np.asarray(cap, float),
        np.asarray(connector_charger), np.asarray(charger_kw, float), np.asarray(conn_station),
        np.asarray(station_kw, float), feeder, None if weights is None else np.asarray(weights),
    )  # fmt: skip


def test_allocate_serves_in_priority_order_within_charger_and_station():
    # connectors 0, 1 share a 10 kW charger, connector 2 has its own; station 12 kW.
    # Order 1, 0, 2: connector 1 gets its 8, connector 0 the charger's last 2, connector 2
    # the station's last 12 - 10 = 2.
    power = _alloc([8, 8, 8], [1, 0, 2], [9, 9, 9], [0, 0, 1], [10, 10], [0, 0, 0], [12], 100)
    np.testing.assert_allclose(power, [2, 8, 2])


def test_allocate_respects_the_ev_cap_and_the_feeder():
    # connector 0 can take only 3 of its 8; the feeder leaves 7 in all, so connector 1 gets 4
    power = _alloc([8, 8], [0, 1], [3, 9], [0, 1], [10, 10], [0, 1], [10, 10], 7.0)
    np.testing.assert_allclose(power, [3, 4])
    assert not _alloc([8, 8], [0, 1], [3, 9], [0, 1], [10, 10], [0, 1], [10, 10], -5.0).any()


def test_allocate_ties_share_equally_and_pass_on_what_one_cannot_take():
    # equal priority, station 10 kW: caps 2, 7, 7 -> 2, then (10 - 2) / 2 = 4 each
    power = _alloc([7, 7, 7], [0, 0, 0], [2, 7, 7], [0, 1, 2], [7, 7, 7], [0, 0, 0], [10], 100)
    np.testing.assert_allclose(power, [2, 4, 4])


def test_allocate_ties_with_weights_share_in_proportion():
    # weights 2, 6 on a 4 kW station: 1 and 3
    power = _alloc([5, 6], [0, 0], [5, 6], [0, 1], [9, 9], [0, 0], [4], 100, weights=[2, 6])
    np.testing.assert_allclose(power, [1, 3])


def test_allocate_across_stations_meets_the_feeder_fairly():
    # two stations of 10 kW, one EV each wanting 8, feeder 10: 5 each (equal priority)
    power = _alloc([8, 8], [0, 0], [8, 8], [0, 1], [9, 9], [0, 1], [10, 10], 10.0)
    np.testing.assert_allclose(power, [5, 5])


# --- each policy on a scenario worked out by hand ------------------------------------------


def test_edf_serves_the_earlier_deadline_first():
    # 10 kW station, two 7 kW EVs with big batteries; connector 0 leaves at tick 8,
    # connector 1 at tick 4: EDF gives connector 1 its 7 kW and connector 0 the last 3.
    env = _env([_ev(0, 8), _ev(0, 4)])
    power, _, info = _first_kw("edf", env)
    np.testing.assert_allclose(power, [3.0, 7.0], atol=1e-4)
    assert info["station_net_kw"][0] == pytest.approx(10.0, abs=1e-3)
    # same deadline: they share equally
    power, _, _ = _first_kw("edf", _env([_ev(0, 6), _ev(0, 6)]))
    np.testing.assert_allclose(power, [5.0, 5.0], atol=1e-4)


def test_llf_serves_the_least_laxity_first_where_edf_would_not():
    # connector 0: 12 kWh to go (20 kWh, 0.2 -> 0.8), leaves at 8: laxity 8 - 12/(7 * 0.25)
    # = 1.14 ticks. Connector 1: 1 kWh to go (0.5 -> 0.55), can take 1 / 0.25 = 4 kW, leaves
    # at 4: laxity 4 - 1/(4 * 0.25) = 3. LLF: 7 and 3; EDF: 10 - 4 = 6 and 4.
    evs = [_ev(0, 8, battery_kwh=20.0, soc=0.2, target=0.8),
           _ev(0, 4, battery_kwh=20.0, soc=0.5, target=0.55)]  # fmt: skip
    power, _, _ = _first_kw("llf", _env(evs))
    np.testing.assert_allclose(power, [7.0, 3.0], atol=1e-4)
    power, _, _ = _first_kw("edf", _env(evs))
    np.testing.assert_allclose(power, [6.0, 4.0], atol=1e-4)


def _acnsim_gain_kwh(capacity_kwh, soc, pilot_kw, max_kw, dt_h=0.25) -> float:
    """Energy acnportal's ``Linear2StageBattery`` (transition soc 0.8) gains under a pilot."""
    battery_model = pytest.importorskip("acnportal.acnsim.models.battery")
    battery = battery_model.Linear2StageBattery(capacity_kwh, soc * capacity_kwh, max_kw)
    volts = 208.0
    return battery.charge(pilot_kw * 1e3 / volts, volts, dt_h * 60.0) * volts / 1e3 * dt_h


def test_under_acn_pilots_a_fully_granted_ev_gets_the_pilot_acnsims_algorithms_set():
    # One EV in its CV stage (10 kWh, soc 0.9, 7 kW, transition soc 0.8): it can take less
    # than 7 kW this tick. ACN-Sim's uncontrolled charging sets the EVSE's maximum pilot,
    # 7 kW; its EDF bounds it by the remaining demand: 1 kWh in 0.25 h, 4 kW. A pilot of
    # the EV's average power would hold it below its curve.
    evs = [_ev(0, 8, battery_kwh=10.0, soc=0.9)]
    for name, pilot_kw in (("uncontrolled", 7.0), ("edf", 4.0)):
        env = _env(evs, transition_soc=0.8, pilot="acn")
        policy = make_policy(name, env.scenario)
        observation, info = env.reset(seed=0)
        policy.reset(seed=0)
        action = policy.act(observation, info)
        assert action[0] * 7.0 == pytest.approx(pilot_kw, rel=1e-6), name
        _, _, _, _, info = env.step(action)
        gain_kwh = info["connector_kw"][0] * 0.25
        assert gain_kwh == pytest.approx(_acnsim_gain_kwh(10.0, 0.9, pilot_kw, 7.0), rel=1e-6)
        average_kw = float(env.scenario.unpack(observation).max_power_kw[0])
        assert average_kw < pilot_kw
        assert _acnsim_gain_kwh(10.0, 0.9, average_kw, 7.0) < gain_kwh - 0.01


def test_sharing_rules_of_round_robin_equal_share_and_uncontrolled():
    # 10 kW station, EVs of 2, 7 and 7 kW on their own 7 kW chargers (demand 16 kW):
    # round robin (max-min fair): 2, then (10 - 2) / 2 = 4 each;
    # equal share (seed 003 uniformisation): 10 / 3 each, the 2 kW EV cannot take its share
    #   and it is not passed on: 2, 3.33, 3.33;
    # uncontrolled (proportional to max power): 10 / 16 of each: 1.25, 4.375, 4.375.
    evs = [_ev(0, 8, kw=2.0), _ev(0, 8), _ev(0, 8)]
    expected = {
        "round_robin": [2.0, 4.0, 4.0],
        "equal_share": [2.0, 10 / 3, 10 / 3],
        "uncontrolled": [1.25, 4.375, 4.375],
    }
    for name, kw in expected.items():
        power, _, _ = _first_kw(name, _env(evs))
        np.testing.assert_allclose(power, kw, atol=1e-4, err_msg=name)


def test_equal_share_lets_the_charger_decide_when_the_station_has_room():
    # 50 kW station, one 11 kW charger with two connectors. EVs of 3 and 11 kW: demand 14 kW
    # fits the station but not the charger, which splits equally: 3 (all it takes) and 5.5.
    # EVs of 3 and 7 kW fit the charger: everything is granted.
    charger = [{"max_power_kw": 11.0, "efficiency": 1.0, "connectors": 2, "count": 1}]
    power, _, _ = _first_kw(
        "equal_share", _env([_ev(0, 8, kw=3.0), _ev(0, 8, kw=11.0)], 50.0, charger)
    )
    np.testing.assert_allclose(power, [3.0, 5.5], atol=1e-4)
    power, _, _ = _first_kw(
        "round_robin", _env([_ev(0, 8, kw=3.0), _ev(0, 8, kw=11.0)], 50.0, charger)
    )
    np.testing.assert_allclose(power, [3.0, 8.0], atol=1e-4)
    power, _, _ = _first_kw(
        "equal_share", _env([_ev(0, 8, kw=3.0), _ev(0, 8, kw=7.0)], 50.0, charger)
    )
    np.testing.assert_allclose(power, [3.0, 7.0], atol=1e-4)


@pytest.mark.parametrize("with_info", [True, False])
def test_greedy_fcfs_serves_in_plug_in_order_not_connector_order(with_info):
    # X (tick 0-1) takes connector 0 and A (tick 0-8) connector 1; at tick 1 X leaves and B
    # (tick 1-3) plugs into connector 0. At tick 1 FCFS gives A (plugged in first) its 7 kW
    # and B the station's last 3 kW, although B has the earlier deadline and the lower index.
    env = _env([_ev(0, 1), _ev(0, 8), _ev(1, 3)])
    policy = make_policy("greedy_fcfs", env.scenario)
    observation, info = env.reset(seed=0)
    policy.reset(seed=0)
    for tick in range(2):
        action = policy.act(observation, info if with_info else {})
        observation, _, _, _, info = env.step(action)
        if tick == 0:
            assert info["connector_ev"].tolist() == [2, 1, -1], "B must plug into connector 0"
    np.testing.assert_allclose(action[:2] * 7.0, [3.0, 7.0], atol=1e-4)


def test_alap_charges_only_what_cannot_wait():
    # One 7 kW EV (on an 11 kW charger, 20 kW station) needing 3.5 kWh (100 kWh, 0.5 ->
    # 0.535), leaving at tick 6, constant power: two ticks of 7 kW * 0.25 h = 1.75 kWh deliver
    # it, so ALAP waits at ticks 0-3 and charges fully at ticks 4 and 5, meeting the target.
    charger = [{"max_power_kw": 11.0, "efficiency": 1.0, "connectors": 1, "count": 1}]
    env = _env([_ev(0, 6, soc=0.5, target=0.535)], 20.0, charger)
    power, info = _episode_kw("alap", env, tolerance_kwh=0.0)
    np.testing.assert_allclose(power[:6, 0], [0, 0, 0, 0, 7, 7], atol=1e-4)
    assert not power[6:].any(), "the EV has left"
    assert info["episode_kpis"]["unmet_energy_kwh"] == pytest.approx(0.0, abs=1e-4)
    power, _ = _episode_kw("uncontrolled", env)
    np.testing.assert_allclose(power[:2, 0], [7, 7], atol=1e-4)


def test_alap_plans_around_the_cc_cv_taper():
    # 11 kW EV (efficiency 1), 40 kWh from 0.5 to 0.9 (16 kWh), 24 ticks, taper above 0.8.
    # True need: 12 kWh at 11 kW (1.09 h) plus the taper 0.8 -> 0.9 at tau = 0.2*40/11 h,
    # tau * ln(0.2/0.1) = 0.50 h: about 6.3 ticks. Before it has charged, ALAP bounds the
    # capacity from below by 16 / (1 - 0.5) = 32 kWh (target 100 %): 9.6 kWh CC (0.87 h)
    # plus a taper to 1 - 0.05/32 (tau = 0.58 h, times ln(0.2 / 0.0016) = 4.8: 2.8 h), about
    # 14.7 ticks, so it waits at least until tick 24 - 15 = 9, and then meets the target
    # within its tolerance (uncontrolled starts at once and meets it too).
    evs = [_ev(0, 24, kw=11.0, battery_kwh=40.0, soc=0.5, target=0.9)]
    charger = [{"max_power_kw": 11.0, "efficiency": 1.0, "connectors": 1, "count": 1}]
    env = _env(evs, 20.0, charger, ticks=24, transition_soc=0.8)
    power, info = _episode_kw("alap", env, tolerance_kwh=0.05)
    charging = np.flatnonzero(power[:, 0] > 1e-3)
    assert charging.size and charging[0] >= 8, power[:, 0].round(2).tolist()
    assert info["episode_kpis"]["unmet_energy_kwh"] <= 0.05 + 1e-3
    power, info = _episode_kw("uncontrolled", env)
    assert power[0, 0] == pytest.approx(11.0, abs=1e-4)
    assert info["episode_kpis"]["unmet_energy_kwh"] <= 1e-3


_BESS = {"capacity_kwh": 20.0, "power_kw": 10.0, "efficiency": 1.0,
         "soc_min": 0.1, "soc_max": 0.9, "initial_soc": 0.5}  # fmt: skip


def test_bess_boost_discharges_when_demand_exceeds_the_grid():
    # 10 kW station, two 7 kW EVs (demand 14 kW), BESS soc 0.5 >= 0.2 with 10 kW: the EVs get
    # their 7 kW each and the BESS gives the 4 kW above the grid; equal_share leaves the BESS
    # idle and gives 5 + 5.
    env = _env([_ev(0, 8), _ev(0, 8)], bess=_BESS)
    power, bess, info = _first_kw("bess_boost", env)
    np.testing.assert_allclose(power, [7.0, 7.0], atol=1e-4)
    np.testing.assert_allclose(bess, [-4.0], atol=1e-4)
    assert info["station_net_kw"][0] == pytest.approx(10.0, abs=1e-3)
    power, bess, _ = _first_kw("equal_share", env)
    np.testing.assert_allclose(power, [5.0, 5.0], atol=1e-4)
    np.testing.assert_allclose(bess, [0.0])


def test_bess_boost_needs_twenty_percent_soc():
    env = _env([_ev(0, 8), _ev(0, 8)], bess=_BESS | {"initial_soc": 0.15})
    power, bess, _ = _first_kw("bess_boost", env)
    np.testing.assert_allclose(power, [5.0, 5.0], atol=1e-4)
    np.testing.assert_allclose(bess, [0.0])
    # with the threshold lowered to 10 % it boosts: the BESS can give (0.15 - 0.1) * 20 kWh
    # / 0.25 h = 4 kW, just enough
    power, bess, _ = _first_kw("bess_boost", env, boost_soc=0.1)
    np.testing.assert_allclose(power, [7.0, 7.0], atol=1e-3)
    np.testing.assert_allclose(bess, [-4.0], atol=1e-3)


def test_bess_boost_recharges_from_more_than_half_free_grid():
    # one 3 kW EV on the 10 kW grid: 7 kW (70 %) free > 50 % -> the BESS charges 7 kW
    # (its limit is min(10 kW, (0.9 - 0.5) * 20 / 0.25 = 32 kW)); a 6 kW EV leaves 40 %: idle
    power, bess, info = _first_kw("bess_boost", _env([_ev(0, 8, kw=3.0)], bess=_BESS))
    np.testing.assert_allclose(power, [3.0], atol=1e-4)
    np.testing.assert_allclose(bess, [7.0], atol=1e-4)
    assert info["station_net_kw"][0] == pytest.approx(10.0, abs=1e-3)
    _, bess, _ = _first_kw("bess_boost", _env([_ev(0, 8, kw=6.0)], bess=_BESS))
    np.testing.assert_allclose(bess, [0.0])


@pytest.mark.parametrize(
    "case, prices, renewable_kw, household_kw, expected_ev_kw, expected_bess_kw",
    [
        # flat price, no surplus: only the must-charge energy of connector 0
        ("must only", [0.3] * 5, 0.0, 0.0, [3.0, 0.0], 0.0),
        # 10 kW wind - 1 kW households = 9 kW surplus: must 3, the 6 left go to the emptier
        # EV first (connector 1, soc 0.3, bids 1 - 0.3): 6 of the 7 kW it could take
        ("surplus, emptiest first", [0.3] * 5, 10.0, 1.0, [3.0, 6.0], 0.0),
        # 20 - 1 = 19 kW surplus: connector 1 gets 7, connector 0 its must 3 + 4 flexible (all
        # it takes), the BESS the last 19 - 14 = 5
        ("surplus for all", [0.3] * 5, 20.0, 1.0, [7.0, 7.0], 5.0),
        # price 0.1 <= 0.9 * mean(0.1, 0.3 x 4) = 0.234: low, so buy all the EVs take and
        # charge the BESS with the station's 20 - 14 = 6 kW left (below its 10 kW)
        ("low price", [0.1] + [0.3] * 4, 0.0, 0.0, [7.0, 7.0], 6.0),
        # price 0.5 >= 1.1 * mean(0.5, 0.3 x 4) = 0.374: high, must only, and the BESS covers
        # the station's 3 kW of EV load
        ("high price", [0.5] + [0.3] * 4, 0.0, 0.0, [3.0, 0.0], -3.0),
    ],
)
def test_contract_net_buys_must_always_flexible_on_surplus_or_low_price(
    case, prices, renewable_kw, household_kw, expected_ev_kw, expected_bess_kw
):
    # Connector 0 must have 2.5 kWh (100 kWh, 0.5 -> 0.525) before it leaves at tick 2: one
    # later tick gives 1.75 kWh, so 0.75 kWh = 3 kW now; it can take 7 kW. Connector 1 needs
    # 2 kWh (0.3 -> 0.32) by tick 8: nothing is urgent, all flexible. 20 kW station with a
    # 10 kW BESS at soc 0.5. The observation's price, wind and household load are set by hand.
    evs = [_ev(0, 2, soc=0.5, target=0.525), _ev(0, 8, soc=0.3, target=0.32)]
    env = _env(evs, grid_kw=20.0, bess=_BESS)
    sc = env.scenario
    observation, info = env.reset(seed=0)
    view = sc.unpack(observation)
    view.price_eur_per_kwh[:] = prices
    view.renewable_kw[:] = renewable_kw
    # a block of length 1 unpacks to a float, not a view: written at its offset
    observation[sc.static.obs_offsets[OBS_HOUSEHOLD]] = household_kw
    policy = make_policy("contract_net", sc, tolerance_kwh=0.0)
    policy.reset(seed=0)
    action = policy.act(observation, info)
    np.testing.assert_allclose(action[:2] * 7.0, expected_ev_kw, atol=1e-4, err_msg=case)
    np.testing.assert_allclose(action[2] * 10.0, expected_bess_kw, atol=1e-4, err_msg=case)


def test_contract_net_reset_forgets_the_price_history():
    # After a tick at 0.1 EUR/kWh, a flat 0.3 is high (>= 1.1 * mean 0.2): the BESS would
    # cover the EV load. After reset() the 0.3 is the whole history: neither low nor high.
    env = _env([_ev(0, 2, soc=0.5, target=0.525)], grid_kw=20.0, bess=_BESS)
    sc = env.scenario
    observation, info = env.reset(seed=0)
    prices = sc.unpack(observation).price_eur_per_kwh
    policy = make_policy("contract_net", sc, tolerance_kwh=0.0)
    policy.reset(seed=0)
    prices[:] = 0.1
    policy.act(observation, info)
    prices[:] = 0.3
    assert policy.act(observation, info)[1] * 10.0 == pytest.approx(-3.0, abs=1e-4)
    policy.reset(seed=0)
    assert policy.act(observation, info)[1] == 0.0


def test_random_is_reproducible_and_seeded():
    env = _env([_ev(0, 8), _ev(0, 8), _ev(2, 8)], bess=_BESS)
    first, _ = _episode_kw("random", env)
    again, _ = _episode_kw("random", env)
    np.testing.assert_array_equal(first, again)
    policy = make_policy("random", env.scenario)
    observation, info = env.reset(seed=0)
    policy.reset(seed=1)
    assert not np.array_equal(policy.act(observation, info)[:2] * 7.0, first[0, :2])


# --- registry and interface ------------------------------------------------------------------


def test_every_issue_policy_is_registered():
    assert ISSUE_POLICIES <= set(POLICIES)
    with pytest.raises(ValueError, match="edf"):
        make_policy("no_such_policy", _env([_ev(0, 8)]).scenario)


def test_policy_options_are_validated():
    scenario = _env([_ev(0, 8)], bess=_BESS).scenario
    with pytest.raises(ValueError, match="boost_soc"):
        make_policy("bess_boost", scenario, boost_soc=1.5)
    with pytest.raises(ValueError, match="low_price_ratio"):
        make_policy("contract_net", scenario, low_price_ratio=1.2, high_price_ratio=1.1)
    with pytest.raises(ValueError, match="tolerance_kwh"):
        make_policy("alap", scenario, tolerance_kwh=-1.0)


def test_heuristics_never_reach_into_the_env():
    # causal policies: no env internals (``unwrapped``, private state) and no episode plan
    found = []
    for path in (REPO / "baselines" / "heuristics.py", REPO / "baselines" / "allocation.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("unwrapped", "episode_plan"):
                found.append(f"{path.name}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.Name) and node.id in ("EVGridEnv", "core_tick"):
                found.append(f"{path.name}:{node.lineno}: {node.id}")
    assert not found, found


# --- every policy on every bundled scenario --------------------------------------------------


@pytest.fixture(scope="module")
def bundled_envs():
    return {name: EVGridEnv(name) for name in BUNDLED}


def _check_episode(env: EVGridEnv, name: str, seed: int) -> list[np.ndarray]:
    """Runs one episode and checks each step; returns the actions."""
    sc = env.scenario
    c, s = sc.n_connectors, sc.n_stations
    grid_kw = sc.station_f[L.ST_GRID_KW]
    bess_power_kw = sc.station_f[L.ST_BESS_KW] if sc.config.action.bess_control else np.zeros(s)
    feeder_kw = sc.cfg[L.CFG_FEEDER_KW]
    policy = make_policy(name, sc)
    observation, info = env.reset(seed=seed)
    policy.reset(seed=seed)
    actions, terminated, tick = [], False, 0
    while not terminated:
        action = policy.act(observation, info)
        where = f"{sc.config.name}/{name}/seed {seed}/tick {tick}"
        assert action.dtype == np.float32 and env.action_space.contains(action), where
        assert (action[:c] >= 0).all(), f"{where}: no policy asks for V2G"
        obs = sc.unpack(observation.astype(np.float64))
        ev_kw = np.minimum(action[:c] * sc.connector_rated_kw, obs.max_power_kw)
        bess_kw = action[c:] * bess_power_kw if s and action.shape[0] > c else np.zeros(s)
        asked_kw = np.bincount(sc.connector_station, ev_kw, minlength=s) + bess_kw
        # what the policy asks is within every limit ...
        assert (asked_kw <= grid_kw * (1 + 1e-6) + 1e-6).all(), (where, asked_kw, grid_kw)
        assert (asked_kw >= -grid_kw).all(), where
        if obs.household_kw <= feeder_kw:
            total = asked_kw.sum() + obs.household_kw
            assert total <= feeder_kw * (1 + 1e-6) + 1e-4, (where, total)
        else:
            assert not ev_kw.any(), f"{where}: households alone exceed the feeder"
        observation, _, terminated, _, info = env.step(action)
        # ... so the projection applies it as asked (only the EV's exact CC-CV limit, of
        # which the observation is the float32 rounding, and the BESS limits may trim it)
        np.testing.assert_allclose(info["station_bess_kw"], bess_kw, atol=1e-3, err_msg=where)
        np.testing.assert_allclose(info["station_net_kw"], asked_kw, atol=1e-3, err_msg=where)
        if obs.household_kw <= feeder_kw:
            assert info["overload_kwh"] == 0.0, where
        actions.append(action)
        tick += 1
    assert tick == sc.config.episode_ticks
    return actions


@pytest.mark.parametrize("name", sorted(ISSUE_POLICIES))
@pytest.mark.parametrize("scenario", BUNDLED)
def test_every_policy_runs_within_the_limits_on_every_bundled_scenario(
    bundled_envs, scenario, name
):
    env = bundled_envs[scenario]
    assert env.scenario.config.grid.limits == "hard"
    first = _check_episode(env, name, seed=0)
    if scenario == "default":
        # reset() clears the policy's memory: the same episode again gives the same actions
        again = _check_episode(env, name, seed=0)
        np.testing.assert_array_equal(np.array(first), np.array(again))
