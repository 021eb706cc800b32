"""The interface every policy implements (baselines, trained agents, the service's
controllers), and one scored episode of a policy on the env."""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Protocol

import numpy as np
from tqdm.auto import tqdm

from evgrid_gym.envs.evgrid_env import EpisodePlan, EVGridEnv
from evgrid_gym.eventlog import EpisodeLog
from evgrid_gym.kpis import episode_kpis


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


def warm_up(env: EVGridEnv, seed: int = 0, options: dict | None = None) -> None:
    """Loads (or compiles, on a first run) the env's kernels: one reset (with ``options``) and
    one idle step, so that episode wall times and progress bars leave them out."""
    env.reset(seed=seed, options=options)
    env.step(np.zeros(env.action_space.shape, dtype=np.float32))


def run_episode(
    env: EVGridEnv,
    policy: Policy,
    seed: int,
    options: dict | None = None,
    bar: bool = False,
    log: EpisodeLog | None = None,
) -> dict[str, float | str]:
    """One episode of ``policy``; returns its reward, episode KPIs, date and wall time, and the
    solver's status and MIP gap when the policy reports them (``solver_status()``).

    Args:
        options: passed to ``env.reset`` (``{"date": ...}``).
        bar: show a progress bar over the ticks once the episode has run 2 s (tqdm).
        log: records the episode (the caller writes it; its cost is in the wall time).
    """
    start = time.perf_counter()
    observation, info = env.reset(seed=seed, options=options)
    policy.reset(seed=seed, plan=env.episode_plan() if policy.perfect_foresight else None)
    if log is not None:
        log.start(env, info)
    total, terminated = 0.0, False
    ticks = env.scenario.config.episode_ticks
    with tqdm(total=ticks, disable=not bar, delay=2.0, unit="tick", leave=False) as ticking:
        while not terminated:
            observation, reward, terminated, _, info = env.step(policy.act(observation, info))
            if log is not None:
                log.record(info)
            total += reward
            ticking.update()
    row = {"reward": total, "date": info["date"], "wall_time_s": time.perf_counter() - start}
    solver = getattr(policy, "solver_status", None)
    if solver is not None:
        row["solver_status"], row["mip_gap"] = solver()
    return row | episode_kpis(env.kpi_total)
