"""The journal on PostgreSQL across a real outage: the engine's connections go through a
TCP relay that is cut (open connections dropped, new ones refused) and then restored."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from campaigns.db import create_schema, make_engine
from campaigns.enums import Outcome
from dialer.engine import Call
from dialer.engine.clock import VirtualClock
from dialer.runtime.store import BackgroundJournal, SqlJournal, SqlLeads
from tests.campaigns.core_helpers import NOON, add_campaign, add_record
from tests.faults.rig import Relay

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema(pg_url: str) -> Iterator[str]:
    """A fresh schema with every table (dropped afterwards)."""
    name = f"journal_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    direct = sa.create_engine(pg_url, connect_args={"options": f"-csearch_path={name}"})
    create_schema(direct)
    direct.dispose()
    yield name
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


def test_no_fact_is_lost_across_a_postgres_outage(pg_url: str, schema: str) -> None:
    """Facts written while the database's connections are cut are all there once they
    are restored: rows opened before, answered/connected/ended during the outage."""
    url = make_url(pg_url)
    options = {"options": f"-csearch_path={schema}"}
    direct = sa.create_engine(pg_url, connect_args=options)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    via = sa.create_engine(url.set(host="127.0.0.1", port=relay.port), connect_args=options)
    try:
        cid = add_campaign(direct)
        for i in range(3):
            add_record(direct, cid, f"+4871000000{i}")
        clock = VirtualClock(NOON)
        leads = SqlLeads(direct, engine_id="e1", lease_s=300)
        calls = [
            Call(f"pg-{lead.record_id}", k, cid, lead, None, 0.0, NOON)
            for k, lead in enumerate(leads.claim(cid, 3, NOON))
        ]
        journal = BackgroundJournal(
            SqlJournal(via, engine_id="e1", clock=clock), retry_s=0.02, max_retry_s=0.1
        )
        for call in calls:
            journal.dialed(call)
        journal.flush()
        assert journal.wait_idle(30)
        relay.cut()
        talk, busy, drop = calls
        at = NOON + dt.timedelta(seconds=5)
        talk.answer_at = talk.person_at = at
        journal.answered(talk)
        talk.connect_at, talk.agent_id = at, None
        journal.connected(talk)
        drop.answer_at = drop.person_at = at
        drop.drop_at = at + dt.timedelta(seconds=2)
        journal.dropped(drop)
        busy.outcome, busy.end_at, busy.cause = Outcome.BUSY, at, 17
        journal.finished(busy)
        assert journal.stalled.wait(30), "the journal met the outage"
        relay.restore()
        journal.close(within_s=60)
        assert not journal.stalled.is_set()
        with direct.connect() as conn:
            rows = {
                r.channel_id: r
                for r in conn.execute(sa.text("SELECT * FROM call_log")).mappings().all()
            }
        assert rows[talk.call_id]["connect_at"] is not None
        assert rows[drop.call_id]["drop_at"] is not None
        assert (rows[busy.call_id]["outcome"], rows[busy.call_id]["hangup_cause"]) == ("busy", 17)
        assert journal.failures == 0
    finally:
        via.dispose()
        direct.dispose()
