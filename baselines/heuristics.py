"""Heuristic charging policies that see only the env's public interface.

Every policy here is built from the read-only :class:`evgrid_gym.Scenario` and maps, each
tick, the observation and the last ``info`` to an action; none touches env internals or the
episode plan (they are causal), so each could run behind a station API. All of them respect
the EV, charger, station-grid and feeder limits themselves: they choose per-connector
requests and a priority, and the shared rule :func:`baselines.allocation.allocate` cuts the
requests to what the limits allow, so the env's projection has nothing to cut (only the EV's
exact CC-CV limit, which they read from the observation rounded to float32).

| name | rule |
|---|---|
| ``uncontrolled`` | every EV asks its max power; a binding limit is shared in proportion |
| ``random`` | random fraction of each EV's max power, random order, random BESS power |
| ``round_robin`` | max-min fair (equal) sharing of every binding limit (ACN-Sim) |
| ``edf`` | earliest (effective) departure first (ACN-Sim) |
| ``llf`` | least laxity first (ACN-Sim) |
| ``alap`` | only what cannot wait to still reach the target by departure, least laxity first |
| ``greedy_fcfs`` | in plug-in order, each EV gets all it can (seed 002, Sems) |
| ``equal_share`` | uniformise a station when demand exceeds it, else per charger (seed 003) |
| ``bess_boost`` | ``equal_share`` plus the Electra battery boost and recharge (seed 003) |
| ``contract_net`` | seed 000 market: must-charge always, flexible energy on surplus or low price |

Units: power kW, energy kWh, time in ticks of ``dt_h`` hours; consumption is positive.
Sources: Z. J. Lee et al., "ACN-Sim: An Open-Source Simulator for Data-Driven Electric Vehicle
Charging Research", IEEE SmartGridComm 2019, and "Adaptive Charging Networks: A Framework for
Smart Electric Vehicle Charging", IEEE Trans. Smart Grid 2021 (sorting and round-robin
algorithms, laxity); the seed documents 000 (contract-net market), 002 (Sems greedy load
balancing) and 003 (Electra uniformisation and battery boost).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from baselines.allocation import TOL_KW, allocate
from evgrid_gym.core import layout as L
from evgrid_gym.core.battery import full_power_start_soc
from evgrid_gym.observation import Observation
from evgrid_gym.scenario import Scenario

# Station and feeder capacities are shrunk by this relative margin: the observation is float32,
# so the household load and BESS soc a policy reads may be off by ~1e-7 relative, and the
# float32 action is rounded towards zero; 1e-6 keeps the env's projection from cutting anything.
_MARGIN = 1e-6


class Now(NamedTuple):
    """What a heuristic knows at one tick (float64 copies of the observation).

    Attributes:
        obs: the observation as named arrays (:class:`evgrid_gym.observation.Observation`).
        tick: the tick (``info["tick"]``, or counted since ``reset``).
        ticks_left: ticks each EV can still charge, this one included: its ticks to departure,
            cut at the episode end (every EV leaves then), 0 on free connectors, shape (C,).
        ev_max_kw: the most each EV can take this tick (0 when free), kW, shape (C,).
        station_kw: each station's grid capacity (less the margin), kW, shape (S,).
        feeder_kw: the feeder limit minus the household load now (less the margin), kW.
        bess_discharge_kw: BESS discharge available now, kW, shape (S,) (0 without BESS
            control or without BESS).
        bess_charge_kw: BESS charging power available now, kW, shape (S,) (same).
    """

    obs: Observation
    tick: int
    ticks_left: np.ndarray
    ev_max_kw: np.ndarray
    station_kw: np.ndarray
    feeder_kw: float
    bess_discharge_kw: np.ndarray
    bess_charge_kw: np.ndarray


class Sessions:
    """Per-connector memory of the plugged-in EVs, from the observation and ``info``.

    An EV is identified by ``info["connector_ev"]`` (the index of the EV on each connector,
    -1 when free) when ``info`` has it; otherwise a connector gets a new EV when it turns
    occupied, its ticks to departure grow or its soc falls (these policies never discharge
    an EV).

    Attributes:
        ev: id of the EV on each connector, -1 when free, shape (C,).
        arrival_tick: tick the EV was first seen, shape (C,).
        capacity_kwh: battery capacity learned from a charged tick (energy needed fell by
            ``dE`` while the soc rose by ``dsoc``: ``dE / dsoc``), NaN until then, shape (C,).
        peak_kw: the largest max power seen for the EV (at most its rated power), kW, (C,).
    """

    _MIN_DSOC = 1e-3  # float32 soc: a rise of 1e-3 gives the capacity to ~1e-4

    def __init__(self, n_connectors: int):
        self._n = n_connectors
        self.reset()

    def reset(self) -> None:
        n = self._n
        self.ev = np.full(n, -1, dtype=np.int64)
        self.arrival_tick = np.zeros(n, dtype=np.int64)
        self.capacity_kwh = np.full(n, np.nan)
        self.peak_kw = np.zeros(n)
        self._soc = np.zeros(n)
        self._energy_kwh = np.zeros(n)
        self._ticks_to_departure = np.zeros(n)
        self._next_id = 0

    def update(self, obs: Observation, info: dict[str, Any], tick: int) -> None:
        occupied = obs.occupied > 0.5
        if "connector_ev" in info:
            ev = np.where(occupied, np.asarray(info["connector_ev"], dtype=np.int64), -1)
        else:
            new = occupied & (
                (self.ev < 0)
                | (obs.ticks_to_departure > self._ticks_to_departure)
                | (obs.soc < self._soc)
            )
            ev = np.where(occupied, self.ev, -1)
            ev[new] = self._next_id + np.arange(np.count_nonzero(new))
            self._next_id += int(np.count_nonzero(new))
        new = occupied & (ev != self.ev)
        same = occupied & ~new
        rise = obs.soc - self._soc
        fall = self._energy_kwh - obs.energy_needed_kwh
        learned = same & (rise > self._MIN_DSOC) & (fall > 0.0)
        self.capacity_kwh[learned] = fall[learned] / rise[learned]
        self.capacity_kwh[new] = np.nan
        self.arrival_tick[new] = tick
        self.peak_kw = np.where(new, obs.max_power_kw, np.maximum(self.peak_kw, obs.max_power_kw))
        self.ev = ev
        self._soc = obs.soc.copy()
        self._energy_kwh = obs.energy_needed_kwh.copy()
        self._ticks_to_departure = obs.ticks_to_departure.copy()


class Heuristic:
    """Base of the heuristics: reads the scenario once, builds :class:`Now` each tick, turns
    the chosen powers into an action.

    Subclasses implement ``decide(now) -> (connector_kw, bess_kw or None)``; the base turns
    those into fractions of the connectors' rated power and of the BESS power (float32,
    rounded towards zero so the action never asks more than was decided). BESS entries exist
    only with ``config.action.bess_control``; without it they are dropped.
    """

    perfect_foresight = False
    pilot_to_need = False
    """True: a connector granted all its EV takes asks at most for the power that delivers
    the EV's remaining need within the tick (ACN-Sim's sorting algorithms; see
    :meth:`action`)."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.n_connectors, self.n_stations = scenario.n_connectors, scenario.n_stations
        self.connector_charger = scenario.connector_charger
        self.conn_station = scenario.connector_station
        self.charger_kw = scenario.charger_f[L.CH_MAX_KW]
        self.efficiency = scenario.charger_f[L.CH_EFFICIENCY][scenario.connector_charger]
        self.rated_kw = scenario.connector_rated_kw
        station_f = scenario.station_f
        self.grid_kw = station_f[L.ST_GRID_KW]
        self.bess_control = bool(scenario.config.action.bess_control)
        self.bess_kw = station_f[L.ST_BESS_KW] * (station_f[L.ST_BESS_KWH] > 0)
        self.dt_h = float(scenario.cfg[L.CFG_DT_H])
        self.transition_soc = float(scenario.cfg[L.CFG_TRANSITION_SOC])
        self.episode_ticks = scenario.config.episode_ticks
        self.sessions = Sessions(self.n_connectors)
        # the power a connector can count on whoever else plugs in: an equal share of its
        # charger's power and of its station's grid capacity
        ones = np.ones(self.n_connectors)
        self.share_kw = np.minimum(
            (self.charger_kw / self.per_charger(ones))[self.connector_charger],
            (self.grid_kw / self.per_station(ones))[self.conn_station],
        )
        # the env's BESS limits (core.battery.power_limits_kw: constant power between the soc
        # limits): discharge min(P, (soc - soc_min) * kWh * eff / dt_h), charge min(P,
        # (soc_max - soc) * kWh / (eff * dt_h))
        capacity_kwh = station_f[L.ST_BESS_KWH]
        efficiency = np.where(capacity_kwh > 0, station_f[L.ST_BESS_EFFICIENCY], 1.0)
        self._soc_min, self._soc_max = station_f[L.ST_BESS_SOC_MIN], station_f[L.ST_BESS_SOC_MAX]
        self._discharge_kw_per_soc = capacity_kwh * efficiency / self.dt_h
        self._charge_kw_per_soc = capacity_kwh / (efficiency * self.dt_h)
        self._station_kw = self.grid_kw * (1.0 - _MARGIN)
        self._feeder_kw = float(scenario.cfg[L.CFG_FEEDER_KW]) * (1.0 - _MARGIN)
        self._no_bess = np.zeros(self.n_stations)
        self._tick = 0

    def reset(self, seed: int | None = None, plan=None) -> None:
        """Starts an episode: forgets every session (``plan`` is ignored: causal policy)."""
        self.sessions.reset()
        self._tick = 0

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The action for this tick, float32, shape ``(scenario.n_actions,)``."""
        now = self.now(observation, info)
        self.sessions.update(now.obs, info, now.tick)
        connector_kw, bess_kw = self.decide(now)
        return self.action(connector_kw, bess_kw, now)

    def decide(self, now: Now) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    # --- per-tick view ------------------------------------------------------------------

    def now(self, observation: np.ndarray, info: dict[str, Any]) -> Now:
        obs = self.scenario.unpack(np.array(observation, dtype=np.float64))
        tick = int(info.get("tick", self._tick))
        self._tick = tick + 1
        # free connectors read 0 ticks to departure and 0 kW
        ticks_left = np.minimum(obs.ticks_to_departure, self.episode_ticks - tick)
        discharge = charge = self._no_bess
        if self.bess_control:
            soc = obs.bess_soc
            discharge = np.minimum(
                self.bess_kw, np.maximum(soc - self._soc_min, 0.0) * self._discharge_kw_per_soc
            ) * (1.0 - _MARGIN)  # fmt: skip
            charge = np.minimum(
                self.bess_kw, np.maximum(self._soc_max - soc, 0.0) * self._charge_kw_per_soc
            )
        return Now(
            obs=obs,
            tick=tick,
            ticks_left=ticks_left,
            ev_max_kw=obs.max_power_kw,
            station_kw=self._station_kw,
            feeder_kw=self._feeder_kw - obs.household_kw * (1.0 + _MARGIN),
            bess_discharge_kw=discharge,
            bess_charge_kw=charge,
        )

    # --- shared building blocks ---------------------------------------------------------

    def allocate(
        self,
        request_kw: np.ndarray,
        priority: np.ndarray,
        now: Now,
        station_kw: np.ndarray | None = None,
        feeder_kw: float | None = None,
        weights: np.ndarray | None = None,
        already_kw: np.ndarray | None = None,
    ) -> np.ndarray:
        """:func:`~baselines.allocation.allocate` under this tick's limits.

        ``station_kw`` / ``feeder_kw`` default to ``now``'s (grid capacity, feeder less the
        households); pass others where the policy's BESS changes them. ``already_kw``
        (per connector) was given earlier this tick and is taken off every limit.
        """
        station_kw = now.station_kw if station_kw is None else station_kw
        feeder_kw = now.feeder_kw if feeder_kw is None else feeder_kw
        cap_kw, charger_kw = now.ev_max_kw, self.charger_kw
        if already_kw is not None:
            cap_kw = cap_kw - already_kw
            charger_kw = charger_kw - self.per_charger(already_kw)
            station_kw = station_kw - self.per_station(already_kw)
            feeder_kw = feeder_kw - already_kw.sum()
        return allocate(
            request_kw, priority, cap_kw, self.connector_charger, charger_kw,
            self.conn_station, station_kw, feeder_kw, weights,
        )  # fmt: skip

    def per_station(self, connector_kw: np.ndarray) -> np.ndarray:
        """Sum over each station's connectors, shape (S,)."""
        return np.bincount(self.conn_station, connector_kw, minlength=self.n_stations)

    def per_charger(self, connector_kw: np.ndarray) -> np.ndarray:
        """Sum over each charger's connectors, shape (K,)."""
        return np.bincount(self.connector_charger, connector_kw, minlength=self.charger_kw.shape[0])

    def laxity(self, now: Now) -> np.ndarray:
        """ACN-Sim laxity, ticks: ticks left minus the ticks the energy still needed takes at
        the EV's max power now, ``E / (efficiency * p_max * dt_h)`` (the observation's energy
        is battery-side, its power grid-side). Free connectors: ``inf``."""
        o = now.obs
        rate_kwh = self.efficiency * now.ev_max_kw * self.dt_h
        ticks = np.divide(o.energy_needed_kwh, rate_kwh, out=np.zeros(self.n_connectors),
                          where=rate_kwh > 0)  # fmt: skip
        return np.where(o.occupied > 0.5, now.ticks_left - ticks, np.inf)

    def must_charge_kw(self, now: Now, tolerance_kwh: float) -> np.ndarray:
        """Grid power each EV needs now so that charging at full power from the next tick on
        still brings it to ``energy needed - tolerance_kwh`` by departure, kW (ALAP).

        Full power follows the two-stage CC-CV curve (ACN-Sim ``Linear2StageBattery``, the
        env's battery model, exact in continuous time, so tick boundaries do not matter):
        ``r = efficiency * P`` kWh/h into the battery up to ``transition_soc``, then an
        exponential approach to full with time constant ``tau = (1 - ts) * capacity / r``.
        The EV's rated power ``P`` and capacity are not observed; both are estimated from
        below, which only makes the EV start earlier: ``P`` is the largest max power seen for
        this EV, but at most the connector's equal share of its charger and station
        (``share_kw``: other EVs may plug in and share them), the capacity is learned from a
        charged tick (:class:`Sessions`) or, until then, ``E / (1 - soc)`` (a target of
        100 %, the longest taper). Working backwards from the goal soc ``g`` over the ``W =
        (ticks_left - 1) * dt_h`` hours after this tick gives the soc ``s*`` full power must
        start from (:func:`~evgrid_gym.core.battery.full_power_start_soc`); the EV needs
        ``(s* - soc) * capacity`` now. A goal that full power never reaches (``g = 1`` in the
        CV stage) needs full power now.
        """
        o = now.obs
        soc, energy = o.soc, o.energy_needed_kwh
        goal_kwh = energy - tolerance_kwh
        live = (o.occupied > 0.5) & (goal_kwh > 0.0) & (soc < 1.0)
        power_kw = np.minimum(np.maximum(self.sessions.peak_kw, now.ev_max_kw), self.share_kw)
        live &= self.efficiency * power_kw > 0.0
        need_kw = np.zeros(self.n_connectors)
        for c in np.flatnonzero(live).tolist():
            capacity = self.sessions.capacity_kwh[c]
            if not capacity > 0.0:
                capacity = energy[c] / (1.0 - soc[c])
            goal = soc[c] + goal_kwh[c] / capacity
            window_h = (now.ticks_left[c] - 1.0) * self.dt_h
            start = full_power_start_soc(
                goal, capacity, power_kw[c], self.efficiency[c], self.transition_soc, window_h
            )
            if start > soc[c]:
                need_kw[c] = (start - soc[c]) * capacity / (self.efficiency[c] * self.dt_h)
        return need_kw

    def equal_shares_kw(self, now: Now, station_kw: np.ndarray) -> np.ndarray:
        """Seed 003 (Electra) uniformisation, kW per connector.

        A station whose EVs' max power sums to more than ``station_kw`` gives each of its EVs
        the same share ``station_kw / n`` ("uniformisation ... for fairness"); otherwise each
        charger decides: it grants everything if its EVs fit, else splits its power equally.
        A share an EV cannot take is not passed on (that is what distinguishes this from
        :class:`RoundRobin`). EVs that can take no power now (at their target) get no share.
        """
        ev_max = now.ev_max_kw
        charging = (ev_max > 0.0).astype(np.float64)
        demand_kw = self.per_station(ev_max)
        station_share = station_kw / np.maximum(self.per_station(charging), 1.0)
        charger_count = np.maximum(self.per_charger(charging), 1.0)
        charger_share = np.where(
            self.per_charger(ev_max) > self.charger_kw, self.charger_kw / charger_count, np.inf
        )
        share = np.where(
            (demand_kw > station_kw)[self.conn_station],
            station_share[self.conn_station],
            charger_share[self.connector_charger],
        )
        return np.minimum(ev_max, share)

    def fill_bess(
        self, bess_kw: np.ndarray, stations: np.ndarray, now: Now, connector_kw: np.ndarray,
        budget_kw: float = math.inf,
    ) -> None:  # fmt: skip
        """Charges the BESS of ``stations`` (bool, (S,)) in place with what is left after the
        EVs: within each station's BESS limit and grid capacity, the feeder, and
        ``budget_kw`` in total (stations in index order)."""
        station_left = now.station_kw - self.per_station(connector_kw)
        left = min(now.feeder_kw - connector_kw.sum() - bess_kw.sum(), budget_kw)
        for s in np.flatnonzero(stations).tolist():
            charge = max(min(now.bess_charge_kw[s], station_left[s], left), 0.0)
            bess_kw[s] = charge
            left -= charge

    def action(self, connector_kw: np.ndarray, bess_kw: np.ndarray | None, now: Now) -> np.ndarray:
        """Powers -> float32 action, each entry rounded towards zero.

        A connector granted all its EV can take now (``ev_max_kw > 0``, within ``TOL_KW``) asks
        for its charger's full power, or, with :attr:`pilot_to_need`, for at most the power
        that would deliver the EV's remaining need within the tick. Under ``battery.pilot:
        average`` both are the same power (the projection cuts the request to the EV's
        CC-CV limit, which never exceeds that need); under ``acn`` the request is the pilot
        the EV draws under, as ACN-Sim's algorithms set it: the EVSE's maximum pilot
        (uncontrolled charging), or that maximum bounded by the remaining demand (its
        sorting algorithms, ``remaining_amp_periods``). A pilot of the EV's average power
        would hold it below its curve.
        """
        ev_max_kw = now.ev_max_kw
        full_kw = self.rated_kw
        if self.pilot_to_need:
            need_kw = now.obs.energy_needed_kwh / (self.efficiency * self.dt_h)
            full_kw = np.minimum(full_kw, need_kw)
        full = (connector_kw >= ev_max_kw - TOL_KW) & (ev_max_kw > 0.0)
        fractions = np.zeros(self.scenario.n_actions)
        fractions[: self.n_connectors] = np.where(full, full_kw, connector_kw) / self.rated_kw
        if self.bess_control and bess_kw is not None:
            fractions[self.n_connectors :] = np.divide(
                bess_kw, self.bess_kw, out=np.zeros(self.n_stations), where=self.bess_kw > 0
            )
        fractions = np.clip(fractions, -1.0, 1.0)
        action = fractions.astype(np.float32)
        away = np.abs(action.astype(np.float64)) > np.abs(fractions)
        action[away] = np.nextafter(action[away], np.float32(0.0))
        return action


