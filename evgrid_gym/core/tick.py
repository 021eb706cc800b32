"""The one-tick transition of the simulation and the observation it leaves.

``step`` runs DESIGN.md "One tick, in order" for one env: requested powers from the action,
projection onto the limits, market clearing, battery update and accounting, departures, the
next tick's arrivals, reward and observation. ``reset`` starts an episode. Both are pure
functions of the packed arrays described in :mod:`evgrid_gym.core.layout`; they mutate only the
state and output arrays they are given, and a work space (:func:`workspace_size`) from which
they take their temporaries, so a tick allocates nothing.

Reservations (step 2) are :mod:`evgrid_gym.core.reservation`'s. Faults (step 8) come as an
``outage`` timeline of the episode (``core.layout``, drawn with the other inputs), so a tick
never waits on a failed part and a later tick simply finds it up again:

- a charger down: its connectors deliver nothing (their EVs stay plugged in); the battery
  energy they could have taken is kept per connector, and at departure the EV's unmet energy,
  up to that amount, is booked as ``outage_unmet_kwh``; reservations on it are re-offered;
- a station link down: its setpoints, market bids and reservation offers miss the deadline
  (one ``missed_deadlines`` per station and tick, and per request it cannot answer). The
  station runs on its safe fallback, like an OCPP charge point on its default charging
  profile when the central system is unreachable: every connector is asked for
  ``CH_FALLBACK_KW`` (the station's grid capacity shared equally by its connectors, at most
  the charger's power shared equally by its connectors, so neither limit ever binds), which
  its EV takes up to its CC-CV limit; no V2G; the BESS idles. The feeder's curtailment
  cannot reach the station either: its consumption counts like the households' at the
  feeder (``projection.project_power``). Its demand is bought from the external supplier
  (its bid never reached the market);
- turbines down: the share of wind capacity down is lost (``wind_outage_kwh``).
"""

import math

import numpy as np

from evgrid_gym.core import market, projection
from evgrid_gym.core.battery import battery_energy_kwh, pilot_charge_energy_kwh, power_limits_kw
from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    CFG_ACN_PILOT,
    CFG_BESS_ACTION,
    CFG_DT_H,
    CFG_EXPORT,
    CFG_FEEDER_KW,
    CFG_FORECAST_TICKS,
    CFG_HOUSEHOLD_BID,
    CFG_N_TICKS,
    CFG_OUTAGE_OBSERVATION,
    CFG_OVERLOAD_PENALTY,
    CFG_RESERVATION,
    CFG_RESERVATION_HOURS,
    CFG_SOFT_LIMITS,
    CFG_TICKS_PER_DAY,
    CFG_TRANSITION_SOC,
    CFG_UNIFORM_PRICE,
    CFG_UNMET_PENALTY,
    CFG_V2G_SOC_MIN,
    CH_EFFICIENCY,
    CH_FALLBACK_KW,
    CH_IS_DC,
    CH_MAX_KW,
    CH_V2G,
    CLK_NEXT_EV,
    CLK_TICK,
    CN_BATTERY_KWH,
    CN_DELIVERED_KWH,
    CN_DEPARTURE,
    CN_EV,
    CN_MAX_KW,
    CN_MAX_V2G_KW,
    CN_OCCUPIED,
    CN_OUTAGE_KWH,
    CN_POWER_KW,
    CN_REQUESTED_KWH,
    CN_SOC,
    CN_SOC_TARGET,
    CN_TARIFF,
    EV_ARRIVAL,
    EV_BATTERY_KWH,
    EV_CONNECTOR,
    EV_DEPARTURE,
    EV_MAX_AC_KW,
    EV_MAX_DC_KW,
    EV_MAX_V2G_KW,
    EV_PLANNED_ARRIVAL,
    EV_SOC_ARRIVAL,
    EV_SOC_TARGET,
    EV_STATION,
    EV_TARIFF,
    EXO_FEED_IN,
    EXO_HOUSEHOLD_KW,
    EXO_PRICE,
    EXO_RENEWABLE_KW,
    EXO_STORAGE_VALUE,
    EXO_WIND_KW,
    KPI_ARRIVALS,
    KPI_BESS_CHARGE,
    KPI_BESS_DISCHARGE,
    KPI_BESS_LOSSES,
    KPI_CANCELLED,
    KPI_CLEARING_PRICE,
    KPI_CURTAILED,
    KPI_DELIVERED,
    KPI_DEPARTURES,
    KPI_ENERGY_COST,
    KPI_EPISODE_MAX,
    KPI_EV_CHARGE,
    KPI_EV_DISCHARGE,
    KPI_EV_ENERGY,
    KPI_EV_LOSSES,
    KPI_EXPORT,
    KPI_EXPORT_REVENUE,
    KPI_EXTERNAL,
    KPI_HOUSEHOLD,
    KPI_HOUSEHOLD_PAYMENT,
    KPI_IMPORT_KW,
    KPI_MISSED_DEADLINES,
    KPI_OUTAGE_UNMET,
    KPI_OVERLOAD,
    KPI_OVERLOAD_PENALTY,
    KPI_OWN_USED,
    KPI_REJECTED,
    KPI_RENEWABLE,
    KPI_REQUESTED,
    KPI_REVENUE,
    KPI_SERVED,
    KPI_STATION_PAYMENT,
    KPI_STORAGE_VALUE,
    KPI_UNMET,
    KPI_UNMET_PENALTY,
    KPI_WIND_OUTAGE,
    N_KPI,
    RES_CANCELLED,
    RES_CONFIRMED,
    RES_SERVED,
    RS_CONNECTOR,
    RS_PRICE,
    RS_STATUS,
    SO_BESS_KW,
    SO_BID_EUR_PER_KWH,
    SO_EXTERNAL_KWH,
    SO_MARKET_PAYMENT_EUR,
    SO_NET_KW,
    SO_OWN_KWH,
    ST_BESS_EFFICIENCY,
    ST_BESS_KW,
    ST_BESS_KWH,
    ST_BESS_SOC_INIT,
    ST_BESS_SOC_MAX,
    ST_BESS_SOC_MIN,
    ST_GRID_KW,
)
from evgrid_gym.core.market import clear_market
from evgrid_gym.core.projection import project_power
from evgrid_gym.core.reservation import (
    N_OFFER_FIELDS,
    busy_ticks,
    close_reservations,
    energy_needed_kwh,
    reservation_phase,
)

