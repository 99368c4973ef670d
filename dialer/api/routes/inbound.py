"""The missed-call worklist over HTTP: rows, history, hide/restore/delete, notes, "call
back", statistics, export, and which queues feed which callback campaign.

Scopes (as in the call log, narrowest for agents): every signed-in user sees the open rows
and their history, adds notes and asks for a callback (an agent for itself, a leader or
supervisor for any agent); group leaders and up also see hidden and closed rows, hide and
restore; administrators and heads delete rows, attach queues to campaigns and read the
statistics. Each change by a person is audited (:mod:`campaigns.inbound`) and published as
a live ``inbound/row`` event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from campaigns import inbound as wl
from campaigns.enums import Role, SystemStatus
from campaigns.models import Agent
from campaigns.phones import PhoneError, PhoneNormalizer
from dialer.api.context import ApiContext
from dialer.api.export import ExportFormat, export_response
from dialer.api.routes.admin_common import MAX_ID, AwareTime, Limit, Offset, Page, Text, invalid
from dialer.api.routes.admin_common import check_export as _check_export
from dialer.api.security import (
    Ctx,
    CurrentUser,
    Leader,
    Principal,
    Supervisor,
    forbidden,
)
from dialer.engine.actions import REFUSALS

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["worklist"])

RowId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Worklist row id.")]
QueueName = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
_QUEUE_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
STATES = ("open", "hidden", "closed")


class HistoryOut(BaseModel):
    """One line of a row's history."""

    at: dt.datetime
    kind: str
    outcome: str | None
    agent: str | None
    actor: str
    detail: str


class RowOut(BaseModel):
    """A worklist row."""

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


class RowDetail(RowOut):
    """A row with its history."""

    history: list[HistoryOut]


class CountOut(BaseModel):
    """Rows waiting in the worklist (the page header's counter)."""

    open: int


