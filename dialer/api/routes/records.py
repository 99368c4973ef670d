"""One record and what a supervisor does to records: its page's data (fields, every
attempt, its audit trail, why it is not callable now), edit, set a status by hand,
reassign / release a callback, call next, park / unpark — on one record or on a filtered
list (bulk). The rules are :mod:`campaigns.records`; every change is audited there.

Leaders and above; a group leader acts only on records its agents own and gives
callbacks only to its agents. A record out of the user's scope answers 404, as an
unknown one does (its existence is not told).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col

from campaigns import records as actions
from campaigns.dispositions import RecordNotFoundError, state_of
from campaigns.enums import SystemStatus
from campaigns.models import Agent, AuditLog, CallLog, Campaign, DncEntry, Record, StatusDef
from campaigns.records import RecordAction, RecordActionError
from campaigns.status_engine import CampaignRules, StatusRuleError, why_not_callable
from campaigns.windows import CallingWindow, is_open
from dialer.api.context import ApiContext
from dialer.api.routes.admin_common import MAX_ID, Text, field_errors, invalid
from dialer.api.routes.lists import RecordFilter, RecordOut, record_out, records_query
from dialer.api.security import Ctx, Leader, Principal, agent_ids_in_scope

router = APIRouter(prefix="/api", tags=["records"])

RecordId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Record id.")]
CampaignId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Campaign id.")]
#: Audit rows and attempts a record's page shows (newest first).
MAX_HISTORY = 500


class AttemptOut(BaseModel):
    """One dial attempt of the record (a call-log row)."""

    id: int
    attempt: int
    dial_at: dt.datetime
    answer_at: dt.datetime | None
    end_at: dt.datetime | None
    outcome: str | None
    agent_id: int | None
    agent: str | None
    status: str | None
    system_status: str | None
    talk_s: float | None
    note: str


class AuditEntryOut(BaseModel):
    """One change made to the record."""

    at: dt.datetime
    actor: str
    action: str
    details: dict[str, Any]


class RecordDetail(RecordOut):
    """A record with its campaign, every attempt and its audit trail."""

    campaign_id: int
    campaign: str
    parked_by: str | None
    in_flight: bool
    not_callable: str | None = Field(
        description="Why it may not be dialed now (dnc_list, parked, not_due, …); null: it may."
    )
    attempts_log: list[AttemptOut]
    audit: list[AuditEntryOut]


class RecordEdit(BaseModel):
    """Fields to change (those left out stay)."""

    name: Text | None = Field(default=None, max_length=200)
    tz: Text | None = Field(default=None, max_length=1024)
    fields: dict[str, Any] | None = None


class StatusByHand(BaseModel):
    """A status set by a supervisor, no call made."""

    status_id: int = Field(ge=1, le=MAX_ID)
    owner_agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    date: AwareDatetime | None = None
    note: Text = Field(default="", max_length=2000)


class ActionIn(BaseModel):
    """An action on one record."""

    action: RecordAction
    agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class FilterIn(BaseModel):
    """The records list's filters, to act on every record they match."""

    system_status: SystemStatus | None = None
    status_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    phone: str | None = Field(default=None, max_length=40)
    owner_agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    list_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    parked: bool | None = None


class BulkIn(ActionIn):
    """An action on the records listed in ``ids``, or on every record ``filter`` matches."""

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=actions.MAX_BULK
    )
    filter: FilterIn | None = None


class ActionOut(BaseModel):
    """What an action did."""

    action: RecordAction
    changed: list[int]
    skipped: dict[int, str] = Field(description="Record id → why it was left as it was.")


# ---------------------------------------------------------------------------- helpers


def _in_scope(ctx: ApiContext, user: Principal, owner_agent_id: int | None) -> bool:
    scope = agent_ids_in_scope(ctx, user)
    return scope is None or (owner_agent_id is not None and owner_agent_id in scope)


def _scoped_record(ctx: ApiContext, user: Principal, record_id: int) -> Record:
    with ctx.session() as session:
        record = session.get(Record, record_id)
        if record is None or not _in_scope(ctx, user, record.owner_agent_id):
            raise RecordNotFoundError(record_id)
        session.expunge(record)
        return record


def _check_agent(ctx: ApiContext, user: Principal, agent_id: int | None) -> None:
    if agent_id is not None and not _in_scope(ctx, user, agent_id):
        raise actions.RecordActionError(
            "agent_id", f"agent {agent_id} is not in your group", "choose one of your agents"
        )


def _not_callable(ctx: ApiContext, record: Record, campaign: Campaign) -> str | None:
    now = dt.datetime.now(dt.UTC)
    window = CallingWindow.parse(campaign.window_start, campaign.window_end, campaign.window_days)
    with ctx.session() as session:
        dnc = session.execute(
            sa.select(sa.func.count())
            .select_from(DncEntry)
            .where(
                col(DncEntry.phone) == record.phone,
                sa.or_(
                    col(DncEntry.campaign_id).is_(None),
                    col(DncEntry.campaign_id) == campaign.id,
                ),
                sa.or_(col(DncEntry.expires_at).is_(None), col(DncEntry.expires_at) > now),
            )
        ).scalar_one()
    rules = CampaignRules.from_campaign(campaign, ())
    reason = why_not_callable(
        state_of(record),
        now,
        rules,
        window_open=is_open(window, record.tz, now),
        dnc=bool(dnc),
        reserved_agent_id=record.owner_agent_id,
    )
    return reason.value if reason is not None else None


# ----------------------------------------------------------------------------- routes