STATUS_OK = 0
STATUS_BAD_ACTION = 1  # an action entry is NaN or infinite; nothing was changed


def observation_size(
    n_connectors, n_stations, forecast_ticks, reservation_hours=0, n_outage_rows=0
):
    """Length of the observation vector (see :func:`write_observation` for its layout).

    ``reservation_hours``: ``CFG_RESERVATION_HOURS``; ``n_outage_rows``: K + S + 1 when the
    observation shows the components down (``CFG_OUTAGE_OBSERVATION``), else 0.
    """
    return (
        5 * n_connectors + 2 * n_stations + 2 + 2 * (forecast_ticks + 1) + 1
        + n_stations * reservation_hours + n_outage_rows
    )  # fmt: skip


def workspace_size(n_connectors, n_chargers, n_stations):
    """Length of the float64 work space ``work`` of :func:`reset` and :func:`step`.

    One per env: ``step`` carves its per-tick arrays from it, so it allocates nothing.
    """
    scratch = max(
        projection.scratch_size(n_chargers, n_stations),
        market.scratch_size(n_stations),
        n_stations,  # write_observation
        n_connectors + N_OFFER_FIELDS * n_stations,  # reservations and arrivals
    )
    return 3 * n_connectors + 8 * n_stations + scratch


@kernel
def _connector_limits_kw(cfg, conn_charger, charger_f, conn, c):
    """``(low_kw, high_kw)``: average grid power the connector's EV can take this tick."""
    if conn[CN_OCCUPIED, c] == 0.0:
        return 0.0, 0.0
    return power_limits_kw(
        conn[CN_SOC, c],
        conn[CN_BATTERY_KWH, c],
        conn[CN_SOC_TARGET, c],
        conn[CN_MAX_KW, c],
        conn[CN_MAX_V2G_KW, c],
        charger_f[CH_EFFICIENCY, conn_charger[c]],
        cfg[CFG_TRANSITION_SOC],
        cfg[CFG_V2G_SOC_MIN],
        cfg[CFG_DT_H],
    )


