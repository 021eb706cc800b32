"""User archetypes (``evs.source: archetypes``, seed 004): validation, the population and its
identity over the days of an episode, plug-in frequency, weekday and weekend times, soc
carried from session to session, the ElaadNL distributions, the bundled archetypes and their
sources, and the archetype scenario in the vector env and the optimum."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
import reference as ref

from baselines.optimal import build_model, solve
from evgrid_gym.archetypes import population_split
from evgrid_gym.config import ScenarioError, load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.data.bundled import data_path
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.envs.vector_env import EVGridVectorEnv

THURSDAY = "2019-11-07"


def _normal(mean: float, std: float = 0.0) -> dict:
    return {"kind": "normal", "mean": mean, "std": std}


def _archetype(**fields) -> dict:
    """A commuter who plugs in every day at 18:00 and out at 07:30 (no spread)."""
    day = {"plug_in_h": _normal(18.0), "plug_out_h": _normal(7.5), "overnight": True}
    return {
        "name": "commuter", "share": 1.0, "days_per_week": 7, "weekday": day,
        "weekend": copy.deepcopy(day), "soc_plug_in": _normal(0.2), "soc_target": 0.9,
        "battery_kwh": 50.0, "max_charge_kw": 11.0,
    } | fields  # fmt: skip


def _scenario(archetypes: list[dict], population: int = 1, days: int = 2, **more) -> dict:
    """Stations ``home`` (4 one-connector 11 kW chargers, efficiency 1) and ``work`` (2 x 2
    connectors), episodes from Thursday 2019-11-07, pure constant-power charging."""
    charger = {"max_power_kw": 11.0, "efficiency": 1.0, "connectors": 1, "count": 4}
    return {
        "name": "users", "dt_h": 0.25, "episode_ticks": 96 * days,
        "calendar": {"date": THURSDAY},
        "grid": {"feeder_limit_kw": 1000.0},
        "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.2},
        "stations": [
            {"id": "home", "grid_capacity_kw": 100.0, "chargers": [charger]},
            {"id": "work", "grid_capacity_kw": 100.0,
             "chargers": [charger | {"connectors": 2, "count": 2}]},
        ],
        "evs": {"source": "archetypes", "archetypes": archetypes, "population": population},
        "battery": {"transition_soc": 1.0},
        "action": {"bess_control": False},
    } | more  # fmt: skip


def _sessions(scenario: dict, seed: int = 0) -> pd.DataFrame:
    """The episode's EV table as a frame, by user and arrival."""
    env = EVGridEnv(scenario)
    env.reset(seed=seed)
    ev = env.episode_plan().ev
    frame = pd.DataFrame({
        name: ev[field] for name, field in (
            ("arrival", L.EV_ARRIVAL), ("departure", L.EV_DEPARTURE), ("user", L.EV_USER),
            ("station", L.EV_STATION), ("connector", L.EV_CONNECTOR), ("soc", L.EV_SOC_ARRIVAL),
            ("target", L.EV_SOC_TARGET), ("battery", L.EV_BATTERY_KWH),
            ("max_kw", L.EV_MAX_AC_KW),
        )
    })  # fmt: skip
    frame["archetype"] = env.scenario.arrivals.archetypes_of(frame["user"].to_numpy())
    return frame.sort_values(["user", "arrival"], kind="stable").reset_index(drop=True)


# --- a user from session to session ----------------------------------------------------------


def test_a_user_arrives_with_what_its_last_session_left_less_its_driving():
    """Plugged in since the evening before (day -1), out at 07:30 (tick 30), in at 18:00
    (tick 72) and out the next morning (tick 126), in again at tick 168 until the episode's
    end. 10 kWh driven a day; 11 kW fills the 50 kWh battery to its 0.9 target each time:
    0.9 - 10 kWh x 42 ticks / 96 / 50 kWh = 0.8125."""
    got = _sessions(_scenario([_archetype(driving_kwh_per_day=10.0)]))
    assert got["arrival"].tolist() == [0, 72, 168]
    assert got["departure"].tolist() == [30, 126, 192]
    assert got["soc"].to_numpy() == pytest.approx([0.2, 0.8125, 0.8125])
    # at 2 kW it never gets there: 0.2 + 2 kW x 7.5 h / 50 kWh = 0.5, less the driving
    slow = _sessions(_scenario([_archetype(driving_kwh_per_day=10.0, max_charge_kw=2.0)]))
    assert slow["soc"].to_numpy() == pytest.approx([0.2, 0.4125, 0.8125])


