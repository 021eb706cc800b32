"""The interface every baseline policy implements."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from evgrid_gym.envs.evgrid_env import EpisodePlan


class SolverStatus(NamedTuple):
    """How a planner's solver ended on the last episode (see :class:`Policy`).

    Attributes:
        status: ``optimal`` (proven, to the solver's tolerance), or why not, e.g.
            ``time_limit_feasible`` (stopped at its time limit with a schedule that is not
            proven optimal), ``time_limit`` (no schedule), ``infeasible``, ``error``.
        mip_gap: relative gap between the schedule's reward and the solver's bound on the
            optimum, ``|bound - reward| / |reward|`` (0 when proven).
    """

    status: str
    mip_gap: float


class Policy(Protocol):
    """Maps what the env exposes publicly to an action of shape ``(scenario.n_actions,)``.

    A policy is built from a read-only :class:`evgrid_gym.Scenario` (topology, limits,
    tariffs) and sees, each tick, the observation and the last ``info``; it never touches
    env internals, so the same policy runs on the simulator or behind a station API.

    Attributes:
        perfect_foresight: True only for planners (the optimum) that read the whole episode;
            the runner then passes ``env.unwrapped.episode_plan()`` to ``reset``.

    A policy that solves an optimisation problem may also define ``solver_status() ->``
    :class:`SolverStatus` for its last episode; the benchmark records it
    (``results.csv``: ``solver_status``, ``mip_gap``) and, for the ``optimal`` policy, turns
    the optimality gap of every policy into a range when the optimum is not proven
    (``baselines/benchmark.py``).
    """

    perfect_foresight: bool

    def reset(self, seed: int | None = None, plan: EpisodePlan | None = None) -> None:
        """Starts an episode (``seed`` for policies that draw random numbers)."""

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The action for this tick, float32, shape ``(scenario.n_actions,)``."""
