"""The missed-call worklist (seed 002): inbound callers who gave up, to be called back.

One *open* row per caller (E.164) and queue: a repeat miss updates ``last_missed_at`` and
``miss_count``. Every row keeps its history (``missed_call_event``): each missed call,
each callback attempt with its outcome and agent, each note and each manual action. Rows
leave the list by themselves (``closed``, by ``system``) when the caller gets through an
inbound queue, when a callback reaches them, or when the retention period passes; a person
may hide, restore and delete rows (each in the audit log with who and when).

A queue may be attached to a *callback campaign*: every new miss in that queue becomes
(or re-arms) a record of that campaign, ``CALL_PROGRESSIVE`` by default (dialed only with
an agent reserved: nobody is ever dropped), due from its first miss so that record
selection takes the oldest miss first; the campaign's hours, the called person's window
and the DNC lists are record selection's rules, unchanged. An agent's "call back" makes
the record ``MY_RECORD`` of that agent, due now: the engine reserves the agent, then dials.

Facts are written when they happen (a miss, an answer, an attempt); the functions take the
time (``at``/``now``) from the caller. A fact seen twice (the same inbound call reported by
two engines, or again after a reconnect) is recorded once, keyed by its ``call_ref``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaigns.enums import SystemStatus
from campaigns.errors import CampaignError, CampaignNotFoundError
from campaigns.models import AuditLog, Campaign, Record, UTCDateTime, utcnow
from campaigns.phones import PhoneNormalizer, PhoneReason

SYSTEM = "system"


class RowState(StrEnum):
    """Where a worklist row stands."""

    OPEN = "open"
    HIDDEN = "hidden"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """Why a row left the list."""

    ANSWERED_INBOUND = "answered_inbound"
    CALLBACK_REACHED = "callback_reached"
    RETENTION = "retention"
    DELETED = "deleted"


class EventKind(StrEnum):
    """What a history entry records."""

    MISSED = "missed"
    ANSWERED = "answered"
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK = "callback"
    NOTE = "note"
    HIDDEN = "hidden"
    RESTORED = "restored"
    DELETED = "deleted"
    CLOSED = "closed"


_OPEN_SQL = "state <> 'closed'"


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


class MissedCall(SQLModel, table=True):
    """A worklist row: one caller and queue, with what happened so far."""

    __tablename__: ClassVar[str] = "missed_call"
    __table_args__ = (
        # one open (or hidden) row per caller and queue; closed rows are history
        sa.Index(
            "uq_missed_call_open",
            "phone",
            "queue",
            unique=True,
            sqlite_where=sa.text(_OPEN_SQL),
            postgresql_where=sa.text(_OPEN_SQL),
        ),
        sa.Index("ix_missed_call_state_last", "state", "last_missed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20)
    queue: str = Field(max_length=64)
    tz: str = Field(default="UTC", max_length=1024)
    state: str = Field(default=RowState.OPEN.value, max_length=8)
    miss_count: int = 0
    first_missed_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_missed_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_reason: str = Field(default="", max_length=32)
    callback_attempts: int = 0
    first_callback_at: dt.datetime | None = _ts()
    last_callback_at: dt.datetime | None = _ts()
    last_outcome: str | None = Field(default=None, max_length=32)
    last_agent: str | None = Field(default=None, max_length=64)
    #: The callback campaign's record that dials this caller (None: not attached).
    record_id: int | None = Field(default=None, foreign_key="record.id")
    hidden_at: dt.datetime | None = _ts()
    hidden_by: str | None = Field(default=None, max_length=64)
    closed_at: dt.datetime | None = _ts(index=True)
    closed_by: str | None = Field(default=None, max_length=64)
    closed_reason: str | None = Field(default=None, max_length=32)
    #: Whether the e-mail notification of this row's latest miss went out.
    notified: bool = True


class MissedCallEvent(SQLModel, table=True):
    """One line of a row's history."""

    __tablename__: ClassVar[str] = "missed_call_event"

    id: int | None = Field(default=None, primary_key=True)
    missed_call_id: int = Field(foreign_key="missed_call.id", index=True)
    at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    kind: str = Field(max_length=24)
    outcome: str | None = Field(default=None, max_length=32)
    agent: str | None = Field(default=None, max_length=64)
    actor: str = Field(default=SYSTEM, max_length=64)
    #: The fact's identity (server + Uniqueid, or call id): the same fact is kept once.
    call_ref: str | None = Field(default=None, max_length=160, unique=True)
    detail: str = Field(default="", max_length=2000)


