"""Dispositions: the database side of the status engine.

``record_outcome`` (a telephony result) and ``set_agent_status`` (an agent's status after
a call) each run in one transaction: load the record (row-locked on PostgreSQL), the
campaign's rules and automatic statuses, call the pure engine
(``campaigns.status_engine``), write the record's new state, clear the dialer's lease, fill
the attempt's ``CallLog`` row (created if the runtime did not create it at dial time) and,
for agent statuses, write an ``AuditLog`` row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from campaigns.enums import Outcome, SystemStatus
from campaigns.errors import CampaignError, CampaignNotFoundError
from campaigns.models import AuditLog, CallLog, Campaign, CampaignStatus, Record, StatusDef
from campaigns.status_engine import (
    DATED_STATUSES,
    AutoTable,
    CampaignRules,
    RecordState,
    StatusOption,
    StatusRuleError,
    apply_agent_status,
    apply_outcome,
)

_RECORD = Record.__table__  # type: ignore[attr-defined]
_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_STATUS = StatusDef.__table__  # type: ignore[attr-defined]
_CAMPAIGN_STATUS = CampaignStatus.__table__  # type: ignore[attr-defined]
_CALL_LOG = CallLog.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]


def _kept_condition(call: Any) -> sa.ColumnElement[bool]:
    """SQL: ``call`` (a row of the call log) was connected to the agent who booked its
    record as their own callback on the record's previous call."""
    earlier = _CALL_LOG.alias("earlier")
    booking = _CALL_LOG.alias("booking")
    previous_id = (
        sa.select(sa.func.max(earlier.c.id))
        .where(earlier.c.record_id == call.c.record_id, earlier.c.id < call.c.id)
        .correlate(call)  # two levels down from the UPDATE: not found on its own
        .scalar_subquery()
    )
    return sa.and_(
        # connected now (the live fact), or answered (a call written whole: the log of an
        # earlier version, generated data)
        sa.or_(call.c.connect_at.is_not(None), call.c.outcome == Outcome.ANSWERED.value),
        call.c.agent_id.is_not(None),
        call.c.record_id.is_not(None),
        sa.exists().where(
            booking.c.id == previous_id,
            booking.c.system_status == SystemStatus.MY_RECORD.value,
            booking.c.agent_id == call.c.agent_id,
        ),
    )


def mark_callback_kept(conn: sa.Connection, call_log_id: int) -> None:
    """Write the fact when it happens: the call just connected (its row has its agent and
    connect time) keeps a callback when the record's previous call was booked by that
    agent as ``MY_RECORD``. Two probes of the (record, id) index."""
    conn.execute(
        sa.update(_CALL_LOG)
        .where(
            _CALL_LOG.c.id == call_log_id,
            _CALL_LOG.c.callback_kept.is_(sa.false()),
            _kept_condition(_CALL_LOG),
        )
        .values(callback_kept=True)
    )


def mark_callbacks_kept(conn: sa.Connection) -> int:
    """The same fact for every call of the log at once (a migration, generated data):
    how many calls kept a callback."""
    result = conn.execute(
        sa.update(_CALL_LOG)
        .where(_CALL_LOG.c.callback_kept.is_(sa.false()), _kept_condition(_CALL_LOG))
        .values(callback_kept=True)
    )
    return int(result.rowcount or 0)


class RecordNotFoundError(CampaignError):
    """No record has the given id."""

    error_id = "record_not_found"

    def __init__(self, record_id: int) -> None:
        self.record_id = record_id
        super().__init__(f"record_id: no record with id {record_id}")


@dataclass(frozen=True, slots=True)
class CallDetails:
    """What the telephony edge knows about the attempt, copied into its ``CallLog`` row."""

    dial_at: dt.datetime | None = None
    answer_at: dt.datetime | None = None
    connect_at: dt.datetime | None = None
    drop_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    ring_s: float | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    wrapup_s: float | None = None
    agent_id: int | None = None
    hangup_cause: int | None = None
    hangup_cause_txt: str | None = None
    amd_result: str | None = None
    amd_cause: str | None = None
    recording_ref: str | None = None
    server: str | None = None
    channel_id: str | None = None
    action_id: str | None = None

    def values(self) -> dict[str, Any]:
        """The fields that are set."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class Disposition:
    """The result: the record's new state and the call-log row written."""

    record_id: int
    state: RecordState
    call_log_id: int


def state_of(row: Any) -> RecordState:
    """The engine's view of a ``record`` row."""
    return RecordState(
        system_status=SystemStatus(row.system_status),
        status_id=row.status_id,
        attempts=row.attempts,
        next_call_at=row.next_call_at,
        owner_agent_id=row.owner_agent_id,
        last_outcome=Outcome(row.last_outcome) if row.last_outcome else None,
        last_call_at=row.last_call_at,
        tz=row.tz,
        lease_expires_at=row.lease_expires_at,
        parked=row.parked_at is not None,
        call_next_at=row.call_next_at,
    )


