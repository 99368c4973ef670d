"""Agents act on the running engine through MQTT commands (the `dialer agent` path)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session

from asterisk.scenario import ScenarioBehaviour, load_scenario
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.enums import Role
from dialer.cli.agent_cmds import send_agent_command
from dialer.runtime import Runtime
from dialer.runtime.commands import open_cli_session
from dialer.services import accounts as security
from tests.runtime_settings import sim_settings

ROOT = Path(__file__).parents[2]


@pytest.mark.mqtt
async def test_login_pause_and_refusal_over_mqtt(
    tmp_path: Path, mqtt_addr: tuple[str, int]
) -> None:
    """An agent logs in, pauses, and a wrong status is refused with a reason, all over MQTT."""
    host, port = mqtt_addr
    db = tmp_path / "mqtt.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(engine, records=200, now=dt.datetime.now(dt.UTC))
    engine.dispose()
    with sqlite3.connect(db) as conn:  # loaded by the engine, but placing no calls
        conn.execute("UPDATE campaign SET state='paused'")
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:  # the agent's user, whose session signs the commands
        security.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        try:
            security.create_user(
                session,
                login="agent1",
                password="agent-pass",
                role=Role.AGENT,
                actor="test",
                agent_id=1,
            )
            session.commit()
            token = open_cli_session(engine, "agent1", "agent-pass")
        finally:
            security.use_hasher(PasswordHasher())
    engine.dispose()
    scenario = load_scenario(ROOT / "config/scenarios/demo.toml")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    async with PbxSimulator(World(behaviour=ScenarioBehaviour(scenario)), port=0) as pbx:
        settings = sim_settings(
            db,
            pbx.port,
            engine={"id": f"mqtt-test-{prefix}"},
            mqtt={"enabled": True, "host": host, "port": port, "topic_prefix": prefix},
        )
        async with Runtime(settings) as runtime:
            assert runtime.mqtt is not None
            await runtime.mqtt.wait_connected()

            async def send(payload: dict[str, object]) -> tuple[str, dict[str, object]] | None:
                return await send_agent_command(
                    host=host, port=port, prefix=prefix, agent=1, payload=payload, token=token
                )

            answer = await send({"action": "login", "campaign": 1, "seat": "agent1"})
            assert answer is not None
            assert answer[0] == "state"
            assert answer[1]["phase"] in {"paused", "ready"}
            answer = await send({"action": "pause", "reason": "lunch"})
            assert answer is not None
            assert answer[0] == "state"
            assert answer[1]["phase"] == "paused"
            assert answer[1]["pause_reason"] == "lunch"
            answer = await send({"action": "status", "call_id": "nope", "status": 1})
            assert answer is not None
            assert answer[0] == "error"
            assert "no call" in str(answer[1]["error"])
            assert runtime.engine.agents[1].state.pause_reason == "lunch"
