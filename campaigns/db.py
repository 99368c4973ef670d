"""Database engine: an SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

import campaigns.inbound
import campaigns.models  # noqa: F401  (registers the tables on SQLModel.metadata)

DEFAULT_URL = "sqlite:///dialer.db"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(
    url: str = DEFAULT_URL, *, echo: bool = False, idle_in_transaction_s: float | None = None
) -> sa.Engine:
    """Create an engine for ``url`` with the settings this project relies on.

    ``idle_in_transaction_s`` (PostgreSQL): the server ends a session that keeps a
    transaction open without a statement this long. A process frozen inside a
    transaction (SIGSTOP, a VM pause, starved of CPU) then gives its row locks back: a
    frozen engine holding the lease row ``FOR KEY SHARE`` in a claim blocked the takeover of
    its campaigns for as long as it stayed frozen.
    """
    engine = sa.create_engine(url, echo=echo, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql" and idle_in_transaction_s is not None:
        ms = max(1, round(idle_in_transaction_s * 1000))

        def idle_limit(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET idle_in_transaction_session_timeout = {ms}")
            dbapi_conn.commit()

        sa.event.listen(engine, "connect", idle_limit)
    return engine


def create_schema(engine: sa.Engine) -> None:
    """Create every table directly (tests and benchmarks; production uses migrations)."""
    SQLModel.metadata.create_all(engine)
