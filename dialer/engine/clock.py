"""Clocks: the engine reads time only through one of these.

``now()`` is seconds on a monotonic scale (pacing, agent phases, deadlines); ``utcnow()``
is the wall time stored in the database. The wall clock serves ``dialer run``; the virtual
clock serves ``dialer simulate`` and tests, where time only moves when told to.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    """Where the engine reads the time."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""

    def utcnow(self) -> dt.datetime:
        """The wall time, timezone-aware UTC, matching ``now()``."""


class WallClock:
    """The real clock."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def utcnow(self) -> dt.datetime:
        """The current UTC time."""
        return dt.datetime.now(dt.UTC)


class VirtualClock:
    """A clock that moves only when ``advance`` or ``set`` is called."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._t = 0.0
        self._epoch = start or dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)

    def now(self) -> float:
        """Seconds since the clock was created."""
        return self._t

    def utcnow(self) -> dt.datetime:
        """The start time plus the seconds elapsed."""
        return self._epoch + dt.timedelta(seconds=self._t)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            msg = f"time cannot go back ({seconds} s)"
            raise ValueError(msg)
        self._t += seconds

    def set(self, t: float) -> None:
        """Move time forward to ``t``."""
        self.advance(t - self._t)


class ScaledClock:
    """Wall time running ``scale`` times faster from the moment it is created (the demo)."""

    def __init__(self, scale: float = 1.0, start: dt.datetime | None = None) -> None:
        if scale <= 0:
            msg = f"time scale must be positive, got {scale}"
            raise ValueError(msg)
        self.scale = scale
        self._m0 = time.monotonic()
        self._epoch = start or dt.datetime.now(dt.UTC)

    def now(self) -> float:
        """Scaled seconds since creation."""
        return (time.monotonic() - self._m0) * self.scale

    def utcnow(self) -> dt.datetime:
        """The start time plus the scaled seconds elapsed."""
        return self._epoch + dt.timedelta(seconds=self.now())

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of this clock take (for sleeping)."""
        return seconds / self.scale
