"""Charging reservations by contract net (seed 000; the README's "The simulated world, one
tick", step 2).

An EV broadcasts a request ahead of its arrival (``EV_REQUEST`` tick): the energy it needs
(kWh to its target soc), the highest price it accepts, its planned arrival and departure and
its origin. Every station whose link is up this tick answers with an offer
(:func:`station_offers`):

- the connector it would hold: one free over the whole window [planned arrival, departure)
  (no plugged EV and no confirmed reservation overlaps it) on a charger that is up now; the
  one with the highest power ``min(EV limit for the charger's kind, charger kW)``, the
  lowest index on ties; none free = no offer;
- the energy it can deliver by departure: ``min(need, min(power, headroom) * window h *
  charger efficiency)``, where the headroom is the station's grid capacity plus its BESS
  power minus the average power its committed connectors (plugged or reserved, at their
  rated power) take over the window. The CC-CV taper is left out: the offer is the
  constant-power bound of the battery model (:mod:`evgrid_gym.core.battery`);
- the price of its pricing rule: ``ST_RESERVATION_PRICE + CFG_UTILISATION_MARKUP * u``,
  rising with the station's utilisation ``u`` over the window (committed connector-ticks /
  (connectors x window ticks)); a markup of 0 gives a fixed price.

The EV scores the acceptable offers (price <= its maximum, energy >= ``CFG_MIN_ENERGY_FRACTION``
of its need) as ``energy_weight * kWh - price_weight * EUR/kWh - distance_weight * km``
(:func:`choose_offer`) and confirms the best; no acceptable offer = rejected. A station whose
link is down misses the deadline (no offer, one ``missed_deadlines``); when no station
answers, the request is retried every tick until the planned arrival, then rejected.

A confirmed reservation holds its connector from the planned arrival to departure; the EV,
arriving at most ``CFG_GRACE_TICKS`` late, plugs in there and pays the agreed price. Later,
it is released as a no-show. When the reserved connector's charger goes down before the EV
arrives, the request is offered again (re-offered); no acceptable offer cancels it. Every
reservation ends served, expired (no-show) or cancelled; every request confirmed or rejected.

Order within a tick (:func:`reservation_phase`): first the no-shows past their grace period
release their connectors, then reservations on failed chargers are re-offered (existing
reservations come before new requests), then new and pending requests are auctioned in the
order of the EV table.
"""

import math

from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    CFG_DISTANCE_WEIGHT,
    CFG_DT_H,
    CFG_ENERGY_WEIGHT,
    CFG_GRACE_TICKS,
    CFG_MIN_ENERGY_FRACTION,
    CFG_PRICE_WEIGHT,
    CFG_UTILISATION_MARKUP,
    CH_EFFICIENCY,
    CH_IS_DC,
    CH_MAX_KW,
    CLK_NEXT_EV,
    CN_DEPARTURE,
    CN_OCCUPIED,
    EV_BATTERY_KWH,
    EV_DEPARTURE,
    EV_MAX_AC_KW,
    EV_MAX_DC_KW,
    EV_MAX_PRICE,
    EV_PLANNED_ARRIVAL,
    EV_REQUEST,
    EV_SOC_ARRIVAL,
    EV_SOC_TARGET,
    EV_X_KM,
    EV_Y_KM,
    KPI_CANCELLED,
    KPI_CONFIRMED,
    KPI_MISSED_DEADLINES,
    KPI_NO_SHOWS,
    KPI_REQUESTS,
    KPI_RES_REJECTED,
    RES_CANCELLED,
    RES_CONFIRMED,
    RES_EXPIRED,
    RES_NONE,
    RES_PENDING,
    RES_REJECTED,
    RS_CONNECTOR,
    RS_ENERGY_KWH,
    RS_PRICE,
    RS_STATUS,
    ST_BESS_KW,
    ST_GRID_KW,
    ST_RESERVATION_PRICE,
    ST_X_KM,
    ST_Y_KM,
)

# --- offer: one offer per station, shape (N_OFFER_FIELDS, S) --------------------------------
OF_REACHABLE = 0  # 1.0: the station's link is up and it answered
OF_CONNECTOR = 1  # the connector it would hold, -1 = none free
OF_ENERGY_KWH = 2  # energy deliverable by departure, kWh
OF_PRICE = 3  # EUR/kWh
OF_DISTANCE_KM = 4  # from the EV's origin
OF_UTILISATION = 5  # committed share of the station's connector-ticks over the window
OF_POWER_KW = 6  # power of the offered connector, kW
OF_CONNECTORS = 7  # connectors of the station
OF_COMMITTED_KW = 8  # average power of its committed connectors over the window, kW
N_OFFER_FIELDS = 9


@kernel
def _overlap(start_a, end_a, start_b, end_b):
    """Length of the overlap of [start_a, end_a) and [start_b, end_b), ticks."""
    return max(min(end_a, end_b) - max(start_a, start_b), 0.0)


