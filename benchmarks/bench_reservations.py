"""Cost of reservations and faults: single-env steps/s of a scenario with both off and on.

The scenario (``default`` unless ``--scenario``) is run as configured with reservations and
faults switched off, and with reservations on (defaults of ``ReservationConfig``) and the
fault rates of ``scenario1_normal``; random actions, resets included, best of 5 runs taken
alternately so that both see the same machine load. Compile time is excluded (one warm-up
episode each) and printed separately. Target (issue 5): "on" within 20 % of "off".

    python benchmarks/bench_reservations.py [--scenario default] [--steps 50000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from bench_step import cpu_name, steps_per_second

import evgrid_gym
from evgrid_gym import EVGridEnv
from evgrid_gym.config import load_scenario


def variants(scenario: str) -> dict[str, dict]:
    """``off`` and ``on`` configs of ``scenario``."""
    config = load_scenario(scenario).model_dump(mode="json")
    faults = load_scenario("scenario1_normal").faults.model_dump(mode="json")
    return {
        "off": config | {"reservation": {"enabled": False}, "faults": {}},
        "on": config | {"reservation": {"enabled": True}, "faults": faults},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--steps", type=int, default=50_000)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), "
          f"Python {platform.python_version()}, evgrid_gym {evgrid_gym.__version__}, "
          f"scenario {args.scenario}\n")  # fmt: skip
    envs = {}
    for name, config in variants(args.scenario).items():
        start = time.perf_counter()
        envs[name] = EVGridEnv(config)
        steps_per_second(envs[name], 96, repeats=1)  # compile / load the kernels
        print(f"{name}: construction + first episode {time.perf_counter() - start:.1f} s")
    best = dict.fromkeys(envs, 0.0)
    for _ in range(5):
        for name, env in envs.items():
            best[name] = max(best[name], steps_per_second(env, args.steps, repeats=1))
    print("\n| reservations + faults | steps/s |")
    print("|---|---:|")
    for name, rate in best.items():
        print(f"| {name} | {rate:,.0f} |")
    print(f"\n'on' runs at {best['on'] / best['off']:.1%} of 'off' (target >= 80 %)")


if __name__ == "__main__":
    main()
