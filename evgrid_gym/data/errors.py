"""The error every loader raises for a bad input file, and the checks loaders share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


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


def read_csv(path, header_line: int = 1, **kwargs) -> pd.DataFrame:
    """Reads a CSV (plain or compressed), rejecting a missing, empty or non-comma file.

    Args:
        path: the file; ``.gz``/``.zip``/``.bz2``/``.xz`` are decompressed.
        header_line: 1-based line number of the header row.

    Raises:
        DataFileError: the file is missing, empty, or has a single column whose header
            contains ``;`` or a tab (the wrong delimiter).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such file")
    try:
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
    return frame


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
            path, f"unparsable timestamp {values.iloc[i]!r}", row=int(lines[i]), column=column
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
            f"got {values.iloc[i]!r}; must be a finite number" + (" >= 0" if non_negative else ""),
            row=int(lines[i]),
            column=column,
        )
    return numbers
