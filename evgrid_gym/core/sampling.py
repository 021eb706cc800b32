"""Session sampling kernels: one compiled call turns an episode's random numbers into its EVs.

The caller draws the random numbers with NumPy from the env's ``numpy.random.Generator``
(a couple of calls per episode, see :class:`~evgrid_gym.arrivals.ElaadArrivals`) and hands
plain arrays to these kernels: handing a ``Generator`` to numba costs tens of microseconds
per call, which the vector env, where a thousand envs reset every episode, cannot afford.
"""

import math

import numpy as np

from evgrid_gym.core.battery import max_charge_energy_kwh
from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    EV_ARRIVAL,
    EV_BATTERY_KWH,
    EV_CONNECTOR,
    EV_DEPARTURE,
    EV_MAX_AC_KW,
    EV_MAX_DC_KW,
    EV_MAX_PRICE,
    EV_MAX_V2G_KW,
    EV_PLANNED_ARRIVAL,
    EV_REQUEST,
    EV_SOC_ARRIVAL,
    EV_SOC_TARGET,
    EV_STATION,
    EV_TARIFF,
    EV_USER,
    EV_X_KM,
    EV_Y_KM,
    N_EV_FIELDS,
)
from evgrid_gym.core.sort import search_right

SESSION_UNIFORMS = 4
"""Uniform numbers one ElaadNL session takes: arrival quarter, time in it, stay, demand."""
EV_UNIFORMS = SESSION_UNIFORMS + 2
"""Uniform numbers one EV of an episode takes: its session, its model, its target soc."""


@kernel
def inverse_cdf(u, levels, values):
    """The quantile table ``values`` at the CDF levels ``levels`` (both shape (Q,), ``levels``
    increasing from 0 to 1) read at ``u`` in [0, 1), linear between levels: ``np.interp``'s
    result, without its array set-up (which costs numba ~0.4 us per scalar call)."""
    j = search_right(levels, u) - 1
    slope = (values[j + 1] - values[j]) / (levels[j + 1] - levels[j])
    return slope * (u - levels[j]) + values[j]


@kernel
def draw_elaad_session(u, arrival_cdf, quantile_probability, connection_h, energy_kwh):
    """One ElaadNL session from ``SESSION_UNIFORMS`` uniform numbers ``u`` in [0, 1):
    ``(arrival_h, stay_h, demand_kwh)``.

    The arrival quarter hour from the cumulative shares ``arrival_cdf`` (shape (96,)),
    uniform within the quarter; connection time (at least 15 min) and energy demand by
    inverse-CDF sampling of their quantile tables at the levels ``quantile_probability``,
    linear between levels; all independent.
    """
    quarter = search_right(arrival_cdf, u[0])
    arrival_h = (min(quarter, 95) + u[1]) * 0.25
    stay_h = max(inverse_cdf(u[2], quantile_probability, connection_h), 0.25)
    demand_kwh = inverse_cdf(u[3], quantile_probability, energy_kwh)
    return arrival_h, stay_h, demand_kwh


@kernel
def draw_elaad_sessions(u, weekend, arrival_cdf, quantile_probability, connection_h, energy_kwh):
    """``len(weekend)`` sessions of :func:`draw_elaad_session`, session ``i`` from the uniform
    numbers ``u[i]`` (shape (n, SESSION_UNIFORMS)); ``weekend`` (bool, shape (n,)) picks the
    row of ``arrival_cdf`` (shape (2, 96): weekday, weekend) per session.

    Returns:
        ``(arrival_h, stay_h, demand_kwh)``, each shape (n,).
    """
    n = weekend.shape[0]
    arrival_h, stay_h, demand_kwh = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        arrival_h[i], stay_h[i], demand_kwh[i] = draw_elaad_session(
            u[i], arrival_cdf[1 if weekend[i] else 0], quantile_probability, connection_h,
            energy_kwh,
        )  # fmt: skip
    return arrival_h, stay_h, demand_kwh


