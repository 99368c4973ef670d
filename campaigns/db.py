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


def make_engine(url: str = DEFAULT_URL, *, echo: bool = False) -> sa.Engine:
    """Create an engine for ``url`` with the settings this project relies on."""
    engine = sa.create_engine(url, echo=echo, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def create_schema(engine: sa.Engine) -> None:
    """Create every table directly (tests and benchmarks; production uses migrations)."""
    SQLModel.metadata.create_all(engine)
