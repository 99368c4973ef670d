"""Campaigns: list, create, edit, start/pause/stop, and the pacing profiles to choose from.

Rules are validated by :func:`campaigns.service.validate_rules` (the CLI's validation), so
the API and ``dialer campaign create`` accept and refuse the same values; an error names the
field (422). A state change is written and audited first; then, when the engine runs in
this process, it re-reads the campaigns at once instead of at its next poll.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from campaigns.enums import CampaignState, DialMode, OwnerAbsentPolicy, PreviewTimeout, Role
from campaigns.models import Campaign, Record, utcnow
from campaigns.service import (
    CampaignRules,
    CampaignRulesError,
    campaign_hours,
    create_campaign,
    get_campaign,
    list_campaigns,
    summarize,
    validate_rules,
)
from campaigns.statuses import audit, campaign_statuses, name_key
from campaigns.windows import is_open
from dialer.api.context import ApiContext
from dialer.api.idle import IdleReason, RecordFacts, record_facts, why_idle
from dialer.api.routes.admin_common import MAX_ID, Text, field_errors, invalid, unique
from dialer.api.routes.statuses import StatusOut, status_out
from dialer.api.security import Admin, Ctx, CurrentUser, Leader, Supervisor
from dialer.config import Settings
from dialer.errors import ROOT_ERRORS, DialerError
from pacing.profile import load_profile

router = APIRouter(prefix="/api", tags=["campaigns"])

CampaignId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Campaign id.")]
#: Longest retry delay accepted: a year.
MAX_DELAY_S = 366 * 24 * 3600
_LIVE_STATES = frozenset({CampaignState.RUNNING, CampaignState.PAUSED})

Delay = Annotated[int, Field(ge=0, le=MAX_DELAY_S)]
Weekday = Annotated[int, Field(ge=1, le=7)]
HHMM = Annotated[str, Field(max_length=5, examples=["09:00"])]
Zone = Annotated[str, Field(max_length=200, examples=["Europe/Warsaw"])]


# ------------------------------------------------------------------------------ models


class CampaignFields(BaseModel):
    """Campaign rules a supervisor sets; on create, a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    description: Text | None = Field(default=None, max_length=10_000)
    pacing_profile: str | None = Field(
        default=None, max_length=120, description="A profile of GET /api/pacing/profiles."
    )
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    retry_delays_s: dict[str, Delay] | None = Field(
        default=None,
        description="Seconds before a redial per outcome: default, busy, no_answer, "
        "congestion, failed, machine, dropped, invalid, answered.",
    )
    window_start: HHMM | None = Field(default=None, description="Called person's local time.")
    window_end: HHMM | None = None
    window_days: list[Weekday] | None = Field(
        default=None, max_length=7, description="ISO weekdays, 1 = Monday … 7 = Sunday."
    )
    default_region: str | None = Field(default=None, max_length=2, examples=["PL"])
    default_tz: Zone | None = None
    owner_absent_policy: OwnerAbsentPolicy | None = None
    owner_absent_release_min: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    max_wait_s: float | None = Field(default=None, gt=0, le=10)
    wrapup_timeout_s: int | None = Field(default=None, ge=0, le=3600)
    wrapup_default_status_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Status given when wrap-up times out: one the campaign offers.",
    )
    caller_id: str | None = Field(default=None, max_length=32, examples=["+48221234567"])
    hours_start: HHMM | None = Field(default=None, description="Campaign's own hours (hours_tz).")
    hours_end: HHMM | None = None
    hours_days: list[Weekday] | None = Field(default=None, max_length=7)
    hours_tz: Zone | None = None
    dial_mode: DialMode | None = Field(
        default=None, description="predictive, or preview: each agent dials its next record."
    )
    preview_timeout_s: int | None = Field(
        default=None, ge=0, le=3600, description="Seconds a preview waits (0 = no limit)."
    )
    preview_timeout_action: PreviewTimeout | None = Field(
        default=None, description="After the preview timeout: skip the record or dial it."
    )


