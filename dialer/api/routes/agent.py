"""The agent's own actions and lists: log in to a seat, ready, pause, log out, set a status
(once per call), hang up, dial or skip a preview, call a callback back now, dial a typed
number; own callbacks and own call history; the screen pop's record card and history.

Actions go to the engine running in this process (503 when there is none). Handlers that
touch the engine run on the engine's event loop (``async def``) and do their database work
in the thread pool, except the desk's own dials, whose one-record claim runs with the
engine's check on the loop (as the engine's reserved claims do). A refusal by the agent's
state machine or the engine answers 409 with the engine's message (a refused dial also
with ``reason``, a stable code); a request that names a wrong field answers 422 naming
it. Every accepted action is written to the audit log with the user as actor.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from campaigns.desk import record_card
from campaigns.dispositions import campaign_statuses
from campaigns.enums import DialMode, PreviewTimeout, SystemStatus
from campaigns.models import Campaign, Record
from campaigns.status_engine import DATED_STATUSES, StatusRuleError
from campaigns.statuses import audit
from dialer.api.context import ApiContext, EngineLink
from dialer.api.queries import Callback, CallFilter, agent_callbacks, call_page
from dialer.api.routes.admin_common import MAX_ID, rule_refused
from dialer.api.routes.calls import MAX_PAGE_SIZE, CallList, invalid
from dialer.api.security import AgentUser, Ctx, Principal
from dialer.engine.actions import REFUSALS
from dialer.engine.agents import Phase
from dialer.errors import error_id_of

router = APIRouter(prefix="/api/agent", tags=["agent"])

_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
#: How far ahead a next-contact date may be (a later one is taken for a typing mistake).
MAX_AHEAD = dt.timedelta(days=5 * 366)
_NO_ENGINE = (
    "the dialer engine does not run in this process: agent actions need the API served by "
    "`dialer run --http HOST:PORT`"
)


class ErrorOut(BaseModel):
    """An error answer."""

    error: str
    detail: str


_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Refused by the agent's state or the engine"},
    503: {"model": ErrorOut, "description": "No engine runs in this process"},
}


class ScreenRecord(BaseModel):
    """The called person's record, for the screen pop."""

    id: int
    phone: str
    name: str
    fields: dict[str, Any]
    system_status: str | None = None
    attempt: int | None = None


class PastCallOut(BaseModel):
    """An earlier call of the record (newest first)."""

    dial_at: dt.datetime
    agent: str | None
    outcome: str | None
    status: str | None
    system_status: str | None
    note: str
    talk_s: float | None


class RecordCardOut(BaseModel):
    """What the screen pop shows beside the record's fields: its list, status, the
    callback's owner, date and note, and its previous calls."""

    record_id: int
    list_name: str | None
    status: str | None
    system_status: str
    attempts: int
    owner: str | None = Field(description="The callback's owner (MY_RECORD), else null")
    next_call_at: dt.datetime | None
    callback_note: str | None = Field(description="The note of the call that booked it")
    history: list[PastCallOut]


class CurrentCall(BaseModel):
    """The call the agent is reserved for, talking on or wrapping up."""

    call_id: str
    campaign: int
    phase: str
    connected_at: dt.datetime | None = None
    record: ScreenRecord
    card: RecordCardOut | None = None


class StatusChoice(BaseModel):
    """A status the agent may give a call in this campaign."""

    id: int
    name: str
    system_status: SystemStatus
    needs_date: bool = Field(description="MY_RECORD and NOT_BEFORE need a future date")


class AgentState(BaseModel):
    """The agent's live state; ``phase`` is ``logged_out`` and the rest empty when not in."""

    agent: int
    phase: Phase
    pause_reason: str | None = None
    pending: Phase | None = Field(
        default=None, description="A pause or log-out asked for during a call"
    )
    campaign: int | None = None
    campaign_name: str | None = None
    seat: str | None = None
    call: CurrentCall | None = None
    statuses: list[StatusChoice] = Field(
        default_factory=list, description="The campaign's statuses (when logged in)"
    )
    dial_mode: DialMode | None = Field(
        default=None, description="The campaign's dial mode (preview: the agent dials)"
    )
    preview: ScreenRecord | None = Field(
        default=None, description="The record shown for the agent to dial or skip"
    )
    preview_card: RecordCardOut | None = None
    preview_left_s: float | None = Field(
        default=None, description="Seconds before the preview times out (null: no limit)"
    )
    preview_then: PreviewTimeout | None = Field(
        default=None, description="What the timeout does: skip or dial"
    )


