"""The perfect-foresight optimum (``baselines/optimal/``): its CC-CV approximation, its
replay through the env, its dominance over every other policy, its hard limits, its statuses,
and the receding-horizon MPC built on the same model."""

from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pyomo.environ as pyo
import pytest

import evgrid_gym  # noqa: F401  (registers the env)
from baselines import make_policy
from baselines.heuristics import HEURISTICS as POLICIES
from baselines.optimal import MPCPolicy, OptimalModelError, OptimalPolicy, build_model, cccv, solve
from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.core.battery import max_charge_energy_kwh

MIP_GAP = 1e-3  # looser than the default (1e-4) to keep the suite fast
CASES = [
    ("default", 0, False), ("default", 1, False), ("electra_station", 0, False),
    ("electra_station", 1, False), ("default_network", 0, False),
    ("default", 2_000_002, True), ("electra_station", 1, True),
]  # fmt: skip
"""(scenario, seed, battery degradation on). On ``default``'s day 2 000 002 (2019-03-08) the
optimum with degradation shifts 52 kWh through V2G (README, "Battery degradation")."""


def _tolerance(schedule) -> float:
    """How far below the true optimum a schedule may lie: its MIP gap, plus the solver's
    feasibility tolerance and the 1e-6 kW the model keeps from shared limits."""
    return (schedule.mip_gap + 1e-6) * abs(schedule.objective) + 1e-4


def _run(env, seed, act):
    """One episode: ``act(observation, info) -> action``; returns (reward, [(obs, info)])."""
    observation, info = env.reset(seed=seed)
    states, total, terminated = [(observation, info)], 0.0, False
    while not terminated:
        observation, reward, terminated, _, info = env.step(act(observation, info))
        total += reward
        states.append((observation, info))
    return total, states


def _replay(env, seed, actions):
    return _run(env, seed, lambda observation, info: actions[info["tick"]])


def _scenario(name: str, degradation: bool) -> str | dict:
    """The bundled scenario ``name``, with battery degradation on if ``degradation``."""
    if not degradation:
        return name
    return load_scenario(name).model_dump(mode="json") | {"degradation": True}


_SOLVED: dict = {}


def _solved(name: str, seed: int, degradation: bool = False):
    """(env, plan, schedule) of one episode, solved once per test session."""
    if (name, seed, degradation) not in _SOLVED:
        env = gym.make("evgrid_gym/EVGrid-v2", scenario=_scenario(name, degradation))
        env.reset(seed=seed)
        plan = env.unwrapped.episode_plan()
        schedule = solve(build_model(env.unwrapped.scenario, plan), 120, mip_rel_gap=MIP_GAP)
        assert schedule.status == "optimal", schedule.message
        _SOLVED[name, seed, degradation] = env, plan, schedule
    return _SOLVED[name, seed, degradation]


# --------------------------------------------------------------------------------------------
# The CC-CV curve as linear constraints
# --------------------------------------------------------------------------------------------


def _inner_bound(lines, gain, energy):
    bound = np.full_like(energy, gain)
    for alpha, beta, _, _ in lines:
        bound = np.minimum(bound, alpha - beta * energy)
    return bound


@pytest.mark.parametrize("segments", [1, 2, 5])
def test_cc_cv_lines_are_an_inner_approximation_exact_outside_the_mixed_interval(segments):
    rng = np.random.default_rng(segments)
    for _ in range(200):
        q_kwh = rng.uniform(10.0, 120.0)
        p_kw = rng.uniform(2.0, 350.0)
        eta = rng.uniform(0.85, 1.0)
        theta = rng.uniform(0.5, 0.95)
        dt_h = rng.choice([1 / 12, 0.25, 0.5, 1.0])
        lines = cccv.cv_lines(q_kwh, p_kw, eta, theta, dt_h, segments)
        energy = np.linspace(0.0, q_kwh, 2001)
        exact = np.array(
            [max_charge_energy_kwh(e / q_kwh, q_kwh, p_kw, eta, theta, dt_h) for e in energy]
        )
        gain = eta * p_kw * dt_h
        bound = _inner_bound(lines, gain, energy)
        # never above the env's exact maximum: every planned power is attainable on replay
        assert np.all(bound <= exact + 1e-9 * q_kwh), "a line cuts above the CC-CV curve"
        # exact in the CC stage and once the tick starts in the CV stage
        outside = (energy <= theta * q_kwh - gain) | (energy >= theta * q_kwh)
        np.testing.assert_allclose(bound[outside], exact[outside], rtol=1e-9, atol=1e-9)
        # in between, off by at most a chord's error: (width)^2 max|G''| / 8
        width = gain / segments
        assert np.max(exact - bound) <= width**2 / (8 * q_kwh * (1 - theta)) + 1e-9


