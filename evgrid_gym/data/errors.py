"""The error every loader raises for a bad input file, and the checks loaders share."""

from __future__ import annotations

import contextlib
import csv
import lzma
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

MAX_GAP_H = 3.0
"""Longest gap in a time series that :func:`fill_gaps` interpolates, hours; longer ones raise."""
COMPRESSED_SUFFIXES = (".gz", ".zip", ".bz2", ".xz")


class DataFileError(ValueError):
    """A data file is malformed; the message names the file, the row and the column.

    Attributes:
        path: the file.
        row: 1-based line number in the file (``None`` when the whole file is at fault).
        column: the column (``None`` when no single column is at fault).
    """

    def __init__(self, path, message: str, row: int | None = None, column: str | None = None):
        self.path, self.row, self.column = Path(path), row, column
        where = "".join(
            [f", row {row}" if row is not None else "", f", column {column!r}" if column else ""]
        )
        super().__init__(f"{self.path}{where}: {message}")


@contextlib.contextmanager
def reading(path):
    """Turns what reading ``path`` can raise (a truncated or corrupt ``.gz``/``.zip``/
    ``.bz2``/``.xz``, an unreadable file) into a :class:`DataFileError` naming the file."""
    try:
        yield
    except (EOFError, zlib.error, zipfile.BadZipFile, lzma.LZMAError) as err:
        raise DataFileError(path, f"truncated or corrupt compressed file ({err})") from None
    except OSError as err:  # gzip.BadGzipFile, permissions, ...
        raise DataFileError(path, f"cannot read the file ({err})") from None