class CampaignIn(CampaignFields):
    """A new campaign."""

    name: Text = Field(min_length=1, max_length=120)


class CampaignPatch(CampaignFields):
    """Changes to a campaign: only the fields given change (null clears an optional one)."""

    name: Text | None = Field(default=None, min_length=1, max_length=120)


class CampaignBrief(BaseModel):
    """What an agent sees of a campaign it may work."""

    id: int
    name: str
    state: CampaignState


class CampaignOut(CampaignBrief):
    """A campaign's rules."""

    paused_reason: str | None = Field(
        default=None, description="Why the engine paused the campaign by itself (else null)"
    )
    description: str
    pacing_profile: str
    max_attempts: int
    retry_delays_s: dict[str, int]
    window_start: str
    window_end: str
    window_days: list[int]
    default_region: str
    default_tz: str | None
    owner_absent_policy: OwnerAbsentPolicy
    owner_absent_release_min: int
    max_wait_s: float
    wrapup_timeout_s: int
    wrapup_default_status_id: int | None
    caller_id: str | None
    hours_start: str | None
    hours_end: str | None
    hours_days: list[int]
    hours_tz: str
    dial_mode: DialMode = DialMode.PREDICTIVE
    preview_timeout_s: int = 0
    preview_timeout_action: PreviewTimeout = PreviewTimeout.SKIP
    created_at: dt.datetime
    updated_at: dt.datetime


class RecordCounts(BaseModel):
    """How many records a campaign has, by system status."""

    total: int
    by_system_status: dict[str, int]


class CampaignListItem(CampaignOut):
    """A campaign in the supervisors' list."""

    records: RecordCounts
    hours_open: bool | None = Field(
        default=None, description="The campaign's own hours are open now (null: no hours)."
    )


def hours_open_now(row: Campaign, now: dt.datetime) -> bool | None:
    """Whether the campaign's own hours are open at ``now`` (None: it has none)."""
    hours = campaign_hours(row.hours_start, row.hours_end, row.hours_days)
    return None if hours is None else is_open(hours, row.hours_tz, now)


class RecordSummary(RecordCounts):
    """Where a campaign's records stand now."""

    due_now: int = Field(description="Callable now: due, window open, not DNC, attempts left.")
    waiting: int = Field(description="A retry, NOT_BEFORE or callback time still ahead.")
    outside_window: int = Field(description="Due, but their calling window is closed now.")
    in_flight: int
    dnc: int
    exhausted: int
    open_zones: list[str]
    closed_zones: list[str]
    parked: int = Field(default=0, description="Parked by a supervisor.")


class IdleReasonOut(BaseModel):
    """A reason a campaign does not dial, as a code and the values its sentence names."""

    code: str = Field(
        description="circuit_breaker, not_running, outside_hours, list_exhausted, "
        "nothing_due, outside_every_window, no_engine, no_agents, no_agent_ready, "
        "compliance_guard"
    )
    params: dict[str, Any] = Field(default_factory=dict)


def idle_out(reasons: list[IdleReason]) -> list[IdleReasonOut]:
    """The API form of :func:`dialer.api.idle.why_idle`'s answer."""
    return [IdleReasonOut(code=r.code, params=dict(r.params)) for r in reasons]


class CampaignDetail(CampaignOut):
    """A campaign with its statuses, its records' figures and, when running here, live
    figures from the engine."""

    statuses: list[StatusOut]
    records: RecordSummary
    live: dict[str, Any] | None = None
    hours_open: bool | None = Field(
        default=None, description="The campaign's own hours are open now (null: no hours)."
    )
    idle: list[IdleReasonOut] = Field(
        default_factory=list,
        description="Why the campaign does not dial now (empty: nothing stops it).",
    )


class CampaignStateOut(BaseModel):
    """The result of start, pause or stop."""

    id: int
    name: str
    state: CampaignState
    previous: CampaignState
    changed: bool
    engine_synced: bool = Field(description="The engine in this process applied it already.")


