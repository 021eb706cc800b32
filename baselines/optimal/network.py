"""The distribution network (``grid.network``): the LinDistFlow limits of
:mod:`evgrid_gym.core.network` on the stations' net imports ``n``.

Per tick the bus powers are the community's (households at their power factor, wind and PV
fed in) plus each station's ``n`` at its bus (``q = n tan(phi)`` at the stations' power
factor); flows ``P, Q`` and squared voltages ``v`` are linear in them
(:class:`evgrid_gym.grid.NetworkArrays`: ``downstream``, ``v2_per_kw``, ``v2_per_kvar``).

Hard limits, as the env's projection step 5 checks them at ``alpha = 1`` (so a schedule that
meets them is never scaled): every lv bus within ``[v_min^2, v_max^2]`` (linear rows, where
the stations' bounds can reach a limit), and every branch's current within its rating at
both ends, ``P^2 + Q^2 <= rated^2 v`` (convex, not linear): outer linear cuts
``2 P0 P + 2 Q0 Q - (P0^2 + Q0^2) - rated^2 v <= 0`` at the solution ``(P0, Q0)`` of a round
that breaks the limit (Kelley's cutting planes; the cut is tangent to the convex set, so the
model stays a relaxation of the limit and still bounds every policy), added round by round by
:func:`baselines.optimal.solve.solve` until no limit is broken. Where the market may curtail
the renewables (no export) the limits hold with the renewables fed in whole and with none fed
in, as the env requires. Limits are modelled :data:`NETWORK_MARGIN` tighter than the env's.

Soft limits: the network's penalty is not linear (loading above 100 % and the voltage
deviation): a reward weight on ``network_violation_kwh``, ``voltage_violation_pu_h`` or
``network_penalty_eur`` raises :class:`~baselines.optimal.reward.OptimalModelError`; without
one the network does not enter the model. Inner restriction (hard limits): where the
households and renewables alone, with every station idle, break a limit, the env lets the
stations draw nothing; the model raises rather than model that case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from baselines.optimal.reward import OptimalModelError
from baselines.optimal.station import StationNet
from baselines.optimal.window import Window
from evgrid_gym.core import layout as L
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.grid import NetworkArrays
from evgrid_gym.scenario import Scenario

NETWORK_MARGIN = 1e-6
"""Network limits are modelled this much tighter (relative to the squared voltage limits
and the squared ratings): more than HiGHS's feasibility tolerance and the float32 actions."""

CUT_TOL = 0.5 * NETWORK_MARGIN
"""A solution whose ``P^2 + Q^2`` exceeds the (tightened) ``rated^2 v`` by more than this
relative part gets a cut there (less than the margin: what is not cut stays within the
env's limit)."""

PENALTY_KPIS = ("network_violation_kwh", "voltage_violation_pu_h", "network_penalty_eur")


@dataclass
class _Case:
    """One tick's power flow with the renewables fed in (``fed_in`` 1 or 0): the community's
    flows and squared voltages, and their slope per kW of each station's net import."""

    t: int
    p0: np.ndarray  # (B,) branch flows without the stations, kW
    q0: np.ndarray  # (B,) kvar
    v0: np.ndarray  # (B,) squared voltages, pu^2
    keys: list  # the stations' (s, t) with a variable, in the order of the slopes
    dp: np.ndarray  # (B, k) per kW of each key's n
    dq: np.ndarray
    dv: np.ndarray