def test_refined_chords_stay_below_the_curve_and_close_the_gap():
    q_kwh, p_kw, eta, theta, dt_h = 60.0, 150.0, 0.95, 0.8, 0.25
    rng = np.random.default_rng(0)
    lo, hi = theta * q_kwh - eta * p_kw * dt_h, theta * q_kwh
    for _ in range(100):
        a, b = np.sort(rng.uniform(lo, hi, 2))
        alpha, beta = cccv.chord(a, b, q_kwh, p_kw, eta, theta, dt_h)
        energy = np.linspace(a, b, 101)
        exact = np.array(
            [max_charge_energy_kwh(e / q_kwh, q_kwh, p_kw, eta, theta, dt_h) for e in energy]
        )
        chord = alpha - beta * energy
        assert np.all(chord <= exact + 1e-9)
        np.testing.assert_allclose(chord[[0, -1]], exact[[0, -1]], atol=1e-9)


def test_theta_one_means_no_taper_rows():
    assert cccv.cv_lines(60.0, 11.0, 0.95, 1.0, 0.25, 2) == []


# --------------------------------------------------------------------------------------------
# The optimum on the bundled scenarios
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, seed, degradation", CASES)
def test_replayed_reward_matches_the_model_objective(name, seed, degradation):
    env, _, schedule = _solved(name, seed, degradation)
    reward, _ = _replay(env, seed, schedule.actions)
    assert reward == pytest.approx(schedule.objective, rel=1e-7, abs=1e-4)


@pytest.mark.parametrize("name, seed, degradation", CASES)
def test_optimum_dominates_every_other_policy(name, seed, degradation):
    env, _, schedule = _solved(name, seed, degradation)
    sc = env.unwrapped.scenario
    optimum, _ = _replay(env, seed, schedule.actions)
    rewards = {}
    for policy_name in POLICIES:  # whatever heuristics exist now (at least uncontrolled, random)
        policy = make_policy(policy_name, sc)
        policy.reset(seed=seed)
        rewards[policy_name], _ = _run(env, seed, policy.act)
    for level in (-1.0, -0.3, 0.0, 0.25, 0.5, 1.0):
        constant = np.full(sc.n_actions, level, dtype=np.float32)
        rewards[f"constant {level}"], _ = _run(env, seed, lambda o, i, a=constant: a)
    rng = np.random.default_rng(seed)
    for k in range(5):
        actions = rng.uniform(-1.0, 1.0, (96, sc.n_actions)).astype(np.float32)
        rewards[f"random sequence {k}"], _ = _replay(env, seed, actions)
        charge_only = np.abs(actions)
        rewards[f"random charging {k}"], _ = _replay(env, seed, charge_only)
    assert "uncontrolled" in rewards and "random" in rewards
    best = max(rewards, key=rewards.get)
    assert optimum >= rewards[best] - _tolerance(schedule), (best, rewards[best], optimum)


