"""Cost of real data: constructing ``caltech_acn`` (loading every file) and resetting to a
new real day.

Construction is timed in fresh processes (nothing cached in memory, numba's kernel cache warm);
resets cycle through different real days of the scenario.

    python benchmarks/bench_real_data.py [--scenario caltech_acn]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench_step import cpu_name

import evgrid_gym

_CONSTRUCT = """
import sys, time
import evgrid_gym
start = time.perf_counter()
evgrid_gym.EVGridEnv(sys.argv[1])
print(time.perf_counter() - start)
"""


def construct_s(scenario: str, repeats: int = 3) -> float:
    """Best construction time of ``repeats`` fresh processes (import excluded)."""
    runs = [
        float(subprocess.run([sys.executable, "-c", _CONSTRUCT, scenario], check=True,
                             capture_output=True, text=True).stdout.split()[-1])
        for _ in range(repeats)
    ]  # fmt: skip
    return min(runs)


def reset_ms(scenario: str, n: int = 500) -> tuple[float, int]:
    """Mean reset time over ``n`` seeds (each drawing a day) and the number of distinct days."""
    env = evgrid_gym.EVGridEnv(scenario)
    env.reset(seed=0)
    days = set()
    start = time.perf_counter()
    for seed in range(n):
        days.add(env.reset(seed=seed)[1]["date"])
    return (time.perf_counter() - start) / n * 1e3, len(days)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="caltech_acn")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), scenario {args.scenario}\n")
    mean_ms, days = reset_ms(args.scenario)
    print("| construction, data loading included (s) | reset to a new real day (ms) |")
    print("|---:|---:|")
    print(f"| {construct_s(args.scenario):.2f} | {mean_ms:.2f} ({days} distinct days) |")


if __name__ == "__main__":
    main()
