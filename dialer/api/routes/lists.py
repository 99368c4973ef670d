"""Contact lists: upload a CSV/XLSX file into a campaign, see its lists and its records.

An upload runs :func:`campaigns.importer.import_file`, the importer the CLI uses: bad rows
are reported with their line numbers and never stop the good ones. The answer carries the
first :data:`MAX_REJECTS_SHOWN` rejects and says how many more there were.

Records are shown to leaders and above; a group leader sees the records its agents own
(callbacks), nothing else.
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
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from campaigns.enums import SystemStatus
from campaigns.importer import ImportFileError, ImportReport, ReadLimits, import_file
from campaigns.models import Agent, AuditLog, Campaign, ContactList, Record, StatusDef, utcnow
from campaigns.phones import RegionError, check_region
from campaigns.service import get_campaign
from campaigns.windows import WindowError, check_zone
from dialer.api.context import ApiContext
from dialer.api.export import ExportFormat, export_response
from dialer.api.routes.admin_common import (
    MAX_ID,
    Limit,
    Offset,
    Page,
    UploadGuard,
    check_export,
    field_errors,
    invalid,
    saved_upload,
    upload_limit,
    upload_name,
)
from dialer.api.security import Admin, Ctx, Leader, Principal, Supervisor, agent_ids_in_scope
from dialer.api.security import forbidden as forbidden_error

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["lists"])

CampaignId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Campaign id.")]
#: Rejected rows an upload's answer lists (all are counted).
MAX_REJECTS_SHOWN = 1000


class RejectOut(BaseModel):
    """A row that was not imported."""

    line: int = Field(description="Line of the CSV file (row of the sheet).")
    reason: str
    detail: str
    phone: str
    values: list[str] = Field(description="The row's cells, in the file's column order.")


class ImportReportOut(BaseModel):
    """What an upload did."""

    list_id: int | None
    campaign_id: int
    campaign: str
    source: str
    mapping: dict[str, str] = Field(description="Target (phone, name, tz, field …) → column.")
    rows_read: int
    imported: int
    rejected: int
    rejected_by_reason: dict[str, int]
    rejects: list[RejectOut]
    rejects_more: int = Field(description="Rejected rows not listed in rejects.")
    notes: list[str]
    seconds: float


class ContactListOut(BaseModel):
    """One imported file."""

    id: int
    campaign_id: int
    name: str
    source: str
    default_tz: str | None
    rows_imported: int
    rows_rejected: int
    created_at: dt.datetime


class RecordOut(BaseModel):
    """A person to call, with where it stands."""

    id: int
    list_id: int | None
    phone: str
    name: str
    tz: str
    fields: dict[str, Any]
    system_status: SystemStatus
    status_id: int | None
    status: str | None
    attempts: int
    next_call_at: dt.datetime | None
    owner_agent_id: int | None
    owner: str | None = Field(description="Login of the agent who owns the record.")
    last_outcome: str | None
    last_call_at: dt.datetime | None
    parked_at: dt.datetime | None = Field(description="Parked by a supervisor since then.")
    call_next_at: dt.datetime | None = Field(description="Asked to be called next then.")
    created_at: dt.datetime


# ------------------------------------------------------------------------------ upload


def _mapping(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        target, sep, header = item.partition("=")
        if not sep or not target.strip() or not header.strip():
            raise invalid("map", f"{item!r}: expected TARGET=COLUMN such as phone=Telefon")
        out[target.strip()] = header.strip()
    return out


@router.post("/campaigns/{campaign_id}/lists", status_code=201)
def lists_upload(  # noqa: PLR0917  (form fields are parameters)
    campaign_id: CampaignId,
    user: Admin,
    ctx: Ctx,
    size: UploadGuard,
    file: Annotated[UploadFile, File(description="A .csv or .xlsx file, header row first.")],
    name: Annotated[str | None, Form(max_length=200, description="List name.")] = None,
    region: Annotated[
        str | None, Form(max_length=8, description="Region of numbers without +CC (PL).")
    ] = None,
    tz: Annotated[
        str | None, Form(max_length=200, description="Zone of every row without one.")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        Form(
            alias="map",
            description="TARGET=COLUMN (repeatable): phone, name, first_name, last_name, tz "
            "or a custom field key; other columns are recognised by their header.",
        ),
    ] = None,
) -> ImportReportOut:
    """Import a list into the campaign; answer the import report (line numbers of rejects).

    The list, its records and its audit entry are written together or not at all; a file
    over ``http.upload_max_mb`` is refused with 413, one with more rows than
    ``http.import_max_rows`` or whose import takes longer than ``http.import_max_s`` with
    422 naming the limit (nothing imported).
    """
    del size
    with ctx.session() as session:
        campaign = get_campaign(session, campaign_id)
    with field_errors(RegionError, WindowError):
        region = check_region(region) if region else None
        tz = check_zone(tz.strip()) if tz and tz.strip() else None
    columns = _mapping(mapping or [])
    source = upload_name(file)
    list_name = (name or "").strip() or source
    if "\x00" in list_name:
        raise invalid("name", "text without NUL characters")
    http = ctx.settings.http

    def audited(conn: sa.Connection, report: ImportReport) -> None:
        conn.execute(
            sa.insert(AuditLog.__table__).values(  # type: ignore[attr-defined]
                at=utcnow(),
                actor=user.actor,
                action="list.import",
                entity="contact_list",
                entity_id=str(report.list_id),
                details={
                    "campaign_id": campaign_id,
                    "source": source,
                    "name": list_name,
                    "imported": report.imported,
                    "rejected": report.rejected,
                },
            )
        )

    with saved_upload(file, max_bytes=upload_limit(ctx)) as path:
        try:
            report = import_file(
                ctx.db,
                path,
                campaign=campaign.name,
                mapping=columns,
                region=region,
                tz=tz,
                list_name=list_name,
                keep_rejects=MAX_REJECTS_SHOWN,
                source_name=source,
                limits=ReadLimits(max_rows=http.import_max_rows, max_seconds=http.import_max_s),
                atomic=True,
                on_written=audited,
            )
        except ImportFileError as exc:
            raise invalid("file", f"{source}: {exc.problem}") from exc
        except sa.exc.SQLAlchemyError:
            raise
        except Exception as exc:  # a broken file can make the readers raise anything
            log.warning("list_upload_unreadable", source=source, error=repr(exc))
            raise invalid("file", f"{source}: cannot be read as CSV or XLSX") from exc
    return ImportReportOut(
        list_id=report.list_id,
        campaign_id=campaign_id,
        campaign=campaign.name,
        source=source,
        mapping=report.mapping,
        rows_read=report.rows_read,
        imported=report.imported,
        rejected=report.rejected,
        rejected_by_reason={str(k): v for k, v in report.rejected_by_reason.items()},
        rejects=[
            RejectOut(
                line=r.line,
                reason=r.reason.value,
                detail=r.detail,
                phone=r.phone,
                values=list(r.values),
            )
            for r in report.rejects[:MAX_REJECTS_SHOWN]
        ],
        rejects_more=max(0, report.rejected - min(len(report.rejects), MAX_REJECTS_SHOWN)),
        notes=report.notes,
        seconds=round(report.seconds, 3),
    )


@router.get("/campaigns/{campaign_id}/lists")
def lists_list(campaign_id: CampaignId, user: Supervisor, ctx: Ctx) -> list[ContactListOut]:
    """The lists imported into a campaign, newest first."""
    del user
    with ctx.session() as session:
        get_campaign(session, campaign_id)
        rows = session.exec(
            select(ContactList)
            .where(ContactList.campaign_id == campaign_id)
            .order_by(col(ContactList.id).desc())
        )
        return [ContactListOut(**row.model_dump()) for row in rows]


# ----------------------------------------------------------------------------- records


class RecordFilter:
    """The filters of the records list and its export (query parameters)."""

    def __init__(  # noqa: PLR0917  (query parameters)
        self,
        system_status: Annotated[SystemStatus | None, Query()] = None,
        status_id: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="Campaign status id.")
        ] = None,
        phone: Annotated[
            str | None, Query(max_length=40, description="Digits the number contains.")
        ] = None,
        owner_agent_id: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="Agent who owns the record.")
        ] = None,
        list_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        parked: Annotated[
            bool | None, Query(description="Only parked (true) or unparked (false) records.")
        ] = None,
    ) -> None:
        self.system_status = system_status
        self.status_id = status_id
        self.phone = phone
        self.owner_agent_id = owner_agent_id
        self.list_id = list_id
        self.parked = parked


def records_query(
    ctx: ApiContext, user: Principal, campaign_id: int, filters: RecordFilter
) -> sa.Select[Record, str, str]:
    """Records of the campaign matching ``filters`` in ``user``'s scope, by id."""
    query = (
        sa.select(Record, col(StatusDef.name), col(Agent.login))
        .outerjoin(StatusDef, col(StatusDef.id) == col(Record.status_id))
        .outerjoin(Agent, col(Agent.id) == col(Record.owner_agent_id))
        .where(col(Record.campaign_id) == campaign_id)
        .order_by(col(Record.id))
    )
    scope = agent_ids_in_scope(ctx, user)
    if scope is not None:
        if filters.owner_agent_id is not None and filters.owner_agent_id not in scope:
            raise forbidden_error()
        query = query.where(col(Record.owner_agent_id).in_(sorted(scope)))
    if filters.owner_agent_id is not None:
        query = query.where(col(Record.owner_agent_id) == filters.owner_agent_id)
    if filters.system_status is not None:
        query = query.where(col(Record.system_status) == filters.system_status.value)
    if filters.status_id is not None:
        query = query.where(col(Record.status_id) == filters.status_id)
    if filters.list_id is not None:
        query = query.where(col(Record.list_id) == filters.list_id)
    if filters.parked is not None:
        parked = col(Record.parked_at)
        query = query.where(parked.is_not(None) if filters.parked else parked.is_(None))
    if filters.phone is not None:
        digits = "".join(ch for ch in filters.phone if ch.isdigit() and ch.isascii())
        if not digits:
            raise invalid("phone", "digits of the number", where="query")
        query = query.where(col(Record.phone).contains(digits))
    return query


