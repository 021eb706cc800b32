"""Faults (core/tick.py docstring): an outage changes only what it should.

Two copies of one hand-built scenario (``reference.hand_scenario``) run the same actions; one
has an outage at tick ``T``. Before it both are identical; at ``T`` only the failed part
differs: a charger's connectors deliver nothing, a station without link charges at its
fallback and buys outside the market, the turbines down take their share of the wind. Then
reservations on a failed charger, a hypothesis property test over random fault patterns with
reservations on, and the validation of the ``reservation`` and ``faults`` config sections.
"""

import numpy as np
import pytest
import reference as ref
from hypothesis import given
from numpy.testing import assert_allclose
from test_tick_properties import SETTINGS, _check_tick, check_reservations, episodes

from evgrid_gym import EVGridEnv, ScenarioError, load_scenario
from evgrid_gym.core import layout as L

T = 3  # the tick of the fault
DT = 0.25

# Station 0: charger 0 (22 kW, connectors 0 and 1) and charger 1 (11 kW, connector 2), 200 kW
# grid, no BESS. Station 1: charger 2 (11 kW, connectors 3 and 4), 30 kW grid (fallback 15 kW
# per connector), a 20 kW BESS. Five 100 kWh EVs at soc 0.3, one per connector, all day long.
STATIONS = [
    {"chargers": [(22.0, 2), (11.0, 1)], "grid_kw": 200.0},
    {"chargers": [(11.0, 2)], "grid_kw": 30.0, "bess_kw": 20.0, "x_km": 3.0},
]
CONN_STATION = np.array([0, 0, 0, 1, 1])
# requested: 8.8 + 6.6 kW on charger 0, 8.8 on charger 1, 5.5 + 2.2 on charger 2, BESS 1 at
# +10 kW: no limit binds (EV limit 11 kW, chargers, station grids, feeder)
ACTION = np.array([0.4, 0.3, 0.8, 0.5, 0.2, 0.0, 0.5])
POWER = np.array([8.8, 6.6, 8.8, 5.5, 2.2])


def _scenario():
    evs = [
        {
            "arrival": 0,
            "departure": 12,
            "connector": c,
            "station": CONN_STATION[c],
            "soc": 0.3,
            "battery_kwh": 100.0,
        }  # never above soc 0.8 (the CV stage) in 12 ticks
        for c in range(5)
    ]
    return ref.hand_scenario(
        STATIONS, evs, n_ticks=12, outage_observation=True, renewable_kw=1000.0,
        wind_kw=600.0, household_kw=20.0,
    )  # fmt: skip


def _pair(row, value=1.0):
    """``(base, faulted)`` CoreSims after reset; ``faulted`` has outage ``row`` at tick T."""
    base_scenario, fault_scenario = _scenario(), _scenario()
    fault_scenario["outage"][T, row] = value
    base, faulted = ref.CoreSim(base_scenario), ref.CoreSim(fault_scenario)
    base.reset()
    faulted.reset()
    return base, faulted


STATE = ("conn", "res", "bess_soc", "clock", "kpi", "kpi_total", "station_out")


def _assert_identical(a, b, skip_obs=False):
    for name in STATE + (() if skip_obs else ("obs",)):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _obs_diff(a, b):
    """The observation entries that differ: ``{block name: indices in the block}``."""
    diff = {}
    for name, x, y in zip(a.obs_view._fields, a.obs_view, b.obs_view, strict=True):
        changed = np.flatnonzero(np.ravel(x) != np.ravel(y)).tolist()
        if changed:
            diff[name] = changed
    return diff


def _run_to_fault(base, faulted):
    """Steps both to tick T; identical up to the observation of tick T."""
    _assert_identical(base, faulted)
    for _ in range(T):
        _assert_identical(base, faulted)
        base.step(ACTION)
        faulted.step(ACTION)
    _assert_identical(base, faulted, skip_obs=True)
    assert_allclose(base.conn[L.CN_POWER_KW], POWER)  # nothing binds


