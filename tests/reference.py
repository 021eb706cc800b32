"""Pure-Python reference implementations of the core kernels, for the kernel tests.

Written from the rules stated in the module docstrings of :mod:`evgrid_gym.core` (and the
README's "The simulated world, one tick"), not from the kernel code: plain floats, lists and
dicts, different algorithms where there is a choice (stage-by-stage soc trajectory for the CC-CV
curve, bisection for the market's threshold price and the feeder factor). Two further
independent checks live here too: the CC-CV curve by numerically integrating its ODE, and the
market by seed 000's discrete unit bids. Slow is fine; clear is the point.

The last section builds small random scenarios as packed arrays (for the tick tests).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.core import tick as core_tick
from evgrid_gym.core.observation import block_offsets
from evgrid_gym.core.state import Episode, Outputs, State, Static
from evgrid_gym.observation import Observation, unpack

# --------------------------------------------------------------------------------------------
# Battery: two-stage CC-CV (ACN-Sim Linear2StageBattery), efficiency, discharge
# --------------------------------------------------------------------------------------------


def charge_gain_kwh(soc, capacity_kwh, max_power_kw, efficiency, transition_soc, dt_h):
    """Battery energy gained in ``dt_h`` charging at the CC-CV limit, stage by stage.

    CC stage: the battery gains ``efficiency * P`` kW until it reaches ``transition_soc``.
    CV stage: grid power ``P (1 - soc) / (1 - transition_soc)``, so the empty part of the
    battery, ``1 - soc``, decays exponentially with rate ``efficiency * P / (cap (1 - theta))``.
    """
    if soc >= 1.0 or max_power_kw <= 0.0:
        return 0.0
    battery_kw = efficiency * max_power_kw
    if transition_soc >= 1.0:  # pure constant power up to full
        hours_to_full = (1.0 - soc) * capacity_kwh / battery_kw
        return battery_kw * min(dt_h, hours_to_full)
    soc_now = soc
    hours_left = dt_h
    if soc_now < transition_soc:
        hours_to_transition = (transition_soc - soc_now) * capacity_kwh / battery_kw
        if hours_to_transition >= hours_left:
            return battery_kw * hours_left
        hours_left -= hours_to_transition
        soc_now = transition_soc
    rate_per_h = battery_kw / (capacity_kwh * (1.0 - transition_soc))
    empty_end = (1.0 - soc_now) * math.exp(-rate_per_h * hours_left)
    cc_kwh = (soc_now - soc) * capacity_kwh
    cv_kwh = ((1.0 - soc_now) - empty_end) * capacity_kwh
    return cc_kwh + cv_kwh


def charge_gain_ode_kwh(
    soc, capacity_kwh, max_power_kw, efficiency, transition_soc, dt_h, n_steps=4000
):
    """The same gain by integrating ``dE/dt = eff * min(P, P (1 - soc) / (1 - theta))``.

    Classical Runge-Kutta with ``n_steps`` fixed steps (the right-hand side has a kink at the
    transition, so the error is O(step^2) there): a loose, fully independent check.
    """

    def battery_kw(energy_kwh):
        s = energy_kwh / capacity_kwh
        if s >= 1.0:
            return 0.0
        if transition_soc >= 1.0:
            return efficiency * max_power_kw
        return efficiency * min(max_power_kw, max_power_kw * (1.0 - s) / (1.0 - transition_soc))

    energy = soc * capacity_kwh
    h = dt_h / n_steps
    for _ in range(n_steps):
        k1 = battery_kw(energy)
        k2 = battery_kw(energy + 0.5 * h * k1)
        k3 = battery_kw(energy + 0.5 * h * k2)
        k4 = battery_kw(energy + h * k3)
        energy = min(energy + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0, capacity_kwh)
    return energy - soc * capacity_kwh


def pilot_charge_gain_kwh(
    soc, capacity_kwh, pilot_kw, max_power_kw, efficiency, transition_soc, dt_h
):
    """Battery energy gained in ``dt_h`` under a pilot the charger holds until the curve binds.

    The grid power is ``min(pilot, P (1 - soc) / (1 - theta))`` at every instant (the pilot
    capped at ``P``): constant power ``pilot`` up to the soc where the curve falls to it,
    ``1 - pilot (1 - theta) / P``, then the curve, whose empty part decays exponentially with
    rate ``efficiency * P / (cap (1 - theta))``.
    """
    pilot_kw = min(pilot_kw, max_power_kw)
    if soc >= 1.0 or pilot_kw <= 0.0:
        return 0.0
    battery_kw = efficiency * pilot_kw
    if transition_soc >= 1.0:
        return min(battery_kw * dt_h, (1.0 - soc) * capacity_kwh)
    knee_soc = 1.0 - pilot_kw * (1.0 - transition_soc) / max_power_kw
    soc_now, hours_left = soc, dt_h
    if soc_now < knee_soc:
        hours_to_knee = (knee_soc - soc_now) * capacity_kwh / battery_kw
        if hours_to_knee >= hours_left:
            return battery_kw * hours_left
        hours_left -= hours_to_knee
        soc_now = knee_soc
    rate_per_h = efficiency * max_power_kw / (capacity_kwh * (1.0 - transition_soc))
    empty_end = (1.0 - soc_now) * math.exp(-rate_per_h * hours_left)
    return (1.0 - soc - empty_end) * capacity_kwh


def discharge_loss_kwh(soc, capacity_kwh, max_power_kw, efficiency, soc_min, dt_h):
    """Battery energy lost in ``dt_h`` discharging at grid-side power ``max_power_kw``.

    Constant power (no taper); the grid gets ``efficiency`` times what the battery loses, so
    the battery loses ``P / efficiency`` kW, and never goes below ``soc_min``.
    """
    if max_power_kw <= 0.0:
        return 0.0
    available_kwh = (soc - soc_min) * capacity_kwh
    if available_kwh <= 0.0:
        return 0.0
    battery_kw = max_power_kw / efficiency
    return min(battery_kw * dt_h, available_kwh)


def power_range_kw(
    soc,
    capacity_kwh,
    soc_target,
    max_charge_kw,
    max_discharge_kw,
    efficiency,
    transition_soc,
    soc_min,
    dt_h,
):
    """``(low, high)``: the average grid power range of a battery over one tick."""
    gain = charge_gain_kwh(soc, capacity_kwh, max_charge_kw, efficiency, transition_soc, dt_h)
    room_to_target = (soc_target - soc) * capacity_kwh if soc_target > soc else 0.0
    gain = min(gain, room_to_target)
    loss = discharge_loss_kwh(soc, capacity_kwh, max_discharge_kw, efficiency, soc_min, dt_h)
    # grid side: charging draws gain / eff, discharging delivers loss * eff
    return -(loss * efficiency) / dt_h, (gain / efficiency) / dt_h


def battery_change_kwh(power_kw, efficiency, dt_h):
    """``(battery energy change, losses)`` for average grid power ``power_kw`` over a tick."""
    if power_kw >= 0.0:
        battery = power_kw * dt_h * efficiency
        return battery, power_kw * dt_h * (1.0 - efficiency)
    battery = power_kw * dt_h / efficiency  # the battery loses more than the grid gets
    return battery, power_kw * dt_h - battery


# --------------------------------------------------------------------------------------------
# Projection onto the battery, charger, station and feeder limits
# --------------------------------------------------------------------------------------------


def _bisect_largest(feasible, low, high):
    """Largest ``x`` in ``[low, high]`` with ``feasible(x)``, given ``feasible(low)``."""
    if feasible(high):
        return high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if feasible(mid):
            low = mid
        else:
            high = mid
    return low


def project(
    conn_kw,
    conn_low_kw,
    conn_high_kw,
    connector_charger,
    charger_max_kw,
    charger_station,
    bess_kw,
    bess_low_kw,
    bess_high_kw,
    station_grid_kw,
    household_kw,
    feeder_kw,
    soft,
    station_fixed=(),
):
    """Projects requested powers; returns ``(conn_kw, bess_kw, station_net_kw,
    station_overload_kw, feeder_overload_kw)``.

    Rules (core/projection.py docstring): 1. clip to the battery range; 2. scale a charger's
    connectors by a common factor if the sum of their ``|p|`` exceeds its power; 3. (hard)
    scale the offending side of a station (consumers on import, producers on export) so the
    net lies in ``[-grid, grid]``; 4. (hard) scale all consumers by the largest common factor
    that meets the feeder limit, never cutting a station below the consumption that keeps its
    export within its grid capacity, nor a station in ``station_fixed`` (the curtailment
    cannot reach it) at all; whatever still exceeds (or, in soft mode, every excess over a
    station or the feeder limit) is overload, each station's (soft mode) apart from the
    feeder's.
    """

    def clip(requested, low, high):
        return [min(max(float(p), float(lo)), float(hi)) for p, lo, hi in zip(
            requested, low, high, strict=True)]  # fmt: skip

    conn = clip(conn_kw, conn_low_kw, conn_high_kw)
    bess = clip(bess_kw, bess_low_kw, bess_high_kw)
    n_stations = len(bess)

    connectors_of = defaultdict(list)
    for c, k in enumerate(connector_charger):
        connectors_of[int(k)].append(c)
    for k, members in connectors_of.items():
        drawn = sum(abs(conn[c]) for c in members)
        if drawn > charger_max_kw[k]:
            share = charger_max_kw[k] / drawn
            for c in members:
                conn[c] = conn[c] * share

    # every power entry of a station: ("conn", c) or ("bess", s)
    entries = {s: [("bess", s)] for s in range(n_stations)}
    for c, k in enumerate(connector_charger):
        entries[int(charger_station[int(k)])].append(("conn", c))

    def get(entry):
        return conn[entry[1]] if entry[0] == "conn" else bess[entry[1]]

    def scale(entry, factor):
        if entry[0] == "conn":
            conn[entry[1]] *= factor
        else:
            bess[entry[1]] *= factor

    def sides(s):
        consume = sum(get(e) for e in entries[s] if get(e) > 0.0)
        produce = sum(-get(e) for e in entries[s] if get(e) < 0.0)
        return consume, produce

    station_overload = [0.0] * n_stations
    feeder_overload = 0.0
    for s in range(n_stations):
        consume, produce = sides(s)
        net = consume - produce
        grid = float(station_grid_kw[s])
        if soft:
            station_overload[s] = max(abs(net) - grid, 0.0)
        elif net > grid:
            for e in entries[s]:
                if get(e) > 0.0:
                    scale(e, (grid + produce) / consume)
        elif net < -grid:
            for e in entries[s]:
                if get(e) < 0.0:
                    scale(e, (grid + consume) / produce)

    consume = [sides(s)[0] for s in range(n_stations)]
    produce = [sides(s)[1] for s in range(n_stations)]
    net_total = sum(consume) - sum(produce)
    excess = household_kw + net_total - feeder_kw
    if excess > 0.0:
        if soft:
            feeder_overload = excess
        else:
            floor = [
                consume[s]
                if s in station_fixed
                else min(max(produce[s] - station_grid_kw[s], 0.0), consume[s])
                for s in range(n_stations)
            ]

            def load(f):
                return household_kw + sum(
                    max(f * consume[s], floor[s]) - produce[s] for s in range(n_stations)
                )

            if load(0.0) > feeder_kw:
                factor = 0.0
                feeder_overload = load(0.0) - feeder_kw
            else:
                factor = _bisect_largest(lambda f: load(f) <= feeder_kw, 0.0, 1.0)
            for s in range(n_stations):
                if consume[s] > 0.0:
                    station_factor = max(factor, floor[s] / consume[s])
                    for e in entries[s]:
                        if get(e) > 0.0:
                            scale(e, station_factor)
    nets = [sides(s)[0] - sides(s)[1] for s in range(n_stations)]
    return conn, bess, nets, station_overload, feeder_overload


# --------------------------------------------------------------------------------------------
# Market clearing (seed 000): continuous bids and discrete unit bids
# --------------------------------------------------------------------------------------------


def clear(
    household_kwh,
    station_demand_kwh,
    station_fill,
    station_capacity_kwh,
    own_supply_kwh,
    household_bid,
    uniform_price,
):
    """Clears the market with continuous station bid curves; returns a dict of results.

    Households are served first; station ``s`` bids its ``x``-th kWh at
    ``(1 - fill_s) - x / N_s``; own energy goes to the highest bids, i.e. to every bid above
    the price ``lam`` (found by bisection) at which the remaining supply runs out.
    """
    n = len(station_demand_kwh)
    demand = [float(d) for d in station_demand_kwh]
    start = [1.0 - float(f) for f in station_fill]
    cap = [float(c) for c in station_capacity_kwh]
    household_own = min(household_kwh, own_supply_kwh)
    left = own_supply_kwh - household_own

    def take(s, price):
        if demand[s] <= 0.0:
            return 0.0
        return min(max((start[s] - price) * cap[s], 0.0), demand[s])

    if left >= sum(demand):
        own = demand[:]
    else:
        bidders = [s for s in range(n) if demand[s] > 0.0]
        top = max(start[s] for s in bidders)  # nobody takes anything above this
        bottom = min(start[s] - demand[s] / cap[s] for s in bidders)  # everybody takes all
        # going down the merit order, the price at which the own energy runs out: the
        # highest price at which the stations would take all that is left
        lam = _bisect_largest(lambda price: sum(take(s, price) for s in range(n)) >= left,
                              bottom, top)  # fmt: skip
        own = [take(s, lam) for s in range(n)]
    # quantities of 1e-6 kWh or less do not set the price (market.py: MIN_TRADE_KWH)
    lowest = []
    if household_own > 1e-6:
        lowest.append(household_bid)
    lowest += [start[s] - own[s] / cap[s] for s in range(n) if own[s] > 1e-6]
    clearing = min(lowest) if lowest else 0.0
    if uniform_price:
        payments = [clearing * own[s] for s in range(n)]
        household_payment = clearing * household_own
    else:  # each kWh pays its own bid: the area under the bid curve
        payments = [
            start[s] * own[s] - own[s] ** 2 / (2.0 * cap[s]) if own[s] > 0 else 0.0
            for s in range(n)
        ]
        household_payment = household_bid * household_own
    return {
        "household_own_kwh": household_own,
        "household_payment_eur": household_payment,
        "clearing_price": clearing,
        "surplus_kwh": own_supply_kwh - household_own - sum(own),
        "station_own_kwh": own,
        "station_payment_eur": payments,
    }


def clear_discrete(
    household_kwh,
    station_demand_kwh,
    station_fill,
    station_capacity_kwh,
    own_supply_kwh,
    household_bid,
    uniform_price,
    unit_kwh,
):
    """Seed 000 literally: stations bid units of ``unit_kwh``, producers sell to the best.

    A station holding ``f`` of ``N`` units bids its ``k``-th unit at ``1 - (f + k - 1) / N``;
    households bid ``household_bid`` for all of their load and are served first (seed 000:
    "we always want to cover them first"). Units are sold in order of price (ties: station
    order); the last unit sold may be partial. Converges to :func:`clear` as the unit -> 0.
    """
    household_own = min(household_kwh, own_supply_kwh)
    left = own_supply_kwh - household_own
    units = []  # (bid, station, size)
    for s, demand in enumerate(station_demand_kwh):
        if demand <= 0.0:
            continue
        f_units = station_fill[s] * station_capacity_kwh[s] / unit_kwh
        n_units = station_capacity_kwh[s] / unit_kwh
        k = 1
        remaining = demand
        while remaining > 1e-15:
            size = min(unit_kwh, remaining)
            units.append((1.0 - (f_units + k - 1) / n_units, s, size))
            remaining -= size
            k += 1
    units.sort(key=lambda u: (-u[0], u[1]))
    own = [0.0] * len(station_demand_kwh)
    paid = [0.0] * len(station_demand_kwh)
    clearing = household_bid if household_own > 0.0 else None
    for bid, s, size in units:
        if left <= 0.0:
            break
        sold = min(size, left)
        left -= sold
        own[s] += sold
        paid[s] += bid * sold
        clearing = bid if clearing is None else min(clearing, bid)
    clearing = 0.0 if clearing is None else clearing
    if uniform_price:
        paid = [clearing * o for o in own]
        household_payment = clearing * household_own
    else:
        household_payment = household_bid * household_own
    return {
        "household_own_kwh": household_own,
        "household_payment_eur": household_payment,
        "clearing_price": clearing,
        "surplus_kwh": max(left, 0.0),
        "station_own_kwh": own,
        "station_payment_eur": paid,
    }


# --------------------------------------------------------------------------------------------
# One tick: reset and step of one env, with Python objects for the state
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# The network: LinDistFlow by path sums, hard limits by bisection (core/network.py docstring)
# --------------------------------------------------------------------------------------------


def unpack_network(bus_parent, branch_f, bus_f, net_cfg, station_f):
    """The packed network as a dict of plain lists and floats (None without buses)."""
    n = len(bus_parent)
    if n == 0:
        return None
    paths = []
    for k in range(n):  # the branches between the slack and bus k, by walking up
        path, j = [], k
        while j > 0:
            path.append(j)
            j = int(bus_parent[j])
        paths.append(path)
    return {
        "parent": [int(b) for b in bus_parent],
        "paths": paths,
        "r": [float(x) for x in branch_f[L.BR_R_OHM]],
        "x": [float(x) for x in branch_f[L.BR_X_OHM]],
        "rated": [float(x) for x in branch_f[L.BR_RATED_KVA]],
        "household": [float(x) for x in bus_f[L.BUS_HOUSEHOLD_SHARE]],
        "wind": [float(x) for x in bus_f[L.BUS_WIND_SHARE]],
        "pv": [float(x) for x in bus_f[L.BUS_PV_SHARE]],
        "vn": float(net_cfg[L.NET_VN_KV]),
        "slack": float(net_cfg[L.NET_SLACK_PU]),
        "v_min": float(net_cfg[L.NET_V_MIN_PU]),
        "v_max": float(net_cfg[L.NET_V_MAX_PU]),
        "tan_household": float(net_cfg[L.NET_HOUSEHOLD_TAN_PHI]),
        "tan_station": float(net_cfg[L.NET_STATION_TAN_PHI]),
        "station_bus": [int(b) for b in station_f[L.ST_BUS]],
    }


def network_powers(net, household_kw, wind_kw, pv_kw, station_kw):
    """Per-bus ``(p, q)`` lists: households at their power factor, wind and PV fed in, each
    station's net import at its bus."""
    n = len(net["parent"])
    p = [household_kw * net["household"][b] - wind_kw * net["wind"][b] - pv_kw * net["pv"][b]
         for b in range(n)]  # fmt: skip
    q = [household_kw * net["household"][b] * net["tan_household"] for b in range(n)]
    for s, b in enumerate(net["station_bus"]):
        p[b] += station_kw[s]
        q[b] += station_kw[s] * net["tan_station"]
    return p, q