class Uncontrolled(Heuristic):
    """As fast as possible: every EV asks for its max power now (ACN-Sim "uncontrolled").

    Where a charger, station or the feeder cannot supply all of it, the EVs behind that limit
    share it in proportion to their max power (what a proportional cut of the requests would
    do), computed by the policy so the action itself is within the limits. BESS idle.
    """

    def decide(self, now: Now):
        request = now.ev_max_kw
        weights = np.where(request > 0.0, request, 1.0)
        return self.allocate(request, np.zeros(self.n_connectors), now, weights=weights), None


class RandomPolicy(Heuristic):
    """Random feasible charging, from its own generator (seeded by ``reset(seed)``).

    Each EV asks a uniform random fraction of its max power, EVs are served in a random
    order; with BESS control each BESS gets a uniform random power in [-1, 1] of its rating,
    cut to its soc limits, its station's grid capacity and the feeder. No V2G.
    """

    def __init__(self, scenario: Scenario):
        super().__init__(scenario)
        self._rng = np.random.default_rng()

    def reset(self, seed: int | None = None, plan=None) -> None:
        super().reset(seed)
        self._rng = np.random.default_rng(seed)

    def decide(self, now: Now):
        rng = self._rng
        request = rng.uniform(0.0, 1.0, self.n_connectors) * now.ev_max_kw
        order = rng.permutation(self.n_connectors).astype(np.float64)
        if not self.bess_control:
            return self.allocate(request, order, now), None
        bess_kw = rng.uniform(-1.0, 1.0, self.n_stations) * self.bess_kw
        bess_kw = np.clip(bess_kw, -np.minimum(now.bess_discharge_kw, now.station_kw),
                          np.minimum(now.bess_charge_kw, now.station_kw))  # fmt: skip
        # the feeder carries the stations' net import: a discharge frees capacity, charging
        # takes it (station by station, what is left)
        feeder_left = now.feeder_kw - np.minimum(bess_kw, 0.0).sum()
        for s in range(self.n_stations):
            if bess_kw[s] > 0.0:
                bess_kw[s] = max(min(bess_kw[s], feeder_left), 0.0)
                feeder_left -= bess_kw[s]
        connector_kw = self.allocate(
            request, order, now, station_kw=now.station_kw - bess_kw, feeder_kw=feeder_left
        )
        return connector_kw, bess_kw


