"""The call log: filtered, paged, scoped by role, and exported as CSV or XLSX.

Administrators and heads see every call, unanswered and dropped ones included; a group
leader sees the calls its group's agents took; an agent its own. A filter naming an agent
or group outside the caller's scope is refused with 403, the same answer as for one that
does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campaigns.enums import Outcome, Role, SystemStatus
from campaigns.models import Agent
from dialer.api.context import ApiContext
from dialer.api.export import ExportFormat, export_response
from dialer.api.queries import (
    CALL_COUNT_CAP,
    EXPORT_COLUMNS,
    EXPORT_MAX_ROWS,
    CallFilter,
    CallPage,
    CallRow,
    call_page,
    export_rows,
    iter_calls,
    phone_digits,
)
from dialer.api.routes.admin_common import MAX_ID, check_export
from dialer.api.security import Ctx, CurrentUser, Principal, agent_ids_in_scope, forbidden

router = APIRouter(prefix="/api", tags=["calls"])

MAX_PAGE_SIZE = 500
_AGENT = Agent.__table__  # type: ignore[attr-defined]


class CallList(BaseModel):
    """A page of calls, newest dial first."""

    items: list[CallRow]
    page: int
    page_size: int
    total: int = Field(description=f"Matching calls, counted up to {CALL_COUNT_CAP}")
    total_capped: bool = Field(description="More calls match than ``total`` says")

    @classmethod
    def of(cls, found: CallPage, page: int, page_size: int) -> CallList:
        """The answer for one page of a query."""
        return cls(
            items=list(found.items),
            page=page,
            page_size=page_size,
            total=found.total,
            total_capped=found.total_capped,
        )


def invalid(field: str, problem: str, *, where: str = "query") -> RequestValidationError:
    """A 422 naming ``field``, in the same shape as FastAPI's own validation errors."""
    return RequestValidationError(
        [{"loc": (where, field), "msg": problem, "type": "value_error", "input": None}]
    )


def _utc(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise invalid(field, "out of range") from None


IdParam = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def call_filter(
    *,
    user: CurrentUser,
    ctx: Ctx,
    from_: Annotated[
        dt.datetime | None,
        Query(alias="from", description="Dialed at or after (ISO 8601; no zone = UTC)"),
    ] = None,
    to: Annotated[
        dt.datetime | None, Query(description="Dialed before (ISO 8601; no zone = UTC)")
    ] = None,
    campaign: IdParam = None,
    agent: IdParam = None,
    group: IdParam = None,
    status: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Status id")] = None,
    system_status: SystemStatus | None = None,
    outcome: Outcome | None = None,
    phone: Annotated[
        str | None, Query(max_length=32, description="Part of the number (digits)")
    ] = None,
) -> CallFilter:
    """The call-log filter of a request, checked against the caller's scope."""
    start, end = _utc(from_, "from"), _utc(to, "to")
    if start is not None and end is not None and end <= start:
        raise invalid("to", "must be after 'from'")
    digits = None
    if phone is not None and phone.strip():
        digits = phone_digits(phone)
        if not digits:
            raise invalid("phone", "give digits of the number to search for")
    return CallFilter(
        start=start,
        end=end,
        campaign_id=campaign,
        agent_id=agent,
        group_id=group,
        status_id=status,
        system_status=system_status,
        outcome=outcome,
        phone=digits,
        scope=scope_of(ctx, user, agent_id=agent, group_id=group),
    )


def scope_of(
    ctx: ApiContext, user: Principal, *, agent_id: int | None = None, group_id: int | None = None
) -> frozenset[int] | None:
    """The agents whose calls ``user`` sees (None = all); 403 when a filter names an agent
    or a group outside it."""
    ids = agent_ids_in_scope(ctx, user)
    if ids is None:
        return None
    scope = frozenset(ids)
    if agent_id is not None and agent_id not in scope:
        raise forbidden()
    if group_id is not None:
        own_group = user.group_id
        if user.role is Role.AGENT and user.agent_id is not None:
            with ctx.db.connect() as conn:
                own_group = conn.execute(
                    sa.select(_AGENT.c.group_id).where(_AGENT.c.id == user.agent_id)
                ).scalar()
        if own_group is None or group_id != own_group:
            raise forbidden()
    return scope


Filter = Annotated[CallFilter, Depends(call_filter)]


@router.get("/calls")
def list_calls(
    ctx: Ctx,
    f: Filter,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CallList:
    """The call log: filter by period, campaign, agent, group, status, system status,
    outcome and phone; newest dial first; only the calls the caller's role may see."""
    with ctx.db.connect() as conn:
        found = call_page(conn, f, page=page, page_size=page_size)
    return CallList.of(found, page, page_size)


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    },
    403: {"description": "Export is limited to administrators, or a filter is out of scope"},
}


@router.get("/calls/export", response_class=Response, responses=_EXPORT_RESPONSES)
def export_calls(
    user: CurrentUser,
    ctx: Ctx,
    f: Filter,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
) -> Response:
    """The filtered call log as a CSV or XLSX file (same filters and scope as the list;
    times in UTC; at most 1 000 000 rows)."""
    check_export(ctx, user)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    return export_response(
        fmt,
        f"calls-{stamp}",
        [title for title, _ in EXPORT_COLUMNS],
        export_rows(iter_calls(ctx.db, f, limit=EXPORT_MAX_ROWS)),
        sheet="calls",
    )
