"""Call facts of a stalled owner are fenced by the campaign's lease token
(dialer/runtime/store.py SqlJournal.fence, dialer/runtime/cluster.py Cluster.owns / lapsed):
whatever it writes after another engine took the campaign is refused, in the write's own
transaction, and a queued write carries the token held when its fact happened."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from campaigns.models import utcnow
from dialer.engine import Call, Lead
from dialer.engine.clock import VirtualClock
from dialer.runtime.cluster import CampaignMovedError, Cluster
from dialer.runtime.store import BackgroundJournal, SqlJournal
from tests.cluster.test_ownership import _member, db

__all__ = ["db"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.postgres


def _journal(db: sa.Engine, member: Cluster) -> SqlJournal:
    journal = SqlJournal(db, engine_id="a", clock=VirtualClock(utcnow()), nonce="n1")
    journal.fence = member.owns
    journal.token_of = member.held.get
    return journal


def _call(db: sa.Engine, campaign_id: int, call_id: str) -> Call:
    with db.connect() as conn:
        record_id, phone = conn.execute(
            sa.text("SELECT id, phone FROM record WHERE campaign_id = :c ORDER BY id LIMIT 1"),
            {"c": campaign_id},
        ).one()
    lead = Lead(record_id=int(record_id), campaign_id=campaign_id, phone=str(phone))
    return Call(call_id, 0, campaign_id, lead, None, 0.0, utcnow())


def _stall(db: sa.Engine, owner: str) -> None:
    """``owner``'s leases and heartbeat run out (it stopped renewing long ago)."""
    with db.begin() as conn:
        for table in ("campaign_lease", "cluster_engine"):
            conn.execute(
                sa.text(
                    f"UPDATE {table} SET expires_at = expires_at - interval '1 h' WHERE owner = :o"
                ),
                {"o": owner},
            )


def _rows(db: sa.Engine) -> dict[str, tuple[object, ...]]:
    with db.connect() as conn:
        return {
            str(r[0]): tuple(r[1:])
            for r in conn.execute(sa.text("SELECT channel_id, answer_at, end_at FROM call_log"))
        }


def _owned_by_a(db: sa.Engine) -> tuple[Cluster, Cluster, int]:
    a, b = _member(db, "a"), _member(db, "b")
    a.renew({})
    a.step({})
    b.renew({})
    campaign_id = min(a.held)
    return a, b, campaign_id


def test_a_stale_owners_call_facts_are_refused_after_the_takeover(db: sa.Engine) -> None:
    """Row and answer written while the lease is a's; after b took the campaign, a's answer
    of another call, its end of the first and a new call's row are all refused."""
    a, b, campaign_id = _owned_by_a(db)
    journal = _journal(db, a)
    first = _call(db, campaign_id, "a-1")
    journal.dialed(first)
    journal.flush()
    first.answer_at = first.person_at = utcnow()
    journal.answered(first)
    assert _rows(db)["a-1"][0] is not None
    _stall(db, "a/n1")
    b.renew({})
    assert campaign_id in {t.campaign_id for t in b.step({}).taken}
    first.end_at = utcnow() + dt.timedelta(seconds=5)
    with pytest.raises(CampaignMovedError):
        journal.finished(first)
    assert _rows(db)["a-1"][1] is None, "the stale owner did not close the adopted call's row"
    later = _call(db, campaign_id, "a-2")
    journal.dialed(later)
    journal.flush()
    assert "a-2" not in _rows(db), "a row dialed under a lapsed lease is not written"


