"""A load client for a running station service: random plug-ins and plug-outs.

``benchmarks/bench_service.py`` measures the service with it and the crash test kills the
server in the middle of it. Each of N asynchronous clients (httpx) owns every N-th station, so
clients never race for a connector; it plugs EVs into free connectors and unplugs them at
random, and now and then reads a station's status and checks it against the station's limits.
Every answer is recorded: what the service acknowledged must be in its database afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import numpy as np

TOL_KW = 1e-6


@dataclass
class LoadResult:
    """What a load run saw.

    Attributes:
        latencies_s: seconds per answered request, by kind (``plug_in``, ``plug_out``,
            ``status``).
        codes: answers by ``(kind, HTTP status)``; ``(kind, "error")`` for no answer.
        plugged: the sessions whose plug-in was acknowledged (201), by id -> station.
        unplugged: the sessions whose plug-out was acknowledged (200).
        violations: statuses that showed a limit exceeded.
        elapsed_s: the run's wall time.
    """

    latencies_s: dict[str, list[float]] = field(default_factory=dict)
    codes: Counter = field(default_factory=Counter)
    plugged: dict[str, str] = field(default_factory=dict)
    unplugged: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def answered(self) -> int:
        return sum(len(v) for v in self.latencies_s.values())


def limit_violations(status: dict, topology: dict) -> list[str]:
    """The limits a station ``status`` breaks (both as the service answers them): grid
    capacity, charger power, BESS power, each EV's own power."""
    sid, found = status["station_id"], []
    if status["grid_power_kw"] > topology["grid_capacity_kw"] + TOL_KW:
        found.append(f"{sid}: grid {status['grid_power_kw']} kW")
    per_charger = Counter()
    for s in status["sessions"]:
        per_charger[s["charger_id"]] += s["allocated_power_kw"]
        if not -TOL_KW <= s["allocated_power_kw"] <= s["vehicle_max_power_kw"] + TOL_KW:
            found.append(f"{sid}: session {s['session_id']} at {s['allocated_power_kw']} kW")
    for charger in topology["chargers"]:
        if per_charger[charger["charger_id"]] > charger["max_power_kw"] + TOL_KW:
            found.append(
                f"{sid}: charger {charger['charger_id']} {per_charger[charger['charger_id']]} kW"
            )
    bess = status["bess"]
    if bess is not None and abs(bess["power_kw"]) > topology["bess"]["power_kw"] + TOL_KW:
        found.append(f"{sid}: BESS {bess['power_kw']} kW")
    return found


def station_config(n_stations: int) -> list[dict]:
    """``n_stations`` Electra-like stations in seed 003's ``station_config.json`` shape: 4
    chargers of 150 kW with 2 connectors each behind 300 kW, a 200 kWh / 150 kW BESS."""
    return [
        {
            "stationId": f"S{i:03d}",
            "gridCapacity": 300.0,
            "chargers": [{"id": f"C{k}", "maxPower": 150.0, "connectors": 2} for k in range(1, 5)],
            "battery": {"initialCapacity": 200.0, "power": 150.0},
        }
        for i in range(n_stations)
    ]


