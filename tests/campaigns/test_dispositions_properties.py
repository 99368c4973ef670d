"""Hypothesis property: the database side stores exactly what the pure engine computes."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from campaigns.db import create_schema, make_engine
from campaigns.dispositions import load_rules, record_outcome, state_of
from campaigns.enums import Outcome, SystemStatus
from campaigns.models import Campaign, CampaignStatus, Record, StatusDef
from campaigns.status_engine import apply_outcome

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(Outcome), st.integers(0, 60 * 24 * 3)), max_size=6),
    st.dictionaries(st.sampled_from(["busy", "no_answer", "default"]), st.integers(0, 7200)),
    st.sampled_from(["Europe/Warsaw", "America/New_York", "Asia/Tokyo"]),
)
def test_record_outcome_stores_the_pure_engine_state(
    steps: list[tuple[Outcome, int]], delays: dict[str, int], tz: str
) -> None:
    """After each outcome, the record row read back equals the engine's state for that step."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'p.db'}")
        create_schema(engine)
        with Session(engine) as s:
            s.add(Campaign(name="c", retry_delays_s=delays))
            s.commit()
            s.add(
                StatusDef(name="Zajęty", system_status=SystemStatus.NOT_BEFORE, auto_outcome="busy")
            )
            s.commit()
            s.add(CampaignStatus(campaign_id=1, status_id=1))
            s.add(Record(campaign_id=1, phone="+48601234567", tz=tz, attempts=1))
            s.commit()
        now = START
        for outcome, minutes in steps:
            now += dt.timedelta(minutes=minutes)
            with engine.connect() as conn:
                before = state_of(conn.execute(Record.__table__.select()).one())  # type: ignore[attr-defined]
                rules, auto = load_rules(conn, 1)
            expected = apply_outcome(before, outcome, now, rules, auto)
            result = record_outcome(engine, 1, outcome, now=now)
            with engine.connect() as conn:
                stored = state_of(conn.execute(Record.__table__.select()).one())  # type: ignore[attr-defined]
            assert result.state == expected
            assert stored == expected
        engine.dispose()