def record_out(record: Record, status: str | None, owner: str | None) -> RecordOut:
    return RecordOut(
        id=record.id or 0,
        list_id=record.list_id,
        phone=record.phone,
        name=record.name,
        tz=record.tz,
        fields=record.fields,
        system_status=SystemStatus(record.system_status),
        status_id=record.status_id,
        status=status,
        attempts=record.attempts,
        next_call_at=record.next_call_at,
        owner_agent_id=record.owner_agent_id,
        owner=owner,
        last_outcome=record.last_outcome,
        last_call_at=record.last_call_at,
        parked_at=record.parked_at,
        call_next_at=record.call_next_at,
        created_at=record.created_at,
    )


def _campaign(session: Session, campaign_id: int) -> Campaign:
    return get_campaign(session, campaign_id)


@router.get("/campaigns/{campaign_id}/records")
def records_list(  # noqa: PLR0917
    campaign_id: CampaignId,
    user: Leader,
    ctx: Ctx,
    filters: Annotated[RecordFilter, Depends()],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RecordOut]:
    """A campaign's records, filtered and paged (a group leader: its agents' records)."""
    query = records_query(ctx, user, campaign_id, filters)
    with ctx.session() as session:
        _campaign(session, campaign_id)
        total = session.execute(
            sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
        ).scalar_one()
        rows = session.execute(query.limit(limit).offset(offset)).all()
        items = [record_out(rec, status, owner) for rec, status, owner in rows]
    return Page[RecordOut](items=items, total=total, limit=limit, offset=offset)


