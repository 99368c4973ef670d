"""Callback requests: made by websites and CRMs with an API key, read by staff by role.

For sources (``X-API-Key: cbr_…``): ``POST /api/callback-requests`` (ASAP when no ``at``
is given, else scheduled at ``at`` in ``timezone``), ``GET`` one of its own requests,
``DELETE`` (or ``POST …/cancel``) to cancel one still waiting. A source gets at most its
``rate_per_min`` requests a minute; more are refused with 429 and ``Retry-After`` before
anything is read or written. Wrong keys are counted per client address: after
``BAD_KEYS_PER_MIN`` in a minute that address gets 429 too.

For staff (signed in): the list with filters (period, state, source, campaign), the
statistics per source, CSV/XLSX export — each role sees the requests its call log would
show (administrators and heads all, a group leader its group's agents', an agent its
own) — and, for administrators, the sources and their keys (created, listed, revoked).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from campaigns import requests as rq
from campaigns.errors import CampaignNotFoundError
from campaigns.phones import RegionError
from dialer.api.context import ApiContext
from dialer.api.export import ExportFormat, export_response
from dialer.api.hub import TeeSink
from dialer.api.ratelimit import WindowLimiter
from dialer.api.routes.admin_common import MAX_ID, Id, Text, check_export
from dialer.api.routes.calls import _utc, invalid, scope_of
from dialer.api.security import Admin, Ctx, CurrentUser, Supervisor
from dialer.engine.request_events import publish_request
from dialer.engine.sink import EventSink

router = APIRouter(prefix="/api", tags=["callback requests"])

API_KEY_HEADER = "X-API-Key"
#: Wrong API keys one client address may send per minute before it gets 429.
BAD_KEYS_PER_MIN = 20
MAX_PAGE_SIZE = 500
EXPORT_MAX_ROWS = 100_000


# ------------------------------------------------------------------------ models


class CallbackRequestIn(BaseModel):
    """A person asks to be called: now (no ``at``) or at a time."""

    model_config = ConfigDict(extra="forbid")

    campaign: int | Text = Field(description="The campaign's id or name")
    phone: Text = Field(min_length=1, max_length=40, description="The number to call")
    name: Text = Field(default="", max_length=200)
    at: dt.datetime | None = Field(
        default=None,
        description="When to call (ISO 8601); without a UTC offset it is a wall time in "
        "'timezone'. None: as soon as an agent is free (ASAP).",
    )
    timezone: Text | None = Field(
        default=None, max_length=64, description="The requester's IANA time zone"
    )
    region: Text | None = Field(
        default=None,
        max_length=2,
        description="Region for a number without +CC (default: the campaign's)",
    )
    note: Text = Field(default="", max_length=500)
    external_ref: Text = Field(default="", max_length=120, description="The CRM's own id")


class SourceIn(BaseModel):
    """A new request source (a website widget or a CRM)."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=120)
    rate_per_min: int = Field(default=30, ge=1, le=10_000)
    answer_within_s: int = Field(default=900, ge=60, le=7 * 86_400)


class SourceOut(BaseModel):
    """A request source (its key is shown only when created)."""

    id: int
    name: str
    key_prefix: str
    rate_per_min: int
    answer_within_s: int
    created_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    active: bool

    @classmethod
    def of(cls, view: rq.SourceView) -> SourceOut:
        """The answer for one source."""
        return cls(
            id=view.id,
            name=view.name,
            key_prefix=view.key_prefix,
            rate_per_min=view.rate_per_min,
            answer_within_s=view.answer_within_s,
            created_by=view.created_by,
            created_at=view.created_at,
            revoked_at=view.revoked_at,
            revoked_by=view.revoked_by,
            active=view.active,
        )


class SourceCreated(SourceOut):
    """A source just created, with its API key (shown this once; store it now)."""

    api_key: str


# ---------------------------------------------------------------------- helpers


def _limiter(request: Request) -> WindowLimiter:
    """The app's request limiter (one per app, in memory), made on first use."""
    state = request.app.state
    limiter: WindowLimiter | None = getattr(state, "request_limiter", None)
    if limiter is None:
        limiter = WindowLimiter()
        state.request_limiter = limiter
    return limiter