class RoundRobin(Heuristic):
    """ACN-Sim round robin: every binding limit is shared equally (max-min fair).

    ACN-Sim raises each EV's rate by one increment in turn and drops an EV when a further
    increment is infeasible; with an infinitesimal increment that is water-filling: all EVs
    get the same power except those that cannot take that much, whose rest is shared by the
    others. BESS idle.
    """

    pilot_to_need = True

    def decide(self, now: Now):
        return self.allocate(now.ev_max_kw, np.zeros(self.n_connectors), now), None


class EarliestDeadlineFirst(Heuristic):
    """ACN-Sim EDF: EVs in order of departure, each gets its max power while capacity lasts.

    The deadline is the ticks left (departure, cut at the episode end); EVs with the same
    deadline share equally. BESS idle.
    """

    pilot_to_need = True

    def decide(self, now: Now):
        return self.allocate(now.ev_max_kw, now.ticks_left, now), None


class LeastLaxityFirst(Heuristic):
    """ACN-Sim LLF: EVs in order of laxity (:meth:`Heuristic.laxity`, ticks of slack), each gets
    its max power while capacity lasts. BESS idle."""

    pilot_to_need = True

    def decide(self, now: Now):
        return self.allocate(now.ev_max_kw, self.laxity(now), now), None


class GreedyFCFS(Heuristic):
    """Seed 002 (Sems) greedy load balancing: first come, first served.

    EVs in the order they plugged in (the policy remembers when it first saw each EV; ties by
    EV index); each gets its max power, cut to what its charger, station and the feeder still
    have. This is also ACN-Sim's FCFS. BESS idle.
    """

    pilot_to_need = True

    def decide(self, now: Now):
        s = self.sessions
        rank = np.empty(self.n_connectors)
        rank[np.lexsort((s.ev, s.arrival_tick))] = np.arange(self.n_connectors)
        return self.allocate(now.ev_max_kw, rank, now), None