class NoteIn(BaseModel):
    """A note on a row."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(min_length=1, max_length=2000)


class CallbackIn(BaseModel):
    """Who calls the row back, from which campaign (default: the queue's)."""

    model_config = ConfigDict(extra="forbid")

    agent_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Default: you.")
    campaign_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class CallbackOut(BaseModel):
    """The record the engine dials for the callback (the agent is reserved first)."""

    row_id: int
    record_id: int
    agent_id: int
    dialing: bool = False
    """True: dialed now with the agent reserved (the agent was ready in that campaign);
    False: the record waits as the agent's callback, due now, and is dialed with the agent
    reserved as soon as the agent is ready in the callback campaign."""


class StatsOut(BaseModel):
    """Worklist figures of a period."""

    start: dt.datetime
    end: dt.datetime
    missed: int
    rows_new: int
    called_back: int
    callback_attempts: int
    reached: int
    removed_by_system: int
    removed_by_person: int
    still_open: int
    median_first_callback_s: float | None


class QueueLinkIn(BaseModel):
    """Feed a queue's misses to a callback campaign."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: int = Field(ge=1, le=MAX_ID)
    mode: Literal["CALL_PROGRESSIVE", "TO_CALL"] = SystemStatus.CALL_PROGRESSIVE.value


class QueueOut(BaseModel):
    """A queue known to the worklist and the campaign it feeds (if any)."""

    queue: str
    campaign_id: int | None
    mode: str | None


def configured_queues(ctx: ApiContext) -> tuple[list[str], bool]:
    """Queues the servers follow by name (and each one's "missed" queue), and whether some
    server follows every queue (then any well-formed name may be attached)."""
    names: set[str] = set()
    open_ended = False
    for server in ctx.settings.asterisk.servers:
        names |= set(server.inbound_queues)
        if server.inbound_missed_queue:
            names.add(server.inbound_missed_queue)
        if not server.inbound_queues:
            open_ended = True
    return sorted(names), open_ended


def _known(ctx: ApiContext) -> list[str]:
    return wl.known_queues(ctx.db, configured_queues(ctx)[0])


class WorklistFilter:
    """Filters of the list and its export."""

    def __init__(
        self,
        state: Annotated[
            list[Literal["open", "hidden", "closed"]] | None,
            Query(description="States shown (default: open)."),
        ] = None,
        queue: Annotated[list[str] | None, Query(description="Queues shown (default all).")] = None,
        max_age_h: Annotated[
            float | None, Query(gt=0, le=24 * 3650, description="Last miss at most this old.")
        ] = None,
        phone: Annotated[str | None, Query(max_length=40)] = None,
    ) -> None:
        self.states = list(state or ["open"])
        self.queues = list(queue or [])
        self.max_age_h = max_age_h
        self.phone = phone

    def resolve(self, ctx: ApiContext, user: Principal) -> wl.Filters:
        """The checked filters (an agent sees open rows only; unknown queue or number: 422)."""
        if user.role is Role.AGENT and any(s != "open" for s in self.states):
            raise forbidden((Role.ADMIN, Role.HEAD, Role.GROUP_LEADER))
        if self.queues:
            known = _known(ctx)
            for q in self.queues:
                if q not in known:
                    names = ", ".join(known) or "none yet"
                    raise invalid(
                        "queue", f"unknown queue {q!r}; known queues: {names}", where="query"
                    )
        phone = None
        if self.phone:
            try:
                phone = PhoneNormalizer(ctx.settings.inbound.region).e164(self.phone)
            except PhoneError as exc:
                raise invalid("phone", str(exc).removeprefix("phone: "), where="query") from exc
        return wl.Filters(
            states=self.states,
            queues=self.queues,
            max_age_s=self.max_age_h * 3600 if self.max_age_h is not None else None,
            phone=phone,
        )


def _out(row: wl.RowView) -> RowOut:
    return RowOut(**row.as_dict())


def _row_for(ctx: ApiContext, user: Principal, row_id: int) -> wl.RowView:
    row = wl.get_row(ctx.db, row_id)
    if user.role is Role.AGENT and row.state != wl.RowState.OPEN.value:
        raise wl.RowNotFoundError(row_id)  # outside an agent's scope: as if it did not exist
    return row


def _publish(ctx: ApiContext, row_id: int, action: str, user: Principal) -> RowOut:
    """Tell the pages what ``user`` did to the row; returns the row as it is now."""
    row = wl.get_row(ctx.db, row_id)
    ctx.hub.publish("inbound/row", {**row.as_dict(), "action": action, "actor": user.actor})
    return _out(row)


@router.get("/worklist")
def worklist(
    user: CurrentUser,
    ctx: Ctx,
    filters: Annotated[WorklistFilter, Depends()],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RowOut]:
    """Missed callers, the one waiting longest first."""
    f = filters.resolve(ctx, user)
    now = ctx.clock()
    page = wl.list_rows(ctx.db, f, now=now, limit=limit, offset=offset)
    total = wl.count_rows(ctx.db, f, now=now)
    return Page[RowOut](items=[_out(r) for r in page], total=total, limit=limit, offset=offset)


@router.get("/worklist/count")
def worklist_count(user: CurrentUser, ctx: Ctx) -> CountOut:
    """How many rows wait in the worklist (open, not hidden)."""
    del user
    return CountOut(open=wl.open_count(ctx.db))


@router.get("/worklist/stats")
def worklist_stats(
    user: Supervisor,
    ctx: Ctx,
    start: Annotated[AwareTime | None, Query(description="Default: 7 days before end.")] = None,
    end: Annotated[AwareTime | None, Query(description="Default: now.")] = None,
    queue: Annotated[list[str] | None, Query()] = None,
) -> StatsOut:
    """Missed, called back, reached, removed (by system / by person), still open, and the
    median time to the first callback, for rows first missed in ``[start, end)``."""
    del user
    stop = end or ctx.clock()
    if start is None and stop < dt.datetime.min.replace(tzinfo=dt.UTC) + dt.timedelta(days=7):
        raise invalid("end", "a time at least 7 days after 0001-01-01, or a start", where="query")
    begin = start or stop - dt.timedelta(days=7)
    if begin >= stop:
        raise invalid("start", "a time before end", where="query")
    s = wl.stats(ctx.db, begin, stop, queues=queue or [])
    return StatsOut(start=begin, end=stop, **s.as_dict())


@router.get(
    "/worklist/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/octet-stream": {}}}},
)
def worklist_export(
    user: Leader,
    ctx: Ctx,
    filters: Annotated[WorklistFilter, Depends()],
    format: Annotated[ExportFormat, Query(description="csv or xlsx")] = ExportFormat.CSV,
) -> Response:
    """The filtered rows as a CSV or XLSX file."""
    _check_export(ctx, user)
    f = filters.resolve(ctx, user)
    columns = tuple(RowOut.model_fields)

    def rows() -> Iterator[list[Any]]:
        for row in wl.list_rows(ctx.db, f, now=ctx.clock(), limit=1_000_000):
            data = row.as_dict()
            yield [data[c] for c in columns]

    return export_response(format, "worklist", columns, rows(), sheet="worklist")


@router.get("/worklist/{row_id}")
def worklist_row(row_id: RowId, user: CurrentUser, ctx: Ctx) -> RowDetail:
    """One row with its history (misses, callbacks with outcome and agent, notes, actions)."""
    row = _row_for(ctx, user, row_id)
    history = [HistoryOut(**h.as_dict()) for h in wl.history(ctx.db, row_id)]
    return RowDetail(**_out(row).model_dump(), history=history)


@router.post("/worklist/{row_id}/hide")
def worklist_hide(row_id: RowId, user: Leader, ctx: Ctx) -> RowOut:
    """Hide an open row (restorable; audited)."""
    wl.hide(ctx.db, row_id, actor=user.actor, now=ctx.clock())
    return _publish(ctx, row_id, "hidden", user)


@router.post("/worklist/{row_id}/restore")
def worklist_restore(row_id: RowId, user: Leader, ctx: Ctx) -> RowOut:
    """Bring a hidden row back (audited)."""
    wl.restore(ctx.db, row_id, actor=user.actor, now=ctx.clock())
    return _publish(ctx, row_id, "restored", user)


@router.delete("/worklist/{row_id}")
def worklist_delete(row_id: RowId, user: Supervisor, ctx: Ctx) -> RowOut:
    """Remove a row from the list (kept closed with who and when; audited)."""
    wl.delete(ctx.db, row_id, actor=user.actor, now=ctx.clock())
    return _publish(ctx, row_id, "deleted", user)


@router.post("/worklist/{row_id}/notes")
def worklist_note(row_id: RowId, body: NoteIn, user: CurrentUser, ctx: Ctx) -> RowDetail:
    """Add a note to a row's history."""
    _row_for(ctx, user, row_id)
    wl.add_note(ctx.db, row_id, body.text, actor=user.actor, now=ctx.clock())
    return worklist_row(row_id, user, ctx)


@router.post("/worklist/{row_id}/callback")
async def worklist_callback(
    row_id: RowId, body: CallbackIn, user: CurrentUser, ctx: Ctx
) -> CallbackOut:
    """Call the row back: its record in the callback campaign becomes the agent's own
    callback, due now; the engine reserves that agent, then dials (nobody is dropped) —
    at once when the agent is ready in that campaign, else as soon as it is."""
    out = await run_in_threadpool(_book_callback, row_id, body, user, ctx)
    if ctx.engine is not None:
        try:
            ctx.engine.agent_command(out.agent_id, "dial_record", {"record": out.record_id})
            out.dialing = True
        except REFUSALS as exc:  # the agent is not ready in that campaign: it waits
            log.info("worklist_callback_waits", row=row_id, agent=out.agent_id, reason=str(exc))
    return out


def _book_callback(row_id: int, body: CallbackIn, user: Principal, ctx: ApiContext) -> CallbackOut:
    _row_for(ctx, user, row_id)
    agent_id = body.agent_id
    if user.role is Role.AGENT:
        if user.agent_id is None:
            raise invalid("agent_id", "your user is not linked to an agent")
        if agent_id not in (None, user.agent_id):
            raise forbidden((Role.ADMIN, Role.HEAD, Role.GROUP_LEADER))
        agent_id = user.agent_id
    if agent_id is None:
        raise invalid("agent_id", "the agent who calls back (an agent id)")
    with ctx.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise invalid("agent_id", f"no active agent has id {agent_id}")
        if user.role is Role.GROUP_LEADER and agent.group_id != user.group_id:
            raise forbidden((Role.ADMIN, Role.HEAD))
    record_id = wl.request_callback(
        ctx.db,
        row_id,
        agent_id=agent_id,
        actor=user.actor,
        campaign_id=body.campaign_id,
        now=ctx.clock(),
    )
    _publish(ctx, row_id, "callback_requested", user)
    return CallbackOut(row_id=row_id, record_id=record_id, agent_id=agent_id)


@router.get("/inbound/queues")
def inbound_queues(user: CurrentUser, ctx: Ctx) -> list[QueueOut]:
    """Queues the worklist knows (configured, seen, attached) and the campaigns they feed."""
    del user
    attached = wl.attached_queues(ctx.db)
    return [
        QueueOut(
            queue=q,
            campaign_id=attached[q][0] if q in attached else None,
            mode=attached[q][1] if q in attached else None,
        )
        for q in _known(ctx)
    ]


@router.put("/inbound/queues/{queue}")
def inbound_queue_attach(
    queue: QueueName, body: QueueLinkIn, user: Supervisor, ctx: Ctx
) -> QueueOut:
    """Feed ``queue``'s misses (the open rows now and every later one) to a campaign,
    progressive by default (an agent reserved before each call)."""
    configured, open_ended = configured_queues(ctx)
    known: list[str] = [] if open_ended else wl.known_queues(ctx.db, configured)
    if not _QUEUE_RE.match(queue):
        raise invalid("queue", "a queue name of letters, digits, _ . @ -", where="path")
    wl.attach_queue(
        ctx.db, queue, body.campaign_id, actor=user.actor, known_queues=known, mode=body.mode
    )
    return QueueOut(queue=queue, campaign_id=body.campaign_id, mode=body.mode)


@router.delete("/inbound/queues/{queue}")
def inbound_queue_detach(queue: QueueName, user: Supervisor, ctx: Ctx) -> QueueOut:
    """Stop feeding ``queue``'s misses to its campaign."""
    if not wl.detach_queue(ctx.db, queue, actor=user.actor):
        raise invalid("queue", f"{queue!r} feeds no campaign", where="path")
    return QueueOut(queue=queue, campaign_id=None, mode=None)
