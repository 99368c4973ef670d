"""Helpers shared by the campaign-core tests: databases and small factories."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.db import create_schema, make_engine
from campaigns.models import Agent, Campaign, DncEntry, Record

#: A Wednesday, 12:00 UTC: 13:00 in Warsaw, 07:00 in New York, 21:00 in Tokyo.
NOON = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)


def sqlite_engine(path: Any) -> sa.Engine:
    """A fresh SQLite file database with every table."""
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    return engine


@contextmanager
def pg_schema_engine(pg_url: str) -> Iterator[sa.Engine]:
    """An engine on a fresh PostgreSQL schema with every table; the schema is dropped after."""
    schema = f"core_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine = sa.create_engine(
        pg_url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=10
    )
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def add_campaign(engine: sa.Engine, **rules: Any) -> int:
    """Insert a campaign open all day (00:00-24:00) every day unless rules say otherwise."""
    values: dict[str, Any] = {
        "name": f"c-{uuid.uuid4().hex[:8]}",
        "window_start": "00:00",
        "window_end": "24:00",
        "window_days": [1, 2, 3, 4, 5, 6, 7],
    }
    values.update(rules)
    with Session(engine) as session:
        campaign = Campaign(**values)
        session.add(campaign)
        session.commit()
        assert campaign.id is not None
        return campaign.id


def add_agent(engine: sa.Engine, login: str) -> int:
    """Insert an agent and return its id."""
    with Session(engine) as session:
        agent = Agent(login=login)
        session.add(agent)
        session.commit()
        assert agent.id is not None
        return agent.id


def add_record(engine: sa.Engine, campaign_id: int, phone: str, **state: Any) -> int:
    """Insert a record (TO_CALL, fresh, UTC zone unless ``state`` says otherwise)."""
    with Session(engine) as session:
        record = Record(campaign_id=campaign_id, phone=phone, **state)
        session.add(record)
        session.commit()
        assert record.id is not None
        return record.id


def add_dnc(engine: sa.Engine, phone: str, campaign_id: int | None = None, **extra: Any) -> None:
    """Put a number on the global (or a campaign's) DNC list."""
    with Session(engine) as session:
        session.add(DncEntry(phone=phone, campaign_id=campaign_id, **extra))
        session.commit()


def record_row(engine: sa.Engine, record_id: int) -> Record:
    """The stored record."""
    with Session(engine) as session:
        record = session.get(Record, record_id)
        assert record is not None
        session.expunge(record)
        return record
