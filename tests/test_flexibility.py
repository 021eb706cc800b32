"""The fleet's flexibility (``core/flexibility.py``): the kernels against the pure-Python
reference, the envelope bounding every policy's schedule (the optimum's too), ``alap`` on its
lower edge, the V2G round-trip losses in the upper edge, and ``info``'s up/down power in the
single and the vector env."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from gymnasium.vector import AutoresetMode
from numpy.testing import assert_allclose

from baselines import POLICIES, make_policy
from evgrid_gym.core import flexibility as F
from evgrid_gym.core import layout as L
from evgrid_gym.core.battery import full_power_start_soc
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.envs.vector_env import EVGridVectorEnv

# --- the kernels against the reference -------------------------------------------------------


def _random_state(seed: int):
    """A random scenario (tests/reference.py) after a few random ticks: (scenario, sim)."""
    rng = np.random.default_rng(seed)
    sc = ref.random_scenario(
        rng, n_ticks=10, soft=rng.random() < 0.2, scarce=rng.random() < 0.5,
        outages=rng.random() < 0.5, bess_action=rng.random() < 0.8,
    )  # fmt: skip
    sim = ref.CoreSim(sc)
    sim.reset()
    for _ in range(int(rng.integers(0, 7))):
        sim.step(rng.uniform(-1.0, 1.0, sim.n_actions))
    return sim.sc, sim


def _arrays(sc, sim):
    return (sc["cfg"], sc["connector_charger"], sc["charger_f"], sc["charger_station"],
            sc["station_f"], sc["exo"], sc["outage"], sim.bess_soc, sim.conn,
            int(sim.clock[L.CLK_TICK]))  # fmt: skip


@pytest.mark.parametrize("seed", range(25))
def test_envelope_and_power_range_match_the_reference(seed):
    sc, sim = _random_state(seed)
    tick = int(sim.clock[L.CLK_TICK])
    horizon = int(sc["cfg"][L.CFG_N_TICKS]) - tick
    work = np.full(F.workspace_size(sc["charger_f"].shape[1], sc["station_f"].shape[1]), np.nan)
    least, most = np.zeros(horizon), np.zeros(horizon)
    F.fleet_envelope(*_arrays(sc, sim), least, most, work)
    want = np.array([ref.fleet_edges_kwh(sc, sim.conn, sim.bess_soc, tick, h, False)
                     for h in range(1, horizon + 1)]).reshape(-1, 2)  # fmt: skip
    assert_allclose(least, want[:, 0], rtol=1e-7, atol=1e-7)
    assert_allclose(most, want[:, 1], rtol=1e-7, atol=1e-7)
    dt_h = sc["cfg"][L.CFG_DT_H]
    low, high = F.power_range_kw(*_arrays(sc, sim), work)
    want_now = ref.fleet_edges_kwh(sc, sim.conn, sim.bess_soc, tick, 1, True)
    assert_allclose([low, high], np.array(want_now) / dt_h, rtol=1e-7, atol=1e-7)


def test_full_power_start_soc_inverts_the_curve_tick_by_tick():
    rng = np.random.default_rng(0)
    for _ in range(300):
        capacity, power = rng.uniform(10.0, 100.0), rng.uniform(2.0, 150.0)
        eta, ts, dt = rng.uniform(0.85, 1.0), rng.choice([0.5, 0.8, 1.0]), 0.25
        ticks = int(rng.integers(0, 30))
        goal = rng.uniform(0.05, 0.999) * capacity
        start = full_power_start_soc(goal / capacity, capacity, power, eta, ts, ticks * dt)
        want = ref.latest_start_kwh(goal, capacity, power, eta, ts, dt, ticks)
        if want is None:
            assert start * capacity <= 1e-7
        else:
            assert start * capacity == pytest.approx(want, rel=1e-7, abs=1e-7)
    assert full_power_start_soc(1.0, 50.0, 11.0, 0.95, 0.8, 2.0) == np.inf  # never reached


# --- every policy's schedule within the envelope ---------------------------------------------


def _ev(arrival, departure, soc, target, kw=11.0, v2g=0.0, battery=50.0) -> dict:
    return {"station": "a", "arrival_tick": arrival, "departure_tick": departure,
            "battery_kwh": battery, "soc_arrival": soc, "soc_target": target, "max_ac_kw": kw,
            "max_v2g_kw": v2g}  # fmt: skip


SESSIONS = [
    _ev(0, 20, 0.2, 0.9), _ev(0, 40, 0.5, 0.8, v2g=11.0), _ev(4, 30, 0.1, 1.0),
    _ev(10, 48, 0.3, 0.9, kw=7.4, battery=40.0), _ev(16, 44, 0.6, 0.95, v2g=11.0),
    _ev(20, 36, 0.4, 0.7),
]  # fmt: skip


def _scenario(grid_kw: float, sessions=SESSIONS, transition_soc: float = 0.8) -> dict:
    """One station ``a`` of 1-connector 11 kW chargers (the first three V2G), a cheap fixed
    price (charging pays), 12 hours."""
    return {
        "name": "flex", "dt_h": 0.25, "episode_ticks": 48,
        "grid": {"feeder_limit_kw": 1000.0},
        "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.1},
        "households": {"count": 0},
        "stations": [{"id": "a", "grid_capacity_kw": grid_kw, "chargers": [
            {"max_power_kw": 11.0, "connectors": 1, "count": 3, "v2g": True},
            {"max_power_kw": 11.0, "connectors": 1, "count": len(sessions) - 3}]}],
        "evs": {"source": "sessions", "sessions": sessions},
        "battery": {"transition_soc": transition_soc},
        "action": {"bess_control": False},
    }  # fmt: skip


def _envelopes(env: EVGridEnv, policy_name: str):
    """Runs ``policy_name`` for an episode; at every tick the envelope of the fleet plugged in
    then and the grid energy that fleet took by each later tick, kWh. ``alap`` and
    ``contract_net`` aim at the goals themselves (no tolerance): a goal missed by a little in
    the CV stage is a start missed by much more (the taper's exponential, backwards)."""
    options = {"tolerance_kwh": 0.0} if policy_name in ("alap", "contract_net") else {}
    policy = make_policy(policy_name, env.scenario, **options)
    observation, info = env.reset(seed=0)
    policy.reset(seed=0, plan=env.episode_plan() if policy.perfect_foresight else None)
    n_ticks, n_evs = env.scenario.config.episode_ticks, env.episode_plan().ev.shape[1]
    drawn_kwh = np.zeros((n_ticks, n_evs))
    starts, terminated = [], False
    while not terminated:
        fleet = np.asarray(info["connector_ev"])
        starts.append((env.flexibility(), fleet[fleet >= 0]))
        observation, _, terminated, _, info = env.step(policy.act(observation, info))
        tick = info["tick"] - 1
        drawn_kwh[tick, fleet[fleet >= 0]] = info["connector_kw"][fleet >= 0] * 0.25
    cumulative = np.cumsum(drawn_kwh, axis=0)
    for flexibility, fleet in starts:
        t, h = flexibility.tick, flexibility.least_kwh.size
        before = cumulative[t - 1, fleet] if t else 0.0
        took = (cumulative[t : t + h][:, fleet] - before).sum(axis=1)
        yield flexibility, fleet, took


def _unmet_kwh(env: EVGridEnv) -> float:
    return float(env.kpi_total[L.KPI["unmet_energy_kwh"]])


CHECKED = sorted(set(POLICIES) - {"mpc"})  # mpc: the optimum's model again, window by window


@pytest.mark.parametrize("policy", CHECKED)
def test_every_schedule_stays_within_the_envelope(policy):
    """Ample capacity: every EV can reach its goal. Every schedule stays below the upper
    edge, and one that brings its fleet to the goals (took all the lower edge asks by the
    end) stays above the lower edge all along: every policy but ``random`` does."""
    env = EVGridEnv(_scenario(grid_kw=200.0))
    met = checked = 0
    for flexibility, _, took in _envelopes(env, policy):
        checked += took.size > 0
        assert (took <= flexibility.most_kwh + 1e-6).all(), (policy, flexibility.tick)
        if took.size and took[-1] >= flexibility.least_kwh[-1] - 1e-4:
            met += 1
            assert (took >= flexibility.least_kwh - 1e-4).all(), (policy, flexibility.tick)
    assert met == checked or policy == "random", (met, checked)
    if policy == "random":
        assert _unmet_kwh(env) > 1.0


@pytest.mark.parametrize("policy", CHECKED)
def test_the_upper_edge_holds_where_the_station_binds(policy):
    env = EVGridEnv(_scenario(grid_kw=15.0))
    binding = False
    for flexibility, _, took in _envelopes(env, policy):
        assert (took <= flexibility.most_kwh + 1e-6).all(), (policy, flexibility.tick)
        binding |= bool(np.any(np.isclose(took, flexibility.most_kwh, atol=1e-6) & (took > 0)))
    assert binding or policy in ("alap", "random")  # the edge is reached, not just a bound


def test_alap_follows_the_lower_edge():
    """Without a taper, alap's plan (:meth:`Heuristic.must_charge_kw`) does not depend on the
    capacity it has to estimate, so it is exact: it takes what the lower edge says."""
    sessions = [_ev(0, 40, 0.2, 0.8), _ev(2, 30, 0.5, 0.75), _ev(6, 48, 0.1, 0.7),
                _ev(8, 20, 0.4, 0.6)]  # fmt: skip
    env = EVGridEnv(_scenario(200.0, sessions, transition_soc=1.0))
    gap = []
    for flexibility, fleet, took in _envelopes(env, "alap"):
        if flexibility.tick % 4 == 0 and fleet.size:
            gap.append(np.max(np.abs(took - np.maximum(flexibility.least_kwh, 0.0))))
            assert np.max(np.abs(took - flexibility.least_kwh)) <= 1e-4
    assert len(gap) > 5 and max(gap) > 0.0  # it was checked, and not trivially


def test_cycling_energy_through_a_v2g_ev_stays_below_the_upper_edge():
    """An EV at its target with V2G: discharged for two ticks, then charged back. The grid
    gives it more than it gains (the round trip's losses), which the upper edge allows for:
    without them (its battery gain over the efficiency) the edge would be broken."""
    env = EVGridEnv(_scenario(200.0, [_ev(0, 12, 0.8, 0.8, v2g=11.0)] * 4))
    env.reset(seed=0)
    flexibility = env.flexibility()
    drawn = []
    for tick in range(8):
        action = np.zeros(env.action_space.shape, np.float32)
        action[0] = -1.0 if tick < 2 else 1.0
        _, _, _, _, info = env.step(action)
        drawn.append(info["connector_kw"][0] * 0.25)
    took = np.cumsum(drawn)
    assert took[-1] > 0.0  # the EV is back at its target, and the grid paid the losses
    assert (took <= flexibility.most_kwh[:8] / 4 + 1e-9).all()  # one of the four EVs


def test_the_power_range_knows_the_outages_of_its_tick():
    """A charger down gives nothing this tick (its EV's max power, as the observation shows it
    without the outage, is off the range's top); a station whose link is down runs its
    fallback (no choice: the least is the most)."""
    scheduled = [{"component": "charger", "index": 0, "start_tick": 2},
                 {"component": "station_link", "index": 0, "start_tick": 3}]  # fmt: skip
    faults = {"scheduled": scheduled}
    env, plain = EVGridEnv(_scenario(200.0) | {"faults": faults}), EVGridEnv(_scenario(200.0))
    idle = np.zeros(env.action_space.shape, np.float32)
    for e in (env, plain):
        e.reset(seed=0)
        e.step(idle)
        observation = e.step(idle)[0]  # at tick 2
    observation = plain.scenario.unpack(observation.astype(np.float64))
    down, up = env.flexibility(0), plain.flexibility(0)
    assert down.tick == up.tick == 2
    assert up.high_kw - down.high_kw == pytest.approx(observation.max_power_kw[0], rel=1e-6)
    env.step(idle)
    link_down = env.flexibility(0)
    assert link_down.low_kw == pytest.approx(link_down.high_kw) and link_down.high_kw > 10.0


# --- info and the vector env -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["alap", "uncontrolled"])
def test_info_reports_up_and_down_power_only_when_asked(name):
    """What the fleet could have drawn more (alap: much) and less (uncontrolled: much) than
    it did, against the range of each tick computed before it."""
    env = EVGridEnv(_scenario(200.0), flexibility=True)
    observation, info = env.reset(seed=0)
    assert info["flexibility_up_kw"] == info["flexibility_down_kw"] == 0.0
    policy = make_policy(name, env.scenario)
    policy.reset(seed=0)
    terminated, ups, downs = False, [], []
    while not terminated:
        range_kw = env.flexibility(0)  # of the coming tick
        observation, _, terminated, _, info = env.step(policy.act(observation, info))
        drawn_kw = info["connector_kw"].sum()
        assert info["flexibility_up_kw"] == pytest.approx(range_kw.high_kw - drawn_kw, abs=1e-9)
        assert info["flexibility_down_kw"] == pytest.approx(drawn_kw - range_kw.low_kw, abs=1e-9)
        ups.append(info["flexibility_up_kw"])
        downs.append(info["flexibility_down_kw"])
    assert min(ups) >= -1e-9  # no policy draws more than the most
    if name == "uncontrolled":  # it brings every EV to its goal: never less than the least
        assert min(downs) >= -1e-4 and max(downs) > 10.0
    else:
        assert max(ups) > 10.0
    assert "flexibility_up_kw" not in EVGridEnv(_scenario(15.0)).reset(seed=0)[1]


def test_flexibility_after_advance_is_that_of_step():
    """advance() (step without its info, the multi-agent env's) keeps the coming tick's power
    range up to date: a step after some advances reports what steps alone report."""
    stepped, advanced = (EVGridEnv(_scenario(15.0), flexibility=True) for _ in range(2))
    stepped.reset(seed=3)
    advanced.reset(seed=3)
    rng = np.random.default_rng(3)
    for tick in range(stepped.scenario.config.episode_ticks):
        action = rng.uniform(-1, 1, stepped.action_space.shape).astype(np.float32)
        _, _, _, _, want = stepped.step(action)
        if tick % 5 < 3:
            advanced.advance(action)
            continue
        _, _, _, _, info = advanced.step(action)
        for key in ("flexibility_up_kw", "flexibility_down_kw"):
            assert info[key] == want[key], (key, tick)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_reports_the_same_flexibility_as_single_envs(mode):
    scenario = _scenario(15.0)
    vec = EVGridVectorEnv(3, scenario, flexibility=True, autoreset_mode=mode)
    singles = [EVGridEnv(scenario, flexibility=True) for _ in range(3)]
    vec.reset(seed=5)
    for i, env in enumerate(singles):
        env.reset(seed=5 + i)
    rng = np.random.default_rng(0)
    restart = [False] * 3
    for _ in range(110):  # two autoresets of 48-tick episodes
        actions = rng.uniform(-1, 1, (3, *singles[0].action_space.shape)).astype(np.float32)
        _, _, _, _, infos = vec.step(actions)
        for i, env in enumerate(singles):
            if restart[i]:
                _, want = env.reset()
                restart[i] = False
            else:
                _, _, done, _, want = env.step(actions[i])
                if done and mode == AutoresetMode.SAME_STEP:
                    final = infos["final_info"]
                    assert final["flexibility_up_kw"][i] == want["flexibility_up_kw"]
                    _, want = env.reset()
                restart[i] = done and mode == AutoresetMode.NEXT_STEP
            for key in ("flexibility_up_kw", "flexibility_down_kw"):
                assert infos[key][i] == want[key], (key, i)