def test_charger_outage_cuts_only_its_connectors():
    base, faulted = _pair(row=0)  # charger 0: connectors 0 and 1
    _run_to_fault(base, faulted)
    # the observation of tick T: charger 0's connectors can take 0 kW (11 kW otherwise), so
    # station 0's headroom is 22 kW larger; and the outage row says so
    assert _obs_diff(base, faulted) == {"max_power_kw": [0, 1], "headroom_kw": [0], "outage": [0]}
    base_view, fault_view = base.obs_view, faulted.obs_view
    assert_allclose(base_view.max_power_kw[:2], [11.0, 11.0])
    assert_allclose(fault_view.max_power_kw[:2], [0.0, 0.0])
    assert_allclose(fault_view.headroom_kw[0] - base_view.headroom_kw[0], 22.0)

    before = faulted.conn.copy()
    base.step(ACTION)
    faulted.step(ACTION)
    assert_allclose(faulted.conn[L.CN_POWER_KW], [0.0, 0.0, 8.8, 5.5, 2.2])
    assert_allclose(base.conn[L.CN_POWER_KW], POWER)
    assert_allclose(faulted.conn[L.CN_SOC, :2], before[L.CN_SOC, :2])  # nothing delivered
    assert_allclose(faulted.conn[L.CN_SOC, 2:], base.conn[L.CN_SOC, 2:])
    # the battery energy its EVs could have taken: 11 kW x 0.25 h x 90 %
    assert_allclose(faulted.conn[L.CN_OUTAGE_KWH], [2.475, 2.475, 0.0, 0.0, 0.0])
    assert np.all(base.conn[L.CN_OUTAGE_KWH] == 0.0)
    assert_allclose(base.tick_kpi("ev_charge_grid_kwh") - faulted.tick_kpi("ev_charge_grid_kwh"),
                    (8.8 + 6.6) * DT)  # fmt: skip
    assert_allclose(faulted.station_out[L.SO_NET_KW], base.station_out[L.SO_NET_KW] - [15.4, 0])
    np.testing.assert_array_equal(faulted.station_out[:, 1], base.station_out[:, 1])
    assert faulted.tick_kpi("missed_deadlines") == 0
    for name in ("renewable_kwh", "household_kwh", "wind_outage_kwh", "arrivals"):
        assert faulted.tick_kpi(name) == base.tick_kpi(name)

    # repaired at T + 1: the same powers again (no limit binds), only the socs differ
    base.step(ACTION)
    faulted.step(ACTION)
    assert_allclose(faulted.conn[L.CN_POWER_KW], POWER)
    while not base.done:
        base.step(ACTION)
        faulted.step(ACTION)
    # at the end every EV leaves with unmet energy: the outage explains up to 2 x 2.475 kWh
    total_f, total_b = faulted.kpi_total, base.kpi_total
    assert total_b[L.KPI["outage_unmet_kwh"]] == 0.0
    assert_allclose(total_f[L.KPI["outage_unmet_kwh"]], 4.95)
    assert_allclose(total_f[L.KPI["unmet_energy_kwh"]] - total_b[L.KPI["unmet_energy_kwh"]],
                    (8.8 + 6.6) * DT * 0.9)  # fmt: skip


def test_station_link_outage_runs_the_station_on_its_fallback():
    base, faulted = _pair(row=3 + 1)  # 3 chargers, then the links: station 1's
    _run_to_fault(base, faulted)
    # the observation shows the link down and station 1's headroom without its BESS's 20 kW
    assert _obs_diff(base, faulted) == {"headroom_kw": [1], "outage": [4]}
    lost_kw = base.obs_view.headroom_kw[1] - faulted.obs_view.headroom_kw[1]
    assert_allclose(lost_kw, 20.0, rtol=1e-6)
    bess_soc = faulted.bess_soc.copy()
    base.step(ACTION)
    faulted.step(ACTION)
    # station 1's connectors ask for 15 kW, get their EVs' 11 kW, then share charger 2's 11 kW
    assert_allclose(faulted.conn[L.CN_POWER_KW], [8.8, 6.6, 8.8, 5.5, 5.5])
    assert_allclose(faulted.station_out[L.SO_BESS_KW], [0.0, 0.0])  # the BESS idles
    assert_allclose(base.station_out[L.SO_BESS_KW], [0.0, 10.0])
    assert faulted.bess_soc[1] == bess_soc[1]
    assert base.bess_soc[1] > bess_soc[1]
    assert faulted.tick_kpi("missed_deadlines") == 1 and base.tick_kpi("missed_deadlines") == 0
    # its demand (11 kW x 0.25 h) is bought outside the market although wind is left over
    assert_allclose(faulted.station_out[L.SO_NET_KW, 1], 11.0)
    assert faulted.station_out[L.SO_OWN_KWH, 1] == 0.0
    assert_allclose(faulted.station_out[L.SO_EXTERNAL_KWH, 1], 2.75)
    assert_allclose(base.station_out[L.SO_OWN_KWH, 1], (7.7 + 10.0) * DT)
    assert base.station_out[L.SO_EXTERNAL_KWH, 1] == 0.0
    assert_allclose(faulted.tick_kpi("external_energy_kwh"), 2.75)
    assert_allclose(faulted.tick_kpi("energy_cost_eur"), 2.75 * 0.3)
    assert_allclose(faulted.tick_kpi("export_kwh") - base.tick_kpi("export_kwh"), (7.7 + 10.0) * DT)
    # station 0 is untouched
    np.testing.assert_array_equal(faulted.station_out[:, 0], base.station_out[:, 0])
    np.testing.assert_array_equal(faulted.conn[:, :3], base.conn[:, :3])