@kernel
def sample_elaad_sessions(
    counts,
    u,
    first_day_of_week,
    arrival_cdf,
    quantile_probability,
    connection_h,
    energy_kwh,
    fleet_cdf,
    fleet_specs,
    soc_target_low,
    soc_target_high,
    dt_h,
    n_ticks,
    tariff_eur_per_kwh,
):
    """EV sessions of an episode from ElaadNL statistics, in draw order (the caller sorts
    them by arrival, :func:`evgrid_gym.arrivals.sorted_by_arrival`: a sort compiled here would
    add a second to the first run's compile time).

    ``counts[d, s]`` EVs arrive at station ``s`` on day ``d``; they take the rows of ``u`` in
    that order (day by day, station by station), one row each: a session of
    :func:`draw_elaad_session` with the day's (weekday or weekend) arrival profile, an EV
    model from ``fleet_cdf``, a target soc uniform in ``[soc_target_low, soc_target_high]``
    and the arrival soc ``energy / battery`` below it (0 when the demand is larger).
    Sessions are cut at the episode end.

    Args:
        counts: EVs per day and station, int64, shape (n_days, S), n_days covering
            ``n_ticks``.
        u: uniform numbers in [0, 1), shape (counts.sum(), EV_UNIFORMS).
        first_day_of_week: day of week of the episode's first day, Monday = 0.
        arrival_cdf: cumulative arrival shares per quarter hour, shape (2, 96): weekday,
            weekend.
        quantile_probability: CDF levels of the quantile tables, shape (Q,), increasing.
        connection_h, energy_kwh: the quantile tables at those levels, shape (Q,).
        fleet_cdf: cumulative shares of the EV models, shape (M,), last entry 1.
        fleet_specs: battery kWh, max AC kW, max DC kW, max V2G kW, shape (4, M).
        dt_h: tick length, hours.
        n_ticks: episode length, ticks.

    Returns:
        The EV table, shape (N_EV_FIELDS, n) (``core.layout.EV_*``).
    """
    ticks_per_day = int(round(24.0 / dt_h))
    table = np.empty((N_EV_FIELDS, u.shape[0]))
    k = n = 0
    for d in range(counts.shape[0]):
        weekend = 1 if (first_day_of_week + d) % 7 >= 5 else 0
        for s in range(counts.shape[1]):
            for _ in range(counts[d, s]):
                uk = u[k]
                k += 1
                arrival_h, stay_h, demand_kwh = draw_elaad_session(
                    uk, arrival_cdf[weekend], quantile_probability, connection_h, energy_kwh
                )
                model = search_right(fleet_cdf, uk[SESSION_UNIFORMS])
                soc_target = soc_target_low + (soc_target_high - soc_target_low) * uk[-1]
                arrival = d * ticks_per_day + np.floor(arrival_h / dt_h)
                if arrival >= n_ticks:
                    continue
                table[EV_ARRIVAL, n] = arrival
                table[EV_DEPARTURE, n] = min(arrival + max(round(stay_h / dt_h), 1), n_ticks)
                table[EV_STATION, n] = s
                table[EV_CONNECTOR, n] = -1.0
                table[EV_BATTERY_KWH, n] = fleet_specs[0, model]
                table[EV_MAX_AC_KW, n] = fleet_specs[1, model]
                table[EV_MAX_DC_KW, n] = fleet_specs[2, model]
                table[EV_MAX_V2G_KW, n] = fleet_specs[3, model]
                table[EV_SOC_TARGET, n] = soc_target
                table[EV_SOC_ARRIVAL, n] = max(soc_target - demand_kwh / fleet_specs[0, model], 0.0)
                table[EV_TARIFF, n] = tariff_eur_per_kwh
                table[EV_USER, n] = -1.0
                n += 1
    return table[:, :n]


REQUEST_UNIFORMS = 7
"""Uniform numbers one EV's reservation request takes: a station (for an EV without one), two
for its origin, its price limit, no-show, late, and the delay."""


@kernel
def plan_requests(
    ev,
    u,
    station_xy_km,
    lead_ticks,
    origin_spread_km,
    max_price_low,
    max_price_high,
    no_show_probability,
    late_probability,
    late_mean_ticks,
):
    """Sets the reservation fields of the EV table ``ev`` (N_EV_FIELDS, n) in place, and its
    arrival to the actual one (no-shows: +inf); the caller sorts it by arrival again.

    The rules are :class:`~evgrid_gym.reservation_requests.RequestPlanner`'s; EV ``e`` takes the
    uniform numbers ``u[e]`` in [0, 1) (shape (n, REQUEST_UNIFORMS)): its origin is normal
    around its station (Box-Muller transform of two of them), its delay exponential (inverse
    CDF), at least one tick. ``station_xy_km``: station locations, shape (2, S).
    """
    n_stations = station_xy_km.shape[1]
    for e in range(ev.shape[1]):
        ue = u[e]
        planned = ev[EV_ARRIVAL, e]
        ev[EV_PLANNED_ARRIVAL, e] = planned
        ev[EV_REQUEST, e] = max(planned - lead_ticks, 0.0)
        s = int(ev[EV_STATION, e])
        if s < 0:
            s = min(int(ue[0] * n_stations), n_stations - 1)
        radius_km = origin_spread_km * math.sqrt(-2.0 * math.log(1.0 - ue[1]))
        ev[EV_X_KM, e] = station_xy_km[0, s] + radius_km * math.cos(2.0 * math.pi * ue[2])
        ev[EV_Y_KM, e] = station_xy_km[1, s] + radius_km * math.sin(2.0 * math.pi * ue[2])
        ev[EV_MAX_PRICE, e] = max_price_low + (max_price_high - max_price_low) * ue[3]
        arrival = planned
        if ue[5] < late_probability:
            arrival += max(math.ceil(-late_mean_ticks * math.log(1.0 - ue[6])), 1.0)
        if ue[4] < no_show_probability or arrival >= ev[EV_DEPARTURE, e]:
            arrival = np.inf
        ev[EV_ARRIVAL, e] = arrival


