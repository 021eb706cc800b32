"""Golden trajectories: the same seed and actions give the same episode as when they were
recorded (``tests/data/golden_<scenario>.npz``), step for step, for ``default``,
``caltech_acn`` and ``scenario2_high_demand``: observations, rewards and episode totals.

They guard refactors of the core (a change of dynamics is deliberate: bump the env's version
and record them again with ``python tests/test_golden.py``). KPIs registered after a recording
come last in the registry (``core.layout``); the recorded totals are compared with the first
ones, the new ones have their own tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evgrid_gym.envs import EVGridEnv

DATA = Path(__file__).parent / "data"
SCENARIOS = ("default", "caltech_acn", "scenario2_high_demand")
SEED = 7


def record(scenario: str) -> dict[str, np.ndarray]:
    """One episode of ``scenario`` seeded ``SEED`` under uniform random actions (a generator
    seeded ``SEED``): every observation, reward and the episode's KPI totals."""
    env = EVGridEnv(scenario)
    rng = np.random.default_rng(SEED)
    observation, _ = env.reset(seed=SEED)
    observations, rewards, done = [observation], [], False
    while not done:
        action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
        observation, reward, done, _, _ = env.step(action)
        observations.append(observation)
        rewards.append(reward)
    return {
        "observations": np.array(observations),
        "rewards": np.array(rewards),
        "kpi_total": np.array(env.kpi_total),
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_seed_same_trajectory(scenario):
    want = np.load(DATA / f"golden_{scenario}.npz")
    got = record(scenario)
    got["kpi_total"] = got["kpi_total"][: want["kpi_total"].shape[0]]
    for key in ("observations", "rewards", "kpi_total"):
        assert got[key].shape == want[key].shape, key
        assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12, err_msg=key)


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    for name in SCENARIOS:
        np.savez_compressed(DATA / f"golden_{name}.npz", **record(name))
        print(f"recorded {DATA / f'golden_{name}.npz'}")