@kernel
def _pilot_power_kw(cfg, conn_charger, charger_f, conn, c, pilot_kw):
    """Average grid power the EV of connector ``c`` draws over the tick under the charging
    pilot ``pilot_kw`` (``CFG_ACN_PILOT``): the pilot held until the CC-CV curve binds, up to
    its target (:func:`~evgrid_gym.core.battery.pilot_charge_energy_kwh`). The projection
    then works on these draws: a pilot it cuts is one the EV draws less under."""
    if pilot_kw <= 0.0 or conn[CN_OCCUPIED, c] == 0.0:
        return pilot_kw
    efficiency = charger_f[CH_EFFICIENCY, conn_charger[c]]
    dt_h = cfg[CFG_DT_H]
    gain_kwh = pilot_charge_energy_kwh(
        conn[CN_SOC, c], conn[CN_BATTERY_KWH, c], pilot_kw, conn[CN_MAX_KW, c], efficiency,
        cfg[CFG_TRANSITION_SOC], dt_h,
    )  # fmt: skip
    to_target_kwh = max(conn[CN_SOC_TARGET, c] - conn[CN_SOC, c], 0.0) * conn[CN_BATTERY_KWH, c]
    return min(gain_kwh, to_target_kwh) / (efficiency * dt_h)


@kernel
def _bess_limits_kw(cfg, station_f, bess_soc, s):
    """``(low_kw, high_kw)`` of station ``s``'s BESS: constant power between its soc limits."""
    if station_f[ST_BESS_KWH, s] <= 0.0:
        return 0.0, 0.0
    return power_limits_kw(
        bess_soc[s],
        station_f[ST_BESS_KWH, s],
        station_f[ST_BESS_SOC_MAX, s],
        station_f[ST_BESS_KW, s],
        station_f[ST_BESS_KW, s],
        station_f[ST_BESS_EFFICIENCY, s],
        1.0,
        station_f[ST_BESS_SOC_MIN, s],
        cfg[CFG_DT_H],
    )


@kernel
def _depart(conn, c, kpi):
    """Unplugs the EV of connector ``c`` and books its delivered and unmet energy; the
    connector keeps the power it drew in the last tick (``CN_POWER_KW``)."""
    requested = conn[CN_REQUESTED_KWH, c]
    delivered = conn[CN_DELIVERED_KWH, c]
    unmet = max(requested - delivered, 0.0)
    kpi[KPI_DEPARTURES] += 1.0
    kpi[KPI_REQUESTED] += requested
    kpi[KPI_DELIVERED] += delivered
    kpi[KPI_UNMET] += unmet
    kpi[KPI_OUTAGE_UNMET] += min(unmet, conn[CN_OUTAGE_KWH, c])
    power_kw = conn[CN_POWER_KW, c]
    conn[:, c] = 0.0
    conn[CN_EV, c] = -1.0
    conn[CN_POWER_KW, c] = power_kw


@kernel
def _free_connector(conn_charger, charger_station, ev, outage, conn, res, first_ev, e, tick, busy):
    """The connector EV ``e`` arriving at ``tick`` gets, -1 if none is free.

    Its reserved connector (a confirmed reservation) if it is free now. Otherwise the EV is a
    walk-in and needs a connector free until its departure (no plugged EV, no confirmed
    reservation overlapping, :func:`~evgrid_gym.core.reservation.busy_ticks`) on a charger
    that is up: the one it asks for (``EV_CONNECTOR`` >= 0); else the first of its station
    (``EV_STATION`` >= 0); else, for ``EV_STATION`` = -1, the first anywhere. ``busy`` is
    float64 scratch of shape (C,).
    """
    if res[RS_STATUS, e] == RES_CONFIRMED:
        reserved = int(res[RS_CONNECTOR, e])
        if conn[CN_OCCUPIED, reserved] == 0.0:
            return reserved
    busy_ticks(ev, conn, res, first_ev, e, float(tick), ev[EV_DEPARTURE, e], tick, busy)
    wanted = int(ev[EV_CONNECTOR, e])
    station = int(ev[EV_STATION, e])
    for i in range(-1, conn.shape[1]):
        c = wanted if i < 0 else i
        if c < 0 or c >= conn.shape[1] or busy[c] > 0.0 or outage[tick, conn_charger[c]] > 0.0:
            continue
        if i < 0 or station < 0 or charger_station[conn_charger[c]] == station:
            return c
    return -1


