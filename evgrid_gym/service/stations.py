"""The station service: each request is one read, one decision and one conditional write.

:class:`StationService` ties the stored documents (:mod:`~evgrid_gym.service.store`), one
:class:`~evgrid_gym.service.engine.StationEngine` per station and the clock together. A
request reads its station's document, brings it to now (batteries charged, periodic decisions
made), applies its change, lets the engine decide, and writes the document back if no other
request wrote in between (else it starts over with the new document). Bad requests raise a
:class:`ServiceError` before anything is written, so they change nothing.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.service.clock import Clock, WallClock, decision_times, microseconds
from evgrid_gym.service.engine import DayInputs, StationEngine, build_engines
from evgrid_gym.service.models import (
    BessStatus,
    ClosedSession,
    Session,
    SessionChange,
    SessionCreate,
    SessionPage,
    StationDocument,
    StationStatus,
    StationTopology,
)
from evgrid_gym.service.store import StationStore


class ServiceError(Exception):
    """A request the service refuses; ``status_code`` is its HTTP status."""

    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class InvalidField(ServiceError):
    """A value the request models cannot judge alone (it depends on the time or state)."""

    status_code = 422

    def __init__(self, field: str, value, message: str):
        super().__init__(f"{field}: got {value!r}; {message}")
        self.field, self.value = field, value


class Busy(ServiceError):
    status_code = 503


_BOOST_TOL_KW = 1e-6  # a session the grid covers but for rounding is not boosted

Change = Callable[
    [StationEngine, StationDocument, datetime.datetime],
    tuple[StationDocument, ClosedSession | None, SessionChange],
]


class StationService:
    """Runs the stations of one scenario on one database.

    Stations without a stored document get one (no session, BESS at its initial soc); stored
    ones are resumed as they are.

    Args:
        engines: the engine of each station, by station id.
        store: the database.
        clock: where the time comes from.
        max_attempts: conditional writes tried per request before answering 503.

    Raises:
        ValueError: a stored session is on a connector the scenario lacks.
    """

    def __init__(
        self,
        engines: dict[str, StationEngine],
        store: StationStore,
        clock: Clock,
        max_attempts: int = 100,
    ):
        self._engines, self.store, self.clock = engines, store, clock
        self._max_attempts = max_attempts
        stored = set(store.station_ids())
        now = clock.now()
        store.add_missing(e.initial(now) for sid, e in engines.items() if sid not in stored)
        for sid in stored & engines.keys():
            engines[sid].check(store.read(sid)[1])

    # --- reads ---------------------------------------------------------------------------

    @property
    def station_ids(self) -> list[str]:
        return list(self._engines)

    @property
    def tick_s(self) -> float:
        """Seconds between the periodic decisions."""
        return min(e.tick_s for e in self._engines.values())

    def topology(self, station_id: str) -> StationTopology:
        return self._engine(station_id).topology

    def status(self, station_id: str) -> StationStatus:
        """The station now (read only: nothing is written)."""
        engine = self._engine(station_id)
        _, document = self.store.read(station_id)
        now = max(self.clock.now(), document.as_of)
        return station_status(engine.topology, engine.catch_up(document, now))

    def closed_sessions(
        self,
        station_id: str,
        since: datetime.datetime | None,
        cursor: str | None,
        limit: int,
    ) -> SessionPage:
        """A page of the station's past-session log (``cursor`` from the previous page)."""
        self._engine(station_id)
        after = None
        if cursor is not None:
            at_us, _, session_id = cursor.partition(".")
            if not at_us.isdigit() or not session_id:
                raise InvalidField("cursor", cursor, "must be a next_cursor of a previous page")
            after = (int(at_us), session_id)
        sessions = self.store.closed(station_id, since, after, limit)
        next_cursor = None
        if len(sessions) == limit:
            last = sessions[-1]
            next_cursor = f"{microseconds(last.closed_at)}.{last.session_id}"
        return SessionPage(sessions=sessions, next_cursor=next_cursor)

    # --- changes -------------------------------------------------------------------------

    def plug_in(self, station_id: str, request: SessionCreate) -> SessionChange:
        """Opens a session on a free connector and rebalances the station.

        Raises:
            NotFound: unknown station, charger or connector.
            Conflict: the connector has a session.
            InvalidField: a departure before now.
        """
        topology = self._engine(station_id).topology
        charger = topology.charger(request.charger_id)
        if charger is None:
            raise NotFound(f"charger {request.charger_id!r} not found at station {station_id!r}")
        if request.connector_id not in charger.connector_ids:
            raise NotFound(
                f"connector {request.connector_id!r} not found on charger "
                f"{request.charger_id!r} of station {station_id!r}"
            )

        def change(engine, document, now):
            busy = document.on_connector(request.charger_id, request.connector_id)
            if busy is not None:
                raise Conflict(
                    f"connector {request.connector_id!r} of charger {request.charger_id!r} is "
                    f"in use by session {busy.session_id}"
                )
            if request.departure is not None and request.departure < now:
                raise InvalidField(
                    "departure", request.departure.isoformat(),
                    f"must not be before now ({now.isoformat()})",
                )  # fmt: skip
            session_id = uuid.uuid4().hex
            session = Session(
                session_id=session_id, number=document.next_number,
                charger_id=request.charger_id, connector_id=request.connector_id,
                transaction_id=request.transaction_id or session_id,
                vehicle_max_power_kw=request.vehicle_max_power_kw, soc_start=request.soc,
                soc=request.soc, battery_capacity_kwh=request.battery_capacity_kwh,
                energy_requested_kwh=request.energy_requested_kwh, departure=request.departure,
                started_at=now, delivered_kwh=0.0, allocated_power_kw=0.0,
            )  # fmt: skip
            document = engine.decide(
                document.model_copy(update={
                    "sessions": [*document.sessions, session],
                    "next_number": document.next_number + 1,
                }),
                now,
            )  # fmt: skip
            answer = SessionChange(
                session=document.session(session_id),
                station=station_status(engine.topology, document),
            )
            return document, None, answer

        return self._transact(station_id, change)

    def plug_out(self, station_id: str, session_id: str) -> SessionChange:
        """Closes a session with the energy it received, logs it and rebalances the station.

        Raises:
            NotFound: unknown station or session.
        """

        def change(engine, document, now):
            session = document.session(session_id)
            if session is None:
                raise NotFound(f"session {session_id!r} not found at station {station_id!r}")
            closed = ClosedSession(**session.model_dump(), closed_at=now)
            rest = [s for s in document.sessions if s.session_id != session_id]
            document = engine.decide(document.model_copy(update={"sessions": rest}), now)
            answer = SessionChange(
                session=closed, station=station_status(engine.topology, document)
            )
            return document, closed, answer

        return self._transact(station_id, change)

    def refresh(self, station_id: str) -> None:
        """Stores the station as of its last periodic decision time (the periodic tick)."""

        def change(engine, document, now):
            times = decision_times(document.as_of, now, engine.tick_s)
            if times:
                document = engine.catch_up(document, times[-1])
            return document, None, None

        self._transact(station_id, change, catch_up=False)

    def _transact(self, station_id: str, change: Change, catch_up: bool = True):
        engine = self._engine(station_id)
        for _ in range(self._max_attempts):
            version, stored = self.store.read(station_id)
            now = max(self.clock.now(), stored.as_of)
            document = engine.catch_up(stored, now) if catch_up else stored
            document, closed, answer = change(engine, document, now)
            if document is stored or self.store.write(station_id, version, document, closed):
                return answer
        raise Busy(f"station {station_id!r} is busy; retry the request")

    def _engine(self, station_id: str) -> StationEngine:
        engine = self._engines.get(station_id)
        if engine is None:
            raise NotFound(f"station {station_id!r} not found")
        return engine


