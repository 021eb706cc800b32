"""EVs on their connectors: battery energy, charging and V2G power, the CC-CV taper, the V2G
floor, the chargers their connectors share, and the EVs' reward terms.

``e`` an EV, ``j`` one (EV, tick) pair it is plugged in (:class:`Pairs`), energies in kWh at
tick boundaries, powers in kW averaged over a tick of ``dt`` hours:

* EV energy ``E[e, k]`` at the start of its k-th plugged tick, fixed at its arrival energy;
  ``E[e, k+1] = E[e, k] + eta * dt * p[j] - dt / eta * q[j]`` with charging power ``p`` and
  V2G power ``q`` (grid side, charger efficiency ``eta``; ``tick._arrive`` and
  ``battery.battery_energy_kwh``). ``p <= min(EV max AC/DC kW, charger kW)``,
  ``q <= min(EV V2G kW, charger kW)`` only on V2G chargers, ``E <= target energy`` (the env
  stops at the target soc), discharging only down to ``v2g_soc_min``. A charger that is down
  delivers nothing; at a station whose link is down the powers are forced
  (:mod:`baselines.optimal.fallback`).
* The two-stage CC-CV taper (:mod:`baselines.optimal.cccv`) as linear constraints on the
  energy at tick start: ``eta dt p <= min(eta P dt, A(E), chords of G over the mixed
  interval)``, an inner approximation equal to ``G`` outside that interval, so every planned
  power is attainable on replay (``cv_segments`` chords; more chords, less conservative; and
  :meth:`CcCv.refine` splits the chords that bind at a solution).
* Charging and V2G on one connector at once: drivers pay (and are paid) their tariff per
  kWh into (out of) their batteries, so doing both only loses the round trip's energy; a
  1e-6 EUR/kWh cost on V2G energy keeps the LP from it where that energy is free. A binary
  ``z[j]`` (``p <= P (1 - z)``, ``q <= V z``) is needed only where consuming energy can pay
  (a negative price or feed-in, soft-mode export overload) and for an EV that starts below
  the V2G floor (``E - dt / eta q >= e_min z``: the floor binds only when discharging);
  elsewhere the floor is linear. Without those the model is an LP.
* Chargers: the powers ``|p|, |q|`` of their connectors add up to at most the charger's.
* Reward: tariff revenue ``tariff * (eta p - q / eta) dt`` (and the EV-energy weight on the
  same battery energy), unmet energy ``target - E_departure`` (times its weight), V2G's wear
  ``CFG_V2G_DEGRADATION * q dt / eta`` (times the degradation weight); EVs still plugged in
  at a window's end count as departing then.

Inner restriction: EVs that arrive above their target soc only discharge (the env would let
them recharge to the target after V2G).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData

from baselines.optimal import cccv, fallback
from baselines.optimal.reward import THROUGHPUT_EUR_PER_KWH, OptimalModelError, RewardRates, Terms
from baselines.optimal.window import Window, inside_kw
from evgrid_gym.core import layout as L
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.scenario import Scenario

EPS = 1e-9
"""Relative tolerance on EV energies (times the capacity)."""


@dataclass(frozen=True)
class Evs:
    """The EVs plugged in during the window, indexed by ``i`` (by their index in ``plan.ev``);
    arrays of shape (N,).

    Attributes:
        first: their first pair; count: their pairs (ticks plugged in the window).
        capacity_kwh, target_kwh: battery capacity and target energy, kWh.
        floor_kwh: the V2G floor (``v2g_soc_min`` times the capacity), kWh.
        start_kwh: energy at the window's start (or arrival), kWh.
        unmet_base_kwh: the unmet energy at departure is this minus the final energy, kWh
            (the target, or the arrival energy of an EV above its target).
        can_charge, can_discharge: whether the EV can charge / discharge at all.
        energy_offset: index of ``E`` at its first plugged tick (-1 for an inactive EV).
        n_energy: number of energy variables.
    """

    first: np.ndarray
    count: np.ndarray
    capacity_kwh: np.ndarray
    target_kwh: np.ndarray
    floor_kwh: np.ndarray
    start_kwh: np.ndarray
    unmet_base_kwh: np.ndarray
    can_charge: np.ndarray
    can_discharge: np.ndarray
    energy_offset: np.ndarray
    n_energy: int

    @property
    def active(self) -> np.ndarray:
        """EVs with a decision (they can charge or discharge), bool, shape (N,)."""
        return self.can_charge | self.can_discharge


@dataclass(frozen=True)
class Pairs:
    """(EV, tick) pairs, an EV plugged into a connector during a tick, sorted by EV then tick
    and indexed by ``j``; arrays of shape (J,).

    Attributes:
        tick, connector, charger, station: where and when (absolute tick).
        plan_ev: the EV's index into ``plan.ev``; ev: its index ``i`` into :class:`Evs`.
        eta: the charger's efficiency; rated_kw: the connector's rated power (its action
            scale), kW.
        p_max_kw, v_max_kw: charging / V2G limit (EV and charger), kW.
        p_ub_kw, q_ub_kw: the same with outages: 0 on a charger down, the fallback power at a
            station whose link is down (no V2G), kW.
        fallback_kw: the fallback power, kW; forced: the powers the env forces (a station
            whose link is down, a charger up).
        has_p, has_q: whether the pair has a charging / V2G variable.
        energy_index: index of ``E`` at its tick start (pairs with a decision).
        decisions: the pairs with a decision (of active EVs), ascending.
    """

    tick: np.ndarray
    connector: np.ndarray
    charger: np.ndarray
    station: np.ndarray
    plan_ev: np.ndarray
    ev: np.ndarray
    eta: np.ndarray
    rated_kw: np.ndarray
    p_max_kw: np.ndarray
    v_max_kw: np.ndarray
    p_ub_kw: np.ndarray
    q_ub_kw: np.ndarray
    fallback_kw: np.ndarray
    forced: np.ndarray
    has_p: np.ndarray
    has_q: np.ndarray
    energy_index: np.ndarray
    decisions: list[int]


class CvRow(NamedTuple):
    """One CC-CV row of a charging pair: ``eta dt p <= line.alpha_kwh - line.beta E``."""

    pair: int
    line: cccv.Line
    constraint: ConstraintData


# --------------------------------------------------------------------------------------------
# Data: the window's EVs and (EV, tick) pairs
# --------------------------------------------------------------------------------------------


def _plugged(plan: EpisodePlan, window: Window):
    """``(tick, connector, plan_ev)`` of every plugged (EV, tick), sorted by EV then tick.

    Raises:
        OptimalModelError: an EV changes connector or leaves and returns during its stay.
    """
    t0, t1 = window.t0, window.t1
    window_ev = np.asarray(plan.connector_ev[t0:t1])
    tt, cc = np.nonzero(window_ev >= 0)
    ee = window_ev[tt, cc]
    order = np.lexsort((tt, ee))
    tt, cc, ee = tt[order] + t0, cc[order], ee[order]
    same_ev = ee[1:] == ee[:-1]
    if np.any(same_ev & ((tt[1:] != tt[:-1] + 1) | (cc[1:] != cc[:-1]))):
        raise OptimalModelError("an EV changes connector or leaves and returns during its stay")
    return tt, cc, ee


def _evs(scenario, plan, ee, p_max, v_max, ev_energy_kwh) -> Evs:
    """The :class:`Evs` of the pairs' EVs ``ee`` (sorted) with the pairs' limits."""
    ev = plan.ev
    evs, first, count = np.unique(ee, return_index=True, return_counts=True)
    cap = ev[L.EV_BATTERY_KWH, evs]
    e_arrival = ev[L.EV_SOC_ARRIVAL, evs] * cap
    e_target = ev[L.EV_SOC_TARGET, evs] * cap
    e_min = float(scenario.cfg[L.CFG_V2G_SOC_MIN]) * cap
    above_target = e_arrival > e_target + EPS * cap  # requested 0: unmet = arrival - final
    e_start = e_arrival.copy()
    for i, e in enumerate(evs.tolist()):
        if ev_energy_kwh is not None and e in ev_energy_kwh:
            e_start[i] = ev_energy_kwh[e]
            if not above_target[i]:  # a state read from float32 may overshoot the target
                e_start[i] = min(e_start[i], e_target[i])
    can_charge = (~above_target) & (p_max[first] > 0.0)
    can_discharge = (v_max[first] > 0.0) & (can_charge | (e_start > e_min + EPS * cap))
    # energy variables: per active EV, one per tick boundary
    e_offset = np.full(evs.shape[0], -1)
    n_energy = 0
    for i in np.flatnonzero(can_charge | can_discharge):
        e_offset[i] = n_energy
        n_energy += count[i] + 1
    return Evs(
        first=first,
        count=count,
        capacity_kwh=cap,
        target_kwh=e_target,
        floor_kwh=e_min,
        start_kwh=e_start,
        unmet_base_kwh=np.where(above_target, e_arrival, e_target),
        can_charge=can_charge,
        can_discharge=can_discharge,
        energy_offset=e_offset,
        n_energy=n_energy,
    )


def plugged(
    scenario: Scenario, plan: EpisodePlan, window: Window, ev_energy_kwh: dict[int, float] | None
) -> tuple[Evs, Pairs]:
    """The window's EVs and (EV, tick) pairs.

    Args:
        ev_energy_kwh: battery energy, kWh, of EVs already plugged in at the window's start
            (index into ``plan.ev``); default their arrival energy.

    Raises:
        OptimalModelError: an EV changes connector or leaves and returns during its stay.
    """
    tt, cc, ee = _plugged(plan, window)
    charger_f, ev = scenario.charger_f, plan.ev
    charger = scenario.connector_charger[cc]
    rated = charger_f[L.CH_MAX_KW, charger]
    is_dc = charger_f[L.CH_IS_DC, charger] > 0.0
    p_max = np.minimum(np.where(is_dc, ev[L.EV_MAX_DC_KW, ee], ev[L.EV_MAX_AC_KW, ee]), rated)
    v_max = np.minimum(ev[L.EV_MAX_V2G_KW, ee], rated) * charger_f[L.CH_V2G, charger]
    station = scenario.charger_station[charger]
    evs = _evs(scenario, plan, ee, p_max, v_max, ev_energy_kwh)
    ev_of_pair = np.repeat(np.arange(evs.first.shape[0]), evs.count)
    k_of_pair = np.arange(ee.shape[0]) - evs.first[ev_of_pair]
    keep = evs.active[ev_of_pair]
    has_p = keep & evs.can_charge[ev_of_pair]
    # outages: a charger down delivers nothing; a station without link runs on its fallback
    # (CH_FALLBACK_KW per connector, no V2G): the env sets those powers, they are *forced*
    charger_down = window.component_down[charger, tt] > 0.0
    link_down = window.link_down[station, tt - window.t0]
    fallback_kw = np.minimum(charger_f[L.CH_FALLBACK_KW, charger], p_max)
    pairs = Pairs(
        tick=tt,
        connector=cc,
        charger=charger,
        station=station,
        plan_ev=ee,
        ev=ev_of_pair,
        eta=charger_f[L.CH_EFFICIENCY, charger],
        rated_kw=rated,
        p_max_kw=p_max,
        v_max_kw=v_max,
        p_ub_kw=np.where(charger_down, 0.0, np.where(link_down, fallback_kw, p_max)),
        q_ub_kw=np.where(charger_down | link_down, 0.0, v_max),
        fallback_kw=fallback_kw,
        forced=has_p & link_down & ~charger_down,
        has_p=has_p,
        has_q=keep & evs.can_discharge[ev_of_pair],
        energy_index=evs.energy_offset[ev_of_pair] + k_of_pair,
        decisions=np.flatnonzero(keep).tolist(),
    )
    return evs, pairs


# --------------------------------------------------------------------------------------------
# The EV block
# --------------------------------------------------------------------------------------------


def add_evs(
    b: pyo.Block,
    scenario: Scenario,
    evs: Evs,
    pairs: Pairs,
    window: Window,
    rates: RewardRates,
    cv_segments: int,
) -> CcCv:
    """Adds the EVs' variables and constraints to the empty block ``b`` (and the forced
    pairs to ``b.fallback``); returns the CC-CV rows."""
    _add_variables(b, evs, pairs, window, rates)
    _add_dynamics(b, pairs, window.dt_h)
    theta = float(scenario.cfg[L.CFG_TRANSITION_SOC])
    cc_cv = _add_cc_cv(b, evs, pairs, theta, window.dt_h, cv_segments)
    _add_v2g_rules(b, evs, pairs, window.dt_h)
    b.fallback = pyo.Block(doc="the forced powers at stations whose link is down")
    forced = np.flatnonzero(pairs.forced).tolist()
    gain_kwh = pairs.eta * pairs.p_max_kw * window.dt_h
    fallback.add_fallback(b.fallback, b, evs, pairs, forced, gain_kwh, theta, window.dt_h)
    return cc_cv


def _add_variables(b, evs, pairs, window, rates) -> None:
    """``charge_kw`` (p), ``discharge_kw`` (q), ``discharging`` (z), ``energy_kwh`` (E)."""
    decisions = pairs.decisions
    has_p, has_q = pairs.has_p.tolist(), pairs.has_q.tolist()
    p_pairs = [j for j in decisions if has_p[j]]
    q_pairs = [j for j in decisions if has_q[j]]
    # a binary is needed only where consuming energy can pay and where the EV starts below
    # the V2G floor (which binds only once it discharges)
    burn_pays = rates.burn_pays
    below_floor = (evs.start_kwh < evs.floor_kwh - EPS * evs.capacity_kwh)[pairs.ev]
    z_pairs = [
        j
        for j in decisions
        if has_p[j]
        and has_q[j]
        and (window.soft or burn_pays[pairs.tick[j] - window.t0] or below_floor[j])
    ]
    p_ub, q_ub = pairs.p_ub_kw.tolist(), pairs.q_ub_kw.tolist()
    b.charging_pairs = pyo.Set(initialize=p_pairs, dimen=1, doc="pairs that may charge")
    b.discharging_pairs = pyo.Set(initialize=q_pairs, dimen=1, doc="pairs that may discharge")
    b.charge_kw = pyo.Var(
        b.charging_pairs,
        bounds=lambda _, j: (0.0, p_ub[j]),
        doc="p: charging power of each (EV, tick) pair, grid side, kW",
    )
    b.discharge_kw = pyo.Var(
        b.discharging_pairs,
        bounds=lambda _, j: (0.0, q_ub[j]),
        doc="q: V2G power of each (EV, tick) pair, grid side, kW",
    )
    b.discharging = pyo.Var(
        z_pairs, domain=pyo.Binary, doc="z: 1 when the pair may discharge, 0 when it may charge (-)"
    )
    # energy bounds: [0 or e_min, target or start]
    e_lb, e_ub = np.zeros(evs.n_energy), np.zeros(evs.n_energy)
    for i in np.flatnonzero(evs.active):
        o, n = evs.energy_offset[i], evs.count[i] + 1
        lo = evs.floor_kwh[i] if not evs.can_charge[i] else 0.0
        hi = evs.target_kwh[i] if evs.can_charge[i] else evs.start_kwh[i]
        e_lb[o : o + n] = min(lo, evs.start_kwh[i])
        e_ub[o : o + n] = max(hi, evs.start_kwh[i])
    e_lb_l, e_ub_l = e_lb.tolist(), e_ub.tolist()
    b.energy_kwh = pyo.Var(
        range(evs.n_energy),
        bounds=lambda _, i: (e_lb_l[i], e_ub_l[i]),
        doc="E: EV battery energy at each plugged tick boundary, kWh",
    )
    for i in np.flatnonzero(evs.active):
        b.energy_kwh[int(evs.energy_offset[i])].fix(float(evs.start_kwh[i]))


def _add_dynamics(b, pairs, dt) -> None:
    eta = pairs.eta.tolist()
    e_index = pairs.energy_index.tolist()
    has_p, has_q = pairs.has_p.tolist(), pairs.has_q.tolist()
    p, q, energy = b.charge_kw, b.discharge_kw, b.energy_kwh

    def dynamics(_, j):
        i = e_index[j]
        expr = energy[i + 1] - energy[i]
        if has_p[j]:
            expr = expr - (eta[j] * dt) * p[j]
        if has_q[j]:
            expr = expr + (dt / eta[j]) * q[j]
        return expr == 0.0

    b.dynamics = pyo.Constraint(
        pairs.decisions, rule=dynamics, doc="E[k+1] = E[k] + eta dt p - dt / eta q, kWh"
    )


def _cv_candidates(evs, pairs, theta, dt, segments) -> list[tuple[int, cccv.Line]]:
    """``(pair, line)`` of the CC-CV lines that can bind: below the CC gain ``eta P dt`` at
    the most energy the EV can hold at the pair's tick start."""
    rows, line_cache = [], {}
    eta, p_max = pairs.eta, pairs.p_max_kw
    for i in np.flatnonzero(evs.can_charge):
        j0 = evs.first[i]
        key = (evs.capacity_kwh[i], p_max[j0], eta[j0])
        lines = line_cache.get(key)
        if lines is None:
            lines = line_cache[key] = cccv.cv_lines(*key, theta, dt, segments)
        if not lines:
            continue
        gain = eta[j0] * p_max[j0] * dt
        ks = np.arange(evs.count[i])
        e_reach = np.minimum(evs.start_kwh[i] + ks * gain, evs.target_kwh[i])
        for line in lines:
            binds = line.alpha_kwh - line.beta * e_reach < gain * (1.0 - 1e-12)
            for k in np.flatnonzero(binds).tolist():
                j = j0 + k
                if pairs.has_p[j] and not pairs.forced[j]:  # forced pairs: fallback
                    rows.append((j, line))
    return rows


