"""Campaign operating hours and daily rollups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("hours_start", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("hours_end", sa.String(length=5), nullable=True))
        batch.add_column(
            sa.Column(
                "hours_days", sa.JSON(), nullable=False, server_default="[1, 2, 3, 4, 5, 6, 7]"
            )
        )
        batch.add_column(
            sa.Column("hours_tz", sa.String(length=64), nullable=False, server_default="UTC")
        )
    op.create_table(
        "campaign_day",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dials", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("connected", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("machines", sa.Integer(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "day"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("campaign_day")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("hours_tz")
        batch.drop_column("hours_days")
        batch.drop_column("hours_end")
        batch.drop_column("hours_start")
