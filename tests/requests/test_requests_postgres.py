"""Callback requests on PostgreSQL (migrated by the Alembic chain): a request made, its
record claimed by an engine for the reserved agent, a cancel refused while it is dialed;
a duplicate and a cancel before the claim."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from campaigns import requests as rq
from campaigns.db import make_engine
from campaigns.migrate import initialize
from campaigns.models import Agent
from dialer.runtime.store import SqlLeads
from tests.requests.helpers import make_campaign, make_source


@pytest.fixture
def pg(pg_url: str) -> Iterator[sa.Engine]:
    """A migrated private schema (``requests_…``), dropped afterwards."""
    schema = f"requests_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        initialize(engine, actor="test")
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_request_claimed_for_the_reserved_agent_and_cancel_refused_while_dialed(
    pg: sa.Engine,
) -> None:
    """The engine's reserved claim takes the request's record for the agent; the cancel
    that comes then is refused (409) and changes nothing; a second request for the same
    number is refused while the first is open; another one is cancelled before any claim."""
    now = dt.datetime.now(dt.UTC)
    campaign = make_campaign(pg)
    with Session(pg) as session:
        session.add(Agent(login="ala"))
        session.commit()
        agent_id = session.exec(sa.select(Agent.id)).scalar_one()  # type: ignore[call-overload]
    source, _ = make_source(pg)
    first = rq.create_request(
        pg, source, rq.Asked(campaign=campaign, phone="+48500104000"), now=now
    )
    with pytest.raises(rq.RequestConflictError, match="open callback request"):
        rq.create_request(pg, source, rq.Asked(campaign=campaign, phone="+48500104000"), now=now)
    leads = SqlLeads(pg, engine_id="e1", lease_s=300)
    owners, progressive = leads.reserved_work(campaign, [agent_id], now)
    assert (owners, progressive) == (set(), 1)
    lead = leads.claim_reserved(campaign, agent_id, now)
    assert lead is not None
    assert lead.fields[rq.FIELD_REQUEST] == first.id
    with pytest.raises(rq.RequestConflictError, match="being dialed"):
        rq.cancel_request(pg, first.id, source_id=source.id, actor="source:website", now=now)
    assert rq.get_request(pg, first.id).state == "waiting"
    second = rq.create_request(
        pg, source, rq.Asked(campaign=campaign, phone="+48500104001"), now=now
    )
    done = rq.cancel_request(pg, second.id, source_id=source.id, actor="source:website", now=now)
    assert done.state == "cancelled"
    assert leads.claim_reserved(campaign, agent_id, now) is None
