"""The flexibility of the plugged-in fleet: the power range of the coming tick and the energy
envelope ahead (seed 004's end use: what an aggregator can offer on the energy market).

Grid-side energy, kWh, positive when the fleet draws. For each plugged-in EV (energy ``E``,
capacity ``Q``, target energy ``T``, charging limit ``P`` of EV and charger, charger
efficiency ``eta``, ``D`` ticks until it leaves, at its departure or the episode's end):

- its **goal**: what it must hold when it leaves to leave no unmet energy (its arrival
  energy plus its requested energy);
- the **most** it can take in the next ``h`` ticks: what full power adds in ``min(h, D)``
  ticks (the exact CC-CV curve, :func:`~evgrid_gym.core.battery.max_charge_energy_kwh`), at
  most ``T - E``. No schedule adds more: the curve's gain falls as the soc rises,
  so energy held back now is never made up later. With V2G, a schedule can also draw more
  from the grid by cycling energy through the battery (out by V2G, back in), which burns
  ``1 / eta^2 - 1`` of it: those losses, at most for the V2G power over all but one of the
  ``h`` ticks (and all of it at most ``P`` for ``h`` ticks), count too;
- the **least** it must take in the next ``h`` ticks: ``s* Q - E``, with ``s*`` the soc
  from which full power still reaches the goal in the ``D - h`` ticks left
  (:func:`~evgrid_gym.core.battery.full_power_start_soc`), never more than the most (a goal
  full power cannot reach by the departure asks for full power all along: the EV's goal is
  then what full power reaches); with V2G (EV and charger) it may first give back down to
  that, at most what the V2G limit gives in ``min(h, D)`` ticks to its soc floor. A battery
  gain ``x >= 0`` needs ``x / eta`` from the grid, a loss ``-x`` gives the grid ``x eta``.

The fleet's **envelope** (:func:`fleet_envelope`): the upper edge adds up the EVs' most,
capped by each charger's power, each station's grid capacity plus what its BESS can give
(``min(BESS kW, energy above soc_min)``), and the feeder limit less the household load (hard
limits only); the lower edge adds up the EVs' least, each charger's and station's V2G capped
the same way. Every schedule stays within it (the upper edge always, the lower edge when it
brings every EV to its goal), and charging as late as possible follows the lower edge; the
lower edge above the upper one means the fleet cannot bring every EV to its goal. The
envelope assumes every component stays up (outages ahead are not known); the coming tick's
**power range** (:func:`power_range_kw`) is its first tick with the outages of that tick (a
charger down gives nothing, a station whose link is down runs its fallback, its BESS idle).
"""

from evgrid_gym.core.battery import (
    full_power_start_soc,
    max_charge_energy_kwh,
    max_discharge_energy_kwh,
)
from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    CFG_BESS_ACTION,
    CFG_DT_H,
    CFG_FEEDER_KW,
    CFG_N_TICKS,
    CFG_SOFT_LIMITS,
    CFG_TRANSITION_SOC,
    CFG_V2G_SOC_MIN,
    CH_EFFICIENCY,
    CH_FALLBACK_KW,
    CH_MAX_KW,
    CLK_TICK,
    CN_BATTERY_KWH,
    CN_DELIVERED_KWH,
    CN_DEPARTURE,
    CN_MAX_KW,
    CN_MAX_V2G_KW,
    CN_OCCUPIED,
    CN_REQUESTED_KWH,
    CN_SOC,
    CN_SOC_TARGET,
    EXO_HOUSEHOLD_KW,
    ST_BESS_EFFICIENCY,
    ST_BESS_KW,
    ST_BESS_KWH,
    ST_BESS_SOC_MAX,
    ST_BESS_SOC_MIN,
    ST_GRID_KW,
)


def workspace_size(n_chargers, n_stations):
    """Length of the float64 work space of :func:`power_range_kw` and :func:`fleet_envelope`."""
    return 3 * n_chargers + 2 * n_stations


def tick_flexibility_kw(ev_charge_grid_kwh, ev_discharge_grid_kwh, dt_h, low_kw, high_kw):
    """``(drawn_kw, up_kw, down_kw)``: the fleet's average grid power in the tick just stepped
    and how much more and how much less it could have drawn, kW, from the tick's grid-side
    EV energies (KPIs ``ev_charge_grid_kwh``, ``ev_discharge_grid_kwh``, kWh) and its power
    range ``low_kw``, ``high_kw`` (:func:`power_range_kw` at the tick's start). Scalars or
    arrays of one shape (one entry per env of a vector env)."""
    drawn_kw = (ev_charge_grid_kwh - ev_discharge_grid_kwh) / dt_h
    return drawn_kw, high_kw - drawn_kw, drawn_kw - low_kw


