"""Records claimed ahead, on a worker thread: the tick takes them without a database trip.

A claim is a transaction of 2-4 statements (the lease fence, the rarer tiers' look, the
``UPDATE … FOR UPDATE SKIP LOCKED``). Made on the event loop, it stopped everything else
while PostgreSQL answered: answered people waited for their agent, AMI replies and Pongs
were not read (a few hundred ms per claim on a busy database, seconds under load).

:class:`ClaimAhead` keeps a short buffer of leased records per campaign, filled by claims
on a worker thread (one at a time per campaign) sized to the campaign's recent demand.
:meth:`ClaimAhead.claim` hands records out of it at once and asks for a refill. Records
wait in the buffer at most ``max_age_s``: older ones go back (the claim's checks of the
calling window, DNC and due time are that fresh), as does every buffered record of a
campaign the engine stops running (:meth:`forget`) and all of them at stop
(:meth:`close`). Records given out are the engine's calls, with their leases renewed as
any call's. A crash leaves buffered records leased to this start: the next start gives
them back (:meth:`dialer.runtime.store.SqlLeads.earlier_leases`), or their leases run out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
import structlog

from dialer.engine import Lead
from dialer.runtime.store import SqlLeads

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Buffer:
    """One campaign's records claimed ahead, and what it asked for lately."""

    leads: deque[tuple[Lead, float]] = field(default_factory=deque)
    #: (time, records asked) of the last ``demand_window_s``
    asks: deque[tuple[float, int]] = field(default_factory=deque)
    refilling: bool = False
    #: the last refill found no record to claim (the list is exhausted for now)
    found_none: bool = False
    generation: int = 0


