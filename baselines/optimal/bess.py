"""Station batteries (BESS) under the agent's control (``action.bess_control``).

``B[s, t+1] = B[s, t] + eta_b dt c - dt / eta_b d`` with charging power ``c`` and
discharging power ``d`` (kW, grid side), ``0 <= c, d <= P_b`` (0 while the station's link is
down: the BESS idles), ``soc_min Q_b <= B <= soc_max Q_b``, ``B`` fixed at the window's start;
with ``terminal_bess`` (an MPC window) each BESS ends the window at least as full as it
started it. Charging and discharging at once only burns energy: a binary makes ``c`` and ``d``
exclusive on ticks where burning energy could pay (own consumption with a positive marginal
reward, or a soft station limit: :func:`burning_may_pay`), and
:func:`baselines.optimal.solve.solve` adds more wherever a solution still does both
(:func:`add_exclusive`).

Reward: the change of the worth of the energy in each BESS,
``storage value * eta_b * (B_end - B_start)`` (the env books it tick by tick; the sum
telescopes), its wear ``ST_BESS_DEGRADATION * (eta_b dt c + dt / eta_b d)`` per battery kWh in
and out (times the degradation weight), and a 1e-6 EUR/kWh tie-break on throughput (added back
to the reported objective) that keeps the solver from charging and discharging at once where
that costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from baselines.optimal.reward import THROUGHPUT_EUR_PER_KWH, RewardRates, Terms
from baselines.optimal.window import Window
from evgrid_gym.core import layout as L
from evgrid_gym.scenario import Scenario


@dataclass(frozen=True)
class Bess:
    """The BESS the model controls.

    Attributes:
        stations: their stations.
        keys: their ``(s, t)`` with a power decision (absolute ticks).
        power_kw: their power limit by station, kW.
    """

    stations: list[int]
    keys: list[tuple[int, int]]
    power_kw: dict[int, float]


def add_bess(b: pyo.Block, scenario: Scenario, window: Window, bess_soc: np.ndarray | None) -> Bess:
    """Adds the BESS's variables and constraints to the empty block ``b``.

    Args:
        bess_soc: soc per station at the window's start, shape (S,); default initial soc.
    """
    station_f = scenario.station_f
    bess_control = scenario.cfg[L.CFG_BESS_ACTION] > 0.0
    stations = [
        s for s in range(scenario.n_stations) if bess_control and station_f[L.ST_BESS_KWH, s] > 0.0
    ]
    if bess_soc is None:
        bess_soc = station_f[L.ST_BESS_SOC_INIT]
    t0, t1, dt = window.t0, window.t1, window.dt_h
    bess = Bess(
        stations=stations,
        keys=[(s, t) for s in stations for t in window.ticks],
        power_kw={s: float(station_f[L.ST_BESS_KW, s]) for s in stations},
    )

    def power_bounds(_, s, t):
        return (0.0, 0.0 if window.link_down[s, t - t0] else bess.power_kw[s])

    def energy_bounds(_, s, t):
        q = station_f[L.ST_BESS_KWH, s]
        start = float(bess_soc[s]) * q
        return (
            min(station_f[L.ST_BESS_SOC_MIN, s] * q, start),
            max(station_f[L.ST_BESS_SOC_MAX, s] * q, start),
        )

    b.decisions = pyo.Set(initialize=bess.keys, dimen=2, doc="(s, t) with a power decision")
    b.charge_kw = pyo.Var(b.decisions, bounds=power_bounds, doc="c: BESS charging power, kW")
    b.discharge_kw = pyo.Var(b.decisions, bounds=power_bounds, doc="d: BESS discharging power, kW")
    b.energy_kwh = pyo.Var(
        [(s, t) for s in stations for t in range(t0, t1 + 1)],
        bounds=energy_bounds,
        doc="B: BESS energy at tick start, kWh",
    )
    for s in stations:
        b.energy_kwh[s, t0].fix(float(bess_soc[s]) * float(station_f[L.ST_BESS_KWH, s]))

    def dynamics(_, s, t):
        e = float(station_f[L.ST_BESS_EFFICIENCY, s])
        return b.energy_kwh[s, t + 1] == (
            b.energy_kwh[s, t] + (e * dt) * b.charge_kw[s, t] - (dt / e) * b.discharge_kw[s, t]
        )

    b.dynamics = pyo.Constraint(
        bess.keys, rule=dynamics, doc="B[t+1] = B[t] + eta_b dt c - dt / eta_b d, kWh"
    )
    b.terminal = pyo.Constraint(
        stations if window.terminal_bess else [],
        rule=lambda _, s: b.energy_kwh[s, t1] >= b.energy_kwh[s, t0].value,
        doc="B at the window's end >= B at its start, kWh",
    )
    return bess


def burning_may_pay(
    bess: Bess, rates: RewardRates, window: Window, overload_keys: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The ``(s, t)`` where burning energy (charging and discharging at once) can pay:
    consuming has value (:attr:`RewardRates.burn_pays`) or the station may overload."""
    burn_pays = rates.burn_pays
    overload = set(overload_keys)
    return [(s, t) for s, t in bess.keys if burn_pays[t - window.t0] or (s, t) in overload]


