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
    reservations: np.ndarray  # (S, H) confirmed reservations arriving h..h+1 hours ahead
    outage: np.ndarray  # (K + S + 1,) or (0,): chargers down, links down, wind share down


def unpack(
    observation: np.ndarray,
    n_connectors: int,
    n_stations: int,
    reservation_hours: int = 0,
    n_outage_rows: int = 0,
) -> Observation:
    """Splits an observation of a scenario with ``n_connectors`` and ``n_stations``, H =
    ``reservation_hours`` and ``n_outage_rows`` (``Scenario.reservation_hours`` and
    ``Scenario.n_outage_rows``).

    Raises:
        ValueError: the length does not fit the layout.
    """
    c, s = n_connectors, n_stations
    n_extra = s * reservation_hours + n_outage_rows
    rest = observation.shape[0] - (5 * c + 2 * s + 3) - n_extra
    if rest < 2 or rest % 2:
        raise ValueError(
            f"observation: got length {observation.shape[0]}; does not fit {c} connectors, "
            f"{s} stations, {reservation_hours} reservation hours and {n_outage_rows} outage "
            "rows (5C + 2S + 2F + 5 + S H + outage rows)"
        )
    ahead = rest // 2
    i = 5 * c + 2 * s
    end = observation.shape[0] - n_extra
    return Observation(
        *(observation[k * c : (k + 1) * c] for k in range(5)),
        observation[5 * c : 5 * c + s],
        observation[5 * c + s : i],
        float(observation[i]),
        float(observation[i + 1]),
        observation[i + 2 : i + 2 + ahead],
        observation[i + 2 + ahead : i + 2 + 2 * ahead],
        float(observation[end - 1]),
        observation[end : end + s * reservation_hours].reshape(s, reservation_hours),
        observation[observation.shape[0] - n_outage_rows :],
    )