def test_turbine_outage_loses_the_wind_share():
    base, faulted = _pair(row=-1, value=0.5)  # half the wind capacity down
    _run_to_fault(base, faulted)
    assert _obs_diff(base, faulted) == {"outage": [5]}
    assert faulted.obs_view.outage[-1] == 0.5
    base.step(ACTION)
    faulted.step(ACTION)
    # 600 kW of the 1000 kW are wind: 300 kW x 0.25 h lost
    assert_allclose(faulted.tick_kpi("wind_outage_kwh"), 75.0)
    assert_allclose(faulted.tick_kpi("renewable_kwh"), 700.0 * DT)
    assert_allclose(base.tick_kpi("renewable_kwh"), 1000.0 * DT)
    assert_allclose(base.tick_kpi("export_kwh") - faulted.tick_kpi("export_kwh"), 75.0)
    np.testing.assert_array_equal(faulted.conn, base.conn)  # the EVs do not notice
    np.testing.assert_array_equal(faulted.station_out, base.station_out)
    assert faulted.tick_kpi("missed_deadlines") == 0


# --- reservations on a charger that fails ---------------------------------------------------

EV_RESERVING = {"arrival": 4, "departure": 10, "request": 0, "station": 0}


def _reserved_core(stations, row=0, ticks=(2,), evs=None):
    scenario = ref.hand_scenario(stations, evs or [EV_RESERVING], n_ticks=12)
    scenario["outage"][list(ticks), row] = 1.0
    core = ref.CoreSim(scenario)
    core.reset()
    return core


def test_reservation_on_a_failed_charger_moves_to_another_connector():
    core = _reserved_core([{"chargers": [(11.0, 1), (11.0, 1)]}])
    assert core.res[L.RS_CONNECTOR, 0] == 0  # the lowest index of equal offers
    core.step(np.zeros(core.n_actions))
    assert core.res[L.RS_CONNECTOR, 0] == 0
    core.step(np.zeros(core.n_actions))  # tick 2: charger 0 is down, the request re-offered
    assert core.res[L.RS_STATUS, 0] == L.RES_CONFIRMED and core.res[L.RS_CONNECTOR, 0] == 1
    assert core.tick_kpi("reservations_cancelled") == 0
    assert core.tick_kpi("reservation_requests") == 0
    assert core.tick_kpi("reservations_confirmed") == 0
    core.step(np.zeros(core.n_actions))
    core.step(np.zeros(core.n_actions))  # tick 4: it arrives at connector 1
    assert_allclose(core.conn[L.CN_EV], [-1, 0])
    assert core.res[L.RS_STATUS, 0] == L.RES_SERVED


def test_reservation_on_a_failed_charger_moves_to_another_station_at_its_price():
    stations = [
        {"chargers": [(11.0, 1)], "price": 0.5},
        {"chargers": [(11.0, 1)], "price": 0.6, "x_km": 4.0},
    ]
    core = _reserved_core(stations)
    assert core.res[L.RS_CONNECTOR, 0] == 0 and core.res[L.RS_PRICE, 0] == 0.5
    for _ in range(4):
        core.step(np.zeros(core.n_actions))
    assert core.res[L.RS_STATUS, 0] == L.RES_SERVED and core.res[L.RS_CONNECTOR, 0] == 1
    assert core.conn[L.CN_EV, 1] == 0 and core.conn[L.CN_TARIFF, 1] == 0.6