class PacingProfileOut(BaseModel):
    """A pacing profile file of the profiles folder."""

    name: str
    kind: str | None = Field(description="progressive, ratio or predictive (None: broken).")
    error: str | None = Field(description="Why the file does not load, if it does not.")


# ----------------------------------------------------------------------------- helpers


def campaign_out(row: Campaign) -> dict[str, Any]:
    """The fields of :class:`CampaignOut` for a campaign row."""
    return {name: getattr(row, name) for name in CampaignOut.model_fields}


def pacing_profiles(settings: Settings) -> list[PacingProfileOut]:
    """The ``*.toml`` profiles of ``settings.pacing.profiles_dir``, each loaded to check it."""
    folder = Path(settings.pacing.profiles_dir)
    try:
        paths = sorted(folder.glob("*.toml"))
    except OSError:
        return []
    out = []
    for path in paths:
        try:
            profile = load_profile(path)
        except ROOT_ERRORS as exc:
            out.append(PacingProfileOut(name=path.stem, kind=None, error=str(exc)))
        else:
            out.append(PacingProfileOut(name=path.stem, kind=profile.mode, error=None))
    return out


def _check_profile(settings: Settings, name: str) -> None:
    profiles = {p.name: p for p in pacing_profiles(settings)}
    found = profiles.get(name)
    if found is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise invalid("pacing_profile", f"{name!r} is not a pacing profile; profiles: {known}")
    if found.error is not None:
        raise invalid("pacing_profile", f"{name!r} does not load: {found.error}")


def _check_wrapup_status(session: Session, campaign_id: int, status_id: int | None) -> None:
    if status_id is None:
        return
    offered = campaign_statuses(session, campaign_id)
    if not any(row.id == status_id and row.active for row in offered):
        ids = ", ".join(f"{row.id} ({row.name})" for row in offered if row.active) or "none"
        raise invalid(
            "wrapup_default_status_id",
            f"{status_id} is not an active status of the campaign; its statuses: {ids}",
        )


def _rules_values(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key in CampaignRules.model_fields}


def _validated(values: dict[str, Any]) -> CampaignRules:
    with field_errors(CampaignRulesError):
        return validate_rules(**values)


def _find(session: Session, campaign_id: int) -> Campaign:
    """The campaign ``campaign_id`` (404 naming the known ones when it does not exist)."""
    return get_campaign(session, campaign_id)


def record_counts(session: Session) -> dict[int, dict[str, int]]:
    """Records per campaign and system status, for every campaign at once."""
    rows = session.exec(
        select(Record.campaign_id, Record.system_status, sa.func.count()).group_by(
            col(Record.campaign_id), col(Record.system_status)
        )
    )
    counts: dict[int, dict[str, int]] = {}
    for campaign_id, status, count in rows:
        counts.setdefault(campaign_id, {})[str(status)] = int(count)
    return counts


async def sync_engine(ctx: ApiContext) -> bool:
    """Have the engine in this process re-read campaigns now (on its event loop)."""
    if ctx.engine is None:
        return False
    ctx.engine.sync_campaigns()
    return True


# ------------------------------------------------------------------------------ routes


@router.get("/campaigns")
def campaigns_list(user: CurrentUser, ctx: Ctx) -> list[CampaignListItem] | list[CampaignBrief]:
    """Campaigns by name: for agents only those running or paused (id, name, state); for
    the others every campaign with its rules and record counts."""
    with ctx.session() as session:
        rows = list_campaigns(session)
        if user.role is Role.AGENT:
            return [
                CampaignBrief(id=row.id or 0, name=row.name, state=row.state)
                for row in rows
                if row.state in _LIVE_STATES
            ]
        counts = record_counts(session)
        now = utcnow()
        return [
            CampaignListItem(
                **campaign_out(row),
                records=RecordCounts(
                    total=sum(counts.get(row.id or 0, {}).values()),
                    by_system_status=counts.get(row.id or 0, {}),
                ),
                hours_open=hours_open_now(row, now),
            )
            for row in rows
        ]


