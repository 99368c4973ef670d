"""Reports: callbacks that found their owner absent (callback_miss), written when the
owner-absent policy releases one to another agent.

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


def upgrade() -> None:
    """Apply this revision."""
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


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_callback_miss_at", table_name="callback_miss")
    op.drop_table("callback_miss")
