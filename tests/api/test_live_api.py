"""The live stream (SSE): the present first, then events, filtered by role and campaign;
keep-alive pings; the stream ends when the client leaves, the session ends or the engine
stops. The app is driven as ASGI in the test's own event loop, every wait bounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialer.api.hub import EventHub, LiveEvent
from dialer.api.routes import live
from dialer.api.routes.live import LiveScope, admit
from tests.api.conftest import LOGINS, World, sign_in

WAIT_S = 3.0


@dataclass
class Stream:
    """One open ``GET /api/live`` on the app, read event by event."""

    app: FastAPI
    token: str
    query: str = ""
    status: int | None = None
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    comments: list[str] = field(default_factory=list)
    _left: asyncio.Event = field(default_factory=asyncio.Event)
    _started: asyncio.Event = field(default_factory=asyncio.Event)
    _buffer: str = ""
    task: asyncio.Task[None] | None = None

    async def open(self) -> Stream:
        """Send the request; wait for the response to start."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/live",
            "raw_path": b"/api/live",
            "root_path": "",
            "query_string": self.query.encode(),
            "headers": [(b"authorization", f"Bearer {self.token}".encode()), (b"host", b"test")],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self._started.set()
            elif message["type"] == "http.response.body":
                self._feed(message.get("body", b"").decode())

        self.task = asyncio.create_task(self.app(scope, receive, send))  # type: ignore[arg-type]
        async with asyncio.timeout(WAIT_S):
            await self._started.wait()
        return self

    def _feed(self, text: str) -> None:
        self._buffer += text.replace("\r\n", "\n")
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            name, data = "message", ""
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data += line.removeprefix("data: ")
            if data:
                self.events.put_nowait((name, json.loads(data)))

    async def next(self, within_s: float = WAIT_S) -> tuple[str, dict[str, Any]]:
        """The next event (its name and data)."""
        async with asyncio.timeout(within_s):
            return await self.events.get()

    async def drain(self, settle_s: float = 0.2) -> list[tuple[str, str]]:
        """(event name, topic) of every event that arrives within ``settle_s``."""
        got = []
        while True:
            try:
                name, data = await self.next(settle_s)
            except TimeoutError:
                return got
            got.append((name, data["topic"]))

    async def close(self) -> None:
        """Leave (the client disconnects) and wait for the app to finish the response."""
        self._left.set()
        assert self.task is not None
        async with asyncio.timeout(WAIT_S):
            await self.task

    async def ended(self) -> bool:
        """True when the server ended the response by itself."""
        assert self.task is not None
        try:
            async with asyncio.timeout(WAIT_S):
                await asyncio.shield(self.task)
        except TimeoutError:
            return False
        return True


@pytest.fixture
def hub() -> EventHub:
    """The hub the app streams from."""
    return EventHub()


@pytest.fixture
def live_app(app: FastAPI, hub: EventHub) -> FastAPI:
    """The fixture app streaming from ``hub``."""
    app.state.ctx.hub = hub
    return app


@pytest.fixture
def tokens(live_app: FastAPI) -> dict[str, str]:
    """A session token per login (signed in outside the event loop)."""
    logins = [*LOGINS.values(), "agent_b"]
    return {login: sign_in(live_app, login).headers["Authorization"].split()[1] for login in logins}


@pytest.fixture
async def streams(live_app: FastAPI) -> AsyncIterator[list[Stream]]:
    """Streams opened by a test, closed after it."""
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        if stream.task is not None and not stream.task.done():
            await stream.close()


async def open_stream(app: FastAPI, token: str, streams: list[Stream], query: str = "") -> Stream:
    """Open a stream (closed by the ``streams`` fixture)."""
    stream = Stream(app, token, query)
    streams.append(stream)
    return await stream.open()


def publish_world(hub: EventHub, w: World, *, retained: bool) -> None:
    """Retained figures and agent states, or a round of live events of every kind."""
    a, b = w.agent_a, w.agent_b
    if retained:
        hub.publish("campaigns/1/stats", {"campaign": 1, "dials": 3}, retain=True)
        hub.publish(f"agents/{a}/state", {"agent": a, "campaign": 1, "phase": "ready"}, retain=True)
        hub.publish(
            f"agents/{b}/state", {"agent": b, "campaign": 2, "phase": "paused"}, retain=True
        )
        return
    hub.publish("calls/1/c-1", {"call_id": "c-1", "campaign": 1, "agent": None, "state": "dialing"})
    hub.publish("calls/1/c-1", {"call_id": "c-1", "campaign": 1, "agent": a, "state": "connected"})
    hub.publish("calls/2/c-2", {"call_id": "c-2", "campaign": 2, "agent": b, "state": "connected"})
    hub.publish(f"agents/{a}/screenpop", {"call_id": "c-1", "campaign": 1, "record": {}})
    hub.publish(f"agents/{b}/screenpop", {"call_id": "c-2", "campaign": 2, "record": {}})
    hub.publish(f"agents/{a}/error", {"action": "ready", "error": "no"})
    hub.publish("campaigns/2/stats", {"campaign": 2, "dials": 9}, retain=True)