class LoginIn(BaseModel):
    """Log in to a campaign at a seat."""

    campaign: int = Field(ge=1, le=MAX_ID)
    seat: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="The seat (phone) to use; the agent's extension when left out",
    )


class PauseIn(BaseModel):
    """Pause now, or after the current call."""

    reason: str = Field(min_length=1, max_length=64, pattern=r"\S")


class StatusIn(BaseModel):
    """The status of a call, after (or during) it."""

    call_id: str = Field(min_length=1, max_length=64)
    status: int = Field(ge=1, le=MAX_ID, description="Status id (see ``statuses`` in the state)")
    date: AwareDatetime | None = Field(
        default=None,
        description="Next contact, with its time zone; required (and in the future) for "
        "MY_RECORD and NOT_BEFORE statuses",
    )
    note: str = Field(default="", max_length=2000)


def _unavailable() -> JSONResponse:
    return JSONResponse({"error": "engine_unavailable", "detail": _NO_ENGINE}, status_code=503)


def _agent_id(user: Principal) -> int:
    if user.agent_id is None:  # an agent user is always tied to an agent
        raise HTTPException(403, detail="this user is not tied to an agent")
    return user.agent_id


class DialNumberIn(BaseModel):
    """A number the agent types to dial now."""

    number: str = Field(min_length=3, max_length=32, pattern=r"^[0-9+()./ -]+$")


def _card(conn: sa.Connection, record_id: int, call_id: str | None) -> RecordCardOut | None:
    card = record_card(conn, record_id, exclude_call=call_id)
    return None if card is None else RecordCardOut.model_validate(card, from_attributes=True)


def _choices(
    ctx: ApiContext, state: AgentState
) -> tuple[str | None, DialMode | None, list[StatusChoice]]:
    campaign_id = state.campaign
    with ctx.db.connect() as conn:
        row = conn.execute(
            sa.select(_CAMPAIGN.c.name, _CAMPAIGN.c.dial_mode).where(_CAMPAIGN.c.id == campaign_id)
        ).first()
        options = campaign_statuses(conn, campaign_id or 0)
        if state.call is not None:
            state.call.card = _card(conn, state.call.record.id, state.call.call_id)
        if state.preview is not None:
            state.preview_card = _card(conn, state.preview.id, None)
    name, mode = (row.name, DialMode(row.dial_mode)) if row is not None else (None, None)
    return (
        name,
        mode,
        [
            StatusChoice(
                id=o.id,
                name=o.name,
                system_status=o.system_status,
                needs_date=o.system_status in DATED_STATUSES,
            )
            for o in options
            if o.active and not o.hidden
        ],
    )


async def _state(ctx: ApiContext, engine: EngineLink, agent_id: int) -> AgentState:
    snap = engine.agent_snapshot(agent_id)
    if snap is None:
        return AgentState(agent=agent_id, phase=Phase.LOGGED_OUT)
    state = AgentState(
        agent=agent_id,
        phase=Phase(snap["phase"]),
        pause_reason=snap.get("pause_reason"),
        pending=Phase(snap["pending"]) if snap.get("pending") else None,
        campaign=snap.get("campaign"),
        seat=snap.get("seat"),
        call=CurrentCall.model_validate(snap["call"]) if snap.get("call") else None,
        preview=ScreenRecord.model_validate(snap["preview"]) if snap.get("preview") else None,
        preview_left_s=snap.get("preview_left_s"),
        preview_then=snap.get("preview_then"),
    )
    if state.phase is Phase.LOGGED_OUT or state.campaign is None:
        return AgentState(agent=agent_id, phase=Phase.LOGGED_OUT)
    state.campaign_name, state.dial_mode, state.statuses = await run_in_threadpool(
        _choices, ctx, state
    )
    return state


