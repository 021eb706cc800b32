"""The LinDistFlow network kernels: error against pandapower's AC power flow, cost per tick.

1. Accuracy on the bundled ``default_network`` scenario's network (``simbench_lv_semiurb4``):
   random per-bus loads (``evgrid_gym.grid.validation.random_loads``: households on every
   bus at power factor 0.93, two stations at unity) through LinDistFlow and through
   pandapower's Newton-Raphson AC power flow (the ``network-check`` extra), on the
   description's own data and, when the ``simbench`` package is installed, on the original
   SimBench grid (line capacitance, the transformer's magnetising branch). Prints the
   largest voltage and loading differences, over all cases and over those within the limits
   (voltages 0.9..1.1 pu, every branch <= 100 %).
2. Cost per tick: the network kernels a tick of ``default_network`` runs, with its arrays
   (``Scenario.static``) and its stations at changing powers: the observation's
   (``station_grid_state``), the booking's (``book_network``) and, with hard limits, the
   projection's (``limit_stations``), timed in a compiled loop (no Python call overhead, as
   inside the tick), best of several runs. ``python benchmarks/bench_step.py --network``
   times the whole env with and without the network.
3. Numba compile time of those kernels, in a fresh process with an empty cache (and with
   the cache warm).

    python benchmarks/bench_network.py [--cases 500] [--ticks 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit

from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.core.network import book_network, limit_stations, station_grid_state
from evgrid_gym.core.tick import workspace_size
from evgrid_gym.scenario import Scenario

SCENARIO = "default_network"


def accuracy(n_cases: int) -> None:
    from evgrid_gym.grid.validation import ACModel, compare, random_loads, to_pandapower

    sc = Scenario(load_scenario(SCENARIO))
    arrays = sc.network
    models = {"description (pandapower)": to_pandapower(sc.config.grid.network.description)}
    try:
        import simbench

        models["original SimBench grid"] = simbench.get_simbench_net("1-LV-semiurb4--0-sw")
    except ImportError:
        print("(simbench not installed: the original grid is left out)")
    print("| AC model | stations kW | cases | within limits | max dV all (pu) | "
          "max dV within (pu) | max d line all (pp) | max d line within (pp) | "
          "max d transformer within (pp) | highest line loading within (%) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, net in models.items():
        model = ACModel(net, arrays)
        for station_kw in ((-60.0, 150.0), (-60.0, 60.0)):
            rng = np.random.default_rng(0)
            cases = [random_loads(arrays, rng, station_kw=station_kw) for _ in range(n_cases)]
            e = compare(model, arrays, cases)
            print(f"| {name} | {station_kw[0]:.0f}..{station_kw[1]:.0f} | {e.cases} | "
                  f"{e.within_cases} | {e.voltage_pu:.4f} | {e.within_voltage_pu:.4f} | "
                  f"{e.line_pp:.2f} | {e.within_line_pp:.2f} | {e.within_transformer_pp:.2f} | "
                  f"{e.max_line_loading_pct:.1f} |")  # fmt: skip


@njit
def _ticks(n_ticks, hard, bus_parent, branch_f, bus_f, net_cfg, station_f, feeder_kw,
           station_kw, link_down, voltage_pu, headroom_kva, work):  # fmt: skip
    """The network part of ``n_ticks`` ticks; returns a checksum (keeps the work alive)."""
    checksum = 0.0
    for t in range(n_ticks):
        household_kw, wind_kw = 20.0 + t % 7, 300.0 + t % 11  # inputs change every tick
        station_kw[0] = 40.0 + t % 13
        station_kw[1] = -20.0 + t % 5
        if hard:
            checksum += limit_stations(bus_parent, branch_f, bus_f, net_cfg, station_f,
                                       household_kw, wind_kw, 0.0, True, station_kw, link_down,
                                       feeder_kw, work)  # fmt: skip
        checksum += book_network(bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw,
                                 wind_kw, 0.0, station_kw, link_down, work)[0]  # fmt: skip
        station_grid_state(bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw,
                           wind_kw, 0.0, station_kw, link_down, voltage_pu, headroom_kva,
                           work)  # fmt: skip
        checksum += voltage_pu[0] + headroom_kva[1]
    return checksum


def _arguments(hard: bool) -> tuple:
    sc = Scenario(load_scenario(SCENARIO))
    st = sc.static
    n_st = sc.n_stations
    work = np.zeros(workspace_size(sc.n_connectors, sc.n_chargers, n_st, sc.n_buses))
    return (hard, st.bus_parent, st.branch_f, st.bus_f, st.net_cfg, st.station_f,
            st.cfg[L.CFG_FEEDER_KW], np.zeros(n_st), np.zeros(n_st), np.zeros(n_st),
            np.zeros(n_st), work)  # fmt: skip


def network_tick_us(n_ticks: int, hard: bool, repeats: int = 5) -> float:
    """Best time of the network part of one tick, us."""
    args = _arguments(hard)
    _ticks(10, *args)  # compile outside the timing
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _ticks(n_ticks, *args)
        best = min(best, (time.perf_counter() - start) / n_ticks)
    return best * 1e6


_COMPILE_PROBE = """
import time
from benchmarks.bench_network import _arguments
from evgrid_gym.core import network as k
(_, parent, branch_f, bus_f, cfg, station_f, feeder_kw, kw, down, v, headroom,
 work) = _arguments(True)
start = time.perf_counter()
k.limit_stations(parent, branch_f, bus_f, cfg, station_f, 20.0, 300.0, 0.0, True, kw, down,
                 feeder_kw, work)
k.book_network(parent, branch_f, bus_f, cfg, station_f, 20.0, 300.0, 0.0, kw, down, work)
k.station_grid_state(parent, branch_f, bus_f, cfg, station_f, 20.0, 300.0, 0.0, kw, down, v,
                     headroom, work)
print(time.perf_counter() - start)
"""


def compile_s() -> tuple[float, float]:
    """``(cold, warm)``: first calls of the tick's network kernels in a fresh process, s."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=root)
        times = [
            float(subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env, check=True,
                                 capture_output=True, text=True, cwd=root).stdout.split()[-1])
            for _ in range(2)
        ]  # fmt: skip
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500, help="random cases per AC model")
    parser.add_argument("--ticks", type=int, default=200_000, help="ticks per timing run")
    args = parser.parse_args()
    try:
        accuracy(args.cases)
    except ImportError as err:
        print(f"(accuracy left out: {err})")
    cold, warm = compile_s()
    print(f"\nnumba compile of the tick's network kernels: {cold:.1f} s (cache warm: {warm:.2f} s)")
    print("\n| network part of a tick | us per tick |")
    print("|---|---:|")
    for hard in (False, True):
        what = "observation, booking" + (" + hard-limit scaling" if hard else "")
        print(f"| {what} | {network_tick_us(args.ticks, hard):.3f} |")


if __name__ == "__main__":
    main()
