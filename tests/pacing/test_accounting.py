"""The abandonment ledger counts drops / answered persons over today, 24 h and 30 days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pacing.accounting import DAY_S, AbandonmentLedger, local_days


def test_today_resets_at_the_day_boundary() -> None:
    """Drops of yesterday do not count in today's window but stay in the rolling 24 h."""
    ledger = AbandonmentLedger(day_start_s=0.0)
    ledger.record_drop(DAY_S - 100.0)
    ledger.record_connect(DAY_S - 50.0)
    today, r24, r30 = ledger.windows(DAY_S + 10.0)
    assert (today.drops, today.answered) == (0.0, 0.0)
    assert (r24.drops, r24.answered) == (1.0, 2.0)
    assert r30.rate == pytest.approx(0.5)


def test_day_start_offset_moves_the_boundary() -> None:
    """With day_start_s = 6 h, an event at 5 h belongs to the previous day."""
    ledger = AbandonmentLedger(day_start_s=6 * 3600.0)
    ledger.record_drop(5 * 3600.0)
    today, _, _ = ledger.windows(7 * 3600.0)
    assert today.drops == 0.0


def test_rolling_windows_forget_old_events() -> None:
    """An event leaves the 24 h window after a day and the 30-day window after 30 days."""
    ledger = AbandonmentLedger()
    ledger.record_drop(0.0)
    _, r24, r30 = ledger.windows(DAY_S + 120.0)
    assert r24.drops == 0.0
    assert r30.drops == 1.0
    _, _, r30 = ledger.windows(31 * DAY_S)
    assert r30.drops == 0.0


def test_last_hour_counts_live_and_seeded_facts_of_the_last_hour_only() -> None:
    """The last rolling hour (what supervisors watch) takes live events and seeded facts
    alike, and an event leaves it after an hour (to the minute)."""
    ledger = AbandonmentLedger()
    ledger.seed([(100.0, "drop"), (200.0, "connect"), (-4000.0, "drop")], now=300.0)
    ledger.record_connect(400.0)
    ledger.record_drop(500.0)
    hour = ledger.last_hour(600.0)
    assert (hour.name, hour.answered, hour.drops) == ("last_hour", 4.0, 2.0)
    later = ledger.last_hour(200.0 + 3600.0 + 120.0)  # the seeded drop and connect left
    assert (later.answered, later.drops) == (2.0, 1.0)
    assert ledger.last_hour(500.0 + 3600.0 + 120.0).answered == 0.0


def test_amd_false_positives_count_as_drops_with_the_ofcom_option() -> None:
    """With a 5 % AMD false-positive estimate, 20 machine hangups add one drop and one answer."""
    ledger = AbandonmentLedger(amd_false_positive_rate=0.05)
    for i in range(20):
        ledger.record_machine(float(i))
    for i in range(99):
        ledger.record_connect(100.0 + i)
    today, _, _ = ledger.windows(500.0)
    assert today.drops == pytest.approx(1.0)
    assert today.rate == pytest.approx(0.01)


def test_machines_do_not_count_without_the_option() -> None:
    """By default (FTC counting) answering machines are neither drops nor answers."""
    ledger = AbandonmentLedger()
    ledger.record_machine(1.0)
    today, _, _ = ledger.windows(2.0)
    assert (today.drops, today.answered) == (0.0, 0.0)


def test_invalid_amd_rate_is_refused() -> None:
    """A false-positive rate outside [0, 1) is a programming error."""
    with pytest.raises(ValueError, match="amd_false_positive_rate"):
        AbandonmentLedger(amd_false_positive_rate=1.5)


def test_seeded_facts_count_like_live_ones_whatever_their_order() -> None:
    """Facts seeded after live events (older, out of order) land in the same windows as
    if they had been recorded live; facts after ``now`` are left out."""
    live = AbandonmentLedger()
    seeded = AbandonmentLedger()
    facts = [(100.0, "drop"), (DAY_S + 50.0, "connect"), (5 * DAY_S, "drop"), (40.0, "connect")]
    for t, kind in sorted(facts):
        (live.record_drop if kind == "drop" else live.record_connect)(t)
    seeded.record_connect(5 * DAY_S + 10.0)
    live.record_connect(5 * DAY_S + 10.0)
    added = seeded.seed([*facts, (6 * DAY_S, "drop")], now=5 * DAY_S + 20.0)
    assert added == 4
    assert seeded.windows(5 * DAY_S + 30.0) == live.windows(5 * DAY_S + 30.0)
    _, r24, r30 = seeded.windows(5 * DAY_S + 30.0)
    assert (r24.drops, r24.answered) == (1.0, 2.0)
    assert (r30.drops, r30.answered) == (2.0, 5.0)


def test_seed_refuses_an_unknown_kind() -> None:
    """A fact of a kind the ledger does not count is refused with the kinds it takes."""
    with pytest.raises(ValueError, match="connect, drop, machine"):
        AbandonmentLedger().seed([(1.0, "hangup")], now=2.0)


def test_today_follows_the_campaign_zone_not_the_clock_origin() -> None:
    """With the calendar of Europe/Warsaw on a monotonic clock that started at 12:00 UTC
    (13:00 local), "today" restarts at local midnight (23:00 UTC), not 24 h after the
    clock's origin — and across the spring DST change the day is 23 hours long."""
    origin = dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)  # clock reads 0.0 here
    ledger = AbandonmentLedger()
    ledger.use_calendar(local_days(0.0, origin, ZoneInfo("Europe/Warsaw")))
    ledger.record_drop(10.5 * 3600)  # 22:30 UTC = 23:30 local, 28 March
    today, _, _ = ledger.windows(11.5 * 3600)  # 23:30 UTC = 00:30 local, 29 March
    assert today.drops == 0.0
    ledger.record_drop(12 * 3600)  # 00:00 UTC = 01:00 local (CET), 29 March
    # 29 March 2026 has 23 hours in Warsaw: it ends at 22:00 UTC
    today, r24, _ = ledger.windows(33.5 * 3600)  # 21:30 UTC = 23:30 CEST, still 29 March
    assert (today.drops, r24.drops) == (1.0, 2.0)
    today, _, _ = ledger.windows(34.5 * 3600)  # 22:30 UTC = 00:30 CEST, 30 March
    assert today.drops == 0.0
