"""Building the model of an episode window: one Pyomo block per component, their objective
terms added up.

The blocks, in the order HiGHS receives their rows: ``ev`` (EVs on their connectors, with
``ev.fallback``, the forced powers at stations whose link is down), ``charger`` (connectors
sharing a charger), ``bess``, ``station``, ``feeder``, ``network`` (with ``grid.network``:
voltage rows and the current limits' cuts), ``market``, then the BESS exclusivity
blocks ``bess_exclusive_<k>`` that :meth:`OptimalModel.add_bess_binaries` adds. The decisions
that become env actions are also on the model by their short names: ``p`` and ``q`` (connector
charging and V2G power by pair, kW), ``bc`` and ``bd`` (BESS charging and discharging power by
``(s, t)``, kW).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyomo.environ as pyo

from baselines.optimal import bess, ev, feeder, market, network, station
from baselines.optimal.reward import RewardRates, Terms, reward_weights
from baselines.optimal.window import Window
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.scenario import Scenario


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
        build_s: wall time of the build, s (binaries and rows added by :func:`solve` included).
        pairs: the window's (EV, tick) pairs (:class:`~baselines.optimal.ev.Pairs`).
        bess: the BESS the model controls.
        cc_cv: the CC-CV rows, for :meth:`refine_cv`.
        network: the network's limits (None without ``grid.network`` or with soft limits);
            :func:`~baselines.optimal.solve.solve` adds their cuts.
        bess_binary: the ``(s, t)`` where BESS charging and discharging are exclusive.
    """

    model: pyo.ConcreteModel
    scenario: Scenario
    start_tick: int
    n_ticks: int
    objective_constant: float
    build_s: float
    pairs: ev.Pairs
    bess: bess.Bess
    cc_cv: ev.CcCv
    network: network.NetworkLimits | None = None
    bess_binary: set = field(default_factory=set)

    @property
    def pair_ids(self) -> list[int]:
        """The pairs with a decision: the keys of the Pyomo variables ``p`` and ``q``."""
        return self.pairs.decisions

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
        """Makes BESS charging and discharging exclusive at the given ``(s, t)`` pairs
        (:func:`baselines.optimal.bess.add_exclusive`)."""
        start = time.perf_counter()
        m = self.model
        new = [st for st in station_ticks if st not in self.bess_binary and st in m.bess.charge_kw]
        if new:
            block = bess.add_exclusive(m.bess, new)
            m.add_component(f"bess_exclusive_{len(self.bess_binary)}", block)
            self.bess_binary.update(new)
        self.build_s += time.perf_counter() - start

    def refine_cv(self, tol_kwh: float) -> int:
        """Splits the CC-CV chords that limit the loaded solution by more than ``tol_kwh``
        (:meth:`baselines.optimal.ev.CcCv.refine`).

        Returns:
            The number of pairs refined.
        """
        start = time.perf_counter()
        refined = self.cc_cv.refine(tol_kwh)
        self.build_s += time.perf_counter() - start
        return refined


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

    Outages (``plan.outage``) are modelled as the env applies them: chargers down deliver
    nothing, the wind share of turbines down is lost, and a station whose link is down runs
    on its fallback (forced powers, no V2G, BESS idle), buys outside the market and is out of
    the feeder's curtailment. Reservations enter through ``plan.connector_ev`` and
    ``plan.ev_tariff``.

    Returns:
        The :class:`OptimalModel`.

    Raises:
        OptimalModelError: unsupported reward weights
            (:func:`~baselines.optimal.reward.reward_weights`), an overload that the reward
            would reward rather than penalise, or an EV that changes connector during its
            stay.
        ValueError: a window outside the episode or ``cv_segments < 1``.
    """
    start = time.perf_counter()
    window = Window.of(scenario, plan, start_tick, horizon, terminal_bess)
    if cv_segments < 1:
        raise ValueError(f"cv_segments: got {cv_segments}; must be >= 1")
    rates = RewardRates.of(scenario, plan, window.t0, window.t1)
    evs, pairs = ev.plugged(scenario, plan, window, ev_energy_kwh)
    m = pyo.ConcreteModel(name="evgrid_optimal")
    parts = _add_components(m, scenario, plan, window, rates, evs, pairs, bess_soc, cv_segments)
    terms = _reward_terms(m, scenario, plan, window, rates, evs, pairs, parts)
    model = OptimalModel(
        model=m,
        scenario=scenario,
        start_tick=window.t0,
        n_ticks=window.n_ticks,
        objective_constant=_add_objective(m, terms),
        build_s=time.perf_counter() - start,
        pairs=pairs,
        bess=parts.bess,
        cc_cv=parts.cc_cv,
        network=parts.network,
    )
    model.add_bess_binaries(bess.burning_may_pay(parts.bess, rates, window, parts.net.overload))
    return model


class _Components(NamedTuple):
    """What the components' builders return for the objective and :class:`OptimalModel`."""

    cc_cv: ev.CcCv
    bess: bess.Bess
    net: station.StationNet
    feeder: feeder.Feeder
    network: network.NetworkLimits | None
    market: market.Market