@kernel
def _arrive(
    conn_charger, charger_f, charger_station, ev, outage, conn, res, clock, tick, kpi, busy,
    reservations,
):  # fmt: skip
    """Plugs every EV arriving by ``tick`` into a free connector (:func:`_free_connector`);
    one holding a reservation pays its agreed price. Without ``reservations`` there are no
    holds to look up."""
    n_ev = ev.shape[1]
    while clock[CLK_NEXT_EV] < n_ev and ev[EV_ARRIVAL, clock[CLK_NEXT_EV]] <= tick:
        e = clock[CLK_NEXT_EV]
        clock[CLK_NEXT_EV] += 1
        kpi[KPI_ARRIVALS] += 1.0
        slot = _free_connector(
            conn_charger, charger_station, ev, outage, conn, res,
            e + 1 if reservations else n_ev, e, tick, busy,
        )  # fmt: skip
        tariff = ev[EV_TARIFF, e]
        if res[RS_STATUS, e] == RES_CONFIRMED:
            if res[RS_CONNECTOR, e] == slot:
                res[RS_STATUS, e] = RES_SERVED
                kpi[KPI_SERVED] += 1.0
                tariff = res[RS_PRICE, e]
            else:  # came before its reserved connector was free: it is a walk-in now
                res[RS_STATUS, e] = RES_CANCELLED
                res[RS_CONNECTOR, e] = -1.0
                kpi[KPI_CANCELLED] += 1.0
        if slot < 0:
            kpi[KPI_REJECTED] += 1.0
            continue
        k = conn_charger[slot]
        ev_max_kw = ev[EV_MAX_DC_KW, e] if charger_f[CH_IS_DC, k] > 0.0 else ev[EV_MAX_AC_KW, e]
        conn[CN_OCCUPIED, slot] = 1.0
        conn[CN_EV, slot] = e
        conn[CN_SOC, slot] = ev[EV_SOC_ARRIVAL, e]
        conn[CN_BATTERY_KWH, slot] = ev[EV_BATTERY_KWH, e]
        conn[CN_SOC_TARGET, slot] = ev[EV_SOC_TARGET, e]
        conn[CN_DEPARTURE, slot] = ev[EV_DEPARTURE, e]
        conn[CN_MAX_KW, slot] = min(ev_max_kw, charger_f[CH_MAX_KW, k])
        conn[CN_MAX_V2G_KW, slot] = (
            min(ev[EV_MAX_V2G_KW, e], charger_f[CH_MAX_KW, k]) * charger_f[CH_V2G, k]
        )
        conn[CN_REQUESTED_KWH, slot] = energy_needed_kwh(ev, e)
        conn[CN_DELIVERED_KWH, slot] = 0.0
        conn[CN_TARIFF, slot] = tariff
        conn[CN_OUTAGE_KWH, slot] = 0.0


@kernel
def _begin_tick(
    cfg, conn_charger, charger_f, charger_station, station_f, ev, outage, conn, res, clock,
    tick, kpi, work,
):  # fmt: skip
    """Reservations (when on), then the arrivals of ``tick``."""
    n_conn = conn.shape[1]
    busy = work[:n_conn]
    on = cfg[CFG_RESERVATION] > 0.0
    if on:
        offer = work[n_conn : n_conn + N_OFFER_FIELDS * station_f.shape[1]]
        reservation_phase(
            cfg, conn_charger, charger_f, charger_station, station_f, ev, outage, conn, res,
            clock[CLK_NEXT_EV], tick, busy, offer.reshape((N_OFFER_FIELDS, station_f.shape[1])),
            kpi,
        )  # fmt: skip
    _arrive(
        conn_charger, charger_f, charger_station, ev, outage, conn, res, clock, tick, kpi, busy, on
    )  # fmt: skip