def _refused(exc: Exception) -> JSONResponse:
    error = error_id_of(exc)
    detail = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if isinstance(exc, KeyError):
        detail = f"missing field {detail}"
    body = {"error": error, "detail": detail}
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and error == "dial_refused":
        body["reason"] = reason  # a stable code the desk says in the user's language
    return JSONResponse(body, status_code=409)


def _audit(ctx: ApiContext, user: Principal, action: str, details: dict[str, Any]) -> None:
    with ctx.session() as session:
        audit(
            session,
            actor=user.actor,
            action=f"agent.{action}",
            entity="agent",
            entity_id=user.agent_id,
            details=details,
        )


async def _act(
    ctx: ApiContext, user: Principal, action: str, payload: dict[str, Any]
) -> AgentState | JSONResponse:
    """Hand an action to the engine; on success audit it and answer the new state."""
    engine = ctx.engine
    if engine is None:
        return _unavailable()
    agent_id = _agent_id(user)
    try:
        engine.agent_command(agent_id, action, payload)
    except StatusRuleError as exc:  # the record's own rules, checked by the engine
        field = {"status_id": "status"}.get(exc.field, exc.field)
        raise rule_refused(exc, field) from exc
    except REFUSALS as exc:
        return _refused(exc)
    state = await _state(ctx, engine, agent_id)
    details = {**payload, "phase": state.phase.value}
    await run_in_threadpool(_audit, ctx, user, action, details)
    return state


@router.get("/state", response_model=AgentState, responses={503: _ACTION_ERRORS[503]})
async def agent_state(user: AgentUser, ctx: Ctx) -> Any:
    """The agent's live state, the current call's record (screen pop) and the campaign's
    statuses; ``{"phase": "logged_out"}`` when not logged in."""
    if ctx.engine is None:
        return _unavailable()
    return await _state(ctx, ctx.engine, _agent_id(user))