@dataclass
class NetworkLimits:
    """The network's rows of a model: its cases and the cuts added so far.

    Attributes:
        block: the Pyomo block (``network``) the rows live on.
        arrays: the scenario's network.
        cases: every (tick, renewables fed in) power flow with a station decision.
        net_kw: the stations' net imports ``n`` (``station.net_kw``), kW.
        rated2: the tightened squared ratings per branch, kVA^2.
        n_cuts: cuts added so far.
    """

    block: pyo.Block
    arrays: NetworkArrays
    cases: list[_Case]
    net_kw: pyo.Var
    rated2: np.ndarray
    n_cuts: int = 0

    def add_cuts(self) -> int:
        """Adds a cut for every branch end whose current limit the loaded solution breaks,
        tangent where the line from the origin to the solution's ``(P, Q)`` meets the limit
        (module docstring); returns how many."""
        added = 0
        for case in self.cases:
            n = np.array([self.net_kw[k].value or 0.0 for k in case.keys])
            p, q, v = case.p0 + case.dp @ n, case.q0 + case.dq @ n, case.v0 + case.dv @ n
            for j, end in self._ends:
                s2 = p[j] ** 2 + q[j] ** 2
                if s2 - self.rated2[j] * v[end] > CUT_TOL * self.rated2[j]:
                    scale = np.sqrt(max(self.rated2[j] * v[end], 0.0) / s2)
                    self._cut(case, j, end, scale * p[j], scale * q[j])
                    added += 1
        self.n_cuts += added
        return added

    def add_first_cuts(self) -> None:
        """Cuts tangent at the largest import and export each branch end allows at the
        community's reactive flow and voltage, where the stations can reach them."""
        for case in self.cases:
            lb = np.array([self.net_kw[k].lb for k in case.keys])
            ub = np.array([self.net_kw[k].ub for k in case.keys])
            reach_kw = np.abs(case.p0) + np.maximum(np.abs(case.dp * lb), np.abs(case.dp * ub)).sum(
                1
            )
            for j, end in self._ends:
                boundary = self.rated2[j] * case.v0[end] - case.q0[j] ** 2
                if boundary > 0.0 and reach_kw[j] ** 2 > boundary:
                    for sign in (1.0, -1.0):
                        self._cut(case, j, end, sign * np.sqrt(boundary), case.q0[j])

    @property
    def _ends(self) -> list[tuple[int, int]]:
        """``(branch, bus at one of its ends)`` for every branch."""
        parents = self.arrays.bus_parent
        return [(j, end) for j in range(1, len(parents)) for end in (int(parents[j]), j)]

    def _cut(self, case: _Case, j: int, end: int, p_kw: float, q_kvar: float) -> None:
        """The cut ``2 P* P + 2 Q* Q - (P*^2 + Q*^2) - rated^2 v_end <= 0`` through the limit's
        boundary point ``(P*, Q*)`` (gradient of ``P^2 + Q^2 - rated^2 v`` there; outer)."""
        n = [self.net_kw[k] for k in case.keys]
        constant = (
            2.0 * (p_kw * case.p0[j] + q_kvar * case.q0[j])
            - (p_kw**2 + q_kvar**2)
            - self.rated2[j] * case.v0[end]
        )
        slope = 2.0 * (p_kw * case.dp[j] + q_kvar * case.dq[j]) - self.rated2[j] * case.dv[end]
        self.block.cuts.add(
            sum(float(a) * x for a, x in zip(slope, n, strict=True) if a != 0.0) + constant <= 0.0
        )


def community_kw(scenario: Scenario, plan: EpisodePlan, window: Window, t: int, fed_in: float):
    """The community's per-bus ``(p, q)`` at tick ``t`` (:func:`core.network.community_powers`),
    the renewables times ``fed_in``, kW and kvar, shape (B,) each."""
    arrays, exo = scenario.network, plan.exo
    wind_kw = exo[L.EXO_WIND_KW, t] * (1.0 - window.component_down[-1, t])
    pv_kw = exo[L.EXO_RENEWABLE_KW, t] - exo[L.EXO_WIND_KW, t]
    household_kw = exo[L.EXO_HOUSEHOLD_KW, t] * arrays.bus_f[L.BUS_HOUSEHOLD_SHARE]
    p = household_kw - fed_in * (
        wind_kw * arrays.bus_f[L.BUS_WIND_SHARE] + pv_kw * arrays.bus_f[L.BUS_PV_SHARE]
    )
    return p, household_kw * arrays.net_cfg[L.NET_HOUSEHOLD_TAN_PHI]