def _add_cc_cv(b, evs, pairs, theta, dt, segments) -> CcCv:
    """The CC-CV rows ``eta dt p <= alpha - beta E``, only where they can bind."""
    candidates = _cv_candidates(evs, pairs, theta, dt, segments)
    eta = pairs.eta.tolist()
    e_index = pairs.energy_index.tolist()
    p, energy = b.charge_kw, b.energy_kwh

    def cc_cv(_, r):
        j, line = candidates[r]
        return (eta[j] * dt) * p[j] + line.beta * energy[e_index[j]] <= line.alpha_kwh

    b.cc_cv = pyo.Constraint(
        range(len(candidates)), rule=cc_cv, doc="CC-CV taper: eta dt p <= alpha - beta E, kWh"
    )
    b.cc_cv_refined = pyo.ConstraintList(
        doc="CC-CV chords split at a solution (CcCv.refine): eta dt p <= alpha - beta E, kWh"
    )
    rows = [CvRow(j, line, b.cc_cv[r]) for r, (j, line) in enumerate(candidates)]
    return CcCv(
        block=b,
        rows=rows,
        energy_index=e_index,
        eta=eta,
        p_max_kw=pairs.p_max_kw.tolist(),
        capacity_kwh=evs.capacity_kwh[pairs.ev].tolist(),
        target_kwh=evs.target_kwh[pairs.ev].tolist(),
        theta=theta,
        dt_h=dt,
    )