@kernel
def write_observation(
    cfg, conn_charger, charger_f, charger_station, station_f, exo, ev, outage, conn, res,
    bess_soc, clock, obs, scratch,
):  # fmt: skip
    """Writes the observation of the state at the start of ``tick`` into ``obs`` (float32).

    Layout, feature-major (C connectors, S stations, F forecast ticks): ``[0:C]`` occupied
    (0/1); ``[C:2C]`` soc; ``[2C:3C]`` energy still needed to the target soc, kWh; ``[3C:4C]``
    ticks to departure; ``[4C:5C]`` max average power the EV can take this tick, kW (0 while its
    charger is down); ``[5C:5C+S]`` BESS soc; ``[5C+S:5C+2S]`` station headroom, kW (grid
    capacity plus available BESS discharge, none while the station's link is down, minus the
    connectors' max power now; negative when the EVs could draw more than the station can
    supply); then sin and cos of the time of day, the external price now and for the next F
    ticks (EUR/kWh), the renewable output now and for the next F ticks (kW, before turbine
    outages), and the household load now (kW). With
    reservations, then S x H counts (H = ``CFG_RESERVATION_HOURS``, station-major): confirmed
    reservations of station s whose planned arrival is h..h+1 hours ahead (overdue ones in hour
    0). With ``CFG_OUTAGE_OBSERVATION``, then the outage timeline now: K chargers down (0/1), S
    station links down (0/1), the fraction of wind capacity down. ``scratch`` is float64 work
    space of shape (>= S,).
    """
    tick = clock[CLK_TICK]
    n_conn = conn.shape[1]
    n_ch = charger_f.shape[1]
    n_st = station_f.shape[1]
    headroom = scratch[:n_st]
    for s in range(n_st):
        low, _ = _bess_limits_kw(cfg, station_f, bess_soc, s)
        if outage[tick, n_ch + s] > 0.0:  # link down: the BESS idles this tick
            low = 0.0
        headroom[s] = station_f[ST_GRID_KW, s] - low
        obs[5 * n_conn + s] = bess_soc[s]
    for c in range(n_conn):
        _, high = _connector_limits_kw(cfg, conn_charger, charger_f, conn, c)
        if outage[tick, conn_charger[c]] > 0.0:
            high = 0.0
        obs[c] = conn[CN_OCCUPIED, c]
        obs[n_conn + c] = conn[CN_SOC, c]
        obs[2 * n_conn + c] = (
            max(conn[CN_SOC_TARGET, c] - conn[CN_SOC, c], 0.0) * conn[CN_BATTERY_KWH, c]
        )
        obs[3 * n_conn + c] = max(conn[CN_DEPARTURE, c] - tick, 0.0) * conn[CN_OCCUPIED, c]
        obs[4 * n_conn + c] = high
        headroom[charger_station[conn_charger[c]]] -= high
    i = 5 * n_conn + n_st
    for s in range(n_st):
        obs[i + s] = headroom[s]
    i += n_st
    phase = 2.0 * math.pi * (tick % cfg[CFG_TICKS_PER_DAY]) / cfg[CFG_TICKS_PER_DAY]
    obs[i] = math.sin(phase)
    obs[i + 1] = math.cos(phase)
    i += 2
    n_ahead = int(cfg[CFG_FORECAST_TICKS]) + 1
    for j in range(n_ahead):
        obs[i + j] = exo[EXO_PRICE, tick + j]
        obs[i + n_ahead + j] = exo[EXO_RENEWABLE_KW, tick + j]
    obs[i + 2 * n_ahead] = exo[EXO_HOUSEHOLD_KW, tick]
    i += 2 * n_ahead + 1
    n_hours = int(cfg[CFG_RESERVATION_HOURS])
    if n_hours > 0:
        obs[i : i + n_st * n_hours] = 0.0
        for e in range(clock[CLK_NEXT_EV], ev.shape[1]):
            if res[RS_STATUS, e] == RES_CONFIRMED:
                hour = int(max(ev[EV_PLANNED_ARRIVAL, e] - tick, 0.0) * cfg[CFG_DT_H])
                if hour < n_hours:
                    s = charger_station[conn_charger[int(res[RS_CONNECTOR, e])]]
                    obs[i + s * n_hours + hour] += 1.0
        i += n_st * n_hours
    if cfg[CFG_OUTAGE_OBSERVATION] > 0.0:
        for r in range(outage.shape[1]):
            obs[i + r] = outage[tick, r]


