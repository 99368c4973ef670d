"""Supervisor dashboards: every campaign at a glance, and one campaign in detail.

Live figures come from the engine when it runs the campaign in this process (``live`` is
null otherwise); abandonment and the last hour's chart come from the call log, so they are
there whether or not the engine runs. A group leader sees its group's agents only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from campaigns.abandonment import day_start
from campaigns.models import CallLog, Campaign
from campaigns.statuses import audit
from dialer.api.context import ApiContext, EngineLink
from dialer.api.idle import RecordFacts, record_facts, why_idle
from dialer.api.queries import (
    Abandonment,
    AbandonmentFigures,
    AgentInfo,
    Series,
    abandon_cap,
    abandonment,
    agents_in,
    minute_series,
)
from dialer.api.routes.admin_common import MAX_ID
from dialer.api.routes.campaigns import IdleReasonOut, idle_out
from dialer.api.security import Ctx, Leader, Principal, agent_ids_in_scope
from dialer.engine.actions import REFUSALS
from dialer.engine.agents import Phase
from dialer.errors import error_id_of

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])

_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_CALL_LOG = CallLog.__table__  # type: ignore[attr-defined]


class CallsNow(BaseModel):
    """Calls up right now."""

    ringing: int
    waiting: int = Field(description="Answered, waiting for an agent")
    talking: int


class LiveFigures(BaseModel):
    """What the engine reports for a campaign it runs (counts since the engine started)."""

    state: str
    dial_level: float = Field(description="Calls ringing per agent taking calls")
    calls: CallsNow
    agents: dict[str, int] = Field(description="Agents logged in to the campaign, by phase")
    dials: int
    answered: int
    connected: int
    dropped: int
    abandon_rate: float
    occupancy: float = Field(description="Talk time / logged-in time of the campaign's agents")
    list_exhausted: bool = False
    outside_hours: bool = False
    paused_reason: str | None = Field(
        default=None, description="Why the engine paused the campaign by itself (else null)"
    )
    alerts: dict[str, str] = Field(
        default_factory=dict,
        description="What keeps the engine from dialing as it should, by code "
        "(no_seat, overload): the engine's message",
    )


class AbandonWindow(BaseModel):
    """Dropped / (connected + dropped) over one window."""

    since: dt.datetime
    connected: int
    dropped: int
    rate: float
    over_cap: bool

    @classmethod
    def of(cls, a: Abandonment, cap: float) -> AbandonWindow:
        """The window's figures against ``cap``."""
        return cls(
            since=a.since,
            connected=a.connected,
            dropped=a.dropped,
            rate=a.rate,
            over_cap=a.rate > cap,
        )


class AbandonFigures(BaseModel):
    """Abandonment today (since midnight in the campaign's hours zone), over the last
    24 hours and the last 30 days (the legal windows), and over the last hour (no law
    judges an hour; supervisors watch it), against the cap of the campaign's pacing
    profile."""

    cap: float
    today: AbandonWindow
    rolling_24h: AbandonWindow
    rolling_30d: AbandonWindow
    last_hour: AbandonWindow

    @classmethod
    def of(cls, f: AbandonmentFigures) -> AbandonFigures:
        """The API form of the figures."""
        return cls(
            cap=f.cap,
            today=AbandonWindow.of(f.today, f.cap),
            rolling_24h=AbandonWindow.of(f.rolling_24h, f.cap),
            rolling_30d=AbandonWindow.of(f.rolling_30d, f.cap),
            last_hour=AbandonWindow.of(f.last_hour, f.cap),
        )


class AgentLine(BaseModel):
    """An agent logged in to the campaign."""

    agent_id: int
    login: str
    name: str
    group_id: int | None
    phase: Phase
    pause_reason: str | None = None
    pending: Phase | None = None
    call_id: str | None = None
    seat: str | None = None
    in_state_s: float | None = Field(
        default=None, description="Seconds in the current phase (since its start)"
    )
    since: dt.datetime | None = Field(default=None, description="When the current phase began")
    overdue: str | None = Field(
        default=None,
        description="long_pause or stuck_wrapup when past http.dashboard_long_pause_s / "
        "dashboard_stuck_wrapup_s",
    )