def _option(row: Any) -> StatusOption:
    return StatusOption(
        id=row.id,
        name=row.name,
        system_status=SystemStatus(row.system_status),
        auto_outcome=Outcome(row.auto_outcome) if row.auto_outcome else None,
        active=row.active,
        hidden=row.hidden,
    )


def campaign_statuses(conn: sa.Connection, campaign_id: int) -> list[StatusOption]:
    """The statuses a campaign offers: dictionary ones added to it, then campaign-only ones."""
    added = conn.execute(
        sa.select(_STATUS)
        .join(_CAMPAIGN_STATUS, _CAMPAIGN_STATUS.c.status_id == _STATUS.c.id)
        .where(_CAMPAIGN_STATUS.c.campaign_id == campaign_id)
        .order_by(_CAMPAIGN_STATUS.c.position, _STATUS.c.id)
    ).all()
    own = conn.execute(
        sa.select(_STATUS).where(_STATUS.c.campaign_id == campaign_id).order_by(_STATUS.c.id)
    ).all()
    options: dict[int, StatusOption] = {}
    for row in [*added, *own]:
        options.setdefault(row.id, _option(row))
    return list(options.values())


def load_rules(conn: sa.Connection, campaign_id: int) -> tuple[CampaignRules, AutoTable]:
    """The campaign's rules and automatic-status table, from its row and its statuses
    (CampaignNotFoundError when there is no such campaign)."""
    campaign = conn.execute(sa.select(_CAMPAIGN).where(_CAMPAIGN.c.id == campaign_id)).one_or_none()
    if campaign is None:
        raise CampaignNotFoundError(campaign_id)
    statuses = campaign_statuses(conn, campaign_id)
    rules = CampaignRules.from_campaign(campaign, statuses)
    return rules, AutoTable.from_statuses(statuses)


def _load_record(conn: sa.Connection, record_id: int) -> Any:
    row = conn.execute(
        sa.select(_RECORD).where(_RECORD.c.id == record_id).with_for_update()
    ).first()
    if row is None:
        raise RecordNotFoundError(record_id)
    return row


def _write_state(
    conn: sa.Connection, row: Any, state: RecordState, lease_owner: str | None
) -> None:
    values: dict[str, Any] = {
        "system_status": state.system_status.value,
        "status_id": state.status_id,
        "next_call_at": state.next_call_at,
        "owner_agent_id": state.owner_agent_id,
        "last_outcome": state.last_outcome.value if state.last_outcome else None,
        "last_call_at": state.last_call_at,
        "attempts": state.attempts,
    }
    # Clear the lease when it is ours (or when the caller does not say whose it is); a lease
    # taken meanwhile by another dialer stays.
    if lease_owner is None or row.lease_owner in (None, lease_owner):
        values["lease_owner"] = None
        values["lease_expires_at"] = None
    conn.execute(sa.update(_RECORD).where(_RECORD.c.id == row.id).values(**values))


