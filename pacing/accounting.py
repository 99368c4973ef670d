"""Abandonment accounting: drops / persons answered per campaign over legal windows.

A :class:`AbandonmentLedger` keeps, from event times only, the counts for *today* (since
the last day boundary), a rolling 24 h window (Ofcom) and a rolling 30-day window (FTC),
and the last rolling hour (no law's window: what supervisors watch).
It starts from the facts already in the call log (:meth:`AbandonmentLedger.seed`) and
counts "today" in the campaign's zone when given a calendar (:func:`local_days`).
A person is counted once, when the call is settled: ``connect`` (answered, served) or
``drop`` (answered, abandoned).  Day boundaries are ``day_start_s + k * 86400`` on the
caller's clock (``day_start_s`` = the time of a midnight, e.g. 0 when ``t`` counts from
a midnight).  Rolling windows are kept in buckets (1 min for 24 h, 1 h for 30 days): an
event leaves the window up to one bucket late.

With ``amd_false_positive_rate`` > 0 (the Ofcom option), each call that failed as an
answering machine counts that fraction of a drop *and* of an answered person: an estimate
of persons wrongly taken for machines and hung up on.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

DAY_S = 86400.0

#: Maps a time on the caller's clock to a day number (equal numbers: the same day).
DayOf = Callable[[float], int]

#: Kinds of past facts :meth:`AbandonmentLedger.seed` takes (the pacing event kinds).
SEED_KINDS = ("connect", "drop", "machine")


def local_days(clock_t: float, utc: dt.datetime, tz: dt.tzinfo) -> DayOf:
    """Day numbers of the calendar in ``tz`` for times on a clock that read ``clock_t``
    at the wall time ``utc`` (aware): a day starts at local midnight, DST included."""
    if utc.tzinfo is None:
        msg = f"utc must be timezone-aware, got {utc!r}"
        raise ValueError(msg)

    def day_of(t: float) -> int:
        return (utc + dt.timedelta(seconds=t - clock_t)).astimezone(tz).date().toordinal()

    return day_of


@dataclass(frozen=True, slots=True)
class WindowRate:
    """Drops and answered persons in one window."""

    name: str
    drops: float
    answered: float

    @property
    def rate(self) -> float:
        """drops / answered (0 when nothing was answered)."""
        return self.drops / self.answered if self.answered > 0 else 0.0


class _Rolling:
    """Sums of (answered, drops) over the last ``window_s`` seconds, in buckets."""

    def __init__(self, window_s: float, bucket_s: float) -> None:
        self.window_s = window_s
        self.bucket_s = bucket_s
        self._buckets: deque[list[float]] = deque()  # [bucket index, answered, drops]
        self.answered = 0.0
        self.drops = 0.0

    def _expire(self, t: float) -> None:
        oldest = int((t - self.window_s) // self.bucket_s)
        while self._buckets and self._buckets[0][0] < oldest:
            _, a, d = self._buckets.popleft()
            self.answered -= a
            self.drops -= d

    def add(self, t: float, answered: float, drops: float) -> None:
        self._expire(t)
        b = int(t // self.bucket_s)
        if self._buckets and self._buckets[-1][0] == b:
            self._buckets[-1][1] += answered
            self._buckets[-1][2] += drops
        elif not self._buckets or self._buckets[-1][0] < b:
            self._buckets.append([float(b), answered, drops])
        else:  # an older event (seeding after live events): keep the buckets in order
            at = len(self._buckets)
            while at > 0 and self._buckets[at - 1][0] > b:
                at -= 1
            if at > 0 and self._buckets[at - 1][0] == b:
                self._buckets[at - 1][1] += answered
                self._buckets[at - 1][2] += drops
            else:
                self._buckets.insert(at, [float(b), answered, drops])
        self.answered += answered
        self.drops += drops

    def at(self, t: float) -> tuple[float, float]:
        self._expire(t)
        return max(0.0, self.answered), max(0.0, self.drops)


class AbandonmentLedger:
    """Counts drops and answered persons for today, the last 24 h and the last 30 days."""

    def __init__(
        self,
        *,
        day_start_s: float = 0.0,
        amd_false_positive_rate: float = 0.0,
        day_of: DayOf | None = None,
    ) -> None:
        if not 0.0 <= amd_false_positive_rate < 1.0:
            msg = "amd_false_positive_rate must be in [0, 1)"
            raise ValueError(msg)
        self.day_start_s = day_start_s
        self.amd_false_positive_rate = amd_false_positive_rate
        self._calendar = day_of
        self._day: int | None = None
        self._today_answered = 0.0
        self._today_drops = 0.0
        self._r1h = _Rolling(3600.0, 60.0)
        self._r24 = _Rolling(DAY_S, 60.0)
        self._r30 = _Rolling(30 * DAY_S, 3600.0)

    def _day_of(self, t: float) -> int:
        if self._calendar is not None:
            return self._calendar(t)
        return int((t - self.day_start_s) // DAY_S)

    def use_calendar(self, day_of: DayOf) -> None:
        """Count "today" by ``day_of`` (e.g. :func:`local_days` of the campaign's zone)
        instead of ``day_start_s + k * 86400``; today's counts start again."""
        self._calendar = day_of
        self._day = None
        self._today_answered = 0.0
        self._today_drops = 0.0

    def seed(self, facts: Iterable[tuple[float, str]], *, now: float) -> int:
        """Add past facts — ``(t, kind)`` with ``kind`` in :data:`SEED_KINDS`, ``t`` on the
        caller's clock — e.g. loaded from the call log at start, so that a restart forgets
        no drop of the legal windows. Facts after ``now`` are ignored; order is free and
        live events may already be in. Returns the number of facts added."""
        self._roll_day(now)
        f = self.amd_false_positive_rate
        weights = {"connect": (1.0, 0.0), "drop": (1.0, 1.0), "machine": (f, f)}
        added = 0
        for t, kind in facts:
            if kind not in weights:
                msg = f"seed fact kind {kind!r}: expected one of {', '.join(SEED_KINDS)}"
                raise ValueError(msg)
            answered, drops = weights[kind]
            if t > now or answered == 0.0:
                continue
            recent = t > now - 2 * DAY_S  # older facts are in neither today nor 24 h
            if recent and self._day_of(t) == self._day:
                self._today_answered += answered
                self._today_drops += drops
            if recent:
                self._r1h.add(t, answered, drops)
                self._r24.add(t, answered, drops)
            self._r30.add(t, answered, drops)
            added += 1
        return added

    def _roll_day(self, t: float) -> None:
        d = self._day_of(t)
        if d != self._day:
            self._day = d
            self._today_answered = 0.0
            self._today_drops = 0.0

    def _add(self, t: float, answered: float, drops: float) -> None:
        self._roll_day(t)
        self._today_answered += answered
        self._today_drops += drops
        self._r1h.add(t, answered, drops)
        self._r24.add(t, answered, drops)
        self._r30.add(t, answered, drops)

    def record_connect(self, t: float) -> None:
        """A person answered and was bridged to an agent."""
        self._add(t, 1.0, 0.0)

    def record_drop(self, t: float) -> None:
        """A person answered and was abandoned (no agent within the wait limit)."""
        self._add(t, 1.0, 1.0)

    def record_machine(self, t: float) -> None:
        """A call was classified as an answering machine (counts only with the AMD option)."""
        f = self.amd_false_positive_rate
        if f > 0:
            self._add(t, f, f)

    def last_hour(self, t: float) -> WindowRate:
        """The last rolling hour at time ``t``: not a legal window, what supervisors watch
        (the pacer's optional hourly smoothing reads it)."""
        answered, drops = self._r1h.at(t)
        return WindowRate("last_hour", drops, answered)

    def windows(self, t: float) -> tuple[WindowRate, WindowRate, WindowRate]:
        """(today, rolling 24 h, rolling 30 d) at time ``t``."""
        self._roll_day(t)
        a24, d24 = self._r24.at(t)
        a30, d30 = self._r30.at(t)
        return (
            WindowRate("today", self._today_drops, self._today_answered),
            WindowRate("rolling_24h", d24, a24),
            WindowRate("rolling_30d", d30, a30),
        )