class LiveCall(BaseModel):
    """A call up now."""

    call_id: str
    record_id: int | None
    phone: str
    agent_id: int | None
    agent: str | None = Field(description="The agent's name (or login) when one has it")
    state: str = Field(description="dialing, screening, waiting, talking")
    duration_s: float = Field(description="Seconds since the dial")
    talk_s: float | None = Field(description="Seconds since the person was connected")


class MinuteFigures(BaseModel):
    """Calls dialed in one minute (UTC), as the call log has them."""

    at: dt.datetime
    dials: int
    answered: int = Field(description="A person answered (connected or dropped)")
    connected: int
    dropped: int
    machines: int


class TodayFigures(BaseModel):
    """The campaign's calls today (since midnight in its hours zone), from the call log:
    the one "connected" figure the dashboard shows (the abandonment gauge's too)."""

    since: dt.datetime
    dials: int
    answered: int = Field(description="A person answered: connected or dropped")
    connected: int
    dropped: int


class CampaignHead(BaseModel):
    """Which campaign."""

    id: int
    name: str
    state: str
    pacing_profile: str


class CampaignDashboard(BaseModel):
    """One campaign's dashboard."""

    campaign: CampaignHead
    live: LiveFigures | None = Field(description="Null when no engine here runs the campaign")
    abandonment: AbandonFigures
    agents: list[AgentLine]
    series: list[MinuteFigures] = Field(description="The last 60 minutes, oldest first")
    generated_at: dt.datetime
    idle: list[IdleReasonOut] = Field(
        default_factory=list, description="Why the campaign does not dial now (empty: it may)"
    )
    calls: list[LiveCall] = Field(
        default_factory=list, description="Calls up now, oldest first (the engine's)"
    )
    today: TodayFigures | None = None


class CampaignLine(BaseModel):
    """One campaign in the overview."""

    campaign: CampaignHead
    live: LiveFigures | None
    connected_today: int = Field(
        default=0, description="People connected to an agent today (the call log's count)"
    )


