"""The replay conventions of real sessions (``evgrid_gym.arrivals.TraceArrivals``): ticks,
connectors, unknown station ids, batteries and the time zone, each on a hand-made ACN file
whose right answer is worked out by hand or taken from acnportal's own replay."""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pytest

from evgrid_gym.config import ScenarioError, load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.scenario import Scenario

HEADER = (
    "arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id,session_id,"
    "estimated_departure,claimed"
)
DAY = datetime.date(2019, 6, 3)
# (arrival, departure, requested kWh, delivered kWh, station id) on 3 June 2019, UTC-7
SESSIONS = (
    ("2019-06-03 08:10:00-07:00", "2019-06-03 17:20:00-07:00", 20.0, 12.5, "CA-1"),
    ("2019-06-03 09:01:00-07:00", "2019-06-03 09:05:00-07:00", 5.0, 0.25, "DC-1"),
    ("2019-06-03 09:10:00-07:00", "2019-06-03 10:00:00-07:00", 30.0, 24.0, "DC-1"),
    ("2019-06-03 11:00:00-07:00", "2019-06-03 12:29:59-07:00", 0.0, 3.0, "ZZ-9"),
    ("2019-06-03 22:00:00-07:00", "2019-06-04 07:00:00-07:00", 10.0, 8.0, "B-1"),
    ("2019-06-04 08:00:00-07:00", "2019-06-04 09:00:00-07:00", 4.0, 4.0, "CA-1"),
)
# by hand, on the 15-minute grid from local midnight, both ends rounded down: 08:10 -> 32,
# 17:20 -> 69; 09:01-09:05 -> 36, at least one tick -> 37; 09:10 -> 36, 10:00 -> 40;
# 11:00 -> 44, 12:29:59 -> 49; 22:00 -> 88, next morning -> cut at the day's end, 96
ARRIVAL = [32, 36, 36, 44, 88]
DEPARTURE = [69, 37, 40, 49, 96]
# connectors: CA-1, CA-2 (AC, station a), DC-1 (station a), B-1 (station b). The second
# DC-1 session finds DC-1 taken (its sub-tick predecessor holds it to tick 37): it is asked
# for DC-1 and will take another free connector of station a; ZZ-9 is unknown: any station.
CONNECTOR = [0, 2, 2, -1, 3]
STATION = [0, 0, 0, -1, 1]


def write_sessions(path, rows=SESSIONS, offset: str | None = None):
    lines = [HEADER]
    for i, (arrival, departure, requested, delivered, station) in enumerate(rows):
        if offset is not None:
            arrival, departure = arrival[:-6] + offset, departure[:-6] + offset
        lines.append(f"{arrival},{departure},{requested},{delivered},{station},s{i},,True")
    path.write_text("\n".join(lines) + "\n")
    return path


def trace_scenario(path, timezone="America/Los_Angeles", **evs) -> dict:
    return {
        "name": "trace", "dt_h": 0.25, "episode_ticks": 96,
        "grid": {"feeder_limit_kw": 1000.0},
        "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.3},
        "households": {"count": 0},
        "calendar": {"timezone": timezone, "first_date": "2019-06-01", "last_date": "2019-06-30"},
        "stations": [
            {"id": "a", "grid_capacity_kw": 100.0, "chargers": [
                {"max_power_kw": 6.656, "efficiency": 1.0, "count": 2, "ids": ["CA-1", "CA-2"]},
                {"max_power_kw": 50.0, "kind": "DC", "efficiency": 1.0, "ids": ["DC-1"]},
            ]},
            {"id": "b", "grid_capacity_kw": 100.0, "chargers": [
                {"max_power_kw": 7.0, "efficiency": 1.0, "ids": ["B-1"]},
            ]},
        ],
        "evs": {"source": "acn", "sessions_file": str(path),
                "sessions_timezone": "America/Los_Angeles"} | evs,
        "action": {"bess_control": False},
    }  # fmt: skip


def episode_evs(data: dict, day=DAY, seed: int = 0) -> np.ndarray:
    """The EV table of the episode of ``day``."""
    _, _, ev, _ = Scenario(load_scenario(data)).sample_episode(np.random.default_rng(seed), day)
    return ev


