"""The one allocation rule every heuristic of :mod:`baselines.heuristics` shares.

Most charging heuristics are "order the plugged-in EVs by a priority, then give each its
request in that order while capacity lasts" (ACN-Sim's sorting-based algorithms: Z. J. Lee et
al., "ACN-Sim: An Open-Source Simulator for Data-Driven Electric Vehicle Charging Research",
IEEE SmartGridComm 2019; "Adaptive Charging Networks", IEEE Trans. Smart Grid 2021).
:func:`allocate` is that rule, generalised to ties: EVs of equal priority share whatever is
left by (weighted) water-filling, which is ACN-Sim's round robin in the limit of an
infinitesimal increment. It respects, in one pass, every limit of the env's projection
(:mod:`evgrid_gym.core.projection`), so the env has nothing to cut:

- each connector's own cap (its EV's max power this tick, and the request),
- each charger's power, shared by its connectors,
- each station's capacity (grid connection, plus what the policy's BESS discharge adds, minus
  what its BESS charging takes),
- the feeder (feeder limit minus the household load, minus the stations' BESS net power).

Plain Python over the plugged-in connectors: it runs once per tick, on tens of connectors.
Powers in kW, consumption positive.
"""

from __future__ import annotations

import numpy as np

TOL_KW = 1e-9  # a cap or remainder at or below this is exhausted (a request within it is met)


def allocate(
    request_kw: np.ndarray,
    priority: np.ndarray,
    cap_kw: np.ndarray,
    connector_charger: np.ndarray,
    charger_kw: np.ndarray,
    conn_station: np.ndarray,
    station_kw: np.ndarray,
    feeder_kw: float,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Gives each connector as much of its request as the limits allow, by priority.

    Connectors are served in ascending ``priority``: a strict order is ACN-Sim's sorting
    rule (EDF, LLF, FCFS: each EV gets the most it can before the next one is served).
    Connectors with *equal* priority are filled together: all rise at rates proportional to
    ``weights`` until a connector reaches its request (it stops; the others go on) or a
    charger, station or the feeder runs out (its connectors stop). Equal weights give the
    max-min fair share (round robin), weights equal to the requests give proportional
    sharing.

    Args:
        request_kw: requested power per connector, kW, shape (C,); <= 0 means none.
        priority: per connector, lower is served first, shape (C,).
        cap_kw: the most each connector can take now (its EV's max power), kW, shape (C,).
        connector_charger: charger index of each connector, int, shape (C,).
        charger_kw: power each charger can still give, shared by its connectors, kW, (K,).
        conn_station: station index of each connector, int, shape (C,).
        station_kw: power the EVs of each station may draw in total, kW, shape (S,).
        feeder_kw: power all EVs together may draw, kW.
        weights: sharing weights within a priority class, > 0, shape (C,); default equal.

    Returns:
        Power per connector, kW, float64, shape (C,): ``0 <= power <= min(request, cap)``,
        per-charger sums <= ``charger_kw``, per-station sums <= ``station_kw``, total <=
        ``feeder_kw`` (negative limits count as 0).
    """
    target = np.minimum(request_kw, cap_kw)
    active = np.flatnonzero(target > TOL_KW)
    power = [0.0] * target.shape[0]
    if active.size == 0:
        return np.zeros(target.shape[0])
    active = active[np.argsort(priority[active], kind="stable")]
    keys = priority[active].tolist()
    active = active.tolist()
    want = target.tolist()
    rate = [1.0] * len(want) if weights is None else weights.tolist()
    charger = connector_charger.tolist()
    station = conn_station.tolist()
    charger_left = np.maximum(charger_kw, 0.0).tolist()
    station_left = np.maximum(station_kw, 0.0).tolist()
    feeder_left = [max(float(feeder_kw), 0.0)]
    start = 0
    while start < len(active):
        stop = start + 1
        while stop < len(active) and keys[stop] == keys[start]:
            stop += 1
        if stop == start + 1:  # a strict order: the EV gets the most the limits leave
            c = active[start]
            k, s = charger[c], station[c]
            given = max(min(want[c], charger_left[k], station_left[s], feeder_left[0]), 0.0)
            power[c] = given
            charger_left[k] -= given
            station_left[s] -= given
            feeder_left[0] -= given
        else:
            group = [c for c in active[start:stop] if rate[c] > 0.0]
            _fill(
                group, want, rate, charger, station, power, charger_left, station_left,
                feeder_left,
            )  # fmt: skip
        start = stop
    return np.asarray(power)


def _fill(group, want, rate, charger, station, power, charger_left, station_left, feeder_left):
    """Water-fills one priority class in place (see :func:`allocate`).

    Each round raises every connector of ``group`` by ``step * rate`` where ``step`` is the
    largest that keeps every limit; the limit that set ``step`` is then exactly exhausted,
    so at least one connector leaves the group per round.
    """
    while group and feeder_left[0] > TOL_KW:
        charger_rate: dict[int, float] = {}
        station_rate: dict[int, float] = {}
        step, binding = float("inf"), None
        for c in group:
            w = rate[c]
            charger_rate[charger[c]] = charger_rate.get(charger[c], 0.0) + w
            station_rate[station[c]] = station_rate.get(station[c], 0.0) + w
            if (want[c] - power[c]) / w < step:
                step, binding = (want[c] - power[c]) / w, (want, c)
        for k, w in charger_rate.items():
            if charger_left[k] / w < step:
                step, binding = charger_left[k] / w, (charger_left, k)
        for s, w in station_rate.items():
            if station_left[s] / w < step:
                step, binding = station_left[s] / w, (station_left, s)
        total_rate = sum(charger_rate.values())
        if feeder_left[0] / total_rate < step:
            step, binding = feeder_left[0] / total_rate, (feeder_left, 0)
        step = max(step, 0.0)
        for c in group:
            given = step * rate[c]
            power[c] += given
            charger_left[charger[c]] -= given
            station_left[station[c]] -= given
            feeder_left[0] -= given
        limit, index = binding
        if limit is want:
            power[index] = want[index]
        else:
            limit[index] = 0.0
        group = [
            c
            for c in group
            if want[c] - power[c] > TOL_KW
            and charger_left[charger[c]] > TOL_KW
            and station_left[station[c]] > TOL_KW
        ]
