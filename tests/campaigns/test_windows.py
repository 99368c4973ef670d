"""Calling windows: plain, to midnight, wrapping past midnight, all day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.windows import CallingWindow, WindowError, is_open, next_opening

WARSAW = ZoneInfo("Europe/Warsaw")
EVERY_DAY = range(1, 8)


def local(text: str) -> dt.datetime:
    """A Warsaw wall-clock time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=WARSAW)


@pytest.mark.parametrize(
    ("start", "end", "when", "expected"),
    [
        ("09:00", "20:00", "2026-12-07 08:59", False),
        ("09:00", "20:00", "2026-12-07 09:00", True),
        ("09:00", "20:00", "2026-12-07 20:00", False),
        ("00:00", "24:00", "2026-12-07 23:59:59", True),
        ("00:00", "24:00", "2026-12-07 00:00", True),
        ("22:00", "06:00", "2026-12-07 23:30", True),
        ("22:00", "06:00", "2026-12-08 05:59", True),
        ("22:00", "06:00", "2026-12-08 06:00", False),
        ("22:00", "06:00", "2026-12-08 12:00", False),
        ("00:00", "00:00", "2026-12-07 23:59:59", True),
        ("07:00", "07:00", "2026-12-07 06:59", True),
    ],
)
def test_window_is_open(start: str, end: str, when: str, expected: bool) -> None:
    """24:00 runs to midnight, an end before the start wraps, an equal end is all day."""
    window = CallingWindow.parse(start, end, EVERY_DAY)
    assert window.is_open_local(local(when)) is expected


def test_wrapping_window_belongs_to_the_day_it_opens() -> None:
    """A Friday-only night window is open early Saturday, not early Friday."""
    window = CallingWindow.parse("22:00", "06:00", [5])
    assert window.is_open_local(local("2026-12-12 01:00"))  # Saturday, Friday's night
    assert not window.is_open_local(local("2026-12-11 01:00"))  # Friday, Thursday's night
    assert window.is_open_local(local("2026-12-11 22:30"))


def test_all_day_window_is_open_in_the_last_minute_of_the_day() -> None:
    """The demo's and tests' window finds records callable at 23:59:30 in any zone."""
    window = CallingWindow.parse("00:00", "24:00", EVERY_DAY)
    for zone in ("Europe/Warsaw", "America/New_York", "Pacific/Kiritimati"):
        now = dt.datetime(2026, 12, 7, 23, 59, 30, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
        assert is_open(window, zone, now)


def test_next_opening_of_a_night_window() -> None:
    """Outside a night window, the next opening is the evening's start."""
    window = CallingWindow.parse("22:00", "06:00", EVERY_DAY)
    now = local("2026-12-07 12:00").astimezone(dt.UTC)
    assert next_opening(window, "Europe/Warsaw", now) == local("2026-12-07 22:00").astimezone(
        dt.UTC
    )


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("24:00", "06:00", "window_start"), ("09:00", "24:01", "window_end"), ("9", "10:00", "")],
)
def test_bad_times_name_the_field(start: str, end: str, field: str) -> None:
    """A time that is not HH:MM (or 24:00 as an end) is refused naming its field."""
    with pytest.raises(WindowError, match=field or "window_start"):
        CallingWindow.parse(start, end, EVERY_DAY)