# --- archetype populations (seed 004) ------------------------------------------------------
# archetype parameters, shape (N_AR_FIELDS, A); a field with a weekday and a weekend value
# has the weekend one at index + 1
AR_PROBABILITY = 0  # probability that a user plugs in on a weekday (+1: weekend day)
AR_PLUG_IN = 2  # distribution (row of the tables) of the plug-in clock time, h; -1 = none
AR_END = 4  # distribution of the plug-out clock time or of the stay, h
AR_STAY = 6  # 1.0: AR_END is a stay in hours, 0.0: a plug-out clock time
AR_OVERNIGHT = 8  # 1.0: a plug-out at or before the plug-in is on the next day
AR_SOC = 10  # distribution of the plug-in soc (or of the energy demand, AR_SOC_FROM_DEMAND)
AR_SOC_FROM_DEMAND = 11  # 1.0: AR_SOC draws kWh and the user arrives that much below target
AR_SOC_TARGET = 12
AR_BATTERY_KWH = 13
AR_MAX_KW = 14  # the car's charging limit, kW (AC and DC)
AR_V2G_KW = 15
AR_DRIVING_KWH = 16  # energy driven per day, kWh; NaN: the plug-in soc is drawn every time
N_AR_FIELDS = 17
# per-user parameters, shape (N_US_FIELDS, n_users)
US_ARCHETYPE = 0
US_STATION = 1
US_CONNECTOR = 2  # the connector the user asks for
US_CHARGE_KW = 3  # what its connector gives its car at full power, kW (charger and car)
US_EFFICIENCY = 4  # that connector's charger efficiency
N_US_FIELDS = 5
# distributions, shape (N_DI_FIELDS, D), with tables levels/values of shape (D, Q)
DI_NORMAL = 0  # 1.0: normal (DI_MEAN, DI_STD); 0.0: the inverse-CDF table
DI_MEAN = 1
DI_STD = 2
N_DI_FIELDS = 3

USER_DAY_UNIFORMS = 7
"""Uniform numbers one user takes per day: plugs in or not, plug-in time (2), plug-out time
or stay (2), plug-in soc (2); a normal draw takes two (Box-Muller), a table one."""


@kernel
def draw_distribution(dist, levels, values, d, u1, u2):
    """A draw of distribution ``d`` from two uniform numbers in [0, 1): normal by the
    Box-Muller transform, else the inverse-CDF table ``levels[d]``, ``values[d]``
    (:func:`inverse_cdf`; tables are padded with trailing levels of 1)."""
    if dist[DI_NORMAL, d] > 0.0:
        radius = math.sqrt(-2.0 * math.log(1.0 - u1))
        return dist[DI_MEAN, d] + dist[DI_STD, d] * radius * math.cos(2.0 * math.pi * u2)
    return inverse_cdf(u1, levels[d], values[d])


@kernel
def _clock_h(hours):
    """``hours`` wrapped into a clock time in [0, 24)."""
    return hours - 24.0 * math.floor(hours / 24.0)


@kernel
def _plug_in_soc(archetype, dist, levels, values, u1, u2):
    """A drawn plug-in soc: the draw itself, or the target less a drawn energy demand, in
    [0, target]."""
    target = archetype[AR_SOC_TARGET]
    drawn = draw_distribution(dist, levels, values, int(archetype[AR_SOC]), u1, u2)
    if archetype[AR_SOC_FROM_DEMAND] > 0.0:
        drawn = target - drawn / archetype[AR_BATTERY_KWH]
    return min(max(drawn, 0.0), target)


@kernel
def _session_h(archetype, weekend, dist, levels, values, uu):
    """``(plug_in_h, plug_out_h)`` of a session on a day, hours after that day's midnight."""
    plug_in_h = _clock_h(
        draw_distribution(dist, levels, values, int(archetype[AR_PLUG_IN + weekend]), uu[1], uu[2])
    )
    end_h = draw_distribution(dist, levels, values, int(archetype[AR_END + weekend]), uu[3], uu[4])
    if archetype[AR_STAY + weekend] > 0.0:
        return plug_in_h, plug_in_h + end_h
    plug_out_h = _clock_h(end_h)
    if plug_out_h <= plug_in_h and archetype[AR_OVERNIGHT + weekend] > 0.0:
        plug_out_h += 24.0
    return plug_in_h, plug_out_h