class InboundQueue(SQLModel, table=True):
    """A queue attached to a callback campaign that feeds on its misses."""

    __tablename__: ClassVar[str] = "inbound_queue"

    queue: str = Field(primary_key=True, max_length=64)
    campaign_id: int = Field(foreign_key="campaign.id")
    #: CALL_PROGRESSIVE (default: an agent reserved first) or TO_CALL (any pacing).
    mode: str = Field(default=SystemStatus.CALL_PROGRESSIVE.value, max_length=20)
    attached_by: str = Field(default=SYSTEM, max_length=64)
    attached_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


_ROW = MissedCall.__table__  # type: ignore[attr-defined]
_EV = MissedCallEvent.__table__  # type: ignore[attr-defined]
_QUEUE = InboundQueue.__table__  # type: ignore[attr-defined]
_REC = Record.__table__  # type: ignore[attr-defined]
_CAMP = Campaign.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]

MODES = (SystemStatus.CALL_PROGRESSIVE.value, SystemStatus.TO_CALL.value)


# ---- errors ------------------------------------------------------------------------------


class WorklistError(CampaignError):
    """Root of the worklist's errors."""

    error_id = "worklist_error"


class RowNotFoundError(WorklistError):
    """No worklist row has this id."""

    error_id = "worklist_row_not_found"

    def __init__(self, row_id: int) -> None:
        self.row_id = row_id
        super().__init__(f"id: worklist row {row_id} does not exist")


class RowStateError(WorklistError):
    """The action does not fit the row's state (e.g. restoring a row that is not hidden)."""

    error_id = "worklist_row_state"

    def __init__(self, row_id: int, state: str, action: str) -> None:
        self.row_id = row_id
        super().__init__(f"state: worklist row {row_id} is {state}; cannot {action} it")


class UnknownQueueError(WorklistError):
    """A queue name that no configured server follows."""

    error_id = "unknown_queue"

    def __init__(self, queue: str, known: Iterable[str]) -> None:
        self.queue = queue
        names = ", ".join(repr(q) for q in sorted(known)) or "none configured"
        super().__init__(f"queue: {queue!r} is not a followed queue; known queues: {names}")


class InvalidCallerError(WorklistError):
    """The caller's number is not a valid phone number."""

    error_id = "invalid_caller"

    def __init__(self, raw: str, reason: PhoneReason, region: str) -> None:
        self.raw = raw
        super().__init__(f"caller: {reason.explain(raw, region)}")


class ModeError(WorklistError):
    """A callback mode that is not one of :data:`MODES`."""

    error_id = "invalid_callback_mode"

    def __init__(self, mode: str) -> None:
        super().__init__(f"mode: {mode!r} is not a callback mode; expected one of {MODES}")


class NoCallbackCampaignError(WorklistError):
    """An agent's callback needs a campaign to dial from, and none was given or attached."""

    error_id = "no_callback_campaign"

    def __init__(self, row_id: int, queue: str) -> None:
        super().__init__(
            f"campaign: worklist row {row_id} (queue {queue!r}) has no callback campaign;"
            " attach the queue to a campaign or name one"
        )


# ---- the facts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MissResult:
    """What a miss did: the row, whether it is new, whether the fact was already known."""

    row_id: int
    phone: str
    queue: str
    new_row: bool
    duplicate: bool = False


def caller_e164(raw: str, region: str = "PL") -> tuple[str, str]:
    """The caller's E.164 number and zone key (AMI gives digits, often without ``+``)."""
    norm = PhoneNormalizer(region)
    text = raw.strip()
    result = norm.normalize(text)
    if isinstance(result, PhoneReason) and text.isdigit() and not text.startswith("0"):
        # a CallerIDNum of international digits without the plus (4860...): try it as E.164
        alt = norm.normalize(f"+{text}")
        if not isinstance(alt, PhoneReason):
            result = alt
    if isinstance(result, PhoneReason):
        raise InvalidCallerError(raw, result, norm.region)
    return result.e164, result.zone_key


