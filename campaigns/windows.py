"""Calling windows in the called person's local time, and time-zone keys from numbers.

A *zone key* is one IANA zone name, or several separated by single spaces when a number
does not pin one down (a US toll-free number, a Russian mobile). A window is open for a key
only when it is open in every zone of the key: calling nobody too early or too late matters
more than calling somebody at the first possible minute.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from campaigns.errors import CampaignError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class WindowError(CampaignError):
    """A calling window or a time zone is not valid."""

    error_id = "invalid_window"

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: {value!r} is not valid, expected {expected}")


_END_OF_DAY = dt.time.max


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Local hours from ``start`` to ``end`` on the given ISO weekdays (1 = Monday … 7 = Sunday).

    ``end`` "24:00" runs to midnight. An ``end`` before ``start`` wraps past midnight (22:00 to
    06:00: the night after each listed day); ``end`` equal to ``start`` is open the whole 24 h
    from ``start``. ``days`` name the day a window opens on.
    """

    start: dt.time
    end: dt.time
    days: frozenset[int]

    @classmethod
    def parse(cls, start: str, end: str, days: Iterable[int]) -> CallingWindow:
        """Build a window from "HH:MM" strings and weekday numbers, naming any bad field."""
        times = []
        for field, text in (("window_start", start), ("window_end", end)):
            if field == "window_end" and text == "24:00":
                times.append(_END_OF_DAY)
                continue
            match = _HHMM.match(text)
            if match is None:
                expected = 'a time "HH:MM" (00:00-23:59, or 24:00 for midnight)'
                if field == "window_start":
                    expected = 'a time "HH:MM" (00:00-23:59)'
                raise WindowError(field, text, expected)
            times.append(dt.time(int(match[1]), int(match[2])))
        day_set = frozenset(days)
        if not day_set or not day_set <= set(range(1, 8)):
            raise WindowError("window_days", sorted(day_set), "weekdays 1 (Monday) to 7 (Sunday)")
        return cls(times[0], times[1], day_set)

    @property
    def wraps(self) -> bool:
        """True when the window runs past midnight into the next day (or all 24 h)."""
        return self.end <= self.start

    def is_open_local(self, local: dt.datetime) -> bool:
        """True when the local wall-clock time ``local`` is inside the window."""
        now = local.time()
        if not self.wraps:
            return local.isoweekday() in self.days and self.start <= now < self.end
        if now >= self.start:
            return local.isoweekday() in self.days
        yesterday = (local - dt.timedelta(days=1)).isoweekday()
        return now < self.end and yesterday in self.days


@functools.lru_cache(maxsize=4096)
def zones_of(key: str) -> tuple[ZoneInfo, ...]:
    """The zones named by a zone key (cached); raises WindowError for an unknown zone."""
    names = key.split()
    if not names:
        raise WindowError("tz", key, "an IANA time zone such as Europe/Warsaw")
    try:
        return tuple(ZoneInfo(name) for name in names)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise WindowError("tz", key, "an IANA time zone such as Europe/Warsaw") from exc


def check_zone(name: str) -> str:
    """Return ``name`` if it is a known IANA zone key, else raise WindowError."""
    zones_of(name)
    return name


def zone_key_for_number(phone: phonenumbers.PhoneNumber, fallback: str) -> str:
    """The zone key of a parsed number, or ``fallback`` when the number gives none."""
    names = sorted(z for z in pn_timezone.time_zones_for_number(phone) if z and z != "Etc/Unknown")
    return " ".join(names) if names else fallback


def is_open(window: CallingWindow, key: str, now: dt.datetime) -> bool:
    """True when ``now`` (aware) is inside the window in every zone of ``key``."""
    return all(window.is_open_local(now.astimezone(zone)) for zone in zones_of(key))


def open_zone_keys(window: CallingWindow, keys: Iterable[str], now: dt.datetime) -> list[str]:
    """The keys among ``keys`` whose window is open at ``now`` (for record selection)."""
    return [key for key in keys if is_open(window, key, now)]


def next_opening(window: CallingWindow, key: str, now: dt.datetime) -> dt.datetime | None:
    """The earliest time ≥ ``now`` when the window is open in every zone of ``key``.

    Returns ``None`` when the zones' windows never overlap within the next two weeks.
    """
    if is_open(window, key, now):
        return now
    candidates: set[dt.datetime] = set()
    for zone in zones_of(key):
        local_day = now.astimezone(zone).date()
        for offset in range(15):
            day = local_day + dt.timedelta(days=offset)
            start = dt.datetime.combine(day, window.start, tzinfo=zone).astimezone(dt.UTC)
            if start >= now:
                candidates.add(start)
    for candidate in sorted(candidates):
        if is_open(window, key, candidate):
            return candidate
    return None
