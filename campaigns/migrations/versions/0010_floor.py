"""Supervisor actions on records: parked records (never dialed until unparked) and
"call next" (claimed before every other non-reserved record).

Revision ID: 0010_floor
Revises: 0008
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_floor"
down_revision: str | None = "0009_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("record") as batch:
        batch.add_column(sa.Column("parked_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("parked_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("call_next_at", sa.DateTime(), nullable=True))
        batch.create_index(
            "ix_record_call_next",
            ["campaign_id", "call_next_at"],
            sqlite_where=sa.text("call_next_at IS NOT NULL"),
            postgresql_where=sa.text("call_next_at IS NOT NULL"),
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("record") as batch:
        batch.drop_index("ix_record_call_next")
        batch.drop_column("call_next_at")
        batch.drop_column("parked_by")
        batch.drop_column("parked_at")
