"""The engine's storage adapters: records to dial and the call journal, on the database.

:class:`SqlLeads` leases records through :mod:`campaigns.selection`; :class:`SqlJournal`
writes one call-log row per attempt and runs every outcome through the status engine via
:mod:`campaigns.dispositions`. A record's lease is held from the claim until its outcome
or its agent's status is written, so a record is never dialed again while its previous
call may still be live; :meth:`SqlLeads.renew` keeps the leases of long calls alive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from campaigns import selection
from campaigns.dispositions import (
    CallDetails,
    load_rules,
    record_outcome,
    set_agent_status,
    state_of,
)
from campaigns.enums import Outcome
from campaigns.models import CallLog, Record
from campaigns.status_engine import StatusError, apply_agent_status
from dialer.clock import Clock
from dialer.engine import Call, Lead

_CALL_LOG = CallLog.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]


def _lead(item: selection.ClaimedRecord) -> Lead:
    return Lead(
        record_id=item.id,
        campaign_id=item.campaign_id,
        phone=item.phone,
        name=item.name,
        fields=dict(item.fields),
        system_status=item.system_status.value,
        owner_agent_id=item.owner_agent_id,
        attempt=item.attempts,
    )


class SqlLeads:
    """Records to dial, leased from the database for this engine."""

    def __init__(self, db: sa.Engine, *, engine_id: str, lease_s: float) -> None:
        self.db = db
        self.engine_id = engine_id
        self.lease_s = lease_s

    def claim(self, campaign_id: int, n: int, now: dt.datetime) -> list[Lead]:
        """Up to ``n`` records any agent may take."""
        got = selection.claim(
            self.db, campaign_id, n, now, engine_id=self.engine_id, lease_s=self.lease_s
        )
        return [_lead(item) for item in got]

    def claim_reserved(self, campaign_id: int, agent_id: int, now: dt.datetime) -> Lead | None:
        """The agent's due callback, else a progressive redial, else ``None``."""
        got = selection.claim(
            self.db,
            campaign_id,
            1,
            now,
            engine_id=self.engine_id,
            lease_s=self.lease_s,
            agent_id=agent_id,
            reserved_only=True,
        )
        return _lead(got[0]) if got else None

    def release(self, record_ids: Sequence[int]) -> None:
        """Give back records claimed and not dialed."""
        selection.release(self.db, record_ids, engine_id=self.engine_id)

    def renew(self, record_ids: Sequence[int], now: dt.datetime) -> list[int]:
        """Extend this engine's leases on records whose calls are still going on."""
        return selection.renew(
            self.db, record_ids, now, engine_id=self.engine_id, lease_s=self.lease_s
        )


@dataclass(frozen=True, slots=True)
class _PendingStatus:
    agent_id: int
    status_id: int
    date: dt.datetime | None
    note: str


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _details(call: Call) -> CallDetails:
    answered_or_end = call.answer_at or call.end_at
    return CallDetails(
        dial_at=call.dial_at,
        answer_at=call.answer_at,
        connect_at=call.connect_at,
        end_at=call.end_at,
        ring_s=_seconds(call.dial_at, answered_or_end),
        wait_s=_seconds(call.person_at, call.connect_at or call.end_at) if call.person_at else None,
        talk_s=_seconds(call.connect_at, call.end_at),
        agent_id=call.agent_id,
        hangup_cause=call.cause,
        hangup_cause_txt=call.cause_txt or None,
        amd_result=call.amd_status,
        amd_cause=call.amd_cause,
        server=call.server or None,
        channel_id=call.call_id,
    )