def _sink(ctx: ApiContext) -> EventSink:
    """The engine's sink (MQTT and live stream) when it runs here, else the live stream."""
    engine_sink = getattr(ctx.engine, "sink", None)
    if engine_sink is not None and hasattr(engine_sink, "publish"):
        sink: EventSink = engine_sink
        return sink
    return TeeSink((ctx.hub,))


def _refused(exc: Exception) -> JSONResponse:
    """A refused request: status, stable error id, the field and what to do."""
    if isinstance(exc, rq.RequestError):
        status, error_id, field = exc.status, exc.error_id, exc.field
        details: dict[str, Any] = dict(exc.details)
    elif isinstance(exc, CampaignNotFoundError):
        status, error_id, field, details = 422, exc.error_id, "campaign", {}
    elif isinstance(exc, RegionError):
        status, error_id, field, details = 422, exc.error_id, "region", {}
    else:
        raise exc
    message = str(exc)
    problem = message.removeprefix(f"{field}: ")
    return JSONResponse(
        {
            "error": error_id,
            "detail": message,
            "problems": [{"field": field, "problem": problem}],
            **details,
        },
        status_code=status,
    )


def _too_many(wait_s: float, what: str) -> JSONResponse:
    retry = max(1, math.ceil(wait_s))
    return JSONResponse(
        {"error": "too_many_requests", "detail": f"{what}; try again in {retry} s"},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )


