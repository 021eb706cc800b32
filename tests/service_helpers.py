"""Shared pieces of the service tests: a hand-sized station, a service on it, a live server."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from evgrid_gym.config import load_scenario
from evgrid_gym.service import ManualClock, build_service, create_app

UTC = datetime.timezone.utc
T0 = datetime.datetime(2019, 7, 15, tzinfo=UTC)  # a midnight of the scenario's time zone (UTC)


def hand_station(bess_soc: float = 0.5, grid_kw: float = 100.0) -> dict:
    """One station ``s`` whose numbers are easy by hand: a ``grid_kw`` connection; charger
    ``"1"`` of 60 kW with two connectors, chargers ``"2"`` and ``"3"`` of 60 kW with one; all
    of efficiency 1 with constant-power charging (transition soc 1); a 100 kWh / 50 kW BESS of
    efficiency 1 between soc 0.1 and 0.9; no households; a fixed price; 15-minute ticks in
    UTC."""
    return {
        "name": "hand_station",
        "dt_h": 0.25,
        "grid": {"feeder_limit_kw": 1000.0},
        "calendar": {"timezone": "UTC"},
        "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.3},
        "stations": [{
            "id": "s", "grid_capacity_kw": grid_kw,
            "bess": {"capacity_kwh": 100.0, "power_kw": 50.0, "efficiency": 1.0,
                     "soc_min": 0.1, "soc_max": 0.9, "initial_soc": bess_soc},
            "chargers": [
                {"max_power_kw": 60.0, "kind": "DC", "efficiency": 1.0, "connectors": 2},
                {"max_power_kw": 60.0, "kind": "DC", "efficiency": 1.0, "count": 2},
            ],
        }],
        "battery": {"transition_soc": 1.0},
    }  # fmt: skip


def hand_service(db: Path | str, policy: str = "bess_boost", clock=None, **station):
    """``(service, clock)`` on :func:`hand_station` with a manual clock at :data:`T0`; ``db``
    is a SQLite file or a database URL."""
    clock = clock or ManualClock(T0)
    config = load_scenario(hand_station(**station))
    url = db if "://" in str(db) else f"sqlite:///{db}"
    return build_service(config, policy, url, clock=clock), clock


def hand_client(db: Path | str, policy: str = "bess_boost", api_keys=None, **station):
    """``(TestClient, service, clock)`` on :func:`hand_station`."""
    from fastapi.testclient import TestClient

    service, clock = hand_service(db, policy, **station)
    return TestClient(create_app(service, api_keys)), service, clock


def plug(client, charger="1", connector="1", kw=50.0, station="s", **fields):
    """POSTs a plug-in; returns the response."""
    body = {"charger_id": charger, "connector_id": connector, "vehicle_max_power_kw": kw}
    return client.post(f"/stations/{station}/sessions", json=body | fields)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(db: Path, scenario: str | Path = "electra_station", *extra: str):
    """``evgrid-gym serve`` in a subprocess on a free port; yields ``(base_url, process)``.

    The process is stopped (SIGTERM, then SIGKILL) when the block ends, if still running.
    """
    port = free_port()
    command = [sys.executable, "-m", "evgrid_gym.cli", "serve", "--scenario", str(scenario),
               "--db", f"sqlite:///{db}", "--port", str(port), *extra]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read().decode()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} not healthy within {timeout_s} s")


def kill(process: subprocess.Popen) -> None:
    """``kill -9``."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