def _event(
    conn: sa.Connection,
    row_id: int,
    kind: EventKind,
    at: dt.datetime,
    *,
    outcome: str | None = None,
    agent: str | None = None,
    actor: str = SYSTEM,
    call_ref: str | None = None,
    detail: str = "",
) -> None:
    conn.execute(
        sa.insert(_EV).values(
            missed_call_id=row_id,
            at=at,
            kind=kind.value,
            outcome=outcome,
            agent=agent,
            actor=actor,
            call_ref=call_ref,
            detail=detail,
        )
    )


def _seen(conn: sa.Connection, call_ref: str | None) -> bool:
    if not call_ref:
        return False
    return conn.execute(sa.select(_EV.c.id).where(_EV.c.call_ref == call_ref)).first() is not None


def record_miss(
    db: sa.Engine,
    *,
    caller: str,
    queue: str,
    at: dt.datetime,
    reason: str = "abandoned",
    call_ref: str | None = None,
    region: str = "PL",
    detail: str = "",
) -> MissResult:
    """A caller gave up in ``queue`` (or reached no queue): the row appears or is updated.

    Raises :class:`InvalidCallerError` for a number that is not valid (nothing written).
    """
    phone, tz = caller_e164(caller, region)
    for _ in range(3):  # two engines racing for the same new row: the loser updates it
        try:
            with db.begin() as conn:
                return _record_miss(
                    conn,
                    phone=phone,
                    tz=tz,
                    queue=queue,
                    at=at,
                    reason=reason,
                    call_ref=call_ref,
                    detail=detail,
                )
        except sa.exc.IntegrityError:
            continue
    with db.begin() as conn:
        return _record_miss(
            conn,
            phone=phone,
            tz=tz,
            queue=queue,
            at=at,
            reason=reason,
            call_ref=call_ref,
            detail=detail,
        )


def _record_miss(
    conn: sa.Connection,
    *,
    phone: str,
    tz: str,
    queue: str,
    at: dt.datetime,
    reason: str,
    call_ref: str | None,
    detail: str,
) -> MissResult:
    row = conn.execute(
        sa.select(_ROW.c.id, _ROW.c.record_id, _ROW.c.last_missed_at).where(
            _ROW.c.phone == phone, _ROW.c.queue == queue, _ROW.c.state != RowState.CLOSED.value
        )
    ).first()
    if row is not None and _seen(conn, call_ref):
        return MissResult(row.id, phone, queue, new_row=False, duplicate=True)
    if row is None:
        row_id = int(
            conn.execute(
                sa.insert(_ROW)
                .values(
                    phone=phone,
                    queue=queue,
                    tz=tz,
                    state=RowState.OPEN.value,
                    miss_count=1,
                    first_missed_at=at,
                    last_missed_at=at,
                    last_reason=reason,
                    callback_attempts=0,
                    notified=False,
                )
                .returning(_ROW.c.id)
            ).scalar_one()
        )
        new = True
        record_id = None
    else:
        row_id, record_id, new = int(row.id), row.record_id, False
        conn.execute(
            sa.update(_ROW)
            .where(_ROW.c.id == row_id)
            .values(
                miss_count=_ROW.c.miss_count + 1,
                last_missed_at=max(row.last_missed_at, at),  # facts may arrive late
                last_reason=reason,
                notified=False,
            )
        )
    _event(conn, row_id, EventKind.MISSED, at, outcome=reason, call_ref=call_ref, detail=detail)
    _feed_campaign(conn, row_id, phone=phone, tz=tz, queue=queue, record_id=record_id)
    return MissResult(row_id, phone, queue, new_row=new)


