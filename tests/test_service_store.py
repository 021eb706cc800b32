"""The station store on SQLite and, where one is reachable, PostgreSQL.

PostgreSQL runs when ``EVGRID_TEST_POSTGRES_URL`` names a database the tests may wipe, e.g.
after ``apt-get install postgresql && service postgresql start``::

    su postgres -c "createuser -s $USER; createdb evgrid_test"   # once
    export EVGRID_TEST_POSTGRES_URL=postgresql+psycopg:///evgrid_test
    python -m pytest tests/test_service_store.py

Without it (or when the server does not answer) those cases are skipped.
"""

from __future__ import annotations

import datetime
import os

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("fastapi")

from service_helpers import T0, hand_client, plug  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from evgrid_gym.service.clock import microseconds  # noqa: E402
from evgrid_gym.service.models import ClosedSession, StationDocument  # noqa: E402
from evgrid_gym.service.store import StationStore, metadata  # noqa: E402

POSTGRES = os.environ.get("EVGRID_TEST_POSTGRES_URL")


def _postgres_url() -> str:
    if not POSTGRES:
        pytest.skip("EVGRID_TEST_POSTGRES_URL is not set")
    engine = create_engine(POSTGRES)
    try:
        with engine.begin() as db:
            metadata.drop_all(db)  # a clean database per test
    except (OperationalError, ImportError) as err:
        pytest.skip(f"no PostgreSQL at EVGRID_TEST_POSTGRES_URL: {err.__class__.__name__}")
    finally:
        engine.dispose()
    return POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ems.db'}" if request.param == "sqlite" else _postgres_url()


def _document(station_id="s", number=0) -> StationDocument:
    return StationDocument(
        station_id=station_id, as_of=T0, decided_at=T0, bess_soc=0.5, bess_power_kw=0.0,
        next_number=number, sessions=[],
    )  # fmt: skip


def _closed(session_id: str, minutes: int) -> ClosedSession:
    at = T0 + datetime.timedelta(minutes=minutes)
    return ClosedSession(
        session_id=session_id, number=0, charger_id="1", connector_id="1",
        transaction_id=session_id, vehicle_max_power_kw=50.0, soc_start=None, soc=None,
        battery_capacity_kwh=None, energy_requested_kwh=None, departure=None, started_at=T0,
        delivered_kwh=1.0, allocated_power_kw=0.0, closed_at=at,
    )  # fmt: skip


def test_a_write_applies_only_to_the_version_it_read(db_url):
    store = StationStore(db_url)
    store.add_missing([_document()])
    store.add_missing([_document(number=7)])  # stored before: kept
    version, document = store.read("s")
    assert (version, document) == (1, _document())
    assert store.write("s", 1, _document(number=1), _closed("a", 1))
    # a second writer that read version 1 loses, and writes neither document nor log
    assert not store.write("s", 1, _document(number=2), _closed("b", 2))
    assert store.read("s") == (2, _document(number=1))
    assert [c.session_id for c in store.closed("s")] == ["a"]
    with pytest.raises(KeyError):
        store.read("nope")
    store.close()


def test_the_log_pages_in_closing_order(db_url):
    store = StationStore(db_url)
    store.add_missing([_document()])
    for i, (sid, minutes) in enumerate([("c", 5), ("a", 5), ("b", 9), ("d", 1)]):
        assert store.write("s", i + 1, _document(number=i), _closed(sid, minutes))
    order = [c.session_id for c in store.closed("s")]
    assert order == ["d", "a", "c", "b"]  # by closing time, then id
    last = store.closed("s", limit=2)[-1]
    after = (microseconds(last.closed_at), last.session_id)
    assert [c.session_id for c in store.closed("s", after=after)] == ["c", "b"]
    since = T0 + datetime.timedelta(minutes=5)
    assert [c.session_id for c in store.closed("s", since=since)] == ["a", "c", "b"]
    store.close()


def test_the_service_runs_on_the_database(db_url):
    """A plug-in, time and a plug-out through the service on this database."""
    client, _, clock = hand_client(db_url)
    sid = plug(client, "2", kw=40.0).json()["session"]["session_id"]
    clock.advance(datetime.timedelta(minutes=30))
    closed = client.delete(f"/stations/s/sessions/{sid}").json()["session"]
    assert closed["delivered_kwh"] == pytest.approx(20.0, abs=1e-3)
    log = client.get("/stations/s/sessions").json()["sessions"]
    assert [s["session_id"] for s in log] == [sid]