def test_reservation_without_another_offer_is_cancelled():
    core = _reserved_core([{"chargers": [(11.0, 1)]}])
    core.step(np.zeros(core.n_actions))
    core.step(np.zeros(core.n_actions))  # tick 2: the only charger is down
    assert core.res[L.RS_STATUS, 0] == L.RES_CANCELLED and core.res[L.RS_CONNECTOR, 0] == -1
    assert core.tick_kpi("reservations_cancelled") == 1
    core.step(np.zeros(core.n_actions))
    core.step(np.zeros(core.n_actions))  # tick 4: up again, the EV walks in at its tariff
    assert core.conn[L.CN_EV, 0] == 0 and core.conn[L.CN_TARIFF, 0] == 0.4
    while not core.done:
        core.step(np.zeros(core.n_actions))
    totals = {name: core.kpi_total[L.KPI[name]] for name in L.KPI_NAMES}
    assert totals["reservations_confirmed"] == 1 and totals["reservations_cancelled"] == 1
    assert totals["reservations_served"] == 0 and totals["no_shows"] == 0


def test_reservation_is_cancelled_when_the_other_station_cannot_answer():
    # the other station's link is down at the re-offer: it misses the deadline, no offer
    stations = [{"chargers": [(11.0, 1)]}, {"chargers": [(11.0, 1)], "x_km": 4.0}]
    scenario = ref.hand_scenario(stations, [EV_RESERVING], n_ticks=12)
    scenario["outage"][2, 0] = 1.0  # charger 0
    scenario["outage"][2, 2 + 1] = 1.0  # station 1's link (columns: 2 chargers, 2 links, wind)
    core = ref.CoreSim(scenario)
    core.reset()
    core.step(np.zeros(core.n_actions))
    core.step(np.zeros(core.n_actions))
    assert core.res[L.RS_STATUS, 0] == L.RES_CANCELLED
    assert core.tick_kpi("missed_deadlines") == 1  # the re-offer round at tick 2


def test_walk_ins_skip_failed_chargers():
    # charger 0 is down at tick 1: EV 0 asks for connector 0 and EV 1 for station 0; both go
    # to charger 1's connectors; at tick 2 (up again) EV 2 gets connector 0
    stations = [{"chargers": [(11.0, 1), (11.0, 2)]}]
    evs = [
        {"arrival": 1, "connector": 0, "station": 0},
        {"arrival": 1, "station": 0},
        {"arrival": 2, "station": 0},
    ]
    scenario = ref.hand_scenario(stations, evs, reservation=False)
    scenario["outage"][1, 0] = 1.0
    core = ref.CoreSim(scenario)
    core.reset()
    core.step(np.zeros(core.n_actions))
    assert_allclose(core.conn[L.CN_EV], [-1, 0, 1])
    core.step(np.zeros(core.n_actions))
    assert_allclose(core.conn[L.CN_EV], [2, 0, 1])


def test_matches_reference_with_crowded_reservations_and_faults():
    # the reference simulator agrees tick by tick on crowded cases: three stations,
    # reservations moved and cancelled while chargers and links fail
    rng = np.random.default_rng(35)
    for _ in range(3):
        scenario = ref.random_scenario(rng, n_stations=3, n_ticks=12, reservation=True,
                                       outages=True)  # fmt: skip
        core, sim = ref.CoreSim(scenario), ref.RefSim(**scenario)
        core.reset()
        sim.reset()
        while not core.done:
            action = rng.uniform(-1.0, 1.0, core.n_actions)
            core.step(action)
            sim.step(action)
            np.testing.assert_array_equal(core.res[L.RS_STATUS], sim.packed_res()[L.RS_STATUS])
            np.testing.assert_array_equal(core.conn[L.CN_EV], np.array(sim.packed_conn())[
                L.CN_EV])  # fmt: skip
            assert_allclose(core.conn, np.array(sim.packed_conn()), rtol=1e-9, atol=1e-9)
        check_reservations(core)


# --- random fault patterns with reservations on ------------------------------------------------


@SETTINGS
@given(episodes(reservation=True, outages=True, max_ticks=8))
def test_random_faults_keep_every_balance_and_close_every_reservation(episode):
    _, core, actions = episode
    check_reservations(core)
    for action in actions:
        _check_tick(core, action)
    assert core.done
    total = {name: core.kpi_total[L.KPI[name]] for name in L.KPI_NAMES}
    assert total["reservation_requests"] == (
        total["reservations_confirmed"] + total["reservations_rejected"]
    )
    assert total["reservations_confirmed"] == (
        total["reservations_served"] + total["no_shows"] + total["reservations_cancelled"]
    )
    assert not np.isin(core.res[L.RS_STATUS], [L.RES_PENDING, L.RES_CONFIRMED]).any()
    assert total["outage_unmet_kwh"] <= total["unmet_energy_kwh"] + 1e-9


