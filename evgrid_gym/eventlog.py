"""The log of an episode: every session, every event and every tick (seed 004's per-user log).

:class:`EpisodeLog` follows an episode through what an env exposes publicly: the ``info`` of
each step (KPIs, ``connector_ev``, ``connector_kw``, per-station results), the episode's
inputs (``episode`` and ``date``: the EV table with each session's user, the prices, the
outage timeline), the fleet's flexibility (``flexibility()``) and, at the end, each EV's reservation
(``reservations``). It writes, per episode, into one folder:

- ``sessions.csv``: one row per EV of the episode: user and archetype, station and connector,
  plug-in, first and last charging tick, unplug, soc at plug-in and at departure,
  requested, delivered and unmet battery energy (kWh), what became of it (``plugged``,
  ``rejected``: no free connector, ``no_show``) and of its reservation (``RESERVATIONS``);
- ``events.csv``: every plug-in, charging start and stop, V2G start and stop, unplug (per
  EV) and outage begin and end (per charger, station link and the wind farm), with the tick
  and the local time it happened at;
- ``ticks.csv``: every tick's KPIs (``core.layout.KPI_NAMES``), per-station results
  (``station_net_kw[north]``, ...), the external price, the fleet's power and its
  flexibility: the least and the most power it must and could draw
  (``flexibility_low_kw``, ``flexibility_high_kw``) and how much more and less than it did
  (``flexibility_up_kw``, ``flexibility_down_kw``; :mod:`evgrid_gym.core.flexibility`);
- ``ev_ticks.csv``: each plugged-in EV's soc at the start of each tick and the power it drew;
- ``flexibility.csv``: the fleet's energy envelope from every whole hour on (the least and
  the most grid energy the EVs plugged in then must and can take by each later tick) and the
  energy they did take;
- ``episode.json``: scenario, policy, seed, day, tick length, stations and limits.

A tick's ``time`` is the local time it starts at. Each table is also written as Parquet
when ``pyarrow`` is installed. Nothing in a log depends on the wall clock: a seeded run
writes the same files again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evgrid_gym.core import layout as L
from evgrid_gym.core.flexibility import tick_flexibility_kw
from evgrid_gym.envs.evgrid_env import STATION_INFO

LOG_TABLES = ("sessions", "events", "ticks", "ev_ticks", "flexibility")
"""The tables of a log, each written as ``<name>.csv`` (and ``.parquet``)."""
RESERVATIONS = {
    L.RES_NONE: "none",
    L.RES_PENDING: "pending",
    L.RES_CONFIRMED: "confirmed",
    L.RES_SERVED: "served",
    L.RES_EXPIRED: "no_show",
    L.RES_CANCELLED: "cancelled",
    L.RES_REJECTED: "rejected",
}
"""Names of the reservation statuses (``core.layout.RES_*``) in ``sessions.csv``."""
POWER_TOL_KW = 1e-6
"""A connector charges (or discharges) when it draws more than this (or less than minus)."""


class EpisodeLog:
    """Records one episode: :meth:`start` after ``reset``, :meth:`record` after each
    ``step``, then :meth:`tables` or :meth:`write`.

    Args:
        policy: the policy's name, for ``episode.json`` and the plots' titles.
        seed: the episode's seed.
    """

    def __init__(self, policy: str = "", seed: int | None = None):
        self.policy, self.seed = policy, seed

    def start(self, env, info: dict[str, Any]) -> None:
        """Starts recording the episode ``env`` was just reset to (``info``: its reset info)."""
        self._env = env = env.unwrapped
        sc = env.scenario
        self._episode, self._date = env.episode, env.date  # fixed for the episode
        ev = self._episode.ev
        self._efficiency = sc.charger_f[L.CH_EFFICIENCY, sc.connector_charger]
        self._energy_kwh = ev[L.EV_SOC_ARRIVAL] * ev[L.EV_BATTERY_KWH]
        self._ticks_per_hour = max(round(1.0 / sc.config.dt_h), 1)
        self._tick_rows: list[dict[str, Any]] = []
        self._ev_rows: list[np.ndarray] = []
        self._envelopes: list[np.ndarray] = []
        self._anchors: dict[int, np.ndarray] = {}  # envelope start tick -> its fleet's EVs
        self._connector_ev = np.asarray(info["connector_ev"]).copy()
        self._look_ahead(int(info["tick"]))

    def _look_ahead(self, tick: int) -> None:
        """The fleet's flexibility from the coming ``tick`` on (its envelope at whole hours)."""
        hourly = tick % self._ticks_per_hour == 0
        if tick >= self._env.scenario.config.episode_ticks:
            self._range_kw = (0.0, 0.0)
            return
        flexibility = self._env.flexibility(None if hourly else 0)
        self._range_kw = flexibility.low_kw, flexibility.high_kw
        if hourly and flexibility.least_kwh.size:
            h = np.arange(1, flexibility.least_kwh.size + 1)
            rows = [np.full(h.size, tick), h, flexibility.least_kwh, flexibility.most_kwh]
            self._envelopes.append(np.column_stack([*rows, np.zeros(h.size)]))
            self._anchors[tick] = self._connector_ev[self._connector_ev >= 0].copy()

    def record(self, info: dict[str, Any]) -> None:
        """Records the tick just stepped (``info``: the step's info)."""
        dt_h = self._env.scenario.config.dt_h
        tick = int(info["tick"]) - 1
        power_kw = np.asarray(info["connector_kw"])
        plugged = np.flatnonzero(self._connector_ev >= 0)
        evs = self._connector_ev[plugged]
        battery_kwh = self._episode.ev[L.EV_BATTERY_KWH, evs]
        soc = self._energy_kwh[evs] / battery_kwh
        grid_kwh = power_kw[plugged] * dt_h
        eta = self._efficiency[plugged]
        self._energy_kwh[evs] += np.where(grid_kwh >= 0.0, grid_kwh * eta, grid_kwh / eta)
        self._ev_rows.append(
            np.column_stack([np.full(evs.size, tick), evs, plugged, power_kw[plugged], soc])
        )
        low_kw, high_kw = self._range_kw
        drawn_kw, up_kw, down_kw = tick_flexibility_kw(
            info["ev_charge_grid_kwh"], info["ev_discharge_grid_kwh"], dt_h, low_kw, high_kw
        )
        row = {"tick": tick} | {name: info[name] for name in L.KPI_NAMES}
        row |= {
            "price_eur_per_kwh": self._episode.exo[L.EXO_PRICE, tick],
            "plugged_evs": evs.size,
            "fleet_kw": drawn_kw,
            "flexibility_low_kw": low_kw,
            "flexibility_high_kw": high_kw,
            "flexibility_up_kw": up_kw,
            "flexibility_down_kw": down_kw,
        }
        for name in STATION_INFO:
            for station, value in zip(self._station_ids, info[name], strict=True):
                row[f"{name}[{station}]"] = value
        self._tick_rows.append(row)
        self._connector_ev = np.asarray(info["connector_ev"]).copy()
        self._look_ahead(tick + 1)

    @property
    def _station_ids(self) -> list[str]:
        return [s.id for s in self._env.scenario.config.stations]

    # --- the tables ------------------------------------------------------------------------

    def tables(self) -> dict[str, pd.DataFrame]:
        """The log's tables (:data:`LOG_TABLES`), as recorded so far."""
        ev_ticks = self._ev_ticks()
        sessions = self._sessions(ev_ticks)
        return {
            "sessions": sessions,
            "events": self._events(ev_ticks, sessions),
            "ticks": self._with_time(pd.DataFrame(self._tick_rows)),
            "ev_ticks": ev_ticks,
            "flexibility": self._flexibility(ev_ticks),
        }

    def _time(self, ticks) -> pd.Series:
        """The local ISO time each tick starts at."""
        config = self._env.scenario.config
        start = pd.Timestamp(self._date).tz_localize(config.calendar.timezone)
        hours = np.asarray(ticks, dtype=float) * config.dt_h
        times = start + pd.to_timedelta(hours, unit="h")
        return pd.Series([t.isoformat() for t in times], dtype=object)

    def _with_time(self, frame: pd.DataFrame, column: str = "tick") -> pd.DataFrame:
        frame.insert(frame.columns.get_loc(column) + 1, "time", self._time(frame[column]).values)
        return frame

    def _ev_ticks(self) -> pd.DataFrame:
        rows = np.concatenate(self._ev_rows) if self._ev_rows else np.zeros((0, 5))
        ev = rows[:, 1].astype(np.int64)
        users = self._episode.ev[L.EV_USER, ev].astype(np.int64)
        frame = pd.DataFrame({
            "tick": rows[:, 0].astype(np.int64),
            "ev": ev,
            "user": users,
            "archetype": self._env.scenario.arrivals.archetypes_of(users),
            "connector": rows[:, 2].astype(np.int64),
            "power_kw": rows[:, 3],
            "soc": rows[:, 4],
        })  # fmt: skip
        return self._with_time(frame)

    def _sessions(self, ev_ticks: pd.DataFrame) -> pd.DataFrame:
        sc, ev = self._env.scenario, self._episode.ev
        n = ev.shape[1]
        users = ev[L.EV_USER].astype(np.int64)
        by_ev = ev_ticks.groupby("ev")
        charging = ev_ticks[ev_ticks["power_kw"] > POWER_TOL_KW].groupby("ev")["tick"]
        plug_in = by_ev["tick"].min().reindex(range(n))
        unplug = (by_ev["tick"].max() + 1).reindex(range(n))
        connector = by_ev["connector"].first().reindex(range(n))
        station = np.where(
            connector.notna(),
            sc.connector_station[connector.fillna(0).astype(np.int64)],
            ev[L.EV_STATION],
        ).astype(np.int64)
        ids = self._station_ids
        capacity = ev[L.EV_BATTERY_KWH]
        arrival = ev[L.EV_SOC_ARRIVAL] * capacity
        requested = np.maximum(ev[L.EV_SOC_TARGET] - ev[L.EV_SOC_ARRIVAL], 0.0) * capacity
        delivered = self._energy_kwh - arrival
        status = self._env.reservations[L.RS_STATUS]
        frame = pd.DataFrame({
            "ev": np.arange(n),
            "user": users,
            "archetype": sc.arrivals.archetypes_of(users),
            "station": [ids[s] if s >= 0 else "" for s in station],
            "connector": connector.astype("Int64").to_numpy(),
            "plug_in_tick": plug_in.astype("Int64").to_numpy(),
            "first_charging_tick": charging.min().reindex(range(n)).astype("Int64").to_numpy(),
            "last_charging_tick": charging.max().reindex(range(n)).astype("Int64").to_numpy(),
            "unplug_tick": unplug.astype("Int64").to_numpy(),
            "battery_kwh": capacity,
            "soc_plug_in": ev[L.EV_SOC_ARRIVAL],
            "soc_departure": np.clip(self._energy_kwh / capacity, 0.0, 1.0),
            "soc_target": ev[L.EV_SOC_TARGET],
            "requested_kwh": requested,
            "delivered_kwh": delivered,
            "unmet_kwh": np.maximum(requested - delivered, 0.0),
            "outcome": np.select(
                [plug_in.notna().to_numpy(), np.isinf(ev[L.EV_ARRIVAL])],
                ["plugged", "no_show"],
                "rejected",
            ),
            "reservation": [RESERVATIONS[float(s)] for s in status],
        })  # fmt: skip
        for column in ("plug_in", "unplug"):
            ticks = frame[f"{column}_tick"]
            times = self._time(ticks.fillna(0).to_numpy())
            frame.insert(frame.columns.get_loc(f"{column}_tick") + 1, f"{column}_time",
                         times.where(ticks.notna().to_numpy(), "").values)  # fmt: skip
        return frame

    def _events(self, ev_ticks: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
        rows = []
        plugged = sessions[sessions["outcome"] == "plugged"]
        for s in plugged.itertuples():
            rows.append((s.plug_in_tick, "plug_in", s.ev, s.connector, ""))
            rows.append((s.unplug_tick, "unplug", s.ev, s.connector, ""))
        for e, stay in ev_ticks.groupby("ev"):
            ticks, kw = stay["tick"].to_numpy(), stay["power_kw"].to_numpy()
            connector = int(stay["connector"].iloc[0])
            for kind, on in (("charge", kw > POWER_TOL_KW), ("v2g", kw < -POWER_TOL_KW)):
                for begin, end in _runs(on):
                    rows.append((ticks[begin], f"{kind}_start", e, connector, ""))
                    rows.append((ticks[end - 1] + 1, f"{kind}_stop", e, connector, ""))
        rows += self._outage_events()
        frame = pd.DataFrame(rows, columns=["tick", "event", "ev", "connector", "component"])
        frame["order"] = frame["event"].map({name: i for i, name in enumerate(_EVENT_ORDER)})
        frame = frame.sort_values(["tick", "order", "ev", "component"], kind="stable")
        frame = frame.drop(columns="order").reset_index(drop=True)
        for column in ("ev", "connector"):
            frame[column] = frame[column].astype("Int64")
        users = frame["ev"].map(sessions["user"]).astype("Int64")
        frame.insert(3, "user", users)
        frame.insert(4, "archetype", frame["ev"].map(sessions["archetype"]).fillna(""))
        frame.insert(5, "station", frame["ev"].map(sessions["station"]).fillna(""))
        return self._with_time(frame)

    def _outage_events(self) -> list[tuple]:
        """Outage begin and end per charger, station link and the wind farm's share down."""
        sc = self._env.scenario
        n_ticks = sc.config.episode_ticks
        outage = np.asarray(self._episode.outage[:n_ticks]) > 0.0
        names = [f"charger {k} ({self._station_ids[s]})" for k, s in enumerate(sc.charger_station)]
        names += [f"station link {s}" for s in self._station_ids] + ["turbines"]
        rows = []
        for column, name in enumerate(names):
            for begin, end in _runs(outage[:, column]):
                rows.append((begin, "outage_begin", None, None, name))
                if end < n_ticks:
                    rows.append((end, "outage_end", None, None, name))
        return rows

    def _flexibility(self, ev_ticks: pd.DataFrame) -> pd.DataFrame:
        """The envelopes from every whole hour, with the energy their fleet took."""
        columns = ["anchor_tick", "ticks_ahead", "least_kwh", "most_kwh", "drawn_kwh"]
        if not self._envelopes:
            return self._with_time(pd.DataFrame(columns=columns), "anchor_tick")
        table = np.concatenate(self._envelopes)
        n_ticks = self._env.scenario.config.episode_ticks
        power = np.zeros((n_ticks, self._episode.ev.shape[1]))
        power[ev_ticks["tick"], ev_ticks["ev"]] = ev_ticks["power_kw"]
        energy = np.cumsum(power * self._env.scenario.config.dt_h, axis=0)
        for anchor, evs in self._anchors.items():
            rows = table[:, 0] == anchor
            end = anchor + table[rows, 1].astype(np.int64) - 1
            before = energy[anchor - 1, evs] if anchor > 0 else 0.0
            table[rows, 4] = (energy[end][:, evs] - before).sum(axis=1)
        frame = pd.DataFrame(table, columns=columns)
        frame[columns[:2]] = frame[columns[:2]].astype(np.int64)
        return self._with_time(frame, "anchor_tick")

    # --- writing ---------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """What ``episode.json`` holds: the run and the scenario's limits."""
        config = self._env.scenario.config
        return {
            "scenario": config.name,
            "policy": self.policy,
            "seed": self.seed,
            "date": self._date,
            "timezone": config.calendar.timezone,
            "dt_h": config.dt_h,
            "episode_ticks": config.episode_ticks,
            "feeder_limit_kw": config.grid.feeder_limit_kw,
            "stations": {s.id: {"grid_capacity_kw": s.grid_capacity_kw} for s in config.stations},
            "ev_source": config.evs.source,
            "tables": list(LOG_TABLES),
        }

    def write(self, folder: str | Path) -> list[Path]:
        """Writes every table as CSV (and Parquet with ``pyarrow``) and ``episode.json`` into
        ``folder`` (created if missing); returns the paths written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        parquet = _has_pyarrow()
        for name, frame in self.tables().items():
            paths.append(folder / f"{name}.csv")
            frame.to_csv(paths[-1], index=False)
            if parquet:
                paths.append(folder / f"{name}.parquet")
                frame.to_parquet(paths[-1], index=False)
        paths.append(folder / "episode.json")
        paths[-1].write_text(json.dumps(self.meta(), indent=2) + "\n")
        return paths


_EVENT_ORDER = ("outage_end", "outage_begin", "unplug", "charge_stop", "v2g_stop", "plug_in",
                "charge_start", "v2g_start")  # fmt: skip
"""Events of one tick in the order they happen: repairs and failures first, departures
before arrivals, stops before starts."""


def _runs(on: np.ndarray) -> list[tuple[int, int]]:
    """``(begin, end)`` of every run of True in ``on`` (``end`` exclusive)."""
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True