def _feed_campaign(
    conn: sa.Connection, row_id: int, *, phone: str, tz: str, queue: str, record_id: int | None
) -> None:
    """Put (or re-arm) the caller in the queue's callback campaign, if it has one."""
    attached = conn.execute(
        sa.select(_QUEUE.c.campaign_id, _QUEUE.c.mode).where(_QUEUE.c.queue == queue)
    ).first()
    if attached is None:
        return
    first = conn.execute(sa.select(_ROW.c.first_missed_at).where(_ROW.c.id == row_id)).scalar_one()
    rec = conn.execute(
        sa.select(_REC.c.id, _REC.c.system_status, _REC.c.owner_agent_id).where(
            _REC.c.campaign_id == attached.campaign_id, _REC.c.phone == phone
        )
    ).first()
    fields = {"worklist_id": row_id, "queue": queue, "source": "inbound"}
    if rec is None:
        new_id = conn.execute(
            sa.insert(_REC)
            .values(
                campaign_id=attached.campaign_id,
                phone=phone,
                name="",
                tz=tz,
                fields=fields,
                system_status=attached.mode,
                attempts=0,
                next_call_at=first,
                created_at=utcnow(),
            )
            .returning(_REC.c.id)
        ).scalar_one()
        record_id = int(new_id)
    else:
        record_id = int(rec.id)
        if rec.system_status != SystemStatus.MY_RECORD.value:  # an agent's own callback stays
            conn.execute(
                sa.update(_REC)
                .where(_REC.c.id == record_id)
                .values(system_status=attached.mode, next_call_at=first, fields=fields)
            )
    conn.execute(sa.update(_ROW).where(_ROW.c.id == row_id).values(record_id=record_id))


def record_answered(
    db: sa.Engine,
    *,
    caller: str,
    queue: str,
    at: dt.datetime,
    call_ref: str | None = None,
    region: str = "PL",
) -> list[int]:
    """The caller got through an inbound queue: their open rows (every queue) close.

    Returns the ids of the rows closed. An invalid number closes nothing (raises
    :class:`InvalidCallerError`).
    """
    phone, _ = caller_e164(caller, region)
    with db.begin() as conn:
        if _seen(conn, call_ref):
            return []
        rows = conn.execute(
            sa.select(_ROW.c.id, _ROW.c.record_id).where(
                _ROW.c.phone == phone, _ROW.c.state != RowState.CLOSED.value
            )
        ).all()
        for i, row in enumerate(rows):
            _event(
                conn,
                row.id,
                EventKind.ANSWERED,
                at,
                outcome="answered",
                call_ref=call_ref if i == 0 else None,
                detail=f"queue {queue}",
            )
            _close(
                conn,
                row.id,
                record_id=row.record_id,
                at=at,
                reason=CloseReason.ANSWERED_INBOUND,
                actor=SYSTEM,
            )
        return [int(r.id) for r in rows]


def _close(
    conn: sa.Connection,
    row_id: int,
    *,
    record_id: int | None,
    at: dt.datetime,
    reason: CloseReason,
    actor: str,
) -> None:
    conn.execute(
        sa.update(_ROW)
        .where(_ROW.c.id == row_id)
        .values(state=RowState.CLOSED.value, closed_at=at, closed_by=actor, closed_reason=reason)
    )
    _event(conn, row_id, EventKind.CLOSED, at, outcome=reason.value, actor=actor)
    if record_id is not None:
        # nobody calls a caller whose row left the list (a new miss re-arms the record)
        conn.execute(
            sa.update(_REC)
            .where(
                _REC.c.id == record_id,
                _REC.c.system_status.in_(
                    [
                        SystemStatus.CALL_PROGRESSIVE.value,
                        SystemStatus.TO_CALL.value,
                        SystemStatus.MY_RECORD.value,
                        SystemStatus.NOT_BEFORE.value,
                    ]
                ),
            )
            .values(system_status=SystemStatus.DO_NOT_CALL.value, next_call_at=None)
        )


def record_callback(
    db: sa.Engine,
    *,
    record_id: int,
    outcome: str,
    reached: bool,
    at: dt.datetime,
    agent: str | None = None,
    call_ref: str | None = None,
) -> int | None:
    """A callback attempt of a record that dials a worklist row ended (or reached the
    person: ``reached``); written to the row's history. Returns the row id, or None when the
    record dials no open row."""
    with db.begin() as conn:
        row = conn.execute(
            sa.select(_ROW.c.id, _ROW.c.first_callback_at).where(
                _ROW.c.record_id == record_id, _ROW.c.state != RowState.CLOSED.value
            )
        ).first()
        if row is None or _seen(conn, call_ref):
            return None
        _event(
            conn, row.id, EventKind.CALLBACK, at, outcome=outcome, agent=agent, call_ref=call_ref
        )
        conn.execute(
            sa.update(_ROW)
            .where(_ROW.c.id == row.id)
            .values(
                callback_attempts=_ROW.c.callback_attempts + 1,
                first_callback_at=row.first_callback_at or at,
                last_callback_at=at,
                last_outcome=outcome,
                last_agent=agent,
            )
        )
        if reached:
            _close(
                conn,
                row.id,
                record_id=record_id,
                at=at,
                reason=CloseReason.CALLBACK_REACHED,
                actor=SYSTEM,
            )
        return int(row.id)


