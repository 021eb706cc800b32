"""ElaadNL charging statistics and a synthetic session generator built on them.

ElaadNL open data (Dutch public, private and workplace charge points), as shipped in
``ev2gym==2.0.0`` (MIT). Files (each starts with a UTF-8 byte-order mark):

- ``distribution-of-arrival.csv`` / ``-weekend.csv``: 96 rows ``HH:MM``, percent of the day's
  arrivals per quarter hour, columns ``private``, ``public`` (, ``workplace``: weekdays only);
- ``distribution-of-connection-time.csv`` / ``distribution-of-energy-demand.csv``: 101 rows,
  ``Percentage of charging events`` k = 0..100 and the connection time (h) / energy demand
  (kWh) that k % of sessions exceed: quantile tables;
- ``mean-demand-per-arrival.csv`` / ``mean-session-length-per.csv``: mean energy (kWh) and
  session length (h) per half-hour of arrival, columns ``home``, ``public``, ``work``;
- ``distribution-of-charging.csv``: box-plot statistics of daily charged energy per weekday.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evgrid_gym.core.sampling import SESSION_UNIFORMS, draw_elaad_sessions
from evgrid_gym.data.errors import DataFileError, finite_numbers, read_csv, require_columns

SITES = ("private", "public", "workplace")
_MEAN_COLUMNS = {"home": "private", "public": "public", "work": "workplace"}


@dataclass(frozen=True)
class ElaadStatistics:
    """The ElaadNL tables, indexed as documented in the module docstring.

    Attributes:
        arrival_weekday_pct, arrival_weekend_pct: percent of arrivals per quarter hour,
            shape (96,) per site (weekend workplace: the weekday profile, the file has none).
        connection_time_h, energy_demand_kwh: quantile tables, shape (101,) per site; entry
            k is the value k % of sessions exceed.
        mean_demand_kwh, mean_session_h: per half-hour of arrival (index ``HH:MM``).
        daily_charging: box-plot statistics per weekday.
    """

    arrival_weekday_pct: pd.DataFrame
    arrival_weekend_pct: pd.DataFrame
    connection_time_h: pd.DataFrame
    energy_demand_kwh: pd.DataFrame
    mean_demand_kwh: pd.DataFrame
    mean_session_h: pd.DataFrame
    daily_charging: pd.DataFrame


def load_elaad_statistics(folder) -> ElaadStatistics:
    """Loads the seven ElaadNL files from ``folder``.

    Raises:
        DataFileError: a missing file or column, a wrong row count, a NaN or negative value.
    """
    folder = Path(folder)
    weekday = _table(folder / "distribution-of-arrival.csv", "Arrival time", SITES, 96)
    weekend = _table(folder / "distribution-of-arrival-weekend.csv", "Arrival time", SITES[:2], 96)
    weekend["workplace"] = weekday["workplace"]
    quantile_key = "Percentage of charging events"
    return ElaadStatistics(
        arrival_weekday_pct=weekday,
        arrival_weekend_pct=weekend,
        connection_time_h=_table(
            folder / "distribution-of-connection-time.csv", quantile_key, SITES, 101
        ),
        energy_demand_kwh=_table(
            folder / "distribution-of-energy-demand.csv", quantile_key, SITES, 101
        ),
        mean_demand_kwh=_means(folder / "mean-demand-per-arrival.csv"),
        mean_session_h=_means(folder / "mean-session-length-per.csv"),
        daily_charging=read_csv(folder / "distribution-of-charging.csv").set_index(
            "Day of the week"
        ),
    )


def _table(path: Path, key: str, columns, rows: int) -> pd.DataFrame:
    frame = read_csv(path)
    require_columns(path, frame, (key, *columns))
    if len(frame) != rows:
        raise DataFileError(path, f"has {len(frame)} data rows; must have {rows}")
    lines = np.arange(rows) + 2
    return pd.DataFrame(
        {c: finite_numbers(path, frame[c], c, lines).to_numpy() for c in columns},
        index=frame[key].to_numpy(),
    )


def _means(path: Path) -> pd.DataFrame:
    frame = read_csv(path)
    require_columns(path, frame, ("Arrival Time", *_MEAN_COLUMNS))
    table = frame.set_index("Arrival Time")[list(_MEAN_COLUMNS)].rename(columns=_MEAN_COLUMNS)
    return table.sort_index()


class ElaadSessionGenerator:
    """Synthetic sessions with ElaadNL's arrival profile, connection time and energy demand.

    For a site (``private``, ``public``, ``workplace``): the arrival quarter hour is drawn
    from the weekday or weekend arrival profile (uniform within the quarter), connection
    time and energy demand by inverse-CDF sampling of their quantile tables (linear between
    percentiles), independently of each other and of the arrival time.

    Attributes:
        arrival_cdf: ``{weekend: cumulative arrival share per quarter hour}``, shape (96,).
        quantile_probability: CDF levels 0, 0.01, .., 1 of the quantile tables.
        connection_h, energy_kwh: the site's quantile tables at those levels (increasing).
    """

    def __init__(self, statistics: ElaadStatistics, site: str):
        if site not in SITES:
            raise ValueError(f"site: got {site!r}; must be one of {SITES}")
        self.site = site
        self.arrival_cdf = {
            weekend: np.cumsum(table[site].to_numpy()) / table[site].sum()
            for weekend, table in (
                (False, statistics.arrival_weekday_pct),
                (True, statistics.arrival_weekend_pct),
            )
        }
        # quantile tables are decreasing in k: value(k) is exceeded by k % of sessions, so
        # the CDF at value(k) is 1 - k/100
        self.connection_h = np.ascontiguousarray(
            statistics.connection_time_h[site].to_numpy()[::-1]
        )
        self.energy_kwh = np.ascontiguousarray(statistics.energy_demand_kwh[site].to_numpy()[::-1])
        self.quantile_probability = np.linspace(0.0, 1.0, 101)

    def sample(
        self, rng: np.random.Generator, n: int, weekend: bool | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` sessions (:func:`~evgrid_gym.core.sampling.draw_elaad_session`, the draw the
        env's episodes use).

        Args:
            weekend: whether the sessions arrive on a weekend day: one flag for all, or one
                per session, shape (n,).

        Returns:
            ``(arrival_h, connection_h, energy_kwh)``, each shape (n,): arrival hour of the
            day in [0, 24), connection time in hours (>= 0.25), energy demand in kWh (>= 0).
        """
        cdf = np.stack([self.arrival_cdf[False], self.arrival_cdf[True]])
        flags = np.broadcast_to(np.asarray(weekend, dtype=np.bool_), (n,)).copy()
        u = rng.random((n, SESSION_UNIFORMS))
        return draw_elaad_sessions(
            u, flags, cdf, self.quantile_probability, self.connection_h, self.energy_kwh
        )
