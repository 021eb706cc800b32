"""Parity with ACN-Sim itself: the same real Caltech days in acnportal's ``Simulator`` and in
the env, session by session.

ACN-Sim side (acnportal 0.3.3): a ``ChargingNetwork`` equivalent to ``caltech_acn``: every
connector of the scenario as an EVSE at 208 V with its rating as the maximum pilot (the 54
EVSEs at 32 A, the DC fast charger at 50 kW / 208 V = 240.4 A), one aggregate current limit
equal to the scenario's transformer; the day's sessions turned into EVs by ACN-Sim's own
replay (``acndata_events._convert_to_ev``: 15-minute periods, a ``Linear2StageBattery`` with
transition soc 0.8 holding exactly the delivered energy, empty on arrival, its maximum power
its EVSE's); ``UncontrolledCharging`` and EDF (``SortedSchedulingAlgo`` with
``earliest_deadline_first``). The env's episode ends at midnight, so the ACN-Sim EVs leave
then too (their departure is cut at the day's end), and a stay within one period gets one period, as
in the env (ACN-Sim rejects it: "Departure must be later than arrival").

Env side: ``caltech_acn`` with ``battery.pilot: acn``, charger efficiency 1 (ACN-Sim has no
losses), the same transition soc, ``evs.trace_battery: acnsim`` (the same batteries) and no
households (the feeder never binds), driven by the ``uncontrolled`` and ``edf`` heuristics.

For each day and algorithm the table gives the energy delivered in both, their difference,
and how many sessions agree within 1 %. ``--transformer-kw`` lowers the aggregate limit of
both sides (at 150 kW it never binds on these days) to see the limits at work.

    python benchmarks/acnsim_parity.py [--days test,summer_2021] [--transformer-kw 150]
"""

from __future__ import annotations

import argparse
import datetime
import time
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

with warnings.catch_warnings():  # acnportal imports pkg_resources, deprecated by setuptools
    warnings.simplefilter("ignore")
    from acnportal import acnsim
    from acnportal.acnsim.events.acndata_events import _convert_to_ev, _datetime_to_timestamp
    from acnportal.algorithms import (
        SortedSchedulingAlgo,
        UncontrolledCharging,
        earliest_deadline_first,
    )

from baselines import make_policy
from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.envs import EVGridEnv

VOLTAGE_V = 208.0  # Caltech EVSEs: 32 A at 208 V (ACN-Sim's caltech_acn default voltage)
SESSION_TOLERANCE = 0.01  # a session agrees when within 1 % of ACN-Sim's energy
ALGORITHMS = {  # ACN-Sim algorithm -> the env's heuristic that mirrors it
    "uncontrolled": (UncontrolledCharging, "uncontrolled"),
    "edf": (lambda: SortedSchedulingAlgo(earliest_deadline_first), "edf"),
}


def parity_scenario(transformer_kw: float | None = None) -> dict:
    """``caltech_acn`` as ACN-Sim models it (see the module doc), as a scenario dict."""
    data = load_scenario("caltech_acn").model_dump(mode="json")
    data["battery"] |= {"pilot": "acn", "transition_soc": 0.8}
    for station in data["stations"]:
        for charger in station["chargers"]:
            charger["efficiency"] = 1.0
        if transformer_kw is not None:
            station["grid_capacity_kw"] = transformer_kw
    data["evs"]["trace_battery"] = "acnsim"
    data["households"]["count"] = 0
    return data


class Day(NamedTuple):
    """One real day: local midnight, its length in ticks of absolute time, its sessions."""

    start: pd.Timestamp
    ticks: int
    sessions: pd.DataFrame


def real_day(env: EVGridEnv, day: datetime.date) -> Day:
    """The sessions the env replays on ``day`` (in the order of its EV table)."""
    sc = env.scenario
    start = pd.Timestamp(day).tz_localize(sc.config.calendar.timezone)
    end = pd.Timestamp(day + datetime.timedelta(days=1)).tz_localize(sc.config.calendar.timezone)
    ticks = round((end - start).total_seconds() / 3600.0 / sc.config.dt_h)
    return Day(start, ticks, sc.arrivals.sessions.iloc[sc.arrivals.rows(start)])


def acnsim_energy(env: EVGridEnv, day: Day, algorithm: str, evse: list[str]) -> dict[str, float]:
    """Energy ACN-Sim delivers to each session of ``day``, kWh, by session id; session ``i``
    plugs into the EVSE ``evse[i]`` (the connector the env gave it)."""
    sc = env.scenario
    period_min = sc.config.dt_h * 60.0
    network = acnsim.ChargingNetwork()
    rated_kw = dict(zip(sc.connector_ids, sc.connector_rated_kw.tolist(), strict=True))
    for evse_id, kw in rated_kw.items():
        network.register_evse(acnsim.EVSE(evse_id, max_rate=kw * 1e3 / VOLTAGE_V), VOLTAGE_V, 0)
    network.add_constraint(
        acnsim.Current(list(rated_kw)), sc.station_f[L.ST_GRID_KW, 0] * 1e3 / VOLTAGE_V
    )
    battery = {"type": acnsim.Linear2StageBattery,
               "kwargs": {"transition_soc": sc.config.battery.transition_soc}}  # fmt: skip
    offset = _datetime_to_timestamp(day.start.to_pydatetime(), period_min)
    evs = []
    for s, station_id in zip(day.sessions.itertuples(), evse, strict=True):
        document = {
            "connectionTime": s.arrival.to_pydatetime(),
            "disconnectTime": s.departure.to_pydatetime(),
            "kWhDelivered": s.energy_delivered_kwh,
            "sessionID": s.session_id,
            "spaceID": station_id,
        }
        ev = _convert_to_ev(
            document, offset, period_min, VOLTAGE_V, rated_kw[station_id], battery_params=battery
        )
        # ACN-Sim rejects a stay within one period ("Departure must be later than
        # arrival"): it gets one period, the env's rule; every stay ends with the day
        departure = max(min(ev.departure, day.ticks), ev.arrival + 1)
        evs.append(acnsim.EV(ev.arrival, departure, ev.requested_energy, ev.station_id,
                             ev.session_id, ev._battery))  # fmt: skip
    events = acnsim.EventQueue([acnsim.PluginEvent(ev.arrival, ev) for ev in evs])
    scheduler = ALGORITHMS[algorithm][0]()
    simulator = acnsim.Simulator(
        network, scheduler, events, day.start.to_pydatetime(), period=period_min, verbose=False
    )
    with warnings.catch_warnings():  # uncontrolled charging warns where it breaks the limit
        warnings.simplefilter("ignore", UserWarning)
        simulator.run()
    return {ev.session_id: ev.energy_delivered for ev in evs}


