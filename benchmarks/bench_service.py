"""Station service under load: the real server (uvicorn on 127.0.0.1), many stations, N
asynchronous clients plugging EVs in and out.

    python benchmarks/bench_service.py [--stations 100] [--clients 8,16,32] [--duration-s 20]

Starts ``evgrid-gym serve`` (policy ``bess_boost``, SQLite in WAL mode in a temporary folder)
on ``--stations`` Electra-like stations of 4 chargers x 2 connectors, then for each client count
runs the load of :mod:`evgrid_gym.service.load` for ``--duration-s`` seconds (after a short
warm-up) and prints requests/s and latency percentiles (client side, so they include the
client's own time on the shared cores) and the server's CPU time per request, which other jobs
on the machine do not inflate. At the end it checks that every acknowledged session
is active or in the past-session log exactly once, and that no status showed a station,
charger or BESS above its limit. Target on a 2-core machine: >= 300 requests/s with p99 <=
25 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from evgrid_gym.service.load import (
    consistency_errors,
    run_load,
    station_config,
    stored_sessions,
)


def start_server(folder: Path, n_stations: int, port: int) -> subprocess.Popen:
    scenario = folder / "stations.json"
    scenario.write_text(json.dumps(station_config(n_stations)))
    command = [sys.executable, "-m", "evgrid_gym.cli", "serve", "--scenario", str(scenario),
               "--policy", "bess_boost", "--db", f"sqlite:///{folder / 'ems.db'}",
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def row(clients: int, result, server_cpu_s: float) -> str:
    all_ms = np.concatenate([np.asarray(v) for v in result.latencies_s.values()]) * 1e3
    cells = [f"{clients}", f"{result.answered:,}", f"{result.answered / result.elapsed_s:,.0f}",
             f"{np.percentile(all_ms, 50):.1f}", f"{np.percentile(all_ms, 99):.1f}",
             f"{server_cpu_s / result.answered * 1e3:.2f}"]  # fmt: skip
    for kind in ("plug_in", "plug_out", "status"):
        ms = np.asarray(result.latencies_s.get(kind, [np.nan])) * 1e3
        cells.append(f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f}")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--clients", default="8,16,32", help="comma-separated client counts")
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder), args.stations, args.port)
        try:
            asyncio.run(run_load(url, clients=4, duration_s=2.0, seed=999))  # warm-up
            print(f"{args.stations} stations x 8 connectors, policy bess_boost, SQLite (WAL), "
                  f"{args.duration_s:g} s per run\n")  # fmt: skip
            print(
                "| clients | requests | requests/s | p50 (ms) | p99 (ms) | server CPU per "
                "request (ms) | plug-in p50 / p99 | plug-out p50 / p99 | status p50 / p99 |"
            )
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            results = []
            for i, clients in enumerate(int(c) for c in args.clients.split(",")):
                cpu_before = cpu_s(server.pid)
                result = asyncio.run(run_load(url, clients, args.duration_s, seed=1000 * i))
                results.append(result)
                print(row(clients, result, cpu_s(server.pid) - cpu_before), flush=True)
            active, closed = stored_sessions(url)
        finally:
            server.terminate()
            server.wait(30)
    codes = sum((r.codes for r in results), start=type(results[0].codes)())
    print(f"\nanswers: {dict(sorted(codes.items(), key=str))}")
    errors = [e for r in results for e in consistency_errors(r, active, closed)]
    violations = [v for r in results for v in r.violations]
    plugged = sum(len(r.plugged) for r in results)
    print(f"acknowledged plug-ins: {plugged}, all active or closed exactly once: {not errors}"
          f"{' ' + str(errors[:5]) if errors else ''}")  # fmt: skip
    print(f"statuses above a limit: {len(violations)} {violations[:5] if violations else ''}")


if __name__ == "__main__":
    main()
