"""A scenario as arrays: the static parameters of the core and the sampling of episodes.

:class:`Scenario` turns a validated :class:`~evgrid_gym.config.ScenarioConfig` into the packed
arrays of :mod:`evgrid_gym.core.layout`, the observation bounds, and a sampler that picks an
episode's day and draws its exogenous inputs and EV sessions from a seeded generator. Policies
may read a scenario (it is the "read-only scenario view" of the baselines); the env owns its
state.
"""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pandas as pd

from evgrid_gym import observation
from evgrid_gym.arrays import readonly
from evgrid_gym.arrivals import TraceArrivals, make_arrivals
from evgrid_gym.config import ScenarioConfig, ScenarioError
from evgrid_gym.core import layout as L
from evgrid_gym.core.observation import block_offsets
from evgrid_gym.core.state import Static
from evgrid_gym.faults import OutageSampler
from evgrid_gym.grid import NetworkArrays, network_arrays
from evgrid_gym.grid.arrays import observation_bounds
from evgrid_gym.inputs import Inputs
from evgrid_gym.observation import Observation
from evgrid_gym.reservation_requests import RequestPlanner


def parse_date(value: datetime.date | str) -> datetime.date:
    """An episode's day from a ``datetime.date`` or an ISO ``YYYY-MM-DD`` string.

    Raises:
        ValueError: anything else, naming the value.
    """
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"date: got {value!r}; must be an ISO date YYYY-MM-DD or a datetime.date")


def _static(array: np.ndarray) -> np.ndarray:
    """A scenario's array: read-only, C-contiguous (the layout the kernels are typed for)."""
    return readonly(array, contiguous=True)


