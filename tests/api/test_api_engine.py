"""End to end: the API served by a real engine process (``Runtime(http=...)``) against the
PBX simulator over AMI; an agent works a call over real HTTP and a supervisor watches it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.enums import Role, SystemStatus
from campaigns.models import Agent, CallLog, Campaign, Record
from dialer.runtime import Runtime
from dialer.services.accounts import create_user
from tests.api.conftest import PASSWORD
from tests.runtime_settings import sim_settings


def person(exten: str, now: float) -> Behaviour:
    """Every dialed person answers within half a second and talks for two seconds."""
    del exten, now
    return Behaviour("human", ring_s=0.4, talk_s=2.0)


async def until(what: str, check: Callable[[], Awaitable[Any]], within_s: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after
    ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def sign_in(client: httpx.AsyncClient, login: str) -> dict[str, str]:
    """Bearer headers of a new session for ``login``."""
    response = await client.post("/api/auth/login", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@contextlib.asynccontextmanager
async def live_stream(
    client: httpx.AsyncClient, headers: dict[str, str], seen: list[tuple[str, dict[str, Any]]]
) -> AsyncIterator[None]:
    """Read ``/api/live`` in the background into ``seen`` (event name, data)."""

    async def read() -> None:
        async with client.stream("GET", "/api/live", headers=headers) as response:
            assert response.status_code == 200
            name = "message"
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    seen.append((name, json.loads(line.removeprefix("data: "))))

    task = asyncio.create_task(read())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


@pytest.mark.slow
async def test_agent_works_a_call_over_http_and_the_dashboard_shows_it(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """Over real HTTP to the engine process: the agent logs in to a seat and gets ready, a
    simulated person answers and is connected (screen pop on the live stream), the agent sets
    a MY_RECORD status with a date; the record then belongs to the agent with that time, the
    call log row carries the status, and the supervisor's dashboard counts the call."""
    db_path = tmp_path / "e2e-api.db"
    db = make_engine(f"sqlite:///{db_path}")
    now = dt.datetime.now(dt.UTC)
    campaign_id = build_demo(db, records=40, now=now, agents=2, running=True, always_open=True)
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.pacing_profile = "progressive"  # one call per ready agent: nobody dropped
        session.add(campaign)
        agent = session.exec(select(Agent).where(Agent.login == "agent1")).one()
        agent_id = agent.id or 0
        create_user(
            session,
            login="ola",
            password=PASSWORD,
            role=Role.AGENT,
            actor="test",
            agent_id=agent_id,
        )
        create_user(session, login="boss", password=PASSWORD, role=Role.ADMIN, actor="test")
        session.commit()

    async with PbxSimulator(World(behaviour=person), port=0) as pbx:
        settings = sim_settings(db_path, pbx.port, engine={"id": "api-e2e", "tick_s": 0.2})
        port = unused_tcp_port
        runtime = Runtime(settings, http=("127.0.0.1", port))
        await runtime.__aenter__()
        stopped = False
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=5.0
            ) as client:
                await work_a_call(client, db, campaign_id, agent_id, now)
                # A live stream still open when the engine stops does not hold it up.
                boss_h = await sign_in(client, "boss")
                open_at_stop: list[tuple[str, dict[str, Any]]] = []
                async with live_stream(client, boss_h, open_at_stop):
                    await until("the stream to open", lambda: _any(open_at_stop), 3.0)
                    started = time.monotonic()
                    await runtime.__aexit__(None, None, None)
                    stopped = True
                    assert time.monotonic() - started < 3.0  # the stream ends within ~1 s
        finally:
            if not stopped:
                await runtime.__aexit__(None, None, None)
    db.dispose()


async def _any(items: list[Any]) -> bool:
    return bool(items)