def station_status(topology: StationTopology, document: StationDocument) -> StationStatus:
    """The status of a station: its sessions, power balance and which sessions the BESS boosts
    (:class:`~evgrid_gym.service.models.StationStatus`)."""
    ev_kw = sum(s.allocated_power_kw for s in document.sessions)
    grid_kw = ev_kw + document.bess_power_kw
    boosted, served_kw = [], 0.0
    if document.bess_power_kw < 0.0:
        for s in sorted(document.sessions, key=lambda s: s.number):
            served_kw += s.allocated_power_kw
            if served_kw > grid_kw + _BOOST_TOL_KW and s.allocated_power_kw > 0.0:
                boosted.append(s.session_id)
    bess = None
    if document.bess_soc is not None:
        bess = BessStatus(soc=document.bess_soc, power_kw=document.bess_power_kw)
    return StationStatus(
        station_id=document.station_id, as_of=document.as_of, decided_at=document.decided_at,
        grid_capacity_kw=topology.grid_capacity_kw, ev_power_kw=ev_kw, grid_power_kw=grid_kw,
        free_power_kw=topology.grid_capacity_kw - grid_kw, bess=bess,
        boosted_session_ids=boosted, sessions=document.sessions,
    )  # fmt: skip


def build_service(
    scenario: ScenarioConfig,
    policy: str,
    db: str,
    agent: str | None = None,
    clock: Clock | None = None,
    inputs: DayInputs | None = None,
    tick_s: float | None = None,
) -> StationService:
    """The service for every station of ``scenario`` on the database ``db``.

    Args:
        scenario: the stations (and the exogenous inputs the policy sees).
        policy, agent, inputs, tick_s: see :func:`~evgrid_gym.service.engine.build_engines`.
        db: a SQLAlchemy URL (``sqlite:///ems.db``, ``postgresql+psycopg://...``).
        clock: default the wall clock.

    Raises:
        ValueError: a bad policy, agent, tick or database URL, or a database whose sessions
            do not fit the scenario.
    """
    engines = build_engines(scenario, policy, agent=agent, inputs=inputs, tick_s=tick_s)
    return StationService(engines, StationStore(db), clock or WallClock())
