"""Restart adoption: a restarted engine takes over what Asterisk still has, ends nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from asterisk import events as ev
from asterisk.protocol import Message, encode
from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.dispositions import campaign_statuses
from campaigns.enums import SystemStatus
from campaigns.models import Agent, Campaign
from dialer.engine import CampaignRun, Engine, StopSeat
from dialer.engine.adoption import Found, FoundCall, FoundSeat, Plan, plan
from dialer.engine.calls import Call, CallPhase, Lead
from dialer.engine.clock import VirtualClock
from dialer.runtime import Runtime
from dialer.runtime.mqtt import MemorySink
from dialer.sim.memory import MemoryJournal, MemoryLeads, MemoryRecord
from tests.asterisk.test_restart_replay import new_adapter, steps
from tests.dialer.test_engine import FixedPacer
from tests.runtime_settings import sim_settings


def h7_lists() -> tuple[list[Message], list[Message], list[Message]]:
    """What the restarted client of h7 read: channels, rooms, room members (session 2)."""
    channels, rooms, members = [], [], []
    for step in steps("h7_adopt_after_client_crash"):
        if step.session != 2 or step.direction != "<<":
            continue
        if step.msg.event == "CoreShowChannel":
            channels.append(step.msg)
        elif step.msg.event == "ConfbridgeListRooms":
            rooms.append(step.msg)
        elif step.msg.event == "ConfbridgeList":
            members.append(step.msg)
    return channels, rooms, members


H7_CALL = FoundCall(
    "h7-0001",
    "lab",
    Found.TALKING,
    "dialer-h7-0001",
    "Local/10103000007@customers-00000005;1",
    "1001",
)


def test_h7_plan_adopts_the_conversation_and_hangs_up_nothing() -> None:
    """From h7's CoreShowChannels and ConfbridgeList: the open call is talking in agent
    1001's seat, the seat is adopted with it, and nothing is to be hung up."""
    channels, rooms, members = h7_lists()
    assert [r.get("Conference") for r in rooms] == ["agent-1001"]
    got = plan({"h7-0001"}, {"lab": channels}, {"lab": members}, own_prefix="h7-")
    assert got == Plan(
        calls=(H7_CALL,),
        seats=(
            FoundSeat(
                "1001",
                "lab",
                "dialer-h7-seat-1001",
                frozenset({"dialer-h7-seat-1001-2"}),
                "Local/1001@agents-00000003;1",
            ),
        ),
    )


def test_plan_hangs_up_only_unknown_legs_of_this_engine() -> None:
    """A leg of this engine that no open row knows is hung up; another client's is left;
    an open call found nowhere is gone."""
    channels, _, members = h7_lists()
    got = plan({"h7-0002"}, {"lab": channels}, {"lab": members}, own_prefix="h7-")
    assert got.calls == ()
    assert got.gone == ("h7-0002",)
    assert sorted(got.hangups) == [
        ("lab", "Local/1001@agents-00000003;1"),
        ("lab", "Local/10103000007@customers-00000005;1"),
    ]
    other = plan(set(), {"lab": channels}, {"lab": members}, own_prefix="other-")
    assert other.hangups == (("lab", "Local/1001@agents-00000003;1"),)


def test_h7_restart_adopts_the_conversation_into_the_engine() -> None:
    """Replaying h7 at start: the call is connected to agent 1001 in the engine, its row
    gets answer, connect and agent, nothing is written to Asterisk, and when the customer
    hangs up the agent wraps up and sets the record's status as usual."""
    channels, _, members = h7_lists()
    found = plan({"h7-0001"}, {"lab": channels}, {"lab": members}, own_prefix="h7-")
    clock = VirtualClock()
    leads = MemoryLeads([MemoryRecord(7, 1, "10103000007", attempts=1, leased=True)])
    journal = MemoryJournal(leads)
    sink = MemorySink()
    engine = Engine(clock=clock, leads=leads, journal=journal, sink=sink)
    engine.add_campaign(CampaignRun(1, "h7", FixedPacer(0)))
    dial_at = clock.utcnow() - dt.timedelta(seconds=5)
    journal.rows["h7-0001"] = {"record_id": 7, "dial_at": dial_at}  # the crashed run's row
    events: list[ev.LifecycleEvent] = []
    adapter, proto, wire = new_adapter(events)
    (call,) = found.calls
    (seat,) = found.seats
    adopted = Call(
        call.call_id,
        0,
        1,
        Lead(7, 1, "10103000007"),
        None,
        0.0,
        dial_at,
        phase=CallPhase.TALKING,
        agent_id=1001,
        server="lab",
    )
    assert engine.adopt(adopted, seat=call.seat) == []
    adapter.adopt_call(call.call_id, channel_id=call.channel_id, channel=call.channel, agent="1001")
    adapter.adopt_seat(seat.seat, uniqueid=seat.uniqueid, members=set(seat.members))
    assert engine.agents[1001].state.phase.value == "talking"
    assert engine.agents[1001].state.call_id == "h7-0001"
    row = journal.rows["h7-0001"]
    assert row["agent"] == 1001
    assert row["answer_at"] is not None
    assert row["connect_at"] is not None
    assert sink.on("agents/1001/screenpop")[-1]["record"]["id"] == 7
    # The rest of the recording: the customer and then the seat hang up.
    after = False
    for step in steps("h7_adopt_after_client_crash"):
        if step.session == 2 and step.direction == "<<":
            after = after or step.msg.event == "ConfbridgeListComplete"
            if after:
                proto.data_received(encode(step.msg.pairs))
    for event in events:
        engine.on_event(dataclasses.replace(event, server="lab"))
    assert wire.written == []
    assert row["outcome"] == "answered"
    assert engine.agents[1001].state.phase.value == "wrap_up"
    commands = engine.agent_set_status(1001, "h7-0001", 1)
    assert row["status"] == 1
    assert StopSeat not in {type(c) for c in commands}


