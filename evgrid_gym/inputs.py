"""The exogenous inputs of an episode: external price, own wind and PV, household load.

Each input is synthetic (drawn per episode from the env's generator, see
:mod:`evgrid_gym.data.synthetic`) or real (loaded once, resampled to the tick and read for the
episode's day through :class:`~evgrid_gym.data.series.ProfileSeries`). :class:`Inputs` also
gives the ranges the observation bounds are built from.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.core import layout as L
from evgrid_gym.data import synthetic
from evgrid_gym.data.bundled import data_path
from evgrid_gym.data.nrel import load_nrel_wind, wind_power_kw
from evgrid_gym.data.prices import load_day_ahead_prices
from evgrid_gym.data.series import ProfileSeries
from evgrid_gym.data.simbench import generation_kw, household_power_kw, load_simbench_profiles
from evgrid_gym.data.wind import turbine_power_kw


@cache
def _prices(path: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        # the bundled file repeats Jan..Sep 2023 and misses two hours (see its NOTICE.md);
        # the loader's rules handle both; users' files warn
        if path == str(data_path("nl_day_ahead")):
            warnings.simplefilter("ignore", UserWarning)
        return load_day_ahead_prices(path)


@cache
def _nrel(path: str) -> pd.DataFrame:
    return load_nrel_wind(path)


@cache
def _simbench(path: str) -> pd.DataFrame:
    return load_simbench_profiles(path)


def _profile(table: pd.DataFrame, column: str, path: str) -> np.ndarray:
    if column not in table:
        names = [c.removesuffix("_pu") for c in table.columns if c.endswith("_pu")]
        raise ValueError(f"profile: got {column.removesuffix('_pu')!r}; {path} has {names}")
    return table[column].to_numpy()


class Inputs:
    """Draws the exogenous array of an episode and knows its ranges.

    Attributes:
        price_range: (low, high) of the external price, EUR/kWh.
        wind_high_kw: installed wind power, kW (the turbines' rated power).
        renewable_high_kw: installed wind + PV power, kW.
        household_high_kw: the largest household load, kW.
    """

    def __init__(self, config: ScenarioConfig, n_ticks: int):
        c = config
        self.config = c
        self.n_ticks = n_ticks
        hours = synthetic.hour_of_day(n_ticks, c.dt_h)
        self._daily_shape = synthetic.household_shape(hours)
        self._series: dict[int, ProfileSeries] = {}
        supplier = c.supplier
        if supplier.price_profile == "day_ahead":
            prices = _prices(str(data_path(supplier.price_file)))
            price = prices.set_index("time")["price_eur_per_kwh"] + supplier.markup_eur_per_kwh
            self._series[L.EXO_PRICE] = ProfileSeries(
                price, c.dt_h, f"day-ahead prices ({supplier.price_file})"
            )
            self.price_range = (self._series[L.EXO_PRICE].low, self._series[L.EXO_PRICE].high)
        elif supplier.price_profile == "synthetic_day_ahead":
            self.price_range = (0.0, synthetic.PRICE_MAX_FACTOR * supplier.price_eur_per_kwh)
        else:
            self.price_range = (supplier.price_eur_per_kwh, supplier.price_eur_per_kwh)
        self.wind_high_kw = sum(t.installed_kw for t in c.wind.turbines)
        self.renewable_high_kw = self.wind_high_kw + c.pv.installed_kw
        self._wind_series = self._pv_series = None
        if c.wind.source == "nrel" and c.wind.turbines:
            wind = _nrel(str(data_path(c.wind.wind_file)))
            power = sum(
                wind_power_kw(wind, t.turbine_type, t.hub_height_m, t.count)
                for t in c.wind.turbines
            )
            self._wind_series = ProfileSeries(power, c.dt_h, f"wind speeds ({c.wind.wind_file})")
        if c.pv.installed_kw > 0:
            table = _simbench(str(data_path(c.pv.profile_file)))
            pu = _profile(table, f"{c.pv.profile}_pu", c.pv.profile_file)
            power = pd.Series(
                generation_kw(pu, c.pv.installed_kw), index=pd.DatetimeIndex(table["time"])
            )
            self._pv_series = ProfileSeries(
                power, c.dt_h, f"PV profiles ({c.pv.profile_file})", any_year=True
            )
        households = c.households
        if households.source == "simbench" and households.count > 0:
            table = _simbench(str(data_path(households.profile_file)))
            load = np.zeros(len(table))
            for i in range(households.count):
                profile = households.profiles[i % len(households.profiles)]
                pu = _profile(table, f"{profile}_pu", households.profile_file)
                load += household_power_kw(pu, 0.25, annual_kwh=households.annual_kwh)
            series = pd.Series(load, index=pd.DatetimeIndex(table["time"]))
            self._series[L.EXO_HOUSEHOLD_KW] = ProfileSeries(
                series, c.dt_h, f"household profiles ({households.profile_file})", any_year=True
            )
            self.household_high_kw = self._series[L.EXO_HOUSEHOLD_KW].high
        else:
            self.household_high_kw = synthetic.household_peak_kw(
                households.count, households.annual_kwh
            )
        # with no synthetic input (no draw from rng), an episode's inputs depend on its day
        # only: memoise them
        self._by_day: dict[int, np.ndarray] | None = None
        if (
            (c.wind.source == "nrel" or not c.wind.turbines)
            and (households.source == "simbench" or households.count == 0)
            and supplier.price_profile != "synthetic_day_ahead"
        ):
            self._by_day = {}

    def stand_ins(self, start: pd.Timestamp) -> list[str]:
        """For each real series that does not cover the day starting at ``start``, what is
        read instead (:meth:`ProfileSeries.stand_in`)."""
        series = [*self._series.values(), self._wind_series, self._pv_series]
        notes = [s.stand_in(start) for s in series if s is not None]
        return [note for note in notes if note]

    def sample(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        """The exogenous array of the episode starting at ``start``, (N_EXO_FIELDS, n_ticks)."""
        if self._by_day is None:
            return self._draw(rng, start)
        exo = self._by_day.get(start.value)
        if exo is None:
            exo = self._by_day[start.value] = self._draw(rng, start)
        return exo.copy()

    def _draw(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        c = self.config
        n = self.n_ticks
        exo = np.empty((L.N_EXO_FIELDS, n))
        wind = exo[L.EXO_WIND_KW]
        wind[:] = 0.0
        if c.wind.source == "synthetic" and c.wind.turbines:
            speed = synthetic.wind_speed_m_s(
                rng, n, c.dt_h, c.wind.mean_wind_speed_m_s, c.wind.variability
            )
            for t in c.wind.turbines:
                wind += t.count * turbine_power_kw(
                    speed, c.wind.measurement_height_m, t.hub_height_m, t.turbine_type
                )
        if self._wind_series is not None:
            wind += self._wind_series.window(start, n)
        exo[L.EXO_RENEWABLE_KW] = wind
        if self._pv_series is not None:
            exo[L.EXO_RENEWABLE_KW] += self._pv_series.window(start, n)
        if L.EXO_HOUSEHOLD_KW in self._series:
            exo[L.EXO_HOUSEHOLD_KW] = self._series[L.EXO_HOUSEHOLD_KW].window(start, n)
        elif c.households.count == 0:
            exo[L.EXO_HOUSEHOLD_KW] = 0.0
        else:
            exo[L.EXO_HOUSEHOLD_KW] = synthetic.household_load_kw(
                rng, self._daily_shape, c.households.count, c.households.annual_kwh
            )
        supplier = c.supplier
        if L.EXO_PRICE in self._series:
            exo[L.EXO_PRICE] = self._series[L.EXO_PRICE].window(start, n)
        elif supplier.price_profile == "synthetic_day_ahead":
            exo[L.EXO_PRICE] = synthetic.day_ahead_price(
                rng, self._daily_shape, c.dt_h, supplier.price_eur_per_kwh
            )
        else:
            exo[L.EXO_PRICE] = supplier.price_eur_per_kwh
        exo[L.EXO_FEED_IN] = supplier.feed_in_eur_per_kwh
        value = c.reward.storage_value_eur_per_kwh
        if value == "mean_price":
            value = exo[L.EXO_PRICE, : c.episode_ticks].mean()
        exo[L.EXO_STORAGE_VALUE] = value
        return exo
