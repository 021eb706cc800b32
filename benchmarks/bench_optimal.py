"""Size and speed of the perfect-foresight optimum (``baselines/optimal/``).

For each case: the Pyomo model's size (variables, constraints, binaries; fixed variables
excluded), the build time, the solve time (Pyomo -> HiGHS transfer plus HiGHS, all rounds:
the MILP, then LP polish of the CC-CV chords), the status, the reward, and the gap between
the reward of the schedule replayed through the env and the model's objective. Cases: the
busiest ``caltech_acn`` day and a seeded one (54 connectors x 96 ticks), ``default`` (V2G; an
LP but for its EVs that arrive below the V2G floor), ``electra_station``, and the default
community scaled to
``--connectors`` (``bench_step.scaled_scenario``: stations of 10 chargers x 2 connectors).
Targets: a ``caltech_acn`` day, build included, <= 10 s; 200 connectors <= 60 s.

    python benchmarks/bench_optimal.py [--connectors 200 1000] [--time-limit 600]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import gymnasium as gym
import numpy as np

import evgrid_gym
from baselines.optimal import build_model, solve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_step import cpu_name, scaled_scenario  # noqa: E402

CALTECH_BUSIEST_DAY = "2019-05-13"  # 46 sessions, 1,205 plugged EV-ticks


def run_case(label: str, scenario, seed: int, date: str | None, time_limit_s: float) -> dict:
    """Builds, solves and replays one episode; returns one table row."""
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario)
    options = {"date": date} if date else None
    env.reset(seed=seed, options=options)
    plan = env.unwrapped.episode_plan()
    start = time.perf_counter()
    model = build_model(env.unwrapped.scenario, plan)
    schedule = solve(model, time_limit_s)
    total_s = time.perf_counter() - start
    replay = float("nan")
    if schedule.ok:
        env.reset(seed=seed, options=options)
        replay = sum(env.step(action)[1] for action in schedule.actions)
    return {
        "case": label,
        "day": plan.date,
        "connectors": env.unwrapped.scenario.n_connectors,
        "ev_ticks": int((plan.connector_ev >= 0).sum()),
        "variables": schedule.n_variables,
        "constraints": schedule.n_constraints,
        "binaries": schedule.n_binaries,
        "build_s": schedule.build_s,
        "solve_s": schedule.solve_s,
        "total_s": total_s,
        "rounds": schedule.rounds,
        "status": schedule.status,
        "gap": schedule.mip_gap,
        "reward": schedule.objective,
        "replay_gap": replay - schedule.objective,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, nargs="*", default=[200],
                        help="scaled default communities to add (connectors)")  # fmt: skip
    parser.add_argument("--time-limit", type=float, default=600.0, help="per case, s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), "
          f"Python {platform.python_version()}, evgrid_gym {evgrid_gym.__version__}")  # fmt: skip
    # compile / load the numba kernels and import HiGHS outside the timings
    run_case("warm-up", "electra_station", args.seed, None, args.time_limit)
    cases = [
        ("caltech_acn, busiest day", "caltech_acn", CALTECH_BUSIEST_DAY),
        (f"caltech_acn, seed {args.seed}", "caltech_acn", None),
        (f"default, seed {args.seed}", "default", None),
        (f"electra_station, seed {args.seed}", "electra_station", None),
    ]
    cases += [(f"scaled default, seed {args.seed}", scaled_scenario(n), None)
              for n in args.connectors]  # fmt: skip
    print(
        "\n| case | day | connectors | EV-ticks | variables | constraints | binaries | "
        "build (s) | solve (s) | total (s) | rounds | status | MIP gap | reward (EUR) | "
        "replay - objective |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for label, scenario, date in cases:
        r = run_case(label, scenario, args.seed, date, args.time_limit)
        print(f"| {r['case']} | {r['day']} | {r['connectors']} | {r['ev_ticks']:,} | "
              f"{r['variables']:,} | {r['constraints']:,} | {r['binaries']:,} | "
              f"{r['build_s']:.2f} | {r['solve_s']:.2f} | {r['total_s']:.2f} | {r['rounds']} | "
              f"{r['status']} | {r['gap']:.1e} | {r['reward']:.2f} | "
              f"{r['replay_gap']:.1e} |", flush=True)  # fmt: skip
    if not np.isfinite(r["reward"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
