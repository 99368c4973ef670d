"""One abandonment truth: windows counted from the facts the journal writes when they
happen, read alike by the dashboard and by a restarted pacer's guard."""

from __future__ import annotations

import datetime as dt
import itertools

import sqlalchemy as sa

from campaigns.abandonment import abandonment_windows
from dialer.clock import VirtualClock
from dialer.engine import Call, Lead
from dialer.store import SqlJournal, load_ledger
from pacing.pacers import PredictivePacer, PredictiveSettings
from pacing.types import View
from tests.dialer.test_store import START, db

__all__ = ["db"]  # the fixture, imported for the tests below

_ids = itertools.count(1)


def call_at(journal: SqlJournal, at: dt.datetime, *, campaign_id: int = 1) -> Call:
    """A call dialed at ``at`` and written to the journal."""
    record_id = 1 + next(_ids) % 5
    lead = Lead(record_id=record_id, campaign_id=campaign_id, phone=f"+4850000000{record_id}")
    call = Call(f"c{next(_ids)}", 0, campaign_id, lead, None, 0.0, at)
    journal.dialed(call)
    return call


def connect(journal: SqlJournal, at: dt.datetime, agent_id: int = 1) -> Call:
    call = call_at(journal, at - dt.timedelta(seconds=10))
    call.answer_at = call.person_at = at - dt.timedelta(seconds=1)
    call.connect_at, call.agent_id = at, agent_id
    journal.connected(call)
    return call


def drop(journal: SqlJournal, at: dt.datetime) -> Call:
    call = call_at(journal, at - dt.timedelta(seconds=10))
    call.answer_at = call.person_at = at - dt.timedelta(seconds=2)
    call.drop_at = at
    journal.dropped(call)
    return call


def test_connected_calls_count_while_they_are_still_up(db: sa.Engine) -> None:
    """Five calls connected and none ended yet: the windows say 5 connected, 0 dropped
    (the reported dashboard showed 0 / 0: rows were written at the end of a call)."""
    clock = VirtualClock(START)
    journal = SqlJournal(db, engine_id="e1", clock=clock)
    for k in range(5):
        connect(journal, START - dt.timedelta(minutes=k))
    drop(journal, START - dt.timedelta(minutes=1))
    windows = abandonment_windows(db, 1, START, "UTC")
    assert [(w.connected, w.dropped) for w in windows] == [(5, 1)] * 3
    assert windows.rolling_24h.rate == 1 / 6


def test_windows_count_by_when_people_were_connected_or_dropped(db: sa.Engine) -> None:
    """Today starts at midnight in the campaign's zone; 24 h and 30 d roll; facts of
    every engine count; other campaigns, and facts in the future, do not."""
    now = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)  # 11:00 in Warsaw
    one = SqlJournal(db, engine_id="e1", clock=VirtualClock(now))
    two = SqlJournal(db, engine_id="e2", clock=VirtualClock(now))
    drop(one, dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC))  # 00:30 today in Warsaw
    connect(two, dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC))  # yesterday in Warsaw
    drop(two, now - dt.timedelta(days=3))
    connect(one, now - dt.timedelta(days=40))
    connect(one, now + dt.timedelta(minutes=5))
    warsaw = abandonment_windows(db, 1, now, "Europe/Warsaw")
    assert (warsaw.today.connected, warsaw.today.dropped) == (0, 1)
    assert warsaw.today.since == dt.datetime(2026, 3, 10, 23, 0, tzinfo=dt.UTC)
    assert (warsaw.rolling_24h.connected, warsaw.rolling_24h.dropped) == (1, 1)
    assert (warsaw.rolling_30d.connected, warsaw.rolling_30d.dropped) == (1, 2)
    utc = abandonment_windows(db, 1, now, "UTC")
    assert (utc.today.connected, utc.today.dropped) == (0, 0)  # both before 00:00 UTC
    assert abandonment_windows(db, 2, now, "UTC").rolling_30d.answered == 0


def _guarded(pacer: PredictivePacer, t: float) -> str:
    pacer.decide(
        View(t=t, agents_logged_in=10, agents_ready=6, ready_idle_s=(5.0,) * 6, lines_free=50)
    )
    return pacer.status.reason


def test_a_restarted_pacer_still_guards_the_24h_window(db: sa.Engine) -> None:
    """After drops that put the 24 h window at the cap, a pacer built at restart and loaded
    from the call log falls back to progressive (compliance guard); one that starts empty,
    as before, would dial predictively into the breach."""
    before = START - dt.timedelta(hours=3)
    journal = SqlJournal(db, engine_id="e1", clock=VirtualClock(before))
    for k in range(60):
        connect(journal, before + dt.timedelta(seconds=30 * k))
    for k in range(3):
        drop(journal, before + dt.timedelta(minutes=40 + k))
    restarted = VirtualClock(START)  # a new process: its monotonic clock starts again
    pacer = PredictivePacer(PredictiveSettings())
    loaded = load_ledger(pacer.ledger, db, 1, clock=restarted, tz="UTC")
    assert loaded == 63
    today, r24, _ = pacer.ledger.windows(restarted.now())
    assert (r24.drops, r24.answered) == (3.0, 63.0)
    assert today.drops == 3.0
    assert _guarded(pacer, restarted.now()) == "compliance_guard"
    forgetful = PredictivePacer(PredictiveSettings())
    assert _guarded(forgetful, restarted.now()) != "compliance_guard"
    windows = abandonment_windows(db, 1, restarted.utcnow(), "UTC")
    assert (windows.rolling_24h.dropped, windows.rolling_24h.answered) == (3, 63)