def _call_log_row(conn: sa.Connection, row: Any, call_log_id: int | None, now: dt.datetime) -> int:
    """The id of the attempt's call-log row: the given one, the attempt's, or a new one."""
    if call_log_id is not None:
        found = conn.execute(
            sa.select(_CALL_LOG.c.id).where(
                _CALL_LOG.c.id == call_log_id, _CALL_LOG.c.record_id == row.id
            )
        ).scalar()
        if found is None:
            raise StatusRuleError(
                "call_log_id",
                f"no call-log row {call_log_id} for record {row.id}",
                "pass the id of this record's attempt or none",
            )
        return int(found)
    attempt = max(row.attempts, 1)
    found = conn.execute(
        sa.select(_CALL_LOG.c.id)
        .where(_CALL_LOG.c.record_id == row.id, _CALL_LOG.c.attempt == attempt)
        .order_by(_CALL_LOG.c.id.desc())
        .limit(1)
    ).scalar()
    if found is not None:
        return int(found)
    result = conn.execute(
        sa.insert(_CALL_LOG).values(
            campaign_id=row.campaign_id,
            record_id=row.id,
            phone=row.phone,
            attempt=attempt,
            dial_at=now,  # unknown here: the runtime's CallDetails.dial_at overrides it
            note="",
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def record_outcome(
    engine: sa.Engine,
    record_id: int,
    outcome: Outcome,
    *,
    now: dt.datetime,
    call: CallDetails | None = None,
    call_log_id: int | None = None,
    lease_owner: str | None = None,
    guard: Callable[[sa.Connection], None] | None = None,
) -> Disposition:
    """Apply a telephony ``outcome`` to a record in one transaction (see module doc).

    ``guard`` runs first inside that transaction; whatever it raises undoes the write (a
    caller's fence: e.g. "this writer still owns the campaign", checked under a lock).
    """
    with engine.begin() as conn:
        if guard is not None:
            guard(conn)
        row = _load_record(conn, record_id)
        rules, auto = load_rules(conn, row.campaign_id)
        state = apply_outcome(state_of(row), outcome, now, rules, auto)
        _write_state(conn, row, state, lease_owner)
        log_id = _call_log_row(conn, row, call_log_id, now)
        details = (call or CallDetails()).values()
        details.setdefault("end_at", now)
        conn.execute(
            sa.update(_CALL_LOG)
            .where(_CALL_LOG.c.id == log_id)
            .values(
                outcome=outcome.value,
                status_id=state.status_id if outcome is not Outcome.ANSWERED else None,
                system_status=(
                    state.system_status.value if outcome is not Outcome.ANSWERED else None
                ),
                **details,
            )
        )
        if details.get("connect_at") is not None:
            mark_callback_kept(conn, log_id)
    return Disposition(record_id, state, log_id)


def set_agent_status(
    engine: sa.Engine,
    record_id: int,
    status_id: int,
    *,
    agent_id: int,
    now: dt.datetime,
    date: dt.datetime | None = None,
    note: str = "",
    call_log_id: int | None = None,
    lease_owner: str | None = None,
    actor: str | None = None,
    extra_audit: Mapping[str, Any] | None = None,
) -> Disposition:
    """Apply the status an agent set after a call, in one transaction, with an audit row.

    ``actor`` names who set it in the audit log (default ``agent:<agent_id>``).
    Raises ``StatusRuleError`` (no such status, not offered by the campaign, inactive, a missing
    or past date, …) and ``RecordNotFoundError``; nothing is written then.
    """
    with engine.begin() as conn:
        return _set_status(
            conn,
            record_id,
            status_id,
            agent_id=agent_id,
            now=now,
            date=date,
            note=note,
            call_log_id=call_log_id,
            lease_owner=lease_owner,
            actor=actor or f"agent:{agent_id}",
            extra_audit=extra_audit,
        )


def apply_wrapup_timeout(
    engine: sa.Engine,
    record_id: int,
    *,
    agent_id: int,
    now: dt.datetime,
    call_log_id: int | None = None,
) -> Disposition | None:
    """The agent let wrap-up time out: apply the campaign's default status, if it has one.

    A default MY_RECORD or NOT_BEFORE status is dated ``now`` + the campaign's "answered"
    retry delay (at least a minute). Returns ``None`` (nothing written) when the campaign has
    no default status: the answered outcome already holds the record back.
    """
    with engine.begin() as conn:
        campaign_id = conn.execute(
            sa.select(_RECORD.c.campaign_id).where(_RECORD.c.id == record_id)
        ).scalar()
        if campaign_id is None:
            raise RecordNotFoundError(record_id)
        default_id = conn.execute(
            sa.select(_CAMPAIGN.c.wrapup_default_status_id).where(_CAMPAIGN.c.id == campaign_id)
        ).scalar()
        if default_id is None:
            return None
        rules, _auto = load_rules(conn, campaign_id)
        status = conn.execute(
            sa.select(_STATUS.c.system_status).where(_STATUS.c.id == default_id)
        ).scalar()
        date = None
        if status in {s.value for s in DATED_STATUSES}:
            delay = max(rules.retry_delay(Outcome.ANSWERED), dt.timedelta(minutes=1))
            date = now + delay
        return _set_status(
            conn,
            record_id,
            int(default_id),
            agent_id=agent_id,
            now=now,
            date=date,
            note="",
            call_log_id=call_log_id,
            lease_owner=None,
            actor="system:wrapup_timeout",
            extra_audit={"agent_id": agent_id},
        )


def _set_status(
    conn: sa.Connection,
    record_id: int,
    status_id: int,
    *,
    agent_id: int,
    now: dt.datetime,
    date: dt.datetime | None,
    note: str,
    call_log_id: int | None,
    lease_owner: str | None,
    actor: str,
    extra_audit: Mapping[str, Any] | None,
) -> Disposition:
    """Load, apply the pure engine, write record, call log and audit row (one transaction)."""
    row = _load_record(conn, record_id)
    rules, _auto = load_rules(conn, row.campaign_id)
    status_row = conn.execute(sa.select(_STATUS).where(_STATUS.c.id == status_id)).first()
    if status_row is None:
        raise StatusRuleError("status_id", f"no status with id {status_id}", "pick an existing one")
    option = _option(status_row)
    before = state_of(row)
    state = apply_agent_status(before, option, now, rules, agent_id=agent_id, date=date)
    _write_state(conn, row, state, lease_owner)
    log_id = _call_log_row(conn, row, call_log_id, now)
    conn.execute(
        sa.update(_CALL_LOG)
        .where(_CALL_LOG.c.id == log_id)
        .values(
            status_id=option.id,
            system_status=state.system_status.value,
            agent_id=agent_id,
            note=note,
        )
    )
    conn.execute(
        sa.insert(_AUDIT).values(
            at=now,
            actor=actor,
            action="record_status_set",
            entity="record",
            entity_id=str(record_id),
            details={
                "status_id": option.id,
                "status": option.name,
                "system_status": state.system_status.value,
                "previous_system_status": before.system_status.value,
                "date": date.isoformat() if date else None,
                "call_log_id": log_id,
                **(extra_audit or {}),
            },
        )
    )
    return Disposition(record_id, state, log_id)
