"""One station's decisions on the simulator's own kernels: the service's only link to the core.

Every line of the station service that touches the core's arrays or kernels is in this module,
so the service decides exactly as :class:`~evgrid_gym.envs.EVGridEnv` does, with no second
implementation of any rule:

- the station's state is put in the core's layout (:mod:`evgrid_gym.core.layout`: one
  ``conn`` row per connector, the BESS soc, the clock) from the stored document at each
  decision, in a *station view* of the scenario (:func:`~evgrid_gym.service.topology.station_view`);
- the policy's observation is written by ``core.tick.write_observation``; its ``info`` holds
  ``tick``, ``date`` and ``connector_ev`` (the sessions' plug-in numbers) as the env's does;
- its action is applied by the env's own tick, ``core.tick.step``, on a copy of that state:
  the powers the core applies (``CN_POWER_KW``, ``SO_BESS_KW``: the action scaled to the rated
  powers, cut to each EV's CC-CV range and projected onto the charger, station and feeder
  limits by ``core.projection.project_power``, and whatever further rule the tick applies)
  are the allocation. In that copy EVs never leave (they leave by request) and the limits are
  hard (a real grid connection is not a penalty); its market and accounting are discarded;
- between decisions the batteries advance at the allocated powers with
  ``core.battery.battery_energy_kwh``, the soc as in ``core.tick.step``.

Time: a decision at time ``t`` is the env's decision at the tick of the local day (the
scenario's ``calendar.timezone``) that contains ``t``: prices, renewable output and household
load of that tick and the next ``forecast_ticks`` (:class:`ScenarioInputs`), ticks to departure
counted from the tick's start. Decisions come on every plug-in and plug-out and at every
multiple of ``tick_s`` (:func:`~evgrid_gym.service.clock.decision_times`), so with ``tick_s =
dt_h`` and events on tick boundaries the service replays the env tick for tick.

What the stored session does not say is filled by documented rules: a session without
``soc`` and ``battery_capacity_kwh`` is a battery of :data:`UNKNOWN_BATTERY_KWH` from soc 0 (its
CC-CV curve never tapers; seed 002 makes no assumption on charging curves), asking for
``energy_requested_kwh`` or, without it, to be full; without ``departure`` the EV is taken to
leave at the end of the day (the policy's episode end). No V2G through the service. Policies
are called memoryless (``reset`` before every decision), so a decision depends on the stored
station alone: the same after a restart or on another worker. ``greedy_fcfs``, ``equal_share``,
``bess_boost``, ``edf``, ``llf``, ``round_robin``, ``uncontrolled`` and agents use nothing else;
``alap`` and ``contract_net`` decide as at the first tick they see an EV (no learned battery
capacities, no running price mean) and ``random`` draws afresh.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.core import layout as L
from evgrid_gym.core.battery import battery_energy_kwh
from evgrid_gym.core.observation import write_observation
from evgrid_gym.core.state import Episode, Outputs, State
from evgrid_gym.core.tick import STATUS_OK, step, workspace_size
from evgrid_gym.inputs import Inputs
from evgrid_gym.policy import Policy
from evgrid_gym.scenario import Scenario
from evgrid_gym.service.clock import decision_times
from evgrid_gym.service.models import Session, StationDocument, StationTopology
from evgrid_gym.service.topology import service_day, station_topology, station_view

UNKNOWN_BATTERY_KWH = 1e6
"""Capacity of the battery a session is modelled with when its soc and capacity are unknown."""

DayInputs = Callable[[datetime.date], np.ndarray]
"""The exogenous inputs of a day: ``date -> exo`` of shape (N_EXO_FIELDS, >= ticks per day +
forecast ticks) in the core's layout (``core.layout.EXO_*``), from local midnight."""


class ScenarioInputs:
    """The scenario's exogenous inputs for each day, as the env draws them for an episode of
    that day; synthetic inputs come from a generator seeded with the date's ordinal, so every
    worker and every restart sees the same day. The last few days are kept.

    Args:
        config: a :func:`~evgrid_gym.service.topology.service_day` scenario.
    """

    _KEEP_DAYS = 4

    def __init__(self, config: ScenarioConfig):
        n_ticks = config.episode_ticks + config.observation.forecast_ticks + 1
        self._inputs = Inputs(config, n_ticks)
        self._timezone = config.calendar.timezone
        self._days: dict[datetime.date, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, date: datetime.date) -> np.ndarray:
        with self._lock:
            exo = self._days.get(date)
            if exo is None:
                start = pd.Timestamp(date).tz_localize(self._timezone)
                exo = self._inputs.sample(np.random.default_rng(date.toordinal()), start)
                exo.setflags(write=False)
                if len(self._days) >= self._KEEP_DAYS:
                    del self._days[min(self._days)]
                self._days[date] = exo
            return exo