def test_ticks_round_down_at_both_ends_and_connectors_follow_the_station_id(tmp_path):
    ev = episode_evs(trace_scenario(write_sessions(tmp_path / "s.csv")))
    np.testing.assert_array_equal(ev[L.EV_ARRIVAL], ARRIVAL)  # the next day's session is out
    np.testing.assert_array_equal(ev[L.EV_DEPARTURE], DEPARTURE)
    np.testing.assert_array_equal(ev[L.EV_CONNECTOR], CONNECTOR)
    np.testing.assert_array_equal(ev[L.EV_STATION], STATION)


def _plugged(env: EVGridEnv, tick: int) -> np.ndarray:
    """``info["connector_ev"]`` at the start of ``tick`` of an idle episode of DAY."""
    _, info = env.reset(seed=0, options={"date": DAY})
    for _ in range(tick):
        _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
    return info["connector_ev"]


def test_a_taken_connector_sends_the_session_to_another_of_its_station(tmp_path):
    env = EVGridEnv(trace_scenario(write_sessions(tmp_path / "s.csv")))
    # tick 36: the sub-tick DC-1 session (EV 1) holds DC-1, so EV 2 takes CA-2 (connector
    # 1), the first free connector of station a
    np.testing.assert_array_equal(_plugged(env, 36), [0, 2, 1, -1])


def test_an_unknown_station_id_takes_any_free_connector_or_is_rejected(tmp_path):
    env = EVGridEnv(trace_scenario(write_sessions(tmp_path / "s.csv")))
    # tick 44: CA-1 holds EV 0, the others are free: the ZZ-9 session (EV 3) takes the
    # first free connector of any station, CA-2
    np.testing.assert_array_equal(_plugged(env, 44), [0, 3, -1, -1])
    # with every connector taken it is rejected: four long sessions on the four connectors
    busy = [
        ("2019-06-03 10:00:00-07:00", "2019-06-03 20:00:00-07:00", 1.0, 1.0, name)
        for name in ("CA-1", "CA-2", "DC-1", "B-1")
    ]
    unknown = [("2019-06-03 11:00:00-07:00", "2019-06-03 12:00:00-07:00", 1.0, 1.0, "ZZ-9")]
    env = EVGridEnv(trace_scenario(write_sessions(tmp_path / "t.csv", busy + unknown)))
    env.reset(seed=0, options={"date": DAY})
    rejected = 0.0
    for _ in range(96):
        _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
        rejected += info["rejected_arrivals"]
    assert rejected == 1.0


def test_acnsim_batteries_and_ticks_are_acnportals_replay(tmp_path):
    acndata = pytest.importorskip("acnportal.acnsim.events.acndata_events")
    data = trace_scenario(write_sessions(tmp_path / "s.csv"), trace_battery="acnsim")
    sc = Scenario(load_scenario(data))
    ev = sc.sample_episode(np.random.default_rng(0), DAY)[2]
    start = sc.arrivals.sessions["arrival"].iloc[0].normalize()  # local midnight of DAY
    offset = acndata._datetime_to_timestamp(start.to_pydatetime(), 15)
    for e, s in enumerate(sc.arrivals.sessions.iloc[sc.arrivals.rows(start)].itertuples()):
        document = {
            "connectionTime": s.arrival.to_pydatetime(),
            "disconnectTime": s.departure.to_pydatetime(),
            "kWhDelivered": s.energy_delivered_kwh, "sessionID": s.session_id,
            "spaceID": s.station_id,
        }  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = acndata._convert_to_ev(document, offset, 15, 208.0, 6.656)
        assert ev[L.EV_ARRIVAL, e] == theirs.arrival
        # ACN-Sim keeps a stay within one period (it later rejects it) and runs past
        # midnight; the env gives such a stay one tick and ends the episode at midnight
        assert ev[L.EV_DEPARTURE, e] == min(max(theirs.departure, theirs.arrival + 1), 96)
        battery = theirs._battery
        assert ev[L.EV_BATTERY_KWH, e] == battery._capacity == s.energy_delivered_kwh
        assert ev[L.EV_SOC_ARRIVAL, e] * ev[L.EV_BATTERY_KWH, e] == battery._init_charge == 0
        assert ev[L.EV_SOC_TARGET, e] == 1.0
    # no power limit of its own: its charger's rating limits it (the largest here, 50 kW)
    assert (ev[L.EV_MAX_AC_KW] == 50.0).all() and (ev[L.EV_MAX_DC_KW] == 50.0).all()