def add_exclusive(b: pyo.Block, station_ticks: list[tuple[int, int]]) -> pyo.Block:
    """A block making charging and discharging of the BESS block ``b`` exclusive at
    ``station_ticks``: ``c <= P_b (1 - w)``, ``d <= P_b w`` with a binary ``w``."""
    block = pyo.Block(doc="station batteries either charging or discharging (binary w)")
    block.discharging = pyo.Var(
        station_ticks,
        domain=pyo.Binary,
        doc="w: 1 when the BESS may discharge, 0 when it may charge (-)",
    )
    block.charge = pyo.Constraint(
        station_ticks,
        rule=lambda _, s, t: (
            b.charge_kw[s, t] <= b.charge_kw[s, t].ub * (1 - block.discharging[s, t])
        ),
        doc="c <= P_b (1 - w), kW",
    )
    block.discharge = pyo.Constraint(
        station_ticks,
        rule=lambda _, s, t: (
            b.discharge_kw[s, t] <= b.discharge_kw[s, t].ub * block.discharging[s, t]
        ),
        doc="d <= P_b w, kW",
    )
    return block


def storage_terms(
    b: pyo.Block, bess: Bess, scenario: Scenario, rates: RewardRates, window: Window
) -> Terms:
    """The change of the worth of the energy in each BESS (the per-tick terms telescope)."""
    terms = Terms()
    for s in bess.stations if rates.storage_per_kwh else ():
        worth = rates.storage_per_kwh * float(scenario.station_f[L.ST_BESS_EFFICIENCY, s])
        terms.expressions.append(worth * (b.energy_kwh[s, window.t1] - b.energy_kwh[s, window.t0]))
    return terms


def wear_terms(
    b: pyo.Block, bess: Bess, scenario: Scenario, rates: RewardRates, dt: float
) -> Terms:
    """The BESS's battery wear (``degradation_cost_eur``): its weight per battery kWh in
    and out, ``eta_b dt c + dt / eta_b d``."""
    terms = Terms()
    for s, t in bess.keys:
        per_kwh = float(rates.bess_wear_per_kwh[s])
        if per_kwh != 0.0:
            eta = float(scenario.station_f[L.ST_BESS_EFFICIENCY, s])
            throughput_kwh = (eta * dt) * b.charge_kw[s, t] + (dt / eta) * b.discharge_kw[s, t]
            terms.expressions.append(per_kwh * throughput_kwh)
    return terms


def throughput_terms(b: pyo.Block, bess: Bess, dt: float) -> Terms:
    """A negligible cost on BESS throughput: where charging and discharging at once would
    cost nothing (surplus energy is curtailed), the solver does not do it."""
    return Terms(
        [-THROUGHPUT_EUR_PER_KWH * dt * (b.charge_kw[k] + b.discharge_kw[k]) for k in bess.keys]
    )