def network_flow(net, p, q):
    """``(v_pu, flow_p, flow_q, loading_pct)`` per bus / branch: a branch carries every bus
    whose path uses it; a bus's squared voltage is the slack's less the drops on its path."""
    n = len(p)
    flow_p, flow_q = [0.0] * n, [0.0] * n
    for k in range(n):
        for j in net["paths"][k]:
            flow_p[j] += p[k]
            flow_q[j] += q[k]
    per_kw_ohm = 2.0 / (1000.0 * net["vn"] ** 2)
    v = []
    for k in range(n):
        v2 = net["slack"] ** 2 - per_kw_ohm * sum(
            net["r"][j] * flow_p[j] + net["x"][j] * flow_q[j] for j in net["paths"][k]
        )
        v.append(math.sqrt(max(v2, 0.0)))
    loading = [0.0] + [
        100.0 * math.hypot(flow_p[j], flow_q[j])
        / (net["rated"][j] * min(v[j], v[net["parent"][j]]))
        for j in range(1, n)
    ]  # fmt: skip
    return v, flow_p, flow_q, loading


def network_within(net, p, q, tol=1e-9):
    """Every lv bus voltage in the band and every branch at most 100 % loaded."""
    v, _, _, loading = network_flow(net, p, q)
    return (
        min(v[1:]) >= net["v_min"] - tol
        and max(v[1:]) <= net["v_max"] + tol
        and max(loading) <= 100.0 + tol
    )


def network_scale(net, household_kw, wind_kw, pv_kw, curtailable, station_kw, fixed, feeder_kw,
                  n_grid=1000):  # fmt: skip
    """Step 5 of the projection: the largest ``a`` in [0, 1] with the reachable stations (not
    in ``fixed``) at ``a`` times their power meeting every network limit with the renewables
    fed in whole and, if ``curtailable``, not at all, and the feeder's import within
    ``max(feeder, import at a = 1)``; 0 if none. Grid search from 1 down, then bisection
    (the feasible set is an interval)."""
    reach = sum(kw for s, kw in enumerate(station_kw) if s not in fixed)
    import_kw = household_kw + sum(station_kw)
    room = max(feeder_kw, import_kw)
    ends = (1.0, 0.0) if curtailable else (1.0,)

    def feasible(a):
        scaled = [kw if s in fixed else a * kw for s, kw in enumerate(station_kw)]
        if import_kw - (1.0 - a) * reach > room:
            return False
        return all(
            network_within(
                net, *network_powers(net, household_kw, f * wind_kw, f * pv_kw, scaled), tol=0.0
            )
            for f in ends
        )

    grid = [i / n_grid for i in range(n_grid, -1, -1)]
    best = next((a for a in grid if feasible(a)), None)
    if best is None:
        return 0.0
    return _bisect_largest(feasible, best, min(best + 1.0 / n_grid, 1.0))


def network_kpis(net, v, flow_p, loading, dt_h):
    """The tick's network KPIs by name (their penalty aside)."""
    over_kw = sum(
        abs(flow_p[j]) * (1.0 - 100.0 / loading[j]) for j in range(1, len(v)) if loading[j] > 100.0
    )
    lv = v[1:]
    deviation = max(net["v_min"] - min(lv), max(lv) - net["v_max"], 0.0)
    return {
        "voltage_min_pu": min(lv),
        "voltage_max_pu": max(lv),
        "line_loading_pct": max(loading[2:], default=0.0),
        "transformer_loading_pct": loading[1],
        "network_violation_kwh": over_kw * dt_h,
        "voltage_violation_pu_h": deviation * dt_h,
    }


