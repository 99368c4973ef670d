"""In-memory implementations of the engine's interfaces (tests and quick simulations)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from campaigns.enums import Outcome
from dialer.engine import Call, Lead
from dialer.errors import DialerError


@dataclass
class MemoryRecord:
    """A record kept in memory with just what selection needs."""

    record_id: int
    campaign_id: int
    phone: str
    system_status: str = "TO_CALL"
    owner_agent_id: int | None = None
    due: dt.datetime | None = None
    attempts: int = 0
    leased: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


class MemoryLeads:
    """Record selection over a list, with the same priorities as the database store."""

    def __init__(self, records: Sequence[MemoryRecord], *, max_attempts: int = 5) -> None:
        self.records = {r.record_id: r for r in records}
        self.max_attempts = max_attempts
        self.claims: list[int] = []

    def _callable(self, rec: MemoryRecord, campaign_id: int, now: dt.datetime) -> bool:
        return (
            rec.campaign_id == campaign_id
            and not rec.leased
            and rec.attempts < self.max_attempts
            and rec.system_status != "DO_NOT_CALL"
            and (rec.due is None or rec.due <= now)
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
        """Up to ``n`` TO_CALL / NOT_BEFORE records that are due (never callbacks or
        progressive redials, which need a reserved agent), none excluded."""
        out: list[Lead] = []
        for rec in self.records.values():
            if len(out) >= n:
                break
            if (
                rec.system_status in {"TO_CALL", "NOT_BEFORE"}
                and self._callable(rec, campaign_id, now)
                and rec.record_id not in exclude_records
                and rec.phone not in exclude_phones
            ):
                out.append(self._lease(rec))
        return out

    def reserved_work(
        self, campaign_id: int, agent_ids: Sequence[int], now: dt.datetime
    ) -> tuple[set[int], int]:
        """Owners among ``agent_ids`` with a due callback; due progressive redials."""
        wanted = set(agent_ids)
        owners = {
            r.owner_agent_id
            for r in self.records.values()
            if r.system_status == "MY_RECORD"
            and r.owner_agent_id in wanted
            and self._callable(r, campaign_id, now)
        }
        progressive = sum(
            1
            for r in self.records.values()
            if r.system_status == "CALL_PROGRESSIVE" and self._callable(r, campaign_id, now)
        )
        return {o for o in owners if o is not None}, min(progressive, len(agent_ids))

    def claim_reserved(
        self,
        campaign_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead | None:
        """The agent's due callback, else a progressive redial, none excluded."""
        for status in ("MY_RECORD", "CALL_PROGRESSIVE"):
            for rec in self.records.values():
                if rec.system_status != status or not self._callable(rec, campaign_id, now):
                    continue
                if rec.record_id in exclude_records or rec.phone in exclude_phones:
                    continue
                if status == "MY_RECORD" and rec.owner_agent_id != agent_id:
                    continue
                return self._lease(rec)
        return None

    def release(self, record_ids: Sequence[int]) -> None:
        """Give records back."""
        for rid in record_ids:
            self.records[rid].leased = False


class StatusRefusedError(DialerError):
    """The in-memory journal refuses a status it does not know."""

    def __init__(self, status_id: int) -> None:
        super().__init__(f"status {status_id} is not offered by the campaign")


@dataclass
class MemoryJournal:
    """Keeps call-log rows in memory and applies outcomes to :class:`MemoryLeads`."""

    leads: MemoryLeads | None = None
    statuses: dict[int, str] = field(
        default_factory=lambda: {1: "TO_CALL", 2: "DO_NOT_CALL", 3: "MY_RECORD", 4: "NOT_BEFORE"}
    )
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)
    """(fact, call id) in the order they were journaled."""

    def dialed(self, call: Call) -> None:
        """Open the call's row."""
        self.rows[call.call_id] = {"record_id": call.lead.record_id, "dial_at": call.dial_at}

    def answered(self, call: Call) -> None:
        """Write the pick-up (and AMD's verdict) on the row."""
        self.facts.append(("answered", call.call_id))
        self.rows[call.call_id].update(
            answer_at=call.answer_at, person_at=call.person_at, amd=call.amd_status
        )

    def connected(self, call: Call) -> None:
        """Write the agent and the connect time on the row."""
        self.facts.append(("connected", call.call_id))
        self.rows[call.call_id].update(agent=call.agent_id, connect_at=call.connect_at)

    def dropped(self, call: Call) -> None:
        """Write the drop time on the row."""
        self.facts.append(("dropped", call.call_id))
        self.rows[call.call_id].update(drop_at=call.drop_at)

    def refused(self, call: Call, message: str) -> None:
        """Close the row as not placed; the record is released with its attempt given back."""
        self.facts.append(("refused", call.call_id))
        self.rows[call.call_id].update(
            outcome=Outcome.NOT_PLACED.value, end_at=call.end_at, cause_txt=message
        )
        self._give_back(call)

    def finished(self, call: Call) -> None:
        """Close the row and apply a telephony outcome to the record."""
        self.facts.append(("finished", call.call_id))
        row = self.rows[call.call_id]
        row.update(
            outcome=call.outcome.value if call.outcome else None,
            agent=call.agent_id,
            answer_at=call.answer_at,
            connect_at=call.connect_at,
            end_at=call.end_at,
        )
        if call.outcome is Outcome.CANCELLED:
            self._give_back(call)
            return
        if self.leads is None:
            return
        rec = self.leads.records[call.lead.record_id]
        rec.leased = False
        if call.outcome is Outcome.DROPPED:
            rec.system_status = "CALL_PROGRESSIVE"

    def _give_back(self, call: Call) -> None:
        """No attempt was used: release the record and give its attempt back."""
        if self.leads is None:
            return
        rec = self.leads.records[call.lead.record_id]
        rec.leased = False
        rec.attempts = max(0, rec.attempts - 1)

    def status_set(
        self, call: Call, agent_id: int, status_id: int, date: dt.datetime | None, note: str
    ) -> None:
        """Record the agent's status (MY_RECORD makes the agent the owner)."""
        if status_id not in self.statuses:
            raise StatusRefusedError(status_id)
        self.rows[call.call_id].update(status=status_id, note=note, status_agent=agent_id)
        if self.leads is not None:
            rec = self.leads.records[call.lead.record_id]
            rec.system_status = self.statuses[status_id]
            rec.due = date
            rec.owner_agent_id = agent_id if rec.system_status == "MY_RECORD" else None

    def default_status(self, call: Call) -> None:
        """Mark the row as closed by the wrap-up timeout."""
        self.rows[call.call_id]["status"] = "default"