def expire(db: sa.Engine, now: dt.datetime, retention_days: float) -> int:
    """Close rows whose last miss is older than the retention period; returns how many."""
    cutoff = now - dt.timedelta(days=retention_days)
    with db.begin() as conn:
        rows = conn.execute(
            sa.select(_ROW.c.id, _ROW.c.record_id).where(
                _ROW.c.state != RowState.CLOSED.value, _ROW.c.last_missed_at < cutoff
            )
        ).all()
        for row in rows:
            _close(
                conn,
                row.id,
                record_id=row.record_id,
                at=now,
                reason=CloseReason.RETENTION,
                actor=SYSTEM,
            )
    return len(rows)


# ---- a person's actions (audited) ----------------------------------------------------------


def _audit(conn: sa.Connection, actor: str, action: str, row_id: int, at: dt.datetime) -> None:
    conn.execute(
        sa.insert(_AUDIT).values(
            at=at,
            actor=actor,
            action=action,
            entity="missed_call",
            entity_id=str(row_id),
            details={},
        )
    )


def _row(conn: sa.Connection, row_id: int) -> sa.Row[Any]:
    row = conn.execute(sa.select(_ROW).where(_ROW.c.id == row_id)).first()
    if row is None:
        raise RowNotFoundError(row_id)
    return row


#: verb: (the state it needs, the state it leaves, its history line)
_MOVES = {
    "hide": (RowState.OPEN, RowState.HIDDEN, EventKind.HIDDEN),
    "restore": (RowState.HIDDEN, RowState.OPEN, EventKind.RESTORED),
}


def _move(db: sa.Engine, row_id: int, verb: str, *, actor: str, now: dt.datetime | None) -> None:
    """Hide or restore a row: state check, new state (who hid it, or nobody), history line
    and audit entry ``worklist_<verb>``."""
    before, after, event = _MOVES[verb]
    at = now or utcnow()
    hiding = after is RowState.HIDDEN
    with db.begin() as conn:
        row = _row(conn, row_id)
        if row.state != before.value:
            raise RowStateError(row_id, row.state, verb)
        conn.execute(
            sa.update(_ROW)
            .where(_ROW.c.id == row_id)
            .values(
                state=after.value,
                hidden_at=at if hiding else None,
                hidden_by=actor if hiding else None,
            )
        )
        _event(conn, row_id, event, at, actor=actor)
        _audit(conn, actor, f"worklist_{verb}", row_id, at)


def hide(db: sa.Engine, row_id: int, *, actor: str, now: dt.datetime | None = None) -> None:
    """Hide an open row (it stays in the worklist's "hidden" state, restorable)."""
    _move(db, row_id, "hide", actor=actor, now=now)


def restore(db: sa.Engine, row_id: int, *, actor: str, now: dt.datetime | None = None) -> None:
    """Bring a hidden row back to the open list."""
    _move(db, row_id, "restore", actor=actor, now=now)


def delete(db: sa.Engine, row_id: int, *, actor: str, now: dt.datetime | None = None) -> None:
    """Remove a row from the list by hand (kept closed with who and when; audited)."""
    at = now or utcnow()
    with db.begin() as conn:
        row = _row(conn, row_id)
        if row.state == RowState.CLOSED.value:
            raise RowStateError(row_id, row.state, "delete")
        _event(conn, row_id, EventKind.DELETED, at, actor=actor)
        _close(
            conn, row_id, record_id=row.record_id, at=at, reason=CloseReason.DELETED, actor=actor
        )
        _audit(conn, actor, "worklist_delete", row_id, at)