class StationEngine:
    """Decides one station's allocations with a policy and advances its batteries.

    Thread-safe: a decision holds the engine's lock (its work arrays and the policy are
    shared); advancing the batteries allocates its own.

    Args:
        view: the station view of the scenario (one station).
        topology: the station's chargers and connectors, in the view's order.
        policy: built for ``view``.
        inputs: the exogenous inputs per day.
        tick_s: seconds between periodic decisions, in (0, dt_h].

    Raises:
        ValueError: ``view`` and ``topology`` disagree, or a bad ``tick_s``.
    """

    def __init__(
        self,
        view: Scenario,
        topology: StationTopology,
        policy: Policy,
        inputs: DayInputs,
        tick_s: float,
    ):
        per_charger = np.bincount(view.connector_charger, minlength=view.n_chargers).tolist()
        if view.n_stations != 1 or per_charger != [len(c.connector_ids) for c in topology.chargers]:
            raise ValueError(f"station {topology.station_id}: topology does not fit its view")
        dt_s = float(view.cfg[L.CFG_DT_H]) * 3600.0
        if not 0.0 < tick_s <= dt_s:
            raise ValueError(f"tick_s: got {tick_s}; must be in (0, dt_h = {dt_s:g} s]")
        self.topology = topology
        self._view, self._policy, self._inputs, self.tick_s, self._dt_s = (
            view,
            policy,
            inputs,
            tick_s,
            dt_s,
        )
        cfg = view.cfg.copy()
        cfg[L.CFG_SOFT_LIMITS] = 0.0
        cfg[L.CFG_N_TICKS] = np.inf  # no episode end: the service runs on
        cfg.setflags(write=False)
        self._static = view.static._replace(cfg=cfg)
        self._timezone = ZoneInfo(view.config.calendar.timezone)
        self._slot = {connector: c for c, connector in enumerate(topology.connectors())}
        self._efficiency = view.charger_f[L.CH_EFFICIENCY][view.connector_charger]
        n_conn, n_ch = view.n_connectors, view.n_chargers
        # no EV table (sessions come by request) and nothing is ever down; a day's inputs
        # replace its exo
        self._empty_episode = Episode.zeros(view.n_exo_ticks, n_ch, 1)
        self._state = State.zeros(n_conn, 1)
        self._obs = np.zeros(view.observation_low.shape, dtype=np.float32)
        self._work = np.zeros(workspace_size(n_conn, n_ch, 1, view.n_buses))
        self._station_kw = np.zeros(1)  # the station's draw now (the network's observation)
        # the copy of the state the action is applied to, and the tick's discarded outputs
        self._trial = State.zeros(n_conn, 1)
        self._trial_out = Outputs.zeros(1, self._obs.shape[0])
        self._lock = threading.Lock()

    # --- the station's life --------------------------------------------------------------

    def initial(self, now: datetime.datetime) -> StationDocument:
        """A station with no session, its BESS at its initial soc, decided at ``now``."""
        station_f = self._view.station_f
        has_bess = station_f[L.ST_BESS_KWH, 0] > 0.0
        document = StationDocument(
            station_id=self.topology.station_id, as_of=now, decided_at=now,
            bess_soc=float(station_f[L.ST_BESS_SOC_INIT, 0]) if has_bess else None,
            bess_power_kw=0.0, next_number=0, sessions=[],
        )  # fmt: skip
        return self.decide(document, now)

    def catch_up(self, document: StationDocument, now: datetime.datetime) -> StationDocument:
        """The station at ``now``: batteries advanced, with a decision at every periodic
        decision time after ``document.as_of`` up to and including ``now``."""
        for time in decision_times(document.as_of, now, self.tick_s):
            document = self.decide(self.advance(document, time), time)
        return self.advance(document, now)

    def advance(self, document: StationDocument, now: datetime.datetime) -> StationDocument:
        """Batteries charged at the allocated powers from ``document.as_of`` to ``now``.

        Raises:
            ValueError: ``now`` is before ``document.as_of``.
        """
        hours = (now - document.as_of).total_seconds() / 3600.0
        if hours < 0.0:
            raise ValueError(f"now: {now.isoformat()} is before {document.as_of.isoformat()}")
        if hours == 0.0:
            return document
        sessions = [self._charge(s, hours) for s in document.sessions]
        bess_soc = document.bess_soc
        if bess_soc is not None:
            station_f = self._view.station_f
            delta_kwh, _ = battery_energy_kwh(
                document.bess_power_kw, station_f[L.ST_BESS_EFFICIENCY, 0], hours
            )
            bess_soc = min(max(bess_soc + delta_kwh / station_f[L.ST_BESS_KWH, 0], 0.0), 1.0)
        return document.model_copy(
            update={"sessions": sessions, "bess_soc": bess_soc, "as_of": now}
        )

    def decide(self, document: StationDocument, now: datetime.datetime) -> StationDocument:
        """New allocations at ``now`` (= ``document.as_of``) by the policy."""
        if now != document.as_of:
            raise ValueError(f"now: {now.isoformat()} is not the state's {document.as_of}")
        local = now.astimezone(self._timezone)
        midnight = datetime.datetime.combine(local.date(), datetime.time(), self._timezone)
        day_ticks = (local - midnight).total_seconds() / self._dt_s  # wall clock of the day
        tick = min(int(day_ticks), int(self._static.cfg[L.CFG_TICKS_PER_DAY]) - 1)
        episode = self._empty_episode._replace(exo=self._inputs(local.date()))
        with self._lock:
            self._load(document, now, day_ticks, tick)
            self._station_kw[0] = document.bess_power_kw + sum(
                s.allocated_power_kw for s in document.sessions
            )
            write_observation(
                self._static, episode, self._state, self._obs, self._station_kw, self._work,
                *self._static.switches(),
            )  # fmt: skip
            info = {
                "tick": tick,
                "date": local.date().isoformat(),
                "connector_ev": self._state.conn[L.CN_EV].astype(np.int64),
            }
            self._policy.reset()
            action = self._policy.act(self._obs, info)
            conn_kw, bess_kw = self._apply(np.asarray(action), episode)
        sessions = [
            s.model_copy(update={"allocated_power_kw": float(conn_kw[self._slot_of(s)])})
            for s in document.sessions
        ]
        return document.model_copy(
            update={"sessions": sessions, "bess_power_kw": bess_kw, "decided_at": now}
        )

    def check(self, document: StationDocument) -> None:
        """Raises ``ValueError`` if a stored session is on a connector this station lacks."""
        for s in document.sessions:
            if (s.charger_id, s.connector_id) not in self._slot:
                raise ValueError(
                    f"station {document.station_id}: stored session {s.session_id} is on "
                    f"charger {s.charger_id!r} connector {s.connector_id!r}, which this "
                    "scenario does not have"
                )

    # --- the core's layout ---------------------------------------------------------------

    def _slot_of(self, session: Session) -> int:
        return self._slot[(session.charger_id, session.connector_id)]

    def _charge(self, session: Session, hours: float) -> Session:
        delta_kwh, _ = battery_energy_kwh(
            session.allocated_power_kw, self._efficiency[self._slot_of(session)], hours
        )
        update = {"delivered_kwh": session.delivered_kwh + delta_kwh}
        if session.soc is not None:
            soc = session.soc + delta_kwh / session.battery_capacity_kwh
            update["soc"] = min(max(soc, 0.0), 1.0)
        return session.model_copy(update=update)

    def _load(
        self, document: StationDocument, now: datetime.datetime, day_ticks: float, tick: int
    ) -> None:
        """The document in the core's state (``conn``, BESS soc, clock)."""
        conn = self._state.conn
        conn[:, :] = 0.0
        conn[L.CN_EV] = -1.0
        rated_kw = self._view.connector_rated_kw
        for s in document.sessions:
            c = self._slot_of(s)
            if s.soc is None:
                capacity, soc_start = UNKNOWN_BATTERY_KWH, 0.0
                soc = s.delivered_kwh / capacity
            else:
                capacity, soc_start, soc = s.battery_capacity_kwh, s.soc_start, s.soc
            requested = s.energy_requested_kwh
            target = 1.0 if requested is None else min(soc_start + requested / capacity, 1.0)
            departure = float(self._view.config.episode_ticks)
            if s.departure is not None:
                departure = day_ticks + (s.departure - now).total_seconds() / self._dt_s
            conn[L.CN_OCCUPIED, c] = 1.0
            conn[L.CN_EV, c] = s.number
            conn[L.CN_SOC, c] = soc
            conn[L.CN_BATTERY_KWH, c] = capacity
            conn[L.CN_SOC_TARGET, c] = target
            conn[L.CN_DEPARTURE, c] = departure
            conn[L.CN_MAX_KW, c] = min(s.vehicle_max_power_kw, rated_kw[c])
            conn[L.CN_REQUESTED_KWH, c] = max(target - soc_start, 0.0) * capacity
            conn[L.CN_DELIVERED_KWH, c] = s.delivered_kwh
            conn[L.CN_POWER_KW, c] = s.allocated_power_kw
        self._state.bess_soc[0] = document.bess_soc or 0.0
        self._state.clock[L.CLK_TICK] = tick

    def _apply(self, action: np.ndarray, episode: Episode) -> tuple[np.ndarray, float]:
        """The powers the env's tick applies for ``action`` in the loaded state: connector
        kW, shape (C,), and BESS kW (a tick on a copy whose EVs do not leave)."""
        sc = self._view
        if action.shape != (sc.n_actions,):
            raise RuntimeError(
                f"policy: returned an action of shape {action.shape}; the station view needs "
                f"({sc.n_actions},)"
            )
        trial = self._trial
        for copy, field in zip(trial, self._state, strict=True):
            copy[...] = field
        trial.conn[L.CN_DEPARTURE] = np.inf
        status, _ = step(
            *self._static, *episode, *trial, *self._trial_out, action, self._work,
            *self._static.switches(),
        )  # fmt: skip
        if status != STATUS_OK:
            raise RuntimeError(
                f"policy: returned non-finite action entries "
                f"{np.flatnonzero(~np.isfinite(action)).tolist()}"
            )
        # + 0.0: no -0.0 in the answers
        return (
            trial.conn[L.CN_POWER_KW] + 0.0,
            float(self._trial_out.station_out[L.SO_BESS_KW, 0]) + 0.0,
        )


