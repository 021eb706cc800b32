"""Reference heuristics: ``uncontrolled`` (as fast as possible) and ``random``."""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines.policy import Policy
from evgrid_gym.scenario import Scenario


class Uncontrolled:
    """Every connector asks for its full rated power; station batteries stay idle.

    The env's projection then cuts this to the EV, charger, station and feeder limits, so
    this is ACN-Sim's "uncontrolled charging" under a hard-limited grid.
    """

    def __init__(self, scenario: Scenario):
        self._action = np.zeros(scenario.n_actions, dtype=np.float32)
        self._action[: scenario.n_connectors] = 1.0

    perfect_foresight = False

    def reset(self, seed: int | None = None, plan=None) -> None:
        pass

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return self._action.copy()


class RandomPolicy:
    """Uniform random actions in [-1, 1] from its own seeded generator."""

    def __init__(self, scenario: Scenario):
        self._n = scenario.n_actions
        self._rng = np.random.default_rng()

    perfect_foresight = False

    def reset(self, seed: int | None = None, plan=None) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, self._n).astype(np.float32)


POLICIES = {"uncontrolled": Uncontrolled, "random": RandomPolicy}


def make_policy(name: str, scenario: Scenario) -> Policy:
    """Builds the policy ``name`` for ``scenario``.

    Raises:
        ValueError: unknown policy name (the message lists the known ones).
    """
    if name not in POLICIES:
        raise ValueError(f"policy: got {name!r}; must be one of {sorted(POLICIES)}")
    return POLICIES[name](scenario)
