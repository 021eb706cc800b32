"""Time for the station service: a clock interface and the decision instants.

The service reads the time only through a :class:`Clock`: :class:`WallClock` in production,
:class:`ManualClock` in tests and replays, so a run of the service is a pure function of its
requests and the times they arrive at. Times are timezone-aware ``datetime`` objects (RFC 3339
with offset on the wire); the service stores and compares them in UTC.
"""

from __future__ import annotations

import datetime
import threading
from typing import Protocol

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    """Where the service reads the time."""

    def now(self) -> datetime.datetime:
        """The current time, timezone-aware, in UTC."""


class WallClock:
    """The system clock."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(UTC)


class ManualClock:
    """A clock that stands still until it is set or advanced (tests, replays).

    Args:
        start: the initial time (timezone-aware).

    Raises:
        ValueError: a naive time, or a move backwards.
    """

    def __init__(self, start: datetime.datetime):
        self._lock = threading.Lock()
        self._now = _aware(start)

    def now(self) -> datetime.datetime:
        with self._lock:
            return self._now

    def set(self, time: datetime.datetime) -> None:
        """Moves the clock to ``time`` (never backwards)."""
        time = _aware(time)
        with self._lock:
            if time < self._now:
                raise ValueError(f"time: got {time.isoformat()}; before {self._now.isoformat()}")
            self._now = time

    def advance(self, delta: datetime.timedelta) -> None:
        """Moves the clock ``delta`` ahead."""
        self.set(self.now() + delta)


def _aware(time: datetime.datetime) -> datetime.datetime:
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"time: got {time.isoformat()}; must be timezone-aware")
    return time.astimezone(UTC)


def decision_times(
    after: datetime.datetime, until: datetime.datetime, tick_s: float
) -> list[datetime.datetime]:
    """The periodic decision instants in ``(after, until]``: every whole multiple of
    ``tick_s`` seconds since 1970-01-01T00:00Z (so a 15-minute tick falls on the quarter
    hours of every time zone whose offset is a whole number of quarter hours).

    Times are handled in whole microseconds, as ``datetime`` keeps them.
    """
    step_us = round(tick_s * 1e6)
    first = microseconds(after) // step_us + 1
    last = microseconds(until) // step_us
    return [EPOCH + datetime.timedelta(microseconds=k * step_us) for k in range(first, last + 1)]


def microseconds(time: datetime.datetime) -> int:
    """``time`` as whole microseconds since 1970-01-01T00:00Z."""
    delta = time - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