@kernel
def ev_edges_kwh(cfg, charger_f, k, conn, c, tick, h):
    """``(least, most)``: the grid energy the EV on connector ``c`` (charger ``k``) must and
    can take in the next ``h`` ticks from ``tick``, kWh (see the module docstring)."""
    dt_h = cfg[CFG_DT_H]
    efficiency = charger_f[CH_EFFICIENCY, k]
    transition_soc = cfg[CFG_TRANSITION_SOC]
    capacity_kwh = conn[CN_BATTERY_KWH, c]
    soc = conn[CN_SOC, c]
    energy_kwh = soc * capacity_kwh
    power_kw = conn[CN_MAX_KW, c]
    stay = max(min(conn[CN_DEPARTURE, c], cfg[CFG_N_TICKS]) - tick, 1.0)
    n = min(h, stay)
    room_kwh = max(conn[CN_SOC_TARGET, c] * capacity_kwh - energy_kwh, 0.0)
    most_kwh = min(
        max_charge_energy_kwh(soc, capacity_kwh, power_kw, efficiency, transition_soc, n * dt_h),
        room_kwh,
    )
    goal_kwh = energy_kwh - conn[CN_DELIVERED_KWH, c] + conn[CN_REQUESTED_KWH, c]
    start_soc = full_power_start_soc(
        goal_kwh / capacity_kwh, capacity_kwh, power_kw, efficiency, transition_soc,
        (stay - n) * dt_h,
    )  # fmt: skip
    give_kwh = max_discharge_energy_kwh(
        soc, capacity_kwh, conn[CN_MAX_V2G_KW, c], efficiency, cfg[CFG_V2G_SOC_MIN], n * dt_h
    )
    # never more than full power gives: a goal beyond its reach asks for full power all along
    least_kwh = min(max(start_soc * capacity_kwh - energy_kwh, -give_kwh), most_kwh)
    least_grid_kwh = least_kwh / efficiency if least_kwh >= 0.0 else least_kwh * efficiency
    most_grid_kwh = most_kwh / efficiency
    cycle_kwh = conn[CN_MAX_V2G_KW, c] * (n - 1.0) * dt_h  # V2G out, then charged back in
    if cycle_kwh > 0.0:
        losses_kwh = cycle_kwh * (1.0 / efficiency**2 - 1.0)
        most_grid_kwh = min(most_grid_kwh + losses_kwh, power_kw * n * dt_h)
    return least_grid_kwh, most_grid_kwh


@kernel
def _bess_kwh(cfg, station_f, bess_soc, s, hours):
    """``(give, take)``: grid energy station ``s``'s BESS can give and take in ``hours``
    (none without BESS control)."""
    capacity_kwh = station_f[ST_BESS_KWH, s]
    if capacity_kwh <= 0.0 or cfg[CFG_BESS_ACTION] == 0.0:
        return 0.0, 0.0
    limit_kwh = station_f[ST_BESS_KW, s] * hours
    efficiency = station_f[ST_BESS_EFFICIENCY, s]
    above_kwh = max(bess_soc[s] - station_f[ST_BESS_SOC_MIN, s], 0.0) * capacity_kwh
    below_kwh = max(station_f[ST_BESS_SOC_MAX, s] - bess_soc[s], 0.0) * capacity_kwh
    return min(limit_kwh, above_kwh * efficiency), min(limit_kwh, below_kwh / efficiency)


