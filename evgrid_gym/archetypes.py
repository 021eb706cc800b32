"""A population of EV users of a few charging archetypes (seed 004), as an arrival source.

Each archetype (:class:`~evgrid_gym.config.ArchetypeConfig`) says when its users plug in and
out (per weekday and weekend day), how often (days per week), with what soc, which car and at
which stations. A scenario's ``population`` is split over the archetypes by their shares
(largest remainders), and every user keeps its identity over the days of an episode: its
archetype, station and connector, and, with ``driving_kwh_per_day``, its soc, which follows
from its previous session and its driving since (rules in
:func:`~evgrid_gym.core.sampling.sample_archetype_sessions`). Each session carries its user
(``EV_USER`` of the EV table), so logs and plots can tell users and archetypes apart.

Users of a station take its connectors in turn as their own (the connector they ask for,
``EV_CONNECTOR``): with as many connectors as users, each user always finds its own.

An episode costs one NumPy draw and one compiled call, as the ElaadNL source does.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evgrid_gym.arrivals import ArrivalSource, elaad_statistics, sorted_by_arrival
from evgrid_gym.config import (
    ArchetypeConfig,
    ElaadDistribution,
    EmpiricalDistribution,
    PlugDayConfig,
    ScenarioConfig,
)
from evgrid_gym.core import layout as L
from evgrid_gym.core import sampling as S
from evgrid_gym.data.elaad import ElaadSessionGenerator


def population_split(shares: list[float], population: int) -> np.ndarray:
    """Users per archetype: ``population`` split by ``shares`` (adding up to 1), the largest
    remainders rounded up (ties to the first archetype), int64, shape (A,)."""
    exact = np.asarray(shares) * population
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: population - int(counts.sum())]] += 1
    return counts


class _Distributions:
    """The distributions of the archetypes as rows of the sampler's tables (``DI_*``)."""

    def __init__(self):
        self.rows: list[tuple[float, float, float, np.ndarray, np.ndarray]] = []

    def add(self, distribution, table: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """Adds ``distribution`` (an ElaadNL one as its ``table``); returns its row."""
        if isinstance(distribution, EmpiricalDistribution):
            weights = np.asarray(distribution.weights, float)
            levels = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
            table = (levels, np.asarray(distribution.edges, float))
        if table is None:  # normal
            self.rows.append((1.0, distribution.mean, distribution.std, np.zeros(2), np.zeros(2)))
        else:
            levels, values = table
            levels = levels.copy()
            levels[-1] = 1.0  # rounding must not leave a draw past the last level
            self.rows.append((0.0, 0.0, 0.0, levels, values))
        return len(self.rows) - 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(dist, levels, values)``: shape (N_DI_FIELDS, D) and (D, Q), padded with levels
        of 1 and the last value."""
        width = max(len(row[3]) for row in self.rows)
        dist = np.zeros((S.N_DI_FIELDS, len(self.rows)))
        levels, values = np.ones((len(self.rows), width)), np.zeros((len(self.rows), width))
        for d, (normal, mean, std, level, value) in enumerate(self.rows):
            dist[[S.DI_NORMAL, S.DI_MEAN, S.DI_STD], d] = normal, mean, std
            levels[d, : len(level)] = level
            values[d, : len(value)] = value
            values[d, len(value) :] = value[-1]
        return dist, levels, values


class ArchetypeArrivals(ArrivalSource):
    """Sessions of a population of archetype users (``evs.source: archetypes``).

    Attributes:
        archetypes: the archetypes, in config order.
        user_archetype: each user's archetype (index into :attr:`archetypes`), shape (U,).
        user_station, user_connector: each user's station and own connector, shape (U,).
    """

    def __init__(self, config: ScenarioConfig, connector_charger, charger_f, connector_station):
        super().__init__(config)
        evs = config.evs
        self.archetypes = evs.resolved_archetypes()
        counts = population_split([a.share for a in self.archetypes], evs.population)
        self.user_archetype = np.repeat(np.arange(len(self.archetypes)), counts)
        self._place_users(config, np.asarray(connector_station))
        self._transition_soc = config.battery.transition_soc
        self._days = -(-self.n_ticks // round(24.0 / self.dt_h))  # the days the episode touches
        tables = _Distributions()
        self._archetype_f = np.stack([self._archetype_row(a, tables) for a in self.archetypes], 1)
        self._dist, self._levels, self._values = tables.arrays()
        charger = np.asarray(connector_charger)[self.user_connector]
        max_kw = self._archetype_f[S.AR_MAX_KW, self.user_archetype]
        user_f = np.zeros((S.N_US_FIELDS, self.user_archetype.shape[0]))
        user_f[S.US_ARCHETYPE] = self.user_archetype
        user_f[S.US_STATION] = self.user_station
        user_f[S.US_CONNECTOR] = self.user_connector
        user_f[S.US_CHARGE_KW] = np.minimum(max_kw, charger_f[L.CH_MAX_KW, charger])
        user_f[S.US_EFFICIENCY] = charger_f[L.CH_EFFICIENCY, charger]
        self._user_f = user_f
        self.max_battery_kwh = max(a.battery_kwh for a in self.archetypes)

    def _place_users(self, config: ScenarioConfig, connector_station: np.ndarray) -> None:
        """Each user's station (its archetype's stations in turn) and own connector (its
        station's connectors in turn)."""
        station_index = {st.id: s for s, st in enumerate(config.stations)}
        all_stations = list(range(len(config.stations)))
        stations = np.empty(self.user_archetype.shape[0], dtype=np.int64)
        for a, archetype in enumerate(self.archetypes):
            own = [station_index[i] for i in archetype.stations or ()] or all_stations
            users = np.flatnonzero(self.user_archetype == a)
            stations[users] = np.resize(own, users.shape[0])
        connectors = np.empty_like(stations)
        for s in all_stations:
            users = np.flatnonzero(stations == s)
            connectors[users] = np.resize(np.flatnonzero(connector_station == s), users.shape[0])
        self.user_station, self.user_connector = stations, connectors

    def _archetype_row(self, archetype: ArchetypeConfig, tables: _Distributions) -> np.ndarray:
        """The archetype's parameters (``AR_*``), its distributions added to ``tables``."""
        row = np.zeros(S.N_AR_FIELDS)
        week = (("weekday", False), ("weekend", True))
        plug_days = 7 if archetype.weekend is not None else 5
        for name, weekend in week:
            day: PlugDayConfig | None = getattr(archetype, name)
            if day is None:
                row[[S.AR_PLUG_IN + weekend, S.AR_END + weekend]] = -1
                continue
            row[S.AR_PROBABILITY + weekend] = archetype.days_per_week / plug_days
            row[S.AR_PLUG_IN + weekend] = tables.add(
                day.plug_in_h, self._elaad_table(day.plug_in_h, "arrival", weekend)
            )
            end = day.stay_h if day.stay_h is not None else day.plug_out_h
            row[S.AR_END + weekend] = tables.add(end, self._elaad_table(end, "connection"))
            row[S.AR_STAY + weekend] = day.stay_h is not None
            row[S.AR_OVERNIGHT + weekend] = day.overnight
        soc = archetype.soc_plug_in
        row[S.AR_SOC] = tables.add(soc, self._elaad_table(soc, "energy"))
        row[S.AR_SOC_FROM_DEMAND] = isinstance(soc, ElaadDistribution)
        row[S.AR_SOC_TARGET] = archetype.soc_target
        row[S.AR_BATTERY_KWH] = archetype.battery_kwh
        row[S.AR_MAX_KW] = archetype.max_charge_kw
        row[S.AR_V2G_KW] = archetype.max_v2g_kw
        driving = archetype.driving_kwh_per_day
        row[S.AR_DRIVING_KWH] = math.nan if driving is None else driving
        return row

    @staticmethod
    def _elaad_table(distribution, statistic: str, weekend: bool = False):
        """``(levels, values)`` of an ElaadNL distribution's ``statistic`` at its site: the
        arrival profile (a histogram of quarter hours), or the connection-time or energy
        quantile table; None for other distributions."""
        if not isinstance(distribution, ElaadDistribution):
            return None
        g = ElaadSessionGenerator(elaad_statistics(), distribution.site)
        if statistic == "arrival":
            return np.concatenate([[0.0], g.arrival_cdf[weekend]]), np.arange(97) * 0.25
        return g.quantile_probability, g.connection_h if statistic == "connection" else g.energy_kwh

    def sample(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        u = rng.random((self._user_f.shape[1], self._days + 1, S.USER_DAY_UNIFORMS))
        table = S.sample_archetype_sessions(
            u, start.weekday(), self._user_f, self._archetype_f, self._dist, self._levels,
            self._values, self.dt_h, self.n_ticks, self._transition_soc,
            self.evs.tariff_eur_per_kwh,
        )  # fmt: skip
        return sorted_by_arrival(table)

    def archetypes_of(self, users: np.ndarray) -> list[str]:
        """The archetype name of each user (``EV_USER``; -1: "")."""
        names = [a.name for a in self.archetypes]
        return [names[self.user_archetype[int(u)]] if u >= 0 else "" for u in users]
