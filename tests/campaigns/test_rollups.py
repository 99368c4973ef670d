"""Daily rollups add up the call log per campaign and day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.db import make_engine
from campaigns.migrate import initialize
from campaigns.models import CallLog, Campaign, CampaignDay
from campaigns.rollups import rollup_day

DAY = dt.date(2026, 3, 11)


def test_rollup_counts_outcomes_talk_and_is_idempotent(tmp_path: Path) -> None:
    """A day's row counts dials, persons, connects, drops, machines and talk; rerunning
    replaces it rather than adding to it; other days are not counted."""
    db = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    initialize(db, actor="t")
    at = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)
    with Session(db) as session:
        session.add(Campaign(name="c"))
        session.commit()
        rows = [
            ("answered", 60.0, at),
            ("answered", 30.0, at),
            ("dropped", None, at),
            ("machine", None, at),
            ("busy", None, at),
            ("answered", 99.0, at - dt.timedelta(days=1)),
        ]
        for outcome, talk, when in rows:
            session.add(CallLog(campaign_id=1, phone="+48500000001", outcome=outcome,
                                talk_s=talk, dial_at=when))  # fmt: skip
        session.commit()
    for _ in range(2):
        assert rollup_day(db, DAY, now=at) == 1
    with Session(db) as session:
        row = session.exec(sa.select(CampaignDay)).scalars().one()  # type: ignore[call-overload]
    assert (row.dials, row.answered, row.connected, row.dropped, row.machines) == (5, 3, 2, 1, 1)
    assert row.talk_s == 90.0
