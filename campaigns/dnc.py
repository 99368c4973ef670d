"""Do-not-call lists: global (every campaign) or per campaign, with a reason and an expiry.

Numbers are stored in E.164 (normalised with ``campaigns.phones``), so a number typed as
``601 234 567`` and imported as ``+48601234567`` are the same entry. Every change made by a
person writes an ``AuditLog`` row. Record selection and list import read the lists; an
entry whose ``expires_at`` has passed no longer blocks a number.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from campaigns.errors import CampaignError
from campaigns.importer import (
    PHONE,
    ImportFileError,
    Reject,
    RejectReason,
    build_column_map,
    find_campaign,
)
from campaigns.importer import read_rows as _read_rows
from campaigns.models import AuditLog, DncEntry, utcnow
from campaigns.phones import Normalized, PhoneError, PhoneNormalizer, PhoneReason

_DNC = DncEntry.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]


class DncNotFoundError(CampaignError):
    """Removing a number that is not on the list named."""

    error_id = "dnc_not_found"

    def __init__(self, phone: str, campaign: str | None) -> None:
        self.phone = phone
        self.campaign = campaign
        where = f"the DNC list of campaign {campaign!r}" if campaign else "the global DNC list"
        super().__init__(f"phone: {phone} is not on {where}")


@dataclass(frozen=True, slots=True)
class DncView:
    """One DNC entry as the CLI and the API show it."""

    id: int
    phone: str
    campaign: str | None
    reason: str
    added_by: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(slots=True)
class DncImportReport:
    """What a DNC file import did: added, already listed, rejected rows with line numbers."""

    source: str
    campaign: str | None
    dry_run: bool
    rows_read: int = 0
    added: int = 0
    already_listed: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """How many rows were refused."""
        return sum(self.rejected_by_reason.values())


def _campaign_id(engine: sa.Engine, campaign: str | None) -> tuple[int | None, str]:
    """(campaign id or None, default region) — the region of the campaign, PL for global."""
    if campaign is None:
        return None, "PL"
    cid, _name, region, _tz = find_campaign(engine, campaign)
    return cid, region


def _scope(campaign_id: int | None) -> sa.ColumnElement[bool]:
    if campaign_id is None:
        return _DNC.c.campaign_id.is_(None)  # type: ignore[no-any-return]
    return _DNC.c.campaign_id == campaign_id  # type: ignore[no-any-return]


def _audit(
    conn: sa.Connection, *, actor: str, action: str, entity_id: str, details: dict[str, object]
) -> None:
    conn.execute(
        sa.insert(_AUDIT).values(
            at=utcnow(),
            actor=actor,
            action=action,
            entity="dnc_entry",
            entity_id=entity_id,
            details=details,
        )
    )


def add_dnc(
    engine: sa.Engine,
    phone: str,
    *,
    campaign: str | None = None,
    reason: str = "",
    actor: str = "cli",
    expires_at: dt.datetime | None = None,
    region: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, bool]:
    """Put ``phone`` on the global list (or ``campaign``'s); returns (E.164, newly added).

    A number already listed keeps its entry; its reason and expiry are updated.
    Raises ``PhoneError`` for a number that is not valid, ``CampaignNotFoundError``.
    """
    now = now or utcnow()
    campaign_id, campaign_region = _campaign_id(engine, campaign)
    e164 = PhoneNormalizer(region or campaign_region).e164(phone)
    with engine.begin() as conn:
        existing = conn.execute(
            sa.select(_DNC.c.id).where(_DNC.c.phone == e164, _scope(campaign_id))
        ).scalar()
        if existing is None:
            conn.execute(
                sa.insert(_DNC).values(
                    phone=e164,
                    campaign_id=campaign_id,
                    reason=reason,
                    added_by=actor,
                    expires_at=expires_at,
                    created_at=now,
                )
            )
        else:
            conn.execute(
                sa.update(_DNC)
                .where(_DNC.c.id == existing)
                .values(reason=reason, expires_at=expires_at)
            )
        _audit(
            conn,
            actor=actor,
            action="dnc_add" if existing is None else "dnc_update",
            entity_id=e164,
            details={
                "campaign": campaign,
                "reason": reason,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return e164, existing is None


def remove_dnc(
    engine: sa.Engine,
    phone: str,
    *,
    campaign: str | None = None,
    actor: str = "cli",
    region: str | None = None,
) -> str:
    """Take ``phone`` off the global list (or ``campaign``'s); returns the E.164 number.

    Raises ``DncNotFoundError`` when it is not there.
    """
    campaign_id, campaign_region = _campaign_id(engine, campaign)
    e164 = PhoneNormalizer(region or campaign_region).e164(phone)
    with engine.begin() as conn:
        deleted = conn.execute(
            sa.delete(_DNC).where(_DNC.c.phone == e164, _scope(campaign_id))
        ).rowcount
        if not deleted:
            raise DncNotFoundError(e164, campaign)
        _audit(
            conn, actor=actor, action="dnc_remove", entity_id=e164, details={"campaign": campaign}
        )
    return e164


def list_dnc(
    engine: sa.Engine,
    *,
    campaign: str | None = None,
    global_only: bool = False,
    include_expired: bool = False,
    phone: str | None = None,
    region: str | None = None,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> list[DncView]:
    """DNC entries, newest first: ``campaign``'s list, the global list (``global_only``), or
    by default every list."""
    from campaigns.models import Campaign  # noqa: PLC0415

    now = now or utcnow()
    camp = Campaign.__table__  # type: ignore[attr-defined]
    query = sa.select(_DNC, camp.c.name.label("campaign_name")).outerjoin(
        camp, camp.c.id == _DNC.c.campaign_id
    )
    campaign_id, campaign_region = _campaign_id(engine, campaign)
    if campaign is not None or global_only:
        query = query.where(_scope(campaign_id))
    if not include_expired:
        query = query.where(sa.or_(_DNC.c.expires_at.is_(None), _DNC.c.expires_at > now))
    if phone is not None:
        number = PhoneNormalizer(region or campaign_region).e164(phone)
        query = query.where(_DNC.c.phone == number)
    query = query.order_by(_DNC.c.created_at.desc(), _DNC.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        DncView(
            id=row.id,
            phone=row.phone,
            campaign=row.campaign_name,
            reason=row.reason,
            added_by=row.added_by,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )
        for row in rows
    ]


def is_on_dnc(conn: sa.Connection, phone: str, campaign_id: int | None, now: dt.datetime) -> bool:
    """True when the E.164 ``phone`` is on the global or the campaign's unexpired list."""
    scope = _DNC.c.campaign_id.is_(None)
    if campaign_id is not None:
        scope = sa.or_(scope, _DNC.c.campaign_id == campaign_id)
    live = sa.or_(_DNC.c.expires_at.is_(None), _DNC.c.expires_at > now)
    query = sa.select(_DNC.c.id).where(_DNC.c.phone == phone, scope, live).limit(1)
    return conn.execute(query).first() is not None


def import_dnc(
    engine: sa.Engine,
    path: str | Path,
    *,
    campaign: str | None = None,
    reason: str = "",
    actor: str = "cli",
    expires_at: dt.datetime | None = None,
    region: str | None = None,
    phone_column: str | None = None,
    dry_run: bool = False,
    batch_size: int = 50_000,
    now: dt.datetime | None = None,
) -> DncImportReport:
    """Add every number of a CSV/XLSX file to a DNC list; bad rows reported with line numbers.

    The phone column is found like in a list import (``phone_column`` names it explicitly).
    Raises ``ImportFileError`` when the file cannot be read or has no phone column.
    """
    now = now or utcnow()
    source = Path(path)
    campaign_id, campaign_region = _campaign_id(engine, campaign)
    normalizer = PhoneNormalizer(region or campaign_region)
    report = DncImportReport(source=str(source), campaign=campaign, dry_run=dry_run)
    rows = _read_rows(source, report.notes)
    header = next(rows, None)
    if header is None:
        raise ImportFileError(source, "the file is empty: expected a header row")
    cmap = build_column_map(header[1], {PHONE: phone_column} if phone_column else None, source)
    phone_i = cmap.targets[PHONE]
    with engine.connect() as conn:
        listed = set(conn.execute(sa.select(_DNC.c.phone).where(_scope(campaign_id))).scalars())
    seen: dict[str, int] = {}
    new: list[dict[str, object]] = []

    def flush() -> None:
        # One transaction per batch: a long import never holds the write lock for long.
        report.added += len(new)
        if new and not dry_run:
            with engine.begin() as conn:
                conn.execute(sa.insert(_DNC), new)
        new.clear()

    for line, cells in rows:
        if not any(cells):
            continue
        report.rows_read += 1
        raw = cells[phone_i] if phone_i < len(cells) else ""
        result = normalizer.normalize(raw)
        if not isinstance(result, Normalized):
            reason_code = (
                RejectReason.MISSING_PHONE
                if result is PhoneReason.MISSING
                else RejectReason.INVALID_NUMBER
            )
            report.rejected_by_reason[reason_code] += 1
            report.rejects.append(
                Reject(line, reason_code, result.explain(raw, normalizer.region), raw, tuple(cells))
            )
            continue
        if result.e164 in seen:
            report.rejected_by_reason[RejectReason.DUPLICATE_IN_FILE] += 1
            report.rejects.append(
                Reject(
                    line,
                    RejectReason.DUPLICATE_IN_FILE,
                    f"{result.e164} duplicates line {seen[result.e164]}",
                    raw,
                    tuple(cells),
                )
            )
            continue
        seen[result.e164] = line
        if result.e164 in listed:
            report.already_listed += 1
            continue
        new.append(
            {
                "phone": result.e164,
                "campaign_id": campaign_id,
                "reason": reason,
                "added_by": actor,
                "expires_at": expires_at,
                "created_at": now,
            }
        )
        if len(new) >= batch_size:
            flush()
    flush()
    if not dry_run:
        with engine.begin() as conn:
            _audit(
                conn,
                actor=actor,
                action="dnc_import",
                entity_id=str(source.name),
                details={
                    "campaign": campaign,
                    "reason": reason,
                    "added": report.added,
                    "already_listed": report.already_listed,
                    "rejected": report.rejected,
                },
            )
    return report


__all__ = [
    "DncImportReport",
    "DncNotFoundError",
    "DncView",
    "PhoneError",
    "add_dnc",
    "import_dnc",
    "is_on_dnc",
    "list_dnc",
    "remove_dnc",
]
