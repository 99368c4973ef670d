"""The call journal writes each fact when it happens, through a queue that outlives outages.

The outage is real: another connection holds SQLite's write lock (``BEGIN EXCLUSIVE``), so
every write of the journal fails with "database is locked" until it is let go.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from campaigns.db import make_engine
from campaigns.enums import Outcome
from campaigns.models import AgentPhase
from dialer.engine import Call, PhaseChange
from dialer.engine.clock import VirtualClock
from dialer.runtime.store import BackgroundJournal, SqlJournal, SqlLeads
from tests.dialer.test_store import START, db, record

__all__ = ["db"]  # the fixture, imported for the tests below

_PHASE = AgentPhase.__table__  # type: ignore[attr-defined]


def _db_path(engine: sa.Engine) -> str:
    path = engine.url.database
    assert path is not None
    return path


class WriteLock:
    """Holds SQLite's write lock from another connection: the database is "down" for
    writers until :meth:`let_go`. ``refused(n)`` waits until writers of ``engine`` were
    refused ``n`` times."""

    def __init__(self, engine: sa.Engine) -> None:
        self.conn = sqlite3.connect(_db_path(engine), isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")
        self.count = 0
        self.changed = threading.Condition()
        sa.event.listen(engine, "handle_error", self._seen)

    def _seen(self, context: Any) -> None:
        if "locked" in str(context.original_exception):
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    def refused(self, n: int, within_s: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, within_s)

    def let_go(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


@pytest.fixture
def fast_db(db: sa.Engine) -> Iterator[sa.Engine]:
    """The store's database, on an engine whose writers give up after 20 ms of lock."""
    engine = make_engine(f"sqlite:///{_db_path(db)}")

    def short_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=20")

    sa.event.listen(engine, "connect", short_wait)
    yield engine
    engine.dispose()


def claimed_calls(engine: sa.Engine, n: int, clock: VirtualClock) -> list[Call]:
    leads = SqlLeads(engine, engine_id="e1", lease_s=300)
    got = leads.claim(1, n, clock.utcnow())
    assert len(got) == n
    return [
        Call(
            call_id=f"e1-{lead.record_id}",
            index=i,
            campaign_id=1,
            lead=lead,
            reserved_agent=None,
            dial_t=clock.now(),
            dial_at=clock.utcnow(),
        )
        for i, lead in enumerate(got)
    ]