def test_the_carried_soc_follows_the_exact_cc_cv_curve():
    """With a taper, the soc a session leaves is what the curve gives in the stay
    (tests/reference.py, stage by stage), at most the target."""
    archetype = _archetype(driving_kwh_per_day=10.0, max_charge_kw=3.0, soc_target=1.0)
    got = _sessions(_scenario([archetype], battery={"transition_soc": 0.5}))
    left = 0.2 + ref.charge_gain_kwh(0.2, 50.0, 3.0, 1.0, 0.5, 7.5) / 50.0
    assert got["soc"].iloc[1] == pytest.approx(left - 10.0 * 42 / 96 / 50.0, rel=1e-12)


def test_without_driving_every_plug_in_soc_is_drawn():
    got = _sessions(_scenario([_archetype(soc_plug_in=_normal(0.3))]))
    assert len(got) == 3 and (got["soc"] == 0.3).all()


def test_weekday_users_stay_away_on_weekends_and_plug_in_as_often_as_told():
    """A week from Thursday: with ``weekend: null`` five days a week means every weekday
    (Thursday, Friday, Monday, Tuesday, Wednesday: days 0, 1, 4, 5, 6), never Saturday or
    Sunday; 2.5 days a week is every other weekday on average."""
    every = _sessions(_scenario([_archetype(weekend=None, days_per_week=5)], 3, days=7))
    days = sorted(set((every.loc[every["arrival"] > 0, "arrival"] // 96).astype(int)))
    assert days == [0, 1, 4, 5, 6]
    some = _sessions(_scenario([_archetype(weekend=None, days_per_week=2.5)], 400, days=7))
    per_user_week = (some["arrival"] > 0).sum() / 400
    assert per_user_week == pytest.approx(2.5, abs=4 * np.sqrt(5 * 0.25 / 400))
    assert not ((some["arrival"] // 96).isin([2, 3]) & (some["arrival"] > 0)).any()


def test_weekends_have_their_own_times():
    weekend = {"plug_in_h": _normal(10.0), "stay_h": _normal(3.0)}
    got = _sessions(_scenario([_archetype(weekend=weekend)], days=4))
    saturday = got[(got["arrival"] >= 192) & (got["arrival"] < 288)]
    assert saturday["arrival"].tolist() == [192 + 40]
    assert saturday["departure"].tolist() == [192 + 40 + 12]  # a 3 h stay


def test_a_plug_out_before_the_plug_in_without_overnight_lasts_one_tick():
    day = {"plug_in_h": _normal(18.0), "plug_out_h": _normal(19.0, 0.0), "overnight": False}
    early = day | {"plug_out_h": _normal(21.0, 4.0)}  # some draws before 18:00
    got = _sessions(_scenario([_archetype(weekday=early, weekend=day)], 200, days=1))
    stays = got.loc[got["arrival"] > 0, "departure"] - got.loc[got["arrival"] > 0, "arrival"]
    assert stays.min() == 1 and (stays == 1).sum() > 10


def test_a_user_plugs_in_again_only_after_it_left():
    """30-hour stays from 18:00: the session of the day before ends at tick 96, so today's
    (tick 72) is skipped and tomorrow's (tick 168) is the next."""
    day = {"plug_in_h": _normal(18.0), "stay_h": _normal(30.0)}
    got = _sessions(_scenario([_archetype(weekday=day, weekend=day)]))
    assert got["arrival"].tolist() == [0, 168]
    assert got["departure"].tolist() == [96, 192]


def test_users_keep_their_station_connector_and_car():
    home = _archetype(name="home", share=0.5, stations=["home"])
    work = _archetype(name="work", share=0.5, stations=["work"], battery_kwh=60.0)
    got = _sessions(_scenario([home, work], population=6, days=3))
    by_user = got.groupby("user")
    for column in ("station", "connector", "battery", "archetype"):
        assert (by_user[column].nunique() == 1).all(), column
    users = by_user.first()
    assert users["archetype"].tolist() == ["home"] * 3 + ["work"] * 3
    assert users["station"].tolist() == [0.0] * 3 + [1.0] * 3
    assert users["connector"].tolist() == [0, 1, 2, 4, 5, 6]  # each station's in turn


def test_population_split_by_largest_remainder():
    assert population_split([0.4, 0.15, 0.15, 0.3], 40).tolist() == [16, 6, 6, 12]
    assert population_split([0.5, 0.5], 3).tolist() == [2, 1]
    assert population_split([1 / 3] * 3, 10).tolist() == [4, 3, 3]
    assert population_split([0.05, 0.95], 10).tolist() == [1, 9]


# --- the ElaadNL distributions ----------------------------------------------------------------


def _elaad(name: str) -> pd.DataFrame:
    path = data_path("elaad") / name
    return pd.read_csv(path, encoding="utf-8-sig")


def test_elaad_times_and_demand_follow_the_bundled_statistics():
    """Private weekday arrivals, connection times and energy demand, against the CSV files
    read here with pandas: the share of arrivals from 16:00 to 22:00, the median stay and the
    median demand (the user arrives that much below its target, at least at 0)."""
    elaad = {"kind": "elaad", "site": "private"}
    archetype = _archetype(weekday={"plug_in_h": elaad, "stay_h": elaad},
                           soc_plug_in=elaad, soc_target=1.0, battery_kwh=500.0)  # fmt: skip
    got = _sessions(_scenario([archetype], population=3000, days=1))
    day0 = got[got["arrival"] > 0]  # (day -1's sessions are plugged in at tick 0)
    arrivals = _elaad("distribution-of-arrival.csv")
    hours = np.arange(96) * 0.25
    share = arrivals.loc[(hours >= 16) & (hours < 22), "private"].sum() / 100.0
    evening = ((day0["arrival"] >= 64) & (day0["arrival"] < 88)).mean()
    assert evening == pytest.approx(share, abs=0.04)
    stays = _elaad("distribution-of-connection-time.csv").set_index(
        "Percentage of charging events"
    )["private"]  # the value k % of sessions exceed: k = 50 is the median
    uncut = day0[day0["departure"] < 96]
    assert ((uncut["departure"] - uncut["arrival"]) * 0.25).median() < stays[50] + 0.5
    demand = _elaad("distribution-of-energy-demand.csv").set_index("Percentage of charging events")[
        "private"
    ]
    assert ((1.0 - got["soc"]) * 500.0).median() == pytest.approx(demand[50], rel=0.1)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"battery_kwh": -5}, "evs.archetypes[0].battery_kwh: got -5; input should be greater"),
        ({"share": 0.9}, "archetypes[*].share: got [0.9], adding up to 0.9; must add up to 1"),
        ({"stations": ["nowhere"]},
         "evs.archetypes[0].stations[0]: got 'nowhere'; must be one of ['home', 'work']"),
        ({"weekday": {"plug_in_h": _normal(18.0), "plug_out_h": _normal(7.5)}},
         "evs.archetypes[0].weekday: plug_out_h (mean 7.5 h) is not after plug_in_h (mean 18 h)"),
        ({"soc_plug_in": {"kind": "normal", "mean": 0.2, "std": -1}},
         "evs.archetypes[0].soc_plug_in.normal.std: got -1; input should be greater than or"),
        ({"soc_plug_in": {"kind": "normal", "mean": 0.2, "spread": 1}},
         "soc_plug_in.normal.spread: unknown key; allowed keys here: ['kind', 'mean', 'std']"),
        ({"weekend": None}, "evs.archetypes[0]: days_per_week: got 7; must be at most 5 when"),
        ({"weekday": {"plug_in_h": _normal(18.0), "plug_out_h": {"kind": "elaad",
                                                                  "site": "private"}}},
         "plug_out_h: ElaadNL has no plug-out statistic; use stay_h"),
        ({"soc_plug_in": {"kind": "empirical", "edges": [0.0, 0.5, 2.0], "weights": [1, 1]}},
         "soc_plug_in.edges: got [0.0, 0.5, 2.0]; must lie within [0.0, 1.0]"),
    ],
)  # fmt: skip
def test_bad_archetypes_are_rejected_naming_the_field(change, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_scenario([_archetype(**change)]))
    assert message in str(err.value)


def test_a_bad_archetypes_file_is_named_with_the_field(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("archetypes:\n  - {name: a, share: 1.0}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(_scenario([]) | {"evs": {"source": "archetypes", "archetypes_file":
                                               str(path)}})  # fmt: skip
    assert f"evs.archetypes_file: {path}: archetypes[0].days_per_week: required" in str(err.value)
    with pytest.raises(ScenarioError, match="needs 'archetypes' or 'archetypes_file'"):
        load_scenario(_scenario([]))