def add_network(
    b: pyo.Block,
    station: pyo.Block,
    net: StationNet,
    scenario: Scenario,
    plan: EpisodePlan,
    window: Window,
    weights: dict[str, float],
) -> NetworkLimits | None:
    """Adds the network's voltage rows (and an empty list of cuts) to the empty block ``b``;
    None without a network or with soft limits.

    Raises:
        OptimalModelError: soft limits with a weight on a network penalty, or a tick whose
            households and renewables alone break a limit (module docstring).
    """
    arrays = scenario.network
    if arrays is None:
        return None
    if window.soft:
        weighted = sorted(set(PENALTY_KPIS) & set(weights))
        if weighted:
            raise OptimalModelError(
                f"reward weights on {weighted} with grid.limits: soft and a grid.network: the "
                "network's penalty is not linear; the optimal model needs grid.limits: hard"
            )
        return None
    curtailable = scenario.cfg[L.CFG_EXPORT] == 0.0
    tan_s = arrays.net_cfg[L.NET_STATION_TAN_PHI]
    v2_min = arrays.net_cfg[L.NET_V_MIN_PU] ** 2 * (1.0 + NETWORK_MARGIN)
    v2_max = arrays.net_cfg[L.NET_V_MAX_PU] ** 2 * (1.0 - NETWORK_MARGIN)
    rated2 = arrays.branch_f[L.BR_RATED_KVA] ** 2 * (1.0 - NETWORK_MARGIN)
    slope_v = arrays.v2_per_kw + tan_s * arrays.v2_per_kvar
    slack2 = arrays.net_cfg[L.NET_SLACK_PU] ** 2
    n = station.net_kw
    cases, rows = [], []
    for t in window.ticks:
        keys = net.by_tick.get(t, [])
        buses = arrays.station_bus[[s for s, _ in keys]]
        for fed_in in (1.0, 0.0) if curtailable else (1.0,):
            p_bus, q_bus = community_kw(scenario, plan, window, t, fed_in)
            case = _Case(
                t=t,
                p0=arrays.downstream @ p_bus,
                q0=arrays.downstream @ q_bus,
                v0=slack2 + arrays.v2_per_kw @ p_bus + arrays.v2_per_kvar @ q_bus,
                keys=keys,
                dp=arrays.downstream[:, buses],
                dq=tan_s * arrays.downstream[:, buses],
                dv=slope_v[:, buses],
            )
            _require_idle_within(case, v2_min, v2_max, rated2, arrays.bus_parent, fed_in)
            if keys:
                cases.append(case)
                rows += _voltage_rows(case, n, v2_min, v2_max)
    b.voltage = pyo.Constraint(
        range(len(rows)), rule=lambda _, r: rows[r], doc="v_min^2 <= v <= v_max^2, pu^2"
    )
    b.cuts = pyo.ConstraintList(doc="current limits, outer cuts of P^2 + Q^2 <= rated^2 v, kVA^2")
    limits = NetworkLimits(b, arrays, cases, n, rated2)
    limits.add_first_cuts()
    return limits


def _voltage_rows(case: _Case, n, v2_min: float, v2_max: float) -> list:
    """The voltage rows of one case, where the stations' bounds can reach a limit."""
    lb = np.array([n[k].lb for k in case.keys])
    ub = np.array([n[k].ub for k in case.keys])
    rows = []
    for j in range(1, len(case.v0)):
        slope = case.dv[j]
        low = case.v0[j] + np.minimum(slope * lb, slope * ub).sum()
        high = case.v0[j] + np.maximum(slope * lb, slope * ub).sum()
        if low >= v2_min and high <= v2_max:
            continue
        expr = case.v0[j] + sum(float(a) * n[k] for a, k in zip(slope, case.keys, strict=True))
        rows += [expr >= v2_min] if low < v2_min else []
        rows += [expr <= v2_max] if high > v2_max else []
    return rows


def _require_idle_within(case, v2_min, v2_max, rated2, parents, fed_in) -> None:
    """Raises :class:`OptimalModelError` where the community alone breaks a limit."""
    s2 = case.p0**2 + case.q0**2
    ends = np.maximum(parents, 0)
    broken = (
        (case.v0[1:] < v2_min).any()
        or (case.v0[1:] > v2_max).any()
        or (s2[1:] > rated2[1:] * np.minimum(case.v0[1:], case.v0[ends][1:])).any()
    )
    if broken:
        raise OptimalModelError(
            f"tick {case.t}: the households and renewables (fed in: {fed_in:.0%}) alone break "
            "a limit of grid.network; the env then lets the stations draw nothing, which the "
            "optimal model does not represent"
        )
