"""Retention deletes call-log and audit rows past their keeping time, in batches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from campaigns.db import make_engine
from campaigns.migrate import initialize
from campaigns.models import AuditLog, CallLog, Campaign
from campaigns.retention import Purged, purge

NOW = dt.datetime(2031, 3, 11, 3, 30, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    """A migrated database with one campaign, 25 call-log rows and 7 audit rows of
    various ages (days before NOW: 0 … 2400)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    initialize(engine, actor="t")
    with engine.begin() as conn:  # the audit rows of initialize: only ours below
        conn.execute(sa.text("DELETE FROM audit_log"))
    with Session(engine) as session:
        session.add(Campaign(name="c"))
        session.commit()
        for k in range(25):
            when = NOW - dt.timedelta(days=100 * k)
            session.add(CallLog(campaign_id=1, phone="+48500000001", dial_at=when))
        for days in (0, 10, 400, 1825, 1827, 2000, 2400):
            session.add(AuditLog(at=NOW - dt.timedelta(days=days), actor="t", action="x",
                                 entity="record"))  # fmt: skip
        session.commit()
    return engine


def _ages(db: sa.Engine, table: str, column: str) -> list[int]:
    with db.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalars()
        return sorted(round((NOW - r.replace(tzinfo=dt.UTC)).days) for r in map(_dt, rows))


def _dt(value: object) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def test_rows_older_than_the_keeping_time_go_in_batches(db: sa.Engine) -> None:
    """With 5 years (1826 days) kept and batches of 3, the 6 call rows dialed 1900 … 2400
    days ago and the 3 audit rows older than 1826 days are deleted; the rest stay; the
    deletion is itself audited."""
    purged = purge(db, NOW, call_log_days=1826, audit_days=1826, batch=3)
    assert (purged.call_log, purged.audit) == (6, 3)
    assert _ages(db, "call_log", "dial_at") == [100 * k for k in range(19)]
    with Session(db) as session:
        audit = session.exec(sa.select(AuditLog).order_by(AuditLog.id)).scalars().all()  # type: ignore[call-overload, arg-type]
    assert [round((NOW - a.at).days) for a in audit[:-1]] == [0, 10, 400, 1825]
    last = audit[-1]
    assert (last.actor, last.action) == ("system:retention", "retention_purged")
    assert last.details["call_log_rows"] == 6
    assert last.details["audit_rows"] == 3


def test_a_second_run_deletes_nothing_and_audits_nothing(db: sa.Engine) -> None:
    """Run again at the same time, retention finds nothing to delete and writes no row."""
    purge(db, NOW, call_log_days=1826, audit_days=1826)
    with db.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    assert purge(db, NOW, call_log_days=1826, audit_days=1826) == Purged(0, 0)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() == before


def test_keeping_times_are_separate(db: sa.Engine) -> None:
    """A short audit keeping time leaves the call log alone."""
    purged = purge(db, NOW, call_log_days=36_500, audit_days=5)
    assert (purged.call_log, purged.audit) == (0, 6)


def test_naive_time_is_refused(db: sa.Engine) -> None:
    """A naive ``now`` is a programming error, said plainly."""
    with pytest.raises(ValueError, match="timezone-aware"):
        purge(db, NOW.replace(tzinfo=None), call_log_days=40, audit_days=40)
