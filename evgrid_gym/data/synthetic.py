"""Synthetic exogenous profiles and EV sessions, drawn from the env's seeded generator.

These are stand-ins for the real data loaders (ACN-Data sessions, day-ahead prices, NREL
wind, SimBench households): simple, documented models with the right daily shape and scale.
Every function takes a ``numpy.random.Generator`` and never touches the global ``np.random``.
"""

from __future__ import annotations

import numpy as np

from evgrid_gym.config import EVConfig
from evgrid_gym.core.layout import (
    EV_ARRIVAL,
    EV_BATTERY_KWH,
    EV_DEPARTURE,
    EV_MAX_AC_KW,
    EV_MAX_DC_KW,
    EV_MAX_V2G_KW,
    EV_SOC_ARRIVAL,
    EV_SOC_TARGET,
    EV_STATION,
    EV_TARIFF,
    N_EV_FIELDS,
)

WIND_CORRELATION_H = 6.0  # e-folding time of wind-speed anomalies (typical synoptic scale)
HOUSEHOLD_NOISE = 0.3  # household load varies by at most +-30 % around its daily shape
PRICE_NOISE = 0.1  # relative standard deviation of the synthetic day-ahead price
PRICE_MAX_FACTOR = 2.0  # synthetic prices lie in [0, 2 x mean]
ARRIVAL_PEAKS_H = ((8.0, 1.5, 0.5), (17.5, 2.0, 0.5))  # (mean h, std h, weight) of arrivals
DWELL_SIGMA = 0.5  # log-normal shape of the dwell time


def hour_of_day(n_ticks: int, dt_h: float) -> np.ndarray:
    return (np.arange(n_ticks) * dt_h) % 24.0


def wind_speed_m_s(
    rng: np.random.Generator, n_ticks: int, dt_h: float, mean_m_s: float, variability: float
) -> np.ndarray:
    """Wind speed, m/s, shape (n_ticks,): ``mean * (1 + variability * z)``, z a unit AR(1).

    The AR(1) coefficient is ``exp(-dt_h / 6 h)``; speeds below 0 are set to 0.
    """
    phi = np.exp(-dt_h / WIND_CORRELATION_H)
    shocks = rng.standard_normal(n_ticks) * np.sqrt(1.0 - phi * phi)
    z = np.empty(n_ticks)
    previous = rng.standard_normal()
    for t in range(n_ticks):
        previous = phi * previous + shocks[t]
        z[t] = previous
    return np.maximum(mean_m_s * (1.0 + variability * z), 0.0)


def _raw_household_shape(hours: np.ndarray) -> np.ndarray:
    return (
        0.6
        + 0.5 * np.exp(-(((hours - 8.0) / 1.5) ** 2))
        + 1.0 * np.exp(-(((hours - 19.5) / 2.0) ** 2))
    )


_DAY_H = np.arange(0.0, 24.0, 0.01)
_HOUSEHOLD_SHAPE_MEAN = float(_raw_household_shape(_DAY_H).mean())
HOUSEHOLD_SHAPE_MAX = float(_raw_household_shape(_DAY_H).max()) / _HOUSEHOLD_SHAPE_MEAN


def household_shape(hours: np.ndarray) -> np.ndarray:
    """Daily household load shape (morning and evening peaks), mean 1 over a day."""
    return _raw_household_shape(hours) / _HOUSEHOLD_SHAPE_MEAN


def household_load_kw(
    rng: np.random.Generator, n_ticks: int, dt_h: float, count: int, annual_kwh: float
) -> np.ndarray:
    """Load of ``count`` households, kW, shape (n_ticks,): shape x mean power x noise.

    The mean power is ``annual_kwh / 8760 h`` per household; the noise is uniform in
    ``[1 - 0.3, 1 + 0.3]``, so the load never exceeds :func:`household_peak_kw`.
    """
    mean_kw = count * annual_kwh / 8760.0
    noise = 1.0 + rng.uniform(-HOUSEHOLD_NOISE, HOUSEHOLD_NOISE, n_ticks)
    return mean_kw * household_shape(hour_of_day(n_ticks, dt_h)) * noise


