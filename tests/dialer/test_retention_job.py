"""The retention job deletes what the [retention] settings say, daily at their hour."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from dialer.clock import VirtualClock
from dialer.config import RetentionSettings
from dialer.store import retention_job
from tests.dialer.test_store import START, db

__all__ = ["db"]  # the fixture, imported for the tests below


def test_retention_job_deletes_rows_past_the_setting(db: sa.Engine) -> None:
    """Run by the scheduler's thread, the job removes call-log rows older than
    call_log_days on the engine's clock and keeps younger ones; it runs daily at run_at."""
    with db.begin() as conn:
        for days in (5, 40, 400):
            conn.execute(
                sa.text("INSERT INTO call_log (campaign_id, phone, attempt, dial_at, note) "
                        "VALUES (1, '+48500000000', 1, :at, '')"),
                {"at": (START - dt.timedelta(days=days)).replace(tzinfo=None)},
            )  # fmt: skip
    settings = RetentionSettings(call_log_days=31, audit_days=3650, run_at="04:15")
    spec = retention_job(
        db,
        VirtualClock(START),
        call_log_days=settings.call_log_days,
        audit_days=settings.audit_days,
        run_at=settings.run_at,
        batch=settings.batch,
    )
    trigger = spec.trigger("UTC")
    assert isinstance(trigger, CronTrigger)
    assert str(trigger) == "cron[hour='4', minute='15']"
    spec.func()
    with db.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM call_log")).scalar_one()
    assert left == 1
