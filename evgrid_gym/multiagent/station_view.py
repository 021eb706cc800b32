"""Each station's view of the single env: its observation, and its action's place in the env's.

:class:`StationView` is the one place that knows how the single env's observation and action
map onto the stations (the agents of :class:`~evgrid_gym.multiagent.EVGridParallelEnv`). It
reads the single observation only through its named views (:meth:`Scenario.unpack`) and the
scenario's index arrays (``connector_station``, ``connector_charger``), in one function,
:func:`_arrange`; it never slices the flat observation by offsets of its own.

Padding: every agent has the same spaces, those of the largest station (``Cmax`` connectors),
so one shared policy serves all of them. A station with fewer connectors fills its last slots
with zeros (not occupied, no EV, rated power 0) and its ``action_mask`` marks them 0; the
action entries of a padded slot are ignored (they must still be finite). The same holds for
the BESS entry of a station without a battery. ``occupied`` is the occupancy mask: 1 where an
EV is plugged in.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.observation import Observation
from evgrid_gym.scenario import Scenario


class StationObservation(NamedTuple):
    """One station's observation as named blocks, in this order (``Cmax``: connectors of the
    largest station; A = ``Cmax`` (+ 1 with ``action.bess_control``); F: forecast ticks; H:
    reservation hours; the blocks marked "faults" have length 0 without faults).

    Each block is an array whose last axis is the block (a batch of observations keeps its
    leading axes).
    """

    occupied: np.ndarray  # (Cmax,) 0/1, the occupancy mask
    soc: np.ndarray  # (Cmax,) EV soc
    energy_needed_kwh: np.ndarray  # (Cmax,) to the target soc, kWh
    ticks_to_departure: np.ndarray  # (Cmax,) ticks
    max_power_kw: np.ndarray  # (Cmax,) max average power the EV can take this tick, kW
    rated_kw: np.ndarray  # (Cmax,) rated power of the connector's charger, kW (0: padding)
    charger_down: np.ndarray  # (Cmax,) faults: the connector's charger is down, 0/1
    action_mask: np.ndarray  # (A,) 1 where the action entry acts on a connector or BESS
    bess_soc: np.ndarray  # (1,) the station's BESS soc (0 without one)
    headroom_kw: np.ndarray  # (1,) grid + BESS discharge - EVs' max power, kW
    reservations: np.ndarray  # (H,) confirmed reservations arriving h..h+1 hours ahead
    link_down: np.ndarray  # (1,) faults: the station's link is down, 0/1
    time_sin: np.ndarray  # (1,) shared block from here on (``delay_ticks`` late)
    time_cos: np.ndarray  # (1,)
    price_eur_per_kwh: np.ndarray  # (F+1,) external price now and the next F ticks
    renewable_kw: np.ndarray  # (F+1,) own renewable output now and the next F ticks, kW
    household_kw: np.ndarray  # (1,) household load, kW
    wind_share_down: np.ndarray  # (1,) faults: share of the wind capacity down


OBSERVATION_UNITS = {
    "occupied": "0/1",
    "soc": "fraction",
    "energy_needed_kwh": "kWh",
    "ticks_to_departure": "ticks",
    "max_power_kw": "kW",
    "rated_kw": "kW",
    "charger_down": "0/1",
    "action_mask": "0/1",
    "bess_soc": "fraction",
    "headroom_kw": "kW",
    "reservations": "count",
    "link_down": "0/1",
    "time_sin": "-",
    "time_cos": "-",
    "price_eur_per_kwh": "EUR/kWh",
    "renewable_kw": "kW",
    "household_kw": "kW",
    "wind_share_down": "fraction",
}
"""The unit of every block of :class:`StationObservation`."""


class _Static(NamedTuple):
    """The static entries of the agents' observations, per connector and per station."""

    rated_kw: np.ndarray  # (C,)
    connector: np.ndarray  # (C,) 1: the slot holds a connector
    bess: np.ndarray  # (S,) 1: the station's BESS entry acts (bess_control and a BESS)


def _arrange(
    sc: Scenario, slots: np.ndarray, now: Observation, shared: Observation, static: _Static,
    pad: float,
) -> StationObservation:  # fmt: skip
    """Every station's observation as named blocks of shape (S, n), from named views of the
    single env's observation.

    The one builder of the per-station observation. It takes any observation-shaped values,
    so it serves three ways: with the observation's values, with the position of each entry
    (the gather index :class:`StationView` steps with), and with the bounds.

    Args:
        sc: the scenario.
        slots: the connector in each station's slot, (S, Cmax); C (one past the last) marks
            padding, which gets ``pad``.
        now: the views of the station's own blocks (connectors, BESS, reservations, outages).
        shared: the views of the shared block (time, price, renewables, households, wind
            outage), possibly an older observation (``delay_ticks``).
        static: rated power and action mask entries.
        pad: the value of padded entries.
    """
    n_st, n_ch = sc.n_stations, sc.n_chargers
    faults = sc.config.faults.enabled

    def per_slot(values) -> np.ndarray:
        return np.append(np.asarray(values, dtype=np.float64), pad)[slots]

    def per_station(values) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).reshape(n_st, -1)

    def everyone(values) -> np.ndarray:
        row = np.atleast_1d(np.asarray(values, dtype=np.float64))
        return np.broadcast_to(row, (n_st, row.shape[0]))

    none = np.empty((n_st, 0))
    own_out, shared_out = now.outage, shared.outage
    mask = [per_slot(static.connector)]
    if sc.config.action.bess_control:
        mask.append(per_station(static.bess))
    return StationObservation(
        occupied=per_slot(now.occupied),
        soc=per_slot(now.soc),
        energy_needed_kwh=per_slot(now.energy_needed_kwh),
        ticks_to_departure=per_slot(now.ticks_to_departure),
        max_power_kw=per_slot(now.max_power_kw),
        rated_kw=per_slot(static.rated_kw),
        charger_down=per_slot(own_out[:n_ch][sc.connector_charger]) if faults else none,
        action_mask=np.hstack(mask),
        bess_soc=per_station(now.bess_soc),
        headroom_kw=per_station(now.headroom_kw),
        reservations=per_station(now.reservations),
        link_down=per_station(own_out[n_ch : n_ch + n_st]) if faults else none,
        time_sin=everyone(shared.time_sin),
        time_cos=everyone(shared.time_cos),
        price_eur_per_kwh=everyone(shared.price_eur_per_kwh),
        renewable_kw=everyone(shared.renewable_kw),
        household_kw=everyone(shared.household_kw),
        wind_share_down=everyone(shared_out[-1:]) if faults else none,
    )


