"""Abandonment windows and the facts that seed a pacer, read from PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from campaigns.abandonment import abandonment_windows, settled_facts
from campaigns.models import CallLog
from tests.campaigns.core_helpers import NOON, add_campaign, pg_schema_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    """A fresh PostgreSQL schema with every table, dropped afterwards."""
    with pg_schema_engine(pg_url) as engine:
        yield engine


def test_windows_and_seed_facts_on_postgres(engine: sa.Engine) -> None:
    """Connects, drops and machines are counted and listed oldest first, as aware UTC
    times, within 30 days of now; calls still up count."""
    cid = add_campaign(engine)
    minute = dt.timedelta(minutes=1)
    with Session(engine) as session:
        for kind, ago in (("connect", 5), ("drop", 3), ("machine", 2), ("connect", 60 * 24 * 40)):
            at = NOON - ago * minute
            row = CallLog(campaign_id=cid, phone="+48700000001", dial_at=at - minute)
            if kind == "connect":
                row.connect_at = at  # still talking: no outcome yet
            elif kind == "drop":
                row.drop_at, row.outcome = at, "dropped"
            else:
                row.end_at, row.outcome = at, "machine"
            session.add(row)
        session.commit()
    windows = abandonment_windows(engine, cid, NOON, "Europe/Warsaw")
    assert [(w.connected, w.dropped) for w in windows] == [(1, 1)] * 3
    facts = list(settled_facts(engine, cid, NOON))
    assert facts == [
        (NOON - 5 * minute, "connect"),
        (NOON - 3 * minute, "drop"),
        (NOON - 2 * minute, "machine"),
    ]