@pytest.mark.parametrize("name, seed, degradation", CASES)
def test_replay_respects_every_hard_limit_and_is_never_projected(name, seed, degradation):
    env, plan, schedule = _solved(name, seed, degradation)
    sc = env.unwrapped.scenario
    cfg, n_c, n_s = sc.cfg, sc.n_connectors, sc.n_stations
    dt = cfg[L.CFG_DT_H]
    _, states = _replay(env, seed, schedule.actions)
    eta = sc.charger_f[L.CH_EFFICIENCY, sc.connector_charger]
    bess = sc.station_f
    tol = 1e-6
    for t in range(len(states) - 1):
        observation, info = states[t]
        next_observation, next_info = states[t + 1]
        soc, next_soc = sc.unpack(observation).soc, sc.unpack(next_observation).soc
        action = schedule.actions[t].astype(np.float64)
        conn_kw = action[:n_c] * sc.connector_rated_kw
        bess_kw = action[n_c:] * bess[L.ST_BESS_KW] if len(action) > n_c else np.zeros(n_s)
        # every entry within [-1, 1]; chargers share their power
        assert np.all(np.abs(action) <= 1.0)
        charger_kw = np.bincount(
            sc.connector_charger, weights=np.abs(conn_kw), minlength=sc.charger_f.shape[1]
        )
        assert np.all(charger_kw <= sc.charger_f[L.CH_MAX_KW] * (1 + 1e-12))
        # the env applied exactly what was asked: station net = sum of requested powers
        requested_net = np.bincount(sc.connector_station, weights=conn_kw, minlength=n_s)
        requested_net = requested_net + bess_kw
        # float32 actions resolve rated power to a few ULPs (150 kW * 6e-8 = 9e-6 kW each)
        resolution_kw = 4 * np.finfo(np.float32).eps * max(sc.connector_rated_kw.max(), 1.0)
        resolution_kw = max(resolution_kw, 4 * np.finfo(np.float32).eps * bess[L.ST_BESS_KW].max())
        np.testing.assert_allclose(info_net := next_info["station_net_kw"], requested_net,
                                   atol=max(1e-5, n_c * resolution_kw))  # fmt: skip
        np.testing.assert_allclose(next_info["station_bess_kw"], bess_kw,
                                   atol=max(1e-5, resolution_kw))  # fmt: skip
        # station grid capacities, feeder, no overload
        assert np.all(np.abs(info_net) <= bess[L.ST_GRID_KW] * (1 + tol))
        household_kw = plan.exo[L.EXO_HOUSEHOLD_KW, t]
        assert household_kw + info_net.sum() <= cfg[L.CFG_FEEDER_KW] * (1 + tol)
        assert next_info["overload_kwh"] == 0.0
        # each EV gains exactly the planned energy (so the CC-CV curve, the target soc and
        # the V2G floor never cut the planned power) and never passes its target soc
        for c, e in enumerate(info["connector_ev"].tolist()):
            if e < 0:
                assert conn_kw[c] == 0.0
                continue
            q = plan.ev[L.EV_BATTERY_KWH, e]
            if next_info["connector_ev"][c] != e:
                continue  # departed: its soc is no longer observed
            gained = (next_soc[c] - soc[c]) * q
            expected = (eta[c] * conn_kw[c] if conn_kw[c] >= 0 else conn_kw[c] / eta[c]) * dt
            assert gained == pytest.approx(expected, abs=5e-5 + 1e-6 * q)
            assert next_soc[c] <= plan.ev[L.EV_SOC_TARGET, e] + 1e-6
            if conn_kw[c] < 0:
                assert next_soc[c] >= cfg[L.CFG_V2G_SOC_MIN] - 1e-6
        # station batteries within their soc limits
        bess_soc = sc.unpack(next_observation).bess_soc
        has_bess = bess[L.ST_BESS_KWH] > 0
        assert np.all(bess_soc[has_bess] >= bess[L.ST_BESS_SOC_MIN, has_bess] - 1e-6)
        assert np.all(bess_soc[has_bess] <= bess[L.ST_BESS_SOC_MAX, has_bess] + 1e-6)


