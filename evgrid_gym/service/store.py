"""Durable storage of the stations: one JSON document per station, and the past-session log.

Seed 002's design on a real database: each station is one document with a version number; a
request reads it once and writes it back once with ``UPDATE ... WHERE version = ?`` (zero rows
updated means another request wrote first: the caller re-reads and retries). A plug-out's
closed session is inserted into the log in the same transaction, so a crash leaves the station
either before or after the request, never in between.

The schema and statements are SQLAlchemy Core and run on SQLite and PostgreSQL alike
(``sqlite:///ems.db``, ``postgresql+psycopg://user:password@host/db``). SQLite runs in WAL mode
with ``synchronous=NORMAL``: readers never wait for the writer, and a committed request
survives a crash of the service (the commit is in the operating system's cache; a power cut
may lose the last ones, which ``PRAGMA synchronous=FULL`` would prevent at about 2.6 ms per
commit on this project's machine).
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    create_engine,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from evgrid_gym.service.clock import microseconds
from evgrid_gym.service.models import ClosedSession, StationDocument

metadata = MetaData()

stations = Table(
    "stations",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
)

closed_sessions = Table(
    "closed_sessions",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("session_id", String(64), primary_key=True),
    Column("closed_at_us", BigInteger, nullable=False),  # microseconds since 1970-01-01Z
    Column("document", Text, nullable=False),
    Index("closed_sessions_by_time", "station_id", "closed_at_us", "session_id"),
)

# the statements of every request, built once
_READ = select(stations.c.version, stations.c.document).where(
    stations.c.station_id == bindparam("station")
)
_WRITE = (
    update(stations)
    .where(stations.c.station_id == bindparam("station"),
           stations.c.version == bindparam("version"))
    .values(version=bindparam("next_version"), document=bindparam("document"))
)  # fmt: skip
_LOG = insert(closed_sessions)


class StationStore:
    """The stations' documents and the past-session log in one SQL database.

    Args:
        url: a SQLAlchemy database URL.

    Raises:
        ValueError: an in-memory SQLite database.
        sqlalchemy.exc.ArgumentError, sqlalchemy.exc.OperationalError: a malformed URL or an
            unreachable database.
    """

    def __init__(self, url: str):
        self.url = make_url(url)
        if self.url.get_backend_name() == "sqlite" and self.url.database in (None, "", ":memory:"):
            raise ValueError(f"db: got {url!r}; an in-memory database is not durable, give a file")
        options = {}
        if self.url.get_backend_name() == "sqlite":
            options = {"connect_args": {"check_same_thread": False, "timeout": 30.0},
                       "pool_size": 8, "max_overflow": 32}  # fmt: skip
        self._engine = create_engine(self.url, **options)
        # SQLite takes one writer at a time and makes the others sleep in its busy handler
        # (1 to 100 ms steps); writers of this process queue on a lock instead
        self._write_lock = contextlib.nullcontext()
        if self.url.get_backend_name() == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
            self._write_lock = threading.Lock()
        metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def add_missing(self, documents: Iterable[StationDocument]) -> None:
        """Stores each document (version 1) whose station has none yet; others are kept."""
        for document in documents:
            try:
                with self._engine.begin() as db:
                    db.execute(insert(stations).values(
                        station_id=document.station_id, version=1,
                        document=document.model_dump_json(),
                    ))  # fmt: skip
            except IntegrityError:  # stored before (or by another worker just now)
                pass

    def station_ids(self) -> list[str]:
        with self._engine.connect() as db:
            return list(db.scalars(select(stations.c.station_id).order_by(stations.c.station_id)))

    def read(self, station_id: str) -> tuple[int, StationDocument]:
        """``(version, document)`` of the station.

        Raises:
            KeyError: no such station is stored.
        """
        with self._engine.connect() as db:
            row = db.execute(_READ, {"station": station_id}).one_or_none()
        if row is None:
            raise KeyError(station_id)
        return row.version, StationDocument.model_validate_json(row.document)

    def write(
        self,
        station_id: str,
        version: int,
        document: StationDocument,
        closed: ClosedSession | None = None,
    ) -> bool:
        """Replaces the station's document if it is still at ``version`` and logs ``closed``,
        in one transaction.

        Returns:
            False, and nothing written, if another write came first.
        """
        with self._write_lock, self._engine.begin() as db:
            result = db.execute(_WRITE, {
                "station": station_id, "version": version, "next_version": version + 1,
                "document": document.model_dump_json(),
            })  # fmt: skip
            if result.rowcount != 1:
                return False
            if closed is not None:
                db.execute(_LOG, {
                    "station_id": station_id, "session_id": closed.session_id,
                    "closed_at_us": microseconds(closed.closed_at),
                    "document": closed.model_dump_json(),
                })  # fmt: skip
        return True

    def closed(
        self,
        station_id: str,
        since: datetime.datetime | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[ClosedSession]:
        """Closed sessions of the station, oldest first: closed at or after ``since``, after
        the ``(closed_at_us, session_id)`` position ``after``, at most ``limit``."""
        table = closed_sessions
        where = [table.c.station_id == station_id]
        if since is not None:
            where.append(table.c.closed_at_us >= microseconds(since))
        if after is not None:
            at_us, session_id = after
            where.append(or_(
                table.c.closed_at_us > at_us,
                and_(table.c.closed_at_us == at_us, table.c.session_id > session_id),
            ))  # fmt: skip
        query = (
            select(table.c.document)
            .where(*where)
            .order_by(table.c.closed_at_us, table.c.session_id)
            .limit(limit)
        )
        with self._engine.connect() as db:
            return [ClosedSession.model_validate_json(d) for d in db.scalars(query)]


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
