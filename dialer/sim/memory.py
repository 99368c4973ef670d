"""In-memory implementations of the engine's interfaces (tests and quick simulations).

They run the real rules, never a copy: which record may be dialed and in what order is
:func:`campaigns.selection.claim_rank` (the §5 rules of the status engine, then the claim's
tiers); what an outcome or an agent's status does to a record is
:func:`campaigns.status_engine.apply_outcome` / ``apply_agent_status``, as in the database
store. A status the campaign does not offer, or one its rules refuse (a callback without
a date, …), is refused at once, as :class:`dialer.runtime.store.BackgroundJournal` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from campaigns.enums import Outcome, SystemStatus
from campaigns.selection import Tier, claim_rank
from campaigns.status_engine import (
    AutoTable,
    CampaignRules,
    RecordState,
    StatusOption,
    apply_agent_status,
    apply_outcome,
)
from dialer.engine import Call, Lead
from dialer.engine.clock import Clock
from dialer.errors import DialerError

#: Lease end of a record in flight (the fake has no lease time: a call holds it till the end).
_HELD = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass
class MemoryRecord:
    """A record kept in memory with what selection and the status engine need."""

    record_id: int
    campaign_id: int
    phone: str
    system_status: str = "TO_CALL"
    owner_agent_id: int | None = None
    due: dt.datetime | None = None
    attempts: int = 0
    leased: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    status_id: int | None = None
    last_outcome: Outcome | None = None
    last_call_at: dt.datetime | None = None

    def state(self) -> RecordState:
        """The status engine's view of this record."""
        return RecordState(
            system_status=SystemStatus(self.system_status),
            status_id=self.status_id,
            attempts=self.attempts,
            next_call_at=self.due,
            owner_agent_id=self.owner_agent_id,
            last_outcome=self.last_outcome,
            last_call_at=self.last_call_at,
            lease_expires_at=_HELD if self.leased else None,
        )

    def take(self, state: RecordState) -> None:
        """Store the status engine's new state (the lease ends with it)."""
        self.system_status = state.system_status.value
        self.status_id = state.status_id
        self.attempts = state.attempts
        self.due = state.next_call_at
        self.owner_agent_id = state.owner_agent_id
        self.last_outcome = state.last_outcome
        self.last_call_at = state.last_call_at
        self.leased = False