def test_schedule_reports_status_size_and_times():
    env, plan, schedule = _solved("default", 0)
    assert schedule.ok and schedule.status == "optimal"
    assert schedule.actions.shape == (96, env.unwrapped.scenario.n_actions)
    assert schedule.actions.dtype == np.float32
    assert schedule.n_variables > 0 and schedule.n_constraints > 0 and schedule.n_binaries > 0
    assert schedule.build_s > 0.0 and schedule.solve_s > 0.0
    assert 0.0 <= schedule.mip_gap <= MIP_GAP
    # building does not solve: the variables carry no values until solve()
    model = build_model(env.unwrapped.scenario, plan)
    assert all(v.value is None for v in model.model.component_data_objects(pyo.Var) if not v.fixed)
    assert model.n_variables == schedule.n_variables  # solve() adds rows, not variables
    assert 0 < model.n_constraints <= schedule.n_constraints


def test_optimal_policy_through_the_benchmark_runner():
    from baselines.benchmark import run_episode
    from evgrid_gym.envs import EVGridEnv

    env = EVGridEnv("electra_station")
    policy = OptimalPolicy(env.scenario, mip_rel_gap=MIP_GAP)
    assert policy.perfect_foresight is True
    row = run_episode(env, policy, seed=3)
    assert policy.schedule.status == "optimal"
    assert row["reward"] == pytest.approx(policy.schedule.objective, rel=1e-7, abs=1e-4)
    uncontrolled = run_episode(env, make_policy("uncontrolled", env.scenario), seed=3)
    assert row["reward"] >= uncontrolled["reward"]


def test_optimal_policy_needs_the_plan():
    env = gym.make("evgrid_gym/EVGrid-v2", scenario="electra_station")
    with pytest.raises(ValueError, match="episode_plan"):
        OptimalPolicy(env.unwrapped.scenario).reset(seed=0, plan=None)
    with pytest.raises(ValueError, match="episode_plan"):
        MPCPolicy(env.unwrapped.scenario).reset(seed=0, plan=None)


# --------------------------------------------------------------------------------------------
# Every modelled rule, on the tiny scenario (8 ticks: 3 EVs, one V2G charger, a BESS)
# --------------------------------------------------------------------------------------------

