"""Several engines on one database: engine heartbeats and campaign leases with a fencing
token (dialer/runtime/cluster.py).

Revision ID: 0014_cluster
Revises: 0008
Create Date: 2026-12-07 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_cluster"
down_revision: str | None = "0013_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "cluster_engine",
        sa.Column("owner", sa.String(length=100), primary_key=True),
        sa.Column("engine_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("agents", sa.Integer(), nullable=False),
    )
    op.create_table(
        "campaign_lease",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), primary_key=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("campaign_lease")
    op.drop_table("cluster_engine")