def station_headroom(net, v, flow_p, flow_q, bus):
    """The least ``rated x min(V at its ends) - S`` of the branches between ``bus`` and the
    slack."""
    return min(
        net["rated"][j] * min(v[j], v[net["parent"][j]]) - math.hypot(flow_p[j], flow_q[j])
        for j in net["paths"][bus]
    )


def _overlap_ticks(start_a, end_a, start_b, end_b):
    """Length of the intersection of the tick intervals [start_a, end_a) and [start_b, end_b)."""
    return max(min(end_a, end_b) - max(start_a, start_b), 0.0)


class RefSim:
    """A reference simulator over the same packed scenario arrays as ``core.tick``.

    The state is a list with one dict (or ``None`` when free) per connector, a list of BESS
    socs, the tick, the index of the next EV to arrive and one reservation dict per EV.
    ``packed_conn()`` and ``packed_res()`` render the connectors and reservations in the
    ``conn`` and ``res`` layouts of :mod:`evgrid_gym.core.layout` for comparison.

    Reservations follow the rules of the ``core/contract_net.py`` docstring, faults those of
    the ``core/tick.py`` docstring. Where the rules leave the order open, the requests of one
    tick are handled one EV after the other in the order of the EV table (each sees the
    reservations confirmed before it), before the tick's arrivals.
    """

    def __init__(self, cfg, connector_charger, charger_f, charger_station, station_f, exo, ev,
                 reward_weights, outage=None, bus_parent=(), branch_f=None, bus_f=None,
                 net_cfg=None):  # fmt: skip
        cfg = [float(x) for x in cfg]
        self.dt_h = cfg[L.CFG_DT_H]
        self.feeder_kw = cfg[L.CFG_FEEDER_KW]
        self.transition_soc = cfg[L.CFG_TRANSITION_SOC]
        self.v2g_soc_min = cfg[L.CFG_V2G_SOC_MIN]
        self.soft = cfg[L.CFG_SOFT_LIMITS] > 0
        self.uniform = cfg[L.CFG_UNIFORM_PRICE] > 0
        self.household_bid = cfg[L.CFG_HOUSEHOLD_BID]
        self.export = cfg[L.CFG_EXPORT] > 0
        self.unmet_penalty = cfg[L.CFG_UNMET_PENALTY]
        self.overload_penalty = cfg[L.CFG_OVERLOAD_PENALTY]
        self.n_ticks = int(cfg[L.CFG_N_TICKS])
        self.forecast = int(cfg[L.CFG_FORECAST_TICKS])
        self.bess_action = cfg[L.CFG_BESS_ACTION] > 0
        self.ticks_per_day = cfg[L.CFG_TICKS_PER_DAY]
        self.reservation = cfg[L.CFG_RESERVATION] > 0
        self.grace_ticks = cfg[L.CFG_GRACE_TICKS]
        self.markup = cfg[L.CFG_UTILISATION_MARKUP]
        self.min_energy_fraction = cfg[L.CFG_MIN_ENERGY_FRACTION]
        self.weight_km = cfg[L.CFG_DISTANCE_WEIGHT]
        self.weight_price = cfg[L.CFG_PRICE_WEIGHT]
        self.weight_kwh = cfg[L.CFG_ENERGY_WEIGHT]
        self.reservation_hours = int(cfg[L.CFG_RESERVATION_HOURS])
        self.outage_observation = cfg[L.CFG_OUTAGE_OBSERVATION] > 0
        self.acn_pilot = cfg[L.CFG_ACN_PILOT] > 0
        self.v2g_wear = cfg[L.CFG_V2G_DEGRADATION]
        self.network_penalty = cfg[L.CFG_NETWORK_PENALTY]
        self.voltage_penalty = cfg[L.CFG_VOLTAGE_PENALTY]
        self.net = unpack_network(bus_parent, branch_f, bus_f, net_cfg, station_f)
        self.chargers = [
            {
                "max_kw": float(charger_f[L.CH_MAX_KW, k]),
                "eff": float(charger_f[L.CH_EFFICIENCY, k]),
                "dc": charger_f[L.CH_IS_DC, k] > 0,
                "v2g": charger_f[L.CH_V2G, k] > 0,
                "fallback_kw": float(charger_f[L.CH_FALLBACK_KW, k]),
                "station": int(charger_station[k]),
            }
            for k in range(len(charger_station))
        ]
        self.connector_charger = [int(k) for k in connector_charger]
        self.conn_station = [self.chargers[k]["station"] for k in self.connector_charger]
        self.stations = [
            {
                name: float(station_f[field, s])
                for name, field in (
                    ("grid_kw", L.ST_GRID_KW),
                    ("bess_kwh", L.ST_BESS_KWH),
                    ("bess_kw", L.ST_BESS_KW),
                    ("eff", L.ST_BESS_EFFICIENCY),
                    ("soc_min", L.ST_BESS_SOC_MIN),
                    ("soc_max", L.ST_BESS_SOC_MAX),
                    ("soc_init", L.ST_BESS_SOC_INIT),
                    ("x_km", L.ST_X_KM),
                    ("y_km", L.ST_Y_KM),
                    ("price", L.ST_RESERVATION_PRICE),
                    ("wear", L.ST_BESS_DEGRADATION),
                )
            }  # fmt: skip
            for s in range(station_f.shape[1])
        ]
        self.exo = {
            name: [float(x) for x in exo[field]]
            for name, field in (
                ("renewable_kw", L.EXO_RENEWABLE_KW),
                ("household_kw", L.EXO_HOUSEHOLD_KW),
                ("price", L.EXO_PRICE),
                ("feed_in", L.EXO_FEED_IN),
                ("wind_kw", L.EXO_WIND_KW),
                ("storage_value", L.EXO_STORAGE_VALUE),
            )
        }
        self.evs = [
            {
                "arrival": float(ev[L.EV_ARRIVAL, e]),
                "departure": float(ev[L.EV_DEPARTURE, e]),
                "station": int(ev[L.EV_STATION, e]),
                "battery_kwh": float(ev[L.EV_BATTERY_KWH, e]),
                "soc_arrival": float(ev[L.EV_SOC_ARRIVAL, e]),
                "soc_target": float(ev[L.EV_SOC_TARGET, e]),
                "ac_kw": float(ev[L.EV_MAX_AC_KW, e]),
                "dc_kw": float(ev[L.EV_MAX_DC_KW, e]),
                "v2g_kw": float(ev[L.EV_MAX_V2G_KW, e]),
                "tariff": float(ev[L.EV_TARIFF, e]),
                "connector": int(ev[L.EV_CONNECTOR, e]),
                "request": float(ev[L.EV_REQUEST, e]),
                "planned": float(ev[L.EV_PLANNED_ARRIVAL, e]),
                "x_km": float(ev[L.EV_X_KM, e]),
                "y_km": float(ev[L.EV_Y_KM, e]),
                "max_price": float(ev[L.EV_MAX_PRICE, e]),
            }
            for e in range(ev.shape[1])
        ]
        self.weights = {name: float(reward_weights[i]) for i, name in enumerate(L.KPI_NAMES)}
        self.n_conn = len(self.connector_charger)
        self.n_st = len(self.stations)
        n_ch = len(self.chargers)
        if outage is None:
            outage = np.zeros((exo.shape[1], n_ch + self.n_st + 1))
        # per tick (a row of the timeline): the chargers down, the station links down, the
        # share of wind capacity down
        self.outage_rows = [[float(x) for x in row] for row in outage]
        self.charger_down = [{k for k in range(n_ch) if row[k] > 0} for row in outage]
        self.link_down = [{s for s in range(self.n_st) if row[n_ch + s] > 0} for row in outage]
        self.wind_down = [float(row[n_ch + self.n_st]) for row in outage]

    # --- state ------------------------------------------------------------------------------

    def reset(self):
        """Starts an episode; returns ``(obs, kpi)``."""
        self.slots = [None] * self.n_conn
        self.last_power = [0.0] * self.n_conn
        self.bess_soc = [st["soc_init"] for st in self.stations]
        self.station_net = [0.0] * self.n_st  # last tick's net imports (the network's obs)
        self.tick = 0
        self.next_ev = 0
        self.res = [
            {"status": L.RES_NONE, "connector": -1, "price": 0.0, "energy_kwh": 0.0}
            for _ in self.evs
        ]
        kpi = dict.fromkeys(L.KPI_NAMES, 0.0)
        self._begin_tick(kpi)
        self.kpi_total = dict(kpi)
        for i in L.KPI_EPISODE_MIN:  # no tick yet
            self.kpi_total[L.KPI_NAMES[i]] = math.inf
        return self.observation(), kpi

    def packed_conn(self):
        """The connectors as an ``(N_CONN_FIELDS, C)`` list of lists (``conn`` layout)."""
        rows = [[0.0] * self.n_conn for _ in range(L.N_CONN_FIELDS)]
        for c, slot in enumerate(self.slots):
            rows[L.CN_POWER_KW][c] = self.last_power[c]
            if slot is None:
                rows[L.CN_EV][c] = -1.0
                continue
            for field, key in (
                (L.CN_OCCUPIED, None), (L.CN_EV, "ev"), (L.CN_SOC, "soc"),
                (L.CN_BATTERY_KWH, "battery_kwh"), (L.CN_SOC_TARGET, "soc_target"),
                (L.CN_DEPARTURE, "departure"), (L.CN_MAX_KW, "max_kw"),
                (L.CN_MAX_V2G_KW, "v2g_kw"), (L.CN_REQUESTED_KWH, "requested_kwh"),
                (L.CN_DELIVERED_KWH, "delivered_kwh"), (L.CN_TARIFF, "tariff"),
                (L.CN_OUTAGE_KWH, "outage_kwh"),
            ):  # fmt: skip
                rows[field][c] = 1.0 if key is None else float(slot[key])
        return rows

    def packed_res(self):
        """The reservations as an ``(N_RES_FIELDS, n_evs)`` array (``res`` layout)."""
        rows = np.zeros((L.N_RES_FIELDS, len(self.evs)))
        for e, r in enumerate(self.res):
            rows[L.RS_STATUS, e] = r["status"]
            rows[L.RS_CONNECTOR, e] = r["connector"]
            rows[L.RS_PRICE, e] = r["price"]
            rows[L.RS_ENERGY_KWH, e] = r["energy_kwh"]
        return rows

    def _plug(self, e, c, tariff):
        ev = self.evs[e]
        charger = self.chargers[self.connector_charger[c]]
        ev_kw = ev["dc_kw"] if charger["dc"] else ev["ac_kw"]
        self.slots[c] = {
            "ev": e,
            "soc": ev["soc_arrival"],
            "battery_kwh": ev["battery_kwh"],
            "soc_target": ev["soc_target"],
            "departure": ev["departure"],
            "max_kw": min(ev_kw, charger["max_kw"]),
            "v2g_kw": min(ev["v2g_kw"], charger["max_kw"]) if charger["v2g"] else 0.0,
            "requested_kwh": self._need_kwh(e),
            "delivered_kwh": 0.0,
            "tariff": tariff,
            "outage_kwh": 0.0,
        }

    def _need_kwh(self, e):
        ev = self.evs[e]
        return max(ev["soc_target"] - ev["soc_arrival"], 0.0) * ev["battery_kwh"]

    def _up(self, c, t):
        """Connector ``c``'s charger is up at tick ``t``."""
        return self.connector_charger[c] not in self.charger_down[t]

    # --- reservations (core/contract_net.py docstring) ---------------------------------------

    def _committed_ticks(self, c, start, end, skip_ev):
        """Ticks of ``[start, end)`` during which connector ``c`` is committed: to its plugged
        EV (now until its departure) and to every confirmed reservation of an EV still to
        come, other than ``skip_ev`` (its planned arrival to its departure)."""
        slot = self.slots[c]
        ticks = 0.0 if slot is None else _overlap_ticks(self.tick, slot["departure"], start, end)
        for e in range(self.next_ev, len(self.evs)):
            r = self.res[e]
            if e != skip_ev and r["status"] == L.RES_CONFIRMED and r["connector"] == c:
                ev = self.evs[e]
                ticks += _overlap_ticks(ev["planned"], ev["departure"], start, end)
        return ticks

    def offer(self, e, s):
        """Station ``s``'s offer to EV ``e``'s request now: a dict with ``reachable``,
        ``connector`` (-1: none free), ``energy_kwh``, ``price``, ``distance_km``."""
        ev, st = self.evs[e], self.stations[s]
        start, end = ev["planned"], ev["departure"]
        window = end - start
        members = [c for c in range(self.n_conn) if self.conn_station[c] == s]
        committed = {c: self._committed_ticks(c, start, end, e) for c in members}
        utilisation = sum(committed.values()) / (len(members) * window)
        committed_kw = (
            sum(committed[c] * self.chargers[self.connector_charger[c]]["max_kw"] for c in members)
            / window
        )

        def power_kw(c):
            charger = self.chargers[self.connector_charger[c]]
            return min(ev["dc_kw"] if charger["dc"] else ev["ac_kw"], charger["max_kw"])

        free = [c for c in members if committed[c] == 0.0 and self._up(c, self.tick)]
        connector = max(free, key=lambda c: (power_kw(c), -c)) if free else -1
        energy = 0.0
        if connector >= 0:
            headroom_kw = max(st["grid_kw"] + st["bess_kw"] - committed_kw, 0.0)
            efficiency = self.chargers[self.connector_charger[connector]]["eff"]
            energy = min(
                self._need_kwh(e),
                min(power_kw(connector), headroom_kw) * window * self.dt_h * efficiency,
            )
        return {
            "reachable": s not in self.link_down[self.tick],
            "connector": connector,
            "energy_kwh": energy,
            "price": st["price"] + self.markup * utilisation,
            "distance_km": math.hypot(ev["x_km"] - st["x_km"], ev["y_km"] - st["y_km"]),
        }

    def _auction(self, e, kpi):
        """One round of EV ``e``'s request: ``(stations that answered, best acceptable offer or
        None)``; a station whose link is down misses the deadline."""
        answered = []
        for s in range(self.n_st):
            offer = self.offer(e, s)
            if offer["reachable"]:
                answered.append((s, offer))
            else:
                kpi["missed_deadlines"] += 1
        need = self._need_kwh(e)
        acceptable = [
            (s, o)
            for s, o in answered
            if o["connector"] >= 0
            and o["price"] <= self.evs[e]["max_price"]
            and o["energy_kwh"] >= self.min_energy_fraction * need
        ]
        if not acceptable:
            return len(answered), None

        def rank(item):
            s, o = item
            score = (self.weight_kwh * o["energy_kwh"] - self.weight_price * o["price"]
                     - self.weight_km * o["distance_km"])  # fmt: skip
            return score, -s  # the lowest station index on ties

        return len(answered), max(acceptable, key=rank)[1]

    def _hold(self, r, offer):
        r["connector"] = offer["connector"]
        r["price"] = offer["price"]
        r["energy_kwh"] = offer["energy_kwh"]

    def _reservations(self, kpi):
        """This tick's no-shows (released first), re-offers (then), and requests and retries
        (last, in table order)."""
        t = self.tick
        waiting = list(range(self.next_ev, len(self.evs)))
        confirmed = [e for e in waiting if self.res[e]["status"] == L.RES_CONFIRMED]
        for e in confirmed:
            if t > self.evs[e]["planned"] + self.grace_ticks:  # the grace period is over
                self.res[e]["status"], self.res[e]["connector"] = L.RES_EXPIRED, -1
                kpi["no_shows"] += 1
        for e in confirmed:
            r = self.res[e]
            if r["status"] == L.RES_CONFIRMED and not self._up(r["connector"], t):
                _, best = self._auction(e, kpi)  # its charger failed: offered again
                if best is None:
                    r["status"], r["connector"] = L.RES_CANCELLED, -1
                    kpi["reservations_cancelled"] += 1
                else:
                    self._hold(r, best)
        for e in waiting:
            ev, r = self.evs[e], self.res[e]
            if r["status"] in (L.RES_NONE, L.RES_PENDING) and ev["request"] <= t:
                if r["status"] == L.RES_NONE:
                    kpi["reservation_requests"] += 1
                n_answered, best = self._auction(e, kpi)
                if best is not None:
                    self._hold(r, best)
                    r["status"] = L.RES_CONFIRMED
                    kpi["reservations_confirmed"] += 1
                elif n_answered > 0 or t >= ev["planned"]:
                    r["status"] = L.RES_REJECTED
                    kpi["reservations_rejected"] += 1
                else:  # nobody answered: retried next tick
                    r["status"] = L.RES_PENDING

    def _close_reservations(self, kpi):
        """Episode end: open reservations are no-shows, pending requests rejected."""
        for e in range(self.next_ev, len(self.evs)):
            r = self.res[e]
            if r["status"] == L.RES_CONFIRMED:
                r["status"], r["connector"] = L.RES_EXPIRED, -1
                kpi["no_shows"] += 1
            elif r["status"] == L.RES_PENDING:
                r["status"] = L.RES_REJECTED
                kpi["reservations_rejected"] += 1

    # --- arrivals -----------------------------------------------------------------------------

    def _begin_tick(self, kpi):
        if self.reservation:
            self._reservations(kpi)
        self._arrivals(kpi)

    def _arrivals(self, kpi):
        """Plugs in every EV arriving by now. One with a confirmed reservation takes its
        reserved connector (holds are kept, so it must be free) and pays the agreed price. A
        walk-in needs a connector free until its departure (no plugged EV, no reservation of
        an EV still to come overlapping) on a charger that is up: the one it asks for, else
        the first of its station (of any station for station -1); rejected if there is none.
        """
        t = self.tick
        while self.next_ev < len(self.evs) and self.evs[self.next_ev]["arrival"] <= t:
            e = self.next_ev
            self.next_ev += 1
            kpi["arrivals"] += 1
            ev, r = self.evs[e], self.res[e]
            if r["status"] == L.RES_CONFIRMED:
                c = r["connector"]
                assert self._up(c, t), f"EV {e}: its reserved connector {c} is down"
                if self.slots[c] is None:
                    r["status"] = L.RES_SERVED
                    kpi["reservations_served"] += 1
                    self._plug(e, c, tariff=r["price"])
                    continue
                # early, its connector still taken: the reservation is cancelled, a walk-in
                r["status"], r["connector"] = L.RES_CANCELLED, -1
                kpi["reservations_cancelled"] += 1
            free = [
                c
                for c in range(self.n_conn)
                if self.slots[c] is None
                and self._up(c, t)
                and self._committed_ticks(c, t, ev["departure"], e) == 0.0
            ]
            wanted, station = ev["connector"], ev["station"]
            if wanted in free:
                free = [wanted]
            free = [c for c in free if c == wanted or station in (-1, self.conn_station[c])]
            if not free:
                kpi["rejected_arrivals"] += 1
                continue
            self._plug(e, free[0], tariff=ev["tariff"])

    # --- limits -----------------------------------------------------------------------------

    def connector_range_kw(self, c):
        slot = self.slots[c]
        if slot is None:
            return 0.0, 0.0
        return power_range_kw(
            slot["soc"], slot["battery_kwh"], slot["soc_target"], slot["max_kw"], slot["v2g_kw"],
            self.chargers[self.connector_charger[c]]["eff"], self.transition_soc, self.v2g_soc_min,
            self.dt_h,
        )  # fmt: skip

    def pilot_power_kw(self, c, pilot_kw):
        """The average power the EV of connector ``c`` draws under ``pilot_kw`` (ACN pilots);
        the projection then applies to these draws."""
        slot = self.slots[c]
        if pilot_kw <= 0.0 or slot is None:
            return pilot_kw
        eff = self.chargers[self.connector_charger[c]]["eff"]
        gain = pilot_charge_gain_kwh(
            slot["soc"], slot["battery_kwh"], pilot_kw, slot["max_kw"], eff,
            self.transition_soc, self.dt_h,
        )  # fmt: skip
        gain = min(gain, max(slot["soc_target"] - slot["soc"], 0.0) * slot["battery_kwh"])
        return gain / (eff * self.dt_h)

    def bess_range_kw(self, s):
        st = self.stations[s]
        if st["bess_kwh"] <= 0.0:
            return 0.0, 0.0
        return power_range_kw(
            self.bess_soc[s], st["bess_kwh"], st["soc_max"], st["bess_kw"], st["bess_kw"],
            st["eff"], 1.0, st["soc_min"], self.dt_h,
        )  # fmt: skip

    # --- one tick ---------------------------------------------------------------------------

    def step(self, action):
        """One tick; returns ``(status, reward, kpi, station_out, obs)``.

        ``status`` is 1 (and nothing changes) when an action entry is not finite.
        """
        action = [float(a) for a in action]
        if not all(math.isfinite(a) for a in action):
            return 1, 0.0, None, None, None
        dt = self.dt_h
        t = self.tick
        kpi = dict.fromkeys(L.KPI_NAMES, 0.0)
        links_down = self.link_down[t]

        def clip(a):
            return min(max(a, -1.0), 1.0)

        # a station without link runs on its fallback setpoint, without V2G, its BESS idle;
        # a charger down delivers nothing (what its EV could have taken is booked)
        requested, ranges = [], []
        for c in range(self.n_conn):
            charger = self.chargers[self.connector_charger[c]]
            low, high = self.connector_range_kw(c)
            if self.conn_station[c] in links_down:
                requested.append(charger["fallback_kw"])
                low = max(low, 0.0)
            else:
                requested.append(clip(action[c]) * charger["max_kw"])
            if self.acn_pilot:
                requested[c] = self.pilot_power_kw(c, requested[c])
            if not self._up(c, t):
                if self.slots[c] is not None:
                    self.slots[c]["outage_kwh"] += battery_change_kwh(high, charger["eff"], dt)[0]
                low = high = 0.0
            ranges.append((low, high))
        bess_requested = [
            clip(action[self.n_conn + s]) * st["bess_kw"]
            if self.bess_action and s not in links_down
            else 0.0
            for s, st in enumerate(self.stations)
        ]
        kpi["missed_deadlines"] += len(links_down)
        bess_ranges = [self.bess_range_kw(s) for s in range(self.n_st)]
        # the stores of each station at tick start: plugged EVs and the BESS
        stored = [st["bess_kwh"] * self.bess_soc[s] for s, st in enumerate(self.stations)]
        storage = [st["bess_kwh"] for st in self.stations]
        for c, slot in enumerate(self.slots):
            if slot is not None:
                stored[self.conn_station[c]] += slot["soc"] * slot["battery_kwh"]
                storage[self.conn_station[c]] += slot["battery_kwh"]
        fill = [stored[s] / storage[s] if storage[s] > 0 else 0.0 for s in range(self.n_st)]

        household_kw = self.exo["household_kw"][t]
        power, bess_power, net, station_overload_kw, feeder_overload_kw = project(
            requested, [r[0] for r in ranges], [r[1] for r in ranges], self.connector_charger,
            [ch["max_kw"] for ch in self.chargers], [ch["station"] for ch in self.chargers],
            bess_requested, [r[0] for r in bess_ranges], [r[1] for r in bess_ranges],
            [st["grid_kw"] for st in self.stations], household_kw, self.feeder_kw, self.soft,
            station_fixed=links_down,
        )  # fmt: skip
        wind_kw = self.exo["wind_kw"][t] * (1.0 - self.wind_down[t])
        pv_kw = self.exo["renewable_kw"][t] - self.exo["wind_kw"][t]
        if self.net is not None and not self.soft:
            a = network_scale(self.net, household_kw, wind_kw, pv_kw, not self.export, net,
                              links_down, self.feeder_kw)  # fmt: skip
            if a < 1.0:
                power = [p if self.conn_station[c] in links_down else a * p
                         for c, p in enumerate(power)]  # fmt: skip
                bess_power = [p if s in links_down else a * p for s, p in enumerate(bess_power)]
                net = [n if s in links_down else a * n for s, n in enumerate(net)]
                feeder_overload_kw = max(household_kw + sum(net) - self.feeder_kw, 0.0)

        # the bids of a station without link never reach the market: the supplier serves it
        demand = [max(n, 0.0) * dt for n in net]
        bids = [0.0 if s in links_down else demand[s] for s in range(self.n_st)]
        exported = [max(-n, 0.0) * dt for n in net]
        wind_lost = self.exo["wind_kw"][t] * self.wind_down[t] * dt
        renewable = self.exo["renewable_kw"][t] * dt - wind_lost
        market = clear(
            household_kw * dt, bids, fill, storage, renewable + sum(exported),
            self.household_bid, self.uniform,
        )  # fmt: skip
        station_external = [demand[s] - market["station_own_kwh"][s] for s in range(self.n_st)]
        household_external = household_kw * dt - market["household_own_kwh"]
        external = household_external + sum(station_external)
        price = self.exo["price"][t]
        kpi["household_kwh"] = household_kw * dt
        kpi["renewable_kwh"] = renewable
        kpi["wind_outage_kwh"] = wind_lost
        kpi["external_energy_kwh"] = external
        kpi["own_energy_used_kwh"] = market["household_own_kwh"] + sum(market["station_own_kwh"])
        kpi["import_kw"] = external / dt
        kpi["export_kwh" if self.export else "curtailed_kwh"] = max(market["surplus_kwh"], 0.0)
        kpi["clearing_price_eur_per_kwh"] = market["clearing_price"]
        kpi["household_payment_eur"] = market["household_payment_eur"]
        kpi["station_payment_eur"] = sum(market["station_payment_eur"])
        kpi["energy_cost_eur"] = external * price
        kpi["export_revenue_eur"] = kpi["export_kwh"] * self.exo["feed_in"][t]
        overload_kw = sum(station_overload_kw) + feeder_overload_kw
        kpi["overload_kwh"] = overload_kw * dt
        kpi["overload_penalty_eur"] = overload_kw * dt * self.overload_penalty
        if self.net is not None:  # the renewables less what the market curtailed
            renewable_kw = wind_kw + pv_kw
            cut = min(kpi["curtailed_kwh"] / dt, renewable_kw) / renewable_kw if renewable_kw else 0
            flow = network_flow(
                self.net,
                *network_powers(
                    self.net, household_kw, (1.0 - cut) * wind_kw, (1.0 - cut) * pv_kw, net
                ),
            )
            kpi.update(network_kpis(self.net, flow[0], flow[1], flow[3], dt))
            kpi["network_penalty_eur"] = (
                kpi["network_violation_kwh"] * self.network_penalty
                + kpi["voltage_violation_pu_h"] * self.voltage_penalty
            )
        self.station_net = list(net)
        # each station's own books, kept apart from the community's totals above
        station_out = {
            "net_kw": net,
            "own_kwh": market["station_own_kwh"],
            "external_kwh": station_external,
            "payment_eur": market["station_payment_eur"],
            "bid": [1.0 - f for f in fill],
            "bess_kw": bess_power,
            "revenue_eur": [0.0] * self.n_st,
            "energy_cost_eur": [x * price for x in station_external],
            "storage_value_eur": [0.0] * self.n_st,
            "degradation_cost_eur": [0.0] * self.n_st,
            "unmet_kwh": [0.0] * self.n_st,
            "overload_kwh": [x * dt for x in station_overload_kw],
        }

        for c, slot in enumerate(self.slots):
            self.last_power[c] = power[c]
            if slot is None:
                continue
            p = power[c]
            delta, losses = battery_change_kwh(
                p, self.chargers[self.connector_charger[c]]["eff"], dt
            )
            slot["soc"] = min(max(slot["soc"] + delta / slot["battery_kwh"], 0.0), 1.0)
            slot["delivered_kwh"] += delta
            kpi["ev_energy_kwh"] += delta
            kpi["ev_losses_kwh"] += losses
            if p > 0:
                kpi["ev_charge_grid_kwh"] += p * dt
            else:
                kpi["ev_discharge_grid_kwh"] -= p * dt
            kpi["revenue_eur"] += delta * slot["tariff"]  # paid per kWh into the battery
            station_out["revenue_eur"][self.conn_station[c]] += delta * slot["tariff"]
            # V2G wears the battery by what it takes out and the recharge that puts it back
            wear = max(-delta, 0.0) * self.v2g_wear
            kpi["degradation_cost_eur"] += wear
            station_out["degradation_cost_eur"][self.conn_station[c]] += wear
        for s, st in enumerate(self.stations):
            if st["bess_kwh"] <= 0.0:
                continue
            p = bess_power[s]
            delta, losses = battery_change_kwh(p, st["eff"], dt)
            self.bess_soc[s] = min(max(self.bess_soc[s] + delta / st["bess_kwh"], 0.0), 1.0)
            kpi["bess_losses_kwh"] += losses
            # the stored energy is worth what it gives back to the grid at the storage value
            kpi["storage_value_eur"] += delta * st["eff"] * self.exo["storage_value"][t]
            station_out["storage_value_eur"][s] = delta * st["eff"] * self.exo["storage_value"][t]
            wear = abs(delta) * st["wear"]  # every kWh in or out
            kpi["degradation_cost_eur"] += wear
            station_out["degradation_cost_eur"][s] += wear
            if p > 0:
                kpi["bess_charge_grid_kwh"] += p * dt
            else:
                kpi["bess_discharge_grid_kwh"] -= p * dt

        self.tick += 1
        end = self.tick >= self.n_ticks
        for c, slot in enumerate(self.slots):
            if slot is not None and (slot["departure"] <= self.tick or end):
                unmet = max(slot["requested_kwh"] - slot["delivered_kwh"], 0.0)
                kpi["departures"] += 1
                kpi["requested_kwh"] += slot["requested_kwh"]
                kpi["delivered_kwh"] += slot["delivered_kwh"]
                kpi["unmet_energy_kwh"] += unmet
                kpi["outage_unmet_kwh"] += min(unmet, slot["outage_kwh"])
                station_out["unmet_kwh"][self.conn_station[c]] += unmet
                self.slots[c] = None
        kpi["unmet_penalty_eur"] = kpi["unmet_energy_kwh"] * self.unmet_penalty
        station_out["unmet_penalty_eur"] = [
            x * self.unmet_penalty for x in station_out["unmet_kwh"]
        ]
        station_out["overload_penalty_eur"] = [
            x * self.overload_penalty for x in station_out["overload_kwh"]
        ]
        station_out["profit_eur"] = [
            station_out["revenue_eur"][s] - station_out["payment_eur"][s]
            - station_out["energy_cost_eur"][s] + station_out["storage_value_eur"][s]
            - station_out["degradation_cost_eur"][s] - station_out["unmet_penalty_eur"][s]
            - station_out["overload_penalty_eur"][s]
            for s in range(self.n_st)
        ]  # fmt: skip
        if end:
            self._close_reservations(kpi)
        else:
            self._begin_tick(kpi)

        reward = sum(self.weights[name] * kpi[name] for name in L.KPI_NAMES)
        maxima = {L.KPI_NAMES[i] for i in L.KPI_EPISODE_MAX}
        minima = {L.KPI_NAMES[i] for i in L.KPI_EPISODE_MIN}
        for name in L.KPI_NAMES:
            if name in maxima:
                self.kpi_total[name] = max(self.kpi_total[name], kpi[name])
            elif name in minima:
                self.kpi_total[name] = min(self.kpi_total[name], kpi[name])
            else:
                self.kpi_total[name] += kpi[name]
        return 0, reward, kpi, station_out, self.observation()

    def observation(self):
        """Observation at the current tick (layout: ``core.tick.write_observation``)."""
        t = self.tick
        occupied, soc, needed, to_go, max_kw = [], [], [], [], []
        headroom = [  # a station without link has its BESS idle: no discharge to count
            st["grid_kw"] - (0.0 if s in self.link_down[t] else self.bess_range_kw(s)[0])
            for s, st in enumerate(self.stations)
        ]
        for c, slot in enumerate(self.slots):
            high = self.connector_range_kw(c)[1] if self._up(c, t) else 0.0
            headroom[self.conn_station[c]] -= high
            if slot is None:
                slot = {"soc": 0.0, "soc_target": 0.0, "battery_kwh": 0.0, "departure": t}
                occupied.append(0.0)
            else:
                occupied.append(1.0)
            soc.append(slot["soc"])
            needed.append(max(slot["soc_target"] - slot["soc"], 0.0) * slot["battery_kwh"])
            to_go.append(max(slot["departure"] - t, 0.0))
            max_kw.append(high)
        angle = 2.0 * math.pi * (t % self.ticks_per_day) / self.ticks_per_day
        ahead = range(t, t + self.forecast + 1)
        # upcoming reservations per station and hour ahead (overdue ones in the first hour)
        upcoming = [[0.0] * self.reservation_hours for _ in range(self.n_st)]
        for e in range(self.next_ev, len(self.evs)):
            r = self.res[e]
            if r["status"] == L.RES_CONFIRMED:
                hours_ahead = max(self.evs[e]["planned"] - t, 0.0) * self.dt_h
                if hours_ahead < self.reservation_hours:
                    upcoming[self.conn_station[r["connector"]]][math.floor(hours_ahead)] += 1.0
        return (
            occupied + soc + needed + to_go + max_kw + list(self.bess_soc) + headroom
            + [math.sin(angle), math.cos(angle)]
            + [self.exo["price"][i] for i in ahead]
            + [self.exo["renewable_kw"][i] for i in ahead]
            + [self.exo["household_kw"][t]]
            + [n for row in upcoming for n in row]
            + (self.outage_rows[t] if self.outage_observation else [])
            + self._network_observation()
        )  # fmt: skip

    def _network_observation(self):
        """Each station's bus voltage, then its least upstream headroom: the households and
        renewables of now (before curtailment), the stations at their last tick's power."""
        if self.net is None:
            return []
        t = self.tick
        wind_kw = self.exo["wind_kw"][t] * (1.0 - self.wind_down[t])
        pv_kw = self.exo["renewable_kw"][t] - self.exo["wind_kw"][t]
        v, flow_p, flow_q, _ = network_flow(
            self.net,
            *network_powers(
                self.net, self.exo["household_kw"][t], wind_kw, pv_kw, self.station_net
            ),
        )
        buses = self.net["station_bus"]
        return [v[b] for b in buses] + [
            station_headroom(self.net, v, flow_p, flow_q, b) for b in buses
        ]


