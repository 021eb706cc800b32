"""Loophole policies against their honest counterparts: a reward that a trivial trick can win
measures the trick, not the policy.

- ``cycle at target``: ``uncontrolled``, but every EV already at its target soc is cycled by
  V2G, -1 and +1 on alternate ticks (under EVGrid-v1 this beat ``uncontrolled`` on 16 of 20
  ``default`` days: the tariff was paid per kWh at the connector, so every round trip paid
  the losses back with a margin).
- ``drain the BESS``: ``uncontrolled`` with every station battery discharging at full power
  (under v1 the stored energy had no value, so exporting it was free money on
  ``electra_station``).

Each is run beside ``uncontrolled`` on the same seeded days; the table gives the mean paired
difference (loophole - counterpart), its standard error and on how many days the loophole won.
``--degradation`` turns battery degradation on (``degradation: on``).

    python benchmarks/loopholes.py [--episodes 20] [--seed 2000000] [--degradation]
"""

from __future__ import annotations

import argparse

import numpy as np

from baselines.heuristics import Uncontrolled
from evgrid_gym.config import load_scenario
from evgrid_gym.envs import EVGridEnv


class CycleAtTarget(Uncontrolled):
    """``uncontrolled``; EVs at their target are discharged and recharged on alternate ticks."""

    def act(self, observation, info):
        action = super().act(observation, info)
        obs = self.scenario.unpack(observation)
        at_target = (obs.occupied > 0) & (obs.energy_needed_kwh < 1e-6)
        action[: self.n_connectors][at_target] = -1.0 if info["tick"] % 2 == 0 else 1.0
        return action


class DrainBess(Uncontrolled):
    """``uncontrolled`` with every station battery discharging at full power."""

    def act(self, observation, info):
        action = super().act(observation, info)
        action[self.n_connectors :] = -1.0
        return action


def episode_reward(env: EVGridEnv, policy, seed: int) -> float:
    observation, info = env.reset(seed=seed)
    policy.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        observation, reward, done, _, info = env.step(policy.act(observation, info))
        total += reward
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2_000_000)
    parser.add_argument("--degradation", action="store_true", help="battery degradation on")
    args = parser.parse_args()
    cases = [("default", CycleAtTarget), ("default", DrainBess), ("electra_station", DrainBess)]
    print(
        "| scenario | loophole | loophole (EUR) | uncontrolled (EUR) | difference (EUR) "
        "| standard error | loophole wins |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for scenario, loophole in cases:
        env = EVGridEnv(load_scenario(scenario).model_dump() | {"degradation": args.degradation})
        seeds = range(args.seed, args.seed + args.episodes)
        trick = np.array([episode_reward(env, loophole(env.scenario), s) for s in seeds])
        honest = np.array([episode_reward(env, Uncontrolled(env.scenario), s) for s in seeds])
        diff = trick - honest
        error = diff.std(ddof=1) / np.sqrt(len(diff))
        print(
            f"| {scenario} | {loophole.__name__} | {trick.mean():.2f} | {honest.mean():.2f} | "
            f"{diff.mean():+.2f} | {error:.2f} | {(diff > 0).sum()} of {len(diff)} |"
        )


if __name__ == "__main__":
    main()