VARIANTS = {
    "profit": {},
    "soft limits": {"grid.limits": "soft"},
    "households above the feeder": {"grid.feeder_limit_kw": 1.0, "households.count": 10},
    "households above the feeder, soft": {
        "grid.feeder_limit_kw": 1.0,
        "households.count": 10,
        "grid.limits": "soft",
    },
    "feed-in above the price": {"supplier.feed_in_eur_per_kwh": 0.5},
    "curtailment": {"supplier.export": False},
    "cost": {"reward.name": "cost"},
    "satisfaction": {"reward.name": "satisfaction"},
    "custom": {
        "reward.name": "custom",
        "reward.weights": {"ev_energy_kwh": 0.3, "external_energy_kwh": -0.2, "overload_kwh": -1},
    },
    "no BESS control": {"action.bess_control": False},
    "tight station": {"stations[0].grid_capacity_kw": 8.0},
    "tight station, soft": {"stations[0].grid_capacity_kw": 8.0, "grid.limits": "soft"},
    "no taper": {"battery.transition_soc": 1.0},
    "early taper": {"battery.transition_soc": 0.5},
    "uniform price": {"market.mode": "uniform"},
    "charger and turbine outages": {
        "faults.scheduled": [
            {"component": "charger", "index": 0, "start_tick": 1, "duration_ticks": 3},
            {"component": "turbine", "index": 0, "start_tick": 2, "duration_ticks": 4},
        ]
    },
    # the station runs on its fallback, buys outside the market, out of the feeder's reach
    "station-link outage": {
        "faults.scheduled": [
            {"component": "station_link", "index": 0, "start_tick": 2, "duration_ticks": 4}
        ]
    },
    "station-link outage, households and station above the feeder": {
        "faults.scheduled": [
            {"component": "station_link", "index": 0, "start_tick": 1, "duration_ticks": 5}
        ],
        "grid.feeder_limit_kw": 12.0,
        "households.count": 10,
    },
    "station-link outage, no taper": {
        "faults.scheduled": [
            {"component": "station_link", "index": 0, "start_tick": 0, "duration_ticks": 8}
        ],
        "battery.transition_soc": 1.0,
    },
    "random outages of every kind": {
        "faults.charger_probability": 0.2,
        "faults.station_link_probability": 0.2,
        "faults.turbine_probability": 0.2,
        "faults.mean_repair_ticks": 2.0,
    },
    "negative feed-in (burning surplus pays)": {"supplier.feed_in_eur_per_kwh": -0.2},
    "degradation": {"degradation": True},
    # arbitrage pays 0.2 EUR/kWh; a V2G kWh wears 0.25 EUR, a BESS kWh in or out 0.094 EUR
    "degradation against feed-in above the price": {
        "supplier.feed_in_eur_per_kwh": 0.5,
        "degradation": {
            "enabled": True,
            "ev": {"price_eur_per_kwh": 300.0, "cycle_life": 1500, "usable_fraction": 0.8},
            "bess": {"price_eur_per_kwh": 300.0, "cycle_life": 2000},
        },
    },
    "degradation, negative feed-in": {"supplier.feed_in_eur_per_kwh": -0.2, "degradation": True},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tiny_variants_replay_exactly_and_dominate(variant, tiny_scenario):
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=tiny_scenario(VARIANTS[variant]))
    sc = env.unwrapped.scenario
    rng = np.random.default_rng(0)
    for seed in (0, 1):
        env.reset(seed=seed)
        schedule = solve(build_model(sc, env.unwrapped.episode_plan()), 30)
        assert schedule.status == "optimal", schedule.message
        optimum, _ = _replay(env, seed, schedule.actions)
        assert optimum == pytest.approx(schedule.objective, rel=1e-7, abs=1e-6)
        others = {}
        for name in POLICIES:
            policy = make_policy(name, sc)
            policy.reset(seed=seed)
            others[name], _ = _run(env, seed, policy.act)
        for level in (-1.0, 0.0, 0.5, 1.0):
            constant = np.full(sc.n_actions, level, dtype=np.float32)
            others[f"constant {level}"], _ = _run(env, seed, lambda o, i, a=constant: a)
        for k in range(30):
            actions = rng.uniform(-1.0, 1.0, (8, sc.n_actions)).astype(np.float32)
            others[f"random {k}"], _ = _replay(env, seed, actions)
        best = max(others, key=others.get)
        assert optimum >= others[best] - _tolerance(schedule), (best, others[best])


def test_every_variable_and_constraint_documents_its_unit(tiny_scenario):
    overrides = (
        VARIANTS["station-link outage"] | VARIANTS["negative feed-in (burning surplus pays)"]
    )
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=tiny_scenario(overrides))
    env.reset(seed=0)
    model = build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
    assert model.bess_binary  # with the BESS exclusivity block
    components = list(model.model.component_objects((pyo.Var, pyo.Constraint)))
    undocumented = [c.name for c in components if not re.search(r"(kWh?|\(-\))$", c.doc or "")]
    assert len(components) > 40 and undocumented == []


def test_households_above_the_feeder_can_still_charge_from_station_exports(tiny_scenario):
    # the feeder is exceeded by the households alone; the BESS exports so that EVs can charge
    env = gym.make(
        "evgrid_gym/EVGrid-v2",
        scenario=tiny_scenario({"grid.feeder_limit_kw": 1.0, "households.count": 10}),
    )
    env.reset(seed=0)
    schedule = solve(build_model(env.unwrapped.scenario, env.unwrapped.episode_plan()), 30)
    n_c = env.unwrapped.scenario.n_connectors
    charging = schedule.actions[:, :n_c] > 1e-6
    discharging = schedule.actions[:, n_c:] < -1e-6
    assert np.any(charging.any(axis=1) & discharging.any(axis=1))
    _, states = _replay(env, 0, schedule.actions)
    # (float32 actions, rounded towards zero, leave ~1e-8 kWh where a BESS exports exactly
    # the households' excess)
    assert sum(info["overload_kwh"] for _, info in states[1:]) == pytest.approx(0.0, abs=1e-6)