def stored_sessions(url: str) -> tuple[dict[str, str], Counter]:
    """Every session the service at ``url`` holds: the active ones (id -> station) and how
    often each id is in the past-session log."""
    active, closed = {}, Counter()
    with httpx.Client(base_url=url, timeout=30.0) as http:
        for sid in http.get("/stations").json()["station_ids"]:
            for s in http.get(f"/stations/{sid}/status").json()["sessions"]:
                active[s["session_id"]] = sid
            cursor = None
            while True:
                params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
                page = http.get(f"/stations/{sid}/sessions", params=params).json()
                closed.update(s["session_id"] for s in page["sessions"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
    return active, closed


def consistency_errors(result: LoadResult, active: dict[str, str], closed: Counter) -> list[str]:
    """What the stored sessions contradict of the acknowledged requests: a session plugged in
    and neither active nor closed, a session both, one unplugged and not closed, a session
    closed twice."""
    errors = [f"{s} closed {n} times" for s, n in closed.items() if n > 1]
    errors += [f"{s} both active and closed" for s in active if s in closed]
    errors += [f"{s} plugged in but lost" for s in result.plugged
               if s not in active and s not in closed]  # fmt: skip
    errors += [f"{s} unplugged but not closed" for s in result.unplugged if s not in closed]
    return errors


async def run_load(
    url: str,
    clients: int = 16,
    duration_s: float = 20.0,
    seed: int = 0,
    status_every: int = 10,
    api_key: str | None = None,
) -> LoadResult:
    """Drives the service at ``url`` for ``duration_s`` seconds with ``clients`` clients.

    A client stops early when the server stops answering (its last request counts as
    ``error``).
    """
    headers = {} if api_key is None else {"X-API-Key": api_key}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    result = LoadResult()
    async with httpx.AsyncClient(
        base_url=url, timeout=30.0, limits=limits, headers=headers
    ) as http:
        station_ids = (await http.get("/stations")).json()["station_ids"]
        topologies = {sid: (await http.get(f"/stations/{sid}")).json() for sid in station_ids}
        start = time.perf_counter()
        deadline = start + duration_s
        await asyncio.gather(*(
            _client(http, [topologies[s] for s in station_ids[i::clients]], deadline,
                    np.random.default_rng(seed + i), status_every, result)
            for i in range(min(clients, len(station_ids)))
        ))  # fmt: skip
        result.elapsed_s = time.perf_counter() - start
    return result


async def _client(http, topologies, deadline, rng, status_every, result) -> None:
    # the sessions on this client's stations: station -> {(charger, connector): session}
    held = {}
    for topology in topologies:
        sid = topology["station_id"]
        status = (await http.get(f"/stations/{sid}/status")).json()
        held[sid] = {
            (s["charger_id"], s["connector_id"]): s["session_id"] for s in status["sessions"]
        }
    n = 0
    while time.perf_counter() < deadline:
        topology = topologies[rng.integers(len(topologies))]
        sid = topology["station_id"]
        n += 1
        try:
            if n % status_every == 0:
                status = await _timed(http.get(f"/stations/{sid}/status"), "status", result)
                result.violations += limit_violations(status.json(), topology)
                continue
            free = [
                (c["charger_id"], k)
                for c in topology["chargers"]
                for k in c["connector_ids"]
                if (c["charger_id"], k) not in held[sid]
            ]
            if free and (not held[sid] or rng.random() < 0.5):
                connector = free[rng.integers(len(free))]
                body = {
                    "charger_id": connector[0],
                    "connector_id": connector[1],
                    "vehicle_max_power_kw": rng.uniform(50.0, 150.0),
                    "soc": rng.uniform(0.1, 0.5),
                    "battery_capacity_kwh": rng.uniform(40.0, 100.0),
                }
                answer = await _timed(http.post(f"/stations/{sid}/sessions", json=body),
                                      "plug_in", result)  # fmt: skip
                if answer.status_code == 201:
                    session_id = answer.json()["session"]["session_id"]
                    held[sid][connector] = session_id
                    result.plugged[session_id] = sid
            else:
                connector, session_id = sorted(held[sid].items())[rng.integers(len(held[sid]))]
                answer = await _timed(http.delete(f"/stations/{sid}/sessions/{session_id}"),
                                      "plug_out", result)  # fmt: skip
                if answer.status_code == 200:
                    del held[sid][connector]
                    result.unplugged.add(session_id)
        except httpx.HTTPError:
            return  # the server is gone (the crash test kills it)


async def _timed(request, kind: str, result: LoadResult) -> httpx.Response:
    start = time.perf_counter()
    try:
        answer = await request
    except httpx.HTTPError:
        result.codes[(kind, "error")] += 1
        raise
    result.latencies_s.setdefault(kind, []).append(time.perf_counter() - start)
    result.codes[(kind, answer.status_code)] += 1
    return answer
