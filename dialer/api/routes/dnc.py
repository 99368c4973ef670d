"""Do-not-call lists over HTTP: list, add, remove, import a file, export.

Adding, removing and importing go through :mod:`campaigns.dnc` (E.164 normalisation and the
audit log, as the CLI does); the list is paged here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col

from campaigns.dnc import add_dnc, import_dnc, remove_dnc
from campaigns.importer import ImportFileError
from campaigns.models import Campaign, DncEntry, utcnow
from campaigns.phones import PhoneError, PhoneNormalizer, RegionError
from campaigns.service import get_campaign
from dialer.api.context import ApiContext
from dialer.api.export import ExportFormat, export_response
from dialer.api.routes.admin_common import (
    MAX_ID,
    AwareTime,
    Limit,
    Offset,
    Page,
    Text,
    UploadGuard,
    check_export,
    field_errors,
    invalid,
    saved_upload,
    upload_limit,
    upload_name,
)
from dialer.api.routes.lists import MAX_REJECTS_SHOWN, RejectOut
from dialer.api.security import Admin, Ctx, Supervisor
from dialer.errors import DialerError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["dnc"])

DncId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="DNC entry id.")]
CampaignRef = Annotated[int | None, Field(ge=1, le=MAX_ID)]
Region = Annotated[str | None, Field(max_length=8, description="Region of numbers without +CC.")]


class DncEntryNotFoundError(DialerError):
    """No DNC entry has this id."""

    error_id = "dnc_not_found"

    def __init__(self, dnc_id: int) -> None:
        super().__init__(f"dnc_id: no DNC entry has id {dnc_id}")


class DncOut(BaseModel):
    """A do-not-call entry."""

    id: int
    phone: str
    campaign_id: int | None = Field(description="None: the global list.")
    campaign: str | None
    reason: str
    added_by: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


class DncIn(BaseModel):
    """A number to put on the global list or on one campaign's list."""

    model_config = ConfigDict(extra="forbid")

    phone: Text = Field(min_length=1, max_length=40)
    campaign_id: CampaignRef = Field(default=None, description="None: the global list.")
    reason: Text = Field(default="", max_length=500)
    expires_at: AwareTime | None = Field(default=None, description="None: never expires.")
    region: Region = None


class DncAdded(DncOut):
    """The entry after adding (``added`` false: it was there; reason/expiry updated)."""

    added: bool


class DncRemoved(BaseModel):
    """A number taken off a list."""

    phone: str
    campaign_id: int | None


class DncImportOut(BaseModel):
    """What a DNC file import did."""

    source: str
    campaign_id: int | None
    rows_read: int
    added: int
    already_listed: int
    rejected: int
    rejected_by_reason: dict[str, int]
    rejects: list[RejectOut]
    rejects_more: int
    notes: list[str]


class DncFilter:
    """Filters of the DNC list and its export."""

    def __init__(
        self,
        phone: Annotated[str | None, Query(max_length=40)] = None,
        campaign_id: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="That campaign's list only.")
        ] = None,
        global_only: Annotated[bool, Query(description="The global list only.")] = False,
        include_expired: bool = False,
        region: Annotated[str | None, Query(max_length=8)] = None,
    ) -> None:
        self.phone = phone
        self.campaign_id = campaign_id
        self.global_only = global_only
        self.include_expired = include_expired
        self.region = region


def _campaign_name(session: Session, campaign_id: int | None) -> str | None:
    return None if campaign_id is None else get_campaign(session, campaign_id).name


def _dnc_query(ctx: ApiContext, filters: DncFilter) -> sa.Select[DncEntry, str]:
    query = (
        sa.select(DncEntry, col(Campaign.name))
        .outerjoin(Campaign, col(Campaign.id) == col(DncEntry.campaign_id))
        .order_by(col(DncEntry.created_at).desc(), col(DncEntry.id).desc())
    )
    region = "PL"
    if filters.campaign_id is not None:
        with ctx.session() as session:
            region = get_campaign(session, filters.campaign_id).default_region
        query = query.where(col(DncEntry.campaign_id) == filters.campaign_id)
    elif filters.global_only:
        query = query.where(col(DncEntry.campaign_id).is_(None))
    if not filters.include_expired:
        query = query.where(
            sa.or_(col(DncEntry.expires_at).is_(None), col(DncEntry.expires_at) > utcnow())
        )
    if filters.phone is not None:
        with field_errors(PhoneError, RegionError, where="query"):
            number = PhoneNormalizer(filters.region or region).e164(filters.phone)
        query = query.where(col(DncEntry.phone) == number)
    return query


def _out(entry: DncEntry, campaign: str | None) -> DncOut:
    return DncOut(
        id=entry.id or 0,
        phone=entry.phone,
        campaign_id=entry.campaign_id,
        campaign=campaign,
        reason=entry.reason,
        added_by=entry.added_by,
        expires_at=entry.expires_at,
        created_at=entry.created_at,
    )


@router.get("/dnc")
def dnc_list(
    user: Supervisor,
    ctx: Ctx,
    filters: Annotated[DncFilter, Depends()],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DncOut]:
    """DNC entries, newest first: every list, the global one, or one campaign's."""
    del user
    query = _dnc_query(ctx, filters)
    with ctx.session() as session:
        total = session.execute(
            sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
        ).scalar_one()
        rows = session.execute(query.limit(limit).offset(offset)).all()
        items = [_out(entry, name) for entry, name in rows]
    return Page[DncOut](items=items, total=total, limit=limit, offset=offset)