class AsLateAsPossible(Heuristic):
    """As late as possible: each EV gets only the power that cannot wait.

    ACN-Sim-style ALAP: the power needed now so that charging at full power in the remaining
    ticks still reaches the target (less ``tolerance_kwh``) by departure
    (:meth:`Heuristic.must_charge_kw`). The CC-CV taper makes late charging risky: the plan
    uses the taper of the env's battery model, with the EV's capacity and power estimated
    from below (the power at most the connector's equal share of its charger and station),
    so EVs start early rather than late; a target of 100 % is approached exponentially and
    never reached, hence the tolerance. When capacity is short, least laxity first. Charging
    late stays risky where EVs crowd in at the end (a stay cut by the episode end, more
    arrivals): it can leave more energy unmet than the eager policies. BESS idle.

    Args:
        scenario: the scenario.
        tolerance_kwh: energy short of the target the plan accepts, kWh (>= 0).
    """

    def __init__(self, scenario: Scenario, tolerance_kwh: float = 0.05):
        super().__init__(scenario)
        if not tolerance_kwh >= 0.0:
            raise ValueError(f"tolerance_kwh: got {tolerance_kwh}; must be >= 0")
        self.tolerance_kwh = tolerance_kwh

    def decide(self, now: Now):
        request = self.must_charge_kw(now, self.tolerance_kwh)
        return self.allocate(request, self.laxity(now), now), None


