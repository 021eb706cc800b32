"""Each station's view of the single env: its observation, and its action's place in the env's.

:class:`StationView` is the one place that knows how the single env's observation and action
map onto the stations (the agents of :class:`~evgrid_gym.multiagent.EVGridParallelEnv`). It
reads the single observation only through its named views (:meth:`Scenario.unpack`) and the
scenario's index arrays (``connector_station``, ``connector_charger``), in one function,
:func:`_arrange`; it never slices the flat observation by offsets of its own. Its blocks
follow from the single env's (:data:`~evgrid_gym.core.observation.BLOCKS`, seen as
:data:`SEEN_AS` says), so a new observation block reaches the stations without a change here.

Padding: every agent has the same spaces, those of the largest station (``Cmax`` connectors),
so one shared policy serves all of them. A station with fewer connectors fills its last slots
with zeros (not occupied, no EV, rated power 0) and its ``action_mask`` marks them 0; the
action entries of a padded slot are ignored (they must still be finite). The same holds for
the BESS entry of a station without a battery. ``occupied`` is the occupancy mask: 1 where an
EV is plugged in.
"""

from __future__ import annotations

from collections import namedtuple
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.core.observation import BLOCKS
from evgrid_gym.observation import Observation
from evgrid_gym.scenario import Scenario

SEEN_AS = {"C": "connector", "S": "station", "S*H": "station", "1": "shared", "F+1": "shared"}
"""How a station sees a block of the single env's observation, by the block's size: its own
connectors' entries (padded to ``Cmax``), its own row, or the shared entries (the same for
every station, ``delay_ticks`` late). The ``outage`` block (K + S + 1) is split three ways,
into ``charger_down``, ``link_down`` and ``wind_share_down``; a block of any other size
needs its rule here (importing this module fails until it has one)."""

_ADDED = {  # name: (seen as, length, unit, description); entries that are not a block
    "rated_kw": ("connector", "Cmax", "kW", "rated power of the connector's charger (0: padding)"),
    "charger_down": ("connector", "Cmax", "0/1", "with faults: the connector's charger is down"),
    "action_mask": ("connector", "Cmax (+1)", "0/1",
                    "1 where the action entry acts on a connector (or the BESS)"),
    "link_down": ("station", "1", "0/1", "with faults: the station's link is down"),
    "wind_share_down": ("shared", "1", "fraction", "with faults: share of the wind capacity down"),
}  # fmt: skip


def _fields() -> tuple[tuple[str, str, str, str, str], ...]:
    """``(name, seen as, length, unit, description)`` of every block of a station's
    observation, in order: its connectors' blocks, its own, the shared ones; each group the
    single observation's blocks in their order, then the entries added here."""
    rows = []
    for block in BLOCKS:
        if block.name == "outage":
            continue
        if block.size not in SEEN_AS:
            raise ValueError(
                f"observation block {block.name!r} of size {block.size}: a station's view of "
                "it is not defined (station_view.SEEN_AS)"
            )
        kind = SEEN_AS[block.size]
        length = {"connector": "Cmax", "station": block.size.replace("S*", "").replace("S", "1"),
                  "shared": block.size}[kind]  # fmt: skip
        when = f"with {block.when}: " if block.when else ""
        rows.append((block.name, kind, length, block.unit, when + block.description))
    rows += [(name, *spec) for name, spec in _ADDED.items()]
    order = ("connector", "station", "shared")
    return tuple(sorted(rows, key=lambda row: order.index(row[1])))  # stable: blocks first


FIELDS = _fields()
"""Every block of a station's observation: ``(name, seen as, length, unit, description)``."""

StationObservation = namedtuple("StationObservation", [field[0] for field in FIELDS])
StationObservation.__doc__ = (
    "One station's observation as named blocks, each an array whose last axis is the block "
    "(a batch of observations keeps its leading axes): "
    + ", ".join(f"``{name}`` ({length}, {unit})" for name, _, length, unit, _ in FIELDS)
    + ". Cmax: connectors of the largest station; F: forecast ticks; H: reservation hours; "
    "the blocks of faults, reservations and the network have length 0 without them."
)

OBSERVATION_UNITS = {name: unit for name, _, _, unit, _ in FIELDS}
"""The unit of every block of :class:`StationObservation`."""


def markdown_table() -> str:
    """The README's table of a station's observation."""
    rows = ["| block | length | unit |", "|---|---:|---|"]
    for name, kind, length, unit, description in FIELDS:
        shared = "shared: " if kind == "shared" else ""
        rows.append(f"| {shared}{description} (`{name}`) | {length} | {unit} |")
    return "\n".join(rows)


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

    def per_slot(values) -> np.ndarray:
        return np.append(np.asarray(values, dtype=np.float64), pad)[slots]

    def per_station(values) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).reshape(n_st, -1)

    def everyone(values) -> np.ndarray:
        row = np.atleast_1d(np.asarray(values, dtype=np.float64))
        return np.broadcast_to(row, (n_st, row.shape[0]))

    seen = {"connector": lambda name: per_slot(getattr(now, name)),
            "station": lambda name: per_station(getattr(now, name)),
            "shared": lambda name: everyone(getattr(shared, name))}  # fmt: skip
    blocks = {name: seen[kind](name) for name, kind, *_ in FIELDS if name not in _ADDED}
    own_out, shared_out = now.outage, shared.outage
    faults = sc.config.faults.enabled
    none = np.empty((n_st, 0))
    mask = [per_slot(static.connector)]
    if sc.config.action.bess_control:
        mask.append(per_station(static.bess))
    blocks.update(
        rated_kw=per_slot(static.rated_kw),
        charger_down=per_slot(own_out[:n_ch][sc.connector_charger]) if faults else none,
        action_mask=np.hstack(mask),
        link_down=per_station(own_out[n_ch : n_ch + n_st]) if faults else none,
        wind_share_down=everyone(shared_out[-1:]) if faults else none,
    )
    return StationObservation(**blocks)


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
