"""Reports: callbacks that found their owner absent (callback_miss), written when the
owner-absent policy releases one to another agent; the hourly rollup over all campaigns
(total_hour), filled from campaign_hour for the hours already rolled up; the per-record
rollup's time indexes with the call id after the time (the customers report's page order);
the call log's record index with the call id (a record's next call in one probe) and a
partial index of the calls that booked a callback (the agents report's callbacks kept).

Revision ID: 0015_reports_more
Revises: 0014_cluster
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_reports_more"
down_revision: str | None = "0014_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_COUNTS = ("dials", "persons", "connected", "dropped", "no_answer", "busy", "machine", "failed")
_METRICS = (*_COUNTS, "other", "talk_s", "wait_s", "wrapup_s")
_CONTACT_INDEXES = {
    "ix_record_contact_last": ("last_at", "last_call_id"),
    "ix_record_contact_first": ("first_at", "first_call_id"),
}


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "total_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (*_COUNTS, "other")),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour"),
        sqlite_with_rowid=False,
    )
    metrics = ", ".join(_METRICS)
    sums = ", ".join(f"sum({name})" for name in _METRICS)
    op.execute(
        f"INSERT INTO total_hour (hour, {metrics}) "  # noqa: S608  (constants only)
        f"SELECT hour, {sums} FROM campaign_hour GROUP BY hour"
    )
    op.create_table(
        "callback_miss",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("record_id", "due_at", name="uq_callback_miss_booking"),
    )
    op.create_index("ix_callback_miss_at", "callback_miss", ["at"])
    for name, columns in _CONTACT_INDEXES.items():
        op.drop_index(name, table_name="record_contact")
        op.create_index(name, "record_contact", list(columns))
    op.drop_index("ix_call_log_record_id", table_name="call_log")
    op.create_index("ix_call_log_record_id", "call_log", ["record_id", "id"])
    booked = sa.text("system_status = 'MY_RECORD'")
    op.create_index(
        "ix_call_log_booking",
        "call_log",
        ["dial_at", "agent_id", "record_id", "id"],
        postgresql_where=booked,
        sqlite_where=booked,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_call_log_booking", table_name="call_log")
    op.drop_index("ix_call_log_record_id", table_name="call_log")
    op.create_index("ix_call_log_record_id", "call_log", ["record_id"])
    for name, columns in _CONTACT_INDEXES.items():
        op.drop_index(name, table_name="record_contact")
        op.create_index(name, "record_contact", [columns[0]])
    op.drop_index("ix_callback_miss_at", table_name="callback_miss")
    op.drop_table("callback_miss")
    op.drop_table("total_hour")