def talker(exten: str, now: float) -> Behaviour:
    """Every dialed person answers within 0.3 s and talks for four seconds."""
    del exten, now
    return Behaviour("human", ring_s=0.3, talk_s=4.0)


async def test_restarted_engine_adopts_a_conversation_on_the_simulator(tmp_path: Path) -> None:
    """An engine that stops without draining (as after a crash) leaves a conversation up;
    the next start adopts it: nothing is hung up, the agent talks on it, its row has answer,
    connect and agent, and the agent's status closes it as usual."""
    db_path = tmp_path / "adopt.db"
    db = make_engine(f"sqlite:///{db_path}")
    campaign_id = build_demo(
        db, records=20, now=dt.datetime.now(dt.UTC), agents=1, running=True, always_open=True
    )
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.pacing_profile = "progressive"
        session.add(campaign)
        agent = session.exec(select(Agent)).first()
        assert agent is not None
        agent_id = agent.id or 0
        session.commit()
    world = World(behaviour=talker)
    async with PbxSimulator(world, port=0) as pbx:
        settings = sim_settings(db_path, pbx.port, engine={"id": "adopt", "tick_s": 0.1})
        first = Runtime(settings)
        await first.__aenter__()
        first.agent_command(agent_id, "login", {"campaign": campaign_id})
        await until("a call connected", lambda: first.engine.stats(campaign_id)["connected"])
        (call_id,) = [c.call_id for c in first.engine.calls.values() if c.agent_id]
        await first.__aexit__(None, None, None)  # no drain: the call stays up on the PBX
        customer = next(n for n in world.channels if "customers" in n and n.endswith(";1"))
        second = Runtime(settings)
        await second.__aenter__()
        try:
            assert customer in world.channels, "the conversation was not hung up"
            state = second.engine.agents[agent_id].state
            assert (state.phase.value, state.call_id) == ("talking", call_id)
            await until("the call ended", lambda: customer not in world.channels)
            await until(
                "the agent in wrap-up",
                lambda: second.engine.agents[agent_id].state.phase.value == "wrap_up",
            )
            statuses = campaign_statuses_of(db, campaign_id)
            second.agent_command(agent_id, "status", {"call_id": call_id, "status": statuses[0]})
            await asyncio.to_thread(second.journal.wait_idle, 10)
        finally:
            await second.__aexit__(None, None, None)
    with db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT agent_id, answer_at, connect_at, outcome, status_id FROM call_log "
                "WHERE channel_id = :c"
            ),
            {"c": call_id},
        ).one()
    db.dispose()
    assert row[0] == agent_id
    assert row[1] is not None
    assert row[2] is not None
    assert row[3] == "answered"
    assert row[4] == statuses[0]


def campaign_statuses_of(db: sa.Engine, campaign_id: int) -> list[int]:
    """Ids of the campaign's TO_CALL statuses."""
    with db.connect() as conn:
        return [
            o.id
            for o in campaign_statuses(conn, campaign_id)
            if o.system_status is SystemStatus.TO_CALL and o.active
        ]


async def until(what: str, check: Callable[[], Any], within_s: float = 15.0) -> None:
    """Poll ``check`` until it is truthy; fail naming ``what``."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.05)
