"""Never dial a record in flight: exclusions, fenced leases, renewal on the engine's clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa

from campaigns import selection
from campaigns.enums import Outcome
from campaigns.models import Record
from dialer.clock import ScaledClock, VirtualClock
from dialer.engine import Call
from dialer.jobs import Jobs
from dialer.store import SqlJournal, SqlLeads, lease_owner
from tests.dialer.test_journal import WriteLock, fast_db
from tests.dialer.test_store import START, db, record

__all__ = ["db", "fast_db"]  # fixtures, imported for the tests below


def test_claim_skips_the_records_and_numbers_of_live_calls(db: sa.Engine) -> None:
    """Records of live calls and any record with a live call's number (the same person in
    another campaign) are not claimed, whatever their leases say."""
    leads = SqlLeads(db, engine_id="e1", lease_s=300)
    got = leads.claim(1, 10, START, exclude_records=[1], exclude_phones=["+48500000002"])
    assert sorted(lead.record_id for lead in got) == [2, 4, 5]
    assert all(lead.phone != "+48500000002" for lead in got)


def test_a_lapsed_owner_cannot_release_or_close_the_new_owners_lease(db: sa.Engine) -> None:
    """After a lease lapsed and a new start of the engine claimed the record, the old
    owner's release and outcome leave the new owner's lease in place."""
    old = SqlLeads(db, engine_id="e1", lease_s=10, nonce="old")
    (lead,) = old.claim(1, 1, START)
    later = START + dt.timedelta(seconds=30)
    new = SqlLeads(db, engine_id="e1", lease_s=300, nonce="new")
    (again,) = new.claim(1, 1, later)
    assert again.record_id == lead.record_id
    old.release([lead.record_id])
    assert record(db, lead.record_id).lease_owner == lease_owner("e1", "new")
    clock = VirtualClock(later)
    journal = SqlJournal(db, engine_id="e1", clock=clock, nonce="old")
    call = Call("old-1", 0, 1, lead, None, 0.0, START)
    journal.dialed(call)
    call = replace(call, outcome=Outcome.BUSY, end_at=later)
    journal.finished(call)
    row = record(db, lead.record_id)
    assert (row.lease_owner, row.lease_expires_at) == (
        lease_owner("e1", "new"),
        later + dt.timedelta(seconds=300),
    )


def test_a_restarted_engine_finds_and_adopts_its_earlier_leases(db: sa.Engine) -> None:
    """The leases of an earlier start are listed and taken over by the new owner."""
    before = SqlLeads(db, engine_id="e1", lease_s=300, nonce="before")
    other = SqlLeads(db, engine_id="e2", lease_s=300, nonce="x")
    mine = [lead.record_id for lead in before.claim(1, 2, START)]
    theirs = [lead.record_id for lead in other.claim(1, 1, START)]
    after = SqlLeads(db, engine_id="e1", lease_s=300, nonce="after")
    assert after.earlier_leases() == mine
    assert after.adopt([*mine, *theirs], START) == mine
    assert {record(db, rid).lease_owner for rid in mine} == {after.owner}
    assert record(db, theirs[0]).lease_owner == other.owner


def test_renewal_takes_back_a_swept_lease_but_not_a_closed_one(db: sa.Engine) -> None:
    """A lease that lapsed and was swept while its call was up is taken back; one cleared
    by an outcome written just now is not."""
    leads = SqlLeads(db, engine_id="e1", lease_s=20)
    swept, closed = (lead.record_id for lead in leads.claim(1, 2, START))
    later = START + dt.timedelta(seconds=45)
    selection.sweep_expired(db, later)
    with db.begin() as conn:
        conn.execute(
            sa.update(Record.__table__)  # type: ignore[attr-defined]
            .where(Record.__table__.c.id == closed)  # type: ignore[attr-defined]
            .values(last_call_at=later - dt.timedelta(seconds=1))
        )
    assert leads.renew([swept, closed], later) == [swept]
    assert record(db, swept).lease_owner == leads.owner
    assert record(db, closed).lease_owner is None


def test_no_claim_while_renewals_fail(fast_db: sa.Engine) -> None:
    """While the database refuses renewals the engine claims nothing; once a renewal
    goes through it claims again."""
    leads = SqlLeads(fast_db, engine_id="e1", lease_s=300)
    (live,) = leads.claim(1, 1, START)
    lock = WriteLock(fast_db)
    try:
        with pytest.raises(sa.exc.OperationalError):
            leads.renew([live.record_id], START)
        assert not leads.can_claim
        assert leads.claim(1, 2, START) == []
        assert leads.claim_reserved(1, 1, START) is None
    finally:
        lock.let_go()
    assert lock.count == 1, "no claim was even tried during the outage"
    assert leads.renew([live.record_id], START) == [live.record_id]
    assert leads.can_claim
    assert len(leads.claim(1, 2, START, exclude_records=[live.record_id])) == 2


def test_renew_job_interval_counts_engine_seconds() -> None:
    """Under --time-scale 20 the renew job runs every lease_s / 3 engine seconds, i.e.
    20 times as often on the wall clock."""
    leads = SqlLeads(sa.create_engine("sqlite://"), engine_id="e1", lease_s=30)
    spec = leads.renew_job(lambda: (), VirtualClock(START))
    trigger = spec.trigger("UTC", time_scale=20)
    assert trigger.interval == dt.timedelta(seconds=0.5)  # type: ignore[union-attr]


async def test_leases_never_lapse_under_a_scaled_clock(db: sa.Engine) -> None:
    """A live call's lease, counted on a clock 20 times as fast as the wall, is renewed in
    time: after four lease lengths of engine time it is still held (the reported bug: the
    renew job ran on the wall clock and one record was dialed three times)."""
    clock = ScaledClock(20)
    leads = SqlLeads(db, engine_id="e1", lease_s=30)  # 1.5 s on the wall
    (live,) = leads.claim(1, 1, clock.utcnow())
    renewed = asyncio.Event()
    runs = 0

    def live_ids() -> list[int]:
        nonlocal runs
        runs += 1
        if clock.now() >= 4 * leads.lease_s:
            renewed.set()
        return [live.record_id]

    async with Jobs([leads.renew_job(live_ids, clock)], time_scale=20):
        async with asyncio.timeout(60):
            await renewed.wait()
        await asyncio.sleep(0.2)  # the last renewal's thread finishes
    row = record(db, live.record_id)
    assert row.lease_expires_at is not None
    assert row.lease_expires_at > clock.utcnow()
    assert runs >= 6