def add_note(
    db: sa.Engine, row_id: int, text: str, *, actor: str, now: dt.datetime | None = None
) -> None:
    """Add a note to a row's history."""
    at = now or utcnow()
    with db.begin() as conn:
        _row(conn, row_id)
        _event(conn, row_id, EventKind.NOTE, at, actor=actor, detail=text[:2000])


def request_callback(
    db: sa.Engine,
    row_id: int,
    *,
    agent_id: int,
    actor: str,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """An agent asked to call a row back: the row's record (in the queue's callback campaign,
    or ``campaign_id``) becomes that agent's ``MY_RECORD``, due now. The engine running the
    campaign reserves the agent, then dials (no drop possible). Returns the record id."""
    at = now or utcnow()
    with db.begin() as conn:
        row = _row(conn, row_id)
        if row.state == RowState.CLOSED.value:
            raise RowStateError(row_id, row.state, "call back")
        if campaign_id is None:
            campaign_id = conn.execute(
                sa.select(_QUEUE.c.campaign_id).where(_QUEUE.c.queue == row.queue)
            ).scalar()
        if campaign_id is None:
            raise NoCallbackCampaignError(row_id, row.queue)
        values = {
            "system_status": SystemStatus.MY_RECORD.value,
            "owner_agent_id": agent_id,
            "next_call_at": at,
            "fields": {"worklist_id": row_id, "queue": row.queue, "source": "inbound"},
        }
        rec = conn.execute(
            sa.select(_REC.c.id).where(_REC.c.campaign_id == campaign_id, _REC.c.phone == row.phone)
        ).scalar()
        if rec is None:
            rec = conn.execute(
                sa.insert(_REC)
                .values(
                    campaign_id=campaign_id,
                    phone=row.phone,
                    name="",
                    tz=row.tz,
                    attempts=0,
                    created_at=at,
                    **values,
                )
                .returning(_REC.c.id)
            ).scalar_one()
        else:
            conn.execute(sa.update(_REC).where(_REC.c.id == rec).values(**values))
        conn.execute(sa.update(_ROW).where(_ROW.c.id == row_id).values(record_id=rec))
        _event(conn, row_id, EventKind.CALLBACK_REQUESTED, at, agent=str(agent_id), actor=actor)
        _audit(conn, actor, "worklist_callback", row_id, at)
        return int(rec)


def attach_queue(
    db: sa.Engine,
    queue: str,
    campaign_id: int,
    *,
    actor: str,
    known_queues: Iterable[str] = (),
    mode: str = SystemStatus.CALL_PROGRESSIVE.value,
) -> None:
    """Feed ``queue``'s misses (the open rows now, and every later one) to a campaign."""
    known = set(known_queues)
    if known and queue not in known:
        raise UnknownQueueError(queue, known)
    if mode not in MODES:
        raise ModeError(mode)
    at = utcnow()
    with db.begin() as conn:
        if conn.execute(sa.select(_CAMP.c.id).where(_CAMP.c.id == campaign_id)).first() is None:
            raise CampaignNotFoundError(campaign_id)
        conn.execute(sa.delete(_QUEUE).where(_QUEUE.c.queue == queue))
        conn.execute(
            sa.insert(_QUEUE).values(
                queue=queue, campaign_id=campaign_id, mode=mode, attached_by=actor, attached_at=at
            )
        )
        rows = conn.execute(
            sa.select(_ROW.c.id, _ROW.c.phone, _ROW.c.tz, _ROW.c.record_id).where(
                _ROW.c.queue == queue, _ROW.c.state == RowState.OPEN.value
            )
        ).all()
        for row in rows:
            _feed_campaign(conn, row.id, phone=row.phone, tz=row.tz, queue=queue, record_id=None)
        conn.execute(
            sa.insert(_AUDIT).values(
                at=at,
                actor=actor,
                action="inbound_queue_attach",
                entity="inbound_queue",
                entity_id=queue,
                details={"campaign_id": campaign_id, "mode": mode},
            )
        )


def detach_queue(db: sa.Engine, queue: str, *, actor: str) -> bool:
    """Stop feeding ``queue``'s misses to its campaign; False when it was not attached."""
    with db.begin() as conn:
        gone = conn.execute(sa.delete(_QUEUE).where(_QUEUE.c.queue == queue)).rowcount
        if gone:
            conn.execute(
                sa.insert(_AUDIT).values(
                    at=utcnow(),
                    actor=actor,
                    action="inbound_queue_detach",
                    entity="inbound_queue",
                    entity_id=queue,
                    details={},
                )
            )
    return bool(gone)


def attached_queues(db: sa.Engine) -> dict[str, tuple[int, str]]:
    """Queue -> (campaign id, mode) of every attached queue."""
    with db.connect() as conn:
        rows = conn.execute(sa.select(_QUEUE.c.queue, _QUEUE.c.campaign_id, _QUEUE.c.mode)).all()
    return {r.queue: (int(r.campaign_id), r.mode) for r in rows}


# ---- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowView:
    """A worklist row as the API and the page show it."""

    id: int
    phone: str
    queue: str
    state: str
    miss_count: int
    first_missed_at: dt.datetime
    last_missed_at: dt.datetime
    last_reason: str
    callback_attempts: int
    last_callback_at: dt.datetime | None
    last_outcome: str | None
    last_agent: str | None
    record_id: int | None
    hidden_by: str | None
    closed_at: dt.datetime | None
    closed_by: str | None
    closed_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out


@dataclass(frozen=True, slots=True)
class Filters:
    """What the list shows: states, queues, and how old the last miss may be."""

    states: Sequence[str] = (RowState.OPEN.value,)
    queues: Sequence[str] = ()
    max_age_s: float | None = None
    phone: str | None = None


def _view(row: sa.Row[Any]) -> RowView:
    return RowView(**{name: getattr(row, name) for name in RowView.__slots__})


def _filtered(q: sa.Select[Any], filters: Filters, now: dt.datetime) -> sa.Select[Any]:
    if filters.states:
        q = q.where(_ROW.c.state.in_(list(filters.states)))
    if filters.queues:
        q = q.where(_ROW.c.queue.in_(list(filters.queues)))
    if filters.max_age_s is not None:
        q = q.where(_ROW.c.last_missed_at >= now - dt.timedelta(seconds=filters.max_age_s))
    if filters.phone:
        q = q.where(_ROW.c.phone == filters.phone)
    return q


def list_rows(
    db: sa.Engine, filters: Filters, *, now: dt.datetime, limit: int = 500, offset: int = 0
) -> list[RowView]:
    """Rows matching ``filters``, the oldest last miss first (who waited longest on top)."""
    q = _filtered(sa.select(_ROW), filters, now)
    q = q.order_by(_ROW.c.last_missed_at.asc(), _ROW.c.id).limit(limit).offset(offset)
    with db.connect() as conn:
        return [_view(r) for r in conn.execute(q).all()]


def count_rows(db: sa.Engine, filters: Filters, *, now: dt.datetime) -> int:
    """How many rows match ``filters``."""
    q = _filtered(sa.select(sa.func.count()).select_from(_ROW), filters, now)
    with db.connect() as conn:
        return int(conn.execute(q).scalar_one())


def get_row(db: sa.Engine, row_id: int) -> RowView:
    """One row (raises :class:`RowNotFoundError`)."""
    with db.connect() as conn:
        return _view(_row(conn, row_id))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a row's history."""

    at: dt.datetime
    kind: str
    outcome: str | None
    agent: str | None
    actor: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "outcome": self.outcome,
            "agent": self.agent,
            "actor": self.actor,
            "detail": self.detail,
        }


