"""The station service decides as the simulator does.

Simulated ``electra_station`` and ``caltech_acn`` days are replayed through the service (the
FastAPI app under a ``TestClient``, a manual clock set to each tick, the episode's exogenous
inputs): every plug-in and plug-out of the env's episode becomes a POST or DELETE at its tick.
At every tick each connector's allocation must equal the power the env applies, and each closed
session's energy the energy the env delivered to that EV.

The env's applied powers are not all public (an EV that leaves has its row cleared in the same
step), so the expected ones come from the pure-Python reference of the env's rules
(``tests/reference.py``: the CC-CV range of each EV and the projection) on the env's state
before each step, and are checked against the env's own applied powers and delivered energy
wherever those are visible.
"""

from __future__ import annotations

import datetime
import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest

pytest.importorskip("fastapi")

import reference  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from baselines import make_policy  # noqa: E402
from evgrid_gym import EVGridEnv  # noqa: E402
from evgrid_gym.core import layout as L  # noqa: E402
from evgrid_gym.rl.agent import AgentPolicy  # noqa: E402
from evgrid_gym.service import ManualClock, build_service, create_app  # noqa: E402

KW_TOL = 1e-6
KWH_TOL = 1e-6
SEEDS = {"electra_station": 0, "caltech_acn": 1}  # 63 EVs; a real day of 38 sessions
POLICIES = ("greedy_fcfs", "equal_share", "bess_boost", "edf", "agent")


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    """``agent(scenario)``: the path of a tiny PPO agent for it, trained on first use on a
    single env (a few updates: the replay only needs a deterministic policy; its connector
    actions start at 0.6 of the rated power, so it asks more than the station has)."""
    paths = {}

    def agent(name: str) -> str:
        if name not in paths:
            pytest.importorskip("stable_baselines3")
            import torch
            from stable_baselines3 import PPO

            folder = tmp_path_factory.mktemp(f"agent_{name}")
            env = EVGridEnv(name)
            model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=1, seed=0,
                        device="cpu")  # fmt: skip
            with torch.no_grad():  # charge from the start, so the limits bind
                model.policy.action_net.bias[: env.scenario.n_connectors] = 0.6
            model.learn(256)
            model.save(folder / "model.zip")
            (folder / "train_info.json").write_text(json.dumps({"algo": "ppo"}))
            paths[name] = str(folder / "model.zip")
        return paths[name]

    return agent


def _expected_powers(env, action) -> tuple[np.ndarray, float]:
    """The env's applied connector and BESS powers for ``action`` now, by the reference."""
    sc = env.scenario
    cfg = sc.cfg
    dt_h, conn, bess_soc = cfg[L.CFG_DT_H], env.state.conn, env.state.bess_soc  # before the step
    eff = sc.charger_f[L.CH_EFFICIENCY][sc.connector_charger]
    low, high = np.zeros(sc.n_connectors), np.zeros(sc.n_connectors)
    for c in np.flatnonzero(conn[L.CN_OCCUPIED] > 0):
        low[c], high[c] = reference.power_range_kw(
            conn[L.CN_SOC, c], conn[L.CN_BATTERY_KWH, c], conn[L.CN_SOC_TARGET, c],
            conn[L.CN_MAX_KW, c], conn[L.CN_MAX_V2G_KW, c], eff[c], cfg[L.CFG_TRANSITION_SOC],
            cfg[L.CFG_V2G_SOC_MIN], dt_h,
        )  # fmt: skip
    st = sc.station_f
    bess_range = (0.0, 0.0)
    if st[L.ST_BESS_KWH, 0] > 0:
        bess_range = reference.power_range_kw(
            bess_soc[0], st[L.ST_BESS_KWH, 0], st[L.ST_BESS_SOC_MAX, 0], st[L.ST_BESS_KW, 0],
            st[L.ST_BESS_KW, 0], st[L.ST_BESS_EFFICIENCY, 0], 1.0, st[L.ST_BESS_SOC_MIN, 0],
            dt_h,
        )  # fmt: skip
    action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    bess_kw = [action[sc.n_connectors] * st[L.ST_BESS_KW, 0] if sc.n_actions > sc.n_connectors
               else 0.0]  # fmt: skip
    conn_kw, bess, *_ = reference.project(
        action[: sc.n_connectors] * sc.connector_rated_kw, low, high, sc.connector_charger,
        sc.charger_f[L.CH_MAX_KW], sc.charger_station, bess_kw, [bess_range[0]],
        [bess_range[1]], st[L.ST_GRID_KW], env.episode.exo[L.EXO_HOUSEHOLD_KW, env.state.clock[0]],
        cfg[L.CFG_FEEDER_KW], False,
    )  # fmt: skip
    return np.array(conn_kw), bess[0]


def _plug_in_body(plan, e, charger, connector_id, t0, dt) -> dict:
    ev = plan.ev
    soc, battery = ev[L.EV_SOC_ARRIVAL, e], ev[L.EV_BATTERY_KWH, e]
    max_kw = ev[L.EV_MAX_DC_KW, e] if charger["kind"] == "DC" else ev[L.EV_MAX_AC_KW, e]
    return {
        "charger_id": charger["charger_id"], "connector_id": connector_id,
        "vehicle_max_power_kw": float(max_kw), "soc": float(soc),
        "battery_capacity_kwh": float(battery),
        "energy_requested_kwh": float(max(ev[L.EV_SOC_TARGET, e] - soc, 0.0) * battery),
        "departure": (t0 + float(ev[L.EV_DEPARTURE, e]) * dt).isoformat(),
    }  # fmt: skip


