"""Seats an agent may log in on besides its extension (hot-desking)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("agent") as batch:
        batch.add_column(
            sa.Column("seats", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("agent") as batch:
        batch.drop_column("seats")
