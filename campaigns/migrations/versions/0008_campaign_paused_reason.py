"""Why the engine paused a campaign by itself (circuit breaker), kept until it is started
again, so the campaign page and a restarted engine still say why.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("paused_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("paused_reason")