@kernel
def busy_ticks(ev, conn, res, first_ev, skip_ev, start, end, tick, busy):
    """Ticks of [start, end) during which each connector is committed, into ``busy`` (C,).

    Committed: its plugged EV (until its departure) and every confirmed reservation on it
    (planned arrival to departure) of EVs ``first_ev..`` other than ``skip_ev``. A connector
    is free over the window when its entry is 0.
    """
    for c in range(conn.shape[1]):
        busy[c] = 0.0
        if conn[CN_OCCUPIED, c] > 0.0:
            busy[c] = _overlap(tick, conn[CN_DEPARTURE, c], start, end)
    for e in range(first_ev, ev.shape[1]):
        if e != skip_ev and res[RS_STATUS, e] == RES_CONFIRMED:
            busy[int(res[RS_CONNECTOR, e])] += _overlap(
                ev[EV_PLANNED_ARRIVAL, e], ev[EV_DEPARTURE, e], start, end
            )


@kernel
def energy_needed_kwh(ev, e):
    """Battery energy EV ``e`` needs to reach its target soc, kWh."""
    return max(ev[EV_SOC_TARGET, e] - ev[EV_SOC_ARRIVAL, e], 0.0) * ev[EV_BATTERY_KWH, e]


@kernel
def station_offers(static, episode, state, first_ev, e, tick, busy, offer):
    """Every station's offer to EV ``e``'s request at ``tick`` (rules in the module doc).

    Args:
        static, episode, state: :mod:`evgrid_gym.core.state` groups; chargers down now
            (``episode.outage``) are not offered, stations whose link is down do not answer.
        first_ev: EVs before it have arrived (their reservations are settled).
        busy: float64 scratch, shape (C,).
        offer: output, shape (N_OFFER_FIELDS, S).
    """
    cfg, connector_charger, charger_f = static.cfg, static.connector_charger, static.charger_f
    charger_station, station_f = static.charger_station, static.station_f
    ev, outage, conn = episode.ev, episode.outage, state.conn
    n_ch = charger_f.shape[1]
    start = ev[EV_PLANNED_ARRIVAL, e]
    end = ev[EV_DEPARTURE, e]
    window = max(end - start, 1.0)
    busy_ticks(episode.ev, state.conn, state.res, first_ev, e, start, end, tick, busy)
    offer[:, :] = 0.0
    offer[OF_CONNECTOR, :] = -1.0
    for c in range(conn.shape[1]):
        k = connector_charger[c]
        s = charger_station[k]
        offer[OF_CONNECTORS, s] += 1.0
        offer[OF_UTILISATION, s] += busy[c]
        offer[OF_COMMITTED_KW, s] += busy[c] * charger_f[CH_MAX_KW, k]
        if busy[c] > 0.0 or outage[tick, k] > 0.0:
            continue
        ev_kw = ev[EV_MAX_DC_KW, e] if charger_f[CH_IS_DC, k] > 0.0 else ev[EV_MAX_AC_KW, e]
        power_kw = min(ev_kw, charger_f[CH_MAX_KW, k])
        if power_kw > offer[OF_POWER_KW, s]:
            offer[OF_POWER_KW, s] = power_kw
            offer[OF_CONNECTOR, s] = c
    need_kwh = energy_needed_kwh(ev, e)
    window_h = window * cfg[CFG_DT_H]
    for s in range(station_f.shape[1]):
        offer[OF_REACHABLE, s] = outage[tick, n_ch + s] == 0.0
        offer[OF_UTILISATION, s] /= offer[OF_CONNECTORS, s] * window
        offer[OF_COMMITTED_KW, s] /= window
        offer[OF_PRICE, s] = (
            station_f[ST_RESERVATION_PRICE, s]
            + cfg[CFG_UTILISATION_MARKUP] * offer[OF_UTILISATION, s]
        )
        offer[OF_DISTANCE_KM, s] = math.hypot(
            ev[EV_X_KM, e] - station_f[ST_X_KM, s], ev[EV_Y_KM, e] - station_f[ST_Y_KM, s]
        )
        c = int(offer[OF_CONNECTOR, s])
        if c >= 0:
            headroom_kw = max(
                station_f[ST_GRID_KW, s] + station_f[ST_BESS_KW, s] - offer[OF_COMMITTED_KW, s],
                0.0,
            )
            offer[OF_ENERGY_KWH, s] = min(
                need_kwh,
                min(offer[OF_POWER_KW, s], headroom_kw)
                * window_h
                * charger_f[CH_EFFICIENCY, connector_charger[c]],
            )


