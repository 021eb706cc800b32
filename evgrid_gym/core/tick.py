"""The one-tick transition of the simulation, one kernel per phase.

``step`` runs the tick in the README's order ("The simulated world, one tick"): the action's
requested powers and this tick's battery limits (with its outages), the projection onto the
limits (the network's among them), the market, the network's power flow (with
``grid.network``), the battery update and its accounting, the departures, each station's
books, the next tick's reservations, arrivals and observation, and the reward with the
episode's totals. The numbers in the phases' docstrings are the README's. Money and energy
that belong to a station (its revenue, energy cost, storage value, unmet energy, overload
and their penalties, its profit) are booked per station in ``station_out`` first, and the
community's KPI is their sum plus the community's own part (the households' energy cost, the
feeder's overload).
``reset`` starts an episode. Both take the groups of :mod:`evgrid_gym.core.state` (flat, see
there), mutate only the state and outputs they are given, and carve their temporaries from
a work space (:func:`workspace_size`, :func:`carve`), so a tick allocates nothing.

Reservations are :mod:`evgrid_gym.core.contract_net`'s, arrivals and departures
:mod:`evgrid_gym.core.sessions`'s, the observation :mod:`evgrid_gym.core.observation`'s.
Faults come as an ``outage`` timeline of the episode (drawn with the other inputs), so a tick
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

from typing import Annotated, NamedTuple, get_args

import numpy as np

from evgrid_gym.core import market, network, projection
from evgrid_gym.core.battery import battery_energy_kwh
from evgrid_gym.core.contract_net import N_OFFER_FIELDS, close_reservations, reservation_phase
from evgrid_gym.core.jit import inlined, kernel
from evgrid_gym.core.layout import (
    CFG_ACN_PILOT,
    CFG_BESS_ACTION,
    CFG_DT_H,
    CFG_EXPORT,
    CFG_FEEDER_KW,
    CFG_HOUSEHOLD_BID,
    CFG_N_TICKS,
    CFG_NETWORK_PENALTY,
    CFG_OVERLOAD_PENALTY,
    CFG_SOFT_LIMITS,
    CFG_UNIFORM_PRICE,
    CFG_UNMET_PENALTY,
    CFG_V2G_DEGRADATION,
    CFG_VOLTAGE_PENALTY,
    CH_EFFICIENCY,
    CH_FALLBACK_KW,
    CH_MAX_KW,
    CLK_TICK,
    CN_BATTERY_KWH,
    CN_DELIVERED_KWH,
    CN_EV,
    CN_OCCUPIED,
    CN_OUTAGE_KWH,
    CN_POWER_KW,
    CN_SOC,
    CN_TARIFF,
    EXO_FEED_IN,
    EXO_HOUSEHOLD_KW,
    EXO_PRICE,
    EXO_RENEWABLE_KW,
    EXO_STORAGE_VALUE,
    EXO_WIND_KW,
    KPI_BESS_CHARGE,
    KPI_BESS_DISCHARGE,
    KPI_BESS_LOSSES,
    KPI_CLEARING_PRICE,
    KPI_CURTAILED,
    KPI_DEGRADATION,
    KPI_ENERGY_COST,
    KPI_EPISODE_MAX,
    KPI_EPISODE_MIN,
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
    KPI_LINE_LOADING,
    KPI_MISSED_DEADLINES,
    KPI_NETWORK_PENALTY,
    KPI_NETWORK_VIOLATION,
    KPI_OVERLOAD,
    KPI_OVERLOAD_PENALTY,
    KPI_OWN_USED,
    KPI_RENEWABLE,
    KPI_REVENUE,
    KPI_STATION_PAYMENT,
    KPI_STORAGE_VALUE,
    KPI_TRANSFORMER_LOADING,
    KPI_UNMET_PENALTY,
    KPI_VOLTAGE_MAX,
    KPI_VOLTAGE_MIN,
    KPI_VOLTAGE_VIOLATION,
    KPI_WIND_OUTAGE,
    N_KPI,
    RS_CONNECTOR,
    SO_BESS_KW,
    SO_BID_EUR_PER_KWH,
    SO_DEGRADATION_EUR,
    SO_ENERGY_COST_EUR,
    SO_EXTERNAL_KWH,
    SO_MARKET_PAYMENT_EUR,
    SO_NET_KW,
    SO_OVERLOAD_KWH,
    SO_OVERLOAD_PENALTY_EUR,
    SO_OWN_KWH,
    SO_PROFIT_EUR,
    SO_REVENUE_EUR,
    SO_STORAGE_VALUE_EUR,
    SO_UNMET_KWH,
    SO_UNMET_PENALTY_EUR,
    ST_BESS_DEGRADATION,
    ST_BESS_EFFICIENCY,
    ST_BESS_KW,
    ST_BESS_KWH,
    ST_BESS_SOC_INIT,
    ST_GRID_KW,
)
from evgrid_gym.core.limits import bess_limits_kw, connector_limits_kw, pilot_power_kw
from evgrid_gym.core.observation import write_observation
from evgrid_gym.core.sessions import arrive, depart
from evgrid_gym.core.state import Episode, Outputs, State, Static

STATUS_OK = 0
STATUS_BAD_ACTION = 1  # an action entry is NaN or infinite; nothing was changed

# --------------------------------------------------------------------------------------------
# The work space
# --------------------------------------------------------------------------------------------


PerConnector = Annotated[np.ndarray, "C"]
"""A :class:`Scratch` field of one entry per connector."""
PerStation = Annotated[np.ndarray, "S"]
"""A :class:`Scratch` field of one entry per station."""


class Scratch(NamedTuple):
    """A tick's temporaries, carved from the work space (:func:`carve`). Each field's length
    is its annotation's; ``shared`` is the rest of the work space."""

    conn_kw: PerConnector  # requested, then applied grid power, kW
    conn_low_kw: PerConnector  # this tick's power range of the connector's EV, kW
    conn_high_kw: PerConnector
    bess_kw: PerStation  # requested, then applied BESS power, kW
    bess_low_kw: PerStation
    bess_high_kw: PerStation
    stored_kwh: PerStation  # energy stored in the station's EVs and BESS at tick start
    storage_kwh: PerStation  # their capacity
    demand_kwh: PerStation  # the station's bid quantity in the market
    export_kwh: PerStation  # what the station feeds into the community
    fill: PerStation  # stored / storage: the station's first bid is 1 - fill
    overload_kw: PerStation  # power above the station's grid capacity (soft limits), kW
    shared: np.ndarray  # the sub-kernels' scratch: projection, market, offers, observation


