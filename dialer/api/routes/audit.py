"""The audit log: who changed what and when (administrators only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col

from campaigns.models import AuditLog
from dialer.api.routes.admin_common import AwareTime, Limit, Offset, Page, invalid
from dialer.api.security import Admin, Ctx

router = APIRouter(prefix="/api", tags=["audit"])


class AuditOut(BaseModel):
    """One change."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: dict[str, Any]


@router.get("/audit")
def audit_list(  # noqa: PLR0917  (query parameters)
    user: Admin,
    ctx: Ctx,
    actor: Annotated[
        str | None, Query(max_length=200, description="Exactly, e.g. user:admin or cli:root.")
    ] = None,
    entity: Annotated[
        str | None, Query(max_length=64, description="campaign, status_def, user …")
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="campaign.start, user.edit …")
    ] = None,
    since: Annotated[AwareTime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[AwareTime | None, Query(description="Before this time.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AuditOut]:
    """Audit log rows, newest first, filtered by actor, entity, action and period."""
    del user
    if since is not None and until is not None and until <= since:
        raise invalid("until", "a time after since", where="query")
    query = sa.select(AuditLog)
    for column, value in (
        (AuditLog.actor, actor),
        (AuditLog.entity, entity),
        (AuditLog.entity_id, entity_id),
        (AuditLog.action, action),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if since is not None:
        query = query.where(col(AuditLog.at) >= since)
    if until is not None:
        query = query.where(col(AuditLog.at) < until)
    with ctx.session() as session:
        total = session.execute(
            sa.select(sa.func.count()).select_from(query.subquery())
        ).scalar_one()
        rows = session.execute(
            query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
            .limit(limit)
            .offset(offset)
        ).scalars()
        items = [AuditOut.model_validate(row, from_attributes=True) for row in rows]
    return Page[AuditOut](items=items, total=total, limit=limit, offset=offset)