def _add_v2g_rules(b, evs, pairs, dt) -> None:
    """Charging and V2G exclusive where ``z`` exists; the V2G floor, which binds only when
    discharging (linear for an EV that starts above it: it never gets below); and the env's
    own rule ``gain <= target - E`` at tick start, implied by ``E <= target`` without V2G but
    with it a much tighter relaxation (no charging and V2G at once at the target)."""
    eta, p_max, v_max = pairs.eta.tolist(), pairs.p_max_kw.tolist(), pairs.v_max_kw.tolist()
    e_index = pairs.energy_index.tolist()
    p, q, z, energy = b.charge_kw, b.discharge_kw, b.discharging, b.energy_kwh
    z_pairs = list(z)
    b.charge_exclusive = pyo.Constraint(
        z_pairs, rule=lambda _, j: p[j] <= p_max[j] * (1 - z[j]), doc="p <= P (1 - z), kW"
    )
    b.discharge_exclusive = pyo.Constraint(
        z_pairs, rule=lambda _, j: q[j] <= v_max[j] * z[j], doc="q <= V z, kW"
    )
    z_set = set(z_pairs)
    both = [j for j in pairs.decisions if pairs.has_p[j] and pairs.has_q[j]]
    floor = evs.floor_kwh[pairs.ev].tolist()
    b.v2g_floor = pyo.Constraint(
        both,
        rule=lambda _, j: (
            energy[e_index[j]] - (dt / eta[j]) * q[j] >= floor[j] * (z[j] if j in z_set else 1.0)
        ),
        doc="V2G floor: E - dt / eta q >= e_min (times z where z exists), kWh",
    )
    target = evs.target_kwh[pairs.ev].tolist()
    b.v2g_headroom = pyo.Constraint(
        both,
        rule=lambda _, j: energy[e_index[j]] + (eta[j] * dt) * p[j] <= target[j],
        doc="E + eta dt p <= target energy at tick start, kWh",
    )