@router.post("/campaigns", status_code=201)
def campaigns_create(body: CampaignIn, user: Admin, ctx: Ctx) -> CampaignOut:
    """Create a campaign (statuses flagged "add to every new campaign" are attached)."""
    values = _rules_values(body.model_dump(exclude_unset=True))
    values.setdefault("pacing_profile", ctx.settings.pacing.default_profile)
    rules = _validated(values)
    _check_profile(ctx.settings, rules.pacing_profile)
    with unique("name", rules.name), ctx.session() as session:
        with field_errors(CampaignRulesError):
            row = create_campaign(session, rules, actor=user.actor)
        _check_wrapup_status(session, row.id or 0, body.wrapup_default_status_id)
        if body.wrapup_default_status_id is not None:
            row.wrapup_default_status_id = body.wrapup_default_status_id
            session.add(row)
            audit(
                session,
                actor=user.actor,
                action="campaign.edit",
                entity="campaign",
                entity_id=row.id,
                details={
                    "changed": {"wrapup_default_status_id": [None, row.wrapup_default_status_id]}
                },
            )
        session.flush()
        return CampaignOut(**campaign_out(row))


def _detail(ctx: ApiContext, campaign_id: int) -> CampaignDetail:
    with ctx.session() as session:
        row = _find(session, campaign_id)
        summary = summarize(session, row, utcnow())
        statuses = [StatusOut(**status_out(s)) for s in summary.statuses]
    return CampaignDetail(
        **campaign_out(row),
        statuses=statuses,
        records=RecordSummary(
            total=summary.total,
            by_system_status=summary.by_system_status,
            due_now=summary.due_now,
            waiting=summary.waiting,
            outside_window=summary.outside_window,
            in_flight=summary.in_flight,
            dnc=summary.dnc,
            exhausted=summary.exhausted,
            open_zones=summary.open_zones,
            closed_zones=summary.closed_zones,
            parked=summary.parked,
        ),
    )


@router.get("/campaigns/{campaign_id}")
async def campaigns_get(campaign_id: CampaignId, user: Leader, ctx: Ctx) -> CampaignDetail:
    """A campaign: rules, statuses, where its records stand now, and live figures when the
    engine in this process runs it (read on the engine's event loop)."""
    del user
    detail = await run_in_threadpool(_detail, ctx, campaign_id)
    if ctx.engine is not None:
        detail.live = ctx.engine.campaign_stats(campaign_id)
    facts = await run_in_threadpool(_record_facts, ctx, campaign_id)
    detail.hours_open = facts.hours_open
    detail.idle = idle_out(why_idle(detail.state.value, detail.paused_reason, detail.live, facts))
    return detail


def _record_facts(ctx: ApiContext, campaign_id: int) -> RecordFacts:
    with ctx.db.connect() as conn:
        row = conn.execute(
            sa.select(Campaign.__table__).where(  # type: ignore[attr-defined]
                col(Campaign.id) == campaign_id
            )
        ).one()
        return record_facts(conn, row, utcnow())


def _edit(ctx: ApiContext, campaign_id: int, body: CampaignPatch, actor: str) -> CampaignOut:
    given = body.model_dump(exclude_unset=True)
    with unique("name", given.get("name")), ctx.session() as session:
        row = _find(session, campaign_id)
        before = campaign_out(row)
        values = {key: before[key] for key in CampaignRules.model_fields}
        values.update(_rules_values(given))
        rules = _validated(values)
        if "pacing_profile" in given:
            _check_profile(ctx.settings, rules.pacing_profile)
        wanted = name_key(rules.name)
        for other_id, other_name in session.exec(select(Campaign.id, Campaign.name)):
            if other_id != campaign_id and name_key(other_name) == wanted:
                raise invalid("name", f"{rules.name!r}: another campaign has this name")
        if "wrapup_default_status_id" in given:
            _check_wrapup_status(session, campaign_id, given["wrapup_default_status_id"])
            row.wrapup_default_status_id = given["wrapup_default_status_id"]
        new = rules.model_dump()
        new["window_days"] = sorted(set(new["window_days"]))
        new["hours_days"] = sorted(set(new["hours_days"]))
        for key, value in new.items():
            setattr(row, key, value)
        after = campaign_out(row)
        changed = {
            key: [_plain(before[key]), _plain(after[key])]
            for key in after
            if key not in {"updated_at", "created_at"} and before[key] != after[key]
        }
        if changed:
            row.updated_at = utcnow()
            session.add(row)
            audit(
                session,
                actor=actor,
                action="campaign.edit",
                entity="campaign",
                entity_id=campaign_id,
                details={"changed": changed},
            )
        session.flush()
        return CampaignOut(**campaign_out(row))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    plain = CampaignState | OwnerAbsentPolicy | DialMode | PreviewTimeout
    return str(value) if isinstance(value, plain) else value


