"""A scenario as arrays: the static parameters of the core and the sampling of episodes.

:class:`Scenario` turns a validated :class:`~evgrid_gym.config.ScenarioConfig` into the packed
arrays of :mod:`evgrid_gym.core.layout`, the observation bounds, and a sampler that draws one
episode's exogenous inputs and EV sessions from a seeded generator. Policies may read a
scenario (it is the "read-only scenario view" of the baselines); the env owns its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.core import layout as L
from evgrid_gym.core.tick import observation_size
from evgrid_gym.data import synthetic
from evgrid_gym.data.wind import power_curve_kw, turbine_power_kw

REWARD_PRESETS = {
    "profit": {
        "revenue_eur": 1.0,
        "energy_cost_eur": -1.0,
        "export_revenue_eur": 1.0,
        "unmet_penalty_eur": -1.0,
        "overload_penalty_eur": -1.0,
    },
    "cost": {
        "energy_cost_eur": -1.0,
        "export_revenue_eur": 1.0,
        "unmet_penalty_eur": -1.0,
        "overload_penalty_eur": -1.0,
    },
    "satisfaction": {"unmet_energy_kwh": -1.0, "overload_kwh": -1.0},
}


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Scenario:
    """Static arrays of one scenario (all read-only).

    Attributes:
        config: the validated config.
        cfg: scalar parameters, shape (N_CFG,).
        conn_charger: charger index per connector, int64, shape (C,).
        charger_f: charger parameters, shape (N_CHARGER_FIELDS, K).
        charger_station: station index per charger, int64, shape (K,).
        station_f: station parameters, shape (N_STATION_FIELDS, S).
        reward_weights: weight of each KPI in the reward, shape (N_KPI,).
        connector_rated_kw: rated power of each connector's charger, kW, shape (C,).
        connector_station: station index per connector, int64, shape (C,).
        observation_low, observation_high: float32 bounds of the observation.
    """

    config: ScenarioConfig
    cfg: np.ndarray = field(init=False)
    conn_charger: np.ndarray = field(init=False)
    charger_f: np.ndarray = field(init=False)
    charger_station: np.ndarray = field(init=False)
    station_f: np.ndarray = field(init=False)
    reward_weights: np.ndarray = field(init=False)
    connector_rated_kw: np.ndarray = field(init=False)
    connector_station: np.ndarray = field(init=False)
    observation_low: np.ndarray = field(init=False)
    observation_high: np.ndarray = field(init=False)

    def __post_init__(self):
        c = self.config
        chargers = [
            (s, ch)
            for s, st in enumerate(c.stations)
            for ch in st.chargers
            for _ in range(ch.count)
        ]
        charger_f = np.zeros((L.N_CHARGER_FIELDS, len(chargers)))
        for k, (_, ch) in enumerate(chargers):
            charger_f[L.CH_MAX_KW, k] = ch.max_power_kw
            charger_f[L.CH_EFFICIENCY, k] = ch.efficiency
            charger_f[L.CH_IS_DC, k] = ch.kind == "DC"
            charger_f[L.CH_V2G, k] = ch.v2g
        charger_station = np.array([s for s, _ in chargers], dtype=np.int64)
        conn_charger = np.repeat(
            np.arange(len(chargers), dtype=np.int64), [ch.connectors for _, ch in chargers]
        )
        station_f = np.zeros((L.N_STATION_FIELDS, len(c.stations)))
        for s, st in enumerate(c.stations):
            station_f[L.ST_GRID_KW, s] = st.grid_capacity_kw
            if st.bess is not None:
                station_f[L.ST_BESS_KWH, s] = st.bess.capacity_kwh
                station_f[L.ST_BESS_KW, s] = st.bess.power_kw
                station_f[L.ST_BESS_EFFICIENCY, s] = st.bess.efficiency
                station_f[L.ST_BESS_SOC_MIN, s] = st.bess.soc_min
                station_f[L.ST_BESS_SOC_MAX, s] = st.bess.soc_max
                station_f[L.ST_BESS_SOC_INIT, s] = st.bess.initial_soc
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
        cfg[L.CFG_N_TICKS] = c.episode_ticks
        cfg[L.CFG_FORECAST_TICKS] = c.observation.forecast_ticks
        cfg[L.CFG_BESS_ACTION] = c.action.bess_control
        cfg[L.CFG_TICKS_PER_DAY] = round(24.0 / c.dt_h)
        weights = np.zeros(L.N_KPI)
        preset = c.reward.weights if c.reward.name == "custom" else REWARD_PRESETS[c.reward.name]
        for name, weight in preset.items():
            weights[L.KPI[name]] = weight
        arrays = {
            "cfg": cfg,
            "conn_charger": conn_charger,
            "charger_f": charger_f,
            "charger_station": charger_station,
            "station_f": station_f,
            "reward_weights": weights,
            "connector_rated_kw": charger_f[L.CH_MAX_KW, conn_charger],
            "connector_station": charger_station[conn_charger],
        }
        arrays["observation_low"], arrays["observation_high"] = self._observation_bounds(
            arrays["connector_rated_kw"], arrays["connector_station"], station_f
        )
        for name, array in arrays.items():
            object.__setattr__(self, name, _readonly(np.ascontiguousarray(array)))

    @property
    def n_connectors(self) -> int:
        return self.conn_charger.shape[0]

    @property
    def n_stations(self) -> int:
        return self.station_f.shape[1]

    @property
    def n_actions(self) -> int:
        """Action length: one entry per connector, plus one per station with BESS control."""
        return self.n_connectors + self.n_stations * int(self.config.action.bess_control)

    @property
    def n_exo_ticks(self) -> int:
        """Ticks of exogenous input an episode needs: the horizon, its forecast, the last tick."""
        return self.config.episode_ticks + self.config.observation.forecast_ticks + 1

    def renewable_capacity_kw(self) -> float:
        """Installed wind power, kW (the maximum of each turbine's power curve)."""
        return sum(
            t.count * power_curve_kw(t.turbine_type)[1].max() for t in self.config.wind.turbines
        )

    def price_bounds(self) -> tuple[float, float]:
        """Range of the external price, EUR/kWh."""
        supplier = self.config.supplier
        if supplier.price_profile == "fixed":
            return supplier.price_eur_per_kwh, supplier.price_eur_per_kwh
        return 0.0, synthetic.PRICE_MAX_FACTOR * supplier.price_eur_per_kwh

    def _observation_bounds(self, rated_kw, conn_station, station_f):
        c = self.config
        n_c, n_s, n_f = len(rated_kw), station_f.shape[1], c.observation.forecast_ticks
        max_battery = max(
            [m.battery_kwh for m in c.evs.fleet] + [s.battery_kwh for s in c.evs.sessions]
        )
        station_rated = np.bincount(conn_station, weights=rated_kw, minlength=n_s)
        price_low, price_high = self.price_bounds()
        households = synthetic.household_peak_kw(c.households.count, c.households.annual_kwh)
        low = np.concatenate(
            [
                np.zeros(5 * n_c + n_s),
                -station_rated,
                [-1.0, -1.0],
                np.full(n_f + 1, price_low),
                np.zeros(n_f + 2),
            ]
        )
        high = np.concatenate(
            [
                np.ones(2 * n_c),
                np.full(n_c, max_battery),
                np.full(n_c, c.episode_ticks),
                rated_kw,
                np.ones(n_s),
                station_f[L.ST_GRID_KW] + station_f[L.ST_BESS_KW],
                [1.0, 1.0],
                np.full(n_f + 1, price_high),
                np.full(n_f + 1, self.renewable_capacity_kw()),
                [households],
            ]
        )
        assert low.shape == high.shape == (observation_size(n_c, n_s, n_f),)
        return low.astype(np.float32), high.astype(np.float32)

    def sample_episode(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draws one episode's inputs.

        Returns:
            ``(exo, ev)``: exogenous inputs, shape (N_EXO_FIELDS, n_exo_ticks), and EV
            sessions sorted by arrival, shape (N_EV_FIELDS, n_evs).
        """
        c = self.config
        n = self.n_exo_ticks
        exo = np.empty((L.N_EXO_FIELDS, n))
        speed = None
        renewable = np.zeros(n)
        for turbine in c.wind.turbines:
            if speed is None:
                speed = synthetic.wind_speed_m_s(
                    rng, n, c.dt_h, c.wind.mean_wind_speed_m_s, c.wind.variability
                )
            renewable += turbine.count * turbine_power_kw(
                speed, c.wind.measurement_height_m, turbine.hub_height_m, turbine.turbine_type
            )
        exo[L.EXO_RENEWABLE_KW] = renewable
        exo[L.EXO_HOUSEHOLD_KW] = synthetic.household_load_kw(
            rng, n, c.dt_h, c.households.count, c.households.annual_kwh
        )
        if c.supplier.price_profile == "fixed":
            exo[L.EXO_PRICE] = c.supplier.price_eur_per_kwh
        else:
            exo[L.EXO_PRICE] = synthetic.day_ahead_price(
                rng, n, c.dt_h, c.supplier.price_eur_per_kwh
            )
        exo[L.EXO_FEED_IN] = c.supplier.feed_in_eur_per_kwh
        if c.evs.source == "sessions":
            ev = self._configured_sessions()
        else:
            ev = synthetic.ev_sessions(rng, c.evs, self.n_stations, c.episode_ticks, c.dt_h)
        return exo, ev

    def _configured_sessions(self) -> np.ndarray:
        c = self.config
        station_index = {st.id: s for s, st in enumerate(c.stations)}
        sessions = sorted(c.evs.sessions, key=lambda s: s.arrival_tick)
        ev = np.empty((L.N_EV_FIELDS, len(sessions)))
        for i, s in enumerate(sessions):
            ev[:, i] = 0.0
            ev[L.EV_ARRIVAL, i] = s.arrival_tick
            ev[L.EV_DEPARTURE, i] = s.departure_tick
            ev[L.EV_STATION, i] = station_index[s.station]
            ev[L.EV_BATTERY_KWH, i] = s.battery_kwh
            ev[L.EV_SOC_ARRIVAL, i] = s.soc_arrival
            ev[L.EV_SOC_TARGET, i] = s.soc_target
            ev[L.EV_MAX_AC_KW, i] = s.max_ac_kw
            ev[L.EV_MAX_DC_KW, i] = s.max_dc_kw
            ev[L.EV_MAX_V2G_KW, i] = s.max_v2g_kw
            ev[L.EV_TARIFF, i] = c.evs.tariff_eur_per_kwh
        return ev
