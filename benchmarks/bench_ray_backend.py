"""Speed-up of ``evgrid-gym benchmark --backend ray`` over the serial backend.

Runs the same benchmark (by default the planners, whose solves are what costs, on
``default``) serially and as Ray tasks on a local Ray of 1 and 2 workers, alternating, best
of ``--repeats``; Ray's start-up is timed apart (it is paid once per command). Checks that
every run gives the serial rows. Needs the ``ray`` extra.

    python benchmarks/bench_ray_backend.py [--policies optimal,mpc] [--episodes 4]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from baselines.benchmark import policy_factories, run_benchmark
from evgrid_gym.cluster import ray_session

try:
    from bench_step import cpu_name
except ImportError:  # run from the repository root
    from benchmarks.bench_step import cpu_name


def _timed(scenario: str, names: list[str], episodes: int, backend: str):
    start = time.perf_counter()
    results = run_benchmark(scenario, policy_factories(names), episodes, progress=False,
                            backend=backend)  # fmt: skip
    return time.perf_counter() - start, results.drop(columns="wall_time_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--policies", default="optimal,mpc")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = args.policies.split(",")
    print(f"CPU: {cpu_name()}; {args.scenario}, {args.policies}, {args.episodes} episodes each\n")
    serial_s, serial = _timed(args.scenario, names, args.episodes, "serial")  # warm
    best = {"serial": serial_s}
    for workers in (1, 2):
        start = time.perf_counter()
        with ray_session(None, workers):
            startup_s = time.perf_counter() - start
            _timed(args.scenario, names, args.episodes, "ray")  # workers load the kernels
            best[workers] = float("inf")
            for _ in range(args.repeats):
                seconds, serial_run = _timed(args.scenario, names, args.episodes, "serial")
                best["serial"] = min(best["serial"], seconds)
                seconds, fanned = _timed(args.scenario, names, args.episodes, "ray")
                best[workers] = min(best[workers], seconds)
                pd.testing.assert_frame_equal(fanned, serial)
        print(f"Ray start-up with {workers} worker(s): {startup_s:.1f} s")
    print("\n| backend | wall time (s) | speed-up |\n|---|---:|---:|")
    print(f"| serial | {best['serial']:.2f} | 1.00 |")
    for workers in (1, 2):
        print(f"| ray, {workers} local worker(s) | {best[workers]:.2f} | "
              f"{best['serial'] / best[workers]:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
