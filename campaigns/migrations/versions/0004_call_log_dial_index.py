"""Index of the call log by dial time (the unfiltered call list, newest first)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_call_log_dial", "call_log", ["dial_at", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_call_log_dial", table_name="call_log")
