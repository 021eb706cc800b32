"""Speed of the native vector env and of SB3 PPO training on it.

1. ``EVGridVectorEnv`` env-steps/s for N = 1, 64 and 1,024 copies of a scenario with random
   actions (autoresets included); the numba compile / cache load of the first step is timed
   separately. With ``--load K``, K busy processes (a Python loop each) run beside every
   second run: idle and loaded runs alternate in one process, and the table shows both and
   the loaded share of the idle throughput.
2. SB3 PPO training steps/s on the same scenario: the native vector env through
   :class:`~evgrid_gym.rl.sb3_vec_env.SB3VecEnv` versus SB3's ``SubprocVecEnv`` of single
   envs (one process per env), with the same number of envs and PPO settings, and PyTorch on
   one thread as in ``evgrid-gym train`` (``--ppo-steps 0`` skips it).

    python benchmarks/bench_vector.py [--scenario default] [--load K] [--ppo-steps 16384]

The threading layer numba runs on is printed (``tbb`` by default, see
:mod:`evgrid_gym.core.parallel`); ``NUMBA_THREADING_LAYER=omp`` measures OpenMP instead.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import time

import numba
import numpy as np
from bench_step import cpu_name

import evgrid_gym
from evgrid_gym import EVGridEnv, EVGridVectorEnv

SIZES = (1, 64, 1024)
REPEATS = 5  # best of: on a shared machine the fastest run is the least disturbed one


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy_processes(k: int):
    """``k`` processes that keep a core busy each while the block runs."""
    processes = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(k)]
    for process in processes:
        process.start()
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
            process.join()


def vector_steps_per_second(
    scenario: str, n: int, min_env_steps: int, load: int = 0
) -> tuple[float, float, float]:
    """``(first step s, idle env-steps/s, env-steps/s beside `load` busy processes)`` of N
    copies with random actions, each the best of REPEATS runs, idle and loaded alternating
    (the loaded figure is NaN without load)."""
    env = EVGridVectorEnv(n, scenario)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (8, *env.action_space.shape))
    actions = actions.astype(np.float32)
    start = time.perf_counter()
    env.step(actions[0])
    first_s = time.perf_counter() - start
    batch_steps = max(min_env_steps // n, 200)

    def rate() -> float:
        start = time.perf_counter()
        for k in range(batch_steps):
            env.step(actions[k % 8])
        return batch_steps * n / (time.perf_counter() - start)

    idle, loaded = 0.0, float("nan")
    for _ in range(REPEATS):
        idle = max(idle, rate())
        if load:
            with busy_processes(load):
                time.sleep(0.1)  # let them start
                loaded = max(0.0 if np.isnan(loaded) else loaded, rate())
    return first_s, idle, loaded


def ppo_steps_per_second(scenario: str, n_envs: int, steps: int, native: bool) -> float:
    """SB3 PPO ``learn`` steps/s with ``n_envs`` envs (native vector env or SubprocVecEnv)."""
    import torch
    from gymnasium.vector import AutoresetMode
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecMonitor, VecNormalize

    from evgrid_gym.rl.sb3_vec_env import SB3VecEnv

    if native:
        venv = SB3VecEnv(EVGridVectorEnv(n_envs, scenario, autoreset_mode=AutoresetMode.SAME_STEP))
    else:
        venv = SubprocVecEnv([lambda: EVGridEnv(scenario) for _ in range(n_envs)])
    venv = VecNormalize(VecMonitor(venv))
    torch.set_num_threads(1)  # as evgrid-gym train: the cores are the env kernel's
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
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the runs")
    parser.add_argument("--ppo-steps", type=int, default=16_384, help="0: no PPO")
    parser.add_argument("--ppo-envs", type=int, default=16)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), "
          f"Python {platform.python_version()}, evgrid_gym {evgrid_gym.__version__}, "
          f"scenario {args.scenario}\n")  # fmt: skip
    if args.load:
        print("| copies N | first step (s) | env-steps/s idle | "
              f"env-steps/s, {args.load} busy | share |\n|---:|---:|---:|---:|---:|")  # fmt: skip
    else:
        print("| copies N | first step (s) | env-steps/s |\n|---:|---:|---:|")
    for n in SIZES:
        first_s, idle, loaded = vector_steps_per_second(args.scenario, n, args.env_steps, args.load)
        row = f"| {n} | {first_s:.2f} | {idle:,.0f} |"
        print(row + (f" {loaded:,.0f} | {loaded / idle:.0%} |" if args.load else ""))
    print(f"\nnumba threading layer: {numba.threading_layer()}")
    if not args.ppo_steps:
        return
    print(f"\nSB3 PPO, {args.ppo_envs} envs, {args.ppo_steps} steps (n_steps=128, batch 256):\n")
    print("| vectorisation | training steps/s |")
    print("|---|---:|")
    for label, native in (("native EVGridVectorEnv", True), ("SB3 SubprocVecEnv", False)):
        rate = ppo_steps_per_second(args.scenario, args.ppo_envs, args.ppo_steps, native)
        print(f"| {label} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
