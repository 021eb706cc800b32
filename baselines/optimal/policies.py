"""The optimum as policies: the perfect-foresight optimum of a whole episode, and
receding-horizon control (MPC) on the same model."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from baselines.optimal.model import OptimalModel, build_model
from baselines.optimal.reward import reward_weights
from baselines.optimal.solve import Schedule, solve
from evgrid_gym.core import layout as L
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.policy import SolverStatus
from evgrid_gym.scenario import Scenario


class OptimalPolicy:
    """The perfect-foresight optimum as a :class:`evgrid_gym.policy.Policy`.

    ``reset(seed, plan)`` builds and solves the whole episode; ``act`` replays the schedule's
    action of ``info["tick"]``. When no schedule could be found (``self.schedule.status``),
    it warns (``RuntimeWarning``) and idles.

    Args:
        scenario: the env's scenario.
        time_limit_s: HiGHS time limit per episode, s.
        mip_rel_gap: relative MIP gap (see :func:`solve`).
        cv_segments: chords of the CC-CV approximation (see :func:`build_model`).

    Raises:
        OptimalModelError: at construction, a reward the model cannot represent.
    """

    perfect_foresight = True

    def __init__(
        self,
        scenario: Scenario,
        time_limit_s: float | None = 120.0,
        mip_rel_gap: float = 1e-4,
        cv_segments: int = 2,
    ):
        reward_weights(scenario)
        self.scenario = scenario
        self.time_limit_s = time_limit_s
        self.mip_rel_gap = mip_rel_gap
        self.cv_segments = cv_segments
        self.model: OptimalModel | None = None
        self.schedule: Schedule | None = None

    def reset(self, seed: int | None = None, plan: EpisodePlan | None = None) -> None:
        """Solves the episode ``plan``.

        Raises:
            ValueError: ``plan`` is None (the runner must pass ``episode_plan()``).
        """
        if plan is None:
            raise ValueError("plan: got None; OptimalPolicy needs env.unwrapped.episode_plan()")
        self.model = build_model(self.scenario, plan, cv_segments=self.cv_segments)
        self.schedule = solve(self.model, self.time_limit_s, mip_rel_gap=self.mip_rel_gap)
        if not self.schedule.ok:
            warnings.warn(
                f"optimal: no schedule ({self.schedule.status}: {self.schedule.message}); "
                "the policy idles",
                RuntimeWarning,
                stacklevel=2,
            )

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        tick = int(info["tick"])
        if self.schedule is None or not self.schedule.ok:
            return np.zeros(self.scenario.n_actions, dtype=np.float32)
        return self.schedule.actions[tick].copy()

    def solver_status(self) -> SolverStatus:
        """The last episode's solve (:class:`~evgrid_gym.policy.SolverStatus`)."""
        return SolverStatus(self.schedule.status, self.schedule.mip_gap)


class MPCPolicy:
    """Receding-horizon control on the same model: every ``replan_every`` ticks it solves the
    next ``horizon`` ticks from the current state (EV soc and BESS soc read from the
    observation) and applies the first ticks of that plan.

    It reads the episode plan (prices, wind, households and EV sessions of the window), so
    it is a perfect-foresight planner over a short horizon. EVs still plugged in at a
    window's end count as departing then, and each BESS must end a window at least as full
    as it started it.

    Args:
        scenario: the env's scenario.
        horizon: window length, ticks.
        replan_every: ticks between solves (<= horizon).
        time_limit_s: HiGHS time limit per solve, s.
        mip_rel_gap: relative MIP gap (see :func:`solve`).
        cv_segments: see :func:`build_model`.

    Raises:
        ValueError: ``replan_every`` outside [1, horizon].
        OptimalModelError: a reward the model cannot represent.
    """

    perfect_foresight = True

    def __init__(
        self,
        scenario: Scenario,
        horizon: int = 16,
        replan_every: int = 4,
        time_limit_s: float | None = 30.0,
        mip_rel_gap: float = 1e-4,
        cv_segments: int = 2,
    ):
        if not 1 <= replan_every <= horizon:
            raise ValueError(
                f"replan_every: got {replan_every}; must lie in [1, horizon={horizon}]"
            )
        reward_weights(scenario)
        self.scenario = scenario
        self.horizon = horizon
        self.replan_every = replan_every
        self.time_limit_s = time_limit_s
        self.mip_rel_gap = mip_rel_gap
        self.cv_segments = cv_segments
        self._plan: EpisodePlan | None = None
        self._actions: np.ndarray | None = None
        self._start = 0
        self.schedules: list[Schedule] = []

    def reset(self, seed: int | None = None, plan: EpisodePlan | None = None) -> None:
        """Keeps the episode ``plan`` for the windows.

        Raises:
            ValueError: ``plan`` is None.
        """
        if plan is None:
            raise ValueError("plan: got None; MPCPolicy needs env.unwrapped.episode_plan()")
        self._plan = plan
        self._actions = None
        self.schedules = []

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        sc = self.scenario
        tick = int(info["tick"])
        if self._actions is None or tick - self._start >= self.replan_every:
            now = sc.unpack(np.asarray(observation, dtype=np.float64))
            soc = now.soc
            energy = {}
            for c, e in enumerate(np.asarray(info["connector_ev"]).tolist()):
                if e >= 0:
                    energy[e] = float(soc[c]) * float(self._plan.ev[L.EV_BATTERY_KWH, e])
            bess_soc = now.bess_soc
            n_total = sc.config.episode_ticks
            model = build_model(
                sc,
                self._plan,
                start_tick=tick,
                horizon=min(self.horizon, n_total - tick),
                ev_energy_kwh=energy,
                bess_soc=bess_soc,
                cv_segments=self.cv_segments,
            )
            schedule = solve(model, self.time_limit_s, mip_rel_gap=self.mip_rel_gap)
            self.schedules.append(schedule)
            self._start = tick
            self._actions = schedule.actions
            if self._actions is None:
                self._actions = np.zeros((model.n_ticks, sc.n_actions), dtype=np.float32)
        return self._actions[tick - self._start].copy()

    def solver_status(self) -> SolverStatus:
        """The last episode's windows together: ``optimal`` when every window was, else the
        first other status; the largest MIP gap (:class:`~evgrid_gym.policy.SolverStatus`)."""
        statuses = [s.status for s in self.schedules if s.status != "optimal"]
        return SolverStatus(
            statuses[0] if statuses else "optimal", max(s.mip_gap for s in self.schedules)
        )
