"""Loader of NREL WIND Toolkit wind-speed CSV files.

Draxl et al., "The Wind Integration National Dataset (WIND) Toolkit", Applied Energy 151
(2015). Layout: a first row of site metadata (``SiteID,0,Site Timezone,-9,Data Timezone,0,
Longitude,...,Latitude,...``), then the header ``Year,Month,Day,Hour,Minute,wind speed at
100m (m/s)``; timestamps are in the "Data Timezone" (hours from UTC).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from evgrid_gym.data.errors import (
    DataFileError,
    fill_gaps,
    finite_numbers,
    read_csv,
    reading,
    require_columns,
)
from evgrid_gym.data.wind import turbine_power_kw

_TIME_COLUMNS = ("Year", "Month", "Day", "Hour", "Minute")
_SPEED_PATTERN = re.compile(r"wind speed at (\d+(?:\.\d+)?)\s*m \(m/s\)")


def load_nrel_wind(path) -> pd.DataFrame:
    """Loads a WIND Toolkit wind-speed file.

    Returns:
        Columns ``time`` (tz-aware UTC, regular) and ``wind_speed_m_s``; the measurement
        height, m, is in ``frame.attrs["measurement_height_m"]``. Gaps of up to
        :data:`~evgrid_gym.data.errors.MAX_GAP_H` are interpolated with a warning.

    Raises:
        DataFileError: missing, truncated or corrupt file, missing metadata row or column,
            empty file, wrong delimiter, bad time fields, NaN or negative speed, a longer gap
            (naming the line and the column).
    """
    path = Path(path)
    frame = read_csv(path, header_line=2)
    with reading(path):
        metadata = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
    if "Data Timezone" not in metadata[:-1]:
        raise DataFileError(
            path, "the first row must be the site metadata with 'Data Timezone'", row=1
        )
    try:
        offset_h = float(metadata[metadata.index("Data Timezone") + 1])
    except ValueError:
        raise DataFileError(
            path, "'Data Timezone' must be followed by hours from UTC", row=1
        ) from None
    require_columns(path, frame, _TIME_COLUMNS)
    speed_columns = [c for c in frame.columns if _SPEED_PATTERN.fullmatch(str(c))]
    if not speed_columns:
        raise DataFileError(
            path, f"no 'wind speed at <h>m (m/s)' column; the file has {list(frame.columns)}"
        )
    column = speed_columns[0]
    lines = np.arange(len(frame)) + 3
    parts = {c: pd.to_numeric(frame[c], errors="coerce") for c in _TIME_COLUMNS}
    times = pd.to_datetime(
        pd.DataFrame({c.lower(): parts[c] for c in _TIME_COLUMNS}), errors="coerce"
    )
    bad = np.flatnonzero(times.isna().to_numpy())
    if bad.size:
        values = [frame[c].iloc[bad[0]] for c in _TIME_COLUMNS]
        raise DataFileError(
            path, f"invalid time fields {values}", row=int(lines[bad[0]]), column="Year..Minute"
        )
    table = pd.DataFrame(
        {
            "time": (times - pd.Timedelta(hours=offset_h)).dt.tz_localize("UTC"),
            "wind_speed_m_s": finite_numbers(path, frame[column], column, lines),
        }
    )
    table = fill_gaps(path, table, lines, "Year..Minute")
    table.attrs["measurement_height_m"] = float(_SPEED_PATTERN.fullmatch(column).group(1))
    return table


def wind_power_kw(
    wind: pd.DataFrame, turbine_type: str, hub_height_m: float, count: int = 1
) -> pd.Series:
    """Output of ``count`` turbines, kW, from a :func:`load_nrel_wind` table.

    The speed is corrected to the hub height with the Hellman power law (exponent 1/7) and
    mapped through the windpowerlib power curve of ``turbine_type`` (see
    :mod:`evgrid_gym.data.wind`).

    Returns:
        Power, kW, indexed by ``wind["time"]``.
    """
    power = turbine_power_kw(
        wind["wind_speed_m_s"].to_numpy(),
        wind.attrs["measurement_height_m"],
        hub_height_m,
        turbine_type,
    )
    return pd.Series(count * power, index=pd.DatetimeIndex(wind["time"]), name="power_kw")