def replay(scenario: str, policy: str, db, agent: str | None = None) -> dict:
    """Replays one seeded day through the service and checks every tick; returns counts."""
    env = EVGridEnv(scenario)
    sc = env.scenario
    sim = AgentPolicy.load(sc, agent) if agent else make_policy(policy, sc)
    observation, info = env.reset(seed=SEEDS[scenario])
    sim.reset(seed=SEEDS[scenario])
    plan = env.episode_plan()
    config = sc.config
    t0 = datetime.datetime.combine(
        datetime.date.fromisoformat(plan.date), datetime.time(),
        ZoneInfo(config.calendar.timezone),
    )  # fmt: skip
    dt = datetime.timedelta(hours=config.dt_h)
    clock = ManualClock(t0)
    service = build_service(config, policy, f"sqlite:///{db}", agent=agent, clock=clock,
                            inputs=lambda _day: plan.exo)  # fmt: skip
    client = TestClient(create_app(service))
    station = config.stations[0].id
    chargers = client.get(f"/stations/{station}").json()["chargers"]
    connectors = [(ch, cid) for ch in chargers for cid in ch["connector_ids"]]
    eff = sc.charger_f[L.CH_EFFICIENCY][sc.connector_charger]
    session_of: dict[int, str] = {}  # EV -> session id
    expected_kwh = np.zeros(plan.ev.shape[1])
    counts = {"allocations": 0, "charging": 0, "closed": 0, "boosted": 0}

    def unplug(e):
        r = client.delete(f"/stations/{station}/sessions/{session_of.pop(e)}")
        assert r.status_code == 200, r.text
        assert abs(r.json()["session"]["delivered_kwh"] - expected_kwh[e]) <= KWH_TOL, e
        counts["closed"] += 1

    n_ticks = config.episode_ticks
    for t in range(n_ticks + 1):
        clock.set(t0 + t * dt)
        before = plan.connector_ev[t - 1] if t > 0 else np.full(sc.n_connectors, -1)
        now = plan.connector_ev[t] if t < n_ticks else np.full(sc.n_connectors, -1)
        for c in np.flatnonzero((before >= 0) & (before != now)):
            unplug(before[c])
        for c in sorted(np.flatnonzero((now >= 0) & (now != before)), key=lambda c: now[c]):
            charger, connector_id = connectors[c]
            r = client.post(
                f"/stations/{station}/sessions",
                json=_plug_in_body(plan, now[c], charger, connector_id, t0, dt),
            )
            assert r.status_code == 201, r.text  # fmt: skip
            session_of[int(now[c])] = r.json()["session"]["session_id"]
        if t == n_ticks:
            break
        status = client.get(f"/stations/{station}/status").json()
        by_connector = {(s["charger_id"], s["connector_id"]): s for s in status["sessions"]}
        service_kw = np.array([
            by_connector[(ch["charger_id"], cid)]["allocated_power_kw"]
            if (ch["charger_id"], cid) in by_connector else 0.0
            for ch, cid in connectors
        ])  # fmt: skip

        action = sim.act(observation, info)
        expected_kw, expected_bess_kw = _expected_powers(env, action)
        observation, _, _, _, info = env.step(action)
        staying = env.state.conn[L.CN_EV] == plan.connector_ev[t]  # still plugged after the step
        np.testing.assert_allclose(env.state.conn[L.CN_POWER_KW][staying], expected_kw[staying],
                                   atol=1e-9, err_msg="reference vs env")  # fmt: skip
        assert abs(info["station_bess_kw"][0] - expected_bess_kw) <= 1e-9

        np.testing.assert_allclose(service_kw, expected_kw, rtol=0, atol=KW_TOL,
                                   err_msg=f"{scenario} {policy} tick {t}")  # fmt: skip
        service_bess_kw = status["bess"]["power_kw"] if status["bess"] else 0.0
        assert abs(service_bess_kw - expected_bess_kw) <= KW_TOL, (t, service_bess_kw)
        counts["allocations"] += int(np.count_nonzero(plan.connector_ev[t] >= 0))
        counts["charging"] += int(np.count_nonzero(service_kw > 1.0))
        counts["boosted"] += len(status["boosted_session_ids"])
        for c in np.flatnonzero(plan.connector_ev[t] >= 0):
            expected_kwh[plan.connector_ev[t, c]] += reference.battery_change_kwh(
                expected_kw[c], eff[c], config.dt_h
            )[0]
        leaving = plan.connector_ev[t][(plan.connector_ev[t] >= 0) & ~staying]
        assert abs(info["delivered_kwh"] - expected_kwh[leaving].sum()) <= 1e-9
    assert not session_of
    return counts


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("scenario", list(SEEDS))
def test_service_replays_the_simulator(scenario, policy, agents, tmp_path):
    agent = agents(scenario) if policy == "agent" else None
    counts = replay(scenario, policy, tmp_path / "ems.db", agent=agent)
    assert counts["allocations"] > 40 and counts["closed"] >= 15  # a busy day, all closed
    assert counts["charging"] > 20  # and the policy charges
    if scenario == "electra_station" and policy == "bess_boost":
        assert counts["boosted"] > 0  # the day exercises the BESS boost
