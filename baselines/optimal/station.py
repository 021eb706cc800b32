"""Stations: their net import and its grid limit.

Station net import ``n[s, t] = sum(p - q) + c - d`` over its connectors and BESS, kW. Hard
limits: ``n`` in ``[-grid, grid]`` (:data:`~baselines.optimal.window.LIMIT_MARGIN_KW`
inside). Soft limits: the overload ``max(|n| - grid, 0)`` is penalised (overload weight, per
kWh), where the station's powers can exceed its grid capacity at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from baselines.optimal.bess import Bess
from baselines.optimal.ev import Pairs
from baselines.optimal.reward import RewardRates, Terms
from baselines.optimal.window import Window, inside_kw
from evgrid_gym.core import layout as L
from evgrid_gym.scenario import Scenario


@dataclass(frozen=True)
class StationNet:
    """The stations' net imports by ``(s, t)`` (absolute ticks).

    Attributes:
        keys: the ``(s, t)`` with a connector or BESS decision, sorted.
        pairs: their (EV, tick) pairs with a decision.
        by_tick: the keys of each tick.
        link_down: the keys whose station's link is down, sorted.
        overload: the keys with an overload variable (soft limits).
    """

    keys: list[tuple[int, int]]
    pairs: dict[tuple[int, int], list[int]]
    by_tick: dict[int, list[tuple[int, int]]]
    link_down: list[tuple[int, int]]
    overload: list[tuple[int, int]]


def add_stations(
    b: pyo.Block,
    ev: pyo.Block,
    bess_block: pyo.Block,
    scenario: Scenario,
    pairs: Pairs,
    bess: Bess,
    window: Window,
    rates: RewardRates,
) -> StationNet:
    """Adds the stations' net imports, balances and (soft limits) overloads to the empty
    block ``b``.

    Raises:
        OptimalModelError: the reward weights overload positively where it can occur.
    """
    by_station: dict[tuple[int, int], list[int]] = {}
    station, tick = pairs.station.tolist(), pairs.tick.tolist()
    for j in pairs.decisions:
        by_station.setdefault((station[j], tick[j]), []).append(j)
    for key in bess.keys:
        by_station.setdefault(key, [])
    keys = sorted(by_station)
    has_p, has_q = pairs.has_p.tolist(), pairs.has_q.tolist()
    p_ub, q_ub = pairs.p_ub_kw.tolist(), pairs.q_ub_kw.tolist()
    max_in, max_out = {}, {}
    for key in keys:
        js = by_station[key]
        bess_kw = (
            0.0 if window.link_down[key[0], key[1] - window.t0] else bess.power_kw.get(key[0], 0.0)
        )
        max_in[key] = sum(p_ub[j] for j in js if has_p[j]) + bess_kw
        max_out[key] = sum(q_ub[j] for j in js if has_q[j]) + bess_kw
    grid_kw = scenario.station_f[L.ST_GRID_KW].tolist()

    def net_bounds(_, s, t):
        if window.soft:
            return (-max_out[s, t], max_in[s, t])
        inside = inside_kw(grid_kw[s])
        return (-min(max_out[s, t], inside), min(max_in[s, t], inside))

    b.net_kw = pyo.Var(keys, bounds=net_bounds, doc="n: station net import, kW")

    def balance(_, s, t):
        js = by_station[(s, t)]
        expr = sum(ev.charge_kw[j] for j in js if has_p[j]) - sum(
            ev.discharge_kw[j] for j in js if has_q[j]
        )
        if (s, t) in bess_block.charge_kw:
            expr = expr + bess_block.charge_kw[s, t] - bess_block.discharge_kw[s, t]
        return b.net_kw[s, t] == expr

    b.balance = pyo.Constraint(keys, rule=balance, doc="n = sum(p - q) + c - d, kW")
    overload = [k for k in keys if window.soft and max(max_in[k], max_out[k]) > grid_kw[k[0]]]
    if overload:
        rates.require_penalised_overload()
    _add_overload(b, overload, grid_kw)
    by_tick: dict[int, list[tuple[int, int]]] = {}
    for key in keys:
        by_tick.setdefault(key[1], []).append(key)
    return StationNet(
        keys=keys,
        pairs=by_station,
        by_tick=by_tick,
        link_down=[k for k in keys if window.link_down[k[0], k[1] - window.t0]],
        overload=overload,
    )


def _add_overload(b, overload, grid_kw) -> None:
    """Soft limits: ``o >= |n| - grid`` (``o >= 0``), where a station may overload."""
    b.overload_kw = pyo.Var(
        overload, domain=pyo.NonNegativeReals, doc="o: station overload, max(|n| - grid, 0), kW"
    )
    b.overload_import = pyo.Constraint(
        overload,
        rule=lambda _, s, t: b.overload_kw[s, t] >= b.net_kw[s, t] - grid_kw[s],
        doc="o >= n - grid, kW",
    )
    b.overload_export = pyo.Constraint(
        overload,
        rule=lambda _, s, t: b.overload_kw[s, t] >= -b.net_kw[s, t] - grid_kw[s],
        doc="o >= -n - grid, kW",
    )


def overload_terms(b: pyo.Block, rates: RewardRates, dt: float) -> Terms:
    """The stations' overload, kWh, times its weight."""
    if rates.overload_per_kwh == 0.0:
        return Terms()
    return Terms([(rates.overload_per_kwh * dt) * b.overload_kw[k] for k in b.overload_kw])