@router.get("/records/{record_id}")
def record_get(record_id: RecordId, user: Leader, ctx: Ctx) -> RecordDetail:
    """A record: fields, where it stands, why it is not callable now, every attempt and
    every change made to it (newest first)."""
    record = _scoped_record(ctx, user, record_id)
    with ctx.session() as session:
        campaign = session.get(Campaign, record.campaign_id)
        if campaign is None:
            raise RecordNotFoundError(record_id)
        session.expunge(campaign)
        status = session.get(StatusDef, record.status_id) if record.status_id else None
        owner = session.get(Agent, record.owner_agent_id) if record.owner_agent_id else None
        attempts = session.execute(
            sa.select(CallLog, col(Agent.login), col(StatusDef.name))
            .outerjoin(Agent, col(Agent.id) == col(CallLog.agent_id))
            .outerjoin(StatusDef, col(StatusDef.id) == col(CallLog.status_id))
            .where(col(CallLog.record_id) == record_id)
            .order_by(col(CallLog.dial_at).desc(), col(CallLog.id).desc())
            .limit(MAX_HISTORY)
        ).all()
        audit = session.execute(
            sa.select(AuditLog)
            .where(col(AuditLog.entity) == "record", col(AuditLog.entity_id) == str(record_id))
            .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
            .limit(MAX_HISTORY)
        ).scalars()
        audit_out = [
            AuditEntryOut(at=a.at, actor=a.actor, action=a.action, details=a.details) for a in audit
        ]
        attempts_out = [
            AttemptOut(
                id=log.id or 0,
                attempt=log.attempt,
                dial_at=log.dial_at,
                answer_at=log.answer_at,
                end_at=log.end_at,
                outcome=log.outcome,
                agent_id=log.agent_id,
                agent=login,
                status=name,
                system_status=log.system_status,
                talk_s=log.talk_s,
                note=log.note,
            )
            for log, login, name in attempts
        ]
        base = record_out(record, status.name if status else None, owner.login if owner else None)
    now = dt.datetime.now(dt.UTC)
    return RecordDetail(
        **base.model_dump(),
        campaign_id=record.campaign_id,
        campaign=campaign.name,
        parked_by=record.parked_by,
        in_flight=record.lease_expires_at is not None and record.lease_expires_at > now,
        not_callable=_not_callable(ctx, record, campaign),
        attempts_log=attempts_out,
        audit=audit_out,
    )


@router.patch("/records/{record_id}")
def record_edit(record_id: RecordId, body: RecordEdit, user: Leader, ctx: Ctx) -> RecordDetail:
    """Change the record's name, zone key or custom fields (audited with before / after)."""
    _scoped_record(ctx, user, record_id)
    with field_errors(RecordActionError):
        actions.edit(
            ctx.db,
            record_id,
            actor=user.actor,
            now=dt.datetime.now(dt.UTC),
            name=body.name,
            tz=body.tz,
            fields=body.fields,
        )
    return record_get(record_id, user, ctx)


@router.post("/records/{record_id}/status")
def record_status(record_id: RecordId, body: StatusByHand, user: Leader, ctx: Ctx) -> RecordDetail:
    """Set a status by hand, by the campaign's rules (a supervisor may reopen DO_NOT_CALL);
    MY_RECORD needs the owner agent and a date, NOT_BEFORE a date."""
    _scoped_record(ctx, user, record_id)
    with field_errors(StatusRuleError, RecordActionError):
        _check_agent(ctx, user, body.owner_agent_id)
        actions.set_status(
            ctx.db,
            record_id,
            body.status_id,
            actor=user.actor,
            now=dt.datetime.now(dt.UTC),
            owner_agent_id=body.owner_agent_id,
            date=body.date,
            note=body.note,
        )
    return record_get(record_id, user, ctx)


def _act(
    ctx: ApiContext, user: Principal, campaign_id: int, ids: list[int], body: ActionIn
) -> ActionOut:
    with field_errors(RecordActionError):
        _check_agent(ctx, user, body.agent_id)
        result = actions.act(
            ctx.db,
            campaign_id,
            ids,
            body.action,
            actor=user.actor,
            now=dt.datetime.now(dt.UTC),
            agent_id=body.agent_id,
        )
    return ActionOut(
        action=result.action,
        changed=result.changed,
        skipped={k: v.value for k, v in result.skipped.items()},
    )


@router.post("/records/{record_id}/actions")
def record_action(record_id: RecordId, body: ActionIn, user: Leader, ctx: Ctx) -> ActionOut:
    """Reassign / release the callback, call next, park or unpark one record."""
    record = _scoped_record(ctx, user, record_id)
    return _act(ctx, user, record.campaign_id, [record_id], body)


@router.post("/campaigns/{campaign_id}/records/actions")
def records_bulk(campaign_id: CampaignId, body: BulkIn, user: Leader, ctx: Ctx) -> ActionOut:
    """The same actions on many records: those in ``ids``, or every record the filter
    matches in the user's scope (at most ``MAX_BULK``); skipped records say why."""
    if (body.ids is None) == (body.filter is None):
        raise invalid("ids", "give either ids (the records selected) or filter (every match)")
    if body.filter is not None:
        query = records_query(ctx, user, campaign_id, RecordFilter(**body.filter.model_dump()))
        with ctx.session() as session:
            ids = [
                int(rid)
                for rid in session.execute(
                    query.with_only_columns(col(Record.id)).limit(actions.MAX_BULK + 1)
                ).scalars()
            ]
    else:
        ids = list(body.ids or [])
        scope = agent_ids_in_scope(ctx, user)
        if scope is not None:
            with ctx.session() as session:
                owners = dict(
                    session.execute(
                        sa.select(col(Record.id), col(Record.owner_agent_id)).where(
                            col(Record.id).in_(ids)
                        )
                    ).all()
                )
            outside = [rid for rid in ids if owners.get(rid) not in scope]
            if outside:
                raise RecordNotFoundError(outside[0])
    return _act(ctx, user, campaign_id, ids, body)