def _fields_of(length):
    """How many :class:`Scratch` fields are annotated with ``length`` ("C" or "S")."""
    return sum(length in get_args(field)[1:] for field in Scratch.__annotations__.values())


_PER_CONNECTOR = _fields_of("C")
_PER_STATION = _fields_of("S")


def workspace_size(n_connectors, n_chargers, n_stations, n_buses=0):
    """Length of the float64 work space of :func:`reset` and :func:`step` (one per env):
    the fields of :class:`Scratch`, ``shared`` as long as the longest of its uses;
    ``n_buses``: the network's buses (0 without one)."""
    shared = max(
        projection.scratch_size(n_chargers, n_stations),
        market.scratch_size(n_stations),
        n_connectors + N_OFFER_FIELDS * n_stations,  # reservations and arrivals
        n_stations + network.workspace_size(n_buses),  # observation; the network's phases
    )
    return _PER_CONNECTOR * n_connectors + _PER_STATION * n_stations + shared


@inlined
def carve(work, n_connectors, n_stations):
    """The :class:`Scratch` views of ``work`` (of length :func:`workspace_size`), one after
    the other in field order (the slices written out: a helper call per field adds to the
    first run's compile time; ``tests/test_tick.py`` checks them against the fields'
    annotations)."""
    c, s = n_connectors, n_stations
    i = _PER_CONNECTOR * c  # the (S,) fields follow the (C,) ones
    return Scratch(
        work[:c], work[c : 2 * c], work[2 * c : i],
        work[i : i + s], work[i + s : i + 2 * s], work[i + 2 * s : i + 3 * s],
        work[i + 3 * s : i + 4 * s], work[i + 4 * s : i + 5 * s], work[i + 5 * s : i + 6 * s],
        work[i + 6 * s : i + 7 * s], work[i + 7 * s : i + 8 * s],
        work[i + 8 * s : i + _PER_STATION * s], work[i + _PER_STATION * s :],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# The phases of a tick
# --------------------------------------------------------------------------------------------


@inlined
def _begin_tick(static, episode, state, tick, kpi, shared, reservations):
    """2. Reservations (when on: the switch ``reservations``), then the arrivals of
    ``tick``."""
    n_conn = state.conn.shape[1]
    n_st = static.station_f.shape[1]
    busy = shared[:n_conn]
    if reservations is not None:
        offer = shared[n_conn : n_conn + N_OFFER_FIELDS * n_st].reshape((N_OFFER_FIELDS, n_st))
        reservation_phase(static, episode, state, tick, busy, offer, kpi)
    arrive(static, episode, state, tick, kpi, busy, reservations is not None)


@kernel
def _open_tick(static, episode, state, out, tick, last, shared, reservations, network):
    """2. and 10. The tick ``tick`` opens: its reservations and arrivals (the episode's open
    reservations closed instead when it has ended), then the observation of the state. One
    compiled function shared by ``reset`` and ``step``, so its phases are compiled once.
    ``reservations``, ``network``: the switches of
    :meth:`~evgrid_gym.core.state.Static.switches`."""
    if last:
        if reservations is not None:
            close_reservations(episode, state, out.kpi)
    else:
        _begin_tick(static, episode, state, tick, out.kpi, shared, reservations)
    station_kw = out.station_out[SO_NET_KW]
    write_observation(static, episode, state, out.obs, station_kw, shared, reservations, network)


@inlined
def _request(static, episode, state, action, sc, kpi):
    """3. The action's requested powers and this tick's battery limits, with its outages: a
    charger down delivers nothing (what its EV could have taken is kept), a station without
    link runs on its fallback (no V2G, BESS idle); with ACN pilots the request is what the
    EV draws under its pilot. Also the stores each station's market bid is based on."""
    cfg, charger_f, station_f = static.cfg, static.charger_f, static.station_f
    connector_charger, charger_station = static.connector_charger, static.charger_station
    conn, outage, bess_soc = state.conn, episode.outage, state.bess_soc
    conn_kw, conn_low_kw, conn_high_kw = sc.conn_kw, sc.conn_low_kw, sc.conn_high_kw
    bess_kw, bess_low_kw, bess_high_kw = sc.bess_kw, sc.bess_low_kw, sc.bess_high_kw
    stored_kwh, storage_kwh = sc.stored_kwh, sc.storage_kwh
    tick = state.clock[CLK_TICK]
    n_ch, n_conn = charger_f.shape[1], conn.shape[1]
    stored_kwh[:] = 0.0
    storage_kwh[:] = 0.0
    for c in range(n_conn):
        k = connector_charger[c]
        s = charger_station[k]
        efficiency = charger_f[CH_EFFICIENCY, k]
        conn_low_kw[c], conn_high_kw[c] = connector_limits_kw(cfg, conn, c, efficiency)
        if outage[tick, n_ch + s] > 0.0:
            conn_kw[c] = charger_f[CH_FALLBACK_KW, k]
            conn_low_kw[c] = max(conn_low_kw[c], 0.0)
        else:
            conn_kw[c] = min(max(action[c], -1.0), 1.0) * charger_f[CH_MAX_KW, k]
        if cfg[CFG_ACN_PILOT] > 0.0:
            conn_kw[c] = pilot_power_kw(cfg, conn, c, efficiency, conn_kw[c])
        if outage[tick, k] > 0.0:
            conn[CN_OUTAGE_KWH, c] += battery_energy_kwh(
                conn_high_kw[c], efficiency, cfg[CFG_DT_H]
            )[0]
            conn_low_kw[c] = conn_high_kw[c] = 0.0
        if conn[CN_OCCUPIED, c] > 0.0:
            stored_kwh[s] += conn[CN_SOC, c] * conn[CN_BATTERY_KWH, c]
            storage_kwh[s] += conn[CN_BATTERY_KWH, c]
    bess_kw[:] = 0.0
    for s in range(station_f.shape[1]):
        link_down = outage[tick, n_ch + s] > 0.0
        kpi[KPI_MISSED_DEADLINES] += link_down
        if cfg[CFG_BESS_ACTION] > 0.0 and not link_down:
            bess_kw[s] = min(max(action[n_conn + s], -1.0), 1.0) * station_f[ST_BESS_KW, s]
        bess_low_kw[s], bess_high_kw[s] = bess_limits_kw(cfg, station_f, bess_soc, s)
        stored_kwh[s] += bess_soc[s] * station_f[ST_BESS_KWH, s]
        storage_kwh[s] += station_f[ST_BESS_KWH, s]


@inlined
def _project(static, episode, state, out, sc):
    """4. Projection onto battery, charger, station and feeder limits
    (:func:`~evgrid_gym.core.projection.project_power`); returns the feeder's overload, kW
    (each station's is in ``sc.overload_kw``)."""
    tick = state.clock[CLK_TICK]
    n_ch, n_st = static.charger_f.shape[1], static.station_f.shape[1]
    return projection.project_power(
        sc.conn_kw,
        sc.conn_low_kw,
        sc.conn_high_kw,
        static.connector_charger,
        static.charger_f[CH_MAX_KW],
        static.charger_station,
        sc.bess_kw,
        sc.bess_low_kw,
        sc.bess_high_kw,
        static.station_f[ST_GRID_KW],
        episode.outage[tick, n_ch : n_ch + n_st],
        episode.exo[EXO_HOUSEHOLD_KW, tick],
        static.cfg[CFG_FEEDER_KW],
        static.cfg[CFG_SOFT_LIMITS] > 0.0,
        out.station_out[SO_NET_KW],
        sc.overload_kw,
        sc.shared,
    )


@inlined
def _book_overload(static, out, sc, kpi, feeder_overload_kw):
    """4. Each station's overload after the projection and its penalty, and the community's:
    the stations' plus the feeder's."""
    station_out = out.station_out
    dt_h, penalty = static.cfg[CFG_DT_H], static.cfg[CFG_OVERLOAD_PENALTY]
    for s in range(station_out.shape[1]):
        station_out[SO_OVERLOAD_KWH, s] = sc.overload_kw[s] * dt_h
        station_out[SO_OVERLOAD_PENALTY_EUR, s] = station_out[SO_OVERLOAD_KWH, s] * penalty
    feeder_overload_kwh = feeder_overload_kw * dt_h
    kpi[KPI_OVERLOAD] = station_out[SO_OVERLOAD_KWH].sum() + feeder_overload_kwh
    kpi[KPI_OVERLOAD_PENALTY] = (
        station_out[SO_OVERLOAD_PENALTY_EUR].sum() + feeder_overload_kwh * penalty
    )


@inlined
def _limit_network(static, episode, state, out, sc, feeder_overload_kw):
    """4., with a network: step 5 of the projection (:mod:`~evgrid_gym.core.projection`), in
    hard mode (soft: the power flow's violations are penalised, 6.): every station the
    curtailment can reach (its link up) scaled by the common factor of
    :func:`~evgrid_gym.core.network.limit_stations`, all its connectors and its BESS alike.
    Returns the feeder's overload after the step (with hard limits the stations have none),
    ``feeder_overload_kw`` itself when nothing is scaled."""
    cfg, exo, outage = static.cfg, episode.exo, episode.outage
    if cfg[CFG_SOFT_LIMITS] > 0.0:
        return feeder_overload_kw
    tick = state.clock[CLK_TICK]
    n_ch, n_st = static.charger_f.shape[1], static.station_f.shape[1]
    link_down = outage[tick, n_ch : n_ch + n_st]
    net_kw = out.station_out[SO_NET_KW]
    household_kw = exo[EXO_HOUSEHOLD_KW, tick]
    wind_kw, pv_kw = network.renewables_kw(exo, outage, tick)
    alpha = network.limit_stations(
        static.bus_parent, static.branch_f, static.bus_f, static.net_cfg, static.station_f,
        household_kw, wind_kw, pv_kw, cfg[CFG_EXPORT] == 0.0, net_kw, link_down,
        cfg[CFG_FEEDER_KW], sc.shared,
    )  # fmt: skip
    if alpha >= 1.0:
        return feeder_overload_kw
    connector_charger, charger_station = static.connector_charger, static.charger_station
    for c in range(sc.conn_kw.shape[0]):
        if link_down[charger_station[connector_charger[c]]] == 0.0:
            sc.conn_kw[c] *= alpha
    total_kw = household_kw
    for s in range(n_st):
        if link_down[s] == 0.0:
            sc.bess_kw[s] *= alpha
            net_kw[s] *= alpha
        total_kw += net_kw[s]
    return max(total_kw - cfg[CFG_FEEDER_KW], 0.0)


@inlined
def _settle_market(static, episode, state, out, sc, kpi):
    """5. Market (:func:`~evgrid_gym.core.market.clear_market`): households and stations bid
    for own energy, the supplier covers the rest; a station without link has no bid. Books
    the energy flows and their money: the external energy's cost is the households' and
    each station's."""
    cfg, exo, outage = static.cfg, episode.exo, episode.outage
    station_out = out.station_out
    demand_kwh, export_kwh, fill = sc.demand_kwh, sc.export_kwh, sc.fill
    stored_kwh, storage_kwh, bess_kw = sc.stored_kwh, sc.storage_kwh, sc.bess_kw
    tick = state.clock[CLK_TICK]
    dt_h, price = cfg[CFG_DT_H], exo[EXO_PRICE, tick]
    n_ch, n_st = static.charger_f.shape[1], static.station_f.shape[1]
    household_kwh = exo[EXO_HOUSEHOLD_KW, tick] * dt_h
    kpi[KPI_WIND_OUTAGE] = exo[EXO_WIND_KW, tick] * outage[tick, n_ch + n_st] * dt_h
    renewable_kwh = exo[EXO_RENEWABLE_KW, tick] * dt_h - kpi[KPI_WIND_OUTAGE]
    for s in range(n_st):
        demand_kwh[s] = max(station_out[SO_NET_KW, s], 0.0) * dt_h
        if outage[tick, n_ch + s] > 0.0:
            demand_kwh[s] = 0.0
        export_kwh[s] = max(-station_out[SO_NET_KW, s], 0.0) * dt_h
        fill[s] = stored_kwh[s] / storage_kwh[s] if storage_kwh[s] > 0.0 else 0.0
    household_own_kwh, household_payment, clearing_price, surplus_kwh = market.clear_market(
        household_kwh,
        demand_kwh,
        fill,
        storage_kwh,
        renewable_kwh + export_kwh.sum(),
        cfg[CFG_HOUSEHOLD_BID],
        cfg[CFG_UNIFORM_PRICE] > 0.0,
        station_out[SO_OWN_KWH],
        station_out[SO_MARKET_PAYMENT_EUR],
        sc.shared,
    )
    for s in range(n_st):
        station_out[SO_EXTERNAL_KWH, s] = (
            max(station_out[SO_NET_KW, s], 0.0) * dt_h - station_out[SO_OWN_KWH, s]
        )
        station_out[SO_ENERGY_COST_EUR, s] = station_out[SO_EXTERNAL_KWH, s] * price
        station_out[SO_BID_EUR_PER_KWH, s] = 1.0 - fill[s]
        station_out[SO_BESS_KW, s] = bess_kw[s]
    household_external_kwh = household_kwh - household_own_kwh
    external_kwh = household_external_kwh + station_out[SO_EXTERNAL_KWH].sum()
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
    kpi[KPI_ENERGY_COST] = household_external_kwh * price + station_out[SO_ENERGY_COST_EUR].sum()
    kpi[KPI_EXPORT_REVENUE] = kpi[KPI_EXPORT] * exo[EXO_FEED_IN, tick]


@inlined
def _book_network(static, episode, state, out, sc, kpi):
    """6. With a network: the power flow of the tick's applied powers
    (:func:`~evgrid_gym.core.network.book_network`; the renewables less what the market
    curtailed, taken from wind and PV in proportion to their output) and its KPIs; its
    violations at the network penalties."""
    cfg, exo, outage = static.cfg, episode.exo, episode.outage
    tick = state.clock[CLK_TICK]
    dt_h = cfg[CFG_DT_H]
    n_ch, n_st = static.charger_f.shape[1], static.station_f.shape[1]
    wind_kw, pv_kw = network.renewables_kw(exo, outage, tick)
    renewable_kw = wind_kw + pv_kw
    fed_in = 1.0
    if renewable_kw > 0.0:
        fed_in = 1.0 - min(kpi[KPI_CURTAILED] / dt_h, renewable_kw) / renewable_kw
    v_min, v_max, line, transformer, overload_kw, deviation = network.book_network(
        static.bus_parent, static.branch_f, static.bus_f, static.net_cfg, static.station_f,
        exo[EXO_HOUSEHOLD_KW, tick], fed_in * wind_kw, fed_in * pv_kw,
        out.station_out[SO_NET_KW], outage[tick, n_ch : n_ch + n_st], sc.shared,
    )  # fmt: skip
    kpi[KPI_VOLTAGE_MIN] = v_min
    kpi[KPI_VOLTAGE_MAX] = v_max
    kpi[KPI_LINE_LOADING] = line
    kpi[KPI_TRANSFORMER_LOADING] = transformer
    kpi[KPI_NETWORK_VIOLATION] = overload_kw * dt_h
    kpi[KPI_VOLTAGE_VIOLATION] = deviation * dt_h
    kpi[KPI_NETWORK_PENALTY] = (
        kpi[KPI_NETWORK_VIOLATION] * cfg[CFG_NETWORK_PENALTY]
        + kpi[KPI_VOLTAGE_VIOLATION] * cfg[CFG_VOLTAGE_PENALTY]
    )


@inlined
def _update_batteries(static, episode, state, out, sc, kpi):
    """7. EV and BESS soc; drivers pay (and are paid) their tariff per battery kWh; the
    change of the worth of the BESS's stored energy; the wear of V2G (per battery kWh it takes
    out of an EV, ``CFG_V2G_DEGRADATION``) and of the BESS (per battery kWh in or out,
    ``ST_BESS_DEGRADATION``). All booked per station, and their totals as the stations'
    sums."""
    conn, bess_soc, station_out = state.conn, state.bess_soc, out.station_out
    charger_f, station_f = static.charger_f, static.station_f
    connector_charger, charger_station = static.connector_charger, static.charger_station
    conn_kw, bess_kw = sc.conn_kw, sc.bess_kw
    dt_h, v2g_wear_eur_per_kwh = static.cfg[CFG_DT_H], static.cfg[CFG_V2G_DEGRADATION]
    station_out[SO_REVENUE_EUR, :] = 0.0
    station_out[SO_DEGRADATION_EUR, :] = 0.0
    for c in range(conn.shape[1]):
        power_kw = conn_kw[c]
        conn[CN_POWER_KW, c] = power_kw
        if conn[CN_OCCUPIED, c] == 0.0:
            continue
        k = connector_charger[c]
        delta_kwh, losses_kwh = battery_energy_kwh(power_kw, charger_f[CH_EFFICIENCY, k], dt_h)
        conn[CN_SOC, c] = min(max(conn[CN_SOC, c] + delta_kwh / conn[CN_BATTERY_KWH, c], 0.0), 1.0)
        conn[CN_DELIVERED_KWH, c] += delta_kwh
        kpi[KPI_EV_ENERGY] += delta_kwh
        kpi[KPI_EV_LOSSES] += losses_kwh
        kpi[KPI_EV_CHARGE] += max(power_kw, 0.0) * dt_h
        kpi[KPI_EV_DISCHARGE] += max(-power_kw, 0.0) * dt_h
        s = charger_station[k]
        station_out[SO_REVENUE_EUR, s] += delta_kwh * conn[CN_TARIFF, c]
        station_out[SO_DEGRADATION_EUR, s] += max(-delta_kwh, 0.0) * v2g_wear_eur_per_kwh
    kpi[KPI_REVENUE] = station_out[SO_REVENUE_EUR].sum()
    value = episode.exo[EXO_STORAGE_VALUE, state.clock[CLK_TICK]]
    for s in range(station_f.shape[1]):
        station_out[SO_STORAGE_VALUE_EUR, s] = 0.0
        if station_f[ST_BESS_KWH, s] <= 0.0:
            continue
        efficiency = station_f[ST_BESS_EFFICIENCY, s]
        delta_kwh, losses_kwh = battery_energy_kwh(bess_kw[s], efficiency, dt_h)
        bess_soc[s] = min(max(bess_soc[s] + delta_kwh / station_f[ST_BESS_KWH, s], 0.0), 1.0)
        kpi[KPI_BESS_LOSSES] += losses_kwh
        station_out[SO_STORAGE_VALUE_EUR, s] = delta_kwh * efficiency * value
        station_out[SO_DEGRADATION_EUR, s] += abs(delta_kwh) * station_f[ST_BESS_DEGRADATION, s]
        kpi[KPI_BESS_CHARGE] += max(bess_kw[s], 0.0) * dt_h
        kpi[KPI_BESS_DISCHARGE] += max(-bess_kw[s], 0.0) * dt_h
    kpi[KPI_STORAGE_VALUE] = station_out[SO_STORAGE_VALUE_EUR].sum()
    kpi[KPI_DEGRADATION] = station_out[SO_DEGRADATION_EUR].sum()


@inlined
def _book_stations(static, out):
    """9. After the departures (8., :func:`~evgrid_gym.core.sessions.depart`), each
    station's books: its unmet-energy penalty (the community's is their sum) and its profit
    in the tick, its EV revenue minus what it pays for energy (the market's payments to the
    community's producers, the supplier's energy) plus the change of the worth of its BESS
    minus its batteries' wear and its penalties. The community's profit adds the producers'
    income (the stations' payments and the export revenue) and subtracts the households'
    external energy and the feeder's overload penalty (README, "Stations as agents and
    Ray")."""
    station_out, penalty = out.station_out, static.cfg[CFG_UNMET_PENALTY]
    for s in range(station_out.shape[1]):
        station_out[SO_UNMET_PENALTY_EUR, s] = station_out[SO_UNMET_KWH, s] * penalty
        station_out[SO_PROFIT_EUR, s] = (
            station_out[SO_REVENUE_EUR, s]
            - station_out[SO_MARKET_PAYMENT_EUR, s]
            - station_out[SO_ENERGY_COST_EUR, s]
            + station_out[SO_STORAGE_VALUE_EUR, s]
            - station_out[SO_DEGRADATION_EUR, s]
            - station_out[SO_UNMET_PENALTY_EUR, s]
            - station_out[SO_OVERLOAD_PENALTY_EUR, s]
        )
    out.kpi[KPI_UNMET_PENALTY] = station_out[SO_UNMET_PENALTY_EUR].sum()


@inlined
def _book_reward(static, out):
    """10. The reward (the weighted KPIs) and the episode totals (sums; maxima for
    ``KPI_EPISODE_MAX``, minima for ``KPI_EPISODE_MIN``)."""
    kpi, kpi_total, weights = out.kpi, out.kpi_total, static.reward_weights
    reward = 0.0
    for i in range(N_KPI):
        reward += weights[i] * kpi[i]
        kpi_total[i] += kpi[i]
    for i in KPI_EPISODE_MAX:
        kpi_total[i] = max(kpi_total[i] - kpi[i], kpi[i])
    for i in KPI_EPISODE_MIN:
        kpi_total[i] = min(kpi_total[i] - kpi[i], kpi[i])
    return reward


# --------------------------------------------------------------------------------------------
# Reset and step
# --------------------------------------------------------------------------------------------


@kernel
def reset(
    cfg, connector_charger, charger_f, charger_station, station_f, reward_weights, obs_offsets,
    bus_parent, branch_f, bus_f, net_cfg, exo, ev, outage, conn, res, bess_soc, clock, kpi,
    kpi_total, station_out, obs, work, reservations, network,
):  # fmt: skip
    """Starts an episode: empty connectors, no reservations, BESS at their initial soc, tick
    0's requests and arrivals, the first observation.

    The groups' arrays flat in field order, then the switches: ``reset(*static, *episode,
    *state, *outputs, work, *static.switches())`` (:mod:`evgrid_gym.core.state`); ``work``
    is float64 work space of shape (``workspace_size(C, K, S, B)``,). The episode totals of
    ``KPI_EPISODE_MIN`` start at +inf (no tick yet).
    """
    static = Static(cfg, connector_charger, charger_f, charger_station, station_f,
                    reward_weights, obs_offsets, bus_parent, branch_f, bus_f, net_cfg)  # fmt: skip
    episode, state = Episode(exo, ev, outage), State(conn, res, bess_soc, clock)
    sc = carve(work, conn.shape[1], station_f.shape[1])
    conn[:, :] = 0.0
    conn[CN_EV, :] = -1.0
    res[:, :] = 0.0
    res[RS_CONNECTOR, :] = -1.0
    for s in range(bess_soc.shape[0]):
        bess_soc[s] = station_f[ST_BESS_SOC_INIT, s]
    clock[:] = 0
    kpi[:] = 0.0
    station_out[:, :] = 0.0
    out = Outputs(kpi, kpi_total, station_out, obs)
    tick = clock[CLK_TICK]  # 0; as in step, typed alike: one compilation of _open_tick
    last = tick >= cfg[CFG_N_TICKS]
    _open_tick(static, episode, state, out, tick, last, sc.shared, reservations, network)
    for i in range(N_KPI):
        kpi_total[i] = kpi[i]
    for i in KPI_EPISODE_MIN:
        kpi_total[i] = np.inf


@kernel
def step(
    cfg, connector_charger, charger_f, charger_station, station_f, reward_weights, obs_offsets,
    bus_parent, branch_f, bus_f, net_cfg, exo, ev, outage, conn, res, bess_soc, clock, kpi,
    kpi_total, station_out, obs, action, work, reservations, network,
):  # fmt: skip
    """Advances one env by one tick: the phases above, in order.

    The groups' arrays flat in field order, then the switches: ``step(*static, *episode,
    *state, *outputs, action, work, *static.switches())`` (:mod:`evgrid_gym.core.state`).

    Args:
        action: shape (C,) or (C + S,); entries are fractions of the connector's rated power
            (and of the BESS power) and are clipped to [-1, 1]; negative = discharge.
        work: float64 work space, shape (``workspace_size(C, K, S, B)``,); overwritten.

    Returns:
        ``(status, reward)``: ``STATUS_BAD_ACTION`` (and no change at all) if an action
        entry is not finite, else ``STATUS_OK``.
    """
    for i in range(action.shape[0]):
        if not np.isfinite(action[i]):
            return STATUS_BAD_ACTION, 0.0
    static = Static(cfg, connector_charger, charger_f, charger_station, station_f,
                    reward_weights, obs_offsets, bus_parent, branch_f, bus_f, net_cfg)  # fmt: skip
    episode, state = Episode(exo, ev, outage), State(conn, res, bess_soc, clock)
    out = Outputs(kpi, kpi_total, station_out, obs)
    sc = carve(work, conn.shape[1], station_f.shape[1])
    kpi[:] = 0.0
    _request(static, episode, state, action, sc, kpi)
    feeder_overload_kw = _project(static, episode, state, out, sc)
    if network is not None:
        feeder_overload_kw = _limit_network(static, episode, state, out, sc, feeder_overload_kw)
    _book_overload(static, out, sc, kpi, feeder_overload_kw)
    _settle_market(static, episode, state, out, sc, kpi)
    if network is not None:
        _book_network(static, episode, state, out, sc, kpi)
    _update_batteries(static, episode, state, out, sc, kpi)
    tick = clock[CLK_TICK] + 1
    clock[CLK_TICK] = tick
    last = depart(static, state, tick, kpi, out.station_out[SO_UNMET_KWH])
    _book_stations(static, out)
    _open_tick(static, episode, state, out, tick, last, sc.shared, reservations, network)
    return STATUS_OK, _book_reward(static, out)