def env_energy(env: EVGridEnv, day: Day, algorithm: str) -> tuple[np.ndarray, list[str]]:
    """Energy the env delivers to each session of ``day`` (battery side), kWh, and the id
    of the connector each session plugged into (its ``station_id``, or another free one of
    the garage where that was taken in the same tick)."""
    sc = env.scenario
    policy = make_policy(ALGORITHMS[algorithm][1], sc)
    observation, info = env.reset(seed=0, options={"date": day.start.date()})
    policy.reset(seed=0)
    n_evs = env.episode_plan().ev.shape[1]
    if n_evs != len(day.sessions):
        raise RuntimeError(f"{day.start.date()}: {n_evs} EVs for {len(day.sessions)} sessions")
    efficiency = sc.charger_f[L.CH_EFFICIENCY, sc.connector_charger]
    delivered = np.zeros(n_evs)
    connector = np.full(n_evs, -1)
    done = False
    while not done:
        charging = info["connector_ev"]  # the EV on each connector during the coming tick
        on = np.flatnonzero(charging >= 0)
        connector[charging[on]] = on
        observation, _, done, _, info = env.step(policy.act(observation, info))
        battery_kwh = info["connector_kw"][on] * efficiency[on] * sc.config.dt_h
        np.add.at(delivered, charging[on], battery_kwh)
    if (connector < 0).any():
        missing = np.flatnonzero(connector < 0).tolist()
        raise RuntimeError(f"{day.start.date()}: sessions {missing} found no free connector")
    return delivered, [sc.connector_ids[c] for c in connector]


def compare(env: EVGridEnv, day: datetime.date, algorithm: str) -> dict:
    """One row of the parity table: totals, their difference, sessions within 1 %."""
    replayed = real_day(env, day)
    ours, evse = env_energy(env, replayed, algorithm)
    want = acnsim_energy(env, replayed, algorithm, evse)
    acn = np.array([want[i] for i in replayed.sessions["session_id"]])
    session_diff = np.abs(ours - acn) / np.maximum(acn, 1e-9)
    return {
        "day": day.isoformat(),
        "algorithm": algorithm,
        "sessions": acn.size,
        "acnsim_kwh": acn.sum(),
        "env_kwh": ours.sum(),
        "day_diff_pct": 100.0 * (ours.sum() - acn.sum()) / max(acn.sum(), 1e-9),
        "sessions_within_1pct": int((session_diff <= SESSION_TOLERANCE).sum()),
        "max_session_diff_pct": 100.0 * session_diff.max(initial=0.0),
    }


def parity_table(env: EVGridEnv, days: list[datetime.date]) -> pd.DataFrame:
    """:func:`compare` for every day and algorithm (``env`` of :func:`parity_scenario`)."""
    return pd.DataFrame([compare(env, d, a) for d in days for a in ALGORITHMS])


def _days(env: EVGridEnv, spec: str) -> list[datetime.date]:
    """Days named by a comma-separated list of split names and ISO dates."""
    days: list[datetime.date] = []
    for part in spec.split(","):
        split_days = env.scenario.split_days.get(part)
        days += list(split_days) if split_days else [datetime.date.fromisoformat(part)]
    return days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days", default="test,summer_2021", help="split names and/or ISO dates, comma-separated"
    )
    parser.add_argument("--transformer-kw", type=float, default=None)
    args = parser.parse_args()
    env = EVGridEnv(parity_scenario(args.transformer_kw))
    days = _days(env, args.days)
    start = time.perf_counter()
    table = parity_table(env, days)
    wall_s = time.perf_counter() - start
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\n{len(days)} days in {wall_s:.0f} s; transformer {env.scenario.station_f[0, 0]} kW")
    for algorithm, rows in table.groupby("algorithm", sort=False):
        sessions = rows["sessions"].sum()
        within = rows["sessions_within_1pct"].sum()
        print(
            f"{algorithm}: delivered {rows['env_kwh'].sum():.1f} kWh (env) against "
            f"{rows['acnsim_kwh'].sum():.1f} (ACN-Sim); largest day difference "
            f"{rows['day_diff_pct'].abs().max():.4f} %; sessions within 1 %: {within} of "
            f"{sessions} ({100.0 * within / sessions:.2f} %); largest session difference "
            f"{rows['max_session_diff_pct'].max():.3f} %"
        )


if __name__ == "__main__":
    main()