def test_an_episode_whose_evs_have_no_decision_is_solved(tiny_scenario):
    # one EV that arrives above its target on a charger without V2G: no EV variable at all
    scenario = tiny_scenario({"stations[0].chargers[0].v2g": False})
    session = scenario["evs"]["sessions"][2] | {"soc_target": 0.8}  # arrives at 0.85
    scenario["evs"]["sessions"] = [session]
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario)
    env.reset(seed=0)
    model = build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
    assert model.pair_ids == [] and len(model.model.p) == 0
    schedule = solve(model, 30)
    assert schedule.status == "optimal", schedule.message
    optimum, _ = _replay(env, 0, schedule.actions)
    assert optimum == pytest.approx(schedule.objective, rel=1e-7, abs=1e-6)


def test_unsupported_reward_weights_raise(tiny_scenario):
    scenario = tiny_scenario(
        {"reward.name": "custom", "reward.weights": {"own_energy_used_kwh": 1.0}}
    )
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario)
    env.reset(seed=0)
    with pytest.raises(OptimalModelError, match="own_energy_used_kwh"):
        build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
    with pytest.raises(OptimalModelError, match="supported KPIs"):
        OptimalPolicy(env.unwrapped.scenario)


def test_rewarded_overload_raises(tiny_scenario):
    scenario = tiny_scenario(
        {"grid.limits": "soft", "reward.name": "custom", "reward.weights": {"overload_kwh": 1.0}}
    )
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario)
    env.reset(seed=0)
    with pytest.raises(OptimalModelError, match="overload"):
        build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())


def test_bad_windows_raise(tiny_scenario):
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=tiny_scenario())
    env.reset(seed=0)
    sc, plan = env.unwrapped.scenario, env.unwrapped.episode_plan()
    for kwargs in ({"start_tick": 8}, {"start_tick": -1}, {"horizon": 9}, {"horizon": 0}):
        with pytest.raises(ValueError, match="window"):
            build_model(sc, plan, **kwargs)
    with pytest.raises(ValueError, match="cv_segments"):
        build_model(sc, plan, cv_segments=0)


# --------------------------------------------------------------------------------------------
# Statuses: infeasible and timed-out models give a status, not a crash
# --------------------------------------------------------------------------------------------


def test_infeasible_model_gives_a_clear_status(tiny_scenario):
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=tiny_scenario())
    env.reset(seed=0)
    model = build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
    j = model.pair_ids[0]
    model.model.impossible = pyo.Constraint(expr=model.model.p[j] >= 1e6)
    schedule = solve(model, 30)
    assert schedule.status == "infeasible"
    assert not schedule.ok and schedule.actions is None and math.isnan(schedule.objective)
    assert "Infeasible" in schedule.message


def test_timed_out_model_gives_a_clear_status_and_the_policy_idles():
    env = gym.make("evgrid_gym/EVGrid-v2", scenario="default")
    env.reset(seed=1)
    sc, plan = env.unwrapped.scenario, env.unwrapped.episode_plan()
    schedule = solve(build_model(sc, plan), time_limit_s=0.0)
    assert schedule.status in ("time_limit", "time_limit_feasible")
    assert schedule.ok == (schedule.status == "time_limit_feasible")
    assert "TimeLimit" in schedule.message
    policy = OptimalPolicy(sc, time_limit_s=0.0)
    with pytest.warns(RuntimeWarning, match="no schedule"):
        policy.reset(seed=1, plan=plan)
    _, info = env.reset(seed=1)
    np.testing.assert_array_equal(policy.act(None, info), np.zeros(sc.n_actions, np.float32))


# --------------------------------------------------------------------------------------------
# Windows and MPC
# --------------------------------------------------------------------------------------------


