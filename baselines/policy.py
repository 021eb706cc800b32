"""The interface every baseline policy implements."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from evgrid_gym.envs.evgrid_env import EpisodePlan


class Policy(Protocol):
    """Maps what the env exposes publicly to an action of shape ``(scenario.n_actions,)``.

    A policy is built from a read-only :class:`evgrid_gym.Scenario` (topology, limits,
    tariffs) and sees, each tick, the observation and the last ``info``; it never touches
    env internals, so the same policy runs on the simulator or behind a station API.

    Attributes:
        perfect_foresight: True only for planners (the optimum) that read the whole episode;
            the runner then passes ``env.unwrapped.episode_plan()`` to ``reset``.
    """

    perfect_foresight: bool

    def reset(self, seed: int | None = None, plan: EpisodePlan | None = None) -> None:
        """Starts an episode (``seed`` for policies that draw random numbers)."""

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The action for this tick, float32, shape ``(scenario.n_actions,)``."""