@kernel
def reset(
    cfg,
    conn_charger,
    charger_f,
    charger_station,
    station_f,
    exo,
    ev,
    outage,
    conn,
    res,
    bess_soc,
    clock,
    kpi,
    kpi_total,
    station_out,
    obs,
    work,
):
    """Starts an episode: empty connectors, no reservations, BESS at their initial soc, tick
    0's requests and arrivals.

    ``res`` has shape (N_RES_FIELDS, n_evs); ``work`` is float64 work space of shape
    (``workspace_size(C, K, S)``,).
    """
    conn[:, :] = 0.0
    conn[CN_EV, :] = -1.0
    res[:, :] = 0.0
    res[RS_CONNECTOR, :] = -1.0
    for s in range(bess_soc.shape[0]):
        bess_soc[s] = station_f[ST_BESS_SOC_INIT, s]
    clock[:] = 0
    kpi[:] = 0.0
    station_out[:, :] = 0.0
    _begin_tick(
        cfg, conn_charger, charger_f, charger_station, station_f, ev, outage, conn, res, clock,
        clock[CLK_TICK], kpi, work,
    )  # fmt: skip
    for i in range(N_KPI):
        kpi_total[i] = kpi[i]
    write_observation(
        cfg, conn_charger, charger_f, charger_station, station_f, exo, ev, outage, conn, res,
        bess_soc, clock, obs, work,
    )  # fmt: skip