# --------------------------------------------------------------------------------------------
# Flexibility of the plugged-in fleet: power range and energy envelope (core.flexibility)
# --------------------------------------------------------------------------------------------


def full_power_kwh(energy_kwh, capacity_kwh, power_kw, efficiency, transition_soc, dt_h, ticks):
    """Battery energy after ``ticks`` ticks at the CC-CV limit, tick by tick (up to full)."""
    for _ in range(int(ticks)):
        energy_kwh += charge_gain_kwh(
            energy_kwh / capacity_kwh, capacity_kwh, power_kw, efficiency, transition_soc, dt_h
        )
    return energy_kwh


def latest_start_kwh(goal_kwh, capacity_kwh, power_kw, efficiency, transition_soc, dt_h, ticks):
    """The least energy from which ``ticks`` ticks at full power reach ``goal_kwh`` (bisection
    over the tick-by-tick trajectory); None when even an empty battery does."""

    def reaches(start):
        end = full_power_kwh(start, capacity_kwh, power_kw, efficiency, transition_soc, dt_h, ticks)
        return end >= goal_kwh * (1.0 - 1e-12)

    if reaches(0.0):
        return None
    low, high = 0.0, goal_kwh
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (low, mid) if reaches(mid) else (mid, high)
    return high


def ev_edges_kwh(sc, conn, c, tick, h):
    """``(least, most)`` grid energy the EV on connector ``c`` must and can take in ``h``
    ticks, from the rules of ``core.flexibility``'s docstring."""
    cfg, charger_f = sc["cfg"], sc["charger_f"]
    k = sc["connector_charger"][c]
    dt, eta, ts = cfg[L.CFG_DT_H], charger_f[L.CH_EFFICIENCY, k], cfg[L.CFG_TRANSITION_SOC]
    cap, soc, power = conn[L.CN_BATTERY_KWH, c], conn[L.CN_SOC, c], conn[L.CN_MAX_KW, c]
    energy = soc * cap
    stay = max(min(conn[L.CN_DEPARTURE, c], cfg[L.CFG_N_TICKS]) - tick, 1)
    n = min(h, stay)
    top = max(conn[L.CN_SOC_TARGET, c] * cap, energy)

    def full(ticks):
        return min(full_power_kwh(energy, cap, power, eta, ts, dt, ticks), top)

    most = full(n) - energy
    goal = min(energy - conn[L.CN_DELIVERED_KWH, c] + conn[L.CN_REQUESTED_KWH, c], full(stay))
    start = latest_start_kwh(goal, cap, power, eta, ts, dt, stay - n)
    give = 0.0
    for _ in range(int(n)):  # V2G at its limit, tick by tick, down to the floor
        e_soc = (energy - give) / cap
        give += discharge_loss_kwh(e_soc, cap, conn[L.CN_MAX_V2G_KW, c], eta,
                                   cfg[L.CFG_V2G_SOC_MIN], dt)  # fmt: skip
    least = -give if start is None else max(start - energy, -give)
    least = min(least, most)
    most_grid = most / eta
    cycle = conn[L.CN_MAX_V2G_KW, c] * (n - 1) * dt
    if cycle > 0:
        most_grid = min(most_grid + cycle * (1 / eta**2 - 1), power * n * dt)
    return (least / eta if least >= 0 else least * eta), most_grid