class MemoryLeads:
    """Record selection over a list, by the database store's rules and priorities."""

    def __init__(
        self,
        records: Sequence[MemoryRecord],
        *,
        max_attempts: int = 5,
        rules: CampaignRules | None = None,
        dnc: Collection[str] = (),
    ) -> None:
        self.records = {r.record_id: r for r in records}
        self.rules = rules or CampaignRules(max_attempts=max_attempts)
        self.max_attempts = self.rules.max_attempts
        self.dnc = set(dnc)
        self.claims: list[int] = []

    def _rank(
        self,
        rec: MemoryRecord,
        campaign_id: int,
        now: dt.datetime,
        agent_id: int | None = None,
    ) -> tuple[Tier, int, tuple[Any, ...]] | None:
        if rec.campaign_id != campaign_id:
            return None
        return claim_rank(
            rec.state(), now, self.rules, agent_id=agent_id, dnc=rec.phone in self.dnc
        )

    def _lease(self, rec: MemoryRecord) -> Lead:
        rec.leased = True
        rec.attempts += 1
        self.claims.append(rec.record_id)
        return Lead(
            record_id=rec.record_id,
            campaign_id=rec.campaign_id,
            phone=rec.phone,
            fields=dict(rec.fields),
            system_status=rec.system_status,
            owner_agent_id=rec.owner_agent_id,
            attempt=rec.attempts,
        )

    def claim(
        self,
        campaign_id: int,
        n: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> list[Lead]:
        """Up to ``n`` records any agent may take (due NOT_BEFORE, released callbacks,
        retries, fresh), best first; never the excluded records or numbers."""
        ranked = []
        for rec in self.records.values():
            if rec.record_id in exclude_records or rec.phone in exclude_phones:
                continue
            rank = self._rank(rec, campaign_id, now)
            if rank is not None:
                _tier, query, key = rank
                ranked.append(((query, key, rec.record_id), rec))
        ranked.sort(key=lambda item: item[0])
        return [self._lease(rec) for _, rec in ranked[: max(0, n)]]

    def reserved_work(
        self, campaign_id: int, agent_ids: Sequence[int], now: dt.datetime
    ) -> tuple[set[int], int]:
        """Owners among ``agent_ids`` with a due callback; due progressive redials."""
        owners = {
            agent
            for agent in agent_ids
            for r in self.records.values()
            if r.owner_agent_id == agent
            and (rank := self._rank(r, campaign_id, now, agent)) is not None
            and rank[0] is Tier.MY_RECORD
        }
        progressive = sum(
            1
            for r in self.records.values()
            if r.system_status == SystemStatus.CALL_PROGRESSIVE.value
            and (rank := self._rank(r, campaign_id, now, -1)) is not None
            and rank[0] is Tier.PROGRESSIVE
        )
        return owners, min(progressive, len(agent_ids))

    def claim_reserved(
        self,
        campaign_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead | None:
        """The agent's due callback, else a progressive redial."""
        best: tuple[tuple[Any, ...], MemoryRecord] | None = None
        for rec in self.records.values():
            if rec.record_id in exclude_records or rec.phone in exclude_phones:
                continue
            rank = self._rank(rec, campaign_id, now, agent_id)
            if rank is None or rank[0] not in {Tier.MY_RECORD, Tier.PROGRESSIVE}:
                continue
            key = (rank[1], rank[2], rec.record_id)
            if best is None or key < best[0]:
                best = (key, rec)
        return None if best is None else self._lease(best[1])

    def release(self, record_ids: Sequence[int]) -> None:
        """Give records back (the attempt counted at claim time stays, as in the store)."""
        for rid in record_ids:
            self.records[rid].leased = False

    def exhausted(self, campaign_id: int) -> bool:
        """A claim that gave nothing found nothing: always True."""
        del campaign_id
        return True


class StatusRefusedError(DialerError):
    """The in-memory journal refuses a status the campaign does not offer."""

    error_id = "status_refused"

    def __init__(self, status_id: int) -> None:
        super().__init__(f"status_id: status {status_id} is not offered by the campaign")


@dataclass
class MemoryJournal:
    """Keeps call-log rows in memory and runs outcomes and statuses through the status
    engine onto :class:`MemoryLeads` records (an agent's status is checked at once and
    applied when the call has ended, as the database journal does)."""

    leads: MemoryLeads | None = None
    statuses: dict[int, str] = field(
        default_factory=lambda: {1: "TO_CALL", 2: "DO_NOT_CALL", 3: "MY_RECORD", 4: "NOT_BEFORE"}
    )
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: Clock | None = None
    """Where a status's "now" is read (else the call's latest time)."""
    facts: list[tuple[str, str]] = field(default_factory=list)
    """(fact, call id) in the order they were journaled."""
    _pending: dict[str, tuple[StatusOption, int, dt.datetime | None]] = field(default_factory=dict)

    @property
    def rules(self) -> CampaignRules:
        """The rules the records are kept by, offering the statuses of :attr:`statuses`."""
        base = self.leads.rules if self.leads is not None else CampaignRules()
        return replace(base, statuses=tuple(self._option(i) for i in sorted(self.statuses)))

    def _option(self, status_id: int) -> StatusOption:
        if status_id not in self.statuses:
            raise StatusRefusedError(status_id)
        system = SystemStatus(self.statuses[status_id])
        return StatusOption(id=status_id, name=f"status {status_id}", system_status=system)

    def _now(self, call: Call) -> dt.datetime:
        """The time a status is checked at: the clock's, else the call's latest time."""
        if self.clock is not None:
            return self.clock.utcnow()
        return call.end_at or call.connect_at or call.answer_at or call.dial_at

    def _record(self, call: Call) -> MemoryRecord | None:
        return None if self.leads is None else self.leads.records[call.lead.record_id]

    def dialed(self, call: Call) -> None:
        """Open the call's row."""
        self.rows[call.call_id] = {"record_id": call.lead.record_id, "dial_at": call.dial_at}

    def answered(self, call: Call) -> None:
        """Write the pick-up."""
        self.facts.append(("answered", call.call_id))
        self.rows[call.call_id].update(answer_at=call.answer_at)

    def connected(self, call: Call) -> None:
        """Write the connection to the agent."""
        self.facts.append(("connected", call.call_id))
        self.rows[call.call_id].update(
            answer_at=call.answer_at, connect_at=call.connect_at, agent=call.agent_id
        )

    def dropped(self, call: Call) -> None:
        """Write the drop."""
        self.facts.append(("dropped", call.call_id))
        self.rows[call.call_id].update(answer_at=call.answer_at, drop_at=call.drop_at)

    def refused(self, call: Call, message: str) -> None:
        """No call was placed: close the row ``not_placed``, give the attempt back."""
        self.facts.append(("refused", call.call_id))
        self.rows[call.call_id].update(outcome=Outcome.NOT_PLACED.value, message=message)
        rec = self._record(call)
        if rec is not None:
            now = call.end_at or call.dial_at
            rec.take(apply_outcome(rec.state(), Outcome.NOT_PLACED, now, self.rules, AutoTable()))

    def finished(self, call: Call) -> None:
        """Close the row; the outcome goes through the status engine, an answered call
        waits for its agent's status (applied now if it was given during the call)."""
        self.facts.append(("finished", call.call_id))
        row = self.rows[call.call_id]
        outcome = call.outcome or Outcome.FAILED
        row.update(
            outcome=outcome.value,
            agent=call.agent_id,
            answer_at=call.answer_at,
            connect_at=call.connect_at,
            drop_at=call.drop_at,
            end_at=call.end_at,
            ended=True,
        )
        rec = self._record(call)
        if rec is None:
            return
        now = call.end_at or call.dial_at
        if outcome is not Outcome.ANSWERED:
            rec.take(apply_outcome(rec.state(), outcome, now, self.rules, AutoTable()))
            return
        # Answered: the record stays leased until its agent's status (or the wrap-up
        # timeout's default) is written, as in the database store.
        pending = self._pending.pop(call.call_id, None)
        if pending is not None:
            option, agent_id, date = pending
            rec.take(apply_agent_status(rec.state(), option, now, self.rules, agent_id=agent_id,
                                        date=date))  # fmt: skip

    def status_set(
        self, call: Call, agent_id: int, status_id: int, date: dt.datetime | None, note: str
    ) -> None:
        """Check the agent's status by the campaign's rules now (StatusRefusedError,
        StatusRuleError); apply it to the record once the call has ended."""
        option = self._option(status_id)
        rec = self._record(call)
        if rec is not None:
            apply_agent_status(
                rec.state(), option, self._now(call), self.rules, agent_id=agent_id, date=date
            )
        self.rows[call.call_id].update(status=status_id, note=note, status_agent=agent_id)
        if rec is None:
            return
        if self.rows[call.call_id].get("ended"):
            rec.take(
                apply_agent_status(
                    rec.state(), option, self._now(call), self.rules, agent_id=agent_id, date=date
                )
            )
        else:
            self._pending[call.call_id] = (option, agent_id, date)

    def default_status(self, call: Call) -> None:
        """Wrap-up timed out: the answered outcome holds the record back (as the store does
        for a campaign without a default status) and ends its lease."""
        self.rows[call.call_id]["status"] = "default"
        rec = self._record(call)
        if rec is not None and rec.leased:
            now = call.end_at or self._now(call)
            rec.take(apply_outcome(rec.state(), Outcome.ANSWERED, now, self.rules, AutoTable()))