@dataclass(frozen=True)
class _Stored:
    campaign: CampaignHead
    figures: AbandonmentFigures
    series: Series
    agents: list[AgentInfo]
    facts: RecordFacts
    paused_reason: str | None
    dials_today: int


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key reading digit runs as numbers: "Agent 2" before "Agent 10"."""
    parts = re.split(r"(\d+)", text.casefold())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _head(row: Any) -> CampaignHead:
    return CampaignHead(
        id=row.id, name=row.name, state=row.state, pacing_profile=row.pacing_profile
    )


def _stored(ctx: ApiContext, user: Principal, campaign_id: int, now: dt.datetime) -> _Stored:
    """What the database says about the campaign (runs in the thread pool)."""
    with ctx.db.connect() as conn:
        row = conn.execute(sa.select(_CAMPAIGN).where(_CAMPAIGN.c.id == campaign_id)).first()
        if row is None:
            raise HTTPException(404, detail=f"campaign {campaign_id} does not exist")
        cap = abandon_cap(ctx.settings.pacing.profiles_dir, row.pacing_profile)
        figures = abandonment(conn, campaign_id, now=now, tz_name=row.hours_tz, cap=cap)
        series = minute_series(conn, campaign_id, now=now)
        facts = record_facts(conn, row, now)
        dials_today = _dials_since(conn, campaign_id, figures.today.since)
    scope = agent_ids_in_scope(ctx, user)
    with ctx.db.connect() as conn:
        agents = agents_in(conn, None if scope is None else frozenset(scope))
    return _Stored(_head(row), figures, series, agents, facts, row.paused_reason, dials_today)


def _dials_since(conn: sa.Connection, campaign_id: int, since: dt.datetime) -> int:
    c = _CALL_LOG.c
    query = sa.select(sa.func.count()).where(c.campaign_id == campaign_id, c.dial_at >= since)
    return int(conn.execute(query).scalar_one())


def _connected_since(conn: sa.Connection, campaign_id: int, since: dt.datetime) -> int:
    c = _CALL_LOG.c
    query = sa.select(sa.func.count()).where(c.campaign_id == campaign_id, c.connect_at >= since)
    return int(conn.execute(query).scalar_one())


def _live(engine: EngineLink | None, campaign_id: int) -> LiveFigures | None:
    stats = engine.campaign_stats(campaign_id) if engine is not None else None
    return LiveFigures.model_validate(stats) if stats is not None else None


def _overdue(ctx: ApiContext, phase: Phase, in_state_s: float | None) -> str | None:
    http = ctx.settings.http
    if in_state_s is None:
        return None
    if phase is Phase.PAUSED and in_state_s > http.dashboard_long_pause_s:
        return "long_pause"
    if phase is Phase.WRAP_UP and in_state_s > http.dashboard_stuck_wrapup_s:
        return "stuck_wrapup"
    return None


def _agent_lines(
    ctx: ApiContext, campaign_id: int, agents: list[AgentInfo], now: dt.datetime
) -> list[AgentLine]:
    engine = ctx.engine
    if engine is None:
        return []
    lines = []
    for agent in agents:
        snap = engine.agent_snapshot(agent.id)
        if snap is None or snap.get("campaign") != campaign_id:
            continue
        if snap.get("phase") == Phase.LOGGED_OUT.value:
            continue
        call = snap.get("call") or {}
        in_state = snap.get("in_state_s")
        phase = Phase(snap["phase"])
        lines.append(
            AgentLine(
                agent_id=agent.id,
                login=agent.login,
                name=agent.name,
                group_id=agent.group_id,
                phase=phase,
                pause_reason=snap.get("pause_reason"),
                pending=Phase(snap["pending"]) if snap.get("pending") else None,
                call_id=call.get("call_id"),
                seat=snap.get("seat"),
                in_state_s=in_state,
                since=now - dt.timedelta(seconds=in_state) if in_state is not None else None,
                overdue=_overdue(ctx, phase, in_state),
            )
        )
    return sorted(lines, key=lambda line: (natural_key(line.name or line.login), line.agent_id))


def _live_calls(
    engine: EngineLink | None,
    campaign_id: int,
    agents: list[AgentInfo],
    user: Principal,
    ctx: ApiContext,
) -> list[LiveCall]:
    """The engine's calls up now; a group leader sees those of its agents only."""
    calls = engine.campaign_calls(campaign_id) if engine is not None else None
    if not calls:
        return []
    names = {a.id: a.name or a.login for a in agents}
    scope = agent_ids_in_scope(ctx, user)
    return [
        LiveCall(
            call_id=c["call_id"],
            record_id=c.get("record_id"),
            phone=c["phone"],
            agent_id=c.get("agent"),
            agent=names.get(c["agent"]) if c.get("agent") is not None else None,
            state=c["state"],
            duration_s=c["duration_s"],
            talk_s=c.get("talk_s"),
        )
        for c in calls
        if scope is None or c.get("agent") in scope
    ]


@router.get("")
async def dashboard_overview(user: Leader, ctx: Ctx) -> list[CampaignLine]:
    """Every campaign with its state and, when the engine here runs it, its live figures."""
    del user

    now = ctx.clock()

    def rows() -> list[tuple[Any, int]]:
        with ctx.db.connect() as conn:
            found = conn.execute(sa.select(_CAMPAIGN).order_by(_CAMPAIGN.c.id)).all()
            return [
                (row, _connected_since(conn, row.id, day_start(now, row.hours_tz))) for row in found
            ]

    return [
        CampaignLine(campaign=_head(row), live=_live(ctx.engine, row.id), connected_today=n)
        for row, n in await run_in_threadpool(rows)
    ]