def _add_components(
    m, scenario, plan, window, rates, evs, pairs, bess_soc, cv_segments
) -> _Components:
    """Adds one block per component to ``m``, in the order HiGHS receives their rows, and the
    short names of the decisions that become env actions."""
    m.ev = pyo.Block(doc="EVs on their connectors")
    cc_cv = ev.add_evs(m.ev, scenario, evs, pairs, window, rates, cv_segments)
    m.charger = pyo.Block(doc="chargers shared by their connectors")
    ev.add_charger_limits(m.charger, m.ev, scenario, pairs)
    m.bess = pyo.Block(doc="station batteries")
    storage = bess.add_bess(m.bess, scenario, window, bess_soc)
    m.station = pyo.Block(doc="stations' net import")
    net = station.add_stations(m.station, m.ev, m.bess, scenario, pairs, storage, window, rates)
    m.feeder = pyo.Block(doc="the feeder")
    grid = feeder.add_feeder(m.feeder, m.ev, m.station, m.bess, net, pairs, storage, window, rates)
    m.network = pyo.Block(doc="the distribution network (grid.network)")
    limits = network.add_network(
        m.network, m.station, net, scenario, plan, window, reward_weights(scenario)
    )
    m.market = pyo.Block(doc="the community market and its external supplier")
    trade = market.add_market(m.market, m.station, net, window, rates)
    m.p = _alias(m.ev.charge_kw, "p: connector charging power by pair (ev.charge_kw), kW")
    m.q = _alias(m.ev.discharge_kw, "q: connector V2G power by pair (ev.discharge_kw), kW")
    m.bc = _alias(m.bess.charge_kw, "c: BESS charging power by (s, t) (bess.charge_kw), kW")
    m.bd = _alias(
        m.bess.discharge_kw, "d: BESS discharging power by (s, t) (bess.discharge_kw), kW"
    )
    return _Components(cc_cv, storage, net, grid, limits, trade)


def _alias(component, doc: str):
    """A Pyomo ``Reference`` to ``component`` (the same variables) with its own ``doc``."""
    reference = pyo.Reference(component)
    reference.doc = doc
    return reference


def _reward_terms(m, scenario, plan, window, rates, evs, pairs, parts) -> list[Terms]:
    """Every component's objective terms."""
    dt = window.dt_h
    return [
        ev.tariff_terms(m.ev, pairs, rates, plan.ev_tariff, dt),
        ev.unmet_terms(m.ev, evs, rates),
        ev.wear_terms(m.ev, pairs, rates, dt),
        market.supplier_terms(m.market, m.station, parts.market, parts.net, rates, window),
        bess.storage_terms(m.bess, parts.bess, scenario, rates, window),
        bess.wear_terms(m.bess, parts.bess, scenario, rates, dt),
        station.overload_terms(m.station, rates, dt),
        feeder.overload_terms(m.feeder, parts.feeder, rates, dt),
        bess.throughput_terms(m.bess, parts.bess, dt),
    ]


def _add_objective(m: pyo.ConcreteModel, terms: list[Terms]) -> float:
    """Adds the objective ``reward``, the sum of the components' terms; returns its constant.

    The constant is part of the objective, so HiGHS's objective (and its MIP gap) is the
    reward itself.
    """
    expressions = [e for part in terms for e in part.expressions]
    constant = 0.0
    for part in terms:
        constant += part.constant
    if not expressions:  # nothing the decisions change: any feasible schedule is optimal
        m.zero = pyo.Var(
            bounds=(0.0, 0.0), doc="a placeholder for an objective without decisions (-)"
        )
        expressions = [0.0 * m.zero]
    m.reward = pyo.Objective(
        expr=pyo.quicksum(expressions + [constant]),
        sense=pyo.maximize,
        doc="the window's reward, reward units",
    )
    return constant
