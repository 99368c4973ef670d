"""A frozen engine inside a transaction does not hold its row locks for ever."""

from __future__ import annotations

import threading
import time
import uuid

import sqlalchemy as sa

from campaigns.db import make_engine


def test_a_frozen_transaction_lets_go_of_its_lock(pg_url: str) -> None:
    """A session that holds a row ``FOR SHARE`` and then says nothing (its process frozen
    while claiming) is ended by PostgreSQL after ``idle_in_transaction_s``, and a writer
    waiting for the row (the other engine's takeover) goes on. Without the limit the
    writer waits as long as the process stays frozen (tests/cluster/test_zombie.py once
    waited 30 s for a takeover that never came)."""
    table = f"frozen_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url)
    frozen = make_engine(pg_url, idle_in_transaction_s=1.0)
    holder: sa.Connection | None = None
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, token int)"))
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 0)"))
        holder = frozen.connect()
        holder.begin()
        holder.execute(sa.text(f"SELECT token FROM {table} WHERE id = 1 FOR SHARE"))
        # ... and the process freezes here: no statement, no commit
        done = threading.Event()

        def take_over() -> None:
            with admin.begin() as conn:
                conn.execute(sa.text(f"UPDATE {table} SET token = token + 1 WHERE id = 1"))
            done.set()

        started = time.monotonic()
        threading.Thread(target=take_over, daemon=True).start()
        assert done.wait(15), "the takeover still waits for the frozen session's lock"
        assert time.monotonic() - started < 10
    finally:
        if holder is not None:
            holder.invalidate()  # a failed run must not leave the lock for the clean-up
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        frozen.dispose()
        admin.dispose()