@router.get("/{campaign_id}", responses={404: {"description": "No such campaign"}})
async def campaign_dashboard(
    campaign_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: Leader, ctx: Ctx
) -> CampaignDashboard:
    """One campaign: live figures (agents by state, calls ringing/waiting/talking, dial
    level, occupancy), abandonment today / 24 h / 30 d against the cap, the agents logged
    in to it (a group leader: its group's) and the last hour per minute."""
    now = ctx.clock()
    stored = await run_in_threadpool(_stored, ctx, user, campaign_id, now)
    live = _live(ctx.engine, campaign_id)
    stats = ctx.engine.campaign_stats(campaign_id) if ctx.engine is not None else None
    return CampaignDashboard(
        campaign=stored.campaign,
        live=live,
        idle=idle_out(why_idle(stored.campaign.state, stored.paused_reason, stats, stored.facts)),
        abandonment=AbandonFigures.of(stored.figures),
        agents=_agent_lines(ctx, campaign_id, stored.agents, now),
        calls=_live_calls(ctx.engine, campaign_id, stored.agents, user, ctx),
        today=TodayFigures(
            since=stored.figures.today.since,
            dials=stored.dials_today,
            answered=stored.figures.today.connected + stored.figures.today.dropped,
            connected=stored.figures.today.connected,
            dropped=stored.figures.today.dropped,
        ),
        series=[
            MinuteFigures(
                at=m.at,
                dials=m.dials,
                answered=m.answered,
                connected=m.connected,
                dropped=m.dropped,
                machines=m.machines,
            )
            for m in stored.series.minutes
        ],
        generated_at=now,
    )


class SupervisorAction(StrEnum):
    """What a supervisor may make an agent do from the dashboard."""

    READY = "ready"
    PAUSE = "pause"
    LOGOUT = "logout"


class AgentActionIn(BaseModel):
    """A pause reason for ``pause`` (default: the supervisor paused the agent)."""

    reason: str = Field(default="supervisor", max_length=64)


class AgentActionOut(BaseModel):
    """The agent's phase after the action."""

    agent_id: int
    phase: Phase


def _audit_agent(
    ctx: ApiContext, user: Principal, agent_id: int, action: str, details: dict[str, Any]
) -> None:
    with ctx.session() as session:
        audit(
            session,
            actor=user.actor,
            action=f"agent.supervisor_{action}",
            entity="agent",
            entity_id=agent_id,
            details=details,
        )


@router.post(
    "/agents/{agent_id}/{action}",
    responses={
        404: {"description": "No such agent in the user's scope"},
        409: {"description": "Refused by the agent's state or the engine"},
        503: {"description": "No engine runs in this process"},
    },
)
async def dashboard_agent_action(
    agent_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    action: SupervisorAction,
    user: Leader,
    ctx: Ctx,
    body: AgentActionIn | None = None,
) -> Any:
    """Force an agent ready or paused, or log it out (a group leader: its group's agents),
    through the engine's agent-action dispatcher; audited as ``agent.supervisor_<action>``
    with the phase before and after."""
    scope = agent_ids_in_scope(ctx, user)
    if scope is not None and agent_id not in scope:
        raise HTTPException(404, detail=f"agent {agent_id} is not in your group")
    engine = ctx.engine
    if engine is None:
        return JSONResponse(
            {"error": "engine_unavailable", "detail": "no dialer engine runs in this process"},
            status_code=503,
        )
    before = engine.agent_snapshot(agent_id)
    if before is None or before.get("phase") == Phase.LOGGED_OUT.value:
        return JSONResponse(
            {"error": "agent_transition", "detail": f"agent {agent_id} is not logged in"},
            status_code=409,
        )
    payload: dict[str, Any] = {}
    if action is SupervisorAction.PAUSE:
        payload["reason"] = (body or AgentActionIn()).reason
    try:
        engine.agent_command(agent_id, action.value, payload)
    except REFUSALS as exc:
        return JSONResponse({"error": error_id_of(exc), "detail": str(exc)}, status_code=409)
    after = engine.agent_snapshot(agent_id) or {"phase": Phase.LOGGED_OUT.value}
    details = {"phase": {"from": before.get("phase"), "to": after.get("phase")}, **payload}
    await run_in_threadpool(_audit_agent, ctx, user, agent_id, action.value, details)
    return AgentActionOut(agent_id=agent_id, phase=Phase(after["phase"]))