def test_a_queued_fact_carries_the_token_of_when_it_happened(db: sa.Engine) -> None:
    """A fact queued while a owned the campaign and written after b took it is refused,
    even though a took the campaign back since (a new token: its old facts are stale)."""
    a, b, campaign_id = _owned_by_a(db)
    inner = _journal(db, a)
    journal = BackgroundJournal(inner)
    try:
        call = _call(db, campaign_id, "a-3")
        journal.dialed(call)
        journal.flush()
        assert journal.wait_idle(10)
        blocker = db.connect()
        lock = blocker.begin()
        # Hold the lease row: the queued write below waits in its fence for it.
        blocker.execute(
            sa.text("SELECT 1 FROM campaign_lease WHERE campaign_id = :c FOR UPDATE"),
            {"c": campaign_id},
        )
        call.answer_at = call.person_at = utcnow()
        journal.answered(call)  # token 1 captured now
        blocker.execute(
            sa.text(
                "UPDATE campaign_lease SET owner = 'b/n1', token = token + 1 WHERE campaign_id = :c"
            ),
            {"c": campaign_id},
        )
        lock.commit()
        blocker.close()
        assert journal.wait_idle(10)
        assert journal.fenced == 1
        assert _rows(db)["a-3"][0] is None
    finally:
        journal.close()
    assert b.held == {}


def test_an_owner_that_did_not_renew_in_time_gives_the_campaign_up_and_releases_it(
    db: sa.Engine,
) -> None:
    """lapsed(): past (start of the last renewal + failover_s - margin) on the engine's own
    clock the lease is given up at once; the next round frees it (its name kept) so that
    another engine takes it without waiting for it to run out, and adopts from it."""
    now = [100.0]
    a = Cluster(
        db, engine_id="a", owner="a/n1", failover_s=3.0, settle_s=0.0, monotonic=lambda: now[0]
    )
    a.renew({})
    a.step({})
    held = dict(a.held)
    assert held
    now[0] += 3.0 - a.margin_s - 0.01
    assert a.lapsed() == []
    now[0] += 0.02
    assert sorted(a.lapsed()) == sorted(held)
    assert a.held == {}
    a.step({}, take=False)
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT campaign_id, owner, expires_at FROM campaign_lease"))
        leases = {int(c): (o, e) for c, o, e in rows}
    assert all(leases[c] == ("a/n1", None) for c in held), "free, a's name kept"
    b = _member(db, "b")
    b.renew({})
    taken = b.step({}).taken  # its share by the rule (a is still a live engine)
    assert taken
    assert all(t.previous == "a/n1" and t.previous_live for t in taken)
    with db.connect() as conn:
        assert not any(a.owns(conn, t.campaign_id, held[t.campaign_id]) for t in taken)


def test_a_batch_writes_what_is_still_owned_and_fences_the_rest(db: sa.Engine) -> None:
    """Facts that piled up behind a write waiting on the lease row are written together:
    those of a campaign moved meanwhile are refused, those of a campaign still owned are
    written, and each campaign's lease is checked once per transaction, not once per fact
    (the row stays share-locked until the commit, so the verdict cannot change)."""
    a = _member(db, "a")
    a.renew({})
    a.step({})
    assert {1, 2} <= set(a.held)
    journal = BackgroundJournal(_journal(db, a))
    checks: list[str] = []

    def seen(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        if "FROM campaign_lease" in statement and "FOR SHARE" in statement:
            checks.append(statement)

    try:
        moved = [_call(db, 1, f"a-m{k}") for k in range(2)]
        kept = [_call(db, 2, f"a-k{k}") for k in range(6)]
        for call in moved + kept:
            journal.dialed(call)
        journal.flush()
        assert journal.wait_idle(10)
        blocker = db.connect()
        lock = blocker.begin()
        blocker.execute(sa.text("SELECT 1 FROM campaign_lease WHERE campaign_id = 1 FOR UPDATE"))
        sa.event.listen(db, "before_cursor_execute", seen)
        for call in [moved[0], *kept, moved[1]]:
            call.answer_at = call.person_at = utcnow()
            journal.answered(call)  # campaign 1's with the token it has now
        blocker.execute(
            sa.text(
                "UPDATE campaign_lease SET owner = 'b/n1', token = token + 1 WHERE campaign_id = 1"
            )
        )
        lock.commit()
        blocker.close()
        assert journal.wait_idle(10)
    finally:
        journal.close()
        sa.event.remove(db, "before_cursor_execute", seen)
    rows = _rows(db)
    assert journal.fenced == 2
    assert all(rows[c.call_id][0] is None for c in moved)
    assert all(rows[c.call_id][0] is not None for c in kept)
    assert journal.batches >= 1
    assert len(checks) <= 4, checks  # one fact alone, then a batch: two campaigns


def _waiting_locks(db: sa.Engine) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE NOT l.granted AND a.datname = current_database()"
                )
            ).scalar()
            or 0
        )