# --- the bundled archetypes -------------------------------------------------------------------

BUNDLED_FILE = data_path("archetypes_residential")
SOURCES = ("[elaad]", "[fleet]", "[mea]", "[steady]", "[assumption]")


def test_every_number_of_the_bundled_archetypes_names_its_source():
    for number, line in enumerate(BUNDLED_FILE.read_text().splitlines(), start=1):
        body = line.split("#")[0]
        if re.search(r"(?<![\w.])\d", body) and "kind: elaad" not in body:
            comment = line.partition("#")[2]
            assert any(tag in comment for tag in SOURCES), f"line {number}: {line.strip()}"


def test_the_steady_driving_of_the_bundled_archetypes_matches_elaadnl():
    """``driving_kwh_per_day = days_per_week x median session energy / 7`` for the site its
    ElaadNL demand comes from."""
    demand = _elaad("distribution-of-energy-demand.csv").set_index("Percentage of charging events")
    config = load_scenario("residential_archetypes")
    for archetype in config.evs.resolved_archetypes():
        site = archetype.soc_plug_in.site
        want = archetype.days_per_week * demand.loc[50, site] / 7.0
        assert archetype.driving_kwh_per_day == pytest.approx(want, abs=0.05), archetype.name


# --- the vector env and the optimum -----------------------------------------------------------