def build_engines(
    config: ScenarioConfig,
    policy: str,
    agent: str | None = None,
    inputs: DayInputs | None = None,
    tick_s: float | None = None,
) -> dict[str, StationEngine]:
    """An engine for every station of ``config``, by station id.

    Args:
        config: the scenario (run day by day, :func:`~evgrid_gym.service.topology.service_day`).
        policy: a causal baseline's name (``baselines.HEURISTICS``), or ``"agent"``.
        agent: the trained model's ``model.zip`` (``policy="agent"`` only).
        inputs: the exogenous inputs per day; default the scenario's (:class:`ScenarioInputs`).
        tick_s: seconds between periodic decisions; default the scenario's ``dt_h``.

    Raises:
        ValueError: an unknown policy, a missing or unfitting agent, a bad ``tick_s``.
        FileNotFoundError: no model at ``agent``.
    """
    from baselines import HEURISTICS, make_policy
    from evgrid_gym.rl.agent import AgentPolicy

    if policy not in HEURISTICS and policy != "agent":
        raise ValueError(f"policy: got {policy!r}; must be one of {sorted(HEURISTICS)} or 'agent'")
    if (policy == "agent") != (agent is not None):
        raise ValueError("agent: give a model path exactly when the policy is 'agent'")
    day = service_day(config)
    inputs = ScenarioInputs(day) if inputs is None else inputs
    tick_s = day.dt_h * 3600.0 if tick_s is None else tick_s
    views: dict[str, tuple[Scenario, Policy | None]] = {}  # stations with the same equipment
    engines = {}
    for station in day.stations:
        key = station.model_copy(update={"id": ""}).model_dump_json()
        if key not in views:
            view = Scenario(station_view(day, station))
            views[key] = view, AgentPolicy.load(view, agent) if agent is not None else None
        view, shared = views[key]
        station_policy = shared if shared is not None else make_policy(policy, view)
        engines[station.id] = StationEngine(
            view, station_topology(station), station_policy, inputs, tick_s
        )
    return engines
