"""Pure-Python reference implementations of the core kernels, for the kernel tests.

Written from the rules stated in the module docstrings of :mod:`evgrid_gym.core` (and
DESIGN.md "One tick, in order"), not from the kernel code: plain floats, lists and dicts,
different algorithms where there is a choice (stage-by-stage soc trajectory for the CC-CV
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
    conn_charger,
    charger_max_kw,
    charger_station,
    bess_kw,
    bess_low_kw,
    bess_high_kw,
    station_grid_kw,
    household_kw,
    feeder_kw,
    soft,
):
    """Projects requested powers; returns ``(conn_kw, bess_kw, station_net_kw, overload_kw)``.

    Rules (core/projection.py docstring): 1. clip to the battery range; 2. scale a charger's
    connectors by a common factor if the sum of their ``|p|`` exceeds its power; 3. (hard)
    scale the offending side of a station (consumers on import, producers on export) so the
    net lies in ``[-grid, grid]``; 4. (hard) scale all consumers by the largest common factor
    that meets the feeder limit, never cutting a station below the consumption that keeps its
    export within its grid capacity; whatever still exceeds (or, in soft mode, every excess
    over a station or the feeder limit) is overload.
    """

    def clip(requested, low, high):
        return [min(max(float(p), float(lo)), float(hi)) for p, lo, hi in zip(
            requested, low, high, strict=True)]  # fmt: skip

    conn = clip(conn_kw, conn_low_kw, conn_high_kw)
    bess = clip(bess_kw, bess_low_kw, bess_high_kw)
    n_stations = len(bess)

    connectors_of = defaultdict(list)
    for c, k in enumerate(conn_charger):
        connectors_of[int(k)].append(c)
    for k, members in connectors_of.items():
        drawn = sum(abs(conn[c]) for c in members)
        if drawn > charger_max_kw[k]:
            share = charger_max_kw[k] / drawn
            for c in members:
                conn[c] = conn[c] * share

    # every power entry of a station: ("conn", c) or ("bess", s)
    entries = {s: [("bess", s)] for s in range(n_stations)}
    for c, k in enumerate(conn_charger):
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

    overload = 0.0
    for s in range(n_stations):
        consume, produce = sides(s)
        net = consume - produce
        grid = float(station_grid_kw[s])
        if soft:
            overload += max(abs(net) - grid, 0.0)
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
            overload += excess
        else:
            floor = [
                min(max(produce[s] - station_grid_kw[s], 0.0), consume[s])
                for s in range(n_stations)
            ]

            def load(f):
                return household_kw + sum(
                    max(f * consume[s], floor[s]) - produce[s] for s in range(n_stations)
                )

            if load(0.0) > feeder_kw:
                factor = 0.0
                overload += load(0.0) - feeder_kw
            else:
                factor = _bisect_largest(lambda f: load(f) <= feeder_kw, 0.0, 1.0)
            for s in range(n_stations):
                if consume[s] > 0.0:
                    station_factor = max(factor, floor[s] / consume[s])
                    for e in entries[s]:
                        if get(e) > 0.0:
                            scale(e, station_factor)
    nets = [sides(s)[0] - sides(s)[1] for s in range(n_stations)]
    return conn, bess, nets, overload


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


class RefSim:
    """A reference simulator over the same packed scenario arrays as ``core.tick``.

    The state is a list with one dict (or ``None`` when free) per connector, a list of BESS
    socs, the tick and the index of the next EV to arrive. ``packed_conn()`` renders the
    connectors in the ``conn`` layout of :mod:`evgrid_gym.core.layout` for comparison.
    """

    def __init__(self, cfg, conn_charger, charger_f, charger_station, station_f, exo, ev,
                 reward_weights):  # fmt: skip
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
        self.chargers = [
            {
                "max_kw": float(charger_f[L.CH_MAX_KW, k]),
                "eff": float(charger_f[L.CH_EFFICIENCY, k]),
                "dc": charger_f[L.CH_IS_DC, k] > 0,
                "v2g": charger_f[L.CH_V2G, k] > 0,
                "station": int(charger_station[k]),
            }
            for k in range(len(charger_station))
        ]
        self.conn_charger = [int(k) for k in conn_charger]
        self.conn_station = [self.chargers[k]["station"] for k in self.conn_charger]
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
            )
        }
        self.evs = [
            {
                "arrival": ev[L.EV_ARRIVAL, e],
                "departure": ev[L.EV_DEPARTURE, e],
                "station": int(ev[L.EV_STATION, e]),
                "battery_kwh": float(ev[L.EV_BATTERY_KWH, e]),
                "soc_arrival": float(ev[L.EV_SOC_ARRIVAL, e]),
                "soc_target": float(ev[L.EV_SOC_TARGET, e]),
                "ac_kw": float(ev[L.EV_MAX_AC_KW, e]),
                "dc_kw": float(ev[L.EV_MAX_DC_KW, e]),
                "v2g_kw": float(ev[L.EV_MAX_V2G_KW, e]),
                "tariff": float(ev[L.EV_TARIFF, e]),
                "connector": int(ev[L.EV_CONNECTOR, e]),
            }
            for e in range(ev.shape[1])
        ]
        self.weights = {name: float(reward_weights[i]) for i, name in enumerate(L.KPI_NAMES)}
        self.n_conn = len(self.conn_charger)
        self.n_st = len(self.stations)

    # --- state ------------------------------------------------------------------------------

    def reset(self):
        """Starts an episode; returns ``(obs, kpi)``."""
        self.slots = [None] * self.n_conn
        self.last_power = [0.0] * self.n_conn
        self.bess_soc = [st["soc_init"] for st in self.stations]
        self.tick = 0
        self.next_ev = 0
        kpi = dict.fromkeys(L.KPI_NAMES, 0.0)
        self._arrivals(kpi)
        self.kpi_total = dict(kpi)
        return self.observation(), kpi

    def packed_conn(self):
        """The connectors as an ``(N_CONN_FIELDS, C)`` list of lists (``conn`` layout)."""
        rows = [[0.0] * self.n_conn for _ in range(L.N_CONN_FIELDS)]
        for c, slot in enumerate(self.slots):
            rows[L.CN_POWER_KW][c] = self.last_power[c] if slot is not None else 0.0
            if slot is None:
                rows[L.CN_EV][c] = -1.0
                continue
            for field, key in (
                (L.CN_OCCUPIED, None), (L.CN_EV, "ev"), (L.CN_SOC, "soc"),
                (L.CN_BATTERY_KWH, "battery_kwh"), (L.CN_SOC_TARGET, "soc_target"),
                (L.CN_DEPARTURE, "departure"), (L.CN_MAX_KW, "max_kw"),
                (L.CN_MAX_V2G_KW, "v2g_kw"), (L.CN_REQUESTED_KWH, "requested_kwh"),
                (L.CN_DELIVERED_KWH, "delivered_kwh"), (L.CN_TARIFF, "tariff"),
            ):  # fmt: skip
                rows[field][c] = 1.0 if key is None else float(slot[key])
        return rows

    def _plug(self, e, c):
        ev = self.evs[e]
        charger = self.chargers[self.conn_charger[c]]
        ev_kw = ev["dc_kw"] if charger["dc"] else ev["ac_kw"]
        self.slots[c] = {
            "ev": e,
            "soc": ev["soc_arrival"],
            "battery_kwh": ev["battery_kwh"],
            "soc_target": ev["soc_target"],
            "departure": ev["departure"],
            "max_kw": min(ev_kw, charger["max_kw"]),
            "v2g_kw": min(ev["v2g_kw"], charger["max_kw"]) if charger["v2g"] else 0.0,
            "requested_kwh": max(ev["soc_target"] - ev["soc_arrival"], 0.0) * ev["battery_kwh"],
            "delivered_kwh": 0.0,
            "tariff": ev["tariff"],
        }

    def _arrivals(self, kpi):
        """Plugs in every EV arriving by now: into the connector it asks for if that is free,
        else into the first free connector of its station (of any station for station -1);
        rejected if there is none."""
        while self.next_ev < len(self.evs) and self.evs[self.next_ev]["arrival"] <= self.tick:
            e = self.next_ev
            self.next_ev += 1
            kpi["arrivals"] += 1
            wanted, station = self.evs[e]["connector"], self.evs[e]["station"]
            free = [
                c
                for c in range(self.n_conn)
                if self.slots[c] is None and station in (-1, self.conn_station[c])
            ]
            if wanted >= 0 and self.slots[wanted] is None:
                free = [wanted]
            if not free:
                kpi["rejected_arrivals"] += 1
                continue
            self.last_power[free[0]] = 0.0
            self._plug(e, free[0])

    # --- limits -----------------------------------------------------------------------------

    def connector_range_kw(self, c):
        slot = self.slots[c]
        if slot is None:
            return 0.0, 0.0
        return power_range_kw(
            slot["soc"], slot["battery_kwh"], slot["soc_target"], slot["max_kw"], slot["v2g_kw"],
            self.chargers[self.conn_charger[c]]["eff"], self.transition_soc, self.v2g_soc_min,
            self.dt_h,
        )  # fmt: skip

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

        def clip(a):
            return min(max(a, -1.0), 1.0)

        requested = [
            clip(action[c]) * self.chargers[self.conn_charger[c]]["max_kw"]
            for c in range(self.n_conn)
        ]
        ranges = [self.connector_range_kw(c) for c in range(self.n_conn)]
        bess_requested = [
            clip(action[self.n_conn + s]) * st["bess_kw"] if self.bess_action else 0.0
            for s, st in enumerate(self.stations)
        ]
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
        power, bess_power, net, overload_kw = project(
            requested, [r[0] for r in ranges], [r[1] for r in ranges], self.conn_charger,
            [ch["max_kw"] for ch in self.chargers], [ch["station"] for ch in self.chargers],
            bess_requested, [r[0] for r in bess_ranges], [r[1] for r in bess_ranges],
            [st["grid_kw"] for st in self.stations], household_kw, self.feeder_kw, self.soft,
        )  # fmt: skip

        demand = [max(n, 0.0) * dt for n in net]
        exported = [max(-n, 0.0) * dt for n in net]
        market = clear(
            household_kw * dt, demand, fill, storage,
            self.exo["renewable_kw"][t] * dt + sum(exported), self.household_bid, self.uniform,
        )  # fmt: skip
        station_external = [demand[s] - market["station_own_kwh"][s] for s in range(self.n_st)]
        external = household_kw * dt - market["household_own_kwh"] + sum(station_external)
        kpi["household_kwh"] = household_kw * dt
        kpi["renewable_kwh"] = self.exo["renewable_kw"][t] * dt
        kpi["external_energy_kwh"] = external
        kpi["own_energy_used_kwh"] = market["household_own_kwh"] + sum(market["station_own_kwh"])
        kpi["import_kw"] = external / dt
        kpi["export_kwh" if self.export else "curtailed_kwh"] = max(market["surplus_kwh"], 0.0)
        kpi["clearing_price_eur_per_kwh"] = market["clearing_price"]
        kpi["household_payment_eur"] = market["household_payment_eur"]
        kpi["station_payment_eur"] = sum(market["station_payment_eur"])
        kpi["energy_cost_eur"] = external * self.exo["price"][t]
        kpi["export_revenue_eur"] = kpi["export_kwh"] * self.exo["feed_in"][t]
        kpi["overload_kwh"] = overload_kw * dt
        kpi["overload_penalty_eur"] = overload_kw * dt * self.overload_penalty
        station_out = {
            "net_kw": net,
            "own_kwh": market["station_own_kwh"],
            "external_kwh": station_external,
            "payment_eur": market["station_payment_eur"],
            "bid": [1.0 - f for f in fill],
            "bess_kw": bess_power,
        }

        for c, slot in enumerate(self.slots):
            self.last_power[c] = power[c]
            if slot is None:
                continue
            p = power[c]
            delta, losses = battery_change_kwh(p, self.chargers[self.conn_charger[c]]["eff"], dt)
            slot["soc"] = min(max(slot["soc"] + delta / slot["battery_kwh"], 0.0), 1.0)
            slot["delivered_kwh"] += delta
            kpi["ev_energy_kwh"] += delta
            kpi["ev_losses_kwh"] += losses
            if p > 0:
                kpi["ev_charge_grid_kwh"] += p * dt
            else:
                kpi["ev_discharge_grid_kwh"] -= p * dt
            kpi["revenue_eur"] += p * dt * slot["tariff"]
        for s, st in enumerate(self.stations):
            if st["bess_kwh"] <= 0.0:
                continue
            p = bess_power[s]
            delta, losses = battery_change_kwh(p, st["eff"], dt)
            self.bess_soc[s] = min(max(self.bess_soc[s] + delta / st["bess_kwh"], 0.0), 1.0)
            kpi["bess_losses_kwh"] += losses
            if p > 0:
                kpi["bess_charge_grid_kwh"] += p * dt
            else:
                kpi["bess_discharge_grid_kwh"] -= p * dt

        self.tick += 1
        end = self.tick >= self.n_ticks
        for c, slot in enumerate(self.slots):
            if slot is not None and (slot["departure"] <= self.tick or end):
                kpi["departures"] += 1
                kpi["requested_kwh"] += slot["requested_kwh"]
                kpi["delivered_kwh"] += slot["delivered_kwh"]
                kpi["unmet_energy_kwh"] += max(slot["requested_kwh"] - slot["delivered_kwh"], 0)
                self.slots[c] = None
        kpi["unmet_penalty_eur"] = kpi["unmet_energy_kwh"] * self.unmet_penalty
        if not end:
            self._arrivals(kpi)

        reward = sum(self.weights[name] * kpi[name] for name in L.KPI_NAMES)
        maxima = {L.KPI_NAMES[i] for i in L.KPI_EPISODE_MAX}
        for name in L.KPI_NAMES:
            if name in maxima:
                self.kpi_total[name] = max(self.kpi_total[name], kpi[name])
            else:
                self.kpi_total[name] += kpi[name]
        return 0, reward, kpi, station_out, self.observation()

    def observation(self):
        """Observation at the current tick (layout: ``core.tick.write_observation``)."""
        t = self.tick
        occupied, soc, needed, to_go, max_kw = [], [], [], [], []
        headroom = [st["grid_kw"] - self.bess_range_kw(s)[0] for s, st in enumerate(self.stations)]
        for c, slot in enumerate(self.slots):
            high = self.connector_range_kw(c)[1]
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
        return (
            occupied + soc + needed + to_go + max_kw + list(self.bess_soc) + headroom
            + [math.sin(angle), math.cos(angle)]
            + [self.exo["price"][i] for i in ahead]
            + [self.exo["renewable_kw"][i] for i in ahead]
            + [self.exo["household_kw"][t]]
        )  # fmt: skip


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
):
    """A random scenario as a dict of the arrays ``core.tick.reset/step`` take.

    ``scarce=True`` makes station grids and the feeder tight and renewables small, so the
    projection and the market both bind.
    """
    charger_station, charger_rows, conn_charger = [], [], []
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
                ]
            )
            conn_charger += [k] * int(rng.integers(1, 4))
    charger_f = np.array(charger_rows).T.copy()
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

    n_exo = n_ticks + forecast_ticks + 1
    exo = np.zeros((L.N_EXO_FIELDS, n_exo))
    exo[L.EXO_RENEWABLE_KW] = rng.uniform(0.0, 0.3 if scarce else 1.5, n_exo) * total_rated
    exo[L.EXO_RENEWABLE_KW, rng.random(n_exo) < 0.2] = 0.0
    exo[L.EXO_HOUSEHOLD_KW] = rng.uniform(0.0, household_peak, n_exo)
    exo[L.EXO_PRICE] = rng.uniform(0.0, 1.0, n_exo)
    exo[L.EXO_FEED_IN] = rng.uniform(0.0, 0.1, n_exo)

    if n_evs is None:
        n_evs = int(rng.integers(0, 4 * len(conn_charger) + 1))
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
    conn_station = np.array(charger_station)[conn_charger]
    ev[L.EV_CONNECTOR] = np.where(
        rng.random(n_evs) < 0.2, rng.integers(0, len(conn_charger), n_evs), -1
    )
    asks = ev[L.EV_CONNECTOR] >= 0
    ev[L.EV_STATION, asks] = conn_station[ev[L.EV_CONNECTOR, asks].astype(int)]
    ev[L.EV_STATION, rng.random(n_evs) < 0.1] = -1

    weights = np.zeros(L.N_KPI)
    for name, w in (
        ("revenue_eur", 1.0),
        ("energy_cost_eur", -1.0),
        ("export_revenue_eur", 1.0),
        ("unmet_penalty_eur", -1.0),
        ("overload_penalty_eur", -1.0),
    ):
        weights[L.KPI[name]] = w
    return {
        "cfg": cfg,
        "conn_charger": np.array(conn_charger, dtype=np.int64),
        "charger_f": charger_f,
        "charger_station": np.array(charger_station, dtype=np.int64),
        "station_f": station_f,
        "exo": exo,
        "ev": ev,
        "reward_weights": weights,
    }


class CoreSim:
    """Holds the state arrays of one env and calls ``core.tick.reset/step`` on them."""

    def __init__(self, scenario):
        self.sc = scenario
        n_conn = scenario["conn_charger"].shape[0]
        n_st = scenario["station_f"].shape[1]
        self.n_actions = n_conn + n_st * int(scenario["cfg"][L.CFG_BESS_ACTION] > 0)
        self.conn = np.zeros((L.N_CONN_FIELDS, n_conn))
        self.bess_soc = np.zeros(n_st)
        self.clock = np.zeros(L.N_CLOCK, dtype=np.int64)
        self.kpi = np.zeros(L.N_KPI)
        self.kpi_total = np.zeros(L.N_KPI)
        self.station_out = np.zeros((L.N_STATION_OUT, n_st))
        size = core_tick.observation_size(n_conn, n_st, int(scenario["cfg"][L.CFG_FORECAST_TICKS]))
        self.obs = np.zeros(size, dtype=np.float32)
        n_chargers = scenario["charger_f"].shape[1]
        self.work = np.full(core_tick.workspace_size(n_conn, n_chargers, n_st), np.nan)

    def reset(self):
        sc = self.sc
        core_tick.reset(
            sc["cfg"], sc["conn_charger"], sc["charger_f"], sc["charger_station"],
            sc["station_f"], sc["exo"], sc["ev"], self.conn, self.bess_soc, self.clock,
            self.kpi, self.kpi_total, self.station_out, self.obs, self.work,
        )  # fmt: skip

    def step(self, action):
        sc = self.sc
        return core_tick.step(
            sc["cfg"], sc["conn_charger"], sc["charger_f"], sc["charger_station"],
            sc["station_f"], sc["exo"], sc["ev"], sc["reward_weights"], self.conn,
            self.bess_soc, self.clock, self.kpi, self.kpi_total, self.station_out,
            np.asarray(action, dtype=np.float64), self.obs, self.work,
        )  # fmt: skip

    @property
    def done(self):
        return self.clock[L.CLK_TICK] >= self.sc["cfg"][L.CFG_N_TICKS]