async def work_a_call(
    client: httpx.AsyncClient, db: sa.Engine, campaign_id: int, agent_id: int, now: dt.datetime
) -> None:
    """The agent's call, the status and what the supervisor and the database then show."""
    agent_h, boss_h = await sign_in(client, "ola"), await sign_in(client, "boss")
    agent_seen: list[tuple[str, dict[str, Any]]] = []
    boss_seen: list[tuple[str, dict[str, Any]]] = []
    async with (
        live_stream(client, agent_h, agent_seen),
        live_stream(client, boss_h, boss_seen),
    ):
        login = await client.post(
            "/api/agent/login", json={"campaign": campaign_id}, headers=agent_h
        )
        assert login.status_code == 200, login.text
        assert login.json()["seat"] == "agent1"

        async def state() -> dict[str, Any]:
            response = await client.get("/api/agent/state", headers=agent_h)
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

        async def talking() -> dict[str, Any] | None:
            s = await state()
            return s if s["phase"] == "talking" and s["call"] else None

        on_call = await until("a call connected to the agent", talking)
        call_id = on_call["call"]["call_id"]
        record_id = on_call["call"]["record"]["id"]
        assert on_call["call"]["record"]["phone"].startswith("+")
        callback = next(s for s in on_call["statuses"] if s["system_status"] == "MY_RECORD")
        assert callback["needs_date"] is True

        async def wrapping_up() -> bool:
            return (await state())["phase"] == "wrap_up"

        await until("the person to hang up", wrapping_up)
        when = (now + dt.timedelta(days=1)).replace(microsecond=0)
        done = await client.post(
            "/api/agent/status",
            json={
                "call_id": call_id,
                "status": callback["id"],
                "date": when.isoformat(),
                "note": "oddzwonić jutro",
            },
            headers=agent_h,
        )
        assert done.status_code == 200, done.text
        assert done.json()["phase"] in {"ready", "reserved", "talking"}
        paused = await client.post("/api/agent/pause", json={"reason": "koniec"}, headers=agent_h)
        assert paused.status_code == 200, paused.text

        def written() -> tuple[Any, Any] | None:
            with Session(db) as session:
                record = session.get(Record, record_id)
                row = session.exec(select(CallLog).where(CallLog.channel_id == call_id)).first()
                if record is None or row is None or row.status_id is None:
                    return None
                return record, row

        async def in_database() -> tuple[Any, Any] | None:
            return await asyncio.to_thread(written)

        record, row = await until("the status to be written", in_database)
        assert record.system_status == SystemStatus.MY_RECORD
        assert record.owner_agent_id == agent_id
        assert record.next_call_at == when
        assert row.status_id == callback["id"]
        assert row.note == "oddzwonić jutro"
        assert row.outcome == "answered"

        board = await client.get(f"/api/dashboard/{campaign_id}", headers=boss_h)
        assert board.status_code == 200, board.text
        live = board.json()["live"]
        assert live["connected"] >= 1
        assert live["dials"] >= live["connected"]
        assert board.json()["abandonment"]["today"]["connected"] >= 1
        calls = await client.get(
            "/api/calls",
            params={"campaign": campaign_id, "agent": agent_id},
            headers=boss_h,
        )
        logged = [c for c in calls.json()["items"] if c["note"] == "oddzwonić jutro"]
        assert [c["status_name"] for c in logged] == [callback["name"]]
        mine = await client.get("/api/agent/callbacks", headers=agent_h)
        assert record_id in [c["record_id"] for c in mine.json()]

        async def stream_saw_it() -> bool:
            return any(
                name == "screenpop" and data["payload"]["call_id"] == call_id
                for name, data in agent_seen
            ) and any(name == "stats" for name, _ in boss_seen)

        await until("the live streams to carry the call", stream_saw_it, 3.0)
        phases = [d["payload"]["phase"] for n, d in agent_seen if n == "agent"]
        assert "talking" in phases
        assert {n for n, _ in agent_seen} <= {"agent", "screenpop", "error"}
        assert any(n == "call" for n, _ in boss_seen)