async def test_admin_gets_the_present_then_every_event(
    live_app: FastAPI, hub: EventHub, world: World, tokens: dict[str, str], streams: list[Stream]
) -> None:
    """An administrator's stream starts with the retained figures and agent states, then
    carries every event, named by kind, with its topic and payload."""
    publish_world(hub, world, retained=True)
    stream = await open_stream(live_app, tokens["admin"], streams)
    assert stream.status == 200
    first = await stream.drain()
    assert sorted(first) == sorted(
        [
            ("stats", "campaigns/1/stats"),
            ("agent", f"agents/{world.agent_a}/state"),
            ("agent", f"agents/{world.agent_b}/state"),
        ]
    )
    publish_world(hub, world, retained=False)
    name, data = await stream.next()
    assert name == "call"
    assert data["payload"]["state"] == "dialing"
    assert data["topic"] == "calls/1/c-1"
    rest = [name for name, _ in await stream.drain()]
    assert rest == ["call", "call", "screenpop", "screenpop", "error", "stats"]


async def test_group_leader_sees_figures_its_agents_and_their_calls(
    live_app: FastAPI, hub: EventHub, world: World, tokens: dict[str, str], streams: list[Stream]
) -> None:
    """A group leader gets campaign figures, its group's agents' states and their connected
    calls; not other agents, unanswered calls or screen pops."""
    publish_world(hub, world, retained=True)
    stream = await open_stream(live_app, tokens["leader"], streams)
    publish_world(hub, world, retained=False)
    got = await stream.drain()
    a = world.agent_a
    assert sorted(got[:2]) == [("agent", f"agents/{a}/state"), ("stats", "campaigns/1/stats")]
    assert got[2:] == [("call", "calls/1/c-1"), ("stats", "campaigns/2/stats")]


async def test_agent_sees_only_its_own_topics(
    live_app: FastAPI, hub: EventHub, world: World, tokens: dict[str, str], streams: list[Stream]
) -> None:
    """An agent gets its own state, screen pops and errors, nothing else."""
    publish_world(hub, world, retained=True)
    stream = await open_stream(live_app, tokens["agent"], streams)
    publish_world(hub, world, retained=False)
    a = world.agent_a
    assert await stream.drain() == [
        ("agent", f"agents/{a}/state"),
        ("screenpop", f"agents/{a}/screenpop"),
        ("error", f"agents/{a}/error"),
    ]
    other = await open_stream(live_app, tokens["agent_b"], streams)
    assert await other.drain() == [("agent", f"agents/{world.agent_b}/state")]


async def test_campaign_filter_keeps_one_campaign(
    live_app: FastAPI, hub: EventHub, world: World, tokens: dict[str, str], streams: list[Stream]
) -> None:
    """``?campaign=2`` keeps that campaign's figures, agents and calls (and events naming no
    campaign)."""
    publish_world(hub, world, retained=True)
    stream = await open_stream(live_app, tokens["head"], streams, "campaign=2")
    publish_world(hub, world, retained=False)
    b = world.agent_b
    assert await stream.drain() == [
        ("agent", f"agents/{b}/state"),
        ("call", "calls/2/c-2"),
        ("screenpop", f"agents/{b}/screenpop"),
        ("error", f"agents/{world.agent_a}/error"),
        ("stats", "campaigns/2/stats"),
    ]


async def test_leaving_unsubscribes_the_reader(
    live_app: FastAPI, hub: EventHub, tokens: dict[str, str], streams: list[Stream]
) -> None:
    """When the client goes away the response ends and the hub forgets the reader."""
    stream = await open_stream(live_app, tokens["admin"], streams)
    await asyncio.sleep(0.05)
    assert hub.readers == 1
    await stream.close()
    assert hub.readers == 0


async def test_stream_ends_when_the_engine_stops(
    live_app: FastAPI, hub: EventHub, tokens: dict[str, str], streams: list[Stream]
) -> None:
    """Closing the hub (the engine stopping) ends open streams within a second or two."""
    stream = await open_stream(live_app, tokens["admin"], streams)
    hub.close()
    assert await stream.ended()
    assert hub.readers == 0