def history(db: sa.Engine, row_id: int) -> list[HistoryEntry]:
    """A row's history, oldest first (raises :class:`RowNotFoundError`)."""
    with db.connect() as conn:
        _row(conn, row_id)
        rows = conn.execute(
            sa.select(_EV).where(_EV.c.missed_call_id == row_id).order_by(_EV.c.at, _EV.c.id)
        ).all()
    return [HistoryEntry(r.at, r.kind, r.outcome, r.agent, r.actor, r.detail) for r in rows]


def open_count(db: sa.Engine) -> int:
    """Rows waiting in the list (open, not hidden): the page header's counter."""
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(_ROW.c.state == RowState.OPEN.value)
            ).scalar_one()
        )


def known_queues(db: sa.Engine, configured: Iterable[str] = ()) -> list[str]:
    """Queues configured, attached or seen in the worklist."""
    with db.connect() as conn:
        seen = set(conn.execute(sa.select(_ROW.c.queue).distinct()).scalars())
        seen |= set(conn.execute(sa.select(_QUEUE.c.queue)).scalars())
    return sorted(seen | set(configured))


@dataclass(frozen=True, slots=True)
class Stats:
    """Worklist figures of one period."""

    missed: int
    rows_new: int
    called_back: int
    callback_attempts: int
    reached: int
    removed_by_system: int
    removed_by_person: int
    still_open: int
    median_first_callback_s: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {name: getattr(self, name) for name in self.__slots__}


