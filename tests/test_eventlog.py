"""The event log of an episode (``evgrid_gym/eventlog.py``): events worked out by hand, the
sessions against the env's own totals and observations, reservations and outages, and the
same files on a seeded re-run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines import make_policy
from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.eventlog import EpisodeLog


def _record(env: EVGridEnv, act, seed: int = 0, log: EpisodeLog | None = None):
    """Runs an episode with ``act(observation, info)``, logging it; returns the log and the
    observations (as named views) at every tick start."""
    log = log or EpisodeLog("test", seed)
    observation, info = env.reset(seed=seed)
    log.start(env, info)
    seen, terminated = [env.scenario.unpack(observation.astype(np.float64))], False
    while not terminated:
        observation, _, terminated, _, info = env.step(act(observation, info))
        log.record(info)
        seen.append(env.scenario.unpack(observation.astype(np.float64)))
    return log, seen


def _hand_scenario(**more) -> dict:
    """One station, two V2G chargers (11 kW, efficiency 0.9): EV 0 from tick 0 to 6 on the
    first, EV 1 from tick 2 to 4 and EV 2 from tick 4 to 7 on the second."""
    sessions = [
        {"station": "a", "arrival_tick": 0, "departure_tick": 6, "battery_kwh": 100.0,
         "soc_arrival": 0.5, "soc_target": 0.9, "max_ac_kw": 11.0, "max_v2g_kw": 11.0},
        {"station": "a", "arrival_tick": 2, "departure_tick": 4, "battery_kwh": 40.0,
         "soc_arrival": 0.3, "soc_target": 0.8, "max_ac_kw": 11.0},
        {"station": "a", "arrival_tick": 4, "departure_tick": 7, "battery_kwh": 40.0,
         "soc_arrival": 0.3, "soc_target": 0.8, "max_ac_kw": 11.0},
    ]  # fmt: skip
    return {
        "name": "hand", "dt_h": 0.25, "episode_ticks": 8,
        "grid": {"feeder_limit_kw": 1000.0},
        "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.2},
        "households": {"count": 0},
        "stations": [{"id": "a", "grid_capacity_kw": 100.0, "chargers": [
            {"max_power_kw": 11.0, "efficiency": 0.9, "count": 2, "v2g": True}]}],
        "evs": {"source": "sessions", "sessions": sessions},
        "battery": {"transition_soc": 1.0},
        "action": {"bess_control": False},
    } | more  # fmt: skip


# EV 0 on connector 0: charge in ticks 1-2, idle in 3, V2G in 4, charge in 5; EV 1 charges
ACTIONS = {1: [1.0, 0.0], 2: [1.0, 1.0], 3: [0.0, 1.0], 4: [-1.0, 0.0], 5: [1.0, 0.0]}


def _hand_act(observation, info):
    return np.array(ACTIONS.get(info["tick"], [0.0, 0.0]), np.float32)


def test_events_of_a_hand_made_episode():
    log, _ = _record(EVGridEnv(_hand_scenario()), _hand_act)
    events = log.tables()["events"]
    got = list(zip(events["tick"], events["event"], events["ev"], strict=True))
    assert got == [
        (0, "plug_in", 0), (1, "charge_start", 0), (2, "plug_in", 1), (2, "charge_start", 1),
        (3, "charge_stop", 0), (4, "unplug", 1), (4, "charge_stop", 1), (4, "plug_in", 2),
        (4, "v2g_start", 0), (5, "v2g_stop", 0), (5, "charge_start", 0), (6, "unplug", 0),
        (6, "charge_stop", 0), (7, "unplug", 2),
    ]  # fmt: skip
    assert events["time"].iloc[1].endswith("00:15:00+01:00")  # tick 1 of a winter day
    sessions = log.tables()["sessions"].set_index("ev")
    # EV 0: three charging ticks at 11 kW (the battery gains 0.9 of it), one V2G tick (the
    # grid gets 0.9 of what the battery gives): 11 kW x 0.25 h x (3 x 0.9 - 1 / 0.9)
    delivered = 11.0 * 0.25 * (3 * 0.9 - 1 / 0.9)
    assert sessions.loc[0, "delivered_kwh"] == pytest.approx(delivered)
    assert sessions.loc[0, "soc_departure"] == pytest.approx(0.5 + delivered / 100.0)
    assert sessions.loc[0, "unmet_kwh"] == pytest.approx(40.0 - delivered)
    assert sessions.loc[0, ["first_charging_tick", "last_charging_tick"]].tolist() == [1, 5]
    assert sessions.loc[1, ["plug_in_tick", "unplug_tick", "connector"]].tolist() == [2, 4, 1]


def test_outages_begin_and_end_where_scheduled():
    faults = {"scheduled": [{"component": "charger", "index": 1, "start_tick": 2,
                             "duration_ticks": 3}]}  # fmt: skip
    log, _ = _record(EVGridEnv(_hand_scenario(faults=faults)), _hand_act)
    events = log.tables()["events"]
    outages = events[events["event"].str.startswith("outage")]
    assert list(zip(outages["tick"], outages["event"], outages["component"], strict=True)) == [
        (2, "outage_begin", "charger 1 (a)"), (5, "outage_end", "charger 1 (a)"),
    ]  # fmt: skip


def _one_day(name: str) -> dict:
    return load_scenario(name).model_dump(mode="json") | {"episode_ticks": 96}


def test_sessions_add_up_to_the_episode_and_socs_are_the_observations():
    env = EVGridEnv(_one_day("residential_archetypes"))
    policy = make_policy("edf", env.scenario)
    policy.reset(seed=2)
    log, seen = _record(env, policy.act, seed=2)
    tables = log.tables()
    sessions, ev_ticks = tables["sessions"], tables["ev_ticks"]
    totals = dict(zip(L.KPI_NAMES, env.kpi_total, strict=True))
    assert sessions["delivered_kwh"].sum() == pytest.approx(totals["delivered_kwh"], abs=1e-9)
    assert sessions["unmet_kwh"].sum() == pytest.approx(totals["unmet_energy_kwh"], abs=1e-9)
    assert (sessions["outcome"] == "plugged").sum() == totals["arrivals"] - totals[
        "rejected_arrivals"
    ]
    assert (sessions["archetype"] != "").all() and (sessions["user"] >= 0).all()
    # each EV's logged soc is the soc the observation showed on its connector
    where = zip(ev_ticks["tick"], ev_ticks["connector"], strict=True)
    observed = np.array([seen[t].soc[c] for t, c in where])
    np.testing.assert_allclose(ev_ticks["soc"], observed, atol=1e-6)
    events = tables["events"]
    for kind in ("plug_in", "unplug"):
        assert (events["event"] == kind).sum() == (sessions["outcome"] == "plugged").sum()
    assert (events["event"] == "charge_start").sum() == (events["event"] == "charge_stop").sum()
    ticks = tables["ticks"]
    assert len(ticks) == 96 and (ticks["flexibility_up_kw"] >= -1e-9).all()


def test_reservation_outcomes_match_the_episode():
    env = EVGridEnv(_one_day("scenario1_normal"))
    policy = make_policy("uncontrolled", env.scenario)
    policy.reset(seed=4)
    log, _ = _record(env, policy.act, seed=4)
    sessions = log.tables()["sessions"]
    totals = dict(zip(L.KPI_NAMES, env.kpi_total, strict=True))
    counts = sessions["reservation"].value_counts()
    assert counts.get("served", 0) == totals["reservations_served"] > 0
    assert counts.get("no_show", 0) == totals["no_shows"]
    assert (sessions["outcome"] == "no_show").sum() == np.isinf(
        env.episode_plan().ev[L.EV_ARRIVAL]
    ).sum()


def test_a_seeded_run_writes_the_same_files(tmp_path):
    scenario = _one_day("default")
    written = []
    for run in ("a", "b"):
        env = EVGridEnv(scenario)
        policy = make_policy("random", env.scenario)
        policy.reset(seed=7)
        log, _ = _record(env, policy.act, seed=7, log=EpisodeLog("random", 7))
        written.append(log.write(tmp_path / run))
    names = sorted(p.name for p in written[0])
    assert "sessions.parquet" in names and "episode.json" in names  # pyarrow is in [all]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    csv, parquet = (pd.read_csv(tmp_path / "a" / "ticks.csv"),
                    pd.read_parquet(tmp_path / "a" / "ticks.parquet"))  # fmt: skip
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
