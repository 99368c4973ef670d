"""The campaign's dial mode (predictive or preview) and the preview's timeout: how long a
record waits on an agent's desk and whether it is then skipped or dialed.

Revision ID: 0009_desk
Revises: 0008
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_desk"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(
            sa.Column(
                "dial_mode", sa.String(length=12), nullable=False, server_default="predictive"
            )
        )
        batch.add_column(
            sa.Column("preview_timeout_s", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column(
                "preview_timeout_action",
                sa.String(length=8),
                nullable=False,
                server_default="skip",
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("preview_timeout_action")
        batch.drop_column("preview_timeout_s")
        batch.drop_column("dial_mode")
