"""The LinDistFlow network kernels: error against pandapower's AC power flow, cost per tick.

1. Accuracy on the bundled ``simbench_lv_semiurb4`` network: random per-bus loads
   (``evgrid_gym.grid.validation.random_loads``: households on every bus at power factor
   0.93, two stations at unity) through LinDistFlow and through pandapower's Newton-Raphson
   AC power flow, on the description's own data and, when the ``simbench`` package is
   installed, on the original SimBench grid (line capacitance, the transformer's
   magnetising branch). Prints the largest voltage and loading differences, over all cases
   and over those within the limits (voltages 0.9..1.1 pu, every branch <= 100 %).
2. Cost per tick: the `default` community placed on the network (``DEFAULT_NETWORK``), the
   kernels a tick would run (per-bus powers, power flow, KPIs, each station's upstream
   headroom; with hard limits also the largest common station scaling), timed in a compiled
   loop (no Python call overhead, as inside the tick), best of several runs; against the
   time of one ``default`` env step measured in the same run. Numba compile time of the
   kernels is measured separately in a fresh process with an empty cache.

    python benchmarks/bench_network.py [--cases 500] [--ticks 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import gymnasium as gym
import numpy as np
from numba import njit

import evgrid_gym  # noqa: F401  (registers the env)
from evgrid_gym.config import load_scenario
from evgrid_gym.core.network import (
    bus_power,
    largest_scale,
    network_kpis,
    power_flow,
    upstream_headroom_kva,
    workspace_size,
)
from evgrid_gym.grid import network_arrays
from evgrid_gym.grid.validation import ACModel, compare, random_loads, to_pandapower

# The `default` community on the SimBench grid: 20 households on 20 of its household
# connection points, the three 800 kW turbines on the MV side (turbines of that size connect
# at MV), the stations at the far ends of the two longest feeders.
DEFAULT_NETWORK = {
    "description": "simbench_lv_semiurb4",
    "households": [
        {"bus": f"LV4.101 Bus {i}", "count": 1}
        for i in (1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22)
    ],
    "turbines": ["MV1.101 Bus 52"],
    "stations": {"north": "LV4.101 Bus 10", "south": "LV4.101 Bus 44"},
}


def default_with_network():
    data = load_scenario("default").model_dump(mode="json")
    data["grid"]["network"] = DEFAULT_NETWORK
    return load_scenario(data)


def accuracy(n_cases: int) -> None:
    config = default_with_network()
    arrays = network_arrays(config.grid.network, [s.id for s in config.stations])
    models = {"description (pandapower)": to_pandapower(config.grid.network.description)}
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
def _ticks(n_ticks, hard, bus_parent, branch_f, net_cfg, element_kw, element_bus, tan_phi,
           n_fixed, station_bus, bus_p, bus_q, step_p, step_q, v, branch_p, branch_q,
           loading, work):  # fmt: skip
    """The network part of ``n_ticks`` ticks; returns a checksum (keeps the work alive)."""
    checksum = 0.0
    for t in range(n_ticks):
        element_kw[0] = 1.0 + t % 7  # inputs change every tick
        if hard:
            bus_power(element_kw[:n_fixed], element_bus[:n_fixed], tan_phi[:n_fixed], bus_p,
                      bus_q)  # fmt: skip
            bus_power(element_kw[n_fixed:], element_bus[n_fixed:], tan_phi[n_fixed:], step_p,
                      step_q)  # fmt: skip
            checksum += largest_scale(bus_parent, branch_f, net_cfg, bus_p, bus_q, step_p,
                                      step_q, work)  # fmt: skip
        bus_power(element_kw, element_bus, tan_phi, bus_p, bus_q)
        power_flow(bus_parent, branch_f, net_cfg, bus_p, bus_q, v, branch_p, branch_q, loading)
        checksum += network_kpis(v, loading)[0]
        for s in range(station_bus.shape[0]):
            checksum += upstream_headroom_kva(bus_parent, branch_f, v, branch_p, branch_q,
                                              station_bus[s])  # fmt: skip
    return checksum


def network_tick_us(n_ticks: int, hard: bool, repeats: int = 5) -> float:
    """Best time of the network part of one tick, us."""
    config = default_with_network()
    a = network_arrays(config.grid.network, [s.id for s in config.stations])
    n = a.n_buses
    n_fixed = a.n_household_groups + a.n_turbines
    element_kw = np.concatenate([np.full(a.n_household_groups, 0.5), [-200.0], [55.0, -20.0]])
    arrays = [np.zeros(n) for _ in range(8)]
    args = (hard, a.bus_parent, a.branch_f, a.net_cfg, element_kw, a.element_bus,
            a.element_tan_phi, n_fixed, a.element_bus[n_fixed:], *arrays,
            np.zeros(workspace_size(n)))  # fmt: skip
    _ticks(10, *args)  # compile outside the timing
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _ticks(n_ticks, *args)
        best = min(best, (time.perf_counter() - start) / n_ticks)
    return best * 1e6


def env_step_us(n_steps: int = 20_000, repeats: int = 3) -> float:
    """Best time of one ``default`` env step with random actions (resets included), us."""
    env = gym.make("evgrid_gym/EVGrid-v1", scenario="default")
    actions = np.random.default_rng(0).uniform(-1, 1, (1024, env.action_space.shape[0]))
    actions = actions.astype(np.float32)
    best = np.inf
    for _ in range(repeats):
        env.reset(seed=0)
        start = time.perf_counter()
        for i in range(n_steps):
            if any(env.step(actions[i % 1024])[2:4]):
                env.reset()
        best = min(best, (time.perf_counter() - start) / n_steps)
    return best * 1e6


_COMPILE_PROBE = """
import time, numpy as np
from evgrid_gym.core import network as k
p = np.ones(3); parent = np.array([-1, 0, 1]); f = np.ones((3, 3))
cfg = np.array([0.4, 1.0, 0.9, 1.1])
start = time.perf_counter()
k.bus_power(p, np.array([1, 2, 2]), p, p.copy(), p.copy())
k.power_flow(parent, f, cfg, p, p, *(np.zeros(3) for _ in range(4)))
k.network_kpis(p, p)
k.upstream_headroom_kva(parent, f, p, p, p, 2)
k.largest_scale(parent, f, cfg, p, p, p, p, np.zeros(18))
print(time.perf_counter() - start)
"""


def compile_s() -> tuple[float, float]:
    """``(cold, warm)``: first calls of every network kernel in a fresh process, s."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        times = [
            float(subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()[-1])
            for _ in range(2)
        ]  # fmt: skip
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500, help="random cases per AC model")
    parser.add_argument("--ticks", type=int, default=200_000, help="ticks per timing run")
    args = parser.parse_args()
    accuracy(args.cases)
    cold, warm = compile_s()
    print(f"\nnumba compile of the network kernels: {cold:.1f} s (cache warm: {warm:.2f} s)")
    step_us = env_step_us()
    print(f"`default` env step (no network): {step_us:.2f} us\n")
    print("| network part of a tick | us per tick | env speed kept (predicted) |")
    print("|---|---:|---:|")
    for hard in (False, True):
        tick_us = network_tick_us(args.ticks, hard)
        what = "flows, KPIs, headroom + hard-limit scaling" if hard else "flows, KPIs, headroom"
        print(f"| {what} | {tick_us:.3f} | {step_us / (step_us + tick_us):.1%} |")


if __name__ == "__main__":
    main()
