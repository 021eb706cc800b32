"""Solving a built model with HiGHS, round by round, and mapping its solution to env actions.

Actions are rounded to float32 towards zero, so the env never projects a replayed schedule;
the replayed reward matches the objective to ~1e-7 relative. The tie-breaking cost on BESS
throughput and V2G energy (:data:`~baselines.optimal.reward.THROUGHPUT_EUR_PER_KWH`) is added
back to the reported objective.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from baselines.optimal.model import OptimalModel
from baselines.optimal.reward import THROUGHPUT_EUR_PER_KWH
from evgrid_gym.core import layout as L

COMPLEMENTARITY_TOL_KW = 1e-5
"""A BESS that charges and discharges more than this in one tick gets a binary and is
re-solved."""

MAX_CUT_ROUNDS = 20
"""Rounds that add the network's cuts (:mod:`baselines.optimal.network`), on top of
``max_rounds``."""


@dataclass
class Schedule:
    """The result of :func:`solve`.

    Attributes:
        status: ``optimal``; ``time_limit_feasible`` (stopped at the time limit with a
            feasible schedule); ``time_limit`` (no schedule found in time); ``infeasible``;
            ``unbounded``; ``infeasible_or_unbounded``; ``error`` (see ``message``).
        objective: the model's reward of the window, in the env's reward unit (the unit of
            its reward preset: EUR for ``profit`` and ``cost``, kWh for ``satisfaction``; a
            custom reward's weighted sum); NaN without a schedule.
        actions: shape (n_ticks, n_actions) float32 env actions of the window's ticks, or
            None without a schedule.
        build_s: model build time, s; solve_s: solver time (Pyomo -> HiGHS transfer and
            HiGHS), s.
        n_variables, n_constraints, n_binaries: model size (the last solve).
        mip_gap: relative gap between the MILP round's reward and HiGHS's bound (0 for an
            LP).
        rounds: HiGHS runs (:func:`solve`).
        message: solver details for a non-optimal status.
    """

    status: str
    objective: float
    actions: np.ndarray | None
    build_s: float
    solve_s: float
    n_variables: int
    n_constraints: int
    n_binaries: int = 0
    mip_gap: float = 0.0
    rounds: int = 1
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when ``actions`` holds a feasible schedule."""
        return self.actions is not None


@dataclass
class _Incumbent:
    """The schedule :func:`solve` returns, as the rounds improve it."""

    status: str = "error"
    message: str = ""
    actions: np.ndarray | None = None
    objective: float = math.nan
    mip_gap: float = 0.0

    def offer(self, model, res, status, message, burning, polishing: bool) -> bool:
        """Keeps the loaded solution of a round if it is at least as good as the incumbent
        (a polishing round keeps the MILP round's gap); returns whether it gained."""
        objective, gap = _objective(model, res)
        gains = self.actions is None or objective - self.objective > 1e-9 * abs(self.objective)
        if self.actions is None or objective >= self.objective:
            self.status, self.message = status, message
            if burning:
                self.message += f"; BESS charges and discharges at once at {len(burning)} ticks"
            self.actions, self.objective = _actions(model), objective
            self.mip_gap = self.mip_gap if polishing else gap
        return gains

    def schedule(self, model: OptimalModel, solve_s: float, rounds: int) -> Schedule:
        """The :class:`Schedule` of the incumbent after ``rounds`` runs of ``solve_s``."""
        return Schedule(
            status=self.status,
            objective=self.objective,
            actions=self.actions,
            build_s=model.build_s,
            solve_s=solve_s,
            n_variables=model.n_variables,
            n_constraints=model.n_constraints,
            n_binaries=model.n_binaries,
            mip_gap=self.mip_gap,
            rounds=rounds,
            message=self.message,
        )

    def fail(self, rounds: int, status: str, message: str) -> None:
        """A round without a schedule: its status, unless an earlier round found one."""
        if self.actions is None:
            self.status, self.message = status, message
        else:  # keep the last round's schedule
            self.message += f"; round {rounds}: {message}"


def solve(
    model: OptimalModel,
    time_limit_s: float | None = 60.0,
    *,
    mip_rel_gap: float = 1e-4,
    cv_tol_kwh: float = 1e-4,
    threads: int | None = None,
    max_rounds: int = 8,
) -> Schedule:
    """Solves a built model with HiGHS (Pyomo's ``highs`` interface, ``highspy``).

    Rounds: after each solve, a solution that breaks a current limit of the network gets
    the network's cuts there (:mod:`baselines.optimal.network`) and is solved again (up to
    :data:`MAX_CUT_ROUNDS` such rounds, not counted in ``max_rounds``); CC-CV chords that
    hold a charging EV back by more than ``cv_tol_kwh`` are split at the solution
    (:meth:`OptimalModel.refine_cv`) and BESS that charge and discharge in the same tick get
    a binary there; the model is solved again
    (HiGHS keeps the model, Pyomo sends only the changes) until nothing changes, a round
    gains nothing, or the rounds or the time run out. The first round solves the MILP; later
    rounds keep its binaries fixed (they only polish the continuous schedule, so they are
    LPs). Every round's schedule is feasible and at least as good as the one before; the
    last one is returned.

    Never raises for a solver outcome: an infeasible, unbounded or timed-out model (or a
    solver error) gives a :class:`Schedule` with that ``status``, ``actions=None`` unless a
    feasible schedule was found, and the solver's message.

    Args:
        model: from :func:`~baselines.optimal.model.build_model` (changed in place by the
            rounds).
        time_limit_s: wall-clock limit of all rounds together, s (None: no limit).
        mip_rel_gap: relative MIP gap at which HiGHS stops (models with binaries).
        cv_tol_kwh: CC-CV approximation tolerance per EV and tick, kWh (inf: no refinement).
        threads: HiGHS threads (None: its default).
        max_rounds: solves at most (besides the network's cut rounds).

    Returns:
        The :class:`Schedule` (``actions`` of shape (n_ticks, n_actions), float32).
    """
    from pyomo.contrib.solver.common.factory import SolverFactory

    solver = SolverFactory("highs")
    deadline = None if time_limit_s is None else time.perf_counter() + time_limit_s
    options = {"mip_rel_gap": mip_rel_gap, "output_flag": False}
    best, solve_s, rounds, cut_rounds, fixed = _Incumbent(), 0.0, 0, 0, []
    while True:
        rounds += 1
        start = time.perf_counter()
        res, error = _run_highs(solver, model, options, deadline, threads)
        solve_s += time.perf_counter() - start
        if error is not None:  # a solver failure is a status, not a crash
            best.fail(rounds, "error", f"{type(error).__name__}: {error}")
            break
        round_status, round_message, has_solution = _round_status(res)
        if not has_solution:
            best.fail(rounds, round_status, round_message)
            break
        res.solution_loader.load_vars()
        last = round_status != "optimal" or rounds - cut_rounds >= max_rounds or _past(deadline)
        cuts = 0 if model.network is None else model.network.add_cuts()
        if cuts and not last and cut_rounds < MAX_CUT_ROUNDS:
            cut_rounds += 1
            continue
        if cuts:
            round_message += f"; {cuts} network current limits broken (the env scales them)"
        burning = _bess_burning(model)
        if burning and not last:
            model.add_bess_binaries(burning)
            continue
        gains = best.offer(model, res, round_status, round_message, burning, polishing=bool(fixed))
        if last or not gains:
            break
        if not fixed:  # later rounds polish this solution with its binaries fixed: LPs
            fixed = _fix_binaries(model.model)
        if not (math.isfinite(cv_tol_kwh) and model.refine_cv(cv_tol_kwh)):
            break
    for v in fixed:
        v.unfix()
    return best.schedule(model, solve_s, rounds)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def _run_highs(solver, model: OptimalModel, options: dict, deadline, threads):
    """One HiGHS run: ``(results, None)``, or ``(None, exception)`` when the solver fails.

    LPs (no binaries, or all fixed): the primal simplex is 3-5x faster here than HiGHS's
    default dual simplex; MILPs keep HiGHS's defaults.
    """
    options["simplex_strategy"] = 1 if model.n_binaries else 4
    left = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
    try:
        res = solver.solve(
            model.model,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            time_limit=left,
            threads=threads,
            solver_options=options,
        )
    except Exception as exc:  # noqa: BLE001 (reported as the schedule's status)
        return None, exc
    return res, None


def _objective(model: OptimalModel, res) -> tuple[float, float]:
    """``(reward, MIP gap)`` of the loaded solution: HiGHS's objective with the tie-breaking
    costs added back, and the relative gap to its bound (0 for an LP)."""
    m = model.model
    regulariser = (
        THROUGHPUT_EUR_PER_KWH
        * model.scenario.cfg[L.CFG_DT_H]
        * (
            sum((m.bc[k].value or 0.0) + (m.bd[k].value or 0.0) for k in m.bc)
            + sum(m.q[j].value or 0.0 for j in m.q)
        )
    )
    objective = float(res.incumbent_objective) + regulariser
    gap = 0.0
    bound = res.objective_bound
    if model.n_binaries and bound is not None and math.isfinite(bound):
        gap = abs(bound - res.incumbent_objective) / max(abs(res.incumbent_objective), 1e-9)
    return objective, gap


def _fix_binaries(m: pyo.ConcreteModel) -> list:
    """Fixes the free binaries at their (rounded) values; returns them."""
    free = [v for v in m.component_data_objects(pyo.Var) if v.is_binary() and not v.fixed]
    for v in free:
        v.fix(round(v.value or 0.0))
    return free


def _round_status(res) -> tuple[str, str, bool]:
    """``(status, message, has_solution)`` of one HiGHS run (see :class:`Schedule`)."""
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    tc, ss = res.termination_condition, res.solution_status
    has_solution = ss in (SolutionStatus.optimal, SolutionStatus.feasible)
    if tc == TerminationCondition.convergenceCriteriaSatisfied and has_solution:
        status = "optimal"
    elif tc in (TerminationCondition.maxTimeLimit, TerminationCondition.interrupted):
        status = "time_limit_feasible" if has_solution else "time_limit"
    elif tc == TerminationCondition.provenInfeasible:
        status = "infeasible"
    elif tc == TerminationCondition.unbounded:
        status = "unbounded"
    elif tc == TerminationCondition.infeasibleOrUnbounded:
        status = "infeasible_or_unbounded"
    else:
        status = "time_limit_feasible" if has_solution else "error"
    return status, f"termination {tc.name}, solution {ss.name}", has_solution


def _bess_burning(model: OptimalModel) -> list[tuple[int, int]]:
    """The ``(s, t)`` where the loaded solution charges and discharges a BESS at once."""
    m = model.model
    return [
        key
        for key in m.bc
        if min(m.bc[key].value or 0.0, m.bd[key].value or 0.0) > COMPLEMENTARITY_TOL_KW
    ]


def _actions(model: OptimalModel) -> np.ndarray:
    """The loaded solution as env actions, shape (n_ticks, n_actions), float32, rounded
    towards zero: a rounded action never asks for more than the plan."""
    m, sc, pairs = model.model, model.scenario, model.pairs
    actions = np.zeros((model.n_ticks, sc.n_actions), dtype=np.float64)
    for j in model.pair_ids:
        kw = 0.0
        if pairs.has_p[j]:
            kw += m.p[j].value or 0.0
        if pairs.has_q[j]:
            kw -= m.q[j].value or 0.0
        actions[pairs.tick[j] - model.start_tick, pairs.connector[j]] = kw / pairs.rated_kw[j]
    n_c = sc.n_connectors
    for s in model.bess.stations:
        power = float(sc.station_f[L.ST_BESS_KW, s])
        for t in range(model.start_tick, model.start_tick + model.n_ticks):
            kw = (m.bc[s, t].value or 0.0) - (m.bd[s, t].value or 0.0)
            actions[t - model.start_tick, n_c + s] = kw / power
    actions = np.clip(actions, -1.0, 1.0)
    rounded = actions.astype(np.float32)
    up = np.abs(rounded) > np.abs(actions)
    rounded[up] = np.nextafter(rounded[up], np.float32(0.0))
    return rounded
