"""Call facts written when they happen: the drop time, and indexes for the abandonment
windows (counted by connect and drop time) and for retention of the audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("call_log") as batch:
        batch.add_column(sa.Column("drop_at", sa.DateTime(), nullable=True))
    # Rows written before this revision: a dropped person was sent to the message right
    # after the pick-up; the answer time is the closest known time (else the end).
    op.execute(
        "UPDATE call_log SET drop_at = coalesce(answer_at, end_at) "
        "WHERE outcome = 'dropped' AND drop_at IS NULL"
    )
    op.create_index("ix_call_log_campaign_connect", "call_log", ["campaign_id", "connect_at"])
    op.create_index("ix_call_log_campaign_drop", "call_log", ["campaign_id", "drop_at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_call_log_campaign_drop", table_name="call_log")
    op.drop_index("ix_call_log_campaign_connect", table_name="call_log")
    with op.batch_alter_table("call_log") as batch:
        batch.drop_column("drop_at")