def test_a_window_from_the_optimal_state_continues_the_optimum():
    env, plan, full = _solved("electra_station", 0)
    sc = env.unwrapped.scenario
    t0 = 40
    observation, info = env.reset(seed=0)
    head = 0.0
    for t in range(t0):
        observation, reward, _, _, info = env.step(full.actions[t])
        head += reward
    view = sc.unpack(observation)
    energy = {
        e: float(view.soc[c]) * plan.ev[L.EV_BATTERY_KWH, e]
        for c, e in enumerate(info["connector_ev"].tolist())
        if e >= 0
    }
    bess_soc = view.bess_soc.astype(np.float64)
    model = build_model(sc, plan, start_tick=t0, ev_energy_kwh=energy, bess_soc=bess_soc)
    tail = solve(model, 30)
    assert tail.actions.shape == (96 - t0, sc.n_actions)
    assert head + tail.objective == pytest.approx(full.objective, rel=1e-6)
    rest = sum(env.step(action)[1] for action in tail.actions)
    assert rest == pytest.approx(tail.objective, rel=1e-7, abs=1e-4)


def test_mpc_lies_between_uncontrolled_and_the_optimum():
    env, _, full = _solved("electra_station", 1)
    sc = env.unwrapped.scenario
    policy = MPCPolicy(sc, horizon=12, replan_every=4)
    env.reset(seed=1)
    policy.reset(seed=1, plan=env.unwrapped.episode_plan())
    mpc, _ = _run(env, 1, policy.act)
    assert len(policy.schedules) == 24 and all(s.ok for s in policy.schedules)
    uncontrolled, _ = _run(env, 1, make_policy("uncontrolled", sc).act)
    assert uncontrolled < mpc <= full.objective + _tolerance(full)
    with pytest.raises(ValueError, match="replan_every"):
        MPCPolicy(sc, horizon=4, replan_every=5)


# --------------------------------------------------------------------------------------------
# An LP again: charging and discharging one battery at once never pays
# --------------------------------------------------------------------------------------------


def _charged_and_discharged_at_once(model) -> list:
    m = model.model
    tol = 1e-5
    both = [j for j in m.q if j in m.p and min(m.p[j].value or 0, m.q[j].value or 0) > tol]
    both += [k for k in m.bc if min(m.bc[k].value or 0, m.bd[k].value or 0) > tol]
    return both


@pytest.mark.parametrize("name, seed, degradation", CASES)
def test_no_connector_or_bess_charges_and_discharges_in_one_tick(name, seed, degradation):
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=_scenario(name, degradation))
    env.reset(seed=seed)
    model = build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
    schedule = solve(model, 120, mip_rel_gap=MIP_GAP)
    assert schedule.ok
    assert _charged_and_discharged_at_once(model) == []


def test_positive_prices_and_evs_above_the_v2g_floor_make_an_lp(tiny_scenario):
    """Binaries only where the reward can pay for burning energy or an EV starts below the
    V2G floor: neither here (the V2G EV arrives at soc 0.3 > 0.2)."""
    env = gym.make(
        "evgrid_gym/EVGrid-v2", scenario=tiny_scenario({"evs.sessions[0].soc_arrival": 0.3})
    )
    env.reset(seed=0)
    model = build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
    assert model.n_binaries == 0
    schedule = solve(model, 30)
    assert schedule.status == "optimal" and schedule.rounds >= 1
    assert _charged_and_discharged_at_once(model) == []
    assert model.model.q[next(iter(model.model.q))] is not None  # V2G is in the model


# --------------------------------------------------------------------------------------------
# Every bundled scenario, every fault kind, reservations on: exact replay, dominance
# --------------------------------------------------------------------------------------------

FAULT_KINDS = {
    "charger": ("charger_probability", "charger"),
    "link": ("station_link_probability", "station_link"),
    "turbine": ("turbine_probability", "turbine"),
}


