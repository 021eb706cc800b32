"""The perfect-foresight optimum (and a receding-horizon MPC): a Pyomo model of an episode,
solved with HiGHS, that maximises the env's own reward.

The model (all energies in kWh at tick boundaries, powers in kW averaged over a tick of
``dt_h`` hours; ``e`` an EV, ``j`` one (EV, tick) pair it is plugged in, ``s`` a station,
``t`` a tick):

* EV energy ``E[e, k]`` at the start of its k-th plugged tick, fixed at its arrival energy;
  ``E[e, k+1] = E[e, k] + eta * dt * p[j] - dt / eta * q[j]`` with charging power ``p`` and
  V2G power ``q`` (grid side, charger efficiency ``eta``; ``tick._arrive`` and
  ``battery.battery_energy_kwh``). ``p <= min(EV max AC/DC kW, charger kW)``,
  ``q <= min(EV V2G kW, charger kW)`` only on V2G chargers, ``E <= target energy`` (the env
  stops at the target soc), discharging only down to ``v2g_soc_min``.
* The two-stage CC-CV taper (``battery.max_charge_energy_kwh``, ACN-Sim
  ``Linear2StageBattery``) as linear constraints on the energy at tick start. The exact
  maximum gain ``G(E)`` is concave in ``E``: the constant ``eta P dt`` in the CC stage, the
  affine ``A(E) = (Q - E)(1 - exp(-k dt))`` (``k = eta P / (Q (1 - theta))``) once the tick
  starts in the CV stage, and curved in between, for ``E`` in ``[theta Q - eta P dt, theta Q]``.
  We require ``eta dt p <= min(eta P dt, A(E), chords of G over that interval)``: a concave
  function lies above its chords and below its tangent ``A``, so this is an inner
  approximation equal to ``G`` outside the interval, and every planned power is attainable
  on replay (``cv_segments`` chords; more chords, less conservative).
* A binary ``z[j]`` where an EV can both charge and discharge (``p <= P (1 - z)``,
  ``q <= V z``): simultaneous charging and V2G would let the LP dispose of energy at a
  profit (the tariff is paid on grid energy) that the env cannot realise.
* Station battery (``action.bess_control``): ``B[s, t+1] = B[s, t] + eta_b dt c - dt / eta_b
  d``, ``0 <= c, d <= P_b``, ``soc_min Q_b <= B <= soc_max Q_b``; a binary makes ``c`` and
  ``d`` exclusive on ticks where burning energy could pay (own consumption with a positive
  marginal reward), and :func:`solve` adds more wherever the solution still does both.
* Station net import ``n[s, t] = sum(p - q) + c - d``: in ``[-grid, grid]`` and
  ``households + sum_s n <= feeder`` in hard mode; in soft mode both are penalised
  overload (``max(|n| - grid, 0)`` and ``max(households + sum n - feeder, 0)``). On ticks
  where the households alone exceed the feeder (hard mode), a binary chooses between
  exporting enough to stay within it and no charging at all with the rest as overload
  (what the env's projection then does).
* Market (``tick.step``, ``market.clear_market``): external energy ``x[t]`` and the surplus
  ``y[t]`` (exported or curtailed) with ``x - y = (households + sum_s n - renewable) dt``,
  ``x, y >= 0``. Where the reward of buying and selling at once is positive (the feed-in
  price above the external price) a binary makes them exclusive; elsewhere the LP is exact.
* Objective: the scenario's reward weights (``Scenario.reward_weights``) times the KPIs,
  summed over the episode: tariff revenue ``tariff * (p - q) dt``, energy cost
  ``price * x``, export revenue ``feed_in * y``, unmet energy ``target - E_departure``
  (times the penalty), overload, external energy, EV energy. Payments between community
  members are transfers and cancel (DESIGN.md "Economics and the optimum").

Build (:func:`build_model`) and solve (:func:`solve`) are separate; the schedule's actions
are replayed through the env (:class:`OptimalPolicy`), so its KPIs come from the same code
as every other policy's.

Inner restriction (the model is exact otherwise): EVs that arrive above their target soc
only discharge (the env would let them recharge to the target after V2G).

Numerics: shared limits (charger, station, feeder) are modelled 1e-6 kW tighter than the
env's, above HiGHS's feasibility tolerance, and actions are rounded to float32 towards zero,
so the env never projects a replayed schedule; a 1e-6 EUR/kWh tie-break on BESS throughput
(added back to the reported objective) keeps the solver from charging and discharging a BESS
at once where that costs nothing. The replayed reward matches the objective to ~1e-7
relative (float32 actions).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from baselines.policy import SolverStatus
from evgrid_gym.config import REWARD_TERMS
from evgrid_gym.core import layout as L
from evgrid_gym.core.battery import max_charge_energy_kwh
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.scenario import Scenario

SUPPORTED_KPIS = tuple(term for term in REWARD_TERMS if term != "own_energy_used_kwh")
"""KPIs whose reward weights the model can carry (``own_energy_used_kwh`` cannot: it depends
on each station's sign of net import, which is not linear)."""

_EPS = 1e-9
_BESS_THROUGHPUT_EUR_PER_KWH = 1e-6
"""Tie-breaking cost on BESS throughput (added back to the reported objective)."""
_COMPLEMENTARITY_TOL_KW = 1e-5


_LIMIT_MARGIN_KW = 1e-6
"""Shared limits (charger, station, feeder) are modelled this much tighter: more than HiGHS's
primal feasibility tolerance (1e-7), so that the env never projects a replayed schedule."""


def _inside(limit_kw: float) -> float:
    return limit_kw - _LIMIT_MARGIN_KW


"""A BESS that charges and discharges more than this in one tick gets a binary and is re-solved."""


class OptimalModelError(ValueError):
    """The scenario's reward or state cannot be represented exactly by the model."""


@dataclass
class _CVData:
    """CC-CV rows ``[pair, alpha, beta, a, b, constraint]`` and what ``G`` needs per pair."""

    rows: list
    e_index: list
    eta: list
    p_max: list
    cap: list
    e_target: list
    theta: float
    dt_h: float


@dataclass
class OptimalModel:
    """A built Pyomo model of an episode window and what maps its solution to actions.

    Attributes:
        model: the Pyomo ``ConcreteModel`` (maximisation).
        scenario: the scenario it was built for.
        start_tick: first tick of the window.
        n_ticks: window length, ticks.
        objective_constant: the part of the window's reward that no decision changes
            (reward units); it is part of the Pyomo objective.
        build_s: wall time of the build, s (binaries added by :func:`solve` included).
        pair_tick, pair_connector: tick (absolute) and connector of each (EV, tick) pair with
            a decision, int arrays of shape (J,).
        pair_rated_kw: the connector's rated power (its action scale), kW, shape (J,).
        pair_has_p, pair_has_q: whether the pair has a charging / V2G variable, shape (J,).
        pair_ids: the pairs' keys in the Pyomo variables ``p`` and ``q``.
        bess_stations: stations whose BESS the model controls.
        cv: the CC-CV rows, for :meth:`refine_cv`.
        bess_binary: the ``(s, t)`` where BESS charging and discharging are exclusive.
    """

    model: pyo.ConcreteModel
    scenario: Scenario
    start_tick: int
    n_ticks: int
    objective_constant: float
    build_s: float
    pair_tick: np.ndarray
    pair_connector: np.ndarray
    pair_rated_kw: np.ndarray
    pair_has_p: np.ndarray
    pair_has_q: np.ndarray
    pair_ids: list[int]
    bess_stations: list[int]
    cv: _CVData | None = None
    bess_binary: set = field(default_factory=set)

    @property
    def n_variables(self) -> int:
        """Decision variables (fixed ones excluded)."""
        return sum(1 for v in self.model.component_data_objects(pyo.Var) if not v.fixed)

    @property
    def n_binaries(self) -> int:
        """Binary variables (fixed ones excluded)."""
        return sum(
            1 for v in self.model.component_data_objects(pyo.Var) if not v.fixed and v.is_binary()
        )

    @property
    def n_constraints(self) -> int:
        """Active constraints."""
        return sum(1 for _ in self.model.component_data_objects(pyo.Constraint, active=True))

    def add_bess_binaries(self, station_ticks) -> None:
        """Makes BESS charging and discharging exclusive at the given ``(s, t)`` pairs."""
        start = time.perf_counter()
        m = self.model
        new = [st for st in station_ticks if st not in self.bess_binary and st in m.bc]
        if new:
            block = pyo.Block()
            block.w = pyo.Var(new, domain=pyo.Binary)
            block.charge = pyo.Constraint(
                new, rule=lambda b, s, t: m.bc[s, t] <= m.bc[s, t].ub * (1 - b.w[s, t])
            )
            block.discharge = pyo.Constraint(
                new, rule=lambda b, s, t: m.bd[s, t] <= m.bd[s, t].ub * b.w[s, t]
            )
            m.add_component(f"bess_exclusive_{len(self.bess_binary)}", block)
            self.bess_binary.update(new)
        self.build_s += time.perf_counter() - start

    def refine_cv(self, tol_kwh: float) -> int:
        """Splits the CC-CV chords that limit the loaded solution by more than ``tol_kwh``.

        For each charging pair held back by a chord of ``G`` over ``[a, b]`` at energy
        ``E`` with ``G(E) - chord(E) > tol_kwh``, the chord is replaced (for that pair) by the
        chords between ``a, E - h, E, E + h, b``: still below ``G``, exact at ``E``, and
        within ``tol_kwh`` of ``G`` on ``[E - h, E + h]``.

        Returns:
            The number of pairs refined.
        """
        start = time.perf_counter()
        m, cv = self.model, self.cv
        by_pair: dict[int, list] = {}
        for row in cv.rows:
            if row[5].active:
                by_pair.setdefault(row[0], []).append(row)
        new_rows = []
        for j, rows in by_pair.items():
            power = m.p[j].value
            if power is None or power <= 0.0:
                continue
            e_idx = cv.e_index[j]
            energy = m.E[e_idx].value
            q_kwh, p_kw, eta, dt = cv.cap[j], cv.p_max[j], cv.eta[j], cv.dt_h
            row = min(rows, key=lambda r: r[1] - r[2] * energy)
            bound = row[1] - row[2] * energy
            a, b = row[3], row[4]
            if not (a + 1e-9 < energy < b - 1e-9) or eta * dt * power < bound - 1e-6:
                continue
            exact = min(_gain_kwh(energy, q_kwh, p_kw, eta, cv.theta, dt), cv.e_target[j] - energy)
            if exact - bound <= tol_kwh:
                continue
            row[5].deactivate()
            # break points at E and at E +- h, where a chord of width h is tol_kwh exact
            # (|G''| <= 1 / (Q (1 - theta))), so a solution moving a little stays exact
            h = math.sqrt(8.0 * q_kwh * (1.0 - cv.theta) * tol_kwh)
            points = [a, energy - h, energy, energy + h, b]
            points = [x for x in points if a <= x <= b]
            points = sorted({x for x in points if x in (a, b) or min(x - a, b - x) > 1e-9})
            for lo, hi in zip(points[:-1], points[1:], strict=True):
                alpha, beta = _chord(lo, hi, q_kwh, p_kw, eta, cv.theta, dt)
                con = m.cv_refined.add((eta * dt) * m.p[j] + beta * m.E[e_idx] <= alpha)
                new_rows.append([j, alpha, beta, lo, hi, con])
        cv.rows.extend(new_rows)
        self.build_s += time.perf_counter() - start
        return len({row[0] for row in new_rows})


@dataclass
class Schedule:
    """The result of :func:`solve`.

    Attributes:
        status: ``optimal``; ``time_limit_feasible`` (stopped at the time limit with a
            feasible schedule); ``time_limit`` (no schedule found in time); ``infeasible``;
            ``unbounded``; ``infeasible_or_unbounded``; ``error`` (see ``message``).
        objective_eur: the model's reward of the window (the env's reward unit: EUR for
            ``profit`` and ``cost``, kWh for ``satisfaction``); NaN without a schedule.
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
    objective_eur: float
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


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def reward_weights(scenario: Scenario) -> dict[str, float]:
    """The scenario's nonzero reward weights by KPI name.

    Raises:
        OptimalModelError: a weight on a KPI the model cannot represent (listed in the
            message with the supported ones).
    """
    weights = {
        name: float(w)
        for name, w in zip(L.KPI_NAMES, scenario.reward_weights, strict=True)
        if w != 0.0
    }
    unsupported = sorted(set(weights) - set(SUPPORTED_KPIS))
    if unsupported:
        raise OptimalModelError(
            f"reward weights on {unsupported} are not supported by the optimal model; "
            f"supported KPIs: {list(SUPPORTED_KPIS)}"
        )
    return weights


def _gain_kwh(e_kwh, q_kwh, p_kw, eta, theta, dt_h):
    """``G(E)``, kWh: the exact CC-CV gain from energy ``E`` (``max_charge_energy_kwh``)."""
    return max_charge_energy_kwh(e_kwh / q_kwh, q_kwh, p_kw, eta, theta, dt_h)


def _chord(a, b, q_kwh, p_kw, eta, theta, dt_h):
    """``(alpha, beta)`` of the chord of ``G`` over ``[a, b]``: ``gain <= alpha - beta * E``."""
    ga = _gain_kwh(a, q_kwh, p_kw, eta, theta, dt_h)
    gb = _gain_kwh(b, q_kwh, p_kw, eta, theta, dt_h)
    slope = (gb - ga) / (b - a)
    return ga - slope * a, -slope


def _cv_lines(q_kwh, p_kw, eta, theta, dt_h, segments):
    """Lines ``(alpha, beta, a, b)``, ``gain <= alpha - beta * E``, bounding the CC-CV gain.

    The CV line ``A(E)`` (it equals ``G`` on ``[a, b) = [theta Q, inf)``) and ``segments``
    chords of ``G`` over the mixed interval ``[theta Q - eta P dt, theta Q]``.
    """
    if theta >= 1.0 or p_kw <= 0.0:
        return []
    rate = eta * p_kw
    decay = -math.expm1(-rate / (q_kwh * (1.0 - theta)) * dt_h)
    e_hi = theta * q_kwh
    lines = [(q_kwh * decay, decay, e_hi, math.inf)]  # A(E) = (Q - E) (1 - exp(-k dt))
    xs = np.linspace(e_hi - rate * dt_h, e_hi, segments + 1).tolist()
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        lines.append((*_chord(a, b, q_kwh, p_kw, eta, theta, dt_h), a, b))
    return lines


def build_model(
    scenario: Scenario,
    plan: EpisodePlan,
    *,
    start_tick: int = 0,
    horizon: int | None = None,
    ev_energy_kwh: dict[int, float] | None = None,
    bess_soc: np.ndarray | None = None,
    cv_segments: int = 2,
    terminal_bess: bool | None = None,
) -> OptimalModel:
    """Builds the Pyomo model of ticks ``[start_tick, start_tick + horizon)`` of an episode.

    Args:
        scenario: the env's scenario (``env.unwrapped.scenario``).
        plan: the episode (``env.unwrapped.episode_plan()``).
        start_tick: first tick of the window (0 for the whole episode).
        horizon: window length, ticks; default to the end of the episode.
        ev_energy_kwh: battery energy, kWh, of EVs already plugged in at ``start_tick``
            (index into ``plan.ev``); default their arrival energy.
        bess_soc: BESS soc per station at ``start_tick``, shape (S,); default initial soc.
        cv_segments: chords approximating the CC-CV curve between the CC and CV stages (>= 1).
        terminal_bess: require each BESS to end the window with at least its starting
            energy; default True for a window that ends before the episode does (MPC).
            EVs still plugged in at a window's end are counted as departing then.

    Outages (``plan.outage``): chargers and turbines down are modelled exactly (no power; the
    wind share lost). During a station-link outage the model bounds the station's connectors
    by the fallback power and idles its BESS, but the env then applies the fallback power
    itself and buys the station's demand from the supplier: in those ticks the replay may
    differ from the model's objective. Reservations enter through ``plan.connector_ev`` and
    ``plan.ev_tariff``.

    Returns:
        The :class:`OptimalModel`.

    Raises:
        OptimalModelError: unsupported reward weights (:func:`reward_weights`), an overload
            that the reward would reward rather than penalise, or an EV that changes
            connector during its stay.
        ValueError: a window outside the episode or ``cv_segments < 1``.
    """
    t_begin = time.perf_counter()
    cfg = scenario.cfg
    n_total = int(cfg[L.CFG_N_TICKS])
    if horizon is None:
        horizon = n_total - start_tick
    if not (0 <= start_tick < n_total and 1 <= horizon <= n_total - start_tick):
        raise ValueError(
            f"window: got start_tick={start_tick}, horizon={horizon}; must lie in [0, {n_total})"
        )
    if cv_segments < 1:
        raise ValueError(f"cv_segments: got {cv_segments}; must be >= 1")
    t0, t1 = start_tick, start_tick + horizon
    if terminal_bess is None:
        terminal_bess = t1 < n_total
    weights = reward_weights(scenario)
    dt = float(cfg[L.CFG_DT_H])
    soft = cfg[L.CFG_SOFT_LIMITS] > 0.0
    export = cfg[L.CFG_EXPORT] > 0.0
    feeder_kw = float(cfg[L.CFG_FEEDER_KW])
    theta = float(cfg[L.CFG_TRANSITION_SOC])
    v2g_soc_min = float(cfg[L.CFG_V2G_SOC_MIN])
    n_st = scenario.n_stations
    exo, ev = plan.exo, plan.ev
    ticks = np.arange(t0, t1)
    household_kw = exo[L.EXO_HOUSEHOLD_KW, t0:t1]
    n_ch = scenario.n_chargers
    outage = np.asarray(plan.outage).T  # components x ticks
    link_down = outage[n_ch : n_ch + n_st, t0:t1] > 0.0  # (S, horizon)
    renewable_kw = exo[L.EXO_RENEWABLE_KW, t0:t1] - exo[L.EXO_WIND_KW, t0:t1] * outage[-1, t0:t1]
    price = exo[L.EXO_PRICE, t0:t1]
    feed_in = exo[L.EXO_FEED_IN, t0:t1]
    w_rev = weights.get("revenue_eur", 0.0)
    w_eve = weights.get("ev_energy_kwh", 0.0)
    w_unmet = weights.get("unmet_energy_kwh", 0.0) + weights.get("unmet_penalty_eur", 0.0) * float(
        cfg[L.CFG_UNMET_PENALTY]
    )
    w_over = weights.get("overload_kwh", 0.0) + weights.get("overload_penalty_eur", 0.0) * float(
        cfg[L.CFG_OVERLOAD_PENALTY]
    )
    # reward per kWh of external energy (a) and of surplus (b), per tick
    ext_coef = weights.get("energy_cost_eur", 0.0) * price + weights.get("external_energy_kwh", 0.0)
    sur_coef = weights.get("export_revenue_eur", 0.0) * feed_in if export else 0.0 * feed_in
    constant = 0.0

    # ---- (EV, tick) pairs, sorted by EV then tick -----------------------------------------
    window_ev = np.asarray(plan.connector_ev[t0:t1])
    tt, cc = np.nonzero(window_ev >= 0)
    ee = window_ev[tt, cc]
    order = np.lexsort((tt, ee))
    tt, cc, ee = tt[order] + t0, cc[order], ee[order]
    evs, first, count = np.unique(ee, return_index=True, return_counts=True)
    same_ev = ee[1:] == ee[:-1]
    if np.any(same_ev & ((tt[1:] != tt[:-1] + 1) | (cc[1:] != cc[:-1]))):
        raise OptimalModelError("an EV changes connector or leaves and returns during its stay")
    charger = scenario.conn_charger[cc]
    charger_f = scenario.charger_f
    eta = charger_f[L.CH_EFFICIENCY, charger]
    rated = charger_f[L.CH_MAX_KW, charger]
    is_dc = charger_f[L.CH_IS_DC, charger] > 0.0
    ev_max = np.where(is_dc, ev[L.EV_MAX_DC_KW, ee], ev[L.EV_MAX_AC_KW, ee])
    p_max = np.minimum(ev_max, rated)
    v_max = np.minimum(ev[L.EV_MAX_V2G_KW, ee], rated) * charger_f[L.CH_V2G, charger]
    station = scenario.charger_station[charger]

    # per EV: capacity, energies, whether it can charge / discharge at all
    cap = ev[L.EV_BATTERY_KWH, evs]
    e_arrival = ev[L.EV_SOC_ARRIVAL, evs] * cap
    e_target = ev[L.EV_SOC_TARGET, evs] * cap
    e_min = v2g_soc_min * cap
    above_target = e_arrival > e_target + _EPS * cap  # requested 0: unmet = arrival - final
    e_start = e_arrival.copy()
    for i, e in enumerate(evs.tolist()):
        if ev_energy_kwh is not None and e in ev_energy_kwh:
            e_start[i] = ev_energy_kwh[e]
            if not above_target[i]:  # a state read from float32 may overshoot the target
                e_start[i] = min(e_start[i], e_target[i])
    can_charge = (~above_target) & (p_max[first] > 0.0)
    can_discharge = (v_max[first] > 0.0) & (can_charge | (e_start > e_min + _EPS * cap))
    active = can_charge | can_discharge
    # unmet energy at departure = unmet_base - E_final
    unmet_base = np.where(above_target, e_arrival, e_target)
    constant += w_unmet * float(np.sum(unmet_base[~active] - e_start[~active]))

    n_ev = evs.shape[0]
    ev_of_pair = np.repeat(np.arange(n_ev), count)
    k_of_pair = np.arange(ee.shape[0]) - first[ev_of_pair]
    keep = active[ev_of_pair]
    has_p = keep & can_charge[ev_of_pair]
    has_q = keep & can_discharge[ev_of_pair]
    # households alone above the feeder (hard mode): see "feeder" below
    hh_over = (household_kw > feeder_kw) if not soft else np.zeros(horizon, dtype=bool)
    sel = np.flatnonzero(has_p | has_q)
    # energy variables: per active EV, one per tick boundary
    e_offset = np.full(n_ev, -1)
    n_energy = 0
    for i in np.flatnonzero(active):
        e_offset[i] = n_energy
        n_energy += count[i] + 1

    m = pyo.ConcreteModel(name="evgrid_optimal")
    pairs = sel.tolist()
    p_pairs = [j for j in pairs if has_p[j]]
    q_pairs = [j for j in pairs if has_q[j]]
    z_pairs = [j for j in pairs if has_p[j] and has_q[j]]
    p_max_l, v_max_l = p_max.tolist(), v_max.tolist()
    # outages: a charger down delivers nothing; a station without link runs on its fallback
    # (at most ST_FALLBACK_KW per connector, no V2G)
    pair_link_down = link_down[station, tt - t0]
    p_ub = np.where(
        outage[charger, tt] > 0.0,
        0.0,
        np.where(
            pair_link_down,
            np.minimum(p_max, scenario.station_f[L.ST_FALLBACK_KW, station]),
            p_max,
        ),
    ).tolist()
    q_ub = np.where((outage[charger, tt] > 0.0) | pair_link_down, 0.0, v_max).tolist()
    m.p = pyo.Var(p_pairs, bounds=lambda _, j: (0.0, p_ub[j]))
    m.q = pyo.Var(q_pairs, bounds=lambda _, j: (0.0, q_ub[j]))
    m.z = pyo.Var(z_pairs, domain=pyo.Binary)

    # energy bounds: [0 or e_min, target or start]
    e_lb = np.zeros(n_energy)
    e_ub = np.zeros(n_energy)
    for i in np.flatnonzero(active):
        o = e_offset[i]
        lo = e_min[i] if not can_charge[i] else 0.0
        hi = e_target[i] if can_charge[i] else e_start[i]
        e_lb[o : o + count[i] + 1] = min(lo, e_start[i])
        e_ub[o : o + count[i] + 1] = max(hi, e_start[i])
    e_lb_l, e_ub_l = e_lb.tolist(), e_ub.tolist()
    m.E = pyo.Var(range(n_energy), bounds=lambda _, i: (e_lb_l[i], e_ub_l[i]))
    for i in np.flatnonzero(active):
        m.E[int(e_offset[i])].fix(float(e_start[i]))

    # dynamics
    eta_l = eta.tolist()
    e_index = (e_offset[ev_of_pair] + k_of_pair).tolist()
    has_p_l, has_q_l = has_p.tolist(), has_q.tolist()

    def dynamics(m, j):
        i = e_index[j]
        expr = m.E[i + 1] - m.E[i]
        if has_p_l[j]:
            expr = expr - (eta_l[j] * dt) * m.p[j]
        if has_q_l[j]:
            expr = expr + (dt / eta_l[j]) * m.q[j]
        return expr == 0.0

    act_pairs = np.flatnonzero(keep).tolist()
    m.dynamics = pyo.Constraint(act_pairs, rule=dynamics)

    # CC-CV taper: eta dt p <= alpha - beta E, only where it can bind
    cv_rows = []  # [pair, alpha, beta, a, b]: the line is a chord of G over [a, b]
    line_cache = {}
    for i in np.flatnonzero(can_charge & active):
        j0 = first[i]
        key = (cap[i], p_max[j0], eta[j0])
        lines = line_cache.get(key)
        if lines is None:
            lines = line_cache[key] = _cv_lines(cap[i], p_max[j0], eta[j0], theta, dt, cv_segments)
        if not lines:
            continue
        gain = eta[j0] * p_max[j0] * dt
        ks = np.arange(count[i])
        e_reach = np.minimum(e_start[i] + ks * gain, e_target[i])
        for alpha, beta, a, b in lines:
            binds = alpha - beta * e_reach < gain * (1.0 - 1e-12)
            for k in np.flatnonzero(binds).tolist():
                j = j0 + k
                if has_p[j]:
                    cv_rows.append([j, alpha, beta, a, b])
    m.cv = pyo.Constraint(
        range(len(cv_rows)),
        rule=lambda m, r: (
            (eta_l[cv_rows[r][0]] * dt) * m.p[cv_rows[r][0]]
            + cv_rows[r][2] * m.E[e_index[cv_rows[r][0]]]
            <= cv_rows[r][1]
        ),
    )
    m.cv_refined = pyo.ConstraintList()
    for r, row in enumerate(cv_rows):
        row.append(m.cv[r])

    # charge / V2G exclusive; V2G only down to v2g_soc_min
    e_min_pair = e_min[ev_of_pair].tolist()
    m.z_charge = pyo.Constraint(z_pairs, rule=lambda m, j: m.p[j] <= p_max_l[j] * (1 - m.z[j]))
    m.z_discharge = pyo.Constraint(z_pairs, rule=lambda m, j: m.q[j] <= v_max_l[j] * m.z[j])
    m.z_floor = pyo.Constraint(
        z_pairs,
        rule=lambda m, j: m.E[e_index[j]] - (dt / eta_l[j]) * m.q[j] >= e_min_pair[j] * m.z[j],
    )
    # the env's own rule, gain <= target - E at tick start: implied by E <= target without
    # V2G, but with it a much tighter relaxation (no charging and V2G at once at the target)
    e_target_pair = e_target[ev_of_pair].tolist()
    m.z_headroom = pyo.Constraint(
        z_pairs,
        rule=lambda m, j: m.E[e_index[j]] + (eta_l[j] * dt) * m.p[j] <= e_target_pair[j],
    )

    # chargers: sum |p| over their connectors
    by_charger: dict[tuple[int, int], list[int]] = {}
    charger_l, tt_l = charger.tolist(), tt.tolist()
    for j in pairs:
        by_charger.setdefault((charger_l[j], tt_l[j]), []).append(j)
    charger_max = charger_f[L.CH_MAX_KW].tolist()
    charger_rows = [
        key
        for key, js in by_charger.items()
        if len(js) > 1
        and sum(max(p_max_l[j] if has_p_l[j] else 0.0, v_max_l[j] if has_q_l[j] else 0.0)
                for j in js) > charger_max[key[0]] * (1 + 1e-12)
    ]  # fmt: skip

    def charger_rule(m, k, t):
        js = by_charger[(k, t)]
        return sum(m.p[j] for j in js if has_p_l[j]) + sum(
            m.q[j] for j in js if has_q_l[j]
        ) <= _inside(charger_max[k])

    m.charger = pyo.Constraint(charger_rows, rule=charger_rule)

    # station batteries
    station_f = scenario.station_f
    bess_control = cfg[L.CFG_BESS_ACTION] > 0.0
    bess_stations = [s for s in range(n_st) if bess_control and station_f[L.ST_BESS_KWH, s] > 0.0]
    if bess_soc is None:
        bess_soc = station_f[L.ST_BESS_SOC_INIT]
    bess_idx = [(s, int(t)) for s in bess_stations for t in ticks]
    bess_kw = {s: float(station_f[L.ST_BESS_KW, s]) for s in bess_stations}

    def bess_bounds(_, s, t):
        return (0.0, 0.0 if link_down[s, t - t0] else bess_kw[s])

    m.bc = pyo.Var(bess_idx, bounds=bess_bounds)
    m.bd = pyo.Var(bess_idx, bounds=bess_bounds)
    b_idx = [(s, int(t)) for s in bess_stations for t in range(t0, t1 + 1)]

    def b_bounds(_, s, t):
        q = station_f[L.ST_BESS_KWH, s]
        start = float(bess_soc[s]) * q
        return (
            min(station_f[L.ST_BESS_SOC_MIN, s] * q, start),
            max(station_f[L.ST_BESS_SOC_MAX, s] * q, start),
        )

    m.B = pyo.Var(b_idx, bounds=b_bounds)
    for s in bess_stations:
        m.B[s, t0].fix(float(bess_soc[s]) * float(station_f[L.ST_BESS_KWH, s]))

    def bess_dynamics(m, s, t):
        e = float(station_f[L.ST_BESS_EFFICIENCY, s])
        return m.B[s, t + 1] == m.B[s, t] + (e * dt) * m.bc[s, t] - (dt / e) * m.bd[s, t]

    m.bess_dynamics = pyo.Constraint(bess_idx, rule=bess_dynamics)
    m.bess_terminal = pyo.Constraint(
        bess_stations if terminal_bess else [],
        rule=lambda m, s: m.B[s, t1] >= m.B[s, t0].value,
    )

    # stations: net import n[s, t]
    by_station: dict[tuple[int, int], list[int]] = {}
    station_l = station.tolist()
    for j in pairs:
        by_station.setdefault((station_l[j], tt_l[j]), []).append(j)
    for s, t in bess_idx:
        by_station.setdefault((s, t), [])
    n_idx = sorted(by_station)
    grid_kw = station_f[L.ST_GRID_KW].tolist()
    max_in = {}
    max_out = {}
    for key in n_idx:
        js = by_station[key]
        b = bess_kw.get(key[0], 0.0)
        max_in[key] = sum(p_max_l[j] for j in js if has_p_l[j]) + b
        max_out[key] = sum(v_max_l[j] for j in js if has_q_l[j]) + b

    def n_bounds(_, s, t):
        if soft:
            return (-max_out[s, t], max_in[s, t])
        inside = _inside(grid_kw[s])
        return (-min(max_out[s, t], inside), min(max_in[s, t], inside))

    m.n = pyo.Var(n_idx, bounds=n_bounds)

    def station_rule(m, s, t):
        js = by_station[(s, t)]
        expr = sum(m.p[j] for j in js if has_p_l[j]) - sum(m.q[j] for j in js if has_q_l[j])
        if (s, t) in m.bc:
            expr = expr + m.bc[s, t] - m.bd[s, t]
        return m.n[s, t] == expr

    m.station = pyo.Constraint(n_idx, rule=station_rule)
    n_by_tick: dict[int, list[tuple[int, int]]] = {}
    for key in n_idx:
        n_by_tick.setdefault(key[1], []).append(key)

    # overload (soft mode: stations and feeder; hard mode: households above the feeder)
    over_station = [k for k in n_idx if soft and max(max_in[k], max_out[k]) > grid_kw[k[0]]]
    over_feeder = []
    for i, t in enumerate(ticks.tolist()):
        keys = n_by_tick.get(t, [])
        top = household_kw[i] + sum(m.n[k].ub for k in keys)
        if top > feeder_kw and (soft or hh_over[i]):
            if keys:
                over_feeder.append(t)
            else:
                constant += w_over * (household_kw[i] - feeder_kw) * dt
    if (over_station or over_feeder) and w_over > 0.0:
        raise OptimalModelError(
            f"the reward weights overload with {w_over} per kWh (> 0); the model needs "
            "overload penalised (or not weighted)"
        )
    m.o_station = pyo.Var(over_station, domain=pyo.NonNegativeReals)
    m.o_station_hi = pyo.Constraint(
        over_station, rule=lambda m, s, t: m.o_station[s, t] >= m.n[s, t] - grid_kw[s]
    )
    m.o_station_lo = pyo.Constraint(
        over_station, rule=lambda m, s, t: m.o_station[s, t] >= -m.n[s, t] - grid_kw[s]
    )
    m.o_feeder = pyo.Var(over_feeder, domain=pyo.NonNegativeReals)
    m.o_feeder_rule = pyo.Constraint(
        over_feeder,
        rule=lambda m, t: (
            m.o_feeder[t] >= household_kw[t - t0] + sum(m.n[k] for k in n_by_tick[t]) - feeder_kw
        ),
    )
    feeder_rows = [
        t
        for i, t in enumerate(ticks.tolist())
        if not soft
        and not hh_over[i]
        and t in n_by_tick
        and household_kw[i] + sum(m.n[k].ub for k in n_by_tick[t]) > feeder_kw
    ]
    m.feeder = pyo.Constraint(
        feeder_rows,
        rule=lambda m, t: (
            household_kw[t - t0] + sum(m.n[k] for k in n_by_tick[t]) <= _inside(feeder_kw)
        ),
    )
    # Households alone above the feeder (hard mode): either the stations export enough that
    # nothing is projected (v = 1), or the env cuts all charging to zero and books the rest
    # as overload (v = 0; projection.py step 4 with zero floors, since n >= -grid).
    v_ticks = [t for i, t in enumerate(ticks.tolist()) if hh_over[i] and t in n_by_tick]
    m.v = pyo.Var(v_ticks, domain=pyo.Binary)
    v_rows = [
        (j, t) for t in v_ticks for key in n_by_tick[t] for j in by_station[key] if has_p_l[j]
    ]
    m.v_charge = pyo.Constraint(
        range(len(v_rows)),
        rule=lambda m, r: m.p[v_rows[r][0]] <= p_max_l[v_rows[r][0]] * m.v[v_rows[r][1]],
    )
    v_bess = [(s, t) for t in v_ticks for s, tt_ in n_by_tick[t] if (s, tt_) in m.bc]
    m.v_bess = pyo.Constraint(v_bess, rule=lambda m, s, t: m.bc[s, t] <= bess_kw[s] * m.v[t])

    def v_feeder(m, t):
        excess = household_kw[t - t0] + sum(m.n[k] for k in n_by_tick[t]) - _inside(feeder_kw)
        big = household_kw[t - t0] - feeder_kw + sum(max(m.n[k].ub, 0.0) for k in n_by_tick[t])
        return excess <= big * (1 - m.v[t])

    m.v_feeder = pyo.Constraint(v_ticks, rule=v_feeder)

    # market: external x and surplus y, kWh
    market_ticks = [t for t in ticks.tolist() if t in n_by_tick]
    for i, t in enumerate(ticks.tolist()):
        if t not in n_by_tick:
            net = (household_kw[i] - renewable_kw[i]) * dt
            constant += ext_coef[i] * max(net, 0.0) + sur_coef[i] * max(-net, 0.0)
    m.x = pyo.Var(market_ticks, domain=pyo.NonNegativeReals)
    m.y = pyo.Var(market_ticks, domain=pyo.NonNegativeReals)
    m.market = pyo.Constraint(
        market_ticks,
        rule=lambda m, t: (
            m.x[t] - m.y[t]
            == (household_kw[t - t0] - renewable_kw[t - t0]) * dt
            + dt * sum(m.n[k] for k in n_by_tick[t])
        ),
    )
    u_ticks = [t for t in market_ticks if ext_coef[t - t0] + sur_coef[t - t0] > 1e-12]
    m.u = pyo.Var(u_ticks, domain=pyo.Binary)

    def x_big(t):
        return (household_kw[t - t0] + sum(max(m.n[k].ub, 0.0) for k in n_by_tick[t])) * dt

    def y_big(t):
        return (renewable_kw[t - t0] + sum(max(-m.n[k].lb, 0.0) for k in n_by_tick[t])) * dt

    m.u_x = pyo.Constraint(u_ticks, rule=lambda m, t: m.x[t] <= x_big(t) * m.u[t])
    m.u_y = pyo.Constraint(u_ticks, rule=lambda m, t: m.y[t] <= y_big(t) * (1 - m.u[t]))

    # objective
    tariff = np.asarray(plan.ev_tariff)[ee]
    p_coef = (w_rev * tariff * dt + w_eve * eta * dt).tolist()
    q_coef = (-w_rev * tariff * dt - w_eve * dt / eta).tolist()
    terms = [p_coef[j] * m.p[j] for j in p_pairs if p_coef[j] != 0.0]
    terms += [q_coef[j] * m.q[j] for j in q_pairs if q_coef[j] != 0.0]
    if w_unmet != 0.0:
        for i in np.flatnonzero(active):
            constant += w_unmet * float(unmet_base[i])
            terms.append(-w_unmet * m.E[int(e_offset[i] + count[i])])
    for t in market_ticks:
        if ext_coef[t - t0] != 0.0:
            terms.append(float(ext_coef[t - t0]) * m.x[t])
        if sur_coef[t - t0] != 0.0:
            terms.append(float(sur_coef[t - t0]) * m.y[t])
    if w_over != 0.0:
        terms += [(w_over * dt) * m.o_station[k] for k in over_station]
        terms += [(w_over * dt) * m.o_feeder[t] for t in over_feeder]
    # a negligible cost on BESS throughput: where charging and discharging at once would
    # cost nothing (energy left at the end has no value), the solver does not do it
    terms += [-_BESS_THROUGHPUT_EUR_PER_KWH * dt * (m.bc[k] + m.bd[k]) for k in bess_idx]
    if not terms:  # nothing the decisions change: any feasible schedule is optimal
        m.zero = pyo.Var(bounds=(0.0, 0.0))
        terms = [0.0 * m.zero]
    terms.append(constant)  # HiGHS's objective (and its MIP gap) is then the reward itself
    m.reward = pyo.Objective(expr=pyo.quicksum(terms), sense=pyo.maximize)

    model = OptimalModel(
        model=m,
        scenario=scenario,
        start_tick=t0,
        n_ticks=horizon,
        objective_constant=constant,
        build_s=0.0,
        pair_tick=tt[sel],
        pair_connector=cc[sel],
        pair_rated_kw=rated[sel],
        pair_has_p=has_p[sel],
        pair_has_q=has_q[sel],
        pair_ids=pairs,
        bess_stations=bess_stations,
        cv=_CVData(
            rows=cv_rows,
            e_index=e_index,
            eta=eta_l,
            p_max=p_max_l,
            cap=cap[ev_of_pair].tolist(),
            e_target=e_target_pair,
            theta=theta,
            dt_h=dt,
        ),
    )
    # BESS burning (charge and discharge at once) can only pay where consuming has value
    over_set = set(over_station)
    burn = [
        (s, t)
        for s, t in bess_idx
        if max(ext_coef[t - t0], -sur_coef[t - t0]) > 1e-12 or (s, t) in over_set
    ]
    model.build_s = time.perf_counter() - t_begin
    model.add_bess_binaries(burn)
    return model


# --------------------------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------------------------


def _actions(model: OptimalModel) -> np.ndarray:
    m = model.model
    sc = model.scenario
    actions = np.zeros((model.n_ticks, sc.n_actions), dtype=np.float64)
    for row, j in enumerate(model.pair_ids):
        kw = 0.0
        if model.pair_has_p[row]:
            kw += m.p[j].value or 0.0
        if model.pair_has_q[row]:
            kw -= m.q[j].value or 0.0
        actions[model.pair_tick[row] - model.start_tick, model.pair_connector[row]] = (
            kw / model.pair_rated_kw[row]
        )
    n_c = sc.n_connectors
    for s in model.bess_stations:
        power = float(sc.station_f[L.ST_BESS_KW, s])
        for t in range(model.start_tick, model.start_tick + model.n_ticks):
            kw = (m.bc[s, t].value or 0.0) - (m.bd[s, t].value or 0.0)
            actions[t - model.start_tick, n_c + s] = kw / power
    actions = np.clip(actions, -1.0, 1.0)
    # float32, rounded towards zero: a rounded action never asks for more than the plan
    rounded = actions.astype(np.float32)
    up = np.abs(rounded) > np.abs(actions)
    rounded[up] = np.nextafter(rounded[up], np.float32(0.0))
    return rounded


def _bess_burning(model: OptimalModel) -> list[tuple[int, int]]:
    m = model.model
    return [
        key
        for key in m.bc
        if min(m.bc[key].value or 0.0, m.bd[key].value or 0.0) > _COMPLEMENTARITY_TOL_KW
    ]


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

    Rounds: after each solve, CC-CV chords that hold a charging EV back by more than
    ``cv_tol_kwh`` are split at the solution (:meth:`OptimalModel.refine_cv`) and BESS that
    charge and discharge in the same tick get a binary there; the model is solved again
    (HiGHS keeps the model, Pyomo sends only the changes) until nothing changes, a round
    gains nothing, or the rounds or the time run out. The first round solves the MILP; later
    rounds keep its binaries fixed (they only polish the continuous schedule, so they are
    LPs). Every round's schedule is feasible and at least as good as the one before; the
    last one is returned.

    Never raises for a solver outcome: an infeasible, unbounded or timed-out model (or a
    solver error) gives a :class:`Schedule` with that ``status``, ``actions=None`` unless a
    feasible schedule was found, and the solver's message.

    Args:
        model: from :func:`build_model` (changed in place by the rounds).
        time_limit_s: wall-clock limit of all rounds together, s (None: no limit).
        mip_rel_gap: relative MIP gap at which HiGHS stops (models with binaries).
        cv_tol_kwh: CC-CV approximation tolerance per EV and tick, kWh (inf: no refinement).
        threads: HiGHS threads (None: its default).
        max_rounds: solves at most.

    Returns:
        The :class:`Schedule` (``actions`` of shape (n_ticks, n_actions), float32).
    """
    from pyomo.contrib.solver.common.factory import SolverFactory

    solver = SolverFactory("highs")
    solve_s = 0.0
    rounds = 0
    # the returned schedule: status, message, actions, reward, MIP gap
    status, message, actions, result, result_gap = "error", "", None, math.nan, 0.0
    deadline = None if time_limit_s is None else time.perf_counter() + time_limit_s
    options = {"mip_rel_gap": mip_rel_gap, "output_flag": False}
    fixed: list = []
    while True:
        rounds += 1
        # LPs (no binaries, or all fixed): the primal simplex is 3-5x faster here than
        # HiGHS's default dual simplex; MILPs keep HiGHS's defaults
        options["simplex_strategy"] = 1 if model.n_binaries else 4
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        start = time.perf_counter()
        try:
            res = solver.solve(
                model.model,
                load_solutions=False,
                raise_exception_on_nonoptimal_result=False,
                time_limit=left,
                threads=threads,
                solver_options=options,
            )
        except Exception as exc:  # a solver failure is a status, not a crash
            solve_s += time.perf_counter() - start
            if actions is None:
                status, message = "error", f"{type(exc).__name__}: {exc}"
            else:
                message += f"; round {rounds}: {type(exc).__name__}: {exc}"
            break
        solve_s += time.perf_counter() - start
        round_status, round_message, has_solution = _round_status(res)
        if not has_solution:
            if actions is None:
                status, message = round_status, round_message
            else:  # keep the last round's schedule
                message += f"; round {rounds}: {round_message}"
            break
        res.solution_loader.load_vars()
        m = model.model
        regulariser = (
            _BESS_THROUGHPUT_EUR_PER_KWH
            * model.scenario.cfg[L.CFG_DT_H]
            * sum((m.bc[k].value or 0.0) + (m.bd[k].value or 0.0) for k in m.bc)
        )
        objective = float(res.incumbent_objective) + regulariser
        gap = 0.0
        bound = res.objective_bound
        if model.n_binaries and bound is not None and math.isfinite(bound):
            gap = abs(bound - res.incumbent_objective) / max(abs(res.incumbent_objective), 1e-9)
        burning = _bess_burning(model)
        last = (
            round_status != "optimal"
            or rounds >= max_rounds
            or (deadline is not None and time.perf_counter() >= deadline)
        )
        if burning and not last:
            model.add_bess_binaries(burning)
            continue
        stalled = actions is not None and objective - result <= 1e-9 * abs(result)
        if actions is None or objective >= result:
            status, message = round_status, round_message
            if burning:
                message += f"; BESS charges and discharges at once at {len(burning)} ticks"
            actions, result = _actions(model), objective
            result_gap = gap if not fixed else result_gap
        if last or stalled:
            break
        if not fixed:  # later rounds polish this solution with its binaries fixed: LPs
            fixed = [v for v in m.component_data_objects(pyo.Var) if v.is_binary()]
            fixed = [v for v in fixed if not v.fixed]
            for v in fixed:
                v.fix(round(v.value or 0.0))
        if not (math.isfinite(cv_tol_kwh) and model.refine_cv(cv_tol_kwh)):
            break
    for v in fixed:
        v.unfix()
    return Schedule(
        status=status,
        objective_eur=result,
        actions=actions,
        build_s=model.build_s,
        solve_s=solve_s,
        n_variables=model.n_variables,
        n_constraints=model.n_constraints,
        n_binaries=model.n_binaries,
        mip_gap=result_gap,
        rounds=rounds,
        message=message,
    )


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


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


class OptimalPolicy:
    """The perfect-foresight optimum as a :class:`baselines.policy.Policy`.

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

    def __init__(self, scenario: Scenario, time_limit_s: float | None = 120.0,
                 mip_rel_gap: float = 1e-4, cv_segments: int = 2):  # fmt: skip
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

    def solver_status(self) -> SolverStatus:
        """The last episode's solve (:class:`~baselines.policy.SolverStatus`)."""
        return SolverStatus(self.schedule.status, self.schedule.mip_gap)

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        tick = int(info["tick"])
        if self.schedule is None or not self.schedule.ok:
            return np.zeros(self.scenario.n_actions, dtype=np.float32)
        return self.schedule.actions[tick].copy()


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

    def __init__(self, scenario: Scenario, horizon: int = 16, replan_every: int = 4,
                 time_limit_s: float | None = 30.0, mip_rel_gap: float = 1e-4,
                 cv_segments: int = 2):  # fmt: skip
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

    def solver_status(self) -> SolverStatus:
        """The last episode's windows together: ``optimal`` when every window was, else the
        first other status; the largest MIP gap (:class:`~baselines.policy.SolverStatus`)."""
        statuses = [s.status for s in self.schedules if s.status != "optimal"]
        return SolverStatus(
            statuses[0] if statuses else "optimal", max(s.mip_gap for s in self.schedules)
        )

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        sc = self.scenario
        tick = int(info["tick"])
        if self._actions is None or tick - self._start >= self.replan_every:
            n_c, n_s = sc.n_connectors, sc.n_stations
            soc = observation[n_c : 2 * n_c].astype(np.float64)
            energy = {}
            for c, e in enumerate(np.asarray(info["connector_ev"]).tolist()):
                if e >= 0:
                    energy[e] = float(soc[c]) * float(self._plan.ev[L.EV_BATTERY_KWH, e])
            bess_soc = observation[5 * n_c : 5 * n_c + n_s].astype(np.float64)
            n_total = sc.config.episode_ticks
            model = build_model(
                sc, self._plan, start_tick=tick, horizon=min(self.horizon, n_total - tick),
                ev_energy_kwh=energy, bess_soc=bess_soc, cv_segments=self.cv_segments,
            )  # fmt: skip
            schedule = solve(model, self.time_limit_s, mip_rel_gap=self.mip_rel_gap)
            self.schedules.append(schedule)
            self._start = tick
            self._actions = schedule.actions
            if self._actions is None:
                self._actions = np.zeros((model.n_ticks, sc.n_actions), dtype=np.float32)
        return self._actions[tick - self._start].copy()
