"""Initial schema: statuses, campaigns, records, DNC, agents, audit and call log

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:54:43.594187
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRAPUP_FK = "fk_campaign_wrapup_default_status_id"
DUE_NOW = "system_status = 'TO_CALL' AND next_call_at IS NULL"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "agent_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("pacing_profile", sa.String(length=120), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delays_s", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.String(), nullable=False),
        sa.Column("window_end", sa.String(), nullable=False),
        sa.Column("window_days", sa.JSON(), nullable=False),
        sa.Column("default_region", sa.String(length=2), nullable=False),
        sa.Column("default_tz", sa.String(), nullable=True),
        sa.Column("owner_absent_policy", sa.String(length=16), nullable=False),
        sa.Column("owner_absent_release_min", sa.Integer(), nullable=False),
        sa.Column("max_wait_s", sa.Float(), nullable=False),
        sa.Column("wrapup_timeout_s", sa.Integer(), nullable=False),
        sa.Column("wrapup_default_status_id", sa.Integer(), nullable=True),
        sa.Column("caller_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "status_def",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("system_status", sa.String(length=20), nullable=False),
        sa.Column("auto_outcome", sa.String(length=20), nullable=True),
        sa.Column("add_to_new_campaigns", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "campaign_id", name="uq_status_name"),
    )
    with op.batch_alter_table("status_def", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_def_campaign_id"), ["campaign_id"], unique=False
        )
    # campaign and status_def refer to each other: the second reference comes afterwards.
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.create_foreign_key(WRAPUP_FK, "status_def", ["wrapup_default_status_id"], ["id"])

    op.create_table(
        "agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["agent_group.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_table(
        "campaign_status",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("status_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["status_def.id"],
        ),
        sa.PrimaryKeyConstraint("campaign_id", "status_id"),
    )
    op.create_table(
        "contact_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("default_tz", sa.String(), nullable=True),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact_list", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_list_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "dnc_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone", "campaign_id", name="uq_dnc_phone_campaign"),
    )
    with op.batch_alter_table("dnc_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dnc_entry_phone"), ["phone"], unique=False)

    op.create_table(
        "record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tz", sa.String(length=1024), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("system_status", sa.String(length=20), nullable=False),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_call_at", sa.DateTime(), nullable=True),
        sa.Column("owner_agent_id", sa.Integer(), nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.Column("last_call_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["contact_list.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["status_def.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "phone", name="uq_record_campaign_phone"),
    )
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_lease_expires_at"), ["lease_expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_record_owner_due", ["owner_agent_id", "system_status", "next_call_at"], unique=False
        )
    # Record selection (expression indexes: autogenerate cannot compare them on SQLite).
    op.create_index(
        "ix_record_pick",
        "record",
        ["campaign_id", "system_status", "next_call_at", sa.text("attempts DESC"), "id"],
    )
    op.create_index(
        "ix_record_due_now",
        "record",
        ["campaign_id", sa.text("attempts DESC"), "id"],
        sqlite_where=sa.text(DUE_NOW),
        postgresql_where=sa.text(DUE_NOW),
    )

    op.create_table(
        "call_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("dial_at", sa.DateTime(), nullable=False),
        sa.Column("answer_at", sa.DateTime(), nullable=True),
        sa.Column("connect_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("ring_s", sa.Float(), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("wrapup_s", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("hangup_cause_txt", sa.String(), nullable=True),
        sa.Column("amd_result", sa.String(length=20), nullable=True),
        sa.Column("amd_cause", sa.String(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("system_status", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("recording_ref", sa.String(), nullable=True),
        sa.Column("server", sa.String(length=64), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("action_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["record.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["status_def.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.create_index("ix_call_log_agent_dial", ["agent_id", "dial_at"], unique=False)
        batch_op.create_index("ix_call_log_campaign_dial", ["campaign_id", "dial_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_log_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_log_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_log_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_log_record_id"))
        batch_op.drop_index(batch_op.f("ix_call_log_phone"))
        batch_op.drop_index(batch_op.f("ix_call_log_channel_id"))
        batch_op.drop_index("ix_call_log_campaign_dial")
        batch_op.drop_index("ix_call_log_agent_dial")

    op.drop_table("call_log")
    op.drop_index("ix_record_due_now", table_name="record")
    op.drop_index("ix_record_pick", table_name="record")
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.drop_index("ix_record_owner_due")
        batch_op.drop_index(batch_op.f("ix_record_lease_expires_at"))

    op.drop_table("record")
    with op.batch_alter_table("dnc_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dnc_entry_phone"))

    op.drop_table("dnc_entry")
    with op.batch_alter_table("contact_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_list_campaign_id"))

    op.drop_table("contact_list")
    op.drop_table("campaign_status")
    op.drop_table("agent")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_constraint(WRAPUP_FK, type_="foreignkey")
    with op.batch_alter_table("status_def", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_def_campaign_id"))

    op.drop_table("status_def")
    op.drop_table("campaign")
    op.drop_table("audit_log")
    op.drop_table("agent_group")
