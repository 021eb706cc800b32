"""Single-env speed of EVGrid-v2 through the full ``env.step`` API (``gymnasium.make``).

For scenarios of 20, 100 and 1,000 connectors: steps/s with random actions (episodes reset
when they end, so resets are included), mean ``reset`` time (data generation included), the
numba compile time (first reset + step with an empty cache, in a fresh process) and the cache
load time (same, with a warm cache), and the peak RSS of a process that runs one 20-connector
episode. Prints a Markdown table and the machine's CPU.

``--network``: instead, the cost of ``grid.network``: ``default_network`` (the default
community on the bundled 44-bus SimBench LV grid, hard limits) against the same scenario with
``grid.network: null``, timed alternately in one process (``--rounds`` rounds, best of each).

    python benchmarks/bench_step.py [--steps 100000] [--network [--rounds 3]]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import gymnasium as gym
import numpy as np

import evgrid_gym
from evgrid_gym.config import load_scenario

CONNECTORS = (20, 100, 1000)
CONNECTORS_PER_STATION = 20


def scaled_scenario(n_connectors: int) -> dict:
    """The default scenario with ``n_connectors / 20`` stations of 10 chargers x 2 connectors."""
    config = load_scenario("default").model_dump(mode="json")
    n_stations = max(n_connectors // CONNECTORS_PER_STATION, 1)
    station = config["stations"][0] | {
        "grid_capacity_kw": 150.0,
        "chargers": [{"max_power_kw": 11.0, "kind": "AC", "connectors": 2, "count": 10}],
    }
    config["name"] = f"bench_{n_connectors}"
    config["stations"] = [station | {"id": f"s{i}"} for i in range(n_stations)]
    config["grid"]["feeder_limit_kw"] = 100.0 * n_stations + 50.0
    config["evs"]["arrivals_per_station_per_day"] = 24.0
    return config


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def steps_per_second(env: gym.Env, n_steps: int, repeats: int = 3) -> float:
    """Best of ``repeats`` runs of ``n_steps`` random-action steps (resets included)."""
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (1024, env.action_space.shape[0])).astype(np.float32)
    best = 0.0
    for _ in range(repeats):
        env.reset(seed=0)
        start = time.perf_counter()
        for i in range(n_steps):
            _, _, terminated, truncated, _ = env.step(actions[i % 1024])
            if terminated or truncated:
                env.reset()
        best = max(best, n_steps / (time.perf_counter() - start))
    return best


def reset_ms(env: gym.Env, n: int = 300) -> float:
    start = time.perf_counter()
    for seed in range(n):
        env.reset(seed=seed)
    return (time.perf_counter() - start) / n * 1e3


_PROBE = """
import json, resource, sys, time
t0 = time.perf_counter()
import gymnasium as gym, numpy as np, evgrid_gym
t1 = time.perf_counter()
env = gym.make("evgrid_gym/EVGrid-v2", scenario=json.loads(sys.argv[1]))
t2 = time.perf_counter()
env.reset(seed=0)
env.step(np.zeros(env.action_space.shape, np.float32))
t3 = time.perf_counter()
done = False
while not done:
    done = env.step(env.action_space.sample())[2]
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"import_s": t1 - t0, "make_s": t2 - t1, "first_step_s": t3 - t2,
                  "peak_rss_mb": rss_mb}))
"""


def probe(scenario: dict, cache_dir: str) -> dict:
    """Runs one episode in a fresh process with numba's cache in ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(scenario)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def network_cost(n_steps: int, rounds: int) -> None:
    """Prints steps/s of ``default_network`` with and without its network, measured
    alternately (compile and cache loads outside the timing)."""
    with_network = load_scenario("default_network").model_dump(mode="json")
    without = with_network | {"grid": with_network["grid"] | {"network": None}}
    envs = {}
    for name, scenario in (("without network", without), ("with network", with_network)):
        envs[name] = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario)
        envs[name].reset(seed=0)
        envs[name].step(envs[name].action_space.sample())
    best = dict.fromkeys(envs, 0.0)
    print("| round | " + " | ".join(f"{name} (steps/s)" for name in envs) + " |")
    print("|---:|" + "---:|" * len(envs))
    for r in range(rounds):
        measured = {name: steps_per_second(env, n_steps, repeats=1) for name, env in envs.items()}
        best = {name: max(best[name], sps) for name, sps in measured.items()}
        print(f"| {r + 1} | " + " | ".join(f"{sps:,.0f}" for sps in measured.values()) + " |")
    ratio = best["with network"] / best["without network"]
    print("| best | " + " | ".join(f"{sps:,.0f}" for sps in best.values()) + " |")
    print(f"\nwith the network: {ratio:.0%} of the speed without it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps at 20 connectors")
    parser.add_argument("--network", action="store_true", help="the cost of grid.network")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (--network)")
    args = parser.parse_args()
    if args.network:
        network_cost(args.steps, args.rounds)
        return
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), "
          f"Python {platform.python_version()}, evgrid_gym {evgrid_gym.__version__}")  # fmt: skip
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = probe(scaled_scenario(20), cache_dir)
        warm = probe(scaled_scenario(20), cache_dir)
    print(f"numba compile (first reset + step, empty cache): {cold['first_step_s']:.1f} s; "
          f"with a warm cache: {warm['first_step_s'] * 1e3:.0f} ms; "
          f"peak RSS of a 20-connector episode: {warm['peak_rss_mb']:.0f} MB\n")  # fmt: skip
    print("| connectors | stations | steps/s | reset (ms) | obs size |")
    print("|---:|---:|---:|---:|---:|")
    for n_connectors in CONNECTORS:
        scenario = scaled_scenario(n_connectors)
        env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario)
        env.reset(seed=0)
        env.step(env.action_space.sample())  # compile / load outside the timing
        n_steps = max(args.steps * 20 // n_connectors, 5_000)
        sps = steps_per_second(env, n_steps)
        print(f"| {n_connectors} | {len(scenario['stations'])} | {sps:,.0f} | "
              f"{reset_ms(env):.2f} | {env.observation_space.shape[0]} |")  # fmt: skip


if __name__ == "__main__":
    main()
