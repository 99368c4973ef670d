"""Seats belong to agents: an agent logs in on its own extension or on a seat an
administrator allowed it, and is refused any other with the reason."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from asterisk.scenario import ScenarioBehaviour, load_scenario
from asterisk.simulator import PbxSimulator
from asterisk.world import World as SimWorld
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.models import Agent
from dialer.runtime import Runtime
from dialer.runtime.commands import CommandGate, SeatRefusedError, check_seat, open_cli_session
from dialer.runtime.mqtt import MemorySink
from tests.access.test_mqtt_commands import PASSWORD, _cheap_hashing, demo_db
from tests.runtime_settings import sim_settings

ROOT = Path(__file__).parents[2]
__all__ = ["_cheap_hashing"]  # the fixture, used here too


def _seats(db: sa.Engine, agent_id: int, *, extension: str | None, seats: list[str]) -> None:
    with Session(db) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.extension = extension
        agent.seats = seats
        session.add(agent)
        session.commit()


async def test_runtime_refuses_another_agents_seat(tmp_path: Path) -> None:
    """The engine refuses agent 1 (extension 301) on seat 201, the extension of agent 2,
    naming the agent's seats; its own extension and an allowed seat are taken."""
    db = tmp_path / "seats.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(engine, records=20, now=dt.datetime.now(dt.UTC))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE campaign SET state='paused'")
    _seats(engine, 1, extension="301", seats=[])
    _seats(engine, 2, extension="201", seats=[])
    scenario = load_scenario(ROOT / "config/scenarios/demo.toml")
    prefix = uuid.uuid4().hex[:8]
    async with PbxSimulator(SimWorld(behaviour=ScenarioBehaviour(scenario)), port=0) as pbx:
        settings = sim_settings(db, pbx.port, engine={"id": f"seat-test-{prefix}"})
        async with Runtime(settings) as runtime:
            with pytest.raises(SeatRefusedError, match=r"'201' is not a seat of agent agent1.*301"):
                runtime.agent_command(1, "login", {"campaign": 1, "seat": "201"})
            assert 1 not in runtime.engine.agents or (
                runtime.engine.agents[1].state.phase.value == "logged_out"
            )
            runtime.agent_command(1, "login", {"campaign": 1, "seat": "301"})
            assert runtime.engine.agent_snapshot(1)["seat"] == "301"  # type: ignore[index]


def test_allowed_seats_are_the_extension_and_the_administrators_list(tmp_path: Path) -> None:
    """Without a seat the agent gets its extension (its login when it has none); an
    allowed seat is taken; anything else is refused with the agent's seats listed."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    build_demo(engine, records=1, now=dt.datetime.now(dt.UTC))
    _seats(engine, 1, extension=None, seats=["desk-7"])
    assert check_seat(engine, 1, None) == "agent1"
    assert check_seat(engine, 1, "desk-7") == "desk-7"
    with pytest.raises(SeatRefusedError, match=r"its seats are agent1, desk-7"):
        check_seat(engine, 1, "desk-8")


async def test_mqtt_login_on_a_foreign_seat_is_answered_with_the_reason(tmp_path: Path) -> None:
    """Over MQTT the seat refusal reaches the agent on its error topic."""
    _, engine = demo_db(tmp_path)
    _seats(engine, 2, extension="201", seats=[])
    sink = MemorySink()

    def login(agent: int, action: str, payload: dict[str, Any]) -> None:
        del action
        check_seat(engine, agent, payload["seat"])

    gate = CommandGate(
        db=engine, sink=sink, agent_command=login, campaign_command=lambda _c, _a: None
    )
    token = open_cli_session(engine, "ag1", PASSWORD)
    await gate("agents", "1", {"action": "login", "campaign": 1, "seat": "201", "token": token})
    topic, body, _ = sink.messages[0]
    assert topic == "agents/1/error"
    assert "seat '201' is not a seat of agent agent1" in body["error"]
