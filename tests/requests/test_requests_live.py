"""End to end over AMI: a website's ASAP request reaches the engine process's API, the
engine reserves the ready agent, then dials the person (PBX simulator), who is connected
to that agent — nobody waits for an agent, nobody is dropped."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from campaigns import requests as rq
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.enums import Role
from campaigns.models import Agent, CallLog, Campaign
from dialer.runtime import Runtime
from dialer.services.accounts import create_user
from tests.api.conftest import PASSWORD
from tests.runtime_settings import sim_settings


def person(exten: str, now: float) -> Behaviour:
    """The person answers within half a second and talks for two seconds."""
    del exten, now
    return Behaviour("human", ring_s=0.4, talk_s=2.0)


async def until(what: str, check: Callable[[], Awaitable[Any]], within_s: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_asap_request_is_connected_to_the_reserved_agent(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """POST /api/callback-requests (ASAP) → the agent is reserved, then the person is
    dialed and connected to that agent: the call-log row has no drop and a wait of
    well under a second; the request goes calling → in progress → answered, each
    published (retained) on the live stream."""
    db_path = tmp_path / "requests-live.db"
    db = make_engine(f"sqlite:///{db_path}")
    now = dt.datetime.now(dt.UTC)
    campaign_id = build_demo(db, records=1, now=now, agents=1, running=True, always_open=True)
    with db.begin() as conn:  # only the request is there to dial
        conn.execute(sa.text("UPDATE record SET system_status = 'DO_NOT_CALL'"))
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.pacing_profile = "progressive"
        session.add(campaign)
        agent = session.exec(select(Agent).where(Agent.login == "agent1")).one()
        agent_id = agent.id or 0
        create_user(
            session, login="ola", password=PASSWORD, role=Role.AGENT, actor="t", agent_id=agent_id
        )
        session.commit()
    _, key = rq.create_source(db, "website", actor="test", now=now)

    async with PbxSimulator(World(behaviour=person), port=0) as pbx:
        settings = sim_settings(db_path, pbx.port, engine={"id": "req-e2e", "tick_s": 0.1})
        runtime = Runtime(settings, http=("127.0.0.1", unused_tcp_port))
        # the engine's own look for reserved work waits long: the request must not wait
        # for it (the API tells the engine that an ASAP request arrived)
        runtime.engine.reserved_check_s = 60.0
        await runtime.__aenter__()
        try:
            base = f"http://127.0.0.1:{unused_tcp_port}"
            async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
                signed = await client.post(
                    "/api/auth/login", json={"login": "ola", "password": PASSWORD}
                )
                agent_h = {"Authorization": f"Bearer {signed.json()['token']}"}
                login = await client.post(
                    "/api/agent/login", json={"campaign": campaign_id}, headers=agent_h
                )
                assert login.status_code == 200, login.text

                async def ready() -> bool:
                    state = await client.get("/api/agent/state", headers=agent_h)
                    return bool(state.json()["phase"] == "ready")

                await until("the agent to be ready", ready)
                made = await client.post(
                    "/api/callback-requests",
                    json={"campaign": campaign_id, "phone": "+48 500 100 700"},
                    headers={"X-API-Key": key},
                )
                assert made.status_code == 201, made.text
                request_id = made.json()["id"]

                async def state_is(*states: str) -> dict[str, Any] | None:
                    got = await client.get(
                        f"/api/callback-requests/{request_id}", headers={"X-API-Key": key}
                    )
                    body: dict[str, Any] = got.json()
                    return body if body["state"] in states else None

                await until("the person to talk with the agent", lambda: state_is("in_progress"))
                pop = await client.get("/api/agent/state", headers=agent_h)
                fields = pop.json()["call"]["record"]["fields"]
                assert fields["request_source"] == "website"
                done = await until("the call to end", lambda: state_is("answered"))
                assert [h["state"] for h in done["history"]] == [
                    "waiting",
                    "calling",
                    "in_progress",
                    "answered",
                ]
        finally:
            await runtime.__aexit__(None, None, None)
    view = rq.get_request(db, request_id)
    assert view.agent_id == agent_id
    assert view.dialed_at is not None
    assert view.connected_at is not None
    assert (view.dialed_at - view.created_at).total_seconds() < 2.0
    print(  # the figures the report quotes (pytest -s)
        f"request→dial {(view.dialed_at - view.created_at).total_seconds():.3f} s, "
        f"dial→connect {(view.connected_at - view.dialed_at).total_seconds():.3f} s"
    )
    calling = next(h for h in view.history if h["state"] == "calling")
    assert calling["agent_id"] == agent_id  # reserved before the person was dialed
    with Session(db) as session:
        row = session.exec(select(CallLog).where(CallLog.channel_id == view.call_id)).one()
    assert (row.agent_id, row.drop_at, row.outcome) == (agent_id, None, "answered")
    assert row.wait_s is not None
    assert row.wait_s < 0.5
    retained = runtime.hub.retained[f"requests/{request_id}"]
    assert retained.payload["state"] == "answered"
    with db.connect() as conn:
        drops = conn.execute(sa.text("SELECT count(*) FROM call_log WHERE drop_at IS NOT NULL"))
        assert drops.scalar_one() == 0
    db.dispose()
