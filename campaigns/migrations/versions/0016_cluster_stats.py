"""A campaign owner's live figures beside its lease, for the pages of every engine
(dialer/runtime/cluster.py).

Revision ID: 0016_cluster_stats
Revises: 0015_reports_more
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_cluster_stats"
down_revision: str | None = "0015_reports_more"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("campaign_lease") as batch:
        batch.add_column(sa.Column("stats", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("stats_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("campaign_lease") as batch:
        batch.drop_column("stats_at")
        batch.drop_column("stats")