@kernel
def step(
    cfg,
    conn_charger,
    charger_f,
    charger_station,
    station_f,
    exo,
    ev,
    outage,
    reward_weights,
    conn,
    res,
    bess_soc,
    clock,
    kpi,
    kpi_total,
    station_out,
    action,
    obs,
    work,
):
    """Advances one env by one tick.

    Args:
        cfg, conn_charger, charger_f, charger_station, station_f: static scenario arrays
            (:mod:`evgrid_gym.core.layout`).
        exo, ev, outage: the episode's exogenous inputs, EV sessions and outage timeline
            (shape (>= n_ticks, K + S + 1)).
        reward_weights: weight of each KPI in the reward, shape (N_KPI,).
        conn, res, bess_soc, clock: state, updated in place.
        kpi: output, this tick's KPIs, shape (N_KPI,).
        kpi_total: episode totals, updated in place (sums; maxima for ``KPI_EPISODE_MAX``).
        station_out: output, per-station results, shape (N_STATION_OUT, S).
        action: shape (C,) or (C + S,); entries are fractions of the connector's rated power
            (and of the BESS power) and are clipped to [-1, 1]; negative = discharge.
        obs: output, the next observation, float32.
        work: float64 work space, shape (``workspace_size(C, K, S)``,); overwritten.

    Returns:
        ``(status, reward)``: ``STATUS_BAD_ACTION`` (and no change at all) if an action
        entry is not finite, else ``STATUS_OK``.
    """
    for i in range(action.shape[0]):
        if not np.isfinite(action[i]):
            return STATUS_BAD_ACTION, 0.0
    n_conn = conn.shape[1]
    n_ch = charger_f.shape[1]
    n_st = station_f.shape[1]
    tick = clock[CLK_TICK]
    dt_h = cfg[CFG_DT_H]
    kpi[:] = 0.0
    # this tick's arrays, carved from the work space (the tick allocates nothing)
    conn_kw = work[:n_conn]
    conn_low = work[n_conn : 2 * n_conn]
    conn_high = work[2 * n_conn : 3 * n_conn]
    per_station = work[3 * n_conn : 3 * n_conn + 8 * n_st]
    stored_kwh = per_station[:n_st]
    storage_kwh = per_station[n_st : 2 * n_st]
    bess_kw = per_station[2 * n_st : 3 * n_st]
    bess_low = per_station[3 * n_st : 4 * n_st]
    bess_high = per_station[4 * n_st : 5 * n_st]
    station_demand_kwh = per_station[5 * n_st : 6 * n_st]
    station_export_kwh = per_station[6 * n_st : 7 * n_st]
    fill = per_station[7 * n_st : 8 * n_st]
    scratch = work[3 * n_conn + 8 * n_st :]

    # 3. action -> requested powers and the battery limits of this tick (8. outages apply:
    # a charger down delivers nothing, a station without link runs on its fallback)
    stored_kwh[:] = 0.0
    storage_kwh[:] = 0.0
    for c in range(n_conn):
        k = conn_charger[c]
        s = charger_station[k]
        conn_low[c], conn_high[c] = _connector_limits_kw(cfg, conn_charger, charger_f, conn, c)
        if outage[tick, n_ch + s] > 0.0:
            conn_kw[c] = charger_f[CH_FALLBACK_KW, k]
            conn_low[c] = max(conn_low[c], 0.0)
        else:
            conn_kw[c] = min(max(action[c], -1.0), 1.0) * charger_f[CH_MAX_KW, k]
        if cfg[CFG_ACN_PILOT] > 0.0:
            conn_kw[c] = _pilot_power_kw(cfg, conn_charger, charger_f, conn, c, conn_kw[c])
        if outage[tick, k] > 0.0:
            conn[CN_OUTAGE_KWH, c] += battery_energy_kwh(
                conn_high[c], charger_f[CH_EFFICIENCY, k], dt_h
            )[0]
            conn_low[c] = conn_high[c] = 0.0
        if conn[CN_OCCUPIED, c] > 0.0:
            stored_kwh[s] += conn[CN_SOC, c] * conn[CN_BATTERY_KWH, c]
            storage_kwh[s] += conn[CN_BATTERY_KWH, c]
    bess_kw[:] = 0.0
    for s in range(n_st):
        link_down = outage[tick, n_ch + s] > 0.0
        kpi[KPI_MISSED_DEADLINES] += link_down
        if cfg[CFG_BESS_ACTION] > 0.0 and not link_down:
            bess_kw[s] = min(max(action[n_conn + s], -1.0), 1.0) * station_f[ST_BESS_KW, s]
        bess_low[s], bess_high[s] = _bess_limits_kw(cfg, station_f, bess_soc, s)
        stored_kwh[s] += bess_soc[s] * station_f[ST_BESS_KWH, s]
        storage_kwh[s] += station_f[ST_BESS_KWH, s]

    # 4. projection onto battery, charger, station and feeder limits
    household_kw = exo[EXO_HOUSEHOLD_KW, tick]
    overload_kw = project_power(
        conn_kw,
        conn_low,
        conn_high,
        conn_charger,
        charger_f[CH_MAX_KW],
        charger_station,
        bess_kw,
        bess_low,
        bess_high,
        station_f[ST_GRID_KW],
        outage[tick, n_ch : n_ch + n_st],
        household_kw,
        cfg[CFG_FEEDER_KW],
        cfg[CFG_SOFT_LIMITS] > 0.0,
        station_out[SO_NET_KW],
        scratch,
    )

    # 5. market: households and stations bid for own energy, the supplier covers the rest;
    # a station without link has no bid in the market
    household_kwh = household_kw * dt_h
    kpi[KPI_WIND_OUTAGE] = exo[EXO_WIND_KW, tick] * outage[tick, n_ch + n_st] * dt_h
    renewable_kwh = exo[EXO_RENEWABLE_KW, tick] * dt_h - kpi[KPI_WIND_OUTAGE]
    for s in range(n_st):
        station_demand_kwh[s] = max(station_out[SO_NET_KW, s], 0.0) * dt_h
        if outage[tick, n_ch + s] > 0.0:
            station_demand_kwh[s] = 0.0
        station_export_kwh[s] = max(-station_out[SO_NET_KW, s], 0.0) * dt_h
        fill[s] = stored_kwh[s] / storage_kwh[s] if storage_kwh[s] > 0.0 else 0.0
    household_own_kwh, household_payment, clearing_price, surplus_kwh = clear_market(
        household_kwh,
        station_demand_kwh,
        fill,
        storage_kwh,
        renewable_kwh + station_export_kwh.sum(),
        cfg[CFG_HOUSEHOLD_BID],
        cfg[CFG_UNIFORM_PRICE] > 0.0,
        station_out[SO_OWN_KWH],
        station_out[SO_MARKET_PAYMENT_EUR],
        scratch,
    )
    for s in range(n_st):
        station_out[SO_EXTERNAL_KWH, s] = (
            max(station_out[SO_NET_KW, s], 0.0) * dt_h - station_out[SO_OWN_KWH, s]
        )
        station_out[SO_BID_EUR_PER_KWH, s] = 1.0 - fill[s]
        station_out[SO_BESS_KW, s] = bess_kw[s]
    external_kwh = household_kwh - household_own_kwh + station_out[SO_EXTERNAL_KWH].sum()
    kpi[KPI_HOUSEHOLD] = household_kwh
    kpi[KPI_RENEWABLE] = renewable_kwh
    kpi[KPI_EXTERNAL] = external_kwh
    kpi[KPI_OWN_USED] = household_own_kwh + station_out[SO_OWN_KWH].sum()
    kpi[KPI_IMPORT_KW] = external_kwh / dt_h
    if cfg[CFG_EXPORT] > 0.0:
        kpi[KPI_EXPORT] = surplus_kwh
    else:
        kpi[KPI_CURTAILED] = surplus_kwh
    kpi[KPI_CLEARING_PRICE] = clearing_price
    kpi[KPI_HOUSEHOLD_PAYMENT] = household_payment
    kpi[KPI_STATION_PAYMENT] = station_out[SO_MARKET_PAYMENT_EUR].sum()
    kpi[KPI_ENERGY_COST] = external_kwh * exo[EXO_PRICE, tick]
    kpi[KPI_EXPORT_REVENUE] = kpi[KPI_EXPORT] * exo[EXO_FEED_IN, tick]
    kpi[KPI_OVERLOAD] = overload_kw * dt_h
    kpi[KPI_OVERLOAD_PENALTY] = kpi[KPI_OVERLOAD] * cfg[CFG_OVERLOAD_PENALTY]

    # 6. battery update and accounting
    for c in range(n_conn):
        conn[CN_POWER_KW, c] = conn_kw[c]
        if conn[CN_OCCUPIED, c] == 0.0:
            continue
        delta_kwh, losses_kwh = battery_energy_kwh(
            conn_kw[c], charger_f[CH_EFFICIENCY, conn_charger[c]], dt_h
        )
        conn[CN_SOC, c] = min(max(conn[CN_SOC, c] + delta_kwh / conn[CN_BATTERY_KWH, c], 0.0), 1.0)
        conn[CN_DELIVERED_KWH, c] += delta_kwh
        kpi[KPI_EV_ENERGY] += delta_kwh
        kpi[KPI_EV_LOSSES] += losses_kwh
        kpi[KPI_EV_CHARGE] += max(conn_kw[c], 0.0) * dt_h
        kpi[KPI_EV_DISCHARGE] += max(-conn_kw[c], 0.0) * dt_h
        kpi[KPI_REVENUE] += delta_kwh * conn[CN_TARIFF, c]
    for s in range(n_st):
        if station_f[ST_BESS_KWH, s] <= 0.0:
            continue
        delta_kwh, losses_kwh = battery_energy_kwh(
            bess_kw[s], station_f[ST_BESS_EFFICIENCY, s], dt_h
        )
        bess_soc[s] = min(max(bess_soc[s] + delta_kwh / station_f[ST_BESS_KWH, s], 0.0), 1.0)
        kpi[KPI_BESS_LOSSES] += losses_kwh
        kpi[KPI_STORAGE_VALUE] += (
            delta_kwh * station_f[ST_BESS_EFFICIENCY, s] * exo[EXO_STORAGE_VALUE, tick]
        )
        kpi[KPI_BESS_CHARGE] += max(bess_kw[s], 0.0) * dt_h
        kpi[KPI_BESS_DISCHARGE] += max(-bess_kw[s], 0.0) * dt_h

    # 7. departures (all EVs leave at the end of the episode), then the next tick's arrivals
    tick += 1
    clock[CLK_TICK] = tick
    last = tick >= cfg[CFG_N_TICKS]
    for c in range(n_conn):
        if conn[CN_OCCUPIED, c] > 0.0 and (conn[CN_DEPARTURE, c] <= tick or last):
            _depart(conn, c, kpi)
    kpi[KPI_UNMET_PENALTY] = kpi[KPI_UNMET] * cfg[CFG_UNMET_PENALTY]
    if last:
        close_reservations(ev, res, clock[CLK_NEXT_EV], kpi)
    else:
        _begin_tick(
            cfg, conn_charger, charger_f, charger_station, station_f, ev, outage, conn, res,
            clock, tick, kpi, scratch,
        )  # fmt: skip

    # 9. reward, episode totals, observation
    reward = 0.0
    for i in range(N_KPI):
        reward += reward_weights[i] * kpi[i]
        kpi_total[i] += kpi[i]
    for i in KPI_EPISODE_MAX:
        kpi_total[i] = max(kpi_total[i] - kpi[i], kpi[i])
    write_observation(
        cfg, conn_charger, charger_f, charger_station, station_f, exo, ev, outage, conn, res,
        bess_soc, clock, obs, scratch,
    )  # fmt: skip
    return STATUS_OK, reward
