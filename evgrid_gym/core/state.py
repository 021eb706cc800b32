"""The simulation as four named groups of arrays (the pattern of gymnax's ``EnvParams`` /
``EnvState`` and Jumanji's ``State``): what a scenario fixes, what an episode brings, what a
tick changes and what a tick reports.

- :class:`Static`: the scenario's constants, shared by every copy of a vector env.
- :class:`Episode`: one episode's exogenous inputs, EV sessions and outage timeline.
- :class:`State`: what the ticks change: connectors, reservations, BESS soc, clock.
- :class:`Outputs`: what a tick reports: its KPIs, the episode's totals, the per-station
  results and the observation it leaves.

Each is a ``NamedTuple`` of NumPy arrays whose fields are indexed by the constants of
:mod:`evgrid_gym.core.layout`. numba compiles kernels that take NamedTuples of arrays and
caches them (a ``jitclass`` would not cache). Inside the core, kernels take the groups; the
compiled entry points that the Python shells call (``core.tick.reset`` / ``step``,
``core.batch.reset_batch`` / ``step_batch``) take the groups' arrays *flat*, in field order
(``*static, *episode, *state, *outputs``), and regroup them at once: typing a NamedTuple
argument at the Python -> numba boundary costs about a microsecond per group and field on
every call, an array argument almost nothing.

Every factory takes an optional ``n_envs``: a vector env keeps the same groups with a leading
env axis on every per-env array.

Units and signs (stated once, pandapower style): power in kW, energy in kWh, money in EUR,
prices in EUR/kWh, time in ticks of ``dt_h`` hours, ``soc`` is a 0..1 fraction. Positive
power is consumption (charging); negative power is generation (V2G, BESS discharge, export).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from evgrid_gym.core import layout as L


def _zeros(shape: tuple[int, ...], n_envs: int | None, dtype=np.float64) -> np.ndarray:
    return np.zeros(shape if n_envs is None else (n_envs, *shape), dtype=dtype)


class Static(NamedTuple):
    """A scenario's constants (read-only; built by :class:`evgrid_gym.Scenario`).

    Shapes: C connectors, K chargers, S stations, B network buses (0 without
    ``grid.network``: then the network arrays are empty and the tick skips the network).
    """

    cfg: np.ndarray  # (N_CFG,): scalar parameters, layout.CFG_*
    connector_charger: np.ndarray  # (C,) int64: the charger of each connector
    charger_f: np.ndarray  # (N_CHARGER_FIELDS, K): layout.CH_*
    charger_station: np.ndarray  # (K,) int64: the station of each charger
    station_f: np.ndarray  # (N_STATION_FIELDS, S): layout.ST_*
    reward_weights: np.ndarray  # (N_KPI,): each KPI's weight in the reward
    obs_offsets: np.ndarray  # (N_OBS_BLOCKS + 1,) int64: where each observation block starts
    bus_parent: np.ndarray  # (B,) int64: the upstream bus of each network bus (-1 for bus 0)
    branch_f: np.ndarray  # (N_BRANCH_FIELDS, B): the branch feeding each bus, layout.BR_*
    bus_f: np.ndarray  # (N_BUS_FIELDS, B): the community's loads on each bus, layout.BUS_*
    net_cfg: np.ndarray  # (N_NET_CFG,): scalar network parameters, layout.NET_*

    def switches(self) -> tuple[bool | None, bool | None]:
        """The tick's compile-time switches ``(reservations, network)``: True where the
        scenario has the feature, None where it has not; the compiled entry points
        (``core.tick.reset`` / ``step``, ``core.batch``) take them after their arrays.

        The kernels test them with ``is not None``, which numba decides while it compiles
        (it prunes a branch on an argument that is None), so a scenario without reservations
        or a network never compiles their kernels (8 s of `default`'s first run); each
        combination is compiled, and cached, once.
        """
        reservations = True if self.cfg[L.CFG_RESERVATION] > 0.0 else None
        network = True if self.bus_parent.shape[0] > 0 else None
        return reservations, network

    @staticmethod
    def no_network() -> tuple[np.ndarray, ...]:
        """The four network arrays of a scenario without a network (B = 0)."""
        return (
            np.full(0, -1, dtype=np.int64),
            np.zeros((L.N_BRANCH_FIELDS, 0)),
            np.zeros((L.N_BUS_FIELDS, 0)),
            np.zeros(L.N_NET_CFG),
        )


class Episode(NamedTuple):
    """One episode's inputs, drawn at reset (``Scenario.sample_episode``).

    Shapes: T = episode ticks + forecast ticks + 1, E EVs, K chargers, S stations; a vector
    env pads its EV tables with +inf (an EV that never requests nor arrives).
    """

    exo: np.ndarray  # (N_EXO_FIELDS, T): wind, households, prices, layout.EXO_*
    ev: np.ndarray  # (N_EV_FIELDS, E): the EV sessions sorted by arrival, layout.EV_*
    outage: np.ndarray  # (T, K + S + 1): components down per tick, tick-major

    @classmethod
    def zeros(
        cls, n_exo_ticks: int, n_chargers: int, n_stations: int, n_envs: int | None = None
    ) -> Episode:
        """An empty episode: no EVs (a vector env's EV tables grow at reset), nothing down
        (an outage timeline of K + S + 1 zero columns, ``core.layout``)."""
        return cls(
            _zeros((L.N_EXO_FIELDS, n_exo_ticks), n_envs),
            np.full((L.N_EV_FIELDS, 0) if n_envs is None else (n_envs, L.N_EV_FIELDS, 0), np.inf),
            _zeros((n_exo_ticks, n_chargers + n_stations + 1), n_envs),
        )


class State(NamedTuple):
    """What the ticks change. Shapes: C connectors, E EVs of the episode, S stations."""

    conn: np.ndarray  # (N_CONN_FIELDS, C): the EV on each connector, layout.CN_*
    res: np.ndarray  # (N_RES_FIELDS, E): each EV's reservation, layout.RS_*
    bess_soc: np.ndarray  # (S,): station battery soc
    clock: np.ndarray  # (N_CLOCK,) int64: tick and next EV to arrive, layout.CLK_*

    @classmethod
    def zeros(
        cls, n_connectors: int, n_stations: int, n_evs: int = 0, n_envs: int | None = None
    ) -> State:
        """A state of zeros (``core.tick.reset`` starts the episode from it)."""
        return cls(
            _zeros((L.N_CONN_FIELDS, n_connectors), n_envs),
            _zeros((L.N_RES_FIELDS, n_evs), n_envs),
            _zeros((n_stations,), n_envs),
            _zeros((L.N_CLOCK,), n_envs, np.int64),
        )

    def with_evs(self, n_evs: int) -> State:
        """This state with reservation rows for ``n_evs`` EVs (new rows zero, old ones kept;
        itself when it has them already)."""
        if self.res.shape[-1] >= n_evs:
            return self
        res = np.zeros((*self.res.shape[:-1], n_evs))
        res[..., : self.res.shape[-1]] = self.res
        return self._replace(res=res)


class Outputs(NamedTuple):
    """What a tick reports. Shapes: S stations, O observation length."""

    kpi: np.ndarray  # (N_KPI,): this tick's KPIs and reward terms, layout.KPI_NAMES
    kpi_total: np.ndarray  # (N_KPI,): the episode's totals (sums; maxima: KPI_EPISODE_MAX)
    station_out: np.ndarray  # (N_STATION_OUT, S): per-station results, layout.SO_*
    obs: np.ndarray  # (O,) float32: the observation of the state now

    @classmethod
    def zeros(cls, n_stations: int, n_obs: int, n_envs: int | None = None) -> Outputs:
        """Outputs of zeros."""
        return cls(
            _zeros((L.N_KPI,), n_envs),
            _zeros((L.N_KPI,), n_envs),
            _zeros((L.N_STATION_OUT, n_stations), n_envs),
            _zeros((n_obs,), n_envs, np.float32),
        )
