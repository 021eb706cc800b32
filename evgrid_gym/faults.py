"""An episode's outage timeline: which chargers, station links and turbines are down when.

Faults are drawn with the episode's other inputs (like the wind), so the core reads them as a
plain array (``core.layout``: per tick, K chargers, S station links, then the fraction of
wind capacity down) and a test can inject one at any tick. Random outages: each component
that is up fails at a tick with its probability (``faults.*_probability``) and stays down for
a geometric number of ticks with mean ``mean_repair_ticks`` (a constant repair rate, the
usual two-state Markov availability model); scheduled outages are added on top. The wind
lost to turbines down is their share of the rated wind capacity.
"""

from __future__ import annotations

import numpy as np

from evgrid_gym.config import ScenarioConfig


class OutageSampler:
    """Draws the outage timeline of an episode, shape (n_exo_ticks, K + S + 1).

    Attributes:
        turbine_share: each turbine's share of the wind capacity (``wind.turbines`` with
            ``count`` expanded), shape (T,).
    """

    def __init__(self, config: ScenarioConfig, n_chargers: int, n_stations: int, n_ticks: int):
        faults = config.faults
        turbines = [t for t in config.wind.turbines for _ in range(t.count)]
        rated_kw = np.array([t.rated_kw for t in turbines])
        self.turbine_share = rated_kw / rated_kw.sum() if turbines else rated_kw
        self._n_links = n_chargers + n_stations
        first_row = {"charger": 0, "station_link": n_chargers, "turbine": n_chargers + n_stations}
        self._scheduled = np.zeros((self._n_links + len(turbines), n_ticks), dtype=bool)
        for outage in faults.scheduled:
            row = first_row[outage.component] + outage.index
            self._scheduled[row, outage.start_tick : outage.start_tick + outage.duration_ticks] = 1
        self._probability = np.repeat(
            [faults.charger_probability, faults.station_link_probability,
             faults.turbine_probability],
            [n_chargers, n_stations, len(turbines)],
        )[:, None]  # fmt: skip
        self._repair_probability = 1.0 / faults.mean_repair_ticks
        self._random = bool(self._probability.any())
        self._fixed = self._timeline(self._scheduled)
        self._fixed.setflags(write=False)

    def _timeline(self, down: np.ndarray) -> np.ndarray:
        """The tick-major timeline of ``down`` (components x ticks, bool)."""
        outage = np.zeros((down.shape[1], self._n_links + 1))
        outage[:, : self._n_links] = down[: self._n_links].T
        outage[:, -1] = self.turbine_share @ down[self._n_links :]
        return outage

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """The timeline of one episode; read-only and shared when nothing is random (no draws
        from ``rng`` then)."""
        if not self._random:
            return self._fixed
        down = self._scheduled.copy()
        rows, ticks = np.nonzero(rng.random(down.shape) < self._probability)
        durations = rng.geometric(self._repair_probability, rows.size)
        for row, tick, duration in zip(rows, ticks, durations, strict=True):
            if not down[row, tick]:  # only a component that is up can fail
                down[row, tick : tick + duration] = True
        return self._timeline(down)
