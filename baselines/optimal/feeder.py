"""The feeder: households plus the stations' net imports within its limit.

Hard limits: ``households + sum_s n <= feeder`` (:data:`~baselines.optimal.window.LIMIT_MARGIN_KW`
inside). Soft limits: the overload ``max(households + sum_s n - feeder, 0)`` is penalised
(overload weight, per kWh). A station whose link is down is out of the feeder's curtailment:
its load counts as inflexible, with the households.

Where the inflexible load alone exceeds the feeder (hard limits), a binary ``v`` chooses
between the stations exporting enough that nothing is projected (``v = 1``), and the env
cutting all charging it can reach to zero and booking the rest as overload (``v = 0``;
``projection.py`` step 4 with zero floors, since ``n >= -grid``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from baselines.optimal.bess import Bess
from baselines.optimal.ev import Pairs
from baselines.optimal.reward import RewardRates, Terms
from baselines.optimal.station import StationNet
from baselines.optimal.window import Window, inside_kw


@dataclass(frozen=True)
class Feeder:
    """Where the feeder may overload.

    Attributes:
        overload_ticks: ticks with an overload variable (absolute).
        fixed_overload_kw: households above the feeder at ticks without any station
            decision, kW (an overload no decision changes).
    """

    overload_ticks: list[int]
    fixed_overload_kw: list[float]


def add_feeder(
    b: pyo.Block,
    ev: pyo.Block,
    station: pyo.Block,
    bess_block: pyo.Block,
    net: StationNet,
    pairs: Pairs,
    bess: Bess,
    window: Window,
    rates: RewardRates,
) -> Feeder:
    """Adds the feeder's limit, overload and households-above-the-feeder binaries to the
    empty block ``b``.

    Raises:
        OptimalModelError: the reward weights overload positively where it can occur.
    """
    n, household_kw, feeder_kw = station.net_kw, window.household_kw, window.feeder_kw
    link_down = set(net.link_down)
    inflexible_kw = household_kw + np.array(
        [sum(n[k].ub for k in net.by_tick.get(t, []) if k in link_down) for t in window.ticks]
    )
    above = (inflexible_kw > feeder_kw) if not window.soft else np.zeros(window.n_ticks, bool)
    overload_ticks, fixed_overload_kw, limit_ticks, above_ticks = [], [], [], []
    for i, t in enumerate(window.ticks):
        keys = net.by_tick.get(t, [])
        top = household_kw[i] + sum(n[k].ub for k in keys)
        if top > feeder_kw and (window.soft or above[i]):
            if keys:
                overload_ticks.append(t)
            else:
                fixed_overload_kw.append(household_kw[i] - feeder_kw)
        if keys and above[i]:
            above_ticks.append(t)
        elif keys and not window.soft and top > feeder_kw:
            limit_ticks.append(t)
    if overload_ticks:
        rates.require_penalised_overload()

    def load(t):
        return household_kw[t - window.t0] + sum(n[k] for k in net.by_tick[t])

    b.overload_kw = pyo.Var(
        overload_ticks, domain=pyo.NonNegativeReals, doc="o: feeder overload, kW"
    )
    b.overload = pyo.Constraint(
        overload_ticks,
        rule=lambda _, t: b.overload_kw[t] >= load(t) - feeder_kw,
        doc="o >= households + sum n - feeder, kW",
    )
    b.limit = pyo.Constraint(
        limit_ticks,
        rule=lambda _, t: load(t) <= inside_kw(feeder_kw),
        doc="households + sum n <= feeder, kW",
    )
    _add_households_above(b, ev, station, bess_block, net, pairs, bess, above_ticks, window)
    return Feeder(overload_ticks, fixed_overload_kw)


def _add_households_above(b, ev, station, bess_block, net, pairs, bess, ticks, window) -> None:
    """The binary ``v`` where the inflexible load alone exceeds the feeder (hard limits)."""
    n, t0, feeder_kw = station.net_kw, window.t0, window.feeder_kw
    household_kw = window.household_kw
    b.export = pyo.Var(
        ticks,
        domain=pyo.Binary,
        doc="v: 1 when the stations export enough to stay within the feeder (-)",
    )
    link_down = set(net.link_down)
    has_p, p_max = pairs.has_p.tolist(), pairs.p_max_kw.tolist()
    charge_rows = [
        (j, t)
        for t in ticks
        for key in net.by_tick[t]
        if key not in link_down
        for j in net.pairs[key]
        if has_p[j]
    ]
    b.charge_off = pyo.Constraint(
        range(len(charge_rows)),
        rule=lambda _, r: (
            ev.charge_kw[charge_rows[r][0]]
            <= p_max[charge_rows[r][0]] * b.export[charge_rows[r][1]]
        ),
        doc="p <= P v: no charging unless the stations export, kW",
    )
    bess_rows = [key for t in ticks for key in net.by_tick[t] if key in bess_block.charge_kw]
    b.bess_off = pyo.Constraint(
        bess_rows,
        rule=lambda _, s, t: bess_block.charge_kw[s, t] <= bess.power_kw[s] * b.export[t],
        doc="c <= P_b v: no BESS charging unless the stations export, kW",
    )

    def within(_, t):
        excess = household_kw[t - t0] + sum(n[k] for k in net.by_tick[t]) - inside_kw(feeder_kw)
        big = household_kw[t - t0] - feeder_kw + sum(max(n[k].ub, 0.0) for k in net.by_tick[t])
        return excess <= big * (1 - b.export[t])

    b.within = pyo.Constraint(
        ticks, rule=within, doc="households + sum n <= feeder where v = 1, kW"
    )


def overload_terms(b: pyo.Block, feeder: Feeder, rates: RewardRates, dt: float) -> Terms:
    """The feeder's overload, kWh, times its weight (with the part no decision changes)."""
    w_over = rates.overload_per_kwh
    terms = Terms()
    for excess_kw in feeder.fixed_overload_kw:
        terms.constant += w_over * excess_kw * dt
    if w_over != 0.0:
        terms.expressions = [(w_over * dt) * b.overload_kw[t] for t in feeder.overload_ticks]
    return terms