@dataclass
class CcCv:
    """The CC-CV rows of the EV block and what refining them needs (per pair: ``E`` index,
    efficiency, max power kW, capacity kWh, target energy kWh)."""

    block: pyo.Block
    rows: list[CvRow]
    energy_index: list[int]
    eta: list[float]
    p_max_kw: list[float]
    capacity_kwh: list[float]
    target_kwh: list[float]
    theta: float
    dt_h: float

    def refine(self, tol_kwh: float) -> int:
        """Splits the CC-CV chords that limit the loaded solution by more than ``tol_kwh``.

        For each charging pair held back by a chord of ``G`` over ``[a, b]`` at energy
        ``E`` with ``G(E) - chord(E) > tol_kwh``, the chord is replaced (for that pair) by the
        chords between ``a, E - h, E, E + h, b``: still below ``G``, exact at ``E``, and
        within ``tol_kwh`` of ``G`` on ``[E - h, E + h]``.

        Returns:
            The number of pairs refined.
        """
        by_pair: dict[int, list[CvRow]] = {}
        for row in self.rows:
            if row.constraint.active:
                by_pair.setdefault(row.pair, []).append(row)
        new_rows = []
        for j, rows in by_pair.items():
            power = self.block.charge_kw[j].value
            if power is None or power <= 0.0:
                continue
            energy = self.block.energy_kwh[self.energy_index[j]].value
            row = min(rows, key=lambda r: r.line.alpha_kwh - r.line.beta * energy)
            if self._gap_kwh(j, row.line, energy, power) > tol_kwh:
                row.constraint.deactivate()
                new_rows += self._split(j, row.line, energy, tol_kwh)
        self.rows.extend(new_rows)
        return len({row.pair for row in new_rows})

    def _gap_kwh(self, j, line, energy, power) -> float:
        """How far the chord ``line`` holds pair ``j`` below ``G`` at ``energy``, kWh (0 where
        it does not bind, or outside its interval)."""
        bound = line.alpha_kwh - line.beta * energy
        a, b = line.low_kwh, line.high_kwh
        if not (a + 1e-9 < energy < b - 1e-9):
            return 0.0
        if self.eta[j] * self.dt_h * power < bound - 1e-6:
            return 0.0
        gain = cccv.gain_kwh(
            energy, self.capacity_kwh[j], self.p_max_kw[j], self.eta[j], self.theta, self.dt_h
        )
        return min(gain, self.target_kwh[j] - energy) - bound

    def _split(self, j, line, energy, tol_kwh) -> list[CvRow]:
        """The chords replacing ``line`` for pair ``j``, split at ``energy``."""
        q_kwh, p_kw, eta, theta, dt = (
            self.capacity_kwh[j],
            self.p_max_kw[j],
            self.eta[j],
            self.theta,
            self.dt_h,
        )
        a, b = line.low_kwh, line.high_kwh
        # break points at E and at E +- h, where a chord of width h is tol_kwh exact
        # (|G''| <= 1 / (Q (1 - theta))), so a solution moving a little stays exact
        h = math.sqrt(8.0 * q_kwh * (1.0 - theta) * tol_kwh)
        points = [a, energy - h, energy, energy + h, b]
        points = [x for x in points if a <= x <= b]
        points = sorted({x for x in points if x in (a, b) or min(x - a, b - x) > 1e-9})
        block, rows = self.block, []
        for lo, hi in zip(points[:-1], points[1:], strict=True):
            alpha, beta = cccv.chord(lo, hi, q_kwh, p_kw, eta, theta, dt)
            con = block.cc_cv_refined.add(
                (eta * dt) * block.charge_kw[j] + beta * block.energy_kwh[self.energy_index[j]]
                <= alpha
            )
            rows.append(CvRow(j, cccv.Line(alpha, beta, lo, hi), con))
        return rows