def _check_future(expires_at: dt.datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise invalid("expires_at", "a time in the future (or null for no expiry)")


@router.post("/dnc")
def dnc_add(body: DncIn, user: Admin, ctx: Ctx) -> DncAdded:
    """Put a number on the global list or a campaign's (an entry already there is updated)."""
    _check_future(body.expires_at)
    with ctx.session() as session:
        campaign = _campaign_name(session, body.campaign_id)
    with field_errors(PhoneError, RegionError):
        phone, added = add_dnc(
            ctx.db,
            body.phone,
            campaign=campaign,
            reason=body.reason,
            actor=user.actor,
            expires_at=body.expires_at,
            region=body.region,
        )
    scope = (
        col(DncEntry.campaign_id).is_(None)
        if body.campaign_id is None
        else col(DncEntry.campaign_id) == body.campaign_id
    )
    with ctx.session() as session:
        entry = session.execute(
            sa.select(DncEntry).where(col(DncEntry.phone) == phone, scope)
        ).scalar_one()
        return DncAdded(**_out(entry, campaign).model_dump(), added=added)


@router.delete("/dnc")
def dnc_remove(
    user: Admin,
    ctx: Ctx,
    phone: Annotated[str, Query(min_length=1, max_length=40)],
    campaign_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="None: the global list.")
    ] = None,
    region: Annotated[str | None, Query(max_length=8)] = None,
) -> DncRemoved:
    """Take a number off the global list (or a campaign's)."""
    with ctx.session() as session:
        campaign = _campaign_name(session, campaign_id)
    with field_errors(PhoneError, RegionError, where="query"):
        e164 = remove_dnc(ctx.db, phone, campaign=campaign, actor=user.actor, region=region)
    return DncRemoved(phone=e164, campaign_id=campaign_id)


@router.delete("/dnc/{dnc_id}")
def dnc_remove_id(dnc_id: DncId, user: Admin, ctx: Ctx) -> DncRemoved:
    """Remove one DNC entry by its id."""
    with ctx.session() as session:
        entry = session.get(DncEntry, dnc_id)
        if entry is None:
            raise DncEntryNotFoundError(dnc_id)
        campaign = _campaign_name(session, entry.campaign_id)
    remove_dnc(ctx.db, entry.phone, campaign=campaign, actor=user.actor)
    return DncRemoved(phone=entry.phone, campaign_id=entry.campaign_id)


@router.post("/dnc/import")
def dnc_import(  # noqa: PLR0917  (form fields are parameters)
    user: Admin,
    ctx: Ctx,
    size: UploadGuard,
    file: Annotated[UploadFile, File(description="A .csv or .xlsx file with a phone column.")],
    campaign_id: Annotated[
        int | None, Form(ge=1, le=MAX_ID, description="None: the global list.")
    ] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
    expires_at: Annotated[AwareTime | None, Form()] = None,
    region: Annotated[str | None, Form(max_length=8)] = None,
    phone_column: Annotated[str | None, Form(max_length=200)] = None,
) -> DncImportOut:
    """Add every number of a file to a DNC list; bad rows reported with line numbers."""
    _check_future(expires_at)
    if "\x00" in reason:
        raise invalid("reason", "text without NUL characters")
    with ctx.session() as session:
        campaign = _campaign_name(session, campaign_id)
    source = upload_name(file)
    with saved_upload(file, max_bytes=upload_limit(ctx)) as path, field_errors(RegionError):
        try:
            report = import_dnc(
                ctx.db,
                path,
                campaign=campaign,
                reason=reason,
                actor=user.actor,
                expires_at=expires_at,
                region=region or None,
                phone_column=phone_column or None,
            )
        except ImportFileError as exc:
            raise invalid("file", f"{source}: {exc.problem}") from exc
        except (sa.exc.SQLAlchemyError, RegionError):
            raise
        except Exception as exc:  # a broken file can make the readers raise anything
            log.warning("dnc_upload_unreadable", source=source, error=repr(exc))
            raise invalid("file", f"{source}: cannot be read as CSV or XLSX") from exc
    shown = report.rejects[:MAX_REJECTS_SHOWN]
    return DncImportOut(
        source=source,
        campaign_id=campaign_id,
        rows_read=report.rows_read,
        added=report.added,
        already_listed=report.already_listed,
        rejected=report.rejected,
        rejected_by_reason={str(k): v for k, v in report.rejected_by_reason.items()},
        rejects=[
            RejectOut(
                line=r.line,
                reason=r.reason.value,
                detail=r.detail,
                phone=r.phone,
                values=[*r.values],
            )
            for r in shown
        ],
        rejects_more=report.rejected - len(shown),
        notes=report.notes,
    )


@router.get(
    "/dnc/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/octet-stream": {}}}},
)
def dnc_export(
    user: Supervisor,
    ctx: Ctx,
    filters: Annotated[DncFilter, Depends()],
    format: Annotated[ExportFormat, Query(description="csv or xlsx")] = ExportFormat.CSV,
) -> Response:
    """The filtered DNC entries as a CSV or XLSX file."""
    check_export(ctx, user)
    query = _dnc_query(ctx, filters)
    columns = ("id", "phone", "campaign", "reason", "added_by", "expires_at", "created_at")

    def rows() -> Iterator[list[Any]]:
        with Session(ctx.db) as session:
            for entry, name in session.execute(query.execution_options(yield_per=2000)):
                out = _out(entry, name).model_dump()
                yield [out[c] for c in columns]

    return export_response(format, "dnc", columns, rows(), sheet="dnc")