def fleet_edges_kwh(sc, conn, bess_soc, tick, h, now):
    """``(least, most)`` of the fleet over ``h`` ticks: the EVs' edges capped per charger,
    station and feeder (with ``now``, the outages of ``tick``)."""
    cfg, charger_f, station_f = sc["cfg"], sc["charger_f"], sc["station_f"]
    outage = sc["outage"]
    n_ch, dt = charger_f.shape[1], cfg[L.CFG_DT_H]
    hours = h * dt
    most, must, give = defaultdict(float), defaultdict(float), defaultdict(float)
    for c in range(conn.shape[1]):
        if not conn[L.CN_OCCUPIED, c]:
            continue
        k = int(sc["connector_charger"][c])
        s = int(sc["charger_station"][k])
        lo, hi = ev_edges_kwh(sc, conn, c, tick, h)
        if now and outage[tick, k] > 0:
            lo = hi = 0.0
        elif now and outage[tick, n_ch + s] > 0:
            lo = hi = min(charger_f[L.CH_FALLBACK_KW, k] * dt, hi)
        most[k] += hi
        must[k] += max(lo, 0.0)
        give[k] += max(-lo, 0.0)
    station_most, station_least = defaultdict(float), defaultdict(float)
    for k in range(n_ch):
        s = int(sc["charger_station"][k])
        limit = charger_f[L.CH_MAX_KW, k] * hours
        station_most[s] += min(most[k], limit)
        station_least[s] += must[k] - min(give[k], max(limit - must[k], 0.0))
    total_most = total_least = bess_give = 0.0
    for s in range(station_f.shape[1]):
        give_s = take_s = 0.0
        if station_f[L.ST_BESS_KWH, s] > 0 and cfg[L.CFG_BESS_ACTION] > 0:
            if not (now and outage[tick, n_ch + s] > 0):
                cap, eta = station_f[L.ST_BESS_KWH, s], station_f[L.ST_BESS_EFFICIENCY, s]
                limit = station_f[L.ST_BESS_KW, s] * hours
                give_s = min(
                    limit, max(bess_soc[s] - station_f[L.ST_BESS_SOC_MIN, s], 0) * cap * eta
                )
                take_s = min(
                    limit, max(station_f[L.ST_BESS_SOC_MAX, s] - bess_soc[s], 0) * cap / eta
                )
        bess_give += give_s
        grid = station_f[L.ST_GRID_KW, s] * hours
        if cfg[L.CFG_SOFT_LIMITS]:
            total_most += station_most[s]
            total_least += station_least[s]
        else:
            total_most += min(station_most[s], grid + give_s)
            total_least += max(station_least[s], -(grid + take_s))
    if not cfg[L.CFG_SOFT_LIMITS]:
        feeder = sum(
            max(cfg[L.CFG_FEEDER_KW] - sc["exo"][L.EXO_HOUSEHOLD_KW, tick + j], 0.0) * dt
            for j in range(h)
        )
        total_most = min(total_most, feeder + bess_give)
    return total_least, total_most


