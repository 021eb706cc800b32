"""Loader of day-ahead electricity prices in the Ember / ENTSO-E CSV layout.

Columns ``Country``, ``Datetime (UTC)``, ``Datetime (Local)``, ``Price (EUR/MWhe)``; one row per
hour. Ember, "European wholesale electricity price data" (CC BY 4.0), from ENTSO-E
Transparency Platform day-ahead prices. Only the UTC column is used, so daylight-saving
changes (a 23 h or 25 h local day) need no special handling.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evgrid_gym.data.errors import (
    fill_gaps,
    finite_numbers,
    parse_times,
    read_csv,
    require_columns,
)

UTC_COLUMN = "Datetime (UTC)"
PRICE_COLUMN = "Price (EUR/MWhe)"


def load_day_ahead_prices(path) -> pd.DataFrame:
    """Loads hourly day-ahead prices and converts EUR/MWh to EUR/kWh.

    Timestamps may be ISO (``2015-01-01 00:00:00``) or day-first (``31/12/2022 23:00``); both
    occur in one file. Separator rows with no timestamp (``Netherlands,,,0.0``) are skipped;
    hours that appear more than once keep their first row, with a :class:`UserWarning`
    saying how many rows were dropped. Negative prices are kept. Missing hours: up to
    :data:`~evgrid_gym.data.errors.MAX_GAP_H` in a row are interpolated with a warning, a
    longer gap raises (:func:`~evgrid_gym.data.errors.fill_gaps`).

    Returns:
        Columns ``time`` (tz-aware UTC, hour start, strictly increasing, regular) and
        ``price_eur_per_kwh`` (float).

    Raises:
        DataFileError: missing, truncated or corrupt file, missing column, empty file, wrong
            delimiter, unparsable timestamp or price, a gap of more than ``MAX_GAP_H`` hours
            (naming the line and the column).
    """
    frame = read_csv(path, dtype={UTC_COLUMN: str})
    require_columns(path, frame, (UTC_COLUMN, PRICE_COLUMN))
    stamps = frame[UTC_COLUMN]
    keep = stamps.notna().to_numpy()
    lines = np.flatnonzero(keep) + 2
    stamps = stamps[keep]
    iso = stamps.str.match(r"^\d{4}-").to_numpy()
    times = np.empty(len(stamps), dtype="datetime64[ns]")
    for mask, kwargs in ((iso, {"format": "ISO8601"}), (~iso, {"format": "%d/%m/%Y %H:%M"})):
        if mask.any():
            parsed = parse_times(path, stamps[mask], UTC_COLUMN, lines[mask], utc=True, **kwargs)
            times[mask] = parsed.dt.tz_localize(None).to_numpy("datetime64[ns]")
    prices = finite_numbers(
        path, frame.loc[keep, PRICE_COLUMN], PRICE_COLUMN, lines, non_negative=False
    )
    table = pd.DataFrame(
        {
            "time": pd.DatetimeIndex(times).tz_localize("UTC"),
            "price_eur_per_kwh": prices.to_numpy(float) / 1000.0,
            "line": lines,
        }
    )
    duplicated = table["time"].duplicated(keep="first")
    if duplicated.any():
        warnings.warn(
            f"{path}: dropped {int(duplicated.sum())} rows whose hour appears earlier in the "
            "file (kept the first)",
            UserWarning,
            stacklevel=2,
        )
        table = table[~duplicated.to_numpy()]
    table = table.sort_values("time").reset_index(drop=True)
    lines = table.pop("line").to_numpy()
    return fill_gaps(path, table, lines, UTC_COLUMN)
