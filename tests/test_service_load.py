"""The real server (``evgrid-gym serve`` in a subprocess) under concurrent requests and a
crash: one plug-in wins a connector, and a ``kill -9`` loses no acknowledged request."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from service_helpers import kill, live_server  # noqa: E402

from evgrid_gym.service.load import (  # noqa: E402
    consistency_errors,
    limit_violations,
    run_load,
    station_config,
    stored_sessions,
)


async def _plug_in_together(url: str, n: int) -> list[int]:
    body = {"charger_id": "1", "connector_id": "1", "vehicle_max_power_kw": 100.0}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as http:
        answers = await asyncio.gather(
            *(http.post("/stations/electra/sessions", json=body) for _ in range(n))
        )
    return [a.status_code for a in answers]


def test_concurrent_plug_ins_on_one_connector_one_wins(tmp_path):
    with live_server(tmp_path / "ems.db") as (url, _):
        codes = asyncio.run(_plug_in_together(url, 50))
        sessions = httpx.get(f"{url}/stations/electra/status").json()["sessions"]
    assert sorted(codes) == [201] + [409] * 49
    assert len(sessions) == 1


@pytest.mark.slow
def test_a_killed_server_loses_no_acknowledged_request(tmp_path):
    scenario = tmp_path / "stations.json"
    scenario.write_text(json.dumps(station_config(10)))
    db = tmp_path / "ems.db"
    with live_server(db, scenario) as (url, process):
        results = []
        load = threading.Thread(
            target=lambda: results.append(asyncio.run(run_load(url, clients=8, duration_s=30.0)))
        )
        load.start()
        time.sleep(4.0)
        kill(process)  # kill -9 in the middle of the load
        load.join(60.0)
    (result,) = results
    assert len(result.plugged) > 50 and result.elapsed_s < 30.0  # it was busy, then cut off
    with live_server(db, scenario) as (url, _):
        active, closed = stored_sessions(url)
        with httpx.Client(base_url=url) as http:
            topologies = {t: http.get(f"/stations/{t}").json() for t in {*active.values()}}
            statuses = [http.get(f"/stations/{t}/status").json() for t in topologies]
    assert consistency_errors(result, active, closed) == []
    assert [v for s in statuses for v in limit_violations(s, topologies[s["station_id"]])] == []