class SqlJournal:
    """Call log and status engine on the database, for one engine."""

    def __init__(self, db: sa.Engine, *, engine_id: str, clock: Clock) -> None:
        self.db = db
        self.engine_id = engine_id
        self.clock = clock
        self._log_ids: dict[str, int] = {}
        self._pending: dict[str, _PendingStatus] = {}
        self._ended: set[str] = set()

    def dialed(self, call: Call) -> None:
        """Open the attempt's call-log row."""
        with self.db.begin() as conn:
            result = conn.execute(
                sa.insert(_CALL_LOG).values(
                    campaign_id=call.campaign_id,
                    record_id=call.lead.record_id,
                    phone=call.lead.phone,
                    attempt=call.lead.attempt,
                    dial_at=call.dial_at,
                    channel_id=call.call_id,
                    note="",
                )
            )
            self._log_ids[call.call_id] = int(result.inserted_primary_key[0])  # type: ignore[index]

    def finished(self, call: Call) -> None:
        """Close the row. A call nobody talked to gets its outcome through the status
        engine now; an answered one waits for its agent's status (unless given already)."""
        log_id = self._log_ids.get(call.call_id)
        now = call.end_at or self.clock.utcnow()
        outcome = call.outcome or Outcome.FAILED
        if outcome is not Outcome.ANSWERED:
            record_outcome(
                self.db,
                call.lead.record_id,
                outcome,
                now=now,
                call=_details(call),
                call_log_id=log_id,
                lease_owner=self.engine_id,
            )
            self._forget(call.call_id)
            return
        with self.db.begin() as conn:
            values = {"outcome": outcome.value, **_details(call).values()}
            conn.execute(sa.update(_CALL_LOG).where(_CALL_LOG.c.id == log_id).values(**values))
        pending = self._pending.pop(call.call_id, None)
        if pending is not None:
            self._apply_status(call, pending, now)
        else:
            self._ended.add(call.call_id)

    def status_set(
        self,
        call: Call,
        agent_id: int,
        status_id: int,
        date: dt.datetime | None,
        note: str,
    ) -> None:
        """Validate the agent's status; write it now, or when the call ends if it is up.

        Raises StatusError (or RecordNotFoundError) naming what is wrong; nothing changes.
        """
        pending = _PendingStatus(agent_id, status_id, date, note)
        now = self.clock.utcnow()
        if call.call_id in self._ended or call.end_at is not None:
            self._apply_status(call, pending, now)
            return
        self._check(call, pending, now)
        self._pending[call.call_id] = pending

    def default_status(self, call: Call) -> None:
        """Wrap-up timed out: the campaign's default status, else the answered-call rule."""
        with self.db.connect() as conn:
            default_id = conn.execute(
                sa.text("SELECT wrapup_default_status_id FROM campaign WHERE id = :id"),
                {"id": call.campaign_id},
            ).scalar()
        now = call.end_at or self.clock.utcnow()
        if default_id is not None and call.agent_id is not None:
            try:
                self._apply_status(
                    call,
                    _PendingStatus(call.agent_id, int(default_id), None, "wrap-up timeout"),
                    now,
                )
            except StatusError:
                pass
            else:
                return
        record_outcome(
            self.db,
            call.lead.record_id,
            Outcome.ANSWERED,
            now=now,
            call=_details(call),
            call_log_id=self._log_ids.get(call.call_id),
            lease_owner=self.engine_id,
        )
        self._forget(call.call_id)

    def _check(self, call: Call, pending: _PendingStatus, now: dt.datetime) -> None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(_RECORD).where(_RECORD.c.id == call.lead.record_id)).one()
            rules, _auto = load_rules(conn, call.campaign_id)
        option = rules.offered(pending.status_id)
        if option is None:
            names = ", ".join(f"{o.name!r} (id {o.id})" for o in rules.statuses) or "none"
            raise StatusError(
                "status_id",
                f"status {pending.status_id} is not offered by this campaign",
                f"choose one of: {names}",
            )
        apply_agent_status(
            state_of(row), option, now, rules, agent_id=pending.agent_id, date=pending.date
        )

    def _apply_status(self, call: Call, pending: _PendingStatus, now: dt.datetime) -> None:
        set_agent_status(
            self.db,
            call.lead.record_id,
            pending.status_id,
            agent_id=pending.agent_id,
            now=now,
            date=pending.date,
            note=pending.note,
            call_log_id=self._log_ids.get(call.call_id),
            lease_owner=self.engine_id,
            extra_audit={"call_id": call.call_id},
        )
        self._forget(call.call_id)

    def _forget(self, call_id: str) -> None:
        self._log_ids.pop(call_id, None)
        self._ended.discard(call_id)
        self._pending.pop(call_id, None)