def shown(value) -> str:
    """``repr(value)`` with NumPy scalars as plain Python numbers (``nan``, not
    ``np.float64(nan)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def read_csv(path, header_line: int = 1, **kwargs) -> pd.DataFrame:
    """Reads a CSV (plain or compressed), rejecting a missing, empty, cut-off or non-comma file.

    Args:
        path: the file; ``.gz``/``.zip``/``.bz2``/``.xz`` are decompressed.
        header_line: 1-based line number of the header row.

    Raises:
        DataFileError: the file is missing, empty, truncated or corrupt (compressed), ends in
            the middle of a row (a last line with fewer fields than the header and no line
            end), or has a single column whose header contains ``;`` or a tab (the wrong
            delimiter).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such file")
    try:
        with reading(path):
            frame = pd.read_csv(path, skiprows=header_line - 1, encoding="utf-8-sig", **kwargs)
    except pd.errors.EmptyDataError:
        raise DataFileError(path, "the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"not a readable CSV file: {err}") from None
    if frame.shape[1] == 1 and any(sep in str(frame.columns[0]) for sep in (";", "\t")):
        raise DataFileError(
            path, f"one column {frame.columns[0]!r}: the delimiter must be a comma, not ';' or tab"
        )
    if frame.empty:
        raise DataFileError(path, "the file has a header but no data rows")
    if path.suffix.lower() not in COMPRESSED_SUFFIXES:
        _reject_cut_last_row(path)
    return frame


def _reject_cut_last_row(path: Path) -> None:
    """Raises when a plain-text file ends in the middle of a row: its last line has no line
    end and fewer fields than the line before it. (A compressed file cut short fails to
    decompress instead.)"""
    text = path.read_bytes()
    if text.endswith(b"\n"):
        return
    before, last = text.rsplit(b"\n", 2)[-2:] if b"\n" in text else (b"", text)
    fields = [
        len(next(csv.reader([t.rstrip(b"\r").decode("utf-8", "replace")]), []))
        for t in (before, last)
    ]
    if fields[1] < fields[0]:
        raise DataFileError(
            path,
            f"the last row has {fields[1]} fields, the one before it {fields[0]}, and the file "
            "ends without a line end: it is cut off",
            row=text.count(b"\n") + 1,
        )


def require_columns(path, frame: pd.DataFrame, columns) -> None:
    """Raises :class:`DataFileError` naming the first of ``columns`` missing from ``frame``."""
    for column in columns:
        if column not in frame.columns:
            raise DataFileError(
                path, f"missing column; the file has {list(frame.columns)}", column=column
            )


def parse_times(path, values: pd.Series, column: str, lines, **kwargs) -> pd.Series:
    """Parses timestamps; the first unparsable one raises naming its row.

    Args:
        lines: the row (line or item number) of each value in the file.
        kwargs: passed to :func:`pandas.to_datetime` (``format``, ``utc``, ...).
    """
    parsed = pd.to_datetime(values, errors="coerce", **kwargs)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataFileError(
            path, f"unparsable timestamp {shown(values.iloc[i])}", row=int(lines[i]), column=column
        )
    return parsed


def finite_numbers(
    path, values: pd.Series, column: str, lines, non_negative: bool = True
) -> pd.Series:
    """Returns ``values`` as float; the first NaN, non-number (or negative) one raises."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    array = numbers.to_numpy()
    bad = np.flatnonzero(~np.isfinite(array) | ((array < 0) if non_negative else False))
    if bad.size:
        i = int(bad[0])
        raise DataFileError(
            path,
            f"got {shown(values.iloc[i])}; must be a finite number"
            + (" >= 0" if non_negative else ""),
            row=int(lines[i]),
            column=column,
        )
    return numbers


def strict_bools(path, values: pd.Series, column: str, lines) -> pd.Series:
    """``values`` as bool: True/False in any case, 1/0 or bools; anything else raises naming
    its row (``astype(bool)`` would turn the string "False" into True)."""
    words = {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}
    parsed = values.map(lambda v: v if isinstance(v, (bool, np.bool_)) else words.get(
        str(v).strip().lower()))  # fmt: skip
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataFileError(
            path,
            f"got {shown(values.iloc[i])}; must be True or False",
            row=int(lines[i]),
            column=column,
        )
    return parsed.astype(bool)


def present(path, values: pd.Series, column: str, lines) -> pd.Series:
    """``values`` as str; the first missing (empty) one raises naming its row."""
    bad = np.flatnonzero(values.isna().to_numpy() | (values.astype(str).str.strip() == ""))
    if bad.size:
        raise DataFileError(path, "missing value", row=int(lines[bad[0]]), column=column)
    return values.astype(str)


def fill_gaps(
    path, table: pd.DataFrame, lines: np.ndarray, column: str, max_gap_h: float = MAX_GAP_H
) -> pd.DataFrame:
    """A time series on its regular grid: short gaps interpolated, long ones rejected.

    The grid step is the most common difference of ``table["time"]`` (strictly increasing).
    Missing steps of up to ``max_gap_h`` hours in a row are filled by linear interpolation in
    time, with a :class:`UserWarning` naming the file, the gap and the line after it; a longer
    gap raises: a day of prices filled with a guess would be a different day.

    Args:
        table: a ``time`` column and value columns.
        lines: the file's line of each row, shape (len(table),).
        column: the file's time column, for messages.

    Raises:
        DataFileError: a gap longer than ``max_gap_h``, or a time off the grid (naming the
            line after the gap and ``column``).
    """
    times = pd.DatetimeIndex(table["time"])
    if len(times) < 2:
        return table
    steps = times[1:] - times[:-1]
    step = pd.Series(steps).mode().iloc[0]
    for i in np.flatnonzero(steps != step):
        gap, line = steps[i], int(lines[i + 1])
        where = f"from {times[i]} to {times[i + 1]}"
        if gap % step:
            raise DataFileError(
                path, f"time {times[i + 1]} is off the file's {step} grid", row=line, column=column
            )
        missing_h = (gap - step) / pd.Timedelta(hours=1)
        if missing_h > max_gap_h:
            raise DataFileError(
                path,
                f"{missing_h:g} h of data missing {where}; gaps of up to {max_gap_h:g} h are "
                "interpolated, longer ones must be filled in the file",
                row=line,
                column=column,
            )
        warnings.warn(
            f"{path}: {missing_h:g} h of data missing {where} (before line {line}), "
            "interpolated linearly",
            UserWarning,
            stacklevel=3,
        )
    if (steps == step).all():
        return table
    grid = pd.date_range(times[0], times[-1], freq=step)
    filled = table.set_index("time").reindex(grid).interpolate(method="time")
    return filled.rename_axis("time").reset_index()
