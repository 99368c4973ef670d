"""Hypothesis fuzzing of MQTT commands: whatever is published on the command topics, the
engine's command dispatcher (listener, gate and engine core) stays up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from structlog.testing import capture_logs

from campaigns.models import AuditLog
from dialer.api.hub import EventHub
from dialer.runtime.commands import CommandGate, open_cli_session
from dialer.runtime.mqtt import MemorySink, MqttPublisher
from tests.api.conftest import PASSWORD, World
from tests.api.test_agent_api import EngineHost, make_campaign

# ----------------------------------------------------------------------- MQTT commands

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
ACTIONS = ["login", "ready", "pause", "logout", "status", "start", "stop", "bogus", ""]


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """(topic, payload, which token) — well-formed, odd or hostile."""
    if draw(st.booleans()):  # a plausible command by the agent itself, fields fuzzed
        action = draw(st.sampled_from(["login", "ready", "pause", "logout", "status"]))
        body = {"action": action, "campaign": 1, "reason": "x", "call_id": "c", "status": 1}
        body.update(draw(st.dictionaries(st.sampled_from(list(body)), json_values, max_size=2)))
        return "dialer/agents/1/cmd", json.dumps(body).encode(), "agent"
    kind = draw(st.sampled_from(["agents", "campaigns", "calls", "agents/1"]))
    ident = draw(st.sampled_from(["1", "2", "999", "0", "x", "99999999999", ""]))
    topic = f"dialer/{kind}/{ident}/cmd"
    who = draw(st.sampled_from(["agent", "head", "none", "garbage"]))
    shape = draw(st.sampled_from(["command", "json", "bytes", "deep"]))
    if shape == "command":
        body: dict[str, Any] = {"action": draw(st.sampled_from(ACTIONS))}
        body.update(
            draw(
                st.dictionaries(
                    st.sampled_from(["campaign", "seat", "reason", "call_id", "status", "date"]),
                    json_values,
                    max_size=4,
                )
            )
        )
        raw = json.dumps(body).encode()
    elif shape == "json":
        raw = json.dumps(draw(json_values)).encode()
    elif shape == "bytes":
        raw = draw(st.binary(max_size=200))
    else:
        depth = draw(st.integers(min_value=1, max_value=5000))
        raw = b'{"action":' + b"[" * depth + b"]" * depth + b"}"
    return topic, raw, who


def test_no_command_payload_stops_the_dispatcher(api_db: sa.Engine, world: World) -> None:
    """Whatever is published on the command topics, the listener and the engine behind it
    stay up, every refusal is one the engine meant (no crash inside it), and afterwards
    the agent's signed commands still log it out and in."""
    del world
    cid, _ = make_campaign(api_db)
    host = EngineHost(api_db, EventHub())
    host.load(cid, "Jesień")
    sink = MemorySink()
    gate = CommandGate(
        db=api_db,
        sink=sink,
        agent_command=host.agent_command,
        campaign_command=lambda _campaign, _action: None,
    )
    bus = MqttPublisher(prefix="dialer", on_command=gate)
    tokens = {
        "agent": open_cli_session(api_db, "agent", PASSWORD),
        "head": open_cli_session(api_db, "head", PASSWORD),
        "none": None,
        "garbage": "g" * 43,
    }

    async def deliver(topic: str, raw: bytes, who: str) -> None:
        token = tokens[who]
        if token is not None and raw.startswith(b"{") and not raw.startswith(b'{"action":['):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                body["token"] = token
                raw = json.dumps(body).encode()
        await bus.handle_message(topic, raw, gate)

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(commands())
    def fuzz(command: tuple[str, bytes, str]) -> None:
        asyncio.run(deliver(*command))

    with capture_logs() as logs:
        fuzz()
    unexpected = [entry for entry in logs if entry["event"] == "mqtt_command_failed"]
    assert unexpected == [], "every refusal has a reason, no command crashed in the engine"
    assert any(entry["event"] == "mqtt_command_refused" for entry in logs)
    assert gate.accepted > 0, "some fuzzed commands were well-formed and signed"

    async def still_up() -> None:
        for action in ({"action": "logout"}, {"action": "login", "campaign": cid}):
            body = json.dumps({**action, "token": tokens["agent"]}).encode()
            await bus.handle_message("dialer/agents/1/cmd", body, gate)

    asyncio.run(still_up())
    snapshot = host.agent_snapshot(1)
    assert snapshot is not None
    assert snapshot["phase"] in {"paused", "ready", "logged_out"}
    with Session(api_db) as session:
        audited = session.exec(select(AuditLog).where(AuditLog.action == "agent.login")).all()
    assert audited, "the accepted login was audited"