@kernel
def fleet_edges_kwh(
    cfg, connector_charger, charger_f, charger_station, station_f, outage, bess_soc, conn, tick, h,
    now, feeder_kwh, work,
):  # fmt: skip
    """``(least, most)`` grid energy the plugged-in fleet must and can take in the next ``h``
    ticks, kWh: the EVs' edges (:func:`ev_edges_kwh`) capped by chargers, stations and
    ``feeder_kwh`` (the feeder's energy left for the fleet in those ticks). With ``now``
    (``h = 1``), the outages of ``tick`` apply. ``work``: :func:`workspace_size` float64."""
    n_ch = charger_f.shape[1]
    n_st = station_f.shape[1]
    most = work[:n_ch]
    must = work[n_ch : 2 * n_ch]  # what EVs must charge
    may_give = work[2 * n_ch : 3 * n_ch]  # what V2G EVs may give
    station_most = work[3 * n_ch : 3 * n_ch + n_st]
    station_least = work[3 * n_ch + n_st : 3 * n_ch + 2 * n_st]
    most[:] = 0.0
    must[:] = 0.0
    may_give[:] = 0.0
    station_most[:] = 0.0
    station_least[:] = 0.0
    dt_h = cfg[CFG_DT_H]
    hours = h * dt_h
    for c in range(conn.shape[1]):
        if conn[CN_OCCUPIED, c] == 0.0:
            continue
        k = connector_charger[c]
        least_kwh, most_kwh = ev_edges_kwh(cfg, charger_f, k, conn, c, tick, h)
        if now and outage[tick, k] > 0.0:
            least_kwh = most_kwh = 0.0
        elif now and outage[tick, n_ch + charger_station[k]] > 0.0:
            least_kwh = most_kwh = min(charger_f[CH_FALLBACK_KW, k] * dt_h, most_kwh)
        most[k] += most_kwh
        if least_kwh >= 0.0:
            must[k] += least_kwh
        else:
            may_give[k] -= least_kwh
    for k in range(n_ch):
        s = charger_station[k]
        limit_kwh = charger_f[CH_MAX_KW, k] * hours
        station_most[s] += min(most[k], limit_kwh)
        station_least[s] += must[k] - min(may_give[k], max(limit_kwh - must[k], 0.0))
    soft = cfg[CFG_SOFT_LIMITS] > 0.0
    least_kwh = most_kwh = bess_give_kwh = 0.0
    for s in range(n_st):
        give_kwh, take_kwh = _bess_kwh(cfg, station_f, bess_soc, s, hours)
        if now and outage[tick, n_ch + s] > 0.0:
            give_kwh = take_kwh = 0.0
        bess_give_kwh += give_kwh
        grid_kwh = station_f[ST_GRID_KW, s] * hours
        if soft:
            most_kwh += station_most[s]
            least_kwh += station_least[s]
        else:
            most_kwh += min(station_most[s], grid_kwh + give_kwh)
            least_kwh += max(station_least[s], -(grid_kwh + take_kwh))
    if not soft:
        most_kwh = min(most_kwh, feeder_kwh + bess_give_kwh)
    return least_kwh, most_kwh


@kernel
def power_range_kw(
    cfg, connector_charger, charger_f, charger_station, station_f, exo, outage, bess_soc, conn,
    tick, work,
):  # fmt: skip
    """``(low_kw, high_kw)``: the least and the most average grid power the plugged-in fleet
    must and can draw in the coming tick ``tick`` (its outages included; see the module
    docstring)."""
    dt_h = cfg[CFG_DT_H]
    feeder_kwh = max(cfg[CFG_FEEDER_KW] - exo[EXO_HOUSEHOLD_KW, tick], 0.0) * dt_h
    least_kwh, most_kwh = fleet_edges_kwh(
        cfg, connector_charger, charger_f, charger_station, station_f, outage, bess_soc, conn, tick,
        1, True, feeder_kwh, work,
    )  # fmt: skip
    return least_kwh / dt_h, most_kwh / dt_h


@kernel
def fleet_envelope(
    cfg, connector_charger, charger_f, charger_station, station_f, exo, outage, bess_soc, conn,
    tick, least_kwh, most_kwh, work,
):  # fmt: skip
    """The envelope of the plugged-in fleet from ``tick`` on: ``least_kwh[h - 1]`` and
    ``most_kwh[h - 1]`` (shape (H,), written) are the grid energy it must and can take by the
    end of tick ``tick + h - 1``, kWh; ``H <= CFG_N_TICKS - tick``."""
    dt_h = cfg[CFG_DT_H]
    feeder_kwh = 0.0
    for h in range(1, least_kwh.shape[0] + 1):
        feeder_kwh += max(cfg[CFG_FEEDER_KW] - exo[EXO_HOUSEHOLD_KW, tick + h - 1], 0.0) * dt_h
        least_kwh[h - 1], most_kwh[h - 1] = fleet_edges_kwh(
            cfg, connector_charger, charger_f, charger_station, station_f, outage, bess_soc, conn,
            tick, h, False, feeder_kwh, work,
        )  # fmt: skip


@kernel
def power_range_batch_kw(
    cfg, connector_charger, charger_f, charger_station, station_f, exo, outage, bess_soc, conn,
    clock, envs, range_kw, work,
):  # fmt: skip
    """:func:`power_range_kw` of each env in ``envs`` (int64 indices) of a vector env (arrays
    with a leading env axis; ``clock`` (N, N_CLOCK)), written to ``range_kw[i] = (low,
    high)``, shape (N, 2)."""
    for i in envs:
        range_kw[i, 0], range_kw[i, 1] = power_range_kw(
            cfg, connector_charger, charger_f, charger_station, station_f, exo[i], outage[i],
            bess_soc[i], conn[i], clock[i, CLK_TICK], work,
        )  # fmt: skip