# --------------------------------------------------------------------------------------------
# Random scenarios as packed arrays (small, with tight limits so that every rule is exercised)
# --------------------------------------------------------------------------------------------


def random_scenario(
    rng: np.random.Generator,
    *,
    n_stations=2,
    n_ticks=8,
    forecast_ticks=2,
    soft=False,
    uniform=False,
    export=True,
    bess_action=True,
    dt_h=0.25,
    n_evs=None,
    scarce=False,
    reservation=False,
    outages=False,
    acn_pilot=False,
    degradation=False,
):
    """A random scenario as a dict of the arrays ``core.tick.reset/step`` take.

    ``scarce=True`` makes station grids and the feeder tight and renewables small, so the
    projection and the market both bind. ``reservation=True`` turns reservations on: most EVs
    request ahead of their planned arrival from somewhere near their station, with a random
    price limit; some come late or not at all (arrival +inf), and the EV table is sorted by
    the actual arrival; random score weights, grace, markup and observation hours.
    ``outages=True`` adds a random outage timeline (chargers, station links, wind share) and
    often shows it in the observation. The key ``outage`` is always there (zeros when off).
    ``acn_pilot=True`` reads connector powers as ACN-Sim pilots (``battery.pilot: acn``).
    ``degradation=True`` gives V2G and the BESS random wear costs per kWh.
    """
    charger_station, charger_rows, connector_charger = [], [], []
    for s in range(n_stations):
        for _ in range(rng.integers(1, 3)):
            k = len(charger_station)
            charger_station.append(s)
            charger_rows.append(
                [
                    rng.choice([7.4, 11.0, 22.0, 50.0]),
                    rng.uniform(0.85, 1.0),
                    float(rng.random() < 0.3),
                    float(rng.random() < 0.5),
                    0.0,  # fallback, below
                ]
            )
            connector_charger += [k] * int(rng.integers(1, 4))
    charger_f = np.array(charger_rows).T.copy()
    n_chargers = charger_f.shape[1]
    conn_station = np.array(charger_station)[connector_charger]
    station_f = np.zeros((L.N_STATION_FIELDS, n_stations))
    for s in range(n_stations):
        rated = charger_f[L.CH_MAX_KW, np.array(charger_station) == s].sum()
        station_f[L.ST_GRID_KW, s] = rated * rng.uniform(0.2, 0.8 if scarce else 1.5)
        if rng.random() < 0.7:
            soc_min = rng.uniform(0.0, 0.3)
            soc_max = rng.uniform(0.7, 1.0)
            station_f[L.ST_BESS_KWH, s] = rng.uniform(10.0, 200.0)
            station_f[L.ST_BESS_KW, s] = rng.uniform(5.0, 80.0)
            station_f[L.ST_BESS_EFFICIENCY, s] = rng.uniform(0.8, 1.0)
            station_f[L.ST_BESS_SOC_MIN, s] = soc_min
            station_f[L.ST_BESS_SOC_MAX, s] = soc_max
            station_f[L.ST_BESS_SOC_INIT, s] = rng.uniform(soc_min, soc_max)
    # the fallback while a station's link is down: its grid capacity shared by its connectors,
    # at most the charger's power shared by its connectors
    charger_f[L.CH_FALLBACK_KW] = np.minimum(
        station_f[L.ST_GRID_KW, charger_station]
        / np.bincount(conn_station, minlength=n_stations)[charger_station],
        charger_f[L.CH_MAX_KW] / np.bincount(connector_charger, minlength=n_chargers),
    )
    household_peak = rng.uniform(0.0, 60.0)
    total_rated = charger_f[L.CH_MAX_KW].sum()
    cfg = np.zeros(L.N_CFG)
    cfg[L.CFG_DT_H] = dt_h
    # scarce: the households alone may exceed the feeder limit
    cfg[L.CFG_FEEDER_KW] = household_peak * rng.uniform(0.7 if scarce else 1.0, 1.0) + (
        total_rated * rng.uniform(0.05, 0.6 if scarce else 1.5)
    )
    cfg[L.CFG_TRANSITION_SOC] = rng.choice([0.5, 0.8, rng.uniform(0.1, 1.0), 1.0])
    cfg[L.CFG_V2G_SOC_MIN] = rng.uniform(0.0, 0.5)
    cfg[L.CFG_SOFT_LIMITS] = soft
    cfg[L.CFG_UNIFORM_PRICE] = uniform
    cfg[L.CFG_HOUSEHOLD_BID] = 1.0
    cfg[L.CFG_EXPORT] = export
    cfg[L.CFG_UNMET_PENALTY] = rng.uniform(0.0, 1.0)
    cfg[L.CFG_OVERLOAD_PENALTY] = rng.uniform(0.0, 2.0)
    cfg[L.CFG_N_TICKS] = n_ticks
    cfg[L.CFG_FORECAST_TICKS] = forecast_ticks
    cfg[L.CFG_BESS_ACTION] = bess_action
    cfg[L.CFG_TICKS_PER_DAY] = round(24.0 / dt_h)
    cfg[L.CFG_ACN_PILOT] = acn_pilot

    n_exo = n_ticks + forecast_ticks + 1
    exo = np.zeros((L.N_EXO_FIELDS, n_exo))
    exo[L.EXO_RENEWABLE_KW] = rng.uniform(0.0, 0.3 if scarce else 1.5, n_exo) * total_rated
    exo[L.EXO_RENEWABLE_KW, rng.random(n_exo) < 0.2] = 0.0
    exo[L.EXO_HOUSEHOLD_KW] = rng.uniform(0.0, household_peak, n_exo)
    exo[L.EXO_PRICE] = rng.uniform(0.0, 1.0, n_exo)
    exo[L.EXO_FEED_IN] = rng.uniform(0.0, 0.1, n_exo)
    exo[L.EXO_STORAGE_VALUE] = exo[L.EXO_PRICE, :n_ticks].mean()
    # the wind part of the renewables (the rest is PV)
    exo[L.EXO_WIND_KW] = exo[L.EXO_RENEWABLE_KW] * rng.choice([0.0, 1.0, rng.uniform()], n_exo)

    if n_evs is None:
        n_evs = int(rng.integers(0, 4 * len(connector_charger) + 1))
    arrival = np.sort(rng.integers(0, n_ticks + 1, n_evs))
    ev = np.zeros((L.N_EV_FIELDS, n_evs))
    ev[L.EV_ARRIVAL] = arrival
    ev[L.EV_DEPARTURE] = arrival + rng.integers(1, n_ticks + 1, n_evs)
    ev[L.EV_STATION] = rng.integers(0, n_stations, n_evs)
    ev[L.EV_BATTERY_KWH] = rng.uniform(5.0, 100.0, n_evs)
    ev[L.EV_SOC_ARRIVAL] = rng.uniform(0.0, 1.0, n_evs)
    ev[L.EV_SOC_TARGET] = np.where(rng.random(n_evs) < 0.2, 1.0, rng.uniform(0.0, 1.0, n_evs))
    ev[L.EV_MAX_AC_KW] = rng.uniform(3.0, 22.0, n_evs)
    ev[L.EV_MAX_DC_KW] = rng.uniform(20.0, 150.0, n_evs)
    ev[L.EV_MAX_V2G_KW] = np.where(rng.random(n_evs) < 0.5, rng.uniform(0.0, 20.0, n_evs), 0.0)
    ev[L.EV_TARIFF] = rng.uniform(0.1, 0.6, n_evs)
    # a replayed trace names the connector (and its station); some EVs take any station
    ev[L.EV_CONNECTOR] = np.where(
        rng.random(n_evs) < 0.2, rng.integers(0, len(connector_charger), n_evs), -1
    )
    asks = ev[L.EV_CONNECTOR] >= 0
    ev[L.EV_STATION, asks] = conn_station[ev[L.EV_CONNECTOR, asks].astype(int)]
    ev[L.EV_STATION, rng.random(n_evs) < 0.1] = -1
    # reservations off: nobody requests, everybody comes as planned
    ev[L.EV_REQUEST] = np.inf
    ev[L.EV_PLANNED_ARRIVAL] = ev[L.EV_ARRIVAL]
    station_f[L.ST_X_KM] = rng.uniform(0.0, 10.0, n_stations)
    station_f[L.ST_Y_KM] = rng.uniform(0.0, 10.0, n_stations)
    station_f[L.ST_RESERVATION_PRICE] = rng.uniform(0.2, 0.8, n_stations)

    if reservation:
        cfg[L.CFG_RESERVATION] = 1.0
        cfg[L.CFG_GRACE_TICKS] = rng.integers(0, 3)
        cfg[L.CFG_UTILISATION_MARKUP] = rng.choice([0.0, rng.uniform(0.0, 0.8)])
        cfg[L.CFG_MIN_ENERGY_FRACTION] = rng.choice([0.0, 1.0, rng.uniform()])
        cfg[L.CFG_DISTANCE_WEIGHT] = rng.uniform(0.0, 2.0)
        cfg[L.CFG_PRICE_WEIGHT] = rng.uniform(0.0, 20.0)
        cfg[L.CFG_ENERGY_WEIGHT] = rng.uniform(0.0, 0.5)
        cfg[L.CFG_RESERVATION_HOURS] = rng.integers(0, 4)
        planned = ev[L.EV_ARRIVAL].copy()
        ev[L.EV_REQUEST] = np.where(
            rng.random(n_evs) < 0.15, np.inf, np.maximum(planned - rng.integers(0, 5, n_evs), 0)
        )
        home = np.where(
            ev[L.EV_STATION] >= 0, ev[L.EV_STATION], rng.integers(0, n_stations, n_evs)
        ).astype(int)
        ev[L.EV_X_KM] = station_f[L.ST_X_KM, home] + rng.normal(0.0, 2.0, n_evs)
        ev[L.EV_Y_KM] = station_f[L.ST_Y_KM, home] + rng.normal(0.0, 2.0, n_evs)
        ev[L.EV_MAX_PRICE] = rng.uniform(0.2, 1.2, n_evs)
        late = rng.random(n_evs) < 0.3
        actual = planned + np.where(late, rng.integers(1, 4, n_evs), 0)
        no_show = (rng.random(n_evs) < 0.15) | (actual >= ev[L.EV_DEPARTURE])
        ev[L.EV_ARRIVAL] = np.where(no_show, np.inf, actual)
        ev = ev[:, np.argsort(ev[L.EV_ARRIVAL], kind="stable")]

    n_rows = n_chargers + n_stations + 1
    outage = np.zeros((n_rows, n_exo))  # components x ticks here, tick-major in the scenario
    if outages:
        cfg[L.CFG_OUTAGE_OBSERVATION] = float(rng.random() < 0.7)
        rate = rng.uniform(0.0, 0.4, (n_rows - 1, 1))
        for row, tick in zip(*np.nonzero(rng.random((n_rows - 1, n_exo)) < rate), strict=True):
            outage[row, tick : tick + rng.integers(1, 4)] = 1.0
        down = rng.random(n_exo) < rng.uniform(0.0, 0.5)
        outage[-1] = np.where(down, rng.choice([0.25, 0.5, 1.0, rng.uniform()], n_exo), 0.0)

    if degradation:  # drawn last: the draws above are those of a scenario without wear
        cfg[L.CFG_V2G_DEGRADATION] = rng.uniform(0.0, 0.2)
        station_f[L.ST_BESS_DEGRADATION] = rng.uniform(0.0, 0.1, n_stations)
        station_f[L.ST_BESS_DEGRADATION, station_f[L.ST_BESS_KWH] == 0.0] = 0.0

    weights = np.zeros(L.N_KPI)
    for name, w in (
        ("revenue_eur", 1.0),
        ("energy_cost_eur", -1.0),
        ("export_revenue_eur", 1.0),
        ("unmet_penalty_eur", -1.0),
        ("overload_penalty_eur", -1.0),
        ("storage_value_eur", 1.0),
        ("degradation_cost_eur", -1.0),
    ):
        weights[L.KPI[name]] = w
    return {
        "cfg": cfg,
        "connector_charger": np.array(connector_charger, dtype=np.int64),
        "charger_f": charger_f,
        "charger_station": np.array(charger_station, dtype=np.int64),
        "station_f": station_f,
        "exo": exo,
        "ev": ev,
        "reward_weights": weights,
        "outage": np.ascontiguousarray(outage.T),
    }


