"""Where an episode's EVs come from: synthetic, ElaadNL statistics, a list, or a real trace.

Every source turns a config into an object with ``sample(rng, start) -> ev`` that returns the
EV table of :mod:`evgrid_gym.core.layout` (``N_EV_FIELDS`` x n, sorted by arrival) for the
episode starting at ``start`` (local midnight); :func:`ev_table` builds it in one place.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from evgrid_gym.config import EVConfig, ScenarioConfig
from evgrid_gym.core import layout as L
from evgrid_gym.core.sampling import EV_UNIFORMS, sample_elaad_sessions
from evgrid_gym.data.acn import load_acn_sessions
from evgrid_gym.data.bundled import data_path
from evgrid_gym.data.elaad import ElaadSessionGenerator, load_elaad_statistics
from evgrid_gym.data.fleet import FleetSampler, load_ev_specs

SYNTHETIC_ARRIVAL_PEAKS_H = ((8.0, 1.5, 0.5), (17.5, 2.0, 0.5))  # (mean h, std h, weight)
SYNTHETIC_DWELL_SIGMA = 0.5  # log-normal shape of the synthetic dwell time


def ev_table(
    arrival_tick: np.ndarray,
    departure_tick: np.ndarray,
    station: np.ndarray,
    specs: np.ndarray,
    soc_arrival: np.ndarray,
    soc_target: np.ndarray,
    tariff_eur_per_kwh: float,
    connector: np.ndarray | None = None,
    user: np.ndarray | None = None,
) -> np.ndarray:
    """The EV table, shape (N_EV_FIELDS, n), sorted by arrival (stable).

    Args:
        arrival_tick, departure_tick: ticks, shape (n,), departure > arrival.
        station: station index, -1 = any station, shape (n,).
        specs: battery kWh, max AC kW, max DC kW, max V2G kW, shape (4, n).
        soc_arrival, soc_target: shape (n,).
        tariff_eur_per_kwh: what every driver pays per kWh.
        connector: preferred connector index, -1 = none, shape (n,); default none.
        user: the user of each session (an archetype population's index), -1 = anonymous,
            shape (n,); default anonymous.
    """
    n = arrival_tick.shape[0]
    table = np.empty((L.N_EV_FIELDS, n))
    table[L.EV_ARRIVAL] = arrival_tick
    table[L.EV_DEPARTURE] = departure_tick
    table[L.EV_STATION] = station
    table[L.EV_CONNECTOR] = -1.0 if connector is None else connector
    table[L.EV_BATTERY_KWH] = specs[0]
    table[L.EV_MAX_AC_KW] = specs[1]
    table[L.EV_MAX_DC_KW] = specs[2]
    table[L.EV_MAX_V2G_KW] = specs[3]
    table[L.EV_SOC_ARRIVAL] = soc_arrival
    table[L.EV_SOC_TARGET] = soc_target
    table[L.EV_TARIFF] = tariff_eur_per_kwh
    table[L.EV_USER] = -1.0 if user is None else user
    return sorted_by_arrival(table)


def sorted_by_arrival(ev: np.ndarray) -> np.ndarray:
    """The EV table ``ev`` (N_EV_FIELDS, n) with its columns sorted by arrival (stable)."""
    return ev[:, np.argsort(ev[L.EV_ARRIVAL], kind="stable")]


def fleet_sampler(evs: EVConfig) -> FleetSampler:
    """The fleet of the config: its model list (weighted by ``share``) or an EV spec file."""
    if isinstance(evs.fleet, str):
        return FleetSampler(_ev_specs(str(data_path(evs.fleet))))
    return FleetSampler(
        pd.DataFrame(
            {
                "registrations": [m.share for m in evs.fleet],
                "battery_kwh": [m.battery_kwh for m in evs.fleet],
                "max_ac_kw": [m.max_ac_kw for m in evs.fleet],
                "max_dc_kw": [m.max_dc_kw for m in evs.fleet],
                "max_v2g_kw": [m.max_v2g_kw for m in evs.fleet],
            }
        )
    )


@cache
def _ev_specs(path: str) -> pd.DataFrame:
    return load_ev_specs(path)


@cache
def elaad_statistics():
    """The bundled ElaadNL statistics (loaded once)."""
    return load_elaad_statistics(data_path("elaad"))


@cache
def _acn(path: str, timezone: str) -> pd.DataFrame:
    return load_acn_sessions(path, timezone=timezone)


class ArrivalSource:
    """Common state of every arrival source: the config, the fleet, ticks and stations."""

    def __init__(self, config: ScenarioConfig):
        self.config = config
        self.evs = config.evs
        self.fleet = fleet_sampler(config.evs)
        self.n_ticks = config.episode_ticks
        self.dt_h = config.dt_h
        self.n_stations = len(config.stations)
        self.max_battery_kwh = float(self.fleet.specs[0].max())
        """Largest battery an EV of this source can have, kWh."""

    def archetypes_of(self, users: np.ndarray) -> list[str]:
        """The archetype of each user (``EV_USER``): "" here, where EVs are anonymous
        (:class:`~evgrid_gym.archetypes.ArchetypeArrivals` names them)."""
        return [""] * len(users)

    def _counts(self, rng: np.random.Generator, days: float) -> np.ndarray:
        return rng.poisson(self.evs.arrivals_per_station_per_day * days, self.n_stations)


class SyntheticArrivals(ArrivalSource):
    """Poisson arrivals per station (``arrivals_per_station_per_day``); arrival hour from a
    two-peak mixture (8:00 +- 1.5 h, 17:30 +- 2 h) wrapped into the day; log-normal dwell
    time with mean ``mean_dwell_h`` (at least one tick, cut at the episode end); EV models
    from the fleet; arrival and target soc uniform in their ranges (target >= arrival)."""

    def __init__(self, config: ScenarioConfig):
        super().__init__(config)
        peaks = np.array(SYNTHETIC_ARRIVAL_PEAKS_H)
        self._peaks = peaks
        self._peak_cdf = np.cumsum(peaks[:, 2]) / peaks[:, 2].sum()
        self._dwell_mu = np.log(self.evs.mean_dwell_h) - 0.5 * SYNTHETIC_DWELL_SIGMA**2

    def sample(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        days = self.n_ticks * self.dt_h / 24.0
        counts = self._counts(rng, days)
        n = int(counts.sum())
        peak = np.searchsorted(self._peak_cdf, rng.random(n), side="right")
        hour = rng.normal(self._peaks[peak, 0], self._peaks[peak, 1]) % 24.0
        day = rng.integers(0, max(int(np.ceil(days)), 1), n)
        arrival = np.minimum(np.floor((day * 24.0 + hour) / self.dt_h), self.n_ticks - 1)
        dwell_h = rng.lognormal(self._dwell_mu, SYNTHETIC_DWELL_SIGMA, n)
        departure = np.minimum(
            arrival + np.maximum(np.round(dwell_h / self.dt_h), 1.0), self.n_ticks
        )
        specs = self.fleet.sample(rng, n)
        soc_arrival = rng.uniform(*self.evs.soc_arrival, n)
        soc_target = np.maximum(rng.uniform(*self.evs.soc_target, n), soc_arrival)
        station = np.repeat(np.arange(self.n_stations), counts)
        return ev_table(
            arrival, departure, station, specs, soc_arrival, soc_target,
            self.evs.tariff_eur_per_kwh,
        )  # fmt: skip


def _soc_from_demand(
    rng: np.random.Generator, evs: EVConfig, energy_kwh: np.ndarray, battery_kwh: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(soc_arrival, soc_target)`` for an energy demand: the target is drawn from its range
    and the EV arrives ``energy / battery`` below it (at 0 when the demand is larger)."""
    soc_target = rng.uniform(*evs.soc_target, energy_kwh.shape[0])
    return np.maximum(soc_target - energy_kwh / battery_kwh, 0.0), soc_target


class ElaadArrivals(ArrivalSource):
    """ElaadNL arrivals of ``site``: per station and day Poisson(``arrivals_per_station_per_day``)
    EVs with the arrival profile (weekday or weekend), connection time and energy demand of
    the site, EV models from the fleet, and the soc following from the demand. Sessions are
    cut at the episode end. Two NumPy draws per episode (the counts, then ``EV_UNIFORMS``
    uniform numbers per EV) feed one compiled call
    (:func:`~evgrid_gym.core.sampling.sample_elaad_sessions`)."""

    def __init__(self, config: ScenarioConfig):
        super().__init__(config)
        g = ElaadSessionGenerator(elaad_statistics(), config.evs.site)
        n_days = -(-self.n_ticks // round(24.0 / self.dt_h))  # the days the episode touches
        self._counts_shape = (n_days, self.n_stations)
        self._tables = (
            np.stack([g.arrival_cdf[False], g.arrival_cdf[True]]),
            g.quantile_probability,
            g.connection_h,
            g.energy_kwh,
            self.fleet.cdf,
            np.ascontiguousarray(self.fleet.specs),
        )

    def sample(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        evs = self.evs
        counts = rng.poisson(evs.arrivals_per_station_per_day, self._counts_shape)
        u = rng.random((int(counts.sum()), EV_UNIFORMS))
        table = sample_elaad_sessions(
            counts, u, start.weekday(), *self._tables, *evs.soc_target, self.dt_h,
            self.n_ticks, evs.tariff_eur_per_kwh,
        )  # fmt: skip
        return sorted_by_arrival(table)


class ConfiguredSessions(ArrivalSource):
    """The sessions listed in the config, the same every episode."""

    def __init__(self, config: ScenarioConfig):
        super().__init__(config)
        station_index = {st.id: s for s, st in enumerate(config.stations)}
        sessions = config.evs.sessions
        self._table = ev_table(
            np.array([s.arrival_tick for s in sessions], float),
            np.array([s.departure_tick for s in sessions], float),
            np.array([station_index[s.station] for s in sessions], float),
            np.array([[s.battery_kwh, s.max_ac_kw, s.max_dc_kw, s.max_v2g_kw] for s in sessions]).T,
            np.array([s.soc_arrival for s in sessions]),
            np.array([s.soc_target for s in sessions]),
            config.evs.tariff_eur_per_kwh,
        )
        self._table.setflags(write=False)
        self.max_battery_kwh = float(max(s.battery_kwh for s in sessions))

    def sample(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        return self._table.copy()


class TraceArrivals(ArrivalSource):
    """Real sessions (ACN-Data format) replayed at their recorded connector.

    The replay conventions, stated once here:

    - **Time zone.** Sessions keep their local clock time (in ``evs.sessions_timezone``): a
      session that arrived at 08:00 at its site arrives at 08:00 on the episode's local
      day, whatever the scenario's time zone. An episode replays the sessions arriving
      within its ticks.
    - **Ticks.** Arrival and departure are both rounded down to the tick grid, as ACN-Sim
      does (``acnsim.events.acndata_events._datetime_to_timestamp``, acnportal 0.3.3);
      the stay is at least one tick and cut at the episode end (every EV leaves then).
      Rounding both ends the same way keeps the recorded stays' mean length, and sessions
      that followed each other at one EVSE never overlap there.
    - **Connector.** A session plugs into the connector whose id (``chargers[].ids``) equals
      its ``station_id``; when that connector is taken, into another free connector of the
      same station. A session whose ``station_id`` the scenario does not know takes any free
      connector of any station; with none free it is rejected (``rejected_arrivals``).
    - **Energy.** The session's delivered or requested energy (``evs.trace_demand``) is what
      the EV needs.
    - **Battery** (``evs.trace_battery``). ``fleet``: the EV model comes from the fleet, its
      battery enlarged where needed so that the demand fits below the lowest target soc, and
      the soc follows from the demand (:func:`_soc_from_demand`). ``acnsim``: ACN-Sim's
      convention (``_convert_to_ev`` without a ``capacity_fn``): the battery holds exactly
      the demand and arrives empty (soc 0, target 1), with no power limit of its own (the
      largest charger's rating), so its charger and the CC-CV curve limit it; a session with
      no demand gets a 1 kWh battery that arrives full. ACN-Sim's ``force_feasible`` (cut
      the demand to what the EVSE could deliver in the stay) is not applied: such a session
      leaves with unmet energy.
    """

    def __init__(self, config: ScenarioConfig, connector_ids: list[str | None], connector_station):
        super().__init__(config)
        evs = config.evs
        sessions = _acn(str(data_path(evs.sessions_file)), evs.sessions_timezone)
        self.sessions = sessions
        """The trace, one row per session sorted by arrival (:func:`load_acn_sessions`)."""
        self._arrival_ns = _wall_clock_ns(sessions["arrival"])
        self._departure_ns = _wall_clock_ns(sessions["departure"])
        self._energy_kwh = sessions[f"energy_{evs.trace_demand}_kwh"].to_numpy()
        index = {cid: c for c, cid in enumerate(connector_ids) if cid is not None}
        self._connector = np.array([index.get(i, -1) for i in sessions["station_id"]], float)
        self._station = np.where(
            self._connector >= 0, np.asarray(connector_station)[self._connector.astype(int)], -1
        ).astype(float)
        self._tick_ns = int(round(self.dt_h * 3600e9))
        self._charger_kw = max(ch.max_power_kw for st in config.stations for ch in st.chargers)
        self.days = sorted(set(sessions["arrival"].dt.date))
        """Local dates with at least one arrival."""
        if len(self._energy_kwh):
            lowest_target = 1.0 if evs.trace_battery == "acnsim" else evs.soc_target[0]
            largest_demand = self._energy_kwh.max() / lowest_target
            self.max_battery_kwh = max(self.max_battery_kwh, float(largest_demand))

    def rows(self, start: pd.Timestamp) -> slice:
        """The rows of :attr:`sessions` an episode starting at ``start`` (local midnight)
        replays: those arriving within its ticks on the local clock, in the order of the
        episode's EV table."""
        start_ns = start.tz_localize(None).value
        end_ns = start_ns + self.n_ticks * self._tick_ns
        first, last = np.searchsorted(self._arrival_ns, [start_ns, end_ns])
        return slice(int(first), int(last))

    def sample(self, rng: np.random.Generator, start: pd.Timestamp) -> np.ndarray:
        start_ns = start.tz_localize(None).value
        rows = self.rows(start)
        arrival = (self._arrival_ns[rows] - start_ns) // self._tick_ns
        departure = (self._departure_ns[rows] - start_ns) // self._tick_ns
        departure = np.minimum(np.maximum(departure, arrival + 1), self.n_ticks)
        energy = self._energy_kwh[rows]
        if self.evs.trace_battery == "acnsim":
            specs, soc_arrival, soc_target = self._acnsim_batteries(energy)
        else:
            specs = self.fleet.sample(rng, energy.shape[0])
            specs[0] = np.maximum(specs[0], energy / self.evs.soc_target[0])
            soc_arrival, soc_target = _soc_from_demand(rng, self.evs, energy, specs[0])
        return ev_table(
            arrival.astype(float), departure.astype(float), self._station[rows], specs,
            soc_arrival, soc_target, self.evs.tariff_eur_per_kwh, self._connector[rows],
        )  # fmt: skip

    def _acnsim_batteries(self, energy_kwh: np.ndarray):
        """``(specs, soc_arrival, soc_target)`` of ACN-Sim's replay convention."""
        n = energy_kwh.shape[0]
        some = energy_kwh > 0.0
        specs = np.zeros((4, n))
        specs[0] = np.where(some, energy_kwh, 1.0)
        specs[1:3] = self._charger_kw
        return specs, np.where(some, 0.0, 1.0), np.ones(n)


def _wall_clock_ns(times: pd.Series) -> np.ndarray:
    """Local clock times as int64 nanoseconds (the time zone dropped, the clock kept)."""
    return times.dt.tz_localize(None).astype("datetime64[ns]").astype("int64").to_numpy()


def make_arrivals(
    config: ScenarioConfig, connector_ids, connector_station, connector_charger, charger_f
) -> ArrivalSource:
    """The arrival source the config asks for (the scenario's connectors and chargers:
    ``Scenario``'s arrays of the same names)."""
    source = config.evs.source
    if source == "acn":
        return TraceArrivals(config, connector_ids, connector_station)
    if source == "archetypes":
        from evgrid_gym.archetypes import ArchetypeArrivals  # it builds on this module

        return ArchetypeArrivals(config, connector_charger, charger_f, connector_station)
    return {"synthetic": SyntheticArrivals, "elaad": ElaadArrivals, "sessions": ConfiguredSessions}[
        source
    ](config)