def test_a_batch_takes_its_lease_rows_in_ascending_order(db: sa.Engine) -> None:
    """A batch with facts of campaigns 2 then 1 while another transaction locks the rows of
    campaigns 1 then 2 for an update of their owners: the batch waits for it, neither is a
    deadlock's victim (in the bench, taking them in the facts' order deadlocked with the
    renewal, which then still locked the rows, and four campaigns' leases lapsed)."""
    a = _member(db, "a")
    a.renew({})
    a.step({})
    assert {1, 2, 3} <= set(a.held)
    journal = BackgroundJournal(_journal(db, a))
    deadlocks: list[str] = []

    def seen(context: Any) -> None:
        if "deadlock" in str(context.original_exception):
            deadlocks.append(str(context.original_exception))

    sa.event.listen(db, "handle_error", seen)
    blocker, other = db.connect(), db.connect()
    try:
        first, two, one = _call(db, 3, "a-3"), _call(db, 2, "a-2"), _call(db, 1, "a-1")
        for call in (first, two, one):
            journal.dialed(call)
        journal.flush()
        assert journal.wait_idle(10)
        held = blocker.begin()
        blocker.execute(sa.text("SELECT 1 FROM campaign_lease WHERE campaign_id = 3 FOR UPDATE"))
        for call in (first, two, one):
            call.answer_at = call.person_at = utcnow()
        journal.answered(first)
        assert _wait(lambda: _waiting_locks(db) >= 1)  # it waits alone for the blocker
        journal.answered(two)
        journal.answered(one)  # these two pile up behind it
        locking = other.begin()
        other.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        other.execute(sa.text("SELECT 1 FROM campaign_lease WHERE campaign_id = 1 FOR UPDATE"))
        held.commit()  # the batch of campaigns 2 and 1 starts now
        assert _wait(lambda: _waiting_locks(db) >= 1)  # it waits for campaign 1's row
        other.execute(sa.text("SELECT 1 FROM campaign_lease WHERE campaign_id = 2 FOR UPDATE"))
        locking.commit()
        assert journal.wait_idle(10)
    finally:
        blocker.close()
        other.close()
        journal.close()
        sa.event.remove(db, "handle_error", seen)
    assert deadlocks == []
    rows = _rows(db)
    assert all(rows[c.call_id][0] is not None for c in (first, two, one))
    assert journal.fenced == 0


def test_the_renewal_does_not_wait_for_a_fenced_write_and_a_takeover_does(
    db: sa.Engine,
) -> None:
    """A write under the fence (a claim, a batch of call facts) is open: the owner's
    renewal goes through at once (with FOR SHARE it waited, and under load the leases
    lapsed mid-run), while another engine's takeover waits until the write commits."""
    a, b, campaign_id = _owned_by_a(db)
    writer = db.connect()
    try:
        writing = writer.begin()
        assert a.owns(writer, campaign_id, a.held[campaign_id])
        renewed: list[list[int]] = []
        renewal = threading.Thread(target=lambda: renewed.append(a.renew({})))
        renewal.start()
        renewal.join(10)
        assert renewed == [[]], "the renewal waited for the owner's own write"
        _stall(db, "a/n1")
        b.renew({})
        taken: list[object] = []
        takeover = threading.Thread(target=lambda: taken.append(b.step({})))
        takeover.start()
        assert _wait(lambda: _waiting_locks(db) >= 1), "the takeover did not wait"
        assert taken == []
        writing.commit()
        takeover.join(10)
        assert campaign_id in {t.campaign_id for t in taken[0].taken}  # type: ignore[attr-defined]
    finally:
        writer.close()


def _wait(check: Callable[[], bool], within_s: float = 10.0) -> bool:
    """Poll ``check`` (a database state no event tells us about) until true."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False