class StationView:
    """Splits the single env's observation per station and joins the stations' actions.

    Args:
        scenario: the scenario of the single env.

    Attributes:
        observation_space: every agent's observation space, ``Box(low, high, (D,),
            float32)`` with finite bounds (per entry, the widest over the stations).
        action_space: every agent's action space, ``Box(-1, 1, (A,), float32)``: its
            connectors' powers as fractions of their charger's rated power, then (with
            ``action.bess_control``) its BESS power as a fraction of the BESS's rated power.
        block_sizes: the length of each block of :class:`StationObservation`, in order.
    """

    def __init__(self, scenario: Scenario):
        sc = self.scenario = scenario
        n_conn, n_st = sc.n_connectors, sc.n_stations
        n_obs = sc.observation_low.shape[0]
        self.max_connectors = int(sc.station_connectors.max())
        slots = np.full((n_st, self.max_connectors), n_conn, dtype=np.int64)
        slot_of = np.zeros(n_conn, dtype=np.int64)  # each connector's slot in its station
        for s in range(n_st):
            mine = np.flatnonzero(sc.connector_station == s)
            slots[s, : mine.size] = mine
            slot_of[mine] = np.arange(mine.size)
        bess_acts = (sc.station_f[L.ST_BESS_KWH] > 0.0).astype(np.float64)
        values = _Static(sc.connector_rated_kw, np.ones(n_conn), bess_acts)
        # gather index: positions in [observation now | shared observation | static | 0]
        n_static = 2 * n_conn + n_st
        positions = np.arange(2 * n_obs + n_static, dtype=np.float64)
        statics = np.split(positions[2 * n_obs :], [n_conn, 2 * n_conn])
        index = _arrange(
            sc, slots, sc.unpack(positions[:n_obs]), sc.unpack(positions[n_obs : 2 * n_obs]),
            _Static(*statics), pad=2 * n_obs + n_static,
        )  # fmt: skip
        self.block_sizes = tuple(block.shape[1] for block in index)
        self._index = np.hstack(index).astype(np.int64)
        self._source = np.zeros(2 * n_obs + n_static + 1, dtype=np.float32)
        self._source[2 * n_obs : -1] = np.concatenate(values)
        self._n_obs = n_obs
        low_static = _Static(np.zeros(n_conn), np.zeros(n_conn), np.zeros(n_st))
        high_static = _Static(sc.connector_rated_kw, np.ones(n_conn), np.ones(n_st))
        low_view, high_view = sc.unpack(sc.observation_low), sc.unpack(sc.observation_high)
        low = np.hstack(_arrange(sc, slots, low_view, low_view, low_static, 0.0)).min(axis=0)
        high = np.hstack(_arrange(sc, slots, high_view, high_view, high_static, 0.0)).max(axis=0)
        high = np.where(high > low, high, low + 1.0)  # Gymnasium's checkers warn on low == high
        self.observation_space = gym.spaces.Box(
            low.astype(np.float32), high.astype(np.float32), dtype=np.float32
        )
        bess_entry = int(sc.config.action.bess_control)
        self.action_space = gym.spaces.Box(
            -1.0, 1.0, (self.max_connectors + bess_entry,), np.float32
        )
        n_act = self.action_space.shape[0]
        # each single-env action entry's position in the (S, A) matrix of agent actions
        join = [sc.connector_station * n_act + slot_of]
        if bess_entry:
            join.append(np.arange(n_st) * n_act + self.max_connectors)
        self._join = np.concatenate(join).astype(np.int64)

    def observe(self, observation: np.ndarray, shared: np.ndarray | None = None) -> np.ndarray:
        """Every station's observation, float32, shape (S, D).

        Args:
            observation: the single env's observation now (its stations' own blocks).
            shared: the single env's observation whose shared block (time, prices,
                renewables, households, wind outage) the stations see; default
                ``observation`` (no delay).
        """
        n = self._n_obs
        self._source[:n] = observation
        self._source[n : 2 * n] = observation if shared is None else shared
        return self._source[self._index]

    def join(self, actions: np.ndarray) -> np.ndarray:
        """The single env's action, float32, shape (n_actions,), from the stations' actions,
        shape (S, A) in station order (padded entries are dropped)."""
        return np.ascontiguousarray(actions, dtype=np.float32).reshape(-1)[self._join]

    def unpack(self, observation: np.ndarray) -> StationObservation:
        """Named views of station observations, shape (..., D) (no copies)."""
        ends = np.cumsum(self.block_sizes)[:-1]
        return StationObservation(*np.split(observation, ends, axis=-1))