# --------------------------------------------------------------------------------------------
# Chargers
# --------------------------------------------------------------------------------------------


def add_charger_limits(b: pyo.Block, ev: pyo.Block, scenario: Scenario, pairs: Pairs) -> None:
    """A charger's connectors share its power: ``sum |p| + |q| <= charger kW`` per charger and
    tick, only where the connectors' own limits could exceed it."""
    by_charger: dict[tuple[int, int], list[int]] = {}
    charger, tick = pairs.charger.tolist(), pairs.tick.tolist()
    for j in pairs.decisions:
        by_charger.setdefault((charger[j], tick[j]), []).append(j)
    charger_max = scenario.charger_f[L.CH_MAX_KW].tolist()
    p_max, v_max = pairs.p_max_kw.tolist(), pairs.v_max_kw.tolist()
    has_p, has_q = pairs.has_p.tolist(), pairs.has_q.tolist()
    rows = [
        key
        for key, js in by_charger.items()
        if len(js) > 1
        and sum(max(p_max[j] if has_p[j] else 0.0, v_max[j] if has_q[j] else 0.0) for j in js)
        > charger_max[key[0]] * (1 + 1e-12)
    ]

    def limit(_, k, t):
        js = by_charger[(k, t)]
        return sum(ev.charge_kw[j] for j in js if has_p[j]) + sum(
            ev.discharge_kw[j] for j in js if has_q[j]
        ) <= inside_kw(charger_max[k])

    b.limit = pyo.Constraint(
        rows, rule=limit, doc="sum of a charger's connector powers p + q <= its kW, kW"
    )


