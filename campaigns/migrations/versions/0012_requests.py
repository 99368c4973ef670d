"""Callback requests by API (issue 15 item 4): sources with hashed keys, requests and
their history.

Revision ID: 0012_requests
Revises: 0008
Create Date: 2026-12-07 02:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_requests"
down_revision: str | None = "0011_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "request_source",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=120), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("rate_per_min", sa.Integer(), nullable=False),
        sa.Column("answer_within_s", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(), nullable=True),
    )
    op.create_table(
        "callback_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("request_source.id"), nullable=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("record.id"), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("requester_tz", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("external_ref", sa.String(length=120), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agent.id"), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("dialed_at", sa.DateTime(), nullable=True),
        sa.Column("connected_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("record_created", sa.Boolean(), nullable=False),
        sa.Column("prior_status", sa.String(length=20), nullable=True),
        sa.Column("prior_next_call_at", sa.DateTime(), nullable=True),
        sa.Column("prior_attempts", sa.Integer(), nullable=True),
    )
    op.create_index("ix_callback_request_source_id", "callback_request", ["source_id"])
    op.create_index("ix_callback_request_record_id", "callback_request", ["record_id"])
    op.create_index("ix_callback_request_agent_id", "callback_request", ["agent_id"])
    op.create_index("ix_callback_request_created", "callback_request", ["created_at", "id"])
    op.create_index("ix_callback_request_open", "callback_request", ["state", "due_at"])
    op.create_table(
        "callback_request_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("callback_request.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
    )
    op.create_index(
        "ix_callback_request_event_request_id", "callback_request_event", ["request_id"]
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("callback_request_event")
    op.drop_table("callback_request")
    op.drop_table("request_source")
