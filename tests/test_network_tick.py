"""The network in the tick (core/tick.py with core/network.py) against the reference
simulator, the hard-limit rule (projection step 5) on cases worked by hand, and the bounds of
the observation's network blocks over whole episodes."""

import math

import gymnasium as gym
import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose
from test_tick import _run_episode

import evgrid_gym  # noqa: F401  (registers the env)
from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L


def _network_scenario(rng, *, soft, export, outages=False, **kwargs):
    scenario = ref.random_scenario(
        rng, n_stations=int(rng.integers(1, 4)), soft=soft, export=export, outages=outages,
        n_ticks=int(rng.integers(4, 10)), scarce=rng.random() < 0.5, **kwargs,
    )  # fmt: skip
    return ref.add_random_network(scenario, rng)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("export", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_matches_reference_on_random_networks(soft, export, seed):
    rng = np.random.default_rng([19, soft, export, seed])
    limited = violated = 0
    for _ in range(3):
        core = _run_episode(_network_scenario(rng, soft=soft, export=export), rng)
        violated += core.kpi_total[L.KPI["network_violation_kwh"]] > 0
        limited += core.kpi_total[L.KPI["voltage_min_pu"]] < 1.0
    assert limited > 0  # the networks carry load


@pytest.mark.parametrize("seed", range(4))
def test_matches_reference_with_outages_and_reservations(seed):
    rng = np.random.default_rng([20, seed])
    for _ in range(2):
        scenario = _network_scenario(
            rng, soft=rng.random() < 0.5, export=rng.random() < 0.5, outages=True,
            reservation=rng.random() < 0.5,
        )  # fmt: skip
        _run_episode(scenario, rng)


def test_hard_limits_hold_and_soft_limits_are_booked():
    """Over many random ticks: with hard limits no tick breaks a network limit (unless the
    households and renewables alone do); with soft ones violations happen and are booked at
    the configured prices."""
    seen_soft = 0
    for seed in range(30):
        rng = np.random.default_rng([21, seed])
        for soft in (False, True):
            scenario = _network_scenario(rng, soft=soft, export=True)
            core = ref.CoreSim(scenario)
            core.reset()
            net = ref.unpack_network(*(scenario[k] for k in ref.NETWORK_KEYS),
                                     scenario["station_f"])  # fmt: skip
            while not core.done:
                t = int(core.clock[L.CLK_TICK])
                core.step(rng.uniform(-1.0, 1.0, core.n_actions))
                kpi = dict(zip(L.KPI_NAMES, core.kpi, strict=True))
                cfg = scenario["cfg"]
                assert_allclose(
                    kpi["network_penalty_eur"],
                    kpi["network_violation_kwh"] * cfg[L.CFG_NETWORK_PENALTY]
                    + kpi["voltage_violation_pu_h"] * cfg[L.CFG_VOLTAGE_PENALTY],
                )
                broken = kpi["network_violation_kwh"] + kpi["voltage_violation_pu_h"] > 1e-9
                if soft:
                    seen_soft += broken
                elif broken:  # then the stations alone could not help: they draw nothing
                    exo = scenario["exo"]
                    wind = exo[L.EXO_WIND_KW, t] * (1.0 - scenario["outage"][t, -1])
                    pv = exo[L.EXO_RENEWABLE_KW, t] - exo[L.EXO_WIND_KW, t]
                    idle = np.zeros(scenario["station_f"].shape[1])
                    base = ref.network_powers(net, exo[L.EXO_HOUSEHOLD_KW, t], wind, pv, idle)
                    assert not ref.network_within(net, *base)
                    assert_allclose(core.station_out[L.SO_NET_KW], 0.0, atol=1e-9)
    assert seen_soft > 10


# --- hand-worked: one station at the end of a cable -----------------------------------------

CABLE_KVA = math.sqrt(3.0) * 0.4 * 100.0  # 69.28 kVA


def _cable_scenario(*, households_kw=0.0, feeder_kw=1000.0, export=True, soft=False, **placement):
    """One station with a 50 kW charger (one connector, 90 %) and a 50 kW BESS at the end of a
    100 A cable (69.3 kVA at 1 pu) behind a 250 kVA transformer; an EV plugged in from tick
    0 (V2G 40 kW); households on the cable's end as well."""
    evs = [{"arrival": 0, "departure": 4, "battery_kwh": 80.0, "soc": 0.3, "dc_kw": 50.0,
            "v2g_kw": 40.0}]  # fmt: skip
    scenario = ref.hand_scenario(
        [{"chargers": [(50.0, 1)], "grid_kw": 200.0, "bess_kw": 50.0}], evs, n_ticks=2,
        reservation=False, feeder_kw=feeder_kw, household_kw=households_kw,
    )  # fmt: skip
    scenario["charger_f"][L.CH_IS_DC] = 1.0
    scenario["charger_f"][L.CH_V2G] = 1.0
    scenario["cfg"][L.CFG_EXPORT] = float(export)
    scenario["cfg"][L.CFG_SOFT_LIMITS] = float(soft)
    description = {
        "name": "cable", "nominal_voltage_kv": 0.4, "buses": ["mv", "busbar", "end"],
        "transformer": {"name": "t", "hv_bus": "mv", "lv_bus": "busbar", "rated_kva": 250.0,
                        "vk_percent": 4.0, "vkr_percent": 1.0},
        "lines": [{"name": "cable", "from_bus": "busbar", "to_bus": "end", "r_ohm": 0.01,
                   "x_ohm": 0.004, "max_current_a": 100.0}],
    }  # fmt: skip
    from evgrid_gym.grid import NetworkConfig, network_arrays

    config = NetworkConfig.model_validate({
        "description": description, "households": [{"bus": "end", "count": 1}],
        "stations": {"s": "end"}, "household_power_factor": 1.0, **placement,
    })  # fmt: skip
    arrays = network_arrays(config, ["s"])
    scenario["station_f"][L.ST_BUS] = arrays.station_bus
    for key in ref.NETWORK_KEYS:
        scenario[key] = getattr(arrays, key)
    return scenario


def _one_tick(scenario, action):
    core = ref.CoreSim(scenario)
    core.reset()
    core.step(np.asarray(action, dtype=float))
    return core


def _largest_power_kw(households_kw):
    """The station power that loads the cable to exactly its rating with ``households_kw`` on
    the same bus (unity power factor): S = P, V_end^2 = v_busbar - 2 r P / (1000 Vn^2) with
    v_busbar the transformer's drop; S <= rated V_end solved for P."""
    per_kw_ohm = 2.0 / (1000.0 * 0.4**2)  # 1 / 80
    r_total = 0.01 + 0.0064  # cable + transformer (vkr 1 % of 0.64 ohm)
    # P^2 = rated^2 (1 - P r_total / 80): P^2 + rated^2 r_total / 80 P - rated^2 = 0
    b = CABLE_KVA**2 * r_total * per_kw_ohm
    total = (-b + math.sqrt(b * b + 4.0 * CABLE_KVA**2)) / 2.0
    return total - households_kw


def test_hard_network_limit_cuts_below_what_the_feeder_allows():
    # the feeder (1000 kW) and the station (200 kW) would let it draw 100 kW (50 charger +
    # 50 BESS); the cable carries 69.3 kVA at 1 pu, less at its end's voltage: the station's
    # charger and BESS are cut by one common factor to what loads the cable to 100 %
    scenario = _cable_scenario(households_kw=10.0)
    core = _one_tick(scenario, [1.0, 1.0])
    station_kw = core.station_out[L.SO_NET_KW, 0]
    want = _largest_power_kw(10.0)
    assert 55.0 < want < 60.0
    assert_allclose(station_kw, want, rtol=1e-9)
    assert_allclose(core.conn[L.CN_POWER_KW, 0], want / 2.0, rtol=1e-9)  # both halves alike
    assert_allclose(core.station_out[L.SO_BESS_KW, 0], want / 2.0, rtol=1e-9)
    assert_allclose(core.kpi[L.KPI["line_loading_pct"]], 100.0, rtol=1e-9)
    assert core.kpi[L.KPI["network_violation_kwh"]] == 0.0
    assert core.kpi[L.KPI["overload_kwh"]] == 0.0


def test_soft_network_limit_books_the_violation():
    scenario = _cable_scenario(households_kw=10.0, soft=True)
    scenario["cfg"][L.CFG_NETWORK_PENALTY] = 2.0
    core = _one_tick(scenario, [1.0, 1.0])
    kpi = dict(zip(L.KPI_NAMES, core.kpi, strict=True))
    # 110 kW on the cable: loading = 110 / (69.28 V_end), the excess |P| (1 - 100 / L)
    v_end = math.sqrt(1.0 - 110.0 * (0.01 + 0.0064) / 80.0)
    loading = 100.0 * 110.0 / (CABLE_KVA * v_end)
    assert_allclose(kpi["line_loading_pct"], loading, rtol=1e-9)
    excess_kwh = 110.0 * (1.0 - 100.0 / loading) * 0.25
    assert_allclose(kpi["network_violation_kwh"], excess_kwh, rtol=1e-9)
    assert_allclose(kpi["network_penalty_eur"], 2.0 * excess_kwh, rtol=1e-9)
    assert kpi["voltage_violation_pu_h"] == 0.0  # 0.987 pu at the end


def test_hard_voltage_limit_cuts_the_export():
    # V2G and BESS export 90 kW into a bus with a band up to 1.005 pu: the rise
    # 90 * 0.0164 / 80 = 0.01845 pu^2 is cut to 1.005^2 - 1 = 0.010025 pu^2
    scenario = _cable_scenario(voltage_max_pu=1.005)
    core = _one_tick(scenario, [-1.0, -1.0])
    station_kw = core.station_out[L.SO_NET_KW, 0]
    assert_allclose(station_kw, -(1.005**2 - 1.0) * 80.0 / 0.0164, rtol=1e-9)
    assert_allclose(core.kpi[L.KPI["voltage_max_pu"]], 1.005, rtol=1e-12)


def test_households_alone_break_the_limit_the_stations_draw_nothing():
    scenario = _cable_scenario(households_kw=80.0)  # 80 kW > the cable's ~69 kVA
    core = _one_tick(scenario, [1.0, 1.0])
    assert core.station_out[L.SO_NET_KW, 0] == 0.0
    assert core.kpi[L.KPI["network_violation_kwh"]] > 0.0
    # ... but exporting 20 kW relieves the cable: allowed, and not cut
    core = _one_tick(scenario, [-0.4, 0.0])
    assert_allclose(core.station_out[L.SO_NET_KW, 0], -20.0, rtol=1e-9)


def test_export_off_requires_the_limits_with_and_without_the_renewables():
    # PV on the cable's end feeds 60 kW; the station charges. With export, the PV's feed-in
    # relieves the cable and the station may draw its 100 kW; without export the market may
    # curtail the PV, so the station is held to what the cable carries without it
    for export, want in ((True, 100.0), (False, _largest_power_kw(0.0))):
        scenario = _cable_scenario(export=export, pv="end")
        scenario["exo"][L.EXO_RENEWABLE_KW] = 60.0
        core = _one_tick(scenario, [1.0, 1.0])
        assert_allclose(core.station_out[L.SO_NET_KW, 0], want, rtol=1e-9)


def test_min_voltage_episode_total_starts_at_inf_and_takes_the_lowest_tick():
    scenario = _cable_scenario(households_kw=10.0)
    scenario["exo"][L.EXO_HOUSEHOLD_KW, 1] = 40.0
    core = ref.CoreSim(scenario)
    core.reset()
    assert core.total_kpi("voltage_min_pu") == math.inf
    lows = []
    for _ in range(2):
        core.step(np.zeros(2))
        lows.append(core.tick_kpi("voltage_min_pu"))
    assert lows[1] < lows[0] < 1.0
    assert core.total_kpi("voltage_min_pu") == lows[1]


# --- the observation's network blocks within their bounds -----------------------------------


@pytest.mark.parametrize("limits", ["hard", "soft"])
@pytest.mark.parametrize("tight", [False, True])
def test_network_observations_stay_within_their_bounds(limits, tight, tight_network, rollout):
    """Random actions (full charging and V2G export included) over a few episodes of
    ``default_network`` and of its variant whose cables and voltage floor bind: every
    ``bus_voltage_pu`` and ``grid_headroom_kva`` lies within the observation space's bounds
    (``grid.arrays.observation_bounds``)."""
    config = tight_network if tight else load_scenario("default_network").model_dump(mode="json")
    config["grid"]["limits"] = limits
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=config)
    scenario = env.unwrapped.scenario
    space = env.observation_space
    low, high = scenario.unpack(space.low), scenario.unpack(space.high)
    loading_pct = []
    for seed in range(3):
        trajectory = rollout(env, seed, action_seed=seed)
        for step in trajectory:
            observation = scenario.unpack(step[0])
            for block in ("bus_voltage_pu", "grid_headroom_kva"):
                seen = getattr(observation, block)
                assert seen.shape == (scenario.n_stations,)
                assert (getattr(low, block) <= seen).all(), (block, seed, seen)
                assert (seen <= getattr(high, block)).all(), (block, seed, seen)
        loading_pct += [step[-1]["line_loading_pct"] for step in trajectory[1:]]
    if tight:  # the limits bind: the cables reach their rating (soft: and beyond it)
        assert max(loading_pct) > (100.0 + 1.0 if limits == "soft" else 99.9)