# --------------------------------------------------------------------------------------------
# Reward terms
# --------------------------------------------------------------------------------------------


def tariff_terms(
    b: pyo.Block, pairs: Pairs, rates: RewardRates, ev_tariff: np.ndarray, dt: float
) -> Terms:
    """Drivers pay (and are paid) their tariff per kWh into (out of) their batteries: the
    revenue and EV-energy weights on ``eta p dt`` and ``-q dt / eta``, less the V2G
    tie-break cost (:data:`~baselines.optimal.reward.THROUGHPUT_EUR_PER_KWH`)."""
    per_kwh = rates.revenue * np.asarray(ev_tariff)[pairs.plan_ev] + rates.ev_energy_per_kwh
    p_coef = (per_kwh * pairs.eta * dt).tolist()
    q_coef = (-per_kwh * dt / pairs.eta - THROUGHPUT_EUR_PER_KWH * dt).tolist()
    expressions = [p_coef[j] * b.charge_kw[j] for j in b.charge_kw if p_coef[j] != 0.0]
    expressions += [q_coef[j] * b.discharge_kw[j] for j in b.discharge_kw if q_coef[j] != 0.0]
    return Terms(expressions)


def wear_terms(b: pyo.Block, pairs: Pairs, rates: RewardRates, dt: float) -> Terms:
    """V2G's battery wear (``degradation_cost_eur``): its weight per battery kWh V2G takes
    out of an EV, ``q dt / eta``."""
    if rates.v2g_wear_per_kwh == 0.0:
        return Terms()
    coef = (rates.v2g_wear_per_kwh * dt / pairs.eta).tolist()
    return Terms([coef[j] * b.discharge_kw[j] for j in b.discharge_kw])


def unmet_terms(b: pyo.Block, evs: Evs, rates: RewardRates) -> Terms:
    """Unmet energy at departure, ``unmet_base - E_final`` per EV, times its weight."""
    w_unmet = rates.unmet_per_kwh
    idle = ~evs.active
    terms = Terms(constant=w_unmet * float(np.sum(evs.unmet_base_kwh[idle] - evs.start_kwh[idle])))
    if w_unmet != 0.0:
        for i in np.flatnonzero(evs.active):
            terms.constant += w_unmet * float(evs.unmet_base_kwh[i])
            final = int(evs.energy_offset[i] + evs.count[i])
            terms.expressions.append(-w_unmet * b.energy_kwh[final])
    return terms
