"""Retention: delete call-log and audit-log rows older than their keeping time.

The per-record rollup (``record_contact``) of the records whose calls go is rewritten from
the calls left, in the same transaction: the customers report never counts a purged call.

Rows go in batches, each in its own short transaction (``DELETE … WHERE id IN (SELECT id
… LIMIT batch)``), so that the engine's writes are never held up for long; the deletion
itself is written to the audit log (who: ``system:retention``, how many, up to when).
Time is passed in; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from campaigns.models import AuditLog, CallLog
from campaigns.reports import recount_records

_LOG = CallLog.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Purged:
    """Rows deleted by one run."""

    call_log: int
    audit: int


def _delete_older(
    db: sa.Engine, table: sa.Table, column: sa.Column[dt.datetime], before: dt.datetime, batch: int
) -> int:
    deleted = 0
    while True:
        with db.begin() as conn:
            ids = sa.select(table.c.id).where(column < before).order_by(table.c.id).limit(batch)
            n = conn.execute(sa.delete(table).where(table.c.id.in_(ids.scalar_subquery()))).rowcount
        deleted += int(n)
        if n < batch:
            return deleted


def _delete_calls(db: sa.Engine, before: dt.datetime, batch: int) -> int:
    """Call-log rows dialed before ``before``, a batch per transaction; each batch rewrites
    the per-record rollup (``record_contact``) of the records it touched in the same
    transaction, so the rollup never counts a call that is gone."""
    deleted = 0
    while True:
        with db.begin() as conn:
            ids = sa.select(_LOG.c.id).where(_LOG.c.dial_at < before).order_by(_LOG.c.id)
            gone = conn.execute(
                sa.delete(_LOG)
                .where(_LOG.c.id.in_(ids.limit(batch).scalar_subquery()))
                .returning(_LOG.c.record_id)
            ).all()
            recount_records(conn, [r[0] for r in gone if r[0] is not None])
        deleted += len(gone)
        if len(gone) < batch:
            return deleted


def purge(
    db: sa.Engine,
    now: dt.datetime,
    *,
    call_log_days: int,
    audit_days: int,
    batch: int = 5000,
) -> Purged:
    """Delete call-log rows dialed more than ``call_log_days`` before ``now`` and audit
    rows older than ``audit_days``; returns the counts (and audits them when not zero)."""
    if now.tzinfo is None:
        msg = f"now must be timezone-aware, got {now!r}"
        raise ValueError(msg)
    if call_log_days < 1 or audit_days < 1 or batch < 1:
        msg = "call_log_days, audit_days and batch must be at least 1"
        raise ValueError(msg)
    calls_before = now - dt.timedelta(days=call_log_days)
    audit_before = now - dt.timedelta(days=audit_days)
    purged = Purged(
        call_log=_delete_calls(db, calls_before, batch),
        audit=_delete_older(db, _AUDIT, _AUDIT.c.at, audit_before, batch),
    )
    if purged.call_log or purged.audit:
        with db.begin() as conn:
            conn.execute(
                sa.insert(_AUDIT).values(
                    at=now,
                    actor="system:retention",
                    action="retention_purged",
                    entity="retention",
                    entity_id=None,
                    details={
                        "call_log_rows": purged.call_log,
                        "call_log_before": calls_before.isoformat(),
                        "audit_rows": purged.audit,
                        "audit_before": audit_before.isoformat(),
                    },
                )
            )
    return purged