def stats(
    db: sa.Engine, start: dt.datetime, end: dt.datetime, *, queues: Sequence[str] = ()
) -> Stats:
    """Figures for misses and rows in ``[start, end)``: misses, rows called back, rows
    reached, rows removed by the system / by a person, rows of the period still open, and
    the median time from a row's first miss to its first callback attempt."""
    in_q = _ROW.c.queue.in_(list(queues)) if queues else sa.true()
    rows_in = sa.and_(_ROW.c.first_missed_at >= start, _ROW.c.first_missed_at < end, in_q)
    ev_in = sa.and_(_EV.c.at >= start, _EV.c.at < end)
    joined = _EV.join(_ROW, _ROW.c.id == _EV.c.missed_call_id)
    closed_in = sa.and_(_ROW.c.closed_at >= start, _ROW.c.closed_at < end, in_q)
    with db.connect() as conn:

        def count(q: Any) -> int:
            return int(conn.execute(q).scalar_one())

        missed = count(
            sa.select(sa.func.count())
            .select_from(joined)
            .where(ev_in, in_q, _EV.c.kind == EventKind.MISSED.value)
        )
        rows_new = count(sa.select(sa.func.count()).where(rows_in))
        called_back = count(
            sa.select(sa.func.count(sa.distinct(_EV.c.missed_call_id)))
            .select_from(joined)
            .where(ev_in, in_q, _EV.c.kind == EventKind.CALLBACK.value)
        )
        attempts = count(
            sa.select(sa.func.count())
            .select_from(joined)
            .where(ev_in, in_q, _EV.c.kind == EventKind.CALLBACK.value)
        )
        reached = count(
            sa.select(sa.func.count()).where(
                closed_in, _ROW.c.closed_reason == CloseReason.CALLBACK_REACHED.value
            )
        )
        by_system = count(sa.select(sa.func.count()).where(closed_in, _ROW.c.closed_by == SYSTEM))
        by_person = count(
            sa.select(sa.func.count()).where(
                closed_in, _ROW.c.closed_by != SYSTEM, _ROW.c.closed_by.is_not(None)
            )
        )
        still_open = count(
            sa.select(sa.func.count()).where(rows_in, _ROW.c.state != RowState.CLOSED.value)
        )
        pairs = conn.execute(
            sa.select(_ROW.c.first_missed_at, _ROW.c.first_callback_at).where(
                rows_in, _ROW.c.first_callback_at.is_not(None)
            )
        ).all()
    waits = [(cb - first).total_seconds() for first, cb in pairs]
    return Stats(
        missed=missed,
        rows_new=rows_new,
        called_back=called_back,
        callback_attempts=attempts,
        reached=reached,
        removed_by_system=by_system,
        removed_by_person=by_person,
        still_open=still_open,
        median_first_callback_s=statistics.median(waits) if waits else None,
    )


def unnotified(db: sa.Engine) -> list[RowView]:
    """Rows whose latest miss no e-mail has told about yet."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(_ROW)
            .where(_ROW.c.notified.is_(False), _ROW.c.state == RowState.OPEN.value)
            .order_by(_ROW.c.last_missed_at, _ROW.c.id)
        ).all()
    return [_view(r) for r in rows]


def mark_notified(db: sa.Engine, row_ids: Sequence[int]) -> None:
    """The e-mail about these rows went out."""
    if not row_ids:
        return
    with db.begin() as conn:
        conn.execute(sa.update(_ROW).where(_ROW.c.id.in_(list(row_ids))).values(notified=True))