def household_peak_kw(count: int, annual_kwh: float) -> float:
    """Upper bound of :func:`household_load_kw`, kW."""
    return count * annual_kwh / 8760.0 * HOUSEHOLD_SHAPE_MAX * (1.0 + HOUSEHOLD_NOISE)


def day_ahead_price(
    rng: np.random.Generator, n_ticks: int, dt_h: float, mean_eur_per_kwh: float
) -> np.ndarray:
    """Synthetic day-ahead price, EUR/kWh, shape (n_ticks,).

    The household shape (prices follow load) times the mean, with hourly blocks of
    Gaussian noise (relative std 0.1), clipped to ``[0, 2 x mean]``.
    """
    hours = hour_of_day(n_ticks, dt_h)
    hour_index = np.floor(np.arange(n_ticks) * dt_h).astype(np.int64)
    noise = rng.standard_normal(hour_index[-1] + 1)[hour_index] * PRICE_NOISE
    price = mean_eur_per_kwh * (household_shape(hours) + noise)
    return np.clip(price, 0.0, PRICE_MAX_FACTOR * mean_eur_per_kwh)


def ev_sessions(
    rng: np.random.Generator,
    evs: EVConfig,
    n_stations: int,
    n_ticks: int,
    dt_h: float,
) -> np.ndarray:
    """Synthetic EV sessions, shape (N_EV_FIELDS, n), sorted by arrival tick.

    Per station, Poisson(``arrivals_per_station_per_day`` x days) arrivals; arrival hour from
    a two-peak mixture (8:00 +- 1.5 h, 17:30 +- 2 h), wrapped into the day; log-normal dwell
    time with mean ``mean_dwell_h`` (at least one tick, cut at the episode end); the EV model
    drawn from the fleet by ``share``; arrival and target soc uniform in their ranges (the
    target never below the arrival soc).
    """
    days = n_ticks * dt_h / 24.0
    counts = rng.poisson(evs.arrivals_per_station_per_day * days, n_stations)
    n = int(counts.sum())
    station = np.repeat(np.arange(n_stations), counts)
    peaks = np.array(ARRIVAL_PEAKS_H)
    peak = rng.choice(len(peaks), size=n, p=peaks[:, 2] / peaks[:, 2].sum())
    hour = (rng.normal(peaks[peak, 0], peaks[peak, 1])) % 24.0
    day = rng.integers(0, max(int(np.ceil(days)), 1), n)
    arrival = np.minimum(np.floor((day * 24.0 + hour) / dt_h), n_ticks - 1)
    mu = np.log(evs.mean_dwell_h) - 0.5 * DWELL_SIGMA**2
    dwell_ticks = np.maximum(np.round(rng.lognormal(mu, DWELL_SIGMA, n) / dt_h), 1.0)
    fleet = evs.fleet
    share = np.array([m.share for m in fleet])
    model = rng.choice(len(fleet), size=n, p=share / share.sum())
    soc_arrival = rng.uniform(*evs.soc_arrival, n)
    table = np.empty((N_EV_FIELDS, n))
    table[EV_ARRIVAL] = arrival
    table[EV_DEPARTURE] = np.minimum(arrival + dwell_ticks, n_ticks)
    table[EV_STATION] = station
    table[EV_BATTERY_KWH] = [fleet[m].battery_kwh for m in model]
    table[EV_SOC_ARRIVAL] = soc_arrival
    table[EV_SOC_TARGET] = np.maximum(rng.uniform(*evs.soc_target, n), soc_arrival)
    table[EV_MAX_AC_KW] = [fleet[m].max_ac_kw for m in model]
    table[EV_MAX_DC_KW] = [fleet[m].max_dc_kw for m in model]
    table[EV_MAX_V2G_KW] = [fleet[m].max_v2g_kw for m in model]
    table[EV_TARIFF] = evs.tariff_eur_per_kwh
    return table[:, np.argsort(arrival, kind="stable")]