def test_acnsim_battery_of_a_session_without_demand_arrives_full(tmp_path):
    data = trace_scenario(
        write_sessions(tmp_path / "s.csv"), trace_battery="acnsim", trace_demand="requested"
    )
    ev = episode_evs(data)
    # the ZZ-9 session requested 0 kWh: a 1 kWh battery, full
    assert ev[L.EV_BATTERY_KWH, 3] == 1.0
    assert ev[L.EV_SOC_ARRIVAL, 3] == ev[L.EV_SOC_TARGET, 3] == 1.0


@pytest.mark.parametrize("demand", ["delivered", "requested"])
def test_fleet_batteries_hold_the_demand_below_the_target(tmp_path, demand):
    data = trace_scenario(write_sessions(tmp_path / "s.csv"), trace_demand=demand)
    ev = episode_evs(data, seed=3)
    energy = np.array([row[2 if demand == "requested" else 3] for row in SESSIONS[:5]])
    low, high = load_scenario(data).evs.soc_target
    battery, arrival, target = ev[L.EV_BATTERY_KWH], ev[L.EV_SOC_ARRIVAL], ev[L.EV_SOC_TARGET]
    assert ((target >= low) & (target <= high)).all()
    assert (battery >= energy / low - 1e-12).all()
    np.testing.assert_allclose((target - arrival) * battery, energy, rtol=1e-12, atol=1e-12)


def test_sessions_keep_their_local_clock_time_in_any_scenario_time_zone(tmp_path):
    # the same sessions recorded at a site in Amsterdam (UTC+2 in June), replayed in a
    # scenario on Los Angeles time: they arrive at the same hours of the local day
    path = write_sessions(tmp_path / "ams.csv", offset="+02:00")
    data = trace_scenario(path) | {"name": "ams"}
    data["evs"]["sessions_timezone"] = "Europe/Amsterdam"
    ev = episode_evs(data)
    np.testing.assert_array_equal(ev[L.EV_ARRIVAL], ARRIVAL)
    np.testing.assert_array_equal(ev[L.EV_DEPARTURE], DEPARTURE)
    # read as Los Angeles times instead, the clock is 9 hours earlier: 08:10 at the site is
    # 23:10 on 2 June (out of the day); 09:01 -> 00:01 (tick 0, one tick), 09:10-10:00 ->
    # 0-4, 11:00-12:29:59 -> 8-13, 22:00-07:00 -> 52-88, and the next day's 08:00-09:00 ->
    # 23:00-00:00 on DAY, 92-96
    data["evs"]["sessions_timezone"] = "America/Los_Angeles"
    shifted = episode_evs(data)
    np.testing.assert_array_equal(shifted[L.EV_ARRIVAL], [0, 0, 8, 52, 92])
    np.testing.assert_array_equal(shifted[L.EV_DEPARTURE], [1, 4, 13, 88, 96])


def test_a_split_without_sessions_is_reported_when_drawn_from(tmp_path):
    data = trace_scenario(write_sessions(tmp_path / "s.csv"))
    data["calendar"]["splits"] = {"train": ["2019-06-03", "2019-06-03"],
                                  "empty": ["2019-06-10", "2019-06-20"]}  # fmt: skip
    env = EVGridEnv(data)  # a date or another split still works
    assert env.reset(seed=0, options={"split": "train"})[1]["date"] == "2019-06-03"
    with pytest.raises(ScenarioError, match=r"calendar\.splits\.empty: \[2019-06-10, 2019-06-20\] "
                       "holds no day with sessions"):  # fmt: skip
        env.reset(seed=0, options={"split": "empty"})
    data["calendar"]["split"] = "empty"
    env = EVGridEnv(data)
    assert env.reset(seed=0, options={"date": "2019-06-03"})[1]["date"] == "2019-06-03"
    with pytest.raises(ScenarioError, match=r"calendar\.splits\.empty"):
        env.reset(seed=0)


def test_own_sessions_replay_in_caltech_acn_on_a_given_date(tmp_path, capsys):
    from evgrid_gym.cli import main

    # the file has sessions on 3 and 4 June 2019 only, two days of caltech_acn's train split
    path = write_sessions(tmp_path / "own.csv")
    args = ["simulate", "--scenario", "caltech_acn", "--sessions", str(path), "--policy", "edf"]
    assert main(args) == 0
    assert capsys.readouterr().out.split(" from ")[1][:10] in ("2019-06-03", "2019-06-04")
    assert main([*args, "--split", "test"]) == 2
    assert "calendar.splits.test: [2019-12-01, 2020-03-08] holds no day" in capsys.readouterr().err
    assert main([*args, "--split", "test", "--date", "2019-06-03"]) == 0
