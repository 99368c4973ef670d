"""MQTT commands prove their sender, are checked against its role and are audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import Session, col, select

from asterisk.scenario import ScenarioBehaviour, load_scenario
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.enums import Role
from campaigns.models import AuditLog, Campaign
from dialer.runtime import Runtime
from dialer.runtime.commands import CommandGate, open_cli_session
from dialer.runtime.mqtt import MemorySink
from dialer.services import accounts as security
from tests.runtime_settings import sim_settings

ROOT = Path(__file__).parents[2]
PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    """argon2 with minimal cost: the tests check behaviour, not hashing strength."""
    security.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    security.use_hasher(PasswordHasher())


def demo_db(tmp_path: Path) -> tuple[Path, sa.Engine]:
    """A demo database (campaign 1 paused, agents 1-5) with users head, ag1, ag2."""
    db = tmp_path / "cmd.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(engine, records=50, now=dt.datetime.now(dt.UTC))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE campaign SET state='paused'")
    with Session(engine) as session:
        security.create_user(session, login="head", password=PASSWORD, role=Role.HEAD, actor="test")
        for agent in (1, 2):
            security.create_user(
                session,
                login=f"ag{agent}",
                password=PASSWORD,
                role=Role.AGENT,
                actor="test",
                agent_id=agent,
            )
        session.commit()
    return db, engine


def state_of(engine: sa.Engine, campaign_id: int) -> str:
    """The campaign's state in the database."""
    with Session(engine) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return str(campaign.state)


def audit_rows(engine: sa.Engine) -> list[AuditLog]:
    """Audit entries written by commands (not the set-up's user.create)."""
    with Session(engine) as session:
        rows = session.exec(select(AuditLog).where(col(AuditLog.actor).startswith("user:"))).all()
        return list(rows)


def make_gate(engine: sa.Engine) -> tuple[CommandGate, MemorySink, list[tuple[Any, ...]]]:
    """A gate whose engine side records what it was asked to do."""
    sink = MemorySink()
    done: list[tuple[Any, ...]] = []
    gate = CommandGate(
        db=engine,
        sink=sink,
        agent_command=lambda agent, action, payload: done.append((agent, action, payload)),
        campaign_command=lambda campaign, action: done.append((campaign, action)),
    )
    return gate, sink, done


async def test_anonymous_and_wrong_role_commands_are_refused(tmp_path: Path) -> None:
    """Without a token, with an agent's token on another agent or on a campaign, a command
    is refused with the reason on the error topic and nothing is carried out."""
    _, engine = demo_db(tmp_path)
    gate, sink, done = make_gate(engine)
    ag1 = open_cli_session(engine, "ag1", PASSWORD)
    await gate("campaigns", "1", {"action": "stop"})
    await gate("agents", "2", {"action": "logout", "token": ag1})
    await gate("campaigns", "1", {"action": "stop", "token": ag1})
    await gate("agents", "1", {"action": "logout", "token": "x" * 43})
    assert done == []
    errors = [p["error"] for t, p, _ in sink.messages]
    assert "no valid session" in errors[0]
    assert "may not act for agent 2" in errors[1]
    assert "may not start, pause or stop campaigns" in errors[2]
    assert "no valid session" in errors[3]
    assert [t for t, _, _ in sink.messages][:2] == ["campaigns/1/error", "agents/2/error"]
    assert audit_rows(engine) == []


async def test_accepted_commands_are_audited_with_the_sender(tmp_path: Path) -> None:
    """A head's stop and an agent's own pause are carried out and audited with the user;
    the token is kept out of the handler and the audit log."""
    _, engine = demo_db(tmp_path)
    gate, _, done = make_gate(engine)
    head = open_cli_session(engine, "head", PASSWORD)
    ag2 = open_cli_session(engine, "ag2", PASSWORD)
    await gate("campaigns", "1", {"action": "stop", "token": head})
    await gate("agents", "2", {"action": "pause", "reason": "lunch", "token": ag2})
    assert done == [(1, "stop"), (2, "pause", {"action": "pause", "reason": "lunch"})]
    rows = audit_rows(engine)
    assert [(r.actor, r.action, r.entity, r.entity_id) for r in rows] == [
        ("user:head", "campaign.stop", "campaign", "1"),
        ("user:ag2", "agent.pause", "agent", "2"),
    ]
    assert rows[1].details == {"reason": "lunch", "via": "mqtt"}
    assert all(head not in json.dumps(r.details) for r in rows)


async def test_a_signed_out_session_no_longer_commands(tmp_path: Path) -> None:
    """A token whose session ended (signed out or expired) is refused."""
    _, engine = demo_db(tmp_path)
    gate, sink, done = make_gate(engine)
    head = open_cli_session(engine, "head", PASSWORD, hours=-1)
    await gate("campaigns", "1", {"action": "pause", "token": head})
    assert done == []
    assert "no valid session" in sink.messages[0][1]["error"]


@pytest.mark.mqtt
async def test_anonymous_stop_over_mqtt_leaves_the_campaign_running(
    tmp_path: Path, mqtt_addr: tuple[str, int]
) -> None:
    """Any client on the broker publishing {"action":"stop"} no longer stops a campaign: it
    is answered with the refusal, while a head's signed stop goes through and is audited."""
    host, port = mqtt_addr
    db, engine = demo_db(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE campaign SET state='running'")
    scenario = load_scenario(ROOT / "config/scenarios/demo.toml")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    async with PbxSimulator(World(behaviour=ScenarioBehaviour(scenario)), port=0) as pbx:
        settings = sim_settings(
            db,
            pbx.port,
            engine={"id": f"cmd-test-{prefix}"},
            mqtt={"enabled": True, "host": host, "port": port, "topic_prefix": prefix},
        )
        async with Runtime(settings) as runtime, aiomqtt.Client(host, port) as client:
            assert runtime.mqtt is not None
            async with asyncio.timeout(5):
                await runtime.mqtt.wait_connected()
            await client.subscribe(f"{prefix}/campaigns/1/error", qos=1)
            await client.publish(f"{prefix}/campaigns/1/cmd", b'{"action":"stop"}', qos=1)
            async with asyncio.timeout(5):
                async for message in client.messages:
                    body = json.loads(message.payload)  # type: ignore[arg-type]
                    assert "no valid session" in body["error"]
                    break
            assert state_of(engine, 1) == "running"
            head = open_cli_session(engine, "head", PASSWORD)
            stop = json.dumps({"action": "stop", "token": head})
            await client.publish(f"{prefix}/campaigns/1/cmd", stop, qos=1)
            async with asyncio.timeout(5):
                while not audit_rows(engine):  # the audit entry is written last
                    await asyncio.sleep(0.02)
            assert state_of(engine, 1) == "stopped"
    assert [(r.actor, r.action) for r in audit_rows(engine)] == [("user:head", "campaign.stop")]