async def test_stream_ends_when_the_session_ends(
    live_app: FastAPI,
    tokens: dict[str, str],
    streams: list[Stream],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signed-out session's stream ends at the next session check."""
    monkeypatch.setattr(live, "RECHECK_S", 0.1)
    monkeypatch.setattr(live, "POLL_S", 0.1)
    stream = await open_stream(live_app, tokens["head"], streams)
    assert stream.task is not None
    assert not stream.task.done()
    signed_out = await asyncio.to_thread(
        lambda: TestClient(live_app).post(
            "/api/auth/logout", headers={"Authorization": f"Bearer {tokens['head']}"}
        )
    )
    assert signed_out.status_code == 204
    assert await stream.ended()


async def test_quiet_stream_sends_keep_alive_pings(
    live_app: FastAPI,
    tokens: dict[str, str],
    streams: list[Stream],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream with nothing to say still sends comment lines, so proxies keep it open."""
    monkeypatch.setattr(live, "PING_S", 0.1)
    stream = await open_stream(live_app, tokens["agent"], streams)
    await asyncio.sleep(0.35)
    assert any("ping" in c for c in stream.comments)


def test_stream_needs_a_session(live_app: FastAPI) -> None:
    """Without a session the stream answers 401 at once."""
    response = TestClient(live_app).get("/api/live")
    assert response.status_code == 401


def test_bad_campaign_filter_is_422(live_app: FastAPI) -> None:
    """A campaign filter that is not an id answers 422 naming it (before any streaming)."""
    response = sign_in(live_app, "admin").get("/api/live", params={"campaign": "x"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "query.campaign"


@pytest.mark.parametrize(
    ("topic", "payload", "everything", "leader", "agent"),
    [
        ("campaigns/1/stats", {}, "stats", "stats", None),
        ("agents/7/state", {"campaign": 1}, "agent", "agent", "agent"),
        ("agents/8/state", {"campaign": 1}, "agent", None, None),
        ("agents/7/screenpop", {}, "screenpop", None, "screenpop"),
        ("agents/7/error", {}, "error", None, "error"),
        ("calls/1/x", {"agent": 7}, "call", "call", None),
        ("calls/1/x", {"agent": None}, "call", None, None),
        ("calls/1/x", {"agent": 8}, "call", None, None),
        ("agents/7/cmd", {}, None, None, None),
        ("something/else", {}, None, None, None),
    ],
)
def test_admit_table(
    topic: str,
    payload: dict[str, Any],
    everything: str | None,
    leader: str | None,
    agent: str | None,
) -> None:
    """Each kind of event reaches exactly the readers the role rules name (agent 7 is the
    leader's and is the agent; 8 is neither)."""
    event = LiveEvent(topic, payload)
    assert admit(LiveScope(everything=True), event) == everything
    assert admit(LiveScope(agents=frozenset({7, 9})), event) == leader
    assert admit(LiveScope(agents=frozenset({7}), own_agent=True), event) == agent


@pytest.mark.parametrize(
    ("topic", "payload", "everything", "leader", "agent"),
    [
        ("inbound/missed", {"phone": "+48601000001"}, "worklist", "worklist", "worklist"),
        ("inbound/row", {"action": "hidden"}, "worklist", "worklist", "worklist"),
        ("requests/5", {"agent": 7}, "request", "request", "request"),
        ("requests/5", {"agent": 8}, "request", None, None),
        ("requests/5", {"agent": None}, "request", None, None),
    ],
)
def test_followed_kinds_reach_only_readers_who_ask(
    topic: str,
    payload: dict[str, Any],
    everything: str | None,
    leader: str | None,
    agent: str | None,
) -> None:
    """The worklist's and the callback requests' events reach a reader only when it follows
    them (``?follow=``): the worklist every role, a request its agent's readers (all of them
    for administrators and heads)."""
    event = LiveEvent(topic, payload)
    follow = frozenset({"worklist", "request"})
    assert admit(LiveScope(everything=True), event) is None
    assert admit(LiveScope(everything=True, follow=follow), event) == everything
    assert admit(LiveScope(agents=frozenset({7, 9}), follow=follow), event) == leader
    assert admit(LiveScope(agents=frozenset({7}), own_agent=True, follow=follow), event) == agent


def test_unknown_follow_is_422(live_app: FastAPI) -> None:
    """Only the worklist and the requests can be followed."""
    response = sign_in(live_app, "admin").get("/api/live", params={"follow": "everything"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "query.follow.0"
