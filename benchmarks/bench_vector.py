"""Speed of the native vector env and of SB3 PPO training on it.

1. ``EVGridVectorEnv`` env-steps/s for N = 1, 64 and 1,024 copies of a scenario with random
   actions (autoresets included); the numba compile / cache load of the first step is timed
   separately.
2. SB3 PPO training steps/s on the same scenario: the native vector env through
   :class:`~evgrid_gym.rl.sb3_vec_env.SB3VecEnv` versus SB3's ``SubprocVecEnv`` of single
   envs (one process per env), with the same number of envs and PPO settings.

    python benchmarks/bench_vector.py [--scenario default] [--ppo-steps 16384]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from bench_step import cpu_name

import evgrid_gym
from evgrid_gym import EVGridEnv, EVGridVectorEnv

SIZES = (1, 64, 1024)
REPEATS = 5  # best of: on a shared machine the fastest run is the least disturbed one


def vector_steps_per_second(scenario: str, n: int, min_env_steps: int) -> tuple[float, float]:
    """``(first step s, env-steps/s)`` of N copies with random actions (best of REPEATS runs)."""
    env = EVGridVectorEnv(n, scenario)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (8, *env.action_space.shape))
    actions = actions.astype(np.float32)
    start = time.perf_counter()
    env.step(actions[0])
    first_s = time.perf_counter() - start
    batch_steps = max(min_env_steps // n, 200)
    best = 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        for k in range(batch_steps):
            env.step(actions[k % 8])
        best = max(best, batch_steps * n / (time.perf_counter() - start))
    return first_s, best


def ppo_steps_per_second(scenario: str, n_envs: int, steps: int, native: bool) -> float:
    """SB3 PPO ``learn`` steps/s with ``n_envs`` envs (native vector env or SubprocVecEnv)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecMonitor, VecNormalize

    from evgrid_gym.rl.sb3_vec_env import SB3VecEnv

    if native:
        venv = SB3VecEnv(EVGridVectorEnv(n_envs, scenario))
    else:
        venv = SubprocVecEnv([lambda: EVGridEnv(scenario) for _ in range(n_envs)])
    venv = VecNormalize(VecMonitor(venv))
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, seed=0, device="cpu")
    model.learn(128 * n_envs)  # warm-up: compile, fork
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    rate = steps / (time.perf_counter() - start)
    venv.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--env-steps", type=int, default=400_000, help="env-steps per size")
    parser.add_argument("--ppo-steps", type=int, default=16_384)
    parser.add_argument("--ppo-envs", type=int, default=16)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), "
          f"Python {platform.python_version()}, evgrid_gym {evgrid_gym.__version__}, "
          f"scenario {args.scenario}\n")  # fmt: skip
    print("| copies N | first step (s) | env-steps/s |")
    print("|---:|---:|---:|")
    for n in SIZES:
        first_s, rate = vector_steps_per_second(args.scenario, n, args.env_steps)
        print(f"| {n} | {first_s:.2f} | {rate:,.0f} |")
    print(f"\nSB3 PPO, {args.ppo_envs} envs, {args.ppo_steps} steps (n_steps=128, batch 256):\n")
    print("| vectorisation | training steps/s |")
    print("|---|---:|")
    for label, native in (("native EVGridVectorEnv", True), ("SB3 SubprocVecEnv", False)):
        rate = ppo_steps_per_second(args.scenario, args.ppo_envs, args.ppo_steps, native)
        print(f"| {label} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
