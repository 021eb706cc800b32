"""Properties of the one-tick transition over random scenarios, states and actions (hypothesis).

Every tick: soc stays in [0, 1] (and BESS soc in its limits); no hard limit is exceeded;
energy balances (renewable + external + BESS discharge + V2G = households + EV charging +
BESS charging + export + curtailment, and grid energy = battery energy + losses for EVs and
BESS) to 1e-9 relative; money balances (reward = its terms, market transfers paid by consumers
= what producers receive, external cost = external kWh x price); departures book delivered vs
requested energy. With reservations and outages (drawn in some episodes): a charger down
delivers nothing and books what its EV could have taken; a station without link charges at
its fallback without V2G, its BESS idle, and buys outside the market; the wind share down is
lost; reservation statuses agree with the KPI totals, holds never overlap and sit on chargers
that are up, a served EV pays its agreed price (:func:`check_reservations`).

To see every connector's applied power (a departing EV's connector is cleared), each tick is
also run on a *shadow* copy of the state in which nobody departs; departures and arrivals
happen after the physics, so both runs must agree on it (checked too).
"""

import copy
import os

import numpy as np
import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from evgrid_gym.core import layout as L
from evgrid_gym.core.tick import STATUS_OK

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
SETTINGS = settings(
    max_examples=50 if NO_JIT else 200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REL = 1e-9
RESERVATION_KPIS = ("reservation_requests", "reservations_confirmed", "reservations_rejected",
                    "reservations_served", "no_shows", "reservations_cancelled")  # fmt: skip
# KPIs of the tick's physics; the others come from departures and the next tick's requests
# and arrivals (missed deadlines: the link outages of this tick plus the request rounds)
PHYSICS_KPIS = [
    name
    for name in L.KPI_NAMES
    if name not in ("arrivals", "rejected_arrivals", "departures", "requested_kwh",
                    "delivered_kwh", "unmet_energy_kwh", "unmet_penalty_eur",
                    "missed_deadlines", "outage_unmet_kwh", *RESERVATION_KPIS)
]  # fmt: skip


@st.composite
def episodes(draw, reservation=None, outages=None, max_ticks=5):
    """A random scenario, a random start state and a sequence of random actions.

    Half of the episodes are *stressed*: every EV is there from the start, the station
    batteries are charged and stronger than the grid connections, the households are heavy and
    the feeder tight (often below the households alone), and the actions are mostly "BESS backs
    EV charging" (or the reverse), so the projection's station and feeder rules meet.
    ``reservation`` and ``outages`` (``random_scenario``'s options) are drawn when None.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    n_ticks = draw(st.integers(1, max_ticks))
    stress = draw(st.booleans())
    if reservation is None:
        reservation = draw(st.booleans())
    if outages is None:
        outages = draw(st.booleans())
    scenario = ref.random_scenario(
        np.random.default_rng(seed),
        n_stations=draw(st.integers(1, 3)),
        n_ticks=n_ticks,
        forecast_ticks=draw(st.integers(0, 2)),
        soft=draw(st.booleans()),
        uniform=draw(st.booleans()),
        export=draw(st.booleans()),
        bess_action=stress or draw(st.booleans()),
        dt_h=draw(st.sampled_from([0.25, 1.0, 1 / 12, 3.0])),
        scarce=draw(st.booleans()),
        reservation=reservation,
        outages=outages,
        acn_pilot=draw(st.booleans()),
        degradation=draw(st.booleans()),
    )
    station_f = scenario["station_f"]
    if stress:  # everybody comes at tick 0, as planned; requests at tick 0
        scenario["ev"][[L.EV_ARRIVAL, L.EV_PLANNED_ARRIVAL]] = 0.0
        scenario["ev"][L.EV_REQUEST] = np.minimum(scenario["ev"][L.EV_REQUEST], 0.0)
        station_f[L.ST_BESS_KW] = np.maximum(station_f[L.ST_BESS_KW], 2 * station_f[L.ST_GRID_KW])
        # households big enough to overload the feeder even with every station exporting
        scenario["exo"][L.EXO_HOUSEHOLD_KW] += 2 * station_f[L.ST_GRID_KW].sum()
    if stress or draw(st.booleans()):  # a tight feeder, at times below the households alone
        peak = scenario["exo"][L.EXO_HOUSEHOLD_KW].max()
        grid = station_f[L.ST_GRID_KW].sum()
        fraction = draw(st.floats(0.0, 0.5 if stress else 1.0))
        scenario["cfg"][L.CFG_FEEDER_KW] = fraction * (peak + grid) + 1e-3
    core = ref.CoreSim(scenario)
    core.reset()
    # a random state: override the socs of the plugged EVs and of the BESS
    theta = scenario["cfg"][L.CFG_TRANSITION_SOC]
    soc_values = st.one_of(
        st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, theta, np.nextafter(1.0, 0.0)])
    )
    for c in np.flatnonzero(core.conn[L.CN_OCCUPIED]):
        if draw(st.booleans()):
            core.conn[L.CN_SOC, c] = draw(soc_values)
    for s in range(core.bess_soc.size):
        low, high = station_f[L.ST_BESS_SOC_MIN, s], station_f[L.ST_BESS_SOC_MAX, s]
        soc_values = st.sampled_from([low, high]) | st.floats(low, high)
        core.bess_soc[s] = high if stress else draw(soc_values)
    entry = st.one_of(st.floats(-1.5, 1.5), st.sampled_from([-1.0, 0.0, 1.0]))
    n_conn = scenario["connector_charger"].size
    patterns = st.sampled_from(
        [
            [1.0] * n_conn + [-1.0] * (core.n_actions - n_conn),  # BESS backs EV charging
            [-1.0] * n_conn + [1.0] * (core.n_actions - n_conn),  # V2G into the BESS
        ]
    )
    action = st.lists(entry, min_size=core.n_actions, max_size=core.n_actions)
    actions = draw(
        st.lists(
            patterns | action if stress else action | patterns, min_size=n_ticks, max_size=n_ticks
        )  # fmt: skip
    )
    return scenario, core, [np.array(a, dtype=float) for a in actions]


def _shadow(core):
    """A copy of ``core`` in which no EV departs and the episode does not end this tick."""
    scenario = dict(core.sc)
    scenario["cfg"] = core.sc["cfg"].copy()
    scenario["cfg"][L.CFG_N_TICKS] = 10**6
    shadow = ref.CoreSim(scenario)
    for name in ("conn", "res", "bess_soc", "clock", "kpi", "kpi_total", "station_out", "obs"):
        getattr(shadow, name)[...] = getattr(core, name)
    shadow.conn[L.CN_DEPARTURE] = 10**6
    return shadow


def _close(a, b, scale):
    assert abs(a - b) <= REL * scale, (a, b, scale)


def _check_tick(core, action):
    sc = core.sc
    cfg, station_f, exo = sc["cfg"], sc["station_f"], sc["exo"]
    charger_f, connector_charger = sc["charger_f"], sc["connector_charger"]
    conn_station = sc["charger_station"][connector_charger]
    dt = cfg[L.CFG_DT_H]
    t = int(core.clock[L.CLK_TICK])
    soft = cfg[L.CFG_SOFT_LIMITS] > 0
    before = copy.deepcopy({"conn": core.conn, "bess": core.bess_soc, "total": core.kpi_total})
    occupied = before["conn"][L.CN_OCCUPIED] > 0
    n_st = station_f.shape[1]
    n_ch = charger_f.shape[1]
    outage = sc["outage"]
    charger_down = outage[t, connector_charger] > 0  # per connector
    link_down = outage[t, n_ch : n_ch + n_st] > 0  # per station
    conn_link_down = link_down[conn_station]

    # limits of this tick, from the reference battery model and the state before
    low, high = np.zeros(len(connector_charger)), np.zeros(len(connector_charger))
    for c in np.flatnonzero(occupied):
        x = before["conn"][:, c]
        low[c], high[c] = ref.power_range_kw(
            x[L.CN_SOC], x[L.CN_BATTERY_KWH], x[L.CN_SOC_TARGET], x[L.CN_MAX_KW],
            x[L.CN_MAX_V2G_KW], charger_f[L.CH_EFFICIENCY, connector_charger[c]],
            cfg[L.CFG_TRANSITION_SOC], cfg[L.CFG_V2G_SOC_MIN], dt,
        )  # fmt: skip
    battery_high = high.copy()  # what the EV could take, were its charger up
    low[conn_link_down] = np.maximum(low[conn_link_down], 0.0)  # fallback: no V2G
    low[charger_down] = high[charger_down] = 0.0  # a charger down delivers nothing
    bess_low, bess_high = np.zeros(n_st), np.zeros(n_st)
    for s in np.flatnonzero(station_f[L.ST_BESS_KWH] > 0):
        bess_low[s], bess_high[s] = ref.power_range_kw(
            before["bess"][s], station_f[L.ST_BESS_KWH, s], station_f[L.ST_BESS_SOC_MAX, s],
            station_f[L.ST_BESS_KW, s], station_f[L.ST_BESS_KW, s],
            station_f[L.ST_BESS_EFFICIENCY, s], 1.0, station_f[L.ST_BESS_SOC_MIN, s], dt,
        )  # fmt: skip

    shadow = _shadow(core)
    status, reward = core.step(action)
    shadow_status, _ = shadow.step(action)
    assert status == shadow_status == STATUS_OK
    kpi = {name: core.kpi[i] for i, name in enumerate(L.KPI_NAMES)}
    assert all(np.isfinite(v) for v in kpi.values()) and np.isfinite(reward)
    assert np.all(np.isfinite(core.obs))
    for name in PHYSICS_KPIS:  # departures do not change this tick's physics
        assert_allclose(kpi[name], shadow.kpi[L.KPI[name]], rtol=1e-12, atol=1e-12)
    power = np.where(occupied, shadow.conn[L.CN_POWER_KW], 0.0)
    # every connector keeps the power it drew in the tick, whether its EV left or not
    np.testing.assert_array_equal(core.conn[L.CN_POWER_KW], power)
    bess_kw = core.station_out[L.SO_BESS_KW]
    net = core.station_out[L.SO_NET_KW]
    household_kw = exo[L.EXO_HOUSEHOLD_KW, t]
    power_scale = 1.0 + np.abs(charger_f[L.CH_MAX_KW]).sum() + station_f[L.ST_BESS_KW].sum()
    eps_kw = REL * (power_scale + household_kw + cfg[L.CFG_FEEDER_KW])

    # --- soc stays in [0, 1]; charging stops at the target, discharging at the floors -------
    soc = shadow.conn[L.CN_SOC, occupied]
    soc_before = before["conn"][L.CN_SOC, occupied]
    assert np.all((soc >= 0.0) & (soc <= 1.0))
    assert np.all(soc <= np.maximum(soc_before, before["conn"][L.CN_SOC_TARGET, occupied]) + 1e-12)
    assert np.all(soc >= np.minimum(soc_before, cfg[L.CFG_V2G_SOC_MIN]) - 1e-12)
    assert np.all((core.bess_soc >= 0.0) & (core.bess_soc <= 1.0))
    has_bess = station_f[L.ST_BESS_KWH] > 0
    assert np.all(core.bess_soc[has_bess] >= station_f[L.ST_BESS_SOC_MIN, has_bess] - 1e-12)
    assert np.all(core.bess_soc[has_bess] <= station_f[L.ST_BESS_SOC_MAX, has_bess] + 1e-12)

    # --- no hard limit is exceeded ------------------------------------------------------------
    assert np.all((power >= low - eps_kw) & (power <= high + eps_kw))  # EV curve, connector
    assert np.all((bess_kw >= bess_low - eps_kw) & (bess_kw <= bess_high + eps_kw))
    assert np.all(bess_kw[link_down] == 0.0)  # no link: the BESS idles
    drawn = np.bincount(connector_charger, weights=np.abs(power), minlength=charger_f.shape[1])
    assert np.all(drawn <= charger_f[L.CH_MAX_KW] + eps_kw)  # charger shared by connectors
    assert_allclose(net, np.bincount(conn_station, weights=power, minlength=n_st) + bess_kw,
                    rtol=0, atol=eps_kw)  # fmt: skip
    feeder_excess = household_kw + net.sum() - cfg[L.CFG_FEEDER_KW]
    station_excess = np.maximum(np.abs(net) - station_f[L.ST_GRID_KW], 0.0)
    overload_kw = kpi["overload_kwh"] / dt
    if soft:
        _close(overload_kw, station_excess.sum() + max(feeder_excess, 0.0), eps_kw / REL)
    else:
        assert np.all(station_excess <= eps_kw)  # station grid capacity (+ BESS discharge)
        # feeder: only households and the stations it cannot reach (link down) may overload it
        _close(overload_kw, max(feeder_excess, 0.0), eps_kw / REL)
        if overload_kw > eps_kw:
            reachable = ~link_down & (np.maximum(-net, 0.0) < station_f[L.ST_GRID_KW] - eps_kw)
            consuming = np.bincount(conn_station, weights=np.maximum(power, 0.0), minlength=n_st)
            assert np.all(consuming[reachable] + np.maximum(bess_kw[reachable], 0.0) <= eps_kw)

    # --- outages -----------------------------------------------------------------------------
    efficiency = charger_f[L.CH_EFFICIENCY, connector_charger]
    lost = shadow.conn[L.CN_OUTAGE_KWH] - before["conn"][L.CN_OUTAGE_KWH]
    want = np.where(charger_down & occupied, battery_high * efficiency * dt, 0.0)
    assert_allclose(lost, want, rtol=REL, atol=REL * (1.0 + want.max(initial=0.0)))
    assert np.all(power[charger_down] == 0.0)
    wind_kw = exo[L.EXO_WIND_KW, t] * outage[t, n_ch + n_st]
    _close(kpi["wind_outage_kwh"], wind_kw * dt, 1.0 + wind_kw * dt)
    renewable = exo[L.EXO_RENEWABLE_KW, t] * dt
    _close(kpi["renewable_kwh"] + kpi["wind_outage_kwh"], renewable, 1.0 + renewable)
    assert kpi["missed_deadlines"] >= link_down.sum()
    if not core.sc["cfg"][L.CFG_RESERVATION] > 0:
        assert kpi["missed_deadlines"] == link_down.sum()

    # --- energy balances ----------------------------------------------------------------------
    sources = [
        kpi[k]
        for k in (
            "renewable_kwh",
            "external_energy_kwh",
            "bess_discharge_grid_kwh",
            "ev_discharge_grid_kwh",
        )
    ]
    sinks = [kpi[k] for k in ("household_kwh", "ev_charge_grid_kwh", "bess_charge_grid_kwh",
                              "export_kwh", "curtailed_kwh")]  # fmt: skip
    assert min(sources + sinks) >= 0.0
    _close(sum(sources), sum(sinks), 1.0 + sum(sources) + sum(sinks))
    if cfg[L.CFG_EXPORT] > 0:
        assert kpi["curtailed_kwh"] == 0.0
    else:
        assert kpi["export_kwh"] == 0.0
    ev_grid = kpi["ev_charge_grid_kwh"] - kpi["ev_discharge_grid_kwh"]
    ev_scale = 1.0 + kpi["ev_charge_grid_kwh"] + kpi["ev_discharge_grid_kwh"]
    _close(ev_grid, kpi["ev_energy_kwh"] + kpi["ev_losses_kwh"], ev_scale)
    battery_change = (soc - soc_before) * before["conn"][L.CN_BATTERY_KWH, occupied]
    _close(kpi["ev_energy_kwh"], battery_change.sum(), ev_scale)
    delivered = shadow.conn[L.CN_DELIVERED_KWH] - before["conn"][L.CN_DELIVERED_KWH]
    assert_allclose(delivered[occupied], battery_change, rtol=0, atol=REL * ev_scale)
    bess_grid = kpi["bess_charge_grid_kwh"] - kpi["bess_discharge_grid_kwh"]
    bess_change = ((core.bess_soc - before["bess"]) * station_f[L.ST_BESS_KWH]).sum()
    bess_scale = 1.0 + kpi["bess_charge_grid_kwh"] + kpi["bess_discharge_grid_kwh"]
    _close(bess_grid, bess_change + kpi["bess_losses_kwh"], bess_scale)
    assert kpi["ev_losses_kwh"] >= 0.0 and kpi["bess_losses_kwh"] >= 0.0
    _close(kpi["import_kw"] * dt, kpi["external_energy_kwh"], 1.0 + kpi["external_energy_kwh"])

    # --- market: households first, merit order, consumers vs producers ---------------------
    own = core.station_out[L.SO_OWN_KWH]
    demand = np.maximum(net, 0.0) * dt
    market_scale = 1.0 + kpi["renewable_kwh"] + kpi["household_kwh"] + demand.sum()
    household_own = kpi["own_energy_used_kwh"] - own.sum()
    assert_allclose(core.station_out[L.SO_EXTERNAL_KWH], demand - own, atol=REL * market_scale)
    assert np.all(own >= 0.0) and np.all(own <= demand + REL * market_scale)
    assert -REL * market_scale <= household_own <= kpi["household_kwh"] + REL * market_scale
    if household_own < kpi["household_kwh"] - REL * market_scale:
        assert np.all(own <= REL * market_scale)  # households are served first
    assert np.all(own[link_down] == 0.0)  # no link, no bid: all from the supplier
    supply = kpi["renewable_kwh"] + np.maximum(-net, 0.0).sum() * dt
    surplus = kpi["export_kwh"] + kpi["curtailed_kwh"]
    _close(kpi["own_energy_used_kwh"] + surplus, supply, market_scale)
    if surplus > REL * market_scale:  # own energy left over only when nobody bids for it
        assert kpi["external_energy_kwh"] <= demand[link_down].sum() + REL * market_scale
    stored = np.bincount(conn_station, weights=np.where(occupied, before["conn"][L.CN_SOC]
                         * before["conn"][L.CN_BATTERY_KWH], 0.0), minlength=n_st)  # fmt: skip
    capacity = np.bincount(conn_station, weights=np.where(occupied, before["conn"][
                           L.CN_BATTERY_KWH], 0.0), minlength=n_st)  # fmt: skip
    stored += before["bess"] * station_f[L.ST_BESS_KWH]
    capacity += station_f[L.ST_BESS_KWH]
    start = 1.0 - np.divide(stored, capacity, out=np.zeros(n_st), where=capacity > 0)
    assert_allclose(core.station_out[L.SO_BID_EUR_PER_KWH], start, rtol=REL, atol=REL)
    last_bid = start - np.divide(own, capacity, out=np.zeros(n_st), where=capacity > 0)
    served = own > REL * market_scale
    short = (demand - own > REL * market_scale) & ~link_down
    if served.any() and short.any():  # merit order: a short station never outbid a served one
        assert last_bid[short].max() <= last_bid[served].min() + 1e-9
    paid = kpi["household_payment_eur"] + kpi["station_payment_eur"]
    _close(kpi["station_payment_eur"], core.station_out[L.SO_MARKET_PAYMENT_EUR].sum(),
           1.0 + abs(kpi["station_payment_eur"]))  # fmt: skip
    if cfg[L.CFG_UNIFORM_PRICE] > 0:
        received = kpi["clearing_price_eur_per_kwh"] * kpi["own_energy_used_kwh"]
    else:  # each unit at its bid: households at their bid, stations the area under the curve
        area = np.where(served, start * own - own**2 / (2.0 * np.where(served, capacity, 1.0)),
                        0.0)  # fmt: skip
        received = cfg[L.CFG_HOUSEHOLD_BID] * household_own + area.sum()
    _close(paid, received, market_scale)

    # --- money: reward = its terms ------------------------------------------------------------
    tariff = before["conn"][L.CN_TARIFF]
    money_scale = 1.0 + market_scale + np.abs(power * dt * tariff).sum()
    # drivers pay (and are paid) per kWh into (out of) their batteries
    _close(kpi["revenue_eur"], (np.where(occupied, delivered, 0.0) * tariff).sum(), money_scale)
    stored_change = (core.bess_soc - before["bess"]) * station_f[L.ST_BESS_KWH]
    value = exo[L.EXO_STORAGE_VALUE, t] * station_f[L.ST_BESS_EFFICIENCY]
    _close(kpi["storage_value_eur"], (stored_change * value).sum(), money_scale + bess_scale)
    _close(kpi["energy_cost_eur"], kpi["external_energy_kwh"] * exo[L.EXO_PRICE, t], money_scale)
    _close(kpi["export_revenue_eur"], kpi["export_kwh"] * exo[L.EXO_FEED_IN, t], money_scale)
    _close(kpi["overload_penalty_eur"], kpi["overload_kwh"] * cfg[L.CFG_OVERLOAD_PENALTY],
           money_scale + kpi["overload_kwh"])  # fmt: skip
    _close(kpi["unmet_penalty_eur"], kpi["unmet_energy_kwh"] * cfg[L.CFG_UNMET_PENALTY],
           money_scale + kpi["unmet_energy_kwh"])  # fmt: skip
    # wear: every battery kWh V2G took out of an EV, every kWh into or out of a BESS
    v2g_out_kwh = np.where(occupied, np.maximum(-delivered, 0.0), 0.0).sum()
    wear = v2g_out_kwh * cfg[L.CFG_V2G_DEGRADATION]
    wear += (np.abs(stored_change) * station_f[L.ST_BESS_DEGRADATION]).sum()
    _close(kpi["degradation_cost_eur"], wear, money_scale + bess_scale)
    terms = (kpi["revenue_eur"] - kpi["energy_cost_eur"] + kpi["export_revenue_eur"]
             - kpi["unmet_penalty_eur"] - kpi["overload_penalty_eur"]
             + kpi["storage_value_eur"] - kpi["degradation_cost_eur"])  # fmt: skip
    _close(reward, terms, money_scale + kpi["unmet_penalty_eur"] + kpi["overload_penalty_eur"])

    # --- departures: delivered vs requested -------------------------------------------------
    tick = t + 1
    last = tick >= cfg[L.CFG_N_TICKS]
    leaving = occupied & ((before["conn"][L.CN_DEPARTURE] <= tick) | last)
    assert kpi["departures"] == leaving.sum()
    requested = before["conn"][L.CN_REQUESTED_KWH, leaving]
    delivered_total = shadow.conn[L.CN_DELIVERED_KWH, leaving]
    _close(kpi["requested_kwh"], requested.sum(), 1.0 + requested.sum())
    _close(kpi["delivered_kwh"], delivered_total.sum(), 1.0 + np.abs(delivered_total).sum())
    unmet = np.maximum(requested - delivered_total, 0.0)
    _close(kpi["unmet_energy_kwh"], unmet.sum(),
           1.0 + requested.sum() + np.abs(delivered_total).sum())  # fmt: skip
    outage_unmet = np.minimum(unmet, shadow.conn[L.CN_OUTAGE_KWH, leaving])
    _close(kpi["outage_unmet_kwh"], outage_unmet.sum(), 1.0 + requested.sum())
    stayed = occupied & ~leaving
    assert np.all(core.conn[L.CN_EV, stayed] == before["conn"][L.CN_EV, stayed])
    freed_or_new = core.conn[L.CN_EV, leaving]
    assert np.all(freed_or_new != before["conn"][L.CN_EV, leaving])
    # arrivals: a new EV requests the battery energy to its target, within its charger's limits
    new = (core.conn[L.CN_OCCUPIED] > 0) & (core.conn[L.CN_EV] != before["conn"][L.CN_EV])
    x = core.conn[:, new]
    assert_allclose(x[L.CN_REQUESTED_KWH], np.maximum(x[L.CN_SOC_TARGET] - x[L.CN_SOC], 0.0)
                    * x[L.CN_BATTERY_KWH], rtol=1e-12)  # fmt: skip
    assert np.all(x[L.CN_DELIVERED_KWH] == 0.0)
    assert np.all(x[L.CN_OUTAGE_KWH] == 0.0)
    assert not np.any(outage[tick, connector_charger[new]] > 0)  # plugged into chargers that are up
    rated = charger_f[L.CH_MAX_KW, connector_charger[new]]
    assert np.all(x[L.CN_MAX_KW] <= rated) and np.all(x[L.CN_MAX_V2G_KW] <= rated)
    assert np.all(x[L.CN_MAX_V2G_KW][charger_f[L.CH_V2G, connector_charger[new]] == 0] == 0.0)
    assert np.all(x[L.CN_DEPARTURE] > tick)
    if last:
        assert not core.conn[L.CN_OCCUPIED].any()

    # --- episode totals -----------------------------------------------------------------------
    for i, name in enumerate(L.KPI_NAMES):
        if i in L.KPI_EPISODE_MAX:
            want = max(before["total"][i], kpi[name])
        else:
            want = before["total"][i] + kpi[name]
        _close(core.kpi_total[i], want, 1.0 + abs(before["total"][i]) + abs(kpi[name]))
    check_reservations(core)


def check_reservations(core):
    """Reservation state of ``core`` now (after reset or a step): statuses agree with the KPI
    totals; confirmed reservations sit on chargers that are up, within the driver's price limit
    and energy floor, and neither overlap each other nor a plugged EV; a served EV is plugged
    into its reserved connector (or has left) and pays the agreed price; at the episode end
    nothing is pending or confirmed."""
    sc, res, total = core.sc, core.res, core.kpi_total
    ev, cfg, conn = sc["ev"], sc["cfg"], core.conn
    status = res[L.RS_STATUS]

    def count(*statuses):
        return int(np.isin(status, statuses).sum())

    def kpi(name):
        return total[L.KPI[name]]

    assert kpi("reservation_requests") == len(status) - count(L.RES_NONE)
    assert kpi("reservations_confirmed") == count(
        L.RES_CONFIRMED, L.RES_SERVED, L.RES_EXPIRED, L.RES_CANCELLED
    )
    assert kpi("reservations_rejected") == count(L.RES_REJECTED)
    assert kpi("reservations_served") == count(L.RES_SERVED)
    assert kpi("no_shows") == count(L.RES_EXPIRED)
    assert kpi("reservations_cancelled") == count(L.RES_CANCELLED)
    assert kpi("reservation_requests") == (
        kpi("reservations_confirmed") + kpi("reservations_rejected") + count(L.RES_PENDING)
    )
    if cfg[L.CFG_RESERVATION] <= 0:
        assert kpi("reservation_requests") == 0
    tick = int(core.clock[L.CLK_TICK])
    next_ev = int(core.clock[L.CLK_NEXT_EV])
    arrived = np.arange(len(status)) < next_ev
    assert not np.any(arrived & np.isin(status, [L.RES_CONFIRMED, L.RES_PENDING]))
    assert np.all(ev[L.EV_REQUEST, status != L.RES_NONE] <= tick)
    if core.done:
        assert count(L.RES_CONFIRMED, L.RES_PENDING) == 0
        assert kpi("reservation_requests") == kpi("reservations_confirmed") + kpi(
            "reservations_rejected"
        )
        assert kpi("reservations_confirmed") == (
            kpi("reservations_served") + kpi("no_shows") + kpi("reservations_cancelled")
        )
        return
    need = np.maximum(ev[L.EV_SOC_TARGET] - ev[L.EV_SOC_ARRIVAL], 0.0) * ev[L.EV_BATTERY_KWH]
    holds = {}  # connector -> [(start, end)] of plugged EVs and confirmed reservations
    for c in np.flatnonzero(conn[L.CN_OCCUPIED]):
        holds.setdefault(c, []).append((tick, conn[L.CN_DEPARTURE, c]))
    for e in np.flatnonzero(status == L.RES_CONFIRMED):
        c = int(res[L.RS_CONNECTOR, e])
        assert sc["outage"][tick, sc["connector_charger"][c]] == 0.0  # re-offered when down
        assert tick <= ev[L.EV_PLANNED_ARRIVAL, e] + cfg[L.CFG_GRACE_TICKS]
        assert res[L.RS_PRICE, e] <= ev[L.EV_MAX_PRICE, e]
        assert res[L.RS_ENERGY_KWH, e] >= cfg[L.CFG_MIN_ENERGY_FRACTION] * need[e] - 1e-12
        assert res[L.RS_ENERGY_KWH, e] <= need[e] + 1e-12
        holds.setdefault(c, []).append((ev[L.EV_PLANNED_ARRIVAL, e], ev[L.EV_DEPARTURE, e]))
    for c, spans in holds.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start, (c, spans)
    for e in np.flatnonzero(status == L.RES_SERVED):
        c = int(res[L.RS_CONNECTOR, e])
        if conn[L.CN_EV, c] == e:
            assert conn[L.CN_TARIFF, c] == res[L.RS_PRICE, e]
    for e in np.flatnonzero(np.isin(status, [L.RES_EXPIRED, L.RES_CANCELLED, L.RES_REJECTED])):
        assert res[L.RS_CONNECTOR, e] == -1


@SETTINGS
@given(episodes())
def test_every_tick_keeps_soc_limits_and_balances(episode):
    _, core, actions = episode
    for action in actions:
        _check_tick(core, action)
    assert core.done
