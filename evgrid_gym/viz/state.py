"""What a frame or the dashboard shows of one moment of an episode, read from the env in one place.

:func:`frame_state` is the only code of :mod:`evgrid_gym.viz` that reads an env: the observation
through ``Scenario.unpack``, and the few arrays the observation does not carry (the power each
connector drew in the last tick, the per-station market results, the tick's KPIs and the
reservation table). Everything else in the package draws a :class:`FrameState`.

Timing: after ``reset`` or ``step`` an env stands at the start of tick ``t`` (its arrivals
plugged in); its KPIs, station results and connector powers are those of tick ``t - 1``, the
tick just run (all zero after ``reset``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.observation import Observation
from evgrid_gym.scenario import Scenario

FLOW_NAMES = (
    "wind_kw",  # own renewable output used or offered (after turbine outages)
    "household_kw",
    "ev_kw",  # grid-side EV charging minus V2G
    "bess_kw",  # grid-side BESS charging minus discharging
    "external_kw",  # bought from the external supplier
    "surplus_kw",  # own energy exported or curtailed
    "price_eur_per_kwh",  # the external supplier's price
)
"""The series of :func:`flows` (average power over a tick, kW; the price in EUR/kWh)."""


@dataclass(frozen=True)
class FrameState:
    """One moment of an episode: the state at the start of ``tick``, the flows of the tick before.

    Shapes: C connectors, K chargers, S stations, E EVs of the episode.

    Attributes:
        scenario: the env's scenario (topology, limits; read-only).
        tick: ticks run so far (0 after ``reset``).
        date: the episode's day, ISO format.
        observation: the observation now, as named views (a copy).
        connector_power_kw: grid-side power each connector drew in the last tick, kW, (C,);
            + charging, - V2G; 0 on connectors whose EV left at its end.
        battery_kwh: battery capacity of the EV on each connector (0 when free), kWh, (C,).
        soc_target: target soc of the EV on each connector (0 when free), (C,).
        connector_ev: index of the EV on each connector in the episode's EV table, -1 when
            free, (C,).
        station_net_kw: net import (+) or export (-) of each station in the last tick, kW, (S,).
        station_bess_kw: BESS power applied in the last tick, kW (+ charging), (S,).
        station_own_kwh, station_external_kwh: energy each station bought in the last tick's
            market from own production and from the external supplier, kWh, (S,).
        station_bid_eur_per_kwh: each station's first-unit bid in the last tick (1 - fill),
            EUR/kWh, (S,).
        kpi: the last tick's KPIs, ``core.layout.KPI_NAMES`` order, (N_KPI,).
        kpi_total: the episode's totals so far, (N_KPI,).
        price_eur_per_kwh: the external price of the last tick (of tick 0 after ``reset``).
        reservations: every EV's reservation, (N_RES_FIELDS, E) (``core.layout.RS_*``).
        outage: components down now: K chargers, S station links (0/1), the share of wind
            capacity down, (K + S + 1,); zeros when the scenario has no faults.
    """

    scenario: Scenario
    tick: int
    date: str
    observation: Observation
    connector_power_kw: np.ndarray
    battery_kwh: np.ndarray
    soc_target: np.ndarray
    connector_ev: np.ndarray
    station_net_kw: np.ndarray
    station_bess_kw: np.ndarray
    station_own_kwh: np.ndarray
    station_external_kwh: np.ndarray
    station_bid_eur_per_kwh: np.ndarray
    kpi: np.ndarray
    kpi_total: np.ndarray
    price_eur_per_kwh: float
    reservations: np.ndarray
    outage: np.ndarray

    @property
    def charger_down(self) -> np.ndarray:
        """Chargers down now, bool, (K,)."""
        return self.outage[: self.scenario.n_chargers] > 0.0

    @property
    def link_down(self) -> np.ndarray:
        """Stations whose link is down now, bool, (S,)."""
        k = self.scenario.n_chargers
        return self.outage[k : k + self.scenario.n_stations] > 0.0

    @property
    def wind_share_down(self) -> float:
        """Share of the wind capacity down now (turbine outages), 0..1."""
        return float(self.outage[-1])

    @property
    def storage_kwh(self) -> np.ndarray:
        """Each station's storage in the market, kWh, (S,): its plugged EVs' batteries + BESS."""
        sc = self.scenario
        evs = np.bincount(sc.connector_station, weights=self.battery_kwh, minlength=sc.n_stations)
        return evs + sc.station_f[L.ST_BESS_KWH]

    @property
    def reserved_connectors(self) -> np.ndarray:
        """Connectors held by a confirmed reservation whose EV has not plugged in, int, (n,)."""
        held = self.reservations[L.RS_STATUS] == L.RES_CONFIRMED
        return self.reservations[L.RS_CONNECTOR, held].astype(np.int64)

    def kpi_value(self, name: str, total: bool = False) -> float:
        """The last tick's KPI ``name`` (or its episode total); names of ``KPI_NAMES``."""
        return float((self.kpi_total if total else self.kpi)[L.KPI[name]])

    @property
    def reward(self) -> float:
        """The last tick's reward (its KPIs weighted by the scenario's reward weights)."""
        return float(self.kpi @ self.scenario.reward_weights)

    def clock(self) -> str:
        """The time of day at the start of ``tick``, ``HH:MM``."""
        minutes = round(self.tick * self.scenario.config.dt_h * 60.0)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


