"""A callback kept is a fact of the call that kept it (call_log.callback_kept), written when
the person is connected to the agent who had booked the record as their own on its previous
call, and counted per hour by the rollups (callbacks_kept): the agents report adds them up
instead of probing the next call of every booking of the period. Existing calls get the
fact from their history; the rollups already filled are topped up from it. The partial
index of bookings, which only that probe read, goes.

Revision ID: 0017_callback_kept
Revises: 0016_cluster_stats
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_callback_kept"
down_revision: str | None = "0016_cluster_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUPS = ("call_hour", "campaign_hour", "total_hour")

#: The calls that kept a callback: connected to the agent whose MY_RECORD booking was the
#: record's previous call.
_KEPT = """
UPDATE call_log SET callback_kept = true
 WHERE (connect_at IS NOT NULL OR outcome = 'answered')
   AND agent_id IS NOT NULL AND record_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM call_log booking
                WHERE booking.id = (SELECT max(earlier.id) FROM call_log earlier
                                     WHERE earlier.record_id = call_log.record_id
                                       AND earlier.id < call_log.id)
                  AND booking.system_status = 'MY_RECORD'
                  AND booking.agent_id = call_log.agent_id)
"""


def _hour(dialect: str) -> str:
    if dialect == "postgresql":
        return "date_trunc('hour', dial_at)"
    return "strftime('%Y-%m-%d %H:00:00.000000', dial_at)"


def upgrade() -> None:
    """Apply this revision."""
    # Plain ADD COLUMNs (SQLite too: a constant default), not a copy of the call log.
    op.add_column(
        "call_log",
        sa.Column("callback_kept", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.drop_index("ix_call_log_booking", table_name="call_log")
    for table in _ROLLUPS:
        op.add_column(
            table, sa.Column("callbacks_kept", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(_KEPT)
    conn = op.get_bind()
    hour = _hour(conn.dialect.name)
    kept = conn.execute(
        sa.text(
            f"SELECT {hour} AS hour, campaign_id, agent_id, count(*) FROM call_log"  # noqa: S608
            f" WHERE callback_kept GROUP BY {hour}, campaign_id, agent_id"
        )
    ).all()
    # Only hours already rolled up have rows to top up; the others are filled with the
    # column by the rollup job.
    for at, campaign_id, agent_id, n in kept:
        where = {"h": at, "c": campaign_id}
        conn.execute(
            sa.text(
                "UPDATE call_hour SET callbacks_kept = callbacks_kept + :n"
                " WHERE hour = :h AND campaign_id = :c AND agent_key = :a"
            ),
            {**where, "a": agent_id, "n": n},
        )
        conn.execute(
            sa.text(
                "UPDATE campaign_hour SET callbacks_kept = callbacks_kept + :n"
                " WHERE hour = :h AND campaign_id = :c"
            ),
            {**where, "n": n},
        )
        conn.execute(
            sa.text("UPDATE total_hour SET callbacks_kept = callbacks_kept + :n WHERE hour = :h"),
            {"h": at, "n": n},
        )


def downgrade() -> None:
    """Revert this revision."""
    for table in _ROLLUPS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("callbacks_kept")
    booked = sa.text("system_status = 'MY_RECORD'")
    op.create_index(
        "ix_call_log_booking",
        "call_log",
        ["dial_at", "agent_id", "record_id", "id"],
        postgresql_where=booked,
        sqlite_where=booked,
    )
    with op.batch_alter_table("call_log") as batch:
        batch.drop_column("callback_kept")