def rows(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT * FROM call_log")).mappings().all()
    return {str(r["channel_id"]): dict(r) for r in found}


def test_answer_connect_and_drop_are_written_when_they_happen(db: sa.Engine) -> None:
    """Answered, connected (agent, connect time) and dropped (drop time) are in the row
    before the call ends, so a crash mid-call loses none of them."""
    clock = VirtualClock(START)
    journal = SqlJournal(db, engine_id="e1", clock=clock)
    talk, drop = claimed_calls(db, 2, clock)
    for call in (talk, drop):
        journal.dialed(call)
    journal.flush()
    clock.advance(5)
    now = clock.utcnow()
    talk = replace(talk, answer_at=now, person_at=now)
    drop = replace(drop, answer_at=now, person_at=now)
    journal.answered(talk)
    journal.answered(drop)
    clock.advance(1)
    talk = replace(talk, connect_at=clock.utcnow(), agent_id=1)
    journal.connected(talk)
    clock.advance(1)
    drop = replace(drop, drop_at=clock.utcnow())
    journal.dropped(drop)
    got = rows(db)
    assert got[talk.call_id]["answer_at"] is not None
    assert got[talk.call_id]["connect_at"] is not None
    assert (got[talk.call_id]["agent_id"], got[talk.call_id]["wait_s"]) == (1, 1.0)
    assert got[talk.call_id]["end_at"] is None
    assert got[drop.call_id]["drop_at"] is not None
    assert (got[drop.call_id]["wait_s"], got[drop.call_id]["end_at"]) == (2.0, None)


def test_a_callback_kept_is_written_when_the_connect_is(db: sa.Engine) -> None:
    """A call connected to the agent who had booked its record as MY_RECORD on the record's
    previous call carries ``callback_kept`` from the connect on (the agents report adds
    those up per hour); after another status, or for another agent, it does not."""
    clock = VirtualClock(START)
    journal = SqlJournal(db, engine_id="e1", clock=clock)
    mine, other = claimed_calls(db, 2, clock)
    with db.begin() as conn:
        for call, status in ((mine, "MY_RECORD"), (other, "TO_CALL")):
            conn.execute(
                sa.text(
                    "INSERT INTO call_log (campaign_id, record_id, phone, agent_id, attempt,"
                    " dial_at, outcome, system_status, note, callback_kept)"
                    " VALUES (1, :r, '+48500000000', 1, 1, :at, 'answered', :s, '', false)"
                ),
                {"r": call.lead.record_id, "at": START - dt.timedelta(days=1), "s": status},
            )
    for call in (mine, other):
        journal.dialed(call)
    journal.flush()
    clock.advance(5)
    for call in (mine, other):
        now = clock.utcnow()
        journal.connected(replace(call, answer_at=now, person_at=now, connect_at=now, agent_id=1))
    got = rows(db)
    assert got[mine.call_id]["end_at"] is None, "written at the connect, not at the end"
    assert bool(got[mine.call_id]["callback_kept"]) is True
    assert bool(got[other.call_id]["callback_kept"]) is False


def test_a_restarted_journal_finds_the_row_by_call_id(db: sa.Engine) -> None:
    """A call adopted after a restart gets its facts into the row the previous process
    wrote (found by the call id, not by this process's memory)."""
    clock = VirtualClock(START)
    (call,) = claimed_calls(db, 1, clock)
    first = SqlJournal(db, engine_id="e1", clock=clock, nonce="before")
    first.dialed(call)
    first.flush()
    second = SqlJournal(db, engine_id="e1", clock=clock, nonce="after")
    clock.advance(3)
    call = replace(call, answer_at=clock.utcnow(), connect_at=clock.utcnow(), agent_id=1)
    second.connected(call)
    row = rows(db)[call.call_id]
    assert (row["agent_id"], row["connect_at"] is not None) == (1, True)


def test_refused_originate_gives_the_attempt_back(db: sa.Engine) -> None:
    """A refused Originate closes the row ``not_placed`` with the server's message, frees
    the lease and gives the attempt back; the record's status does not change."""
    clock = VirtualClock(START)
    (call,) = claimed_calls(db, 1, clock)
    before = record(db, call.lead.record_id)
    assert before.attempts == 1
    journal = SqlJournal(db, engine_id="e1", clock=clock)
    journal.dialed(call)
    journal.refused(call, "Originate failed: Extension does not exist")
    row = rows(db)[call.call_id]
    assert row["outcome"] == "not_placed"
    assert row["hangup_cause_txt"] == "Originate failed: Extension does not exist"
    assert row["end_at"] is not None
    after = record(db, call.lead.record_id)
    assert (after.attempts, after.lease_owner, after.system_status) == (0, None, "TO_CALL")
    assert (after.last_outcome, after.next_call_at) == (None, None)


def test_cancelled_call_gives_the_attempt_back(db: sa.Engine) -> None:
    """A call we hung up before anyone answered uses no attempt and changes no status."""
    clock = VirtualClock(START)
    (call,) = claimed_calls(db, 1, clock)
    journal = SqlJournal(db, engine_id="e1", clock=clock)
    journal.dialed(call)
    clock.advance(2)
    call = replace(call, outcome=Outcome.CANCELLED, end_at=clock.utcnow())
    journal.finished(call)
    assert rows(db)[call.call_id]["outcome"] == "cancelled"
    after = record(db, call.lead.record_id)
    assert (after.attempts, after.lease_owner, after.last_outcome) == (0, None, None)


def test_no_write_is_lost_while_the_database_is_unreachable(fast_db: sa.Engine) -> None:
    """Rows opened and closed while the database refuses every write are all written,
    complete, once it is back; close() waits for them."""
    clock = VirtualClock(START)
    calls = claimed_calls(fast_db, 4, clock)
    journal = BackgroundJournal(
        SqlJournal(fast_db, engine_id="e1", clock=clock), retry_s=0.01, max_retry_s=0.05
    )
    lock = WriteLock(fast_db)
    try:
        for call in calls:
            journal.dialed(call)
        journal.flush()
        clock.advance(20)
        for call in calls:
            ended = replace(call, outcome=Outcome.NO_ANSWER, end_at=clock.utcnow(), cause=19)
            journal.finished(ended)
        # Every write was tried at least once in the outage (more refusals than writes).
        assert lock.refused(len(calls) + 1)
    finally:
        lock.let_go()
    journal.close(within_s=10)
    got = rows(fast_db)
    assert sorted(got) == sorted(c.call_id for c in calls)
    assert {(r["outcome"], r["hangup_cause"]) for r in got.values()} == {("no_answer", 19)}
    for call in calls:
        assert record(fast_db, call.lead.record_id).lease_owner is None


def test_facts_keep_their_order_across_an_outage(fast_db: sa.Engine) -> None:
    """Answer, connect and end written during an outage land in order: the row ends up
    with all of them and the record gets the agent's status."""
    clock = VirtualClock(START)
    (call,) = claimed_calls(fast_db, 1, clock)
    journal = BackgroundJournal(
        SqlJournal(fast_db, engine_id="e1", clock=clock), retry_s=0.01, max_retry_s=0.05
    )
    journal.dialed(call)
    journal.flush()
    assert journal.wait_idle(10)
    lock = WriteLock(fast_db)
    try:
        clock.advance(4)
        call = replace(call, answer_at=clock.utcnow(), person_at=clock.utcnow())
        journal.answered(call)
        clock.advance(0.5)
        call = replace(call, connect_at=clock.utcnow(), agent_id=1)
        journal.connected(call)
        assert journal.stalled.wait(10)
        clock.advance(60)
        call = replace(call, outcome=Outcome.ANSWERED, end_at=clock.utcnow())
        journal.finished(call)
        journal.default_status(call)
    finally:
        lock.let_go()
    journal.close(within_s=10)
    assert not journal.stalled.is_set()
    row = rows(fast_db)[call.call_id]
    assert row["answer_at"] is not None
    assert row["connect_at"] is not None
    assert (row["agent_id"], row["outcome"], row["talk_s"]) == (1, "answered", 60.0)
    assert journal.failures == 0
    assert record(fast_db, call.lead.record_id).lease_owner is None


def test_close_gives_up_after_its_time_and_says_so(fast_db: sa.Engine) -> None:
    """close() does not hang forever on a database that never comes back."""
    clock = VirtualClock(START)
    (call,) = claimed_calls(fast_db, 1, clock)
    journal = BackgroundJournal(
        SqlJournal(fast_db, engine_id="e1", clock=clock), retry_s=0.01, max_retry_s=0.05
    )
    lock = WriteLock(fast_db)
    try:
        journal.dialed(call)
        began = dt.datetime.now(dt.UTC)
        journal.close(within_s=0.3)
        assert (dt.datetime.now(dt.UTC) - began).total_seconds() < 5
        assert journal.failures == 1, "the write left is counted as not written"
    finally:
        lock.let_go()


def test_phase_changes_queued_behind_an_outage_are_written_together(
    fast_db: sa.Engine,
) -> None:
    """Phase changes that pile up while the worker waits are written in one transaction
    when the database is back, in order and none twice: every stretch closes where the
    next opens (a floor of hundreds of agents once kept the worker one transaction per
    change behind, and the facts of a stopping engine's last calls were refused)."""
    clock = VirtualClock(START)
    journal = BackgroundJournal(
        SqlJournal(fast_db, engine_id="e1", clock=clock), retry_s=0.01, max_retry_s=0.05
    )
    commits: list[int] = []
    sa.event.listen(fast_db, "commit", lambda conn: commits.append(1))
    lock = WriteLock(fast_db)
    phases = ["ready", "reserved", "talking", "wrap_up"] * 25
    t0 = START
    journal.agent_phase(PhaseChange(7, 1, phases[0], None, None, t0))
    assert lock.refused(1)  # the first write waits for the database
    for k, phase in enumerate(phases[1:], start=1):
        journal.agent_phase(PhaseChange(7, 1, phase, None, None, t0 + dt.timedelta(seconds=k)))
    lock.let_go()
    assert journal.wait_idle(10)
    journal.close()
    with fast_db.connect() as conn:
        rows = conn.execute(
            sa.select(_PHASE.c.phase, _PHASE.c.start_at, _PHASE.c.end_at)
            .where(_PHASE.c.agent_id == 7)
            .order_by(_PHASE.c.start_at)
        ).all()
    assert [r.phase for r in rows] == phases
    assert all(a.end_at == b.start_at for a, b in itertools.pairwise(rows))
    assert rows[-1].end_at is None
    assert len(commits) <= 3  # the first change, then the rest at once (and the close)


def _life(journal: BackgroundJournal, calls: list[Call], clock: VirtualClock) -> list[Call]:
    """Dial, answer, connect and end every call, with a phase change per connect."""
    for call in calls:
        journal.dialed(call)
    journal.flush()
    clock.advance(5)
    done: list[Call] = []
    for dialed in calls:
        now = clock.utcnow()
        answered = replace(dialed, answer_at=now, person_at=now)
        journal.answered(answered)
        clock.advance(0.5)
        talking = replace(answered, connect_at=clock.utcnow(), agent_id=1)
        journal.connected(talking)
        journal.agent_phase(PhaseChange(1, 1, "talking", None, talking.call_id, talking.connect_at))
        clock.advance(30)
        ended = replace(talking, outcome=Outcome.ANSWERED, end_at=clock.utcnow())
        journal.finished(ended)
        journal.default_status(ended)
        done.append(ended)
    return done


def _complete(engine: sa.Engine, calls: list[Call]) -> None:
    """Every call has its one row with every fact, and its record is released."""
    got = rows(engine)
    assert sorted(got) == sorted(c.call_id for c in calls)
    for call in calls:
        row = got[call.call_id]
        assert row["answer_at"] is not None, call.call_id
        assert (row["agent_id"], row["outcome"], row["talk_s"]) == (
            call.agent_id,
            "answered",
            30.0,
        )
        assert record(engine, call.lead.record_id).lease_owner is None
    with engine.connect() as conn:
        talking = conn.execute(
            sa.select(sa.func.count()).select_from(_PHASE).where(_PHASE.c.phase == "talking")
        ).scalar()
    assert talking == len(calls)


def test_facts_that_piled_up_are_written_in_a_few_transactions(fast_db: sa.Engine) -> None:
    """Facts queued while the worker waits are written together when it can go on, each
    complete and none twice: 5 calls' 31 writes (rows, answer, connect, phase, end,
    status) in a handful of commits, not one each (a floor of hundreds of agents kept the worker
    seconds behind, and a stopping engine's last facts were refused)."""
    clock = VirtualClock(START)
    calls = claimed_calls(fast_db, 5, clock)
    journal = BackgroundJournal(
        SqlJournal(fast_db, engine_id="e1", clock=clock), retry_s=0.01, max_retry_s=0.05
    )
    commits: list[int] = []
    sa.event.listen(fast_db, "commit", lambda conn: commits.append(1))
    lock = WriteLock(fast_db)
    try:
        calls = _life(journal, calls, clock)
        assert lock.refused(1)  # the first write waits; the rest pile up behind it
    finally:
        lock.let_go()
    assert journal.wait_idle(10)
    journal.close()
    _complete(fast_db, calls)
    assert journal.failures == 0
    assert journal.batches >= 1
    assert len(commits) <= 5, len(commits)


class _Refuses(SqlJournal):
    """A journal whose write of one call's connect is refused (a bug, a rule)."""

    refuse = ""

    def connected(self, call: Call) -> None:
        if call.call_id == self.refuse:
            raise ValueError(f"refused: {call.call_id}")
        super().connected(call)


def test_a_refused_write_in_a_batch_costs_only_itself(fast_db: sa.Engine) -> None:
    """A write refused inside a batch undoes the batch's transaction; its writes run
    again one by one: the refused one is counted and logged, every other fact of the
    batch (rows, phases, statuses) is written once."""
    clock = VirtualClock(START)
    calls = claimed_calls(fast_db, 5, clock)
    inner = _Refuses(fast_db, engine_id="e1", clock=clock)
    inner.refuse = calls[2].call_id
    journal = BackgroundJournal(inner, retry_s=0.01, max_retry_s=0.05)
    lock = WriteLock(fast_db)
    try:
        calls = _life(journal, calls, clock)
        assert lock.refused(1)
    finally:
        lock.let_go()
    assert journal.wait_idle(10)
    journal.close()
    assert journal.failures == 1
    assert journal.batch_fallbacks >= 1
    got = rows(fast_db)
    assert sorted(got) == sorted(c.call_id for c in calls)  # each row once
    _complete(fast_db, calls)  # (the end's write carries the connect time too)