class Scenario:
    """Static arrays of one scenario (all read-only) and its episode sampler.

    Attributes:
        config: the validated config.
        static: the core's :class:`~evgrid_gym.core.state.Static` group of this scenario;
            its arrays are also the attributes ``cfg`` (scalar parameters, (N_CFG,)),
            ``connector_charger`` (charger index per connector, int64, (C,)), ``charger_f``
            ((N_CHARGER_FIELDS, K)), ``charger_station`` (station index per charger, int64,
            (K,)), ``station_f`` ((N_STATION_FIELDS, S)) and ``reward_weights`` (each KPI's
            weight in the reward, (N_KPI,)).
        switches: ``static.switches()``, the compile-time switches ``(reservations,
            network)`` the compiled entry points take after their arrays.
        connector_rated_kw: rated power of each connector's charger, kW, shape (C,).
        connector_station: station index per connector, int64, shape (C,).
        station_connectors: connectors per station, int64, shape (S,).
        connector_ids: the id of each connector (``chargers[].ids``) or None.
        observation_low, observation_high: float32 bounds of the observation.
        split_days: the days of each split of ``calendar.splits``, by name.
        episode_days: the days a reset draws from when neither a date nor a split is given.

    Raises:
        DataFileError: a real data file the config names is malformed.
        ValueError: a profile name the data file does not have.
    """

    def __init__(self, config: ScenarioConfig):
        c = self.config = config
        chargers = [(s, ch) for s, st in enumerate(c.stations) for ch in st.chargers]
        chargers = [(s, ch) for s, ch in chargers for _ in range(ch.count)]
        charger_station = np.array([s for s, _ in chargers], dtype=np.int64)
        connector_charger = np.repeat(
            np.arange(len(chargers), dtype=np.int64), [ch.connectors for _, ch in chargers]
        )
        self.connector_station = _static(charger_station[connector_charger])
        self.station_connectors = _static(
            np.bincount(self.connector_station, minlength=len(c.stations))
        )
        charger_f = np.zeros((L.N_CHARGER_FIELDS, len(chargers)))
        for k, (s, ch) in enumerate(chargers):
            charger_f[L.CH_MAX_KW, k] = ch.max_power_kw
            charger_f[L.CH_EFFICIENCY, k] = ch.efficiency
            charger_f[L.CH_IS_DC, k] = ch.kind == "DC"
            charger_f[L.CH_V2G, k] = ch.v2g
            charger_f[L.CH_FALLBACK_KW, k] = min(
                c.stations[s].grid_capacity_kw / self.station_connectors[s],
                ch.max_power_kw / ch.connectors,
            )
        self.connector_ids = [
            i
            for st in c.stations
            for ch in st.chargers
            for i in ch.ids or [None] * (ch.count * ch.connectors)
        ]
        self.network = self._network()
        station_f = self._station_params()
        cfg = self._scalar_params()
        weights = np.zeros(L.N_KPI)
        for name, weight in c.reward.kpi_weights.items():
            weights[L.KPI[name]] = weight
        offsets = self._observation_offsets(cfg, charger_f, station_f)
        network = Static.no_network() if self.network is None else (
            self.network.bus_parent, self.network.branch_f, self.network.bus_f,
            self.network.net_cfg,
        )  # fmt: skip
        self.static = Static(*map(_static, (
            cfg, connector_charger, charger_f, charger_station, station_f, weights, offsets,
            *network,
        )))  # fmt: skip
        self.switches = self.static.switches()
        self.connector_rated_kw = _static(charger_f[L.CH_MAX_KW, connector_charger])
        self.inputs = Inputs(c, self.n_exo_ticks)
        self.arrivals = make_arrivals(
            c, self.connector_ids, self.connector_station, connector_charger, charger_f
        )
        self.requests = RequestPlanner(c, station_f[[L.ST_X_KM, L.ST_Y_KM]])
        self.outages = OutageSampler(c, charger_f.shape[1], self.n_stations, self.n_exo_ticks)
        low, high = observation.bounds(self.static.obs_offsets, self._observation_limits())
        self.observation_low, self.observation_high = _static(low), _static(high)
        self.split_days = self._split_days()
        self.episode_days = self._episode_days()
        self._day_starts = {}  # date -> local midnight, memoised

    def _network(self) -> NetworkArrays | None:
        """The arrays of ``grid.network`` (None without one)."""
        c = self.config
        if c.grid.network is None:
            return None
        turbine_kw = [t.installed_kw for t in c.wind.turbines]
        return network_arrays(c.grid.network, [s.id for s in c.stations], turbine_kw)

    def _station_params(self) -> np.ndarray:
        station_f = np.zeros((L.N_STATION_FIELDS, len(self.config.stations)))
        if self.network is not None:
            station_f[L.ST_BUS] = self.network.station_bus
        for s, st in enumerate(self.config.stations):
            station_f[L.ST_GRID_KW, s] = st.grid_capacity_kw
            station_f[L.ST_X_KM, s] = st.x_km
            station_f[L.ST_Y_KM, s] = st.y_km
            station_f[L.ST_RESERVATION_PRICE, s] = (
                self.config.evs.tariff_eur_per_kwh
                if st.reservation_price_eur_per_kwh is None
                else st.reservation_price_eur_per_kwh
            )
            if st.bess is not None:
                station_f[L.ST_BESS_KWH, s] = st.bess.capacity_kwh
                station_f[L.ST_BESS_KW, s] = st.bess.power_kw
                station_f[L.ST_BESS_EFFICIENCY, s] = st.bess.efficiency
                station_f[L.ST_BESS_SOC_MIN, s] = st.bess.soc_min
                station_f[L.ST_BESS_SOC_MAX, s] = st.bess.soc_max
                station_f[L.ST_BESS_SOC_INIT, s] = st.bess.initial_soc
                station_f[L.ST_BESS_DEGRADATION, s] = self.config.degradation.bess_eur_per_kwh(
                    st.bess
                )
        return station_f

    def _scalar_params(self) -> np.ndarray:
        c = self.config
        cfg = np.zeros(L.N_CFG)
        cfg[L.CFG_DT_H] = c.dt_h
        cfg[L.CFG_FEEDER_KW] = c.grid.feeder_limit_kw
        cfg[L.CFG_TRANSITION_SOC] = c.battery.transition_soc
        cfg[L.CFG_V2G_SOC_MIN] = c.battery.v2g_soc_min
        cfg[L.CFG_SOFT_LIMITS] = c.grid.limits == "soft"
        cfg[L.CFG_UNIFORM_PRICE] = c.market.mode == "uniform"
        cfg[L.CFG_HOUSEHOLD_BID] = c.market.household_bid_eur_per_kwh
        cfg[L.CFG_EXPORT] = c.supplier.export
        cfg[L.CFG_UNMET_PENALTY] = c.reward.unmet_penalty_eur_per_kwh
        cfg[L.CFG_OVERLOAD_PENALTY] = c.reward.overload_penalty_eur_per_kwh
        cfg[L.CFG_NETWORK_PENALTY] = c.reward.network_penalty_eur_per_kwh
        cfg[L.CFG_VOLTAGE_PENALTY] = c.reward.voltage_penalty_eur_per_pu_h
        cfg[L.CFG_N_TICKS] = c.episode_ticks
        cfg[L.CFG_FORECAST_TICKS] = c.observation.forecast_ticks
        cfg[L.CFG_BESS_ACTION] = c.action.bess_control
        cfg[L.CFG_TICKS_PER_DAY] = round(24.0 / c.dt_h)
        r = c.reservation
        cfg[L.CFG_RESERVATION] = r.enabled
        cfg[L.CFG_GRACE_TICKS] = round(r.grace_h / c.dt_h)
        cfg[L.CFG_UTILISATION_MARKUP] = r.utilisation_markup_eur_per_kwh
        cfg[L.CFG_MIN_ENERGY_FRACTION] = r.min_energy_fraction
        cfg[L.CFG_DISTANCE_WEIGHT] = r.weights.distance_per_km
        cfg[L.CFG_PRICE_WEIGHT] = r.weights.price_per_eur_per_kwh
        cfg[L.CFG_ENERGY_WEIGHT] = r.weights.energy_per_kwh
        cfg[L.CFG_RESERVATION_HOURS] = r.observation_hours if r.enabled else 0
        cfg[L.CFG_OUTAGE_OBSERVATION] = c.faults.enabled
        cfg[L.CFG_ACN_PILOT] = c.battery.pilot == "acn"
        cfg[L.CFG_V2G_DEGRADATION] = c.degradation.v2g_eur_per_kwh()
        return cfg

    @property
    def n_connectors(self) -> int:
        return self.connector_charger.shape[0]

    cfg = property(lambda self: self.static.cfg)
    connector_charger = property(lambda self: self.static.connector_charger)
    charger_f = property(lambda self: self.static.charger_f)
    charger_station = property(lambda self: self.static.charger_station)
    station_f = property(lambda self: self.static.station_f)
    reward_weights = property(lambda self: self.static.reward_weights)

    @property
    def n_stations(self) -> int:
        return self.station_f.shape[1]

    @property
    def n_buses(self) -> int:
        """Buses of the network (0 without ``grid.network``)."""
        return self.static.bus_parent.shape[0]

    @property
    def n_actions(self) -> int:
        """Action length: one entry per connector, plus one per station with BESS control."""
        return self.n_connectors + self.n_stations * int(self.config.action.bess_control)

    @property
    def n_chargers(self) -> int:
        return self.charger_f.shape[1]

    @property
    def reservation_hours(self) -> int:
        """Hourly buckets of upcoming reservations per station in the observation."""
        return int(self.cfg[L.CFG_RESERVATION_HOURS])

    def unpack(self, obs: np.ndarray) -> Observation:
        """Named views of an observation of this scenario (:func:`evgrid_gym.observation.unpack`).

        Raises:
            ValueError: ``obs`` does not have this scenario's observation shape.
        """
        return observation.unpack(obs, self.static.obs_offsets, self.n_stations)

    def _observation_offsets(self, cfg, charger_f, station_f) -> np.ndarray:
        """Where each block of the observation starts (``core.observation.block_offsets``)."""
        dims = {
            "C": self.connector_station.shape[0],
            "S": station_f.shape[1],
            "K": charger_f.shape[1],
            "F": self.config.observation.forecast_ticks,
            "H": int(cfg[L.CFG_RESERVATION_HOURS]),
        }
        features = {"reservations"} if self.config.reservation.enabled else set()
        features |= {"faults"} if self.config.faults.enabled else set()
        features |= {"network"} if self.network is not None else set()
        return block_offsets(dims, features)

    @property
    def n_exo_ticks(self) -> int:
        """Ticks of exogenous input an episode needs: the horizon, its forecast, the last tick."""
        return self.config.episode_ticks + self.config.observation.forecast_ticks + 1

    def renewable_capacity_kw(self) -> float:
        """Installed wind (the maximum of each turbine's power curve) + PV power, kW."""
        return self.inputs.renewable_high_kw

    def _observation_limits(self) -> dict[str, float | np.ndarray]:
        """The scenario quantities the observation's bounds name (``core.observation``)."""
        price_low, price_high = self.inputs.price_range
        station_rated_kw = np.bincount(
            self.connector_station, weights=self.connector_rated_kw, minlength=self.n_stations
        )
        return self._network_limits(station_rated_kw) | {
            "max_battery_kwh": self.arrivals.max_battery_kwh,
            "episode_ticks": self.config.episode_ticks,
            "connector_rated_kw": self.connector_rated_kw,
            "station_rated_kw": station_rated_kw,
            "station_supply_kw": self.station_f[L.ST_GRID_KW] + self.station_f[L.ST_BESS_KW],
            "price_low": price_low,
            "price_high": price_high,
            "renewable_high_kw": self.inputs.renewable_high_kw,
            "household_high_kw": self.inputs.household_high_kw,
            # at most every connector of the station reserved anew each tick of the hour
            "reservations_per_hour": np.repeat(
                self.station_connectors * round(1.0 / self.config.dt_h), self.reservation_hours
            ),
        }

    def _network_limits(self, station_rated_kw: np.ndarray) -> dict[str, float | np.ndarray]:
        """The bounds of the network blocks (:func:`evgrid_gym.grid.arrays.observation_bounds`;
        0 without a network, where the blocks are empty)."""
        names = ("bus_voltage_low_pu", "bus_voltage_high_pu", "grid_headroom_low_kva",
                 "grid_headroom_high_kva")  # fmt: skip
        if self.network is None:
            return dict.fromkeys(names, 0.0)
        c = self.config
        station_kw = station_rated_kw + self.station_f[L.ST_BESS_KW]
        return observation_bounds(
            self.network,
            self.inputs.household_high_kw,
            self.inputs.wind_high_kw,
            c.pv.installed_kw,
            station_kw,
        )

    def _days_between(self, first: datetime.date, last: datetime.date) -> tuple[datetime.date, ...]:
        """The days from ``first`` to ``last``; for replayed sessions only those with arrivals."""
        if isinstance(self.arrivals, TraceArrivals):
            return tuple(d for d in self.arrivals.days if first <= d <= last)
        n = (last - first).days + 1
        return tuple(first + datetime.timedelta(days=i) for i in range(n))

    def _split_days(self) -> dict[str, tuple[datetime.date, ...]]:
        """The days of each of ``calendar.splits`` (for replayed sessions, those with
        arrivals: a split may hold none, which a reset drawing from it reports)."""
        splits = self.config.calendar.splits.items()
        return {name: self._days_between(first, last) for name, (first, last) in splits}

    def _episode_days(self) -> tuple[datetime.date, ...]:
        """The days an episode may start on when neither a date nor a split is given: the
        days of ``calendar.split``, else every day from ``calendar.first_date`` to
        ``last_date``; for replayed sessions only those with arrivals (all of them when none
        falls in that range)."""
        calendar = self.config.calendar
        if calendar.split is not None:
            return self.split_days[calendar.split]
        days = self._days_between(calendar.first_date, calendar.last_date)
        if not days and isinstance(self.arrivals, TraceArrivals):
            return tuple(self.arrivals.days)
        return days

    def _draw_day(self, rng: np.random.Generator, split: str | None) -> datetime.date:
        """A day of ``split`` (None: of ``episode_days``), drawn with ``rng``.

        Raises:
            ValueError: ``split`` is not one of ``calendar.splits``.
            ScenarioError: the split holds no day with sessions.
        """
        if split is None:
            split, days = self.config.calendar.split, self.episode_days
        elif split in self.split_days:
            days = self.split_days[split]
        else:
            raise ValueError(
                f"split: got {split!r}; must be one of the scenario's splits "
                f"{sorted(self.split_days)}"
            )
        if not days:
            first, last = self.config.calendar.splits[split]
            raise ScenarioError(
                f"calendar.splits.{split}: [{first}, {last}] holds no day with sessions in "
                f"evs.sessions_file ({self.config.evs.sessions_file!r})"
            )
        return days[int(rng.integers(len(days)))]

    def _warn_outside_data(self, date: datetime.date, start: pd.Timestamp) -> None:
        notes = self.inputs.stand_ins(start)
        if isinstance(self.arrivals, TraceArrivals) and date not in self.arrivals.days:
            trace = self.arrivals
            notes.append(
                f"no session of {self.config.evs.sessions_file} arrives on that day (it has "
                f"sessions on {len(trace.days)} days, {trace.days[0]}..{trace.days[-1]})"
            )
        for note in notes:
            warnings.warn(f"date {date}: {note}", UserWarning, stacklevel=4)

    def sample_episode(
        self,
        rng: np.random.Generator,
        date: datetime.date | str | None = None,
        split: str | None = None,
    ) -> tuple[datetime.date, np.ndarray, np.ndarray, np.ndarray]:
        """Draws one episode's inputs.

        Args:
            rng: the env's generator.
            date: the episode's day; default: a day drawn from ``split``, else
                ``calendar.date``, else a day drawn from ``episode_days``. The first time a
                fixed day is asked for that a real data series does not cover (it is then
                read from another year, :meth:`~evgrid_gym.data.series.ProfileSeries.stand_in`)
                or, with replayed sessions, on which no session arrives, a
                :class:`UserWarning` says so.
            split: a name of ``calendar.splits`` to draw the day from (ignored when ``date``
                is given).

        Returns:
            ``(date, exo, ev, outage)``: the day, exogenous inputs of shape (N_EXO_FIELDS,
            n_exo_ticks), EV sessions with their reservation fields sorted by arrival, shape
            (N_EV_FIELDS, n_evs), and the outage timeline, shape (n_exo_ticks, K + S + 1)
            (read-only).

        Raises:
            ValueError: ``date`` is not a date (or an ISO ``YYYY-MM-DD`` string), or ``split``
                is not one of ``calendar.splits``.
            ScenarioError: the split drawn from holds no day with sessions.
        """
        if date is not None:
            fixed = parse_date(date)
        else:
            fixed = self.config.calendar.date if split is None else None
        date = fixed or self._draw_day(rng, split)
        start = self._day_starts.get(date)
        if start is None:
            start = self._day_starts[date] = pd.Timestamp(date).tz_localize(
                self.config.calendar.timezone
            )
            if fixed:
                self._warn_outside_data(date, start)
        exo = self.inputs.sample(rng, start)
        ev = self.requests.plan(rng, self.arrivals.sample(rng, start))
        return date, exo, ev, self.outages.sample(rng)
