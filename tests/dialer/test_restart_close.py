"""Rows of calls that ended while no engine followed them (after a kill -9): a person who
answered and was never connected was dropped by the dialplan, and that drop counts in the
abandonment windows, so the closed row has its drop time (the fault suite's kill -9 test
once found such rows ``dropped`` with no ``drop_at``: a drop the windows never counted)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from campaigns.enums import Outcome
from dialer.runtime.core import _outcome_of, closing_details

NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)


def _row(**facts: object) -> SimpleNamespace:
    base = {"answer_at": None, "connect_at": None, "drop_at": None}
    return SimpleNamespace(**{**base, **facts})


def test_an_answered_call_never_connected_is_closed_as_a_drop_with_its_time() -> None:
    """Answered 30 s ago, no connect, no drop written: dropped at answer + max_wait_s."""
    row = _row(answer_at=(NOW - dt.timedelta(seconds=30)).replace(tzinfo=None))
    outcome = _outcome_of(row)
    assert outcome is Outcome.DROPPED
    details = closing_details(row, outcome, NOW, "engine restarted", max_wait_s=2.0)
    assert details.drop_at == NOW - dt.timedelta(seconds=28)
    assert details.wait_s == 2.0
    assert details.end_at == NOW


def test_a_drop_is_never_dated_after_the_restart_and_known_facts_are_kept() -> None:
    """Answered just now: the drop is dated now at the latest; a drop written already, a
    connected call or a call never answered get no drop time."""
    just = _row(answer_at=NOW - dt.timedelta(seconds=0.5))
    assert closing_details(just, Outcome.DROPPED, NOW, "x", max_wait_s=2.0).drop_at == NOW
    dropped = _row(answer_at=NOW - dt.timedelta(seconds=9), drop_at=NOW - dt.timedelta(seconds=7))
    assert closing_details(dropped, Outcome.DROPPED, NOW, "x", max_wait_s=2.0).drop_at is None
    talked = _row(answer_at=NOW - dt.timedelta(seconds=9), connect_at=NOW)
    assert closing_details(talked, _outcome_of(talked), NOW, "x", max_wait_s=2.0).drop_at is None
    rang = _row()
    assert closing_details(rang, _outcome_of(rang), NOW, "x", max_wait_s=2.0).drop_at is None
