"""A/B speed of two (or more) checkouts of evgrid_gym, alternating in one run.

On a shared machine, figures taken minutes apart differ by more than most changes do; this
runs each checkout in its own process, one after the other, round after round, and keeps the
best of each. Per checkout and round: the single env (``gymnasium.make``, random actions,
resets included) on ``bench_step.py``'s scenarios of 20 and 100 connectors, and the native
vector env on ``default`` with 64 and 1,024 copies (env-steps/s). The kernels are compiled (or
loaded from the checkout's cache) before anything is timed.

    git worktree add --detach ../before <commit>
    python benchmarks/bench_ab.py ../before . [--rounds 5]

Every checkout is imported through ``PYTHONPATH`` with this interpreter, so the environment
must have the union of their dependencies. Both must register the env id ``--env-id``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import gymnasium as gym
import numpy as np
sys.path.insert(0, "benchmarks")
import evgrid_gym
from bench_step import scaled_scenario

env_id = sys.argv[1]
out, rng = {}, np.random.default_rng(0)
for n, steps in ((20, 40_000), (100, 20_000)):
    env = gym.make(env_id, scenario=scaled_scenario(n))
    env.reset(seed=0)
    actions = rng.uniform(-1, 1, (4096, env.action_space.shape[0])).astype(np.float32)
    for i in range(200):
        if env.step(actions[i])[2]:
            env.reset()
    start = time.perf_counter()
    for i in range(steps):
        if env.step(actions[i % 4096])[2]:
            env.reset()
    out[f"single env, {n} connectors"] = steps / (time.perf_counter() - start)
for n in (64, 1024):
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    actions = rng.uniform(-1, 1, (8, *envs.action_space.shape)).astype(np.float32)
    for i in range(20):
        envs.step(actions[i % 8])
    steps = 200_000 // n
    start = time.perf_counter()
    for i in range(steps):
        envs.step(actions[i % 8])
    out[f"vector env, N = {n}"] = steps * n / (time.perf_counter() - start)
print(json.dumps(out))
"""


def run_once(checkout: Path, env_id: str) -> dict[str, float]:
    """One round of ``checkout`` in a fresh process; its figures (steps/s).

    Raises:
        RuntimeError: the child failed (its stderr's tail in the message).
    """
    env = dict(os.environ, PYTHONPATH=str(checkout))
    child = [sys.executable, "-c", CHILD, env_id]
    result = subprocess.run(child, cwd=checkout, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{checkout}: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path, help="two or more checkout roots")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--env-id", default="evgrid_gym/EVGrid-v2")
    args = parser.parse_args()
    missing = [str(c) for c in args.checkouts if not (c / "evgrid_gym").is_dir()]
    if len(args.checkouts) < 2 or missing:
        parser.error(f"checkouts: need two or more evgrid_gym checkouts; not one: {missing}")
    best: dict[Path, dict[str, float]] = {c: {} for c in args.checkouts}
    for r in range(args.rounds):
        for checkout in args.checkouts:
            figures = run_once(checkout.resolve(), args.env_id)
            for key, value in figures.items():
                best[checkout][key] = max(best[checkout].get(key, 0.0), value)
            print(f"round {r}: {checkout}: " + ", ".join(f"{v:,.0f}" for v in figures.values()))
    keys = list(best[args.checkouts[0]])
    print(f"\nbest of {args.rounds} (steps/s)\n")
    print("| checkout | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for checkout, figures in best.items():
        print(f"| {checkout} | " + " | ".join(f"{figures[k]:,.0f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
