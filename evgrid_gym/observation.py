"""Named views of the EVGrid observation vector (the layout of ``core.tick.write_observation``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Observation(NamedTuple):
    """The observation split into named arrays (views, no copies).

    Shapes: C connectors, S stations, F forecast ticks.
    """

    occupied: np.ndarray  # (C,) 0/1
    soc: np.ndarray  # (C,)
    energy_needed_kwh: np.ndarray  # (C,) to the target soc
    ticks_to_departure: np.ndarray  # (C,)
    max_power_kw: np.ndarray  # (C,) max average power the EV can take this tick
    bess_soc: np.ndarray  # (S,)
    headroom_kw: np.ndarray  # (S,) grid + BESS discharge - EVs' max power
    time_sin: float
    time_cos: float
    price_eur_per_kwh: np.ndarray  # (F+1,) now and the next F ticks
    renewable_kw: np.ndarray  # (F+1,) now and the next F ticks
    household_kw: float


def unpack(observation: np.ndarray, n_connectors: int, n_stations: int) -> Observation:
    """Splits an observation of a scenario with ``n_connectors`` and ``n_stations``.

    Raises:
        ValueError: the length does not fit the layout.
    """
    c, s = n_connectors, n_stations
    rest = observation.shape[0] - (5 * c + 2 * s + 3)
    if rest < 2 or rest % 2:
        raise ValueError(
            f"observation: got length {observation.shape[0]}; does not fit {c} connectors "
            f"and {s} stations (5C + 2S + 2F + 5)"
        )
    ahead = rest // 2
    i = 5 * c + 2 * s
    return Observation(
        *(observation[k * c : (k + 1) * c] for k in range(5)),
        observation[5 * c : 5 * c + s],
        observation[5 * c + s : i],
        float(observation[i]),
        float(observation[i + 1]),
        observation[i + 2 : i + 2 + ahead],
        observation[i + 2 + ahead : i + 2 + 2 * ahead],
        float(observation[-1]),
    )
