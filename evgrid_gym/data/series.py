"""A real time series resampled to the scenario's tick, read one episode window at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd


class ProfileSeries:
    """Values of a real series at the scenario's tick, served as episode windows.

    Resampling: to ticks of ``dt_h`` hours by the mean over each tick; a coarser series
    (hourly prices at 15-min ticks) holds each value over its period.

    Alignment: a window starting in a year the series does not cover is read from the
    covered year nearest to it at the same date and time of day (29 February from 28
    February), so a 2016 profile serves any year; a window that runs past the end of the
    series continues from its beginning (a one-year profile is a cycle).

    Args:
        series: values indexed by tz-aware timestamps.
        dt_h: tick length, h.
        name: what the series is (and its file), for messages.
        any_year: the series is a profile that stands for any year (SimBench's), so reading
            it in another year is the rule, not a stand-in (see :meth:`stand_in`).

    Raises:
        ValueError: the series has no value.
    """

    def __init__(self, series: pd.Series, dt_h: float, name: str, any_year: bool = False):
        series = series.sort_index()
        if series.empty:
            raise ValueError(f"{name}: the series is empty")
        resampled = series.resample(pd.Timedelta(hours=dt_h)).mean().ffill()
        self.name = name
        self.any_year = any_year
        self.first = resampled.index[0].tz_convert("UTC")
        self.values = resampled.to_numpy(float)
        self.values.setflags(write=False)
        self._dt_ns = pd.Timedelta(hours=dt_h).value
        self._end_ns = self.first.value + self._dt_ns * len(self.values)
        self._offsets: dict[int, int] = {}  # window start (ns) -> first index, memoised

    @property
    def low(self) -> float:
        return float(self.values.min())

    @property
    def high(self) -> float:
        return float(self.values.max())

    def window(self, start: pd.Timestamp, n_ticks: int) -> np.ndarray:
        """``n_ticks`` values from ``start`` (tz-aware), shape (n_ticks,), read-only."""
        offset = self._offsets.get(start.value)
        if offset is None:
            aligned = self._aligned_ns(start.tz_convert("UTC"))
            offset = self._offsets[start.value] = (aligned - self.first.value) // self._dt_ns
        if offset + n_ticks <= len(self.values):
            return self.values[offset : offset + n_ticks]
        return np.take(self.values, np.arange(offset, offset + n_ticks), mode="wrap")

    def stand_in(self, start: pd.Timestamp) -> str | None:
        """What is read for a day starting at ``start`` (tz-aware) that the series does not
        cover, e.g. ``"day-ahead prices (nl_day_ahead) cover 2015-01-01..2025-01-07 (UTC);
        read from 2024-12-31 23:00 UTC"``; None when it covers the day or stands for any
        year."""
        utc = start.tz_convert("UTC")
        if self.any_year or self.first.value <= utc.value < self._end_ns:
            return None
        read = pd.Timestamp(self._aligned_ns(utc), tz="UTC")
        last = pd.Timestamp(self._end_ns - self._dt_ns, tz="UTC")
        return (
            f"{self.name} cover {self.first.date()}..{last.date()} (UTC); read from "
            f"{read:%Y-%m-%d %H:%M} UTC"
        )

    def _aligned_ns(self, start: pd.Timestamp) -> int:
        if self.first.value <= start.value < self._end_ns:
            return start.value
        years = range(self.first.year - 1, self.first.year + len(self.values) // 34000 + 2)
        for year in sorted(years, key=lambda y: abs(y - start.year)):
            day = min(start.day, 28) if (start.month, start.day) == (2, 29) else start.day
            candidate = start.replace(year=year, day=day).value
            if self.first.value <= candidate < self._end_ns:
                return candidate
        return self.first.value
