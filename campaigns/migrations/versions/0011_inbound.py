"""The missed-call worklist: rows per caller and queue, their history, and the queues
attached to callback campaigns.

Revision ID: 0011_inbound
Revises: 0008
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_inbound"
down_revision: str | None = "0010_floor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "state <> 'closed'"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "missed_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("tz", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("miss_count", sa.Integer(), nullable=False),
        sa.Column("first_missed_at", sa.DateTime(), nullable=False),
        sa.Column("last_missed_at", sa.DateTime(), nullable=False),
        sa.Column("last_reason", sa.String(length=32), nullable=False),
        sa.Column("callback_attempts", sa.Integer(), nullable=False),
        sa.Column("first_callback_at", sa.DateTime(), nullable=True),
        sa.Column("last_callback_at", sa.DateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_agent", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("hidden_at", sa.DateTime(), nullable=True),
        sa.Column("hidden_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_reason", sa.String(length=32), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["record.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_missed_call_closed_at", "missed_call", ["closed_at"])
    op.create_index("ix_missed_call_state_last", "missed_call", ["state", "last_missed_at"])
    op.create_index(
        "uq_missed_call_open",
        "missed_call",
        ["phone", "queue"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_table(
        "missed_call_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("missed_call_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("call_ref", sa.String(length=160), nullable=True),
        sa.Column("detail", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["missed_call_id"], ["missed_call.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_ref"),
    )
    op.create_index("ix_missed_call_event_missed_call_id", "missed_call_event", ["missed_call_id"])
    op.create_table(
        "inbound_queue",
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("attached_by", sa.String(length=64), nullable=False),
        sa.Column("attached_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("queue"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("inbound_queue")
    op.drop_index("ix_missed_call_event_missed_call_id", table_name="missed_call_event")
    op.drop_table("missed_call_event")
    op.drop_index("uq_missed_call_open", table_name="missed_call")
    op.drop_index("ix_missed_call_state_last", table_name="missed_call")
    op.drop_index("ix_missed_call_closed_at", table_name="missed_call")
    op.drop_table("missed_call")
