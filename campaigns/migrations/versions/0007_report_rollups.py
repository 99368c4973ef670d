"""Report rollups: the call log per campaign × agent × hour, statuses set per hour

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "dials",
    "persons",
    "connected",
    "dropped",
    "no_answer",
    "busy",
    "machine",
    "failed",
    "other",
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "call_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agent_key", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "campaign_id", "agent_key"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "campaign_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "campaign_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "status_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agent_key", sa.Integer(), nullable=False),
        sa.Column("status_key", sa.Integer(), nullable=False),
        sa.Column("system_status", sa.String(length=20), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "campaign_id", "agent_key", "status_key", "system_status"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_hour",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hour"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("rollup_hour")
    op.drop_table("status_hour")
    op.drop_table("campaign_hour")
    op.drop_table("call_hour")