@router.patch("/campaigns/{campaign_id}")
async def campaigns_edit(
    campaign_id: CampaignId, body: CampaignPatch, user: Admin, ctx: Ctx
) -> CampaignOut:
    """Change some rules of a campaign (validated like a new one); a running engine in
    this process applies them at once."""
    out = await run_in_threadpool(_edit, ctx, campaign_id, body, user.actor)
    await sync_engine(ctx)
    return out


def _set_state(
    ctx: ApiContext, campaign_id: int, state: CampaignState, verb: str, actor: str
) -> tuple[Campaign, CampaignState]:
    with ctx.session() as session:
        row = _find(session, campaign_id)
        before = CampaignState(row.state)
        if verb == "pause" and before not in _LIVE_STATES:
            raise CampaignStateError(row.name, before, verb)
        if before is not state or row.paused_reason:
            row.state = state
            row.paused_reason = None  # a person decided: the engine's reason no longer holds
            row.updated_at = utcnow()
            session.add(row)
            audit(
                session,
                actor=actor,
                action=f"campaign.{verb}",
                entity="campaign",
                entity_id=row.id,
                details={"from": before.value, "to": state.value},
            )
        return row, before


class CampaignStateError(DialerError):
    """A state change that makes no sense from the campaign's state."""

    error_id = "invalid_campaign_state"

    def __init__(self, name: str, state: CampaignState, verb: str) -> None:
        super().__init__(
            f"campaign {name!r} is {state.value}: only a running campaign can be {verb}d"
        )


async def _state_route(
    ctx: ApiContext, campaign_id: int, verb: str, actor: str
) -> CampaignStateOut:
    state = {
        "start": CampaignState.RUNNING,
        "pause": CampaignState.PAUSED,
        "stop": CampaignState.STOPPED,
    }[verb]
    row, before = await run_in_threadpool(_set_state, ctx, campaign_id, state, verb, actor)
    synced = await sync_engine(ctx) if before is not state else False
    return CampaignStateOut(
        id=row.id or 0,
        name=row.name,
        state=state,
        previous=before,
        changed=before is not state,
        engine_synced=synced,
    )


@router.post("/campaigns/{campaign_id}/start")
async def campaigns_start(campaign_id: CampaignId, user: Supervisor, ctx: Ctx) -> CampaignStateOut:
    """Start dialing (from draft, paused or stopped)."""
    return await _state_route(ctx, campaign_id, "start", user.actor)


@router.post("/campaigns/{campaign_id}/pause")
async def campaigns_pause(campaign_id: CampaignId, user: Supervisor, ctx: Ctx) -> CampaignStateOut:
    """Place no new calls; calls in progress finish normally."""
    return await _state_route(ctx, campaign_id, "pause", user.actor)


@router.post("/campaigns/{campaign_id}/stop")
async def campaigns_stop(campaign_id: CampaignId, user: Supervisor, ctx: Ctx) -> CampaignStateOut:
    """Stop: calls still ringing are hung up, answered ones finish."""
    return await _state_route(ctx, campaign_id, "stop", user.actor)


@router.get("/pacing/profiles")
def pacing_profiles_list(user: Supervisor, ctx: Ctx) -> list[PacingProfileOut]:
    """The pacing profiles a campaign may use (files of the profiles folder)."""
    del user
    return pacing_profiles(ctx.settings)