def _source(ctx: ApiContext, request: Request, key: str | None) -> rq.SourceView | JSONResponse:
    """The source of the request's API key, or the 401/429 answer."""
    address = request.client.host if request.client else "?"
    limiter = _limiter(request)
    wait = limiter.wait_s(("bad-key", address), BAD_KEYS_PER_MIN, 60.0)
    if wait > 0:
        return _too_many(wait, "too many wrong API keys from this address")
    source = rq.source_for_key(ctx.db, key.strip()) if key else None
    if source is None:
        limiter.hit(("bad-key", address), BAD_KEYS_PER_MIN + 1, 60.0)
        return JSONResponse(
            {
                "error": "bad_api_key",
                "detail": f"the {API_KEY_HEADER} header is missing, unknown or revoked: "
                "ask an administrator for a source key",
            },
            status_code=401,
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    return source


def _answer(view: rq.RequestView) -> dict[str, Any]:
    """What a source sees of its request."""
    body = view.public()
    keep = (
        "id",
        "state",
        "kind",
        "campaign_id",
        "phone",
        "name",
        "due_at",
        "due_local",
        "requester_tz",
        "reason",
        "external_ref",
        "created_at",
        "updated_at",
        "dialed_at",
        "connected_at",
        "ended_at",
        "history",
    )
    out = {k: body[k] for k in keep}
    out["history"] = [{"at": h["at"], "state": h["state"]} for h in view.history]
    return out


# ------------------------------------------------------------- the sources' API


ApiKey = Annotated[str | None, Header(alias=API_KEY_HEADER, description="The source's key")]


@router.post(
    "/callback-requests",
    status_code=201,
    responses={
        401: {"description": "Missing, unknown or revoked API key"},
        409: {"description": "The number has an open request, or the campaign is stopped"},
        422: {"description": "A field is not valid (number, time, campaign, DNC, hours)"},
        429: {"description": "Too many requests from this source (see Retry-After)"},
    },
)
def create_callback_request(
    ctx: Ctx, request: Request, body: CallbackRequestIn, x_api_key: ApiKey = None
) -> Response:
    """Ask for a call: ASAP (the next free agent of the campaign is reserved, then the
    person is dialed) or at ``at`` (in ``timezone``). A time outside the campaign's hours
    or the person's calling window is refused with the next open time."""
    source = _source(ctx, request, x_api_key)
    if isinstance(source, JSONResponse):
        return source
    wait = _limiter(request).hit(("source", source.id), source.rate_per_min, 60.0)
    if wait > 0:
        return _too_many(wait, f"source {source.name!r} may make {source.rate_per_min} a minute")
    asked = rq.Asked(
        campaign=body.campaign,
        phone=body.phone,
        name=body.name,
        at=body.at,
        timezone=body.timezone,
        region=body.region,
        note=body.note,
        external_ref=body.external_ref,
    )
    try:
        view = rq.create_request(ctx.db, source, asked, now=ctx.clock())
    except (rq.RequestError, CampaignNotFoundError, RegionError) as exc:
        return _refused(exc)
    publish_request(_sink(ctx), view)
    if ctx.engine is not None and view.kind == rq.RequestKind.ASAP:  # dial it now
        ctx.engine.work_arrived(view.campaign_id)
    return JSONResponse(_answer(view), status_code=201)


@router.get("/callback-requests/{request_id}")
def get_callback_request(
    ctx: Ctx, request: Request, request_id: Id, x_api_key: ApiKey = None
) -> Response:
    """A request of this source: its state and history (404 for another source's)."""
    source = _source(ctx, request, x_api_key)
    if isinstance(source, JSONResponse):
        return source
    try:
        view = rq.get_request(ctx.db, request_id, source_id=source.id)
    except rq.RequestError as exc:
        return _refused(exc)
    return JSONResponse(_answer(view))


def _cancel(ctx: ApiContext, request: Request, request_id: int, key: str | None) -> Response:
    source = _source(ctx, request, key)
    if isinstance(source, JSONResponse):
        return source
    try:
        view = rq.cancel_request(
            ctx.db,
            request_id,
            source_id=source.id,
            actor=f"source:{source.name}",
            now=ctx.clock(),
        )
    except rq.RequestError as exc:
        return _refused(exc)
    publish_request(_sink(ctx), view)
    return JSONResponse(_answer(view))


@router.delete("/callback-requests/{request_id}")
def delete_callback_request(
    ctx: Ctx, request: Request, request_id: Id, x_api_key: ApiKey = None
) -> Response:
    """Cancel a waiting request: it is never dialed (409 once it is being called)."""
    return _cancel(ctx, request, request_id, x_api_key)


@router.post("/callback-requests/{request_id}/cancel")
def cancel_callback_request(
    ctx: Ctx, request: Request, request_id: Id, x_api_key: ApiKey = None
) -> Response:
    """The same as ``DELETE``, for clients that only POST."""
    return _cancel(ctx, request, request_id, x_api_key)


# ------------------------------------------------------------------- staff views

StateName = Literal[
    "waiting",
    "calling",
    "in_progress",
    "answered",
    "missed_by_agent",
    "missed_by_customer",
    "carrier_failure",
    "cancelled",
]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


FromQ = Annotated[
    dt.datetime | None, Query(alias="from", description="Made at or after (no zone = UTC)")
]
ToQ = Annotated[dt.datetime | None, Query(description="Made before (no zone = UTC)")]
StateQ = Annotated[list[StateName] | None, Query(description="One or more states")]


def request_filter(
    *,
    ctx: Ctx,
    user: CurrentUser,
    from_: FromQ = None,
    to: ToQ = None,
    state: StateQ = None,
    source: IdQuery = None,
    campaign: IdQuery = None,
) -> rq.RequestFilter:
    """The requests filter of a query, in the caller's scope."""
    start_utc, end_utc = _utc(from_, "from"), _utc(to, "to")
    if start_utc is not None and end_utc is not None and end_utc <= start_utc:
        raise invalid("to", "must be after 'from'")
    return rq.RequestFilter(
        start=start_utc,
        end=end_utc,
        states=tuple(state or ()),
        source_id=source,
        campaign_id=campaign,
        scope=scope_of(ctx, user),
    )


Filter = Annotated[rq.RequestFilter, Depends(request_filter)]


class RequestPage(BaseModel):
    """A page of requests, newest first."""

    items: list[dict[str, Any]]
    page: int
    page_size: int
    total: int


@router.get("/requests")
def list_requests(
    ctx: Ctx,
    f: Filter,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> RequestPage:
    """Callback requests with filters; each role sees the requests its agents took."""
    items, total = rq.list_requests(ctx.db, f, offset=(page - 1) * page_size, limit=page_size)
    return RequestPage(
        items=[v.public() for v in items], page=page, page_size=page_size, total=total
    )


class SourceName(BaseModel):
    """A source as filters list it."""

    id: int
    name: str


@router.get("/requests/sources")
def source_names(ctx: Ctx, user: CurrentUser) -> list[SourceName]:
    """Every source's id and name (the requests page's filter; any signed-in user)."""
    del user
    return [SourceName(id=s.id, name=s.name) for s in rq.list_sources(ctx.db)]


@router.get("/requests/stats")
def request_stats(
    ctx: Ctx,
    f: Filter,
) -> list[dict[str, Any]]:
    """Per source: requests by state and the share answered (same filters and scope)."""
    return rq.stats_by_source(ctx.db, f)


_EXPORT_COLUMNS = (
    ("id", "id"),
    ("created_at", "created_at"),
    ("source", "source"),
    ("campaign", "campaign"),
    ("phone", "phone"),
    ("name", "name"),
    ("kind", "kind"),
    ("due_at", "due_at"),
    ("state", "state"),
    ("agent", "agent"),
    ("attempts", "attempts"),
    ("reason", "reason"),
    ("external_ref", "external_ref"),
    ("ended_at", "ended_at"),
)


@router.get("/requests/export", response_class=Response)
def export_requests(
    ctx: Ctx,
    user: CurrentUser,
    f: Filter,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
) -> Response:
    """The filtered requests as CSV or XLSX (times in UTC; same scope as the list)."""
    check_export(ctx, user)
    rows = (
        [getattr(v, attr) for _, attr in _EXPORT_COLUMNS]
        for v in rq.iter_requests(ctx.db, f, limit=EXPORT_MAX_ROWS)
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    return export_response(
        fmt, f"requests-{stamp}", [t for t, _ in _EXPORT_COLUMNS], rows, sheet="requests"
    )


@router.get("/requests/{request_id}")
def get_request(ctx: Ctx, user: CurrentUser, request_id: Id) -> dict[str, Any]:
    """One request with its history (404 outside the caller's scope)."""
    try:
        view = rq.get_request(ctx.db, request_id)
    except rq.RequestNotFoundError:
        raise _not_found(request_id) from None
    scope = scope_of(ctx, user)
    if scope is not None and view.agent_id not in scope:
        raise _not_found(request_id)
    return view.public()


def _not_found(request_id: int) -> HTTPException:
    return HTTPException(404, detail=f"callback request {request_id} does not exist")


@router.post("/requests/{request_id}/cancel")
def staff_cancel(ctx: Ctx, user: Supervisor, request_id: Id) -> Response:
    """A supervisor cancels a waiting request (the requester asked by phone, say)."""
    try:
        view = rq.cancel_request(
            ctx.db, request_id, source_id=None, actor=user.actor, now=ctx.clock()
        )
    except rq.RequestError as exc:
        return _refused(exc)
    publish_request(_sink(ctx), view)
    return JSONResponse(view.public())


# ----------------------------------------------------------------- the sources


@router.get("/request-sources")
def list_sources(ctx: Ctx, user: Admin) -> list[SourceOut]:
    """Every source with its key's first characters (administrators)."""
    del user
    return [SourceOut.of(s) for s in rq.list_sources(ctx.db)]


@router.post("/request-sources", status_code=201, response_model=SourceCreated)
def create_source(ctx: Ctx, user: Admin, body: SourceIn) -> Response:
    """A new source and its API key — shown this once, stored only as its SHA-256."""
    try:
        view, key = rq.create_source(
            ctx.db,
            body.name,
            actor=user.actor,
            now=ctx.clock(),
            rate_per_min=body.rate_per_min,
            answer_within_s=body.answer_within_s,
        )
    except rq.RequestError as exc:
        return _refused(exc)
    out = SourceCreated(**SourceOut.of(view).model_dump(), api_key=key)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.delete("/request-sources/{source_id}")
def revoke_source(ctx: Ctx, user: Admin, source_id: Id) -> Response:
    """Revoke a source: its key is refused from now on (its requests stay)."""
    try:
        view = rq.revoke_source(ctx.db, source_id, actor=user.actor, now=ctx.clock())
    except rq.RequestError as exc:
        return _refused(exc)
    return JSONResponse(SourceOut.of(view).model_dump(mode="json"))
