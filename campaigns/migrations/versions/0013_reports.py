"""Reports: each record's contact history added up (customers report), how far it goes, an
index the statuses report counts records from, agents' phase history and its hourly rollup

Revision ID: 0013_reports
Revises: 0008
Create Date: 2026-12-07 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_reports"
down_revision: str | None = "0012_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "record_contact",
        sa.Column("record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("first_call_id", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("first_outcome", sa.String(), nullable=True),
        sa.Column("first_agent_id", sa.Integer(), nullable=True),
        sa.Column("last_call_id", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.Column("last_agent_id", sa.Integer(), nullable=True),
        sa.Column("last_answered_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.create_index("ix_record_contact_last", "record_contact", ["last_at"])
    op.create_index("ix_record_contact_first", "record_contact", ["first_at"])
    op.create_table(
        "record_rollup",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("upto", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "agent_phase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_agent_phase_start", "agent_phase", ["start_at"])
    op.create_index("ix_agent_phase_open", "agent_phase", ["agent_id", "end_at"])
    op.create_table(
        "agent_phase_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("agent_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "agent_id", "campaign_id", "phase", "reason"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_record_status_breakdown",
        "record",
        ["campaign_id", "list_id", "status_id", "system_status", "owner_agent_id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_record_status_breakdown", table_name="record")
    op.drop_table("agent_phase_hour")
    op.drop_index("ix_agent_phase_open", table_name="agent_phase")
    op.drop_index("ix_agent_phase_start", table_name="agent_phase")
    op.drop_table("agent_phase")
    op.drop_table("record_rollup")
    op.drop_index("ix_record_contact_first", table_name="record_contact")
    op.drop_index("ix_record_contact_last", table_name="record_contact")
    op.drop_table("record_contact")
