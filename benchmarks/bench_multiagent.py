"""Speed of the stations as agents: the PettingZoo parallel env against the single env, and
RLlib's env runners sampling it.

1. Steps/s of ``evgrid_gym.parallel_env`` (all agents acting, random actions, resets
   included) against ``EVGridEnv`` on the same scenario, alternating runs, best of
   ``--repeats`` (goal: the parallel env at >= 50 % of the single env's speed).
2. (with the ``ray`` extra) RLlib env-runner throughput: env steps/s that 1 and 2 env runners
   (Ray actors, PPO's untrained policy acting, ``--envs-per-runner`` envs each) sample
   together, best of ``--repeats``; ``--ppo-steps 0`` skips it. The policy's forward pass is
   part of each step.

    python benchmarks/bench_multiagent.py [--steps 20000] [--repeats 5] [--ppo-steps 4000]
        [--envs-per-runner 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import evgrid_gym
from evgrid_gym import EVGridEnv
from evgrid_gym.cluster import INSTALL

try:
    from bench_step import cpu_name, scaled_scenario
except ImportError:  # run from the repository root
    from benchmarks.bench_step import cpu_name, scaled_scenario


def _single_steps_per_s(env: EVGridEnv, n_steps: int) -> float:
    actions = np.random.default_rng(0).uniform(-1, 1, (256, env.action_space.shape[0]))
    actions = actions.astype(np.float32)
    env.reset(seed=0)
    start = time.perf_counter()
    for i in range(n_steps):
        if env.step(actions[i & 255])[2]:
            env.reset()
    return n_steps / (time.perf_counter() - start)


def _parallel_steps_per_s(env, n_steps: int) -> float:
    rng = np.random.default_rng(0)
    shape = env.station_view.action_space.shape
    actions = [
        {a: rng.uniform(-1, 1, shape).astype(np.float32) for a in env.possible_agents}
        for _ in range(256)
    ]
    env.reset(seed=0)
    start = time.perf_counter()
    for i in range(n_steps):
        env.step(actions[i & 255])
        if not env.agents:
            env.reset()
    return n_steps / (time.perf_counter() - start)


def parallel_against_single(scenario, n_steps: int, repeats: int) -> tuple[float, float]:
    """Best steps/s of the single env and of the parallel env, runs alternating."""
    single = EVGridEnv(scenario)
    parallel = evgrid_gym.parallel_env(scenario=scenario)
    _single_steps_per_s(single, 200), _parallel_steps_per_s(parallel, 200)  # warm
    best_single = best_parallel = 0.0
    for _ in range(repeats):
        best_single = max(best_single, _single_steps_per_s(single, n_steps))
        best_parallel = max(best_parallel, _parallel_steps_per_s(parallel, n_steps))
    return best_single, best_parallel


def env_runner_throughput(
    runners: int, steps_per_runner: int, repeats: int, envs_per_runner: int
) -> float:
    """Env steps/s that ``runners`` RLlib env runners (each stepping ``envs_per_runner``
    envs) sample together on ``default`` (stations as agents), best of ``repeats``; each
    runner samples ``steps_per_runner`` env steps."""
    from evgrid_gym.cluster import ray_session
    from evgrid_gym.config import load_scenario
    from evgrid_gym.rl.rllib import ppo_config

    with ray_session(None, runners + 1):
        ppo = ppo_config(load_scenario("default"), "station", runners)
        algo = ppo.env_runners(num_envs_per_env_runner=envs_per_runner).build_algo()
        group = algo.env_runner_group

        def sample(runner):
            return sum(len(e) for e in runner.sample(num_timesteps=steps_per_runner))

        group.foreach_env_runner(sample, local_env_runner=False)  # warm
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            steps = sum(group.foreach_env_runner(sample, local_env_runner=False))
            best = max(best, steps / (time.perf_counter() - start))
        algo.stop()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ppo-steps", type=int, default=4_000,
                        help="env steps per runner and repeat; 0 skips RLlib")  # fmt: skip
    parser.add_argument("--envs-per-runner", type=int, default=8,
                        help="envs each RLlib env runner steps (evgrid-gym train: 8)")  # fmt: skip
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}\n")
    print("| scenario | stations | connectors | single env steps/s | parallel env steps/s "
          "| share |\n|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for name, scenario in (("default", "default"), ("electra_station", "electra_station"),
                           ("100 connectors", scaled_scenario(100))):  # fmt: skip
        env = EVGridEnv(scenario)
        single, parallel = parallel_against_single(scenario, args.steps, args.repeats)
        print(f"| {name} | {env.scenario.n_stations} | {env.scenario.n_connectors} | "
              f"{single:,.0f} | {parallel:,.0f} | {parallel / single:.0%} |")  # fmt: skip
    if args.ppo_steps <= 0:
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        print(f"\n(RLlib throughput skipped: {INSTALL})")
        return
    print("\n| RLlib env runners | env steps/s (default, stations as agents) | per runner |")
    print("|---:|---:|---:|")
    for runners in (1, 2):
        rate = env_runner_throughput(runners, args.ppo_steps, args.repeats, args.envs_per_runner)
        print(f"| {runners} | {rate:,.0f} | {rate / runners:,.0f} |")


if __name__ == "__main__":
    main()
