"""EVs plugging in and leaving: the arrivals of a tick (into the connector they reserved, or a
free one) and the departures, which book each session's delivered and unmet energy."""

from evgrid_gym.core.contract_net import busy_ticks, energy_needed_kwh
from evgrid_gym.core.jit import inlined, kernel
from evgrid_gym.core.layout import (
    CFG_N_TICKS,
    CH_IS_DC,
    CH_MAX_KW,
    CH_V2G,
    CLK_NEXT_EV,
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
    EV_SOC_ARRIVAL,
    EV_SOC_TARGET,
    EV_STATION,
    EV_TARIFF,
    KPI_ARRIVALS,
    KPI_CANCELLED,
    KPI_DELIVERED,
    KPI_DEPARTURES,
    KPI_OUTAGE_UNMET,
    KPI_REJECTED,
    KPI_REQUESTED,
    KPI_SERVED,
    KPI_UNMET,
    RES_CANCELLED,
    RES_CONFIRMED,
    RES_SERVED,
    RS_CONNECTOR,
    RS_PRICE,
    RS_STATUS,
)


@kernel
def _free_connector(
    ev, conn, res, connector_charger, charger_station, outage, first_ev, e, tick, busy
):
    """The connector EV ``e`` arriving at ``tick`` gets, -1 if none is free.

    Its reserved connector (a confirmed reservation) if it is free now. Otherwise the EV is a
    walk-in and needs a connector free until its departure (no plugged EV, no confirmed
    reservation overlapping, :func:`~evgrid_gym.core.contract_net.busy_ticks`) on a charger
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
        if c < 0 or c >= conn.shape[1] or busy[c] > 0.0 or outage[tick, connector_charger[c]] > 0.0:
            continue
        if i < 0 or station < 0 or charger_station[connector_charger[c]] == station:
            return c
    return -1


@kernel
def _plug(ev, charger_f, connector_charger, conn, e, c, tariff):
    """EV ``e`` plugs into connector ``c``, paying ``tariff`` EUR per battery kWh."""
    k = connector_charger[c]
    ev_max_kw = ev[EV_MAX_DC_KW, e] if charger_f[CH_IS_DC, k] > 0.0 else ev[EV_MAX_AC_KW, e]
    conn[CN_OCCUPIED, c] = 1.0
    conn[CN_EV, c] = e
    conn[CN_SOC, c] = ev[EV_SOC_ARRIVAL, e]
    conn[CN_BATTERY_KWH, c] = ev[EV_BATTERY_KWH, e]
    conn[CN_SOC_TARGET, c] = ev[EV_SOC_TARGET, e]
    conn[CN_DEPARTURE, c] = ev[EV_DEPARTURE, e]
    conn[CN_MAX_KW, c] = min(ev_max_kw, charger_f[CH_MAX_KW, k])
    conn[CN_MAX_V2G_KW, c] = (
        min(ev[EV_MAX_V2G_KW, e], charger_f[CH_MAX_KW, k]) * charger_f[CH_V2G, k]
    )
    conn[CN_REQUESTED_KWH, c] = energy_needed_kwh(ev, e)
    conn[CN_DELIVERED_KWH, c] = 0.0
    conn[CN_TARIFF, c] = tariff
    conn[CN_OUTAGE_KWH, c] = 0.0


@inlined
def arrive(static, episode, state, tick, kpi, busy, reservations):
    """Plugs every EV arriving by ``tick`` into a free connector (:func:`_free_connector`);
    one holding a reservation pays its agreed price. Without ``reservations`` there are no
    holds to look up."""
    ev, res, clock = episode.ev, state.res, state.clock
    n_ev = ev.shape[1]
    while clock[CLK_NEXT_EV] < n_ev and ev[EV_ARRIVAL, clock[CLK_NEXT_EV]] <= tick:
        e = clock[CLK_NEXT_EV]
        clock[CLK_NEXT_EV] += 1
        kpi[KPI_ARRIVALS] += 1.0
        first_ev = e + 1 if reservations else n_ev
        c = _free_connector(
            ev, state.conn, res, static.connector_charger, static.charger_station,
            episode.outage, first_ev, e, tick, busy,
        )  # fmt: skip
        tariff = ev[EV_TARIFF, e]
        if res[RS_STATUS, e] == RES_CONFIRMED:
            if res[RS_CONNECTOR, e] == c:
                res[RS_STATUS, e] = RES_SERVED
                kpi[KPI_SERVED] += 1.0
                tariff = res[RS_PRICE, e]
            else:  # came before its reserved connector was free: it is a walk-in now
                res[RS_STATUS, e] = RES_CANCELLED
                res[RS_CONNECTOR, e] = -1.0
                kpi[KPI_CANCELLED] += 1.0
        if c < 0:
            kpi[KPI_REJECTED] += 1.0
        else:
            _plug(ev, static.charger_f, static.connector_charger, state.conn, e, c, tariff)


@inlined
def depart(static, state, tick, kpi, station_unmet_kwh):
    """Unplugs every EV whose departure tick has come (all of them at the episode's end) and
    books its delivered and unmet energy, the unmet also per station (``station_unmet_kwh``,
    shape (S,), overwritten); a connector keeps the power it drew in the last tick
    (``CN_POWER_KW``). Returns whether the episode has ended."""
    conn = state.conn
    last = tick >= static.cfg[CFG_N_TICKS]
    station_unmet_kwh[:] = 0.0
    for c in range(conn.shape[1]):
        if conn[CN_OCCUPIED, c] == 0.0 or (conn[CN_DEPARTURE, c] > tick and not last):
            continue
        requested = conn[CN_REQUESTED_KWH, c]
        delivered = conn[CN_DELIVERED_KWH, c]
        unmet = max(requested - delivered, 0.0)
        kpi[KPI_DEPARTURES] += 1.0
        kpi[KPI_REQUESTED] += requested
        kpi[KPI_DELIVERED] += delivered
        kpi[KPI_UNMET] += unmet
        station_unmet_kwh[static.charger_station[static.connector_charger[c]]] += unmet
        kpi[KPI_OUTAGE_UNMET] += min(unmet, conn[CN_OUTAGE_KWH, c])
        power_kw = conn[CN_POWER_KW, c]
        conn[:, c] = 0.0
        conn[CN_EV, c] = -1.0
        conn[CN_POWER_KW, c] = power_kw
    return last