class EqualShare(Heuristic):
    """Seed 003 (Electra) load balancing without the battery (:meth:`~Heuristic.equal_shares_kw`).

    A station whose demand (its EVs' max power) exceeds its grid capacity gives every EV the
    same share; otherwise each charger grants everything or splits its power equally. BESS
    idle.
    """

    def decide(self, now: Now):
        request = self.equal_shares_kw(now, now.station_kw)
        return self.allocate(request, np.zeros(self.n_connectors), now), None


class BessBoost(Heuristic):
    """Seed 003 (Electra) battery boost on top of :class:`EqualShare`.

    When a station's demand (its EVs' max power) exceeds its grid capacity and its BESS soc
    is at least ``boost_soc``, the BESS discharges to serve what the grid cannot: the EVs share
    grid capacity plus available BESS discharge, and the BESS gives the part above the grid
    capacity. Otherwise, when more than ``recharge_free_fraction`` of the station's grid
    capacity is unused by its EVs, the BESS recharges from that free capacity. The seed's
    "boost session" (one session wholly on the battery) becomes the battery covering the
    excess over the grid. Without BESS control (or BESS) this is :class:`EqualShare`.

    Args:
        scenario: the scenario.
        boost_soc: soc from which the BESS may boost (seed 003: 20 %).
        recharge_free_fraction: free share of grid capacity above which it recharges (seed
            003: 50 %).
    """

    def __init__(
        self, scenario: Scenario, boost_soc: float = 0.2, recharge_free_fraction: float = 0.5
    ):
        super().__init__(scenario)
        for name, value in (("boost_soc", boost_soc),
                            ("recharge_free_fraction", recharge_free_fraction)):  # fmt: skip
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: got {value}; must be in [0, 1]")
        self.boost_soc = boost_soc
        self.recharge_free_fraction = recharge_free_fraction

    def decide(self, now: Now):
        boost = (
            (self.per_station(now.ev_max_kw) > now.station_kw)
            & (now.obs.bess_soc >= self.boost_soc)
            & (now.bess_discharge_kw > 0.0)
        )
        station_kw = now.station_kw + np.where(boost, now.bess_discharge_kw, 0.0)
        request = self.equal_shares_kw(now, station_kw)
        # The feeder sees the station's net import; counting the EVs' full power on it is
        # conservative (the discharge only lowers it).
        connector_kw = self.allocate(request, np.zeros(self.n_connectors), now, station_kw)
        ev_kw = self.per_station(connector_kw)
        bess_kw = -np.where(boost, np.clip(ev_kw - now.station_kw, 0.0, now.bess_discharge_kw), 0.0)
        free = now.station_kw - ev_kw > self.recharge_free_fraction * self.grid_kw
        self.fill_bess(bess_kw, ~boost & free, now, connector_kw)
        return connector_kw, bess_kw