def hand_scenario(
    stations,
    evs,
    *,
    n_ticks=12,
    dt_h=0.25,
    forecast_ticks=1,
    reservation=True,
    grace_ticks=1,
    markup=0.0,
    min_energy_fraction=0.0,
    distance_weight=1.0,
    price_weight=10.0,
    energy_weight=0.1,
    reservation_hours=0,
    outage_observation=False,
    feeder_kw=1000.0,
    renewable_kw=0.0,
    wind_kw=0.0,
    household_kw=0.0,
):
    """A small scenario built by hand, as a dict of packed arrays for :class:`CoreSim`.

    ``stations``: one dict per station with ``chargers`` (a list of ``(max_kw,
    n_connectors)``, AC, 90 % efficient, no V2G), ``grid_kw`` (100), ``x_km``, ``y_km`` (0),
    ``price`` (reservation base price, 0.5 EUR/kWh) and ``bess_kw`` (0: no BESS; else a
    100 kWh BESS at soc 0.5). Connectors and chargers are numbered station by station.
    ``evs``: one dict per EV, already sorted by ``arrival`` (+inf for a no-show), overriding
    ``departure`` (8), ``planned`` (= arrival), ``request`` (+inf: never), ``station`` (-1),
    ``connector`` (-1), ``battery_kwh`` (40), ``soc`` (0.5), ``target`` (1.0), ``ac_kw``
    (11), ``dc_kw`` (50), ``tariff`` (0.4), ``x_km``, ``y_km`` (0), ``max_price`` (1.0).
    Nothing is ever down (``scenario["outage"]`` is zeros to edit); cfg as the keywords say.
    """
    charger_rows, charger_station, connector_charger = [], [], []
    station_f = np.zeros((L.N_STATION_FIELDS, len(stations)))
    for s, st in enumerate(stations):
        n_conn = 0
        for max_kw, n in st["chargers"]:
            connector_charger += [len(charger_station)] * n
            charger_station.append(s)
            charger_rows.append([max_kw, 0.9, 0.0, 0.0, max_kw / n])
            n_conn += n
        station_f[L.ST_GRID_KW, s] = st.get("grid_kw", 100.0)
        if st.get("bess_kw", 0.0) > 0:
            station_f[L.ST_BESS_KWH, s] = 100.0
            station_f[L.ST_BESS_KW, s] = st["bess_kw"]
            station_f[L.ST_BESS_EFFICIENCY, s] = 0.95
            station_f[L.ST_BESS_SOC_MAX, s] = 1.0
            station_f[L.ST_BESS_SOC_INIT, s] = 0.5
        station_f[L.ST_X_KM, s] = st.get("x_km", 0.0)
        station_f[L.ST_Y_KM, s] = st.get("y_km", 0.0)
        station_f[L.ST_RESERVATION_PRICE, s] = st.get("price", 0.5)
        # the fallback: the grid shared by the connectors, at most the charger's share
        for k in range(len(charger_rows) - len(st["chargers"]), len(charger_rows)):
            charger_rows[k][4] = min(charger_rows[k][4], station_f[L.ST_GRID_KW, s] / n_conn)
    cfg = np.zeros(L.N_CFG)
    cfg[L.CFG_DT_H] = dt_h
    cfg[L.CFG_FEEDER_KW] = feeder_kw
    cfg[L.CFG_TRANSITION_SOC] = 0.8
    cfg[L.CFG_V2G_SOC_MIN] = 0.2
    cfg[L.CFG_HOUSEHOLD_BID] = 1.0
    cfg[L.CFG_EXPORT] = 1.0
    cfg[L.CFG_UNMET_PENALTY] = 0.5
    cfg[L.CFG_OVERLOAD_PENALTY] = 1.0
    cfg[L.CFG_N_TICKS] = n_ticks
    cfg[L.CFG_FORECAST_TICKS] = forecast_ticks
    cfg[L.CFG_BESS_ACTION] = 1.0
    cfg[L.CFG_TICKS_PER_DAY] = round(24.0 / dt_h)
    cfg[L.CFG_RESERVATION] = reservation
    cfg[L.CFG_GRACE_TICKS] = grace_ticks
    cfg[L.CFG_UTILISATION_MARKUP] = markup
    cfg[L.CFG_MIN_ENERGY_FRACTION] = min_energy_fraction
    cfg[L.CFG_DISTANCE_WEIGHT] = distance_weight
    cfg[L.CFG_PRICE_WEIGHT] = price_weight
    cfg[L.CFG_ENERGY_WEIGHT] = energy_weight
    cfg[L.CFG_RESERVATION_HOURS] = reservation_hours
    cfg[L.CFG_OUTAGE_OBSERVATION] = outage_observation
    n_exo = n_ticks + forecast_ticks + 1
    exo = np.zeros((L.N_EXO_FIELDS, n_exo))
    exo[L.EXO_RENEWABLE_KW] = renewable_kw
    exo[L.EXO_WIND_KW] = wind_kw
    exo[L.EXO_HOUSEHOLD_KW] = household_kw
    exo[L.EXO_PRICE] = 0.3
    exo[L.EXO_FEED_IN] = 0.05
    exo[L.EXO_STORAGE_VALUE] = 0.3
    ev = np.zeros((L.N_EV_FIELDS, len(evs)))
    for e, spec in enumerate(evs):
        arrival = spec["arrival"]
        for field, key, default in (
            (L.EV_ARRIVAL, "arrival", None), (L.EV_DEPARTURE, "departure", 8.0),
            (L.EV_STATION, "station", -1.0), (L.EV_BATTERY_KWH, "battery_kwh", 40.0),
            (L.EV_SOC_ARRIVAL, "soc", 0.5), (L.EV_SOC_TARGET, "target", 1.0),
            (L.EV_MAX_AC_KW, "ac_kw", 11.0), (L.EV_MAX_DC_KW, "dc_kw", 50.0),
            (L.EV_MAX_V2G_KW, "v2g_kw", 0.0), (L.EV_TARIFF, "tariff", 0.4),
            (L.EV_CONNECTOR, "connector", -1.0), (L.EV_REQUEST, "request", np.inf),
            (L.EV_PLANNED_ARRIVAL, "planned", arrival), (L.EV_X_KM, "x_km", 0.0),
            (L.EV_Y_KM, "y_km", 0.0), (L.EV_MAX_PRICE, "max_price", 1.0),
        ):  # fmt: skip
            ev[field, e] = spec.get(key, default)
    assert np.all(ev[L.EV_ARRIVAL, 1:] >= ev[L.EV_ARRIVAL, :-1]), "give the EVs by arrival"
    weights = np.zeros(L.N_KPI)
    for name, w in (("revenue_eur", 1.0), ("energy_cost_eur", -1.0), ("export_revenue_eur", 1.0),
                    ("unmet_penalty_eur", -1.0), ("overload_penalty_eur", -1.0),
                    ("storage_value_eur", 1.0), ("degradation_cost_eur", -1.0)):  # fmt: skip
        weights[L.KPI[name]] = w
    return {
        "cfg": cfg,
        "connector_charger": np.array(connector_charger, dtype=np.int64),
        "charger_f": np.array(charger_rows).T.copy(),
        "charger_station": np.array(charger_station, dtype=np.int64),
        "station_f": station_f,
        "exo": exo,
        "ev": ev,
        "reward_weights": weights,
        "outage": np.zeros((n_exo, len(charger_station) + len(stations) + 1)),
    }