@kernel
def choose_offer(cfg, offer, need_kwh, max_price):
    """The station whose offer the EV confirms, -1 if none is acceptable.

    Acceptable: reachable, a connector offered, price <= ``max_price`` (EUR/kWh) and energy
    >= ``CFG_MIN_ENERGY_FRACTION * need_kwh``. Among those the highest score
    ``CFG_ENERGY_WEIGHT * kWh - CFG_PRICE_WEIGHT * price - CFG_DISTANCE_WEIGHT * km`` wins,
    the lowest station index on ties.
    """
    best = -1
    best_score = -math.inf
    for s in range(offer.shape[1]):
        if (
            offer[OF_REACHABLE, s] == 0.0
            or offer[OF_CONNECTOR, s] < 0.0
            or offer[OF_PRICE, s] > max_price
            or offer[OF_ENERGY_KWH, s] < cfg[CFG_MIN_ENERGY_FRACTION] * need_kwh
        ):
            continue
        score = (
            cfg[CFG_ENERGY_WEIGHT] * offer[OF_ENERGY_KWH, s]
            - cfg[CFG_PRICE_WEIGHT] * offer[OF_PRICE, s]
            - cfg[CFG_DISTANCE_WEIGHT] * offer[OF_DISTANCE_KM, s]
        )
        if score > best_score:
            best, best_score = s, score
    return best


@kernel
def _auction(static, episode, state, first_ev, e, tick, busy, offer, kpi):
    """One round of EV ``e``'s request: ``(stations that answered, chosen station or -1)``;
    the chosen offer is written into ``state.res[:, e]`` (its status is left to the caller)."""
    ev, res = episode.ev, state.res
    station_offers(static, episode, state, first_ev, e, tick, busy, offer)
    n_answered = 0
    for s in range(offer.shape[1]):
        if offer[OF_REACHABLE, s] > 0.0:
            n_answered += 1
        else:
            kpi[KPI_MISSED_DEADLINES] += 1.0
    s = choose_offer(static.cfg, offer, energy_needed_kwh(ev, e), ev[EV_MAX_PRICE, e])
    if s >= 0:
        res[RS_CONNECTOR, e] = offer[OF_CONNECTOR, s]
        res[RS_PRICE, e] = offer[OF_PRICE, s]
        res[RS_ENERGY_KWH, e] = offer[OF_ENERGY_KWH, s]
    return n_answered, s


@kernel
def reservation_phase(static, episode, state, tick, busy, offer, kpi):
    """The reservation step of ``tick``, before its arrivals: new and retried requests,
    re-offers of reservations whose charger is down, and no-shows past the grace period.

    Args:
        static, episode, state: :mod:`evgrid_gym.core.state` groups (the EVs before
            ``state.clock[CLK_NEXT_EV]`` have arrived).
        busy, offer: float64 scratch, shapes (C,) and (N_OFFER_FIELDS, S).
        kpi: this tick's KPIs, updated.
    """
    cfg, ev, res, outage = static.cfg, episode.ev, state.res, episode.outage
    connector_charger = static.connector_charger
    first_ev = state.clock[CLK_NEXT_EV]
    n_ev = ev.shape[1]
    for e in range(first_ev, n_ev):
        if (
            res[RS_STATUS, e] == RES_CONFIRMED
            and tick > ev[EV_PLANNED_ARRIVAL, e] + cfg[CFG_GRACE_TICKS]
        ):
            res[RS_STATUS, e] = RES_EXPIRED
            res[RS_CONNECTOR, e] = -1.0
            kpi[KPI_NO_SHOWS] += 1.0
    for e in range(first_ev, n_ev):
        if (
            res[RS_STATUS, e] == RES_CONFIRMED
            and outage[tick, connector_charger[int(res[RS_CONNECTOR, e])]] > 0.0
        ):
            _, s = _auction(static, episode, state, first_ev, e, tick, busy, offer, kpi)
            if s < 0:
                res[RS_STATUS, e] = RES_CANCELLED
                res[RS_CONNECTOR, e] = -1.0
                kpi[KPI_CANCELLED] += 1.0
    for e in range(first_ev, n_ev):
        status = res[RS_STATUS, e]
        if (status == RES_NONE or status == RES_PENDING) and ev[EV_REQUEST, e] <= tick:
            if status == RES_NONE:
                kpi[KPI_REQUESTS] += 1.0
            n_answered, s = _auction(static, episode, state, first_ev, e, tick, busy, offer, kpi)
            if s >= 0:
                res[RS_STATUS, e] = RES_CONFIRMED
                kpi[KPI_CONFIRMED] += 1.0
            elif n_answered > 0 or tick >= ev[EV_PLANNED_ARRIVAL, e]:
                res[RS_STATUS, e] = RES_REJECTED
                kpi[KPI_RES_REJECTED] += 1.0
            else:
                res[RS_STATUS, e] = RES_PENDING


@kernel
def close_reservations(episode, state, kpi):
    """Episode end: open reservations expire as no-shows, pending requests are rejected."""
    ev, res = episode.ev, state.res
    for e in range(state.clock[CLK_NEXT_EV], ev.shape[1]):
        if res[RS_STATUS, e] == RES_CONFIRMED:
            res[RS_STATUS, e] = RES_EXPIRED
            res[RS_CONNECTOR, e] = -1.0
            kpi[KPI_NO_SHOWS] += 1.0
        elif res[RS_STATUS, e] == RES_PENDING:
            res[RS_STATUS, e] = RES_REJECTED
            kpi[KPI_RES_REJECTED] += 1.0