@router.post("/login", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_login(body: LoginIn, user: AgentUser, ctx: Ctx) -> Any:
    """Log in to a running or paused campaign at a seat (default: the agent's extension);
    the agent is paused until the seat answers, then ready."""
    payload: dict[str, Any] = {"campaign": body.campaign}
    if body.seat:
        payload["seat"] = body.seat
    return await _act(ctx, user, "login", payload)


@router.post("/ready", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_ready(user: AgentUser, ctx: Ctx) -> Any:
    """Take calls (end a pause)."""
    return await _act(ctx, user, "ready", {})


@router.post("/pause", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_pause(body: PauseIn, user: AgentUser, ctx: Ctx) -> Any:
    """Pause with a reason: now, or after the current call."""
    return await _act(ctx, user, "pause", {"reason": body.reason.strip()})


@router.post("/logout", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_logout(user: AgentUser, ctx: Ctx) -> Any:
    """Log out: now, or after the current call."""
    return await _act(ctx, user, "logout", {})


def _check_status(ctx: ApiContext, campaign_id: int, body: StatusIn) -> None:
    """422 naming ``status`` or ``date`` when the engine would refuse them."""
    with ctx.db.connect() as conn:
        offered = {o.id: o for o in campaign_statuses(conn, campaign_id) if o.active}
    option = offered.get(body.status)
    if option is None:
        names = ", ".join(f"{o.name} ({o.id})" for o in offered.values()) or "none"
        problem = f"status {body.status} is not offered by this campaign; one of: {names}"
        raise invalid("status", problem, where="body")
    if option.system_status in DATED_STATUSES:
        if body.date is None:
            raise invalid(
                "date",
                f"{option.name!r} ({option.system_status.value}) needs the next contact date",
                where="body",
            )
        now = dt.datetime.now(dt.UTC)
        if body.date <= now:
            raise invalid("date", "must be in the future", where="body")
        if body.date > now + MAX_AHEAD:
            raise invalid("date", f"at most {MAX_AHEAD.days} days ahead", where="body")
    elif body.date is not None:
        raise invalid(
            "date",
            f"{option.name!r} ({option.system_status.value}) takes no date; leave it out",
            where="body",
        )


@router.post("/status", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_status(body: StatusIn, user: AgentUser, ctx: Ctx) -> Any:
    """Give the current call a status (with a next-contact date for MY_RECORD and
    NOT_BEFORE, and a note); ends the wrap-up, or the call's wrap-up ahead of time."""
    if ctx.engine is None:
        return _unavailable()
    snap = ctx.engine.agent_snapshot(_agent_id(user))
    if snap is not None and snap.get("phase") != Phase.LOGGED_OUT.value and snap.get("campaign"):
        # Not logged in: the engine's refusal (409) says so better than a field error.
        await run_in_threadpool(_check_status, ctx, int(snap["campaign"]), body)
    payload: dict[str, Any] = {"call_id": body.call_id, "status": body.status, "note": body.note}
    if body.date is not None:
        payload["date"] = body.date.isoformat()
    return await _act(ctx, user, "status", payload)


@router.post("/hangup", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_hangup(user: AgentUser, ctx: Ctx) -> Any:
    """End the agent's current call on the PBX; the agent then wraps up (409 when it has
    no call up)."""
    return await _act(ctx, user, "hangup", {})


@router.post("/preview/dial", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_preview_dial(user: AgentUser, ctx: Ctx) -> Any:
    """Dial the record shown to the agent (preview campaigns), with the agent reserved."""
    return await _act(ctx, user, "preview_dial", {})


@router.post("/preview/skip", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_preview_skip(user: AgentUser, ctx: Ctx) -> Any:
    """Skip the record shown to the agent: given back undialed; the next one follows."""
    return await _act(ctx, user, "preview_skip", {})


@router.post("/dial", response_model=AgentState, responses=_ACTION_ERRORS)
async def agent_dial_number(body: DialNumberIn, user: AgentUser, ctx: Ctx) -> Any:
    """Dial a number now for this agent (reserved: nobody is dropped), in the campaign it
    works: the record of that number, created in the "Manual dials" list when new. Refused
    (409, ``reason``) on a DNC list, outside the person's window or the campaign's hours."""
    return await _act(ctx, user, "dial_number", {"number": body.number.strip()})


def _own_callback(ctx: ApiContext, agent_id: int, record_id: int) -> None:
    rec = Record.__table__.c  # type: ignore[attr-defined]
    with ctx.db.connect() as conn:
        mine = conn.execute(
            sa.select(rec.id).where(
                rec.id == record_id,
                rec.owner_agent_id == agent_id,
                rec.system_status == SystemStatus.MY_RECORD.value,
            )
        ).first()
    if mine is None:
        raise HTTPException(404, detail=f"record {record_id} is not one of your callbacks")


@router.post(
    "/callbacks/{record_id}/dial",
    response_model=AgentState,
    responses={**_ACTION_ERRORS, 404: {"model": ErrorOut, "description": "Not your callback"}},
)
async def agent_call_back_now(
    record_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: AgentUser, ctx: Ctx
) -> Any:
    """Call one of the agent's own callbacks now, ahead of its date, with the agent
    reserved (nobody is dropped)."""
    if ctx.engine is None:
        return _unavailable()
    await run_in_threadpool(_own_callback, ctx, _agent_id(user), record_id)
    return await _act(ctx, user, "dial_record", {"record": record_id})


@router.get("/callbacks")
def agent_callbacks_list(user: AgentUser, ctx: Ctx) -> list[Callback]:
    """The agent's own callbacks (MY_RECORD records), soonest first."""
    with ctx.db.connect() as conn:
        return agent_callbacks(conn, _agent_id(user))


@router.get("/calls")
def agent_calls(
    user: AgentUser,
    ctx: Ctx,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CallList:
    """The agent's own calls, newest first."""
    f = CallFilter(scope=frozenset({_agent_id(user)}))
    with ctx.db.connect() as conn:
        found = call_page(conn, f, page=page, page_size=page_size)
    return CallList.of(found, page, page_size)
