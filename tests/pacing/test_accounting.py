"""The abandonment ledger counts drops / answered persons over today, 24 h and 30 days."""

from __future__ import annotations

import pytest

from pacing.accounting import DAY_S, AbandonmentLedger


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
