"""Synthetic exogenous profiles, drawn from the env's seeded generator.

Simple, documented models with the right daily shape and scale, for scenarios that want
controlled inputs instead of the real data (day-ahead prices, NREL wind, SimBench households).
Every function takes a ``numpy.random.Generator`` and never touches the global ``np.random``.
"""

from __future__ import annotations

import numpy as np

from evgrid_gym.core.signal import ar1

WIND_CORRELATION_H = 6.0  # e-folding time of wind-speed anomalies (typical synoptic scale)
HOUSEHOLD_NOISE = 0.3  # household load varies by at most +-30 % around its daily shape
PRICE_NOISE = 0.1  # relative standard deviation of the synthetic day-ahead price
PRICE_MAX_FACTOR = 2.0  # synthetic prices lie in [0, 2 x mean]


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
    ar1(shocks, phi, rng.standard_normal(), z)
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
    rng: np.random.Generator, shape: np.ndarray, count: int, annual_kwh: float
) -> np.ndarray:
    """Load of ``count`` households, kW: ``shape`` (from :func:`household_shape`) x mean x noise.

    The mean power is ``annual_kwh / 8760 h`` per household; the noise is uniform in
    ``[1 - 0.3, 1 + 0.3]``, so the load never exceeds :func:`household_peak_kw`.
    """
    mean_kw = count * annual_kwh / 8760.0
    noise = 1.0 + rng.uniform(-HOUSEHOLD_NOISE, HOUSEHOLD_NOISE, shape.shape[0])
    return mean_kw * shape * noise


def household_peak_kw(count: int, annual_kwh: float) -> float:
    """Upper bound of :func:`household_load_kw`, kW."""
    return count * annual_kwh / 8760.0 * HOUSEHOLD_SHAPE_MAX * (1.0 + HOUSEHOLD_NOISE)


def day_ahead_price(
    rng: np.random.Generator, shape: np.ndarray, dt_h: float, mean_eur_per_kwh: float
) -> np.ndarray:
    """Synthetic day-ahead price, EUR/kWh, same shape as ``shape``.

    The household ``shape`` (prices follow load) times the mean, with hourly blocks of
    Gaussian noise (relative std 0.1), clipped to ``[0, 2 x mean]``.
    """
    hour_index = np.floor(np.arange(shape.shape[0]) * dt_h).astype(np.int64)
    noise = rng.standard_normal(hour_index[-1] + 1)[hour_index] * PRICE_NOISE
    price = mean_eur_per_kwh * (shape + noise)
    return np.clip(price, 0.0, PRICE_MAX_FACTOR * mean_eur_per_kwh)
