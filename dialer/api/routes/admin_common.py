"""What the administration routers share: field errors, paging, uploads, the export gate.

A service error that names a field (``CampaignRulesError``, ``StatusError``, ``UserError`` …)
becomes the same 422 answer as a malformed request, ``problems: [{field, problem}]``, so a
client shows every bad input the same way.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from campaigns.app_settings import EXPORT_ADMIN_ONLY, Setting, read_setting
from campaigns.enums import Role
from campaigns.status_engine import StatusRuleError
from dialer.api.context import ApiContext
from dialer.api.security import Principal, forbidden

T = TypeVar("T")

#: Ids in paths and queries: a positive 32-bit integer (ids are PostgreSQL ``integer``
#: columns; a larger one would fail there rather than be not found).
MAX_ID = 2**31 - 1
_UPLOAD_SUFFIXES = frozenset({".csv", ".txt", ".tsv", ".xlsx", ".xlsm"})


def _no_control(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        msg = "text without control characters"
        raise ValueError(msg)
    return value


#: Free text a person types: no NUL or other control characters (PostgreSQL refuses NUL).
Text = Annotated[str, AfterValidator(_no_control)]
#: A path id.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def invalid(
    field: str,
    problem: str,
    *,
    where: str = "body",
    kind: str = "value_error",
    ctx: dict[str, object] | None = None,
) -> RequestValidationError:
    """The 422 answer for one bad field (raise it). ``kind`` and ``ctx`` are the problem's
    type and values, by which a page says it in the user's language (pydantic's own, or
    ``status_rule`` with the refusal's ``code`` and parameters)."""
    error: dict[str, object] = {"loc": (where, field), "msg": problem, "type": kind}
    if ctx:
        error["ctx"] = ctx
    return RequestValidationError([error])


def rule_refused(
    exc: StatusRuleError, field: str, *, where: str = "body"
) -> RequestValidationError:
    """The 422 answer for a status the campaign's rules refuse: its English message, and
    when a person met it, its code and parameters for the pages."""
    if exc.code is None:
        return invalid(field, str(exc), where=where)
    ctx = {**exc.params, "code": exc.code.value}
    return invalid(field, str(exc), where=where, kind="status_rule", ctx=ctx)


def _split(exc: Exception) -> tuple[str, str]:
    """(field, problem) of a service error: its ``field`` attribute, or the message's
    ``field: problem`` form."""
    message = str(exc)
    field = getattr(exc, "field", None)
    head, sep, rest = message.partition(": ")
    if isinstance(field, str):
        return field, rest if sep and head == field else message
    if sep and head.isidentifier():
        return head, rest
    return "body", message


@contextmanager
def field_errors(*types: type[Exception], where: str = "body") -> Iterator[None]:
    """Turn the service errors ``types`` raised in the block into a 422 naming the field."""
    try:
        yield
    except types as exc:
        field, problem = _split(exc)
        if isinstance(exc, StatusRuleError):
            raise rule_refused(exc, field, where=where) from exc
        raise invalid(field, problem, where=where) from exc


@contextmanager
def unique(field: str, value: object) -> Iterator[None]:
    """A unique constraint the database enforces in the block becomes a 422 naming ``field``
    (the services check names first; this covers what their check misses, e.g. names whose
    case SQL lower() does not fold, and two requests racing)."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise invalid(field, f"{value!r} is taken") from exc


class Page(BaseModel, Generic[T]):
    """One page of a longer list: ``total`` rows match, ``items`` start at ``offset``."""

    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page (1-1000).")]
Offset = Annotated[int, Query(ge=0, le=2**31, description="Rows to skip.")]


def export_setting(ctx: ApiContext) -> Setting:
    """Whether only administrators may export: an administrator's choice in the pages
    (``app_setting``), else the config file's ``http.export_admin_only``."""
    with ctx.db.connect() as conn:
        return read_setting(conn, EXPORT_ADMIN_ONLY, ctx.settings.http.export_admin_only)


def may_export(ctx: ApiContext, user: Principal) -> bool:
    """True when ``user`` may export now."""
    return user.role is Role.ADMIN or not export_setting(ctx).value


def check_export(ctx: ApiContext, user: Principal) -> None:
    """403 for a non-administrator when exports are limited to administrators."""
    if not may_export(ctx, user):
        raise forbidden((Role.ADMIN,))


def upload_limit(ctx: ApiContext) -> int:
    """The largest upload accepted, in bytes (``http.upload_max_mb``)."""
    return int(ctx.settings.http.upload_max_mb * 1024 * 1024)


def too_large(limit: int) -> HTTPException:
    """The 413 answer naming the limit."""
    return HTTPException(
        413,
        detail=f"the file is larger than the limit of {round(limit / 1024 / 1024, 2):g} MB "
        "(http.upload_max_mb in the settings)",
    )


#: What a multipart body may add to the file itself (boundaries, the other form fields).
_MULTIPART_SLACK = 64 * 1024


def upload_size_guard(request: Request) -> None:
    """A dependency refusing (413) an upload whose declared length is over the limit
    before its body is read."""
    ctx: ApiContext = request.app.state.ctx
    limit = upload_limit(ctx)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
        raise too_large(limit)


UploadGuard = Annotated[None, Depends(upload_size_guard)]


@contextmanager
def saved_upload(upload: UploadFile, *, max_bytes: int, field: str = "file") -> Iterator[Path]:
    """The uploaded file saved to a temporary file with its suffix (removed afterwards).

    The suffix must be one the importers read (.csv, .txt, .tsv, .xlsx, .xlsm); a file over
    ``max_bytes`` is refused with 413 naming the limit.
    """
    name = upload.filename or ""
    suffix = Path(name).suffix.lower() if name else ".csv"
    if suffix not in _UPLOAD_SUFFIXES:
        raise invalid(
            field,
            f"{name!r}: give a .csv or .xlsx file (also read: .txt, .tsv, .xlsm)",
        )
    with tempfile.TemporaryDirectory(prefix="dialer-upload-") as tmp:
        # Saved under the client's file name (made safe); reports name the client's name.
        stem = re.sub(r"[^\w.\- ]", "_", Path(upload_name(upload)).stem)[:100].strip(". ")
        path = Path(tmp) / f"{stem or 'upload'}{suffix}"
        with path.open("wb") as out:
            while chunk := upload.file.read(1 << 20):
                out.write(chunk)
                if out.tell() > max_bytes:
                    raise too_large(max_bytes)
        yield path


def upload_name(upload: UploadFile) -> str:
    """The name the client gave the upload (for reports), without any directory part."""
    return Path(upload.filename or "upload.csv").name or "upload.csv"


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        msg = "a date-time between years 1 and 9999 in UTC"
        raise ValueError(msg) from None


#: A date-time with its zone (``2026-05-01T10:00:00+02:00``), converted to UTC.
AwareTime = Annotated[AwareDatetime, AfterValidator(_utc)]
