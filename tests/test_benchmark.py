"""The benchmark runner: solver status, the optimality gap as a range for an unproven optimum."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from baselines import POLICIES
from baselines.benchmark import RESULT_COLUMNS, _optimality_gaps, run_benchmark, summary


def _results(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).reindex(columns=list(RESULT_COLUMNS))


# episode 0: the optimum stopped at its time limit, MIP gap 2 %: the true optimum lies in
# [100, 102]; episode 1: proven (50)
RESULTS = _results(
    [
        {"policy": "optimal", "episode": 0, "reward": 100.0,
         "solver_status": "time_limit_feasible", "mip_gap": 0.02},
        {"policy": "optimal", "episode": 1, "reward": 50.0, "solver_status": "optimal",
         "mip_gap": 1e-9},
        {"policy": "edf", "episode": 0, "reward": 80.0},
        {"policy": "edf", "episode": 1, "reward": 45.0},
    ]
)  # fmt: skip


def test_unproven_optimum_gives_each_gap_as_a_range():
    low, high = _optimality_gaps(RESULTS)
    # by hand: (100 - R) / 100 and (102 - R) / 102; episode 1 proven: both (50 - R) / 50
    np.testing.assert_allclose(low, [0.0, 0.0, 0.2, 0.1])
    np.testing.assert_allclose(high, [2 / 102, 0.0, 22 / 102, 0.1])


def test_summary_marks_the_unproven_optimum_and_shows_bounds():
    results = RESULTS.copy()
    results["optimality_gap"], results["optimality_gap_at_bound"] = _optimality_gaps(results)
    table = summary(results)
    assert table.loc["optimal", "solver"] == "1/2 optimal; time_limit_feasible, MIP gap <= 2.0 %"
    assert table.loc["edf", "solver"] == ""
    # means 0 and (2/102 + 0)/2 = 0.98 %; 15 % and (21.57 + 10)/2 = 15.78 %, rounded outwards
    assert table.loc["optimal", "optimality_gap"] == "<= 1.0 %"
    assert table.loc["edf", "optimality_gap"] == "15.0-15.8 %"


def test_proven_optimum_gives_plain_gaps_and_no_schedule_none():
    results = RESULTS.copy()
    results.loc[0, ["solver_status", "mip_gap"]] = ["optimal", 0.0]
    results["optimality_gap"], results["optimality_gap_at_bound"] = _optimality_gaps(results)
    table = summary(results)
    assert table.loc["edf", "optimality_gap"] == "15.0 %"
    assert table.loc["optimal", "solver"] == "optimal"
    results.loc[0, "solver_status"] = "time_limit"  # no schedule: the replay idled
    results["optimality_gap"], results["optimality_gap_at_bound"] = _optimality_gaps(results)
    assert summary(results).loc["edf", "optimality_gap"] == "n/a"


def test_a_solver_stopped_by_its_time_limit_is_reported():
    policies = {
        "uncontrolled": POLICIES["uncontrolled"],
        "optimal": functools.partial(POLICIES["optimal"], time_limit_s=1e-6),
    }
    with pytest.warns(RuntimeWarning, match="no schedule"):
        results = run_benchmark("electra_station", policies, episodes=1, progress=False)
    by_policy = results.set_index("policy")
    assert by_policy.loc["optimal", "solver_status"] == "time_limit"  # in 1 us: no schedule
    assert pd.isna(by_policy.loc["uncontrolled", "solver_status"])
    table = summary(results)
    assert table.loc["optimal", "solver"] == "0/1 optimal; time_limit"
    assert table.loc["uncontrolled", "optimality_gap"] == "n/a"  # no optimum to compare with