def _one_day(name: str = "residential_archetypes") -> dict:
    data = load_scenario(name).model_dump(mode="json")
    return data | {"episode_ticks": 96}


def test_the_vector_env_draws_the_same_users_as_single_envs():
    scenario = _one_day()
    vec = EVGridVectorEnv(2, scenario)
    singles = [EVGridEnv(scenario) for _ in range(2)]
    obs, _ = vec.reset(seed=3)
    rng = np.random.default_rng(0)
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset(seed=3 + i)[0])
    for _ in range(60):
        actions = rng.uniform(0, 1, (2, *singles[0].action_space.shape)).astype(np.float32)
        obs, rewards, *_ = vec.step(actions)
        for i, env in enumerate(singles):
            single_obs, reward, *_ = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], single_obs)
            assert rewards[i] == reward


def test_the_optimum_plans_archetype_sessions_and_replays_exactly():
    env = EVGridEnv(_one_day())
    env.reset(seed=1)
    plan = env.episode_plan()
    assert (plan.ev[L.EV_USER] >= 0).all()
    schedule = solve(build_model(env.scenario, plan), 120, mip_rel_gap=1e-3)
    assert schedule.status == "optimal", schedule.message
    env.reset(seed=1)
    total, terminated, tick = 0.0, False, 0
    while not terminated:
        _, reward, terminated, _, _ = env.step(schedule.actions[tick])
        total += reward
        tick += 1
    assert total == pytest.approx(schedule.objective, abs=1e-3)
