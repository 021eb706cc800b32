"""Pure-Python reference of the network kernels (evgrid_gym/core/network.py).

Written from the equations in that module's docstring, on the network description itself
(bus and line names, dicts), not on the packed arrays: the path from the transformer to each
bus is found by depth-first search, a branch's flow is the sum over every bus whose path uses
it, a bus's squared voltage the sum of the drops along its path; the hard-limit factor by a
grid search and bisection on a feasibility check. Slow is fine; clear is the point.

The last section draws random radial networks (for the kernel tests).
"""

from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------------
# LinDistFlow on a description
# --------------------------------------------------------------------------------------------


def branch_data(description):
    """``{branch name: (r_ohm, x_ohm, rated_kva)}``; the transformer's impedance from its
    short-circuit voltages, referred to the lv side: ``|z| = vk/100 * Vn^2 / Sn``,
    ``r = vkr/100 * Vn^2 / Sn``."""
    vn = description.nominal_voltage_kv
    t = description.transformer
    z_base = vn**2 * 1000.0 / t.rated_kva  # ohm
    z = t.vk_percent / 100.0 * z_base
    r = t.vkr_percent / 100.0 * z_base
    data = {t.name: (r, math.sqrt(z * z - r * r), t.rated_kva)}
    for line in description.lines:
        data[line.name] = (line.r_ohm, line.x_ohm, math.sqrt(3.0) * vn * line.max_current_a)
    return data


def paths(description):
    """``{bus: [(branch name, upstream bus), ...]}`` from the transformer down to each bus."""
    t = description.transformer
    neighbours = {bus: [] for bus in description.buses}
    for line in description.lines:
        neighbours[line.from_bus].append((line.to_bus, line.name))
        neighbours[line.to_bus].append((line.from_bus, line.name))
    found = {t.hv_bus: [], t.lv_bus: [(t.name, t.hv_bus)]}
    stack = [t.lv_bus]
    while stack:
        bus = stack.pop()
        for other, name in neighbours[bus]:
            if other not in found:
                found[other] = found[bus] + [(name, bus)]
                stack.append(other)
    return found


def power_flow(description, p_kw, q_kvar):
    """``(v_pu, flow, loading_pct)``: dicts by bus name, branch name -> (P kW, Q kvar), and
    branch name -> loading %, for per-bus powers ``p_kw``, ``q_kvar`` (dicts by bus name)."""
    data = branch_data(description)
    path = paths(description)
    flow = {name: [0.0, 0.0] for name in data}
    for bus, steps in path.items():
        for name, _ in steps:
            flow[name][0] += p_kw.get(bus, 0.0)
            flow[name][1] += q_kvar.get(bus, 0.0)
    vn = description.nominal_voltage_kv
    v_pu = {}
    for bus, steps in path.items():
        v2 = description.slack_voltage_pu**2
        for name, _ in steps:
            r, x, _ = data[name]
            v2 -= 2.0 * (r * flow[name][0] + x * flow[name][1]) / (1000.0 * vn**2)
        v_pu[bus] = math.sqrt(max(v2, 0.0))
    loading = {}
    for bus, steps in path.items():
        if steps:
            name, upstream = steps[-1]
            s = math.hypot(*flow[name])
            v = min(v_pu[bus], v_pu[upstream])
            loading[name] = 100.0 * s / (data[name][2] * v) if v > 0.0 else math.inf
    return v_pu, {name: tuple(f) for name, f in flow.items()}, loading


def within_limits(description, p_kw, q_kvar, v_min, v_max, tol=1e-9):
    """Every lv bus voltage in ``[v_min, v_max]`` and every branch at most 100 % loaded."""
    v_pu, _, loading = power_flow(description, p_kw, q_kvar)
    hv = description.transformer.hv_bus
    voltages = [v for bus, v in v_pu.items() if bus != hv]
    return (
        min(voltages) >= v_min - tol
        and max(voltages) <= v_max + tol
        and max(loading.values()) <= 100.0 + tol
    )


def largest_scale(description, base, step, v_min, v_max, n_grid=2000):
    """Largest ``a`` in [0, 1] with the powers ``base + a * step`` within the limits, else 0.

    ``base`` and ``step`` are ``(p_kw, q_kvar)`` dict pairs. Grid search for the largest
    feasible grid point, then bisection towards the next grid point (the feasible set is an
    interval: each limit is convex along ``a``).
    """

    def feasible(a):
        p = {b: base[0].get(b, 0.0) + a * step[0].get(b, 0.0) for b in description.buses}
        q = {b: base[1].get(b, 0.0) + a * step[1].get(b, 0.0) for b in description.buses}
        return within_limits(description, p, q, v_min, v_max)

    if feasible(1.0):
        return 1.0
    grid = [i / n_grid for i in range(n_grid, -1, -1)]
    best = next((a for a in grid if feasible(a)), None)
    if best is None:
        return 0.0
    low, high = best, min(best + 1.0 / n_grid, 1.0)
    for _ in range(60):
        mid = 0.5 * (low + high)
        if feasible(mid):
            low = mid
        else:
            high = mid
    return low


def upstream_headroom_kva(description, p_kw, q_kvar, bus):
    """Smallest ``rated * min(V_from, V_to) - S`` over the branches between the slack and
    ``bus``."""
    v_pu, flow, _ = power_flow(description, p_kw, q_kvar)
    data = branch_data(description)
    headroom = math.inf
    below = bus
    for name, upstream in reversed(paths(description)[bus]):
        rated = data[name][2] * min(v_pu[upstream], v_pu[below])
        headroom = min(headroom, rated - math.hypot(*flow[name]))
        below = upstream
    return headroom


# --------------------------------------------------------------------------------------------
# Random radial networks
# --------------------------------------------------------------------------------------------


def random_description(rng: np.random.Generator, n_buses: int) -> dict:
    """A random radial network of ``n_buses`` buses as a description mapping.

    Bus names are shuffled, each new bus hangs on a random earlier one of the lv side, lines
    are listed in random order with random orientation; impedances of LV cables of 5..80 m.
    """
    names = [f"b{i}" for i in rng.permutation(n_buses)]
    hv, lv = names[0], names[1]
    lines = []
    for k in range(2, n_buses):
        upstream = names[int(rng.integers(1, k))]
        ends = (upstream, names[k]) if rng.random() < 0.5 else (names[k], upstream)
        length_km = rng.uniform(0.005, 0.08)
        lines.append(
            {
                "name": f"line{k}",
                "from_bus": ends[0],
                "to_bus": ends[1],
                "r_ohm": 0.2067 * length_km * rng.uniform(0.5, 3.0),
                "x_ohm": 0.0804 * length_km * rng.uniform(0.5, 2.0),
                "max_current_a": float(rng.uniform(100.0, 400.0)),
            }
        )
    order = rng.permutation(len(lines))
    return {
        "name": "random",
        "nominal_voltage_kv": 0.4,
        "slack_voltage_pu": float(rng.uniform(0.98, 1.04)),
        "buses": [names[i] for i in rng.permutation(n_buses)],
        "transformer": {
            "name": "t",
            "hv_bus": hv,
            "lv_bus": lv,
            "rated_kva": float(rng.choice([160.0, 250.0, 400.0, 630.0])),
            "vk_percent": 4.0,
            "vkr_percent": float(rng.uniform(0.5, 1.5)),
        },
        "lines": [lines[i] for i in order],
    }
