"""Shared set-up of the callback-request tests: a campaign open all day and a source."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from campaigns import requests as rq
from campaigns.enums import CampaignState
from campaigns.models import Campaign
from campaigns.service import create_campaign, validate_rules

NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)  # a Wednesday


def make_campaign(
    db: sa.Engine,
    name: str = "web",
    *,
    state: CampaignState = CampaignState.RUNNING,
    **rules: object,
) -> int:
    """A campaign calling any day at any hour (unless ``rules`` say otherwise)."""
    values: dict[str, object] = {
        "name": name,
        "window_start": "00:00",
        "window_end": "24:00",
        "window_days": [1, 2, 3, 4, 5, 6, 7],
        "max_attempts": 3,
    }
    values.update(rules)
    with Session(db) as session:
        campaign = create_campaign(session, validate_rules(**values), actor="test")
        campaign.state = state
        session.add(campaign)
        session.commit()
        assert campaign.id is not None
        return campaign.id


def make_source(db: sa.Engine, name: str = "website", **kw: int) -> tuple[rq.SourceView, str]:
    """A source and its key."""
    return rq.create_source(db, name, actor="test", now=NOW, **kw)


def count(db: sa.Engine, table: str) -> int:
    """Rows in ``table``."""
    with db.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def campaign_of(db: sa.Engine, campaign_id: int) -> Campaign:
    """The campaign row."""
    with Session(db) as session:
        row = session.get(Campaign, campaign_id)
        assert row is not None
        return row