NETWORK_KEYS = ("bus_parent", "branch_f", "bus_f", "net_cfg")
"""The keys of a packed scenario's network arrays (``core.state.Static``)."""


def add_random_network(scenario, rng, *, n_buses=None, tight=True):
    """``scenario`` (a packed dict) placed on a random radial network
    (``reference_network.random_description``): households on a few buses, the wind on one or
    two (the hv bus among the choices), the PV on one, each station on an lv bus; the network
    arrays under :data:`NETWORK_KEYS` and ``station_f[ST_BUS]`` set. ``tight``: cables of
    40-250 A up to 20 times as long and a voltage band of 0.93-0.97 to 1.03-1.07 pu, so that
    the stations' powers reach the limits; random power factors."""
    from reference_network import random_description

    from evgrid_gym.grid import NetworkConfig, network_arrays

    n_buses = int(rng.integers(3, 12)) if n_buses is None else n_buses
    description = random_description(rng, n_buses)
    if tight:
        stretch = rng.uniform(1.0, 20.0)
        for line in description["lines"]:
            line["r_ohm"] *= stretch
            line["x_ohm"] *= stretch
            line["max_current_a"] = float(rng.uniform(40.0, 250.0))
    hv, buses = description["transformer"]["hv_bus"], description["buses"]
    lv = [b for b in buses if b != hv]
    n_st = scenario["station_f"].shape[1]
    station_ids = [f"s{i}" for i in range(n_st)]
    config = NetworkConfig.model_validate({
        "description": description,
        "households": [{"bus": str(b), "count": int(rng.integers(1, 4))}
                       for b in rng.choice(lv, size=min(3, len(lv)), replace=False)],
        "turbines": [str(b) for b in rng.choice(buses, size=2)],
        "pv": str(rng.choice(lv)),
        "stations": {i: str(rng.choice(lv)) for i in station_ids},
        "household_power_factor": float(rng.uniform(0.85, 1.0)),
        "station_power_factor": float(rng.choice([1.0, rng.uniform(0.9, 1.0)])),
        "voltage_min_pu": float(rng.uniform(0.93, 0.97)) if tight else 0.9,
        "voltage_max_pu": float(rng.uniform(1.03, 1.07)) if tight else 1.1,
    })  # fmt: skip
    arrays = network_arrays(config, station_ids, rng.uniform(0.5, 2.0, 2))
    scenario = dict(scenario, station_f=scenario["station_f"].copy())
    scenario["station_f"][L.ST_BUS] = arrays.station_bus
    for key in NETWORK_KEYS:
        scenario[key] = getattr(arrays, key)
    scenario["cfg"] = scenario["cfg"].copy()
    scenario["cfg"][L.CFG_NETWORK_PENALTY] = rng.uniform(0.0, 2.0)
    scenario["cfg"][L.CFG_VOLTAGE_PENALTY] = rng.uniform(0.0, 200.0)
    scenario["reward_weights"] = scenario["reward_weights"].copy()
    scenario["reward_weights"][L.KPI["network_penalty_eur"]] = -1.0
    return scenario


def observation_offsets(scenario):
    """Where each observation block starts in a packed scenario (``core.observation``)."""
    cfg = scenario["cfg"]
    dims = {
        "C": scenario["connector_charger"].shape[0],
        "S": scenario["station_f"].shape[1],
        "K": scenario["charger_f"].shape[1],
        "F": int(cfg[L.CFG_FORECAST_TICKS]),
        "H": int(cfg[L.CFG_RESERVATION_HOURS]),
    }
    features = {"reservations"} if cfg[L.CFG_RESERVATION] > 0 else set()
    features |= {"faults"} if cfg[L.CFG_OUTAGE_OBSERVATION] > 0 else set()
    features |= {"network"} if len(scenario.get("bus_parent", ())) > 0 else set()
    return block_offsets(dims, features)


class CoreSim:
    """Holds the state groups of one env and calls ``core.tick.reset/step`` on them.

    ``scenario["outage"]`` is the outage timeline; missing, nothing is ever down. The network
    arrays (``bus_parent``, ``branch_f``, ``bus_f``, ``net_cfg``); missing, there is none.
    """

    def __init__(self, scenario):
        self.sc = dict(scenario)
        n_conn = scenario["connector_charger"].shape[0]
        n_st = scenario["station_f"].shape[1]
        n_chargers = scenario["charger_f"].shape[1]
        if self.sc.get("outage") is None:
            self.sc["outage"] = Episode.zeros(scenario["exo"].shape[1], n_chargers, n_st).outage
        cfg = scenario["cfg"]
        self.n_actions = n_conn + n_st * int(cfg[L.CFG_BESS_ACTION] > 0)
        offsets = observation_offsets(scenario)
        network = (
            tuple(scenario[key] for key in NETWORK_KEYS)
            if "bus_parent" in scenario
            else Static.no_network()
        )
        self.static = Static(
            cfg, scenario["connector_charger"], scenario["charger_f"],
            scenario["charger_station"], scenario["station_f"], scenario["reward_weights"],
            offsets, *network,
        )  # fmt: skip
        self.episode = Episode(self.sc["exo"], self.sc["ev"], self.sc["outage"])
        self.state = State.zeros(n_conn, n_st, scenario["ev"].shape[1])
        self.out = Outputs.zeros(n_st, int(offsets[-1]))
        n_buses = len(network[0])
        self.work = np.full(core_tick.workspace_size(n_conn, n_chargers, n_st, n_buses), np.nan)

    conn = property(lambda self: self.state.conn)
    res = property(lambda self: self.state.res)
    bess_soc = property(lambda self: self.state.bess_soc)
    clock = property(lambda self: self.state.clock)
    kpi = property(lambda self: self.out.kpi)
    kpi_total = property(lambda self: self.out.kpi_total)
    station_out = property(lambda self: self.out.station_out)
    obs = property(lambda self: self.out.obs)

    @property
    def obs_view(self) -> Observation:
        """The observation's named views (``Scenario.unpack``)."""
        return unpack(self.obs, self.static.obs_offsets, self.static.station_f.shape[1])

    def reset(self):
        core_tick.reset(
            *self.static, *self.episode, *self.state, *self.out, self.work, *self.static.switches()
        )

    def step(self, action):
        return core_tick.step(
            *self.static, *self.episode, *self.state, *self.out,
            np.asarray(action, dtype=np.float64), self.work, *self.static.switches(),
        )  # fmt: skip

    @property
    def done(self):
        return self.clock[L.CLK_TICK] >= self.sc["cfg"][L.CFG_N_TICKS]

    def tick_kpi(self, name):
        """This tick's KPI ``name`` (``layout.KPI_NAMES``)."""
        return self.kpi[L.KPI[name]]

    def total_kpi(self, name):
        """The episode total of KPI ``name`` so far."""
        return self.kpi_total[L.KPI[name]]