def _faulty(name: str, kind: str, schedule: str) -> dict:
    """Bundled scenario ``name`` with reservations on and only outages of ``kind``: random
    (p = 0.02 per component and tick) or scheduled (the first component down for 6 ticks
    at tick 30)."""
    from evgrid_gym.config import load_scenario

    data = load_scenario(name).model_dump(mode="json")
    probability, component = FAULT_KINDS[kind]
    faults = {"mean_repair_ticks": 4.0}
    if schedule == "random":
        faults[probability] = 0.02
    else:
        faults["scheduled"] = [
            {"component": component, "index": 0, "start_tick": 30, "duration_ticks": 6}
        ]
    if kind == "turbine" and not data["wind"]["turbines"]:
        data["wind"]["turbines"] = [{"turbine_type": "E-53/800", "hub_height_m": 73.0}]
    data["faults"] = faults
    data["reservation"] = {"enabled": True}
    return data


@pytest.mark.parametrize("schedule", ["scheduled", "random"])
@pytest.mark.parametrize("kind", list(FAULT_KINDS))
@pytest.mark.parametrize("name", evgrid_gym.bundled_scenarios())
def test_optimum_is_exact_and_dominates_under_every_fault(name, kind, schedule):
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=_faulty(name, kind, schedule))
    sc = env.unwrapped.scenario
    seed = 3
    env.reset(seed=seed)
    plan = env.unwrapped.episode_plan()
    solved = solve(build_model(sc, plan), 300, mip_rel_gap=MIP_GAP)
    assert solved.status == "optimal", solved.message
    optimum, _ = _replay(env, seed, solved.actions)
    assert optimum == pytest.approx(solved.objective, rel=0, abs=1e-4)
    rewards = {}
    for policy_name in POLICIES:
        policy = make_policy(policy_name, sc)
        policy.reset(seed=seed)
        rewards[policy_name], _ = _run(env, seed, policy.act)
    best = max(rewards, key=rewards.get)
    assert optimum >= rewards[best] - _tolerance(solved), (best, rewards[best], optimum)


# --------------------------------------------------------------------------------------------
# The network's limits (baselines/optimal/network.py)
# --------------------------------------------------------------------------------------------


def test_optimum_on_a_binding_network_is_exact_and_dominates(tight_network):
    config = tight_network
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=config)
    env.reset(seed=0)
    sc, plan = env.unwrapped.scenario, env.unwrapped.episode_plan()
    model = build_model(sc, plan)
    schedule = solve(model, 120, mip_rel_gap=MIP_GAP)
    assert schedule.status == "optimal", schedule.message
    assert model.network.n_cuts > 0
    optimum, states = _replay(env, 0, schedule.actions)
    assert optimum == pytest.approx(schedule.objective, rel=1e-7, abs=1e-4)
    loading = max(info["line_loading_pct"] for _, info in states[1:])
    v_min = min(info["voltage_min_pu"] for _, info in states[1:])
    assert 99.9 < loading <= 100.0 + 1e-6  # the cables bind, and are never exceeded
    assert 0.99 - 1e-9 <= v_min < 0.991  # so does the voltage floor
    # the limits cost reward: the same episode without the network earns more
    config["grid"]["network"] = None
    free_env = gym.make("evgrid_gym/EVGrid-v2", scenario=config)
    free_env.reset(seed=0)
    free = solve(build_model(free_env.unwrapped.scenario, free_env.unwrapped.episode_plan()),
                 120, mip_rel_gap=MIP_GAP)  # fmt: skip
    assert free.objective > optimum + 0.1
    for name in ("uncontrolled", "random"):
        policy = make_policy(name, sc)
        policy.reset(seed=0)
        reward, _ = _run(env, 0, policy.act)
        assert optimum >= reward - _tolerance(schedule), name
    full = np.ones(sc.n_actions, dtype=np.float32)
    reward, _ = _run(env, 0, lambda o, i: full)
    assert optimum >= reward - _tolerance(schedule)


def test_soft_network_penalty_is_not_modelled(tight_network):
    config = tight_network
    config["grid"]["limits"] = "soft"
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=config)
    env.reset(seed=0)
    with pytest.raises(OptimalModelError, match="network_penalty_eur.*grid.limits: hard"):
        build_model(env.unwrapped.scenario, env.unwrapped.episode_plan())