class ContractNet(Heuristic):
    """Seed 000 market heuristic for the stations' energy purchases.

    - Energy an EV needs before departure is always bought: the ALAP must-charge power
      (:meth:`Heuristic.must_charge_kw`), least laxity first.
    - Flexible energy (the rest of each EV's max power) is bought only with own renewable
      energy in surplus (renewable output now minus the household load, which bids 1.0 and is
      served first) or when the price is low; EVs in order of soc, the seed's urgency bid
      ``1 - fill`` (emptiest first).
    - With BESS control: the BESS charges from surplus left after the EVs, or fully when the
      price is low; when the price is high it discharges to cover its station's EV load (no
      export).

    The price is low when at most ``low_price_ratio`` times, high when at least
    ``high_price_ratio`` times the mean of every price seen this episode (now and forecast):
    with a fixed price it is neither.

    Args:
        scenario: the scenario.
        low_price_ratio, high_price_ratio: price thresholds relative to the running mean.
        tolerance_kwh: as in :class:`AsLateAsPossible`.
    """

    def __init__(
        self,
        scenario: Scenario,
        low_price_ratio: float = 0.9,
        high_price_ratio: float = 1.1,
        tolerance_kwh: float = 0.05,
    ):
        super().__init__(scenario)
        if not 0.0 <= low_price_ratio <= high_price_ratio:
            raise ValueError(
                f"low_price_ratio, high_price_ratio: got {low_price_ratio}, {high_price_ratio}; "
                "must satisfy 0 <= low <= high"
            )
        if not tolerance_kwh >= 0.0:
            raise ValueError(f"tolerance_kwh: got {tolerance_kwh}; must be >= 0")
        self.low_price_ratio, self.high_price_ratio = low_price_ratio, high_price_ratio
        self.tolerance_kwh = tolerance_kwh
        self._price_sum, self._price_count = 0.0, 0

    def reset(self, seed: int | None = None, plan=None) -> None:
        super().reset(seed)
        self._price_sum, self._price_count = 0.0, 0

    def decide(self, now: Now):
        o = now.obs
        self._price_sum += float(o.price_eur_per_kwh.sum())
        self._price_count += o.price_eur_per_kwh.shape[0]
        reference = self._price_sum / self._price_count
        price = o.price_eur_per_kwh[0]
        low = price <= self.low_price_ratio * reference
        high = price >= self.high_price_ratio * reference
        surplus_kw = max(o.renewable_kw[0] - o.household_kw, 0.0)

        must = self.allocate(self.must_charge_kw(now, self.tolerance_kwh), self.laxity(now), now)
        budget_kw = math.inf if low else max(surplus_kw - must.sum(), 0.0)
        connector_kw = must
        if budget_kw > 0.0:
            connector_kw = must + self.allocate(
                now.ev_max_kw - must, o.soc, now,
                feeder_kw=min(now.feeder_kw, must.sum() + budget_kw), already_kw=must,
            )  # fmt: skip
        bess_kw = np.zeros(self.n_stations)
        if high:
            bess_kw = -np.minimum(now.bess_discharge_kw, self.per_station(connector_kw))
        else:
            budget_kw = math.inf if low else max(surplus_kw - connector_kw.sum(), 0.0)
            self.fill_bess(bess_kw, now.bess_charge_kw > 0.0, now, connector_kw, budget_kw)
        return connector_kw, bess_kw


HEURISTICS = {
    "uncontrolled": Uncontrolled,
    "random": RandomPolicy,
    "round_robin": RoundRobin,
    "edf": EarliestDeadlineFirst,
    "llf": LeastLaxityFirst,
    "alap": AsLateAsPossible,
    "greedy_fcfs": GreedyFCFS,
    "equal_share": EqualShare,
    "bess_boost": BessBoost,
    "contract_net": ContractNet,
}