# --- scheduled outages through the env --------------------------------------------------------

SCHEDULED = [
    {"component": "charger", "index": 1, "start_tick": 2, "duration_ticks": 3},
    {"component": "station_link", "index": 0, "start_tick": 5},
    {"component": "turbine", "index": 0, "start_tick": 0, "duration_ticks": 2},
]


def test_scheduled_outages_show_at_their_ticks_in_the_observation_and_plan(tiny_scenario):
    env = EVGridEnv(tiny_scenario({"faults.scheduled": SCHEDULED}))
    sc = env.scenario
    observation, info = env.reset(seed=0)
    plan = env.episode_plan()
    for t in range(sc.config.episode_ticks):
        assert info["tick"] == t
        charger_down = [0.0, float(2 <= t < 5)]  # the tiny scenario's two chargers
        link_down = [float(t == 5)]
        wind_down = 1.0 if t < 2 else 0.0  # its only turbine
        expected = [*charger_down, *link_down, wind_down]
        assert sc.unpack(observation).outage.tolist() == expected
        assert plan.outage[t].tolist() == expected
        observation, _, _, _, info = env.step(np.ones(sc.n_actions, dtype=np.float32))


# --- config validation ----------------------------------------------------------------------


def _error(data):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data)
    return str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"reservation.max_price_eur_per_kwh": [1.2, 0.6]},
         ["reservation:", "max_price_eur_per_kwh", "(1.2, 0.6)", "low <= high"]),
        ({"reservation.colour": 1}, ["reservation.colour", "unknown key", "grace_h"]),
        ({"reservation.weights.speed": 1}, ["reservation.weights.speed", "distance_per_km"]),
        ({"reservation.grace_h": -1}, ["reservation.grace_h", "-1", "greater than or equal"]),
        ({"reservation.no_show_probability": 1.5},
         ["reservation.no_show_probability", "1.5", "less than or equal to 1"]),
        ({"reservation.observation_hours": 25}, ["reservation.observation_hours", "25"]),
        ({"reservation.enabled": "sometimes"}, ["reservation.enabled", "sometimes"]),
        ({"faults.colour": 1}, ["faults.colour", "unknown key", "charger_probability"]),
        ({"faults.charger_probability": 1.5}, ["faults.charger_probability", "1.5"]),
        ({"faults.mean_repair_ticks": 0.5}, ["faults.mean_repair_ticks", "0.5"]),
        ({"faults.scheduled": [{"component": "charger", "index": 2, "start_tick": 1}]},
         ["faults.scheduled[0].index", "got 2", "2 charger(s)", "0..1"]),
        ({"faults.scheduled": [{"component": "turbine", "index": 1, "start_tick": 1}]},
         ["faults.scheduled[0].index", "got 1", "1 turbine(s)"]),
        ({"faults.scheduled": [{"component": "station_link", "index": 0, "start_tick": 8}]},
         ["faults.scheduled[0].start_tick", "got 8", "episode_ticks (8)"]),
        ({"faults.scheduled": [{"component": "pump", "index": 0, "start_tick": 1}]},
         ["faults.scheduled[0].component", "'pump'", "station_link"]),
        ({"faults.scheduled": [{"component": "charger", "index": 0, "start_tick": 1,
                                "duration_ticks": 0}]},
         ["faults.scheduled[0].duration_ticks", "got 0"]),
        ({"faults.scheduled": [{"component": "charger", "index": 0, "start": 1}]},
         ["faults.scheduled[0].start", "unknown key", "start_tick"]),
        ({"stations[0].reservation_price_eur_per_kwh": "cheap"},
         ["stations[0].reservation_price_eur_per_kwh", "'cheap'"]),
    ],
)  # fmt: skip
def test_bad_reservation_and_fault_config_names_the_field(tiny_scenario, overrides, fragments):
    message = _error(tiny_scenario(overrides))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_good_reservation_and_fault_config_is_accepted(tiny_scenario):
    data = tiny_scenario(
        {
            "reservation": True,  # short for {enabled: true}
            "faults.scheduled": [
                {"component": "charger", "index": 1, "start_tick": 7},
                {"component": "turbine", "index": 0, "start_tick": 0, "duration_ticks": 99},
            ],
        }
    )
    config = load_scenario(data)
    assert config.reservation.enabled and config.reservation.grace_h == 0.25
    assert config.faults.enabled and len(config.faults.scheduled) == 2
    assert not load_scenario(tiny_scenario()).faults.enabled