_RECORD_COLUMNS = (
    "id",
    "phone",
    "name",
    "tz",
    "system_status",
    "status",
    "attempts",
    "next_call_at",
    "owner",
    "last_outcome",
    "last_call_at",
    "list_id",
    "created_at",
)


@router.get(
    "/campaigns/{campaign_id}/records/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/octet-stream": {}}}},
)
def records_export(
    campaign_id: CampaignId,
    user: Leader,
    ctx: Ctx,
    filters: Annotated[RecordFilter, Depends()],
    format: Annotated[ExportFormat, Query(description="csv or xlsx")] = ExportFormat.CSV,
) -> Response:
    """The filtered records as a CSV or XLSX file (custom fields as extra columns)."""
    check_export(ctx, user)
    query = records_query(ctx, user, campaign_id, filters)
    with ctx.session() as session:
        campaign = _campaign(session, campaign_id)
        keys: set[str] = set()
        fields_only = query.with_only_columns(col(Record.fields)).order_by(None)
        for (fields,) in session.execute(fields_only.execution_options(yield_per=2000)):
            keys.update(fields or {})
    extra = sorted(keys)

    def rows() -> Iterator[list[Any]]:
        with Session(ctx.db) as session:
            result = session.execute(query.execution_options(yield_per=2000))
            for record, status, owner in result:
                out = record_out(record, status, owner).model_dump()
                yield [out[c] for c in _RECORD_COLUMNS] + [record.fields.get(k) for k in extra]

    return export_response(
        format,
        f"records-{campaign.id}",
        [*_RECORD_COLUMNS, *extra],
        rows(),
        sheet=campaign.name,
    )