@kernel
def sample_archetype_sessions(
    u, first_day_of_week, users, archetypes, dist, levels, values, dt_h, n_ticks,
    transition_soc, tariff_eur_per_kwh,
):  # fmt: skip
    """The sessions of a population of archetype users over an episode, user by user in
    time order (the caller sorts them by arrival).

    Day ``i`` of ``u`` is day ``i - 1`` of the episode: sessions of the day before that
    last past midnight are plugged in at tick 0 (with a drawn soc). On each day a user
    plugs in with its archetype's probability for the kind of day (weekday, weekend), at a
    drawn clock time, until a drawn plug-out time or after a drawn stay (at least one tick;
    both rounded down to the tick grid); not while its previous session lasts. Its soc at
    plug-in is drawn (:func:`_plug_in_soc`) for its first session and whenever its archetype
    has no ``AR_DRIVING_KWH``; else it is the soc its previous session left it at, less the
    energy driven per day in between (at least 0). A session is taken to leave the car at
    its target, or where charging at full power on its connector (``US_CHARGE_KW``, exact
    CC-CV curve, :func:`~evgrid_gym.core.battery.max_charge_energy_kwh`) gets it by the
    plug-out, whichever is lower: sessions are drawn before the episode, whatever a policy
    then delivers.

    Args:
        u: uniform numbers in [0, 1), shape (n_users, n_days + 1, USER_DAY_UNIFORMS).
        first_day_of_week: day of week of the episode's first day, Monday = 0.
        users: per-user parameters, shape (N_US_FIELDS, n_users).
        archetypes: archetype parameters, shape (N_AR_FIELDS, A).
        dist, levels, values: the distributions (:func:`draw_distribution`).
        dt_h: tick length, h; n_ticks: episode length, ticks.

    Returns:
        The EV table, shape (N_EV_FIELDS, n) (``core.layout.EV_*``).
    """
    ticks_per_day = round(24.0 / dt_h)
    table = np.empty((N_EV_FIELDS, u.shape[0] * u.shape[1]))
    n = 0
    for user in range(u.shape[0]):
        archetype = archetypes[:, int(users[US_ARCHETYPE, user])]
        battery_kwh = archetype[AR_BATTERY_KWH]
        target = archetype[AR_SOC_TARGET]
        free_from = -math.inf  # tick its previous session ended
        soc_left = math.nan  # soc its previous session left it at
        for i in range(u.shape[1]):
            uu = u[user, i]
            day = i - 1
            weekend = 1 if (first_day_of_week + day) % 7 >= 5 else 0
            if uu[0] >= archetype[AR_PROBABILITY + weekend]:
                continue
            plug_in_h, plug_out_h = _session_h(archetype, weekend, dist, levels, values, uu)
            arrival = day * ticks_per_day + math.floor(plug_in_h / dt_h)
            departure = max(day * ticks_per_day + math.floor(plug_out_h / dt_h), arrival + 1)
            if arrival < free_from or departure <= 0 or arrival >= n_ticks:
                continue
            arrival = max(arrival, 0)
            departure = min(departure, n_ticks)
            if math.isnan(soc_left) or math.isnan(archetype[AR_DRIVING_KWH]):
                soc = _plug_in_soc(archetype, dist, levels, values, uu[5], uu[6])
            else:
                driven_kwh = archetype[AR_DRIVING_KWH] * (arrival - free_from) / ticks_per_day
                soc = max(soc_left - driven_kwh / battery_kwh, 0.0)
            gain_kwh = max_charge_energy_kwh(
                soc, battery_kwh, users[US_CHARGE_KW, user], users[US_EFFICIENCY, user],
                transition_soc, (departure - arrival) * dt_h,
            )  # fmt: skip
            soc_left = max(min(soc + gain_kwh / battery_kwh, target), soc)
            free_from = departure
            table[EV_ARRIVAL, n] = arrival
            table[EV_DEPARTURE, n] = departure
            table[EV_STATION, n] = users[US_STATION, user]
            table[EV_CONNECTOR, n] = users[US_CONNECTOR, user]
            table[EV_BATTERY_KWH, n] = battery_kwh
            table[EV_MAX_AC_KW, n] = archetype[AR_MAX_KW]
            table[EV_MAX_DC_KW, n] = archetype[AR_MAX_KW]
            table[EV_MAX_V2G_KW, n] = archetype[AR_V2G_KW]
            table[EV_SOC_ARRIVAL, n] = soc
            table[EV_SOC_TARGET, n] = target
            table[EV_TARIFF, n] = tariff_eur_per_kwh
            table[EV_USER, n] = user
            n += 1
    return table[:, :n]