def frame_state(env, index: int | None = None) -> FrameState:
    """The :class:`FrameState` of an env now (copies; the env may step on).

    The one place :mod:`evgrid_gym.viz` reads an env: its ``state``, ``outputs`` and
    ``episode`` groups (:mod:`evgrid_gym.core.state`).

    Args:
        env: an :class:`~evgrid_gym.envs.EVGridEnv` (``index`` None) or an
            :class:`~evgrid_gym.envs.EVGridVectorEnv` (``index``: the copy).

    Raises:
        RuntimeError: the env was not reset yet.
    """
    if env.episode is None or (index is not None and env._rngs[index] is None):
        raise RuntimeError("call reset() before rendering")

    def pick(group):  # the group of copy ``index`` (of the single env), copied
        return type(group)(*(np.array(a if index is None else a[index]) for a in group))

    sc: Scenario = env.scenario
    state, out, episode = pick(env.state), pick(env.outputs), pick(env.episode)
    conn, station_out, kpi = state.conn, out.station_out, out.kpi
    tick = int(state.clock[L.CLK_TICK])
    # a vector env pads its EV tables with +inf (EVs that never come; real ones depart)
    n_evs = int(np.isfinite(episode.ev[L.EV_DEPARTURE]).sum())
    return FrameState(
        scenario=sc,
        tick=tick,
        date=env.date if index is None else str(env.dates[index]),
        observation=sc.unpack(out.obs),
        connector_power_kw=conn[L.CN_POWER_KW],
        battery_kwh=conn[L.CN_BATTERY_KWH],
        soc_target=conn[L.CN_SOC_TARGET],
        connector_ev=conn[L.CN_EV].astype(np.int64),
        station_net_kw=station_out[L.SO_NET_KW],
        station_bess_kw=station_out[L.SO_BESS_KW],
        station_own_kwh=station_out[L.SO_OWN_KWH],
        station_external_kwh=station_out[L.SO_EXTERNAL_KWH],
        station_bid_eur_per_kwh=station_out[L.SO_BID_EUR_PER_KWH],
        kpi=kpi,
        kpi_total=out.kpi_total,
        price_eur_per_kwh=float(episode.exo[L.EXO_PRICE, max(tick - 1, 0)]),
        reservations=state.res[:, :n_evs],
        outage=episode.outage[tick],
    )


def flows(state: FrameState) -> dict[str, float]:
    """The last tick's energy flows as average power, kW, and its price (:data:`FLOW_NAMES`)."""
    dt_h = state.scenario.config.dt_h

    def kw(*names: str, sign: float = 1.0) -> float:
        return sign * sum(state.kpi_value(name) for name in names) / dt_h

    return {
        "wind_kw": kw("renewable_kwh"),
        "household_kw": kw("household_kwh"),
        "ev_kw": kw("ev_charge_grid_kwh") - kw("ev_discharge_grid_kwh"),
        "bess_kw": kw("bess_charge_grid_kwh") - kw("bess_discharge_grid_kwh"),
        "external_kw": kw("external_energy_kwh"),
        "surplus_kw": kw("export_kwh", "curtailed_kwh"),
        "price_eur_per_kwh": state.price_eur_per_kwh,
    }


class History:
    """The flows of every tick of the episode so far (the strips of a frame).

    Args:
        n_ticks: the episode length, ticks.

    Attributes:
        values: shape (len(FLOW_NAMES), n_ticks); column t holds tick t's :func:`flows`.
        ticks: ticks recorded (columns ``[0, ticks)`` are valid).
        reward: the episode's reward so far.
    """

    def __init__(self, n_ticks: int):
        self.values = np.zeros((len(FLOW_NAMES), n_ticks))
        self.ticks = 0
        self.reward = 0.0

    def record(self, state: FrameState) -> None:
        """Adds the tick just run; a state at tick 0 (a new episode) clears the history."""
        self.ticks = state.tick
        if state.tick == 0:
            self.reward = 0.0
        else:
            self.values[:, state.tick - 1] = list(flows(state).values())
            self.reward += state.reward

    def series(self, name: str) -> np.ndarray:
        """One flow over the ticks so far, shape (ticks,)."""
        return self.values[FLOW_NAMES.index(name), : self.ticks]
