"""Records claimed ahead off the event loop: the tick takes them without a database trip."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Collection, Sequence

import sqlalchemy as sa

from dialer.engine import Lead
from dialer.runtime.claims import ClaimAhead
from dialer.runtime.store import SqlLeads, lease_owner
from tests.dialer.test_store import START, db, record

__all__ = ["db"]  # fixture, imported for the tests below


class Clock:
    """A hand-moved monotonic clock for the buffer's ages."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def ahead_of(
    leads: SqlLeads,
    clock: Clock,
    *,
    held: set[int] | None = None,
) -> ClaimAhead:
    ahead = ClaimAhead(
        leads,
        utcnow=lambda: START,
        held=None if held is None else held.__contains__,
        perf=clock,
    )
    ahead.start()
    return ahead


async def test_a_claim_never_waits_for_the_database_on_the_loop(db: sa.Engine) -> None:
    """The first claim gives nothing and starts a refill on a worker thread; the next one
    is served from the buffer, with records leased to this engine."""
    threads: list[str] = []

    class Watched(SqlLeads):
        def claim(
            self,
            campaign_id: int,
            n: int,
            now: dt.datetime,
            *,
            exclude_records: Collection[int] = (),
            exclude_phones: Collection[str] = (),
        ) -> list[Lead]:
            threads.append(threading.current_thread().name)
            return super().claim(
                campaign_id,
                n,
                now,
                exclude_records=exclude_records,
                exclude_phones=exclude_phones,
            )

    clock = Clock()
    ahead = ahead_of(Watched(db, engine_id="e1", lease_s=300), clock)
    assert ahead.claim(1, 2, START) == []
    assert not ahead.exhausted(1)  # records are on their way
    await ahead.settled()
    assert threads
    assert threading.main_thread().name not in threads
    assert ahead.buffered(1) >= 2
    got = ahead.claim(1, 2, START)
    assert len(got) == 2
    assert all(record(db, lead.record_id).lease_owner == lease_owner("e1") for lead in got)


async def test_records_of_live_calls_are_neither_claimed_nor_handed_out(db: sa.Engine) -> None:
    """A refill excludes the engine's calls up; a buffered record whose number is now on a
    call stays buffered for a later claim."""
    clock = Clock()
    ahead = ahead_of(SqlLeads(db, engine_id="e1", lease_s=300), clock)
    ahead.claim(1, 5, START, exclude_records={1}, exclude_phones={"+48500000002"})
    await ahead.settled()
    buffered = ahead.buffered(1)
    got = ahead.claim(1, 5, START, exclude_phones=["+48500000004"])
    ids = {lead.record_id for lead in got}
    assert 1 not in ids
    assert all(lead.phone not in {"+48500000002", "+48500000004"} for lead in got)
    assert ahead.buffered(1) == buffered - len(got)


async def test_old_and_forgotten_records_go_back(db: sa.Engine) -> None:
    """Buffered records older than max_age_s are given back, and so are those of a
    campaign the engine stops running, and all of them at close."""
    clock = Clock()
    leads = SqlLeads(db, engine_id="e1", lease_s=300)
    ahead = ahead_of(leads, clock)
    ahead.claim(1, 2, START)
    await ahead.settled()
    first = [r for r in range(1, 6) if record(db, r).lease_owner == lease_owner("e1")]
    assert first
    clock.t += ahead.max_age_s + 1
    ahead.expire()
    await ahead.settled()
    assert ahead.buffered(1) == 0
    assert all(record(db, r).lease_owner is None for r in first)

    ahead.claim(1, 2, START)
    await ahead.settled()
    assert ahead.buffered(1) > 0
    ahead.forget(1)
    await ahead.settled()
    assert ahead.buffered(1) == 0
    assert all(record(db, r).lease_owner is None for r in range(1, 6))

    ahead.claim(1, 2, START)
    await ahead.settled()
    await ahead.close()
    assert all(record(db, r).lease_owner is None for r in range(1, 6))


async def test_a_campaign_no_longer_held_gets_nothing(db: sa.Engine) -> None:
    """In a cluster, a campaign another engine took gets no buffered record: they go back."""
    clock = Clock()
    held = {1}
    ahead = ahead_of(SqlLeads(db, engine_id="e1", lease_s=300), clock, held=held)
    ahead.claim(1, 2, START)
    await ahead.settled()
    assert ahead.buffered(1) > 0
    held.clear()
    assert ahead.claim(1, 2, START) == []
    await ahead.settled()
    assert all(record(db, r).lease_owner is None for r in range(1, 6))


async def test_exhausted_only_when_a_refill_found_nothing(db: sa.Engine) -> None:
    """An empty buffer is not an exhausted list until a refill finds no record."""
    clock = Clock()
    ahead = ahead_of(SqlLeads(db, engine_id="e1", lease_s=300), clock)
    taken: list[Lead] = []
    for _ in range(10):
        taken += ahead.claim(1, 5, START)
        await ahead.settled()
        if ahead.exhausted(1):
            break
    assert ahead.exhausted(1)
    assert len({lead.record_id for lead in taken}) == len(taken) > 0


async def test_a_forgotten_campaigns_refill_goes_back_when_it_lands(db: sa.Engine) -> None:
    """Records a refill brings after the campaign was forgotten are given back."""
    clock = Clock()
    ahead = ahead_of(SqlLeads(db, engine_id="e1", lease_s=300), clock)
    ahead.claim(1, 3, START)
    ahead.forget(1)  # while the refill runs
    await ahead.settled()
    await asyncio.sleep(0)
    await ahead.settled()
    assert ahead.buffered(1) == 0
    assert all(record(db, r).lease_owner is None for r in range(1, 6))


async def test_records_not_given_back_in_an_outage_go_back_after_it(db: sa.Engine) -> None:
    """A give-back that fails (the database is away) is tried again: nothing claimed ahead
    stays leased after the outage (the fault test of an outage longer than the lease
    found 20 records still leased to a stopped engine)."""
    clock = Clock()
    down = [False]

    class Flaky(SqlLeads):
        def release(self, record_ids: Sequence[int]) -> None:
            if down[0]:
                raise sa.exc.OperationalError("release", {}, Exception("connection refused"))
            super().release(record_ids)

    ahead = ahead_of(Flaky(db, engine_id="e1", lease_s=300), clock)
    ahead.claim(1, 3, START)
    await ahead.settled()
    assert ahead.buffered(1) > 0
    down[0] = True
    clock.t += ahead.max_age_s + 1
    ahead.expire()
    await ahead.settled()
    assert any(record(db, r).lease_owner == lease_owner("e1") for r in range(1, 6))
    down[0] = False
    ahead.expire()
    await ahead.settled()
    assert all(record(db, r).lease_owner is None for r in range(1, 6))

    ahead.claim(1, 3, START)
    await ahead.settled()
    down[0] = True
    ahead.forget(1)
    await ahead.settled()
    down[0] = False
    await ahead.close()
    assert all(record(db, r).lease_owner is None for r in range(1, 6))
