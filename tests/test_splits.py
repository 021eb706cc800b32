"""Named date splits (``calendar.splits``): validation, the days a reset draws from, the
reset option, the CLI's ``--split`` and its defaults, and the splits of ``caltech_acn``."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

from evgrid_gym.cli import main
from evgrid_gym.config import ScenarioError, load_scenario, with_split
from evgrid_gym.envs import EVGridEnv

SPLITS = {"train": ["2019-03-01", "2019-03-10"], "test": ["2019-03-20", "2019-03-22"]}


def _dates(env: EVGridEnv, seeds=range(40), **options) -> set[datetime.date]:
    return {
        datetime.date.fromisoformat(env.reset(seed=s, options=options)[1]["date"]) for s in seeds
    }


def _within(dates, first: str, last: str) -> bool:
    first, last = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
    return all(first <= d <= last for d in dates)


@pytest.fixture
def split_scenario(tiny_scenario):
    return tiny_scenario({"calendar.splits": SPLITS, "calendar.split": "train"})


def test_reset_draws_from_the_default_split_or_the_one_asked_for(split_scenario):
    env = EVGridEnv(split_scenario)
    train = _dates(env)
    assert _within(train, *SPLITS["train"]) and len(train) > 5  # all 10 days reachable
    assert _dates(env, split="test") == {datetime.date(2019, 3, d) for d in (20, 21, 22)}
    # a date beats the default split
    assert _dates(env, seeds=[0], date="2019-07-01") == {datetime.date(2019, 7, 1)}


def test_without_a_split_the_days_run_from_first_to_last_date(tiny_scenario):
    env = EVGridEnv(tiny_scenario({"calendar.splits": SPLITS}))
    dates = _dates(env, seeds=range(60))
    assert _within(dates, "2019-01-01", "2019-12-31")
    assert not _within(dates, *SPLITS["train"])


def test_bad_reset_options_name_the_problem(split_scenario):
    env = EVGridEnv(split_scenario)
    with pytest.raises(ValueError, match=r"split: got 'validation'; must be one of .*'test'"):
        env.reset(seed=0, options={"split": "validation"})
    with pytest.raises(ValueError, match="not both"):
        env.reset(seed=0, options={"split": "test", "date": "2019-03-20"})
    with pytest.raises(ValueError, match=r"unknown keys \['period'\]"):
        env.reset(seed=0, options={"period": "test"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"calendar.splits": {"a": ["2019-01-01", "2019-01-10"],
                              "b": ["2019-01-10", "2019-02-01"]}},
         r"calendar\.splits: 'a' \['2019-01-01', '2019-01-10'\] and 'b' .* overlap"),
        ({"calendar.splits": {"a": ["2019-02-01", "2019-01-01"]}},
         r"calendar\.splits\.a: got \[2019-02-01, 2019-01-01\]; must be \[first, last\]"),
        ({"calendar.splits": SPLITS, "calendar.split": "validation"},
         r"calendar\.split: got 'validation'; must be one of the splits \['test', 'train'\]"),
        ({"calendar.split": "train"},
         r"calendar\.split: got 'train'; must be one of the splits \[\]"),
    ],
)  # fmt: skip
def test_bad_splits_are_rejected_naming_the_field(tiny_scenario, overrides, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(tiny_scenario(overrides))


def test_with_split_checks_the_name(split_scenario):
    config = load_scenario(split_scenario)
    assert with_split(config, "test").calendar.split == "test"
    with pytest.raises(ScenarioError, match=r"split: got 'x'; scenario 'tiny' has the splits"):
        with_split(config, "x")
    with pytest.raises(ScenarioError, match="has no calendar.splits"):
        with_split(load_scenario("default"), "test")


# --- caltech_acn ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def caltech():
    return EVGridEnv("caltech_acn")


def test_caltech_splits_cover_typical_traffic_and_leave_out_the_pandemic(caltech):
    sc = caltech.scenario
    splits = sc.config.calendar.splits
    assert sc.config.calendar.split == "train"
    assert sorted(splits) == ["summer_2021", "test", "train", "validation"]
    # days with sessions per split, counted from the trace itself
    sessions = sc.arrivals.sessions
    arrival_days = pd.Series(sessions["arrival"].dt.date)
    for name, (first, last) in splits.items():
        days = sorted(set(arrival_days[(arrival_days >= first) & (arrival_days <= last)]))
        assert list(sc.split_days[name]) == days
    typical = [d for name in ("train", "validation", "test") for d in sc.split_days[name]]
    per_day = arrival_days.value_counts()
    assert per_day[typical].median() >= 30  # a weekday-dominated garage at full use
    gap = per_day[(per_day.index > datetime.date(2020, 3, 13))]
    gap = gap[gap.index < datetime.date(2021, 5, 1)]
    assert gap.max() <= 10 and all(d not in gap.index for d in typical)
    # the DC fast charger serves sessions only in summer 2021
    dc = arrival_days[sessions["station_id"] == "11900388"]
    assert set(dc) <= set(sc.split_days["summer_2021"])


def test_caltech_resets_draw_training_days_by_default(caltech):
    assert _within(_dates(caltech), *map(str, caltech.scenario.config.calendar.splits["train"]))


def test_cli_split_flag_and_its_errors(capsys):
    code = main(["simulate", "--scenario", "caltech_acn", "--split", "test", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0
    day = datetime.date.fromisoformat(out.split(" from ")[1].split()[0])
    assert datetime.date(2019, 12, 1) <= day <= datetime.date(2020, 3, 8)
    code = main(["simulate", "--scenario", "caltech_acn", "--split", "holidays"])
    err = capsys.readouterr().err
    assert code == 2 and "split: got 'holidays'" in err and "'validation'" in err
    assert main(["benchmark", "--scenario", "default", "--split", "test", "--episodes", "1"]) == 2
    assert "has no calendar.splits" in capsys.readouterr().err


def test_benchmark_reports_on_the_test_split_by_default(tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["benchmark", "--scenario", "caltech_acn", "--episodes", "2", "--policies", "edf"]
    assert main([*args, "--out", str(out)]) == 0
    assert "split test" in capsys.readouterr().out
    dates = pd.read_csv(out / "results.csv")["date"].map(datetime.date.fromisoformat)
    assert _within(dates, "2019-12-01", "2020-03-08")
    assert main([*args, "--out", str(out), "--split", "summer_2021"]) == 0
    dates = pd.read_csv(out / "results.csv")["date"].map(datetime.date.fromisoformat)
    assert _within(dates, "2021-05-01", "2021-08-31")