class ClaimAhead:
    """The engine's record source: :class:`SqlLeads` with claims made ahead off the loop.

    A refill excludes what the claim that asked for it excluded (the engine's calls up)
    and the records buffered; ``utcnow`` is the engine's wall clock; ``held`` whether this engine
    still owns a campaign (a cluster; None: always). Call :meth:`start` on the event loop
    before the first claim.
    """

    def __init__(
        self,
        leads: SqlLeads,
        *,
        utcnow: Callable[[], dt.datetime],
        held: Callable[[int], bool] | None = None,
        lookahead_s: float = 3.0,
        max_age_s: float = 3.0,
        demand_window_s: float = 6.0,
        max_batch: int = 500,
        perf: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.leads = leads
        self._utcnow = utcnow
        self._held = held
        self.lookahead_s = lookahead_s
        self.max_age_s = max_age_s
        self.demand_window_s = demand_window_s
        self.max_batch = max_batch
        self._perf = perf
        self._buffers: dict[int, _Buffer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        #: Records whose give-back failed (the database was away): tried again.
        self._unreleased: list[int] = []

    def start(self) -> None:
        """Bind to the running event loop (refills are its tasks)."""
        self._loop = asyncio.get_running_loop()

    # ---- the engine's LeadSource ------------------------------------------------------

    def claim(
        self,
        campaign_id: int,
        n: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> list[Lead]:
        """Up to ``n`` records from the campaign's buffer, none of ``exclude_records`` nor
        with a number in ``exclude_phones`` (those stay for a later claim); asks for a
        refill. Fewer than ``n`` (none at first) while the refill is under way."""
        del now  # the records were claimed at most max_age_s ago
        buf = self._buffers.setdefault(campaign_id, _Buffer())
        t = self._perf()
        buf.asks.append((t, n))
        self._expire(campaign_id, buf, t)
        if self._held is not None and not self._held(campaign_id):
            self.forget(campaign_id)
            return []
        out: list[Lead] = []
        kept: deque[tuple[Lead, float]] = deque()
        while buf.leads and len(out) < n:
            lead, at = buf.leads.popleft()
            if lead.record_id in exclude_records or lead.phone in exclude_phones:
                kept.append((lead, at))
            else:
                out.append(lead)
        kept.extend(buf.leads)
        buf.leads = kept
        self._refill(campaign_id, buf, exclude_records, exclude_phones)
        return out

    def exhausted(self, campaign_id: int) -> bool:
        """True when nothing is buffered and the last refill found no record."""
        buf = self._buffers.get(campaign_id)
        return buf is None or (not buf.leads and buf.found_none and not buf.refilling)

    def reserved_work(
        self, campaign_id: int, agent_ids: Sequence[int], now: dt.datetime
    ) -> tuple[set[int], int]:
        """See :meth:`SqlLeads.reserved_work` (made at once: it is a rare, cheap look)."""
        return self.leads.reserved_work(campaign_id, agent_ids, now)

    def claim_reserved(
        self,
        campaign_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead | None:
        """See :meth:`SqlLeads.claim_reserved` (made at once: an agent waits for it)."""
        records = set(exclude_records) | self._buffered_records()
        return self.leads.claim_reserved(
            campaign_id,
            agent_id,
            now,
            exclude_records=records,
            exclude_phones=exclude_phones,
        )

    def release(self, record_ids: Sequence[int]) -> None:
        """Give back records claimed and not dialed."""
        self.leads.release(record_ids)

    # ---- buffers ----------------------------------------------------------------------

    def buffered(self, campaign_id: int) -> int:
        """How many records the campaign has claimed ahead now."""
        buf = self._buffers.get(campaign_id)
        return 0 if buf is None else len(buf.leads)

    def forget(self, campaign_id: int) -> None:
        """The engine no longer runs the campaign: give its buffered records back, and
        those of a refill under way when it ends."""
        buf = self._buffers.pop(campaign_id, None)
        if buf is None:
            return
        buf.generation += 1
        self._give_back([lead.record_id for lead, _ in buf.leads])

    def expire(self) -> None:
        """Give back every buffered record older than ``max_age_s`` (run it every tick:
        a campaign that stopped asking keeps nothing leased for long)."""
        t = self._perf()
        for campaign_id, buf in list(self._buffers.items()):
            self._expire(campaign_id, buf, t)
        if self._unreleased and not self._tasks:
            again, self._unreleased = self._unreleased, []
            self._give_back(again)

    async def settled(self) -> None:
        """Wait until no refill or give-back is under way."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Wait for the refills under way, then give every buffered record back."""
        self._closed = True
        await self.settled()
        records = [lead.record_id for buf in self._buffers.values() for lead, _ in buf.leads]
        records += self._unreleased
        self._buffers.clear()
        self._unreleased = []
        if records:
            try:
                await asyncio.to_thread(self.leads.release, records)
            except sa.exc.SQLAlchemyError as exc:
                # their leases run out (lease_s), or the next start gives them back
                log.warning("claimed_ahead_not_released", records=len(records), error=str(exc))

    def _expire(self, campaign_id: int, buf: _Buffer, t: float) -> None:
        while buf.asks and t - buf.asks[0][0] > self.demand_window_s:
            buf.asks.popleft()
        stale = [lead.record_id for lead, at in buf.leads if t - at > self.max_age_s]
        if stale:
            buf.leads = deque((lead, at) for lead, at in buf.leads if t - at <= self.max_age_s)
            self._give_back(stale)
        if not buf.leads and not buf.asks and not buf.refilling:
            self._buffers.pop(campaign_id, None)

    def _target(self, buf: _Buffer) -> int:
        """Records to hold: the demand of the last seconds over ``lookahead_s``, and at
        least the last ask (a tick's whole want)."""
        if not buf.asks:
            return 0
        span = max(1.0, min(self.demand_window_s, self._perf() - buf.asks[0][0]))
        rate = sum(n for _, n in buf.asks) / span
        return min(self.max_batch, max(buf.asks[-1][1], math.ceil(rate * self.lookahead_s)))

    def _refill(
        self,
        campaign_id: int,
        buf: _Buffer,
        exclude_records: Collection[int],
        exclude_phones: Collection[str],
    ) -> None:
        if buf.refilling or self._closed or self._loop is None:
            return
        want = self._target(buf) - len(buf.leads)
        if want <= 0:
            return
        records = set(exclude_records) | self._buffered_records()
        phones = set(exclude_phones)
        phones |= {lead.phone for b in self._buffers.values() for lead, _ in b.leads}
        buf.refilling = True
        task = self._loop.create_task(
            self._fill(campaign_id, buf, want, records, phones), name=f"claim-ahead-{campaign_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill(
        self, campaign_id: int, buf: _Buffer, want: int, records: set[int], phones: set[str]
    ) -> None:
        generation = buf.generation
        try:
            got = await asyncio.to_thread(
                self.leads.claim,
                campaign_id,
                want,
                self._utcnow(),
                exclude_records=records,
                exclude_phones=phones,
            )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("claim_ahead_failed", campaign=campaign_id, error=str(exc).splitlines()[0])
            got = []
        finally:
            buf.refilling = False
        current = self._buffers.get(campaign_id)
        if current is not buf or buf.generation != generation or self._closed:
            self._give_back([lead.record_id for lead in got])  # forgotten meanwhile
            return
        t = self._perf()
        buf.leads.extend((lead, t) for lead in got)
        buf.found_none = not got
        if got and len(got) == want:
            self._refill(campaign_id, buf, records, phones)  # demand may have grown

    def _buffered_records(self) -> set[int]:
        return {lead.record_id for b in self._buffers.values() for lead, _ in b.leads}

    def _give_back(self, records: list[int]) -> None:
        if not records:
            return
        if self._closed:
            self._unreleased.extend(records)  # close() gives them back with the rest
            return
        if self._loop is None:
            self.leads.release(records)
            return

        async def release() -> None:
            try:
                await asyncio.to_thread(self.leads.release, records)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("claimed_ahead_release_failed", records=len(records), error=str(exc))
                self._unreleased.extend(records)  # tried again by expire() and close()

        task = self._loop.create_task(release(), name="claim-ahead-release")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
