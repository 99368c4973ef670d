"""End to end over AMI: callers give up in a queue of the PBX simulator, the engine's
worklist gets their rows within a second (one per caller and queue), a caller who then
gets through to the queue's member leaves the list, a callback campaign fed by the queue
calls the others back with an agent reserved, the rows leave by themselves, and the
immediate e-mail reaches a local SMTP sink."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from asterisk.dialplan import SHIPPED, Dialplan
from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from campaigns import inbound as wl
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.models import Agent, Campaign
from dialer.engine.sink import MemorySink
from dialer.runtime import Runtime
from tests.inbound.conftest import MailSink
from tests.runtime_settings import sim_settings


def quick_answer(exten: str, now: float) -> Behaviour:
    """Every called-back person answers after 0.3 s and talks for 1 s."""
    del exten, now
    return Behaviour("human", ring_s=0.3, talk_s=1.0)


#: The phone of the lab queue's member (Local/2001@queue-agents): rings 1 s, answers.
MEMBER_PHONE = """
[queue-agents]
exten => _X.,1,NoOp(member ${EXTEN})
 same => n,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Wait(3600)
"""


async def until(what: str, check: Callable[[], Any], within_s: float = 15.0) -> Any:
    """Poll ``check`` until it is truthy (returns it); fail naming ``what``."""
    deadline = time.monotonic() + within_s
    while not (value := check()):
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.02)
    return value


@pytest.mark.slow
async def test_abandons_become_rows_that_a_callback_campaign_clears(
    tmp_path: Path, smtp: tuple[MailSink, int]
) -> None:
    """Three abandons (two of one caller; the queue's member on a break) make two rows
    within a second of each abandon; the second caller calls again, the member (back from
    the break) answers, and that row leaves (answered_inbound); the campaign attached to
    'sales' calls the first caller back (progressive: an agent reserved first, nobody
    dropped) and the connected callback closes the row (callback_reached); the history has
    the misses and the callback; each new miss mailed the user at once."""
    mail, smtp_port = smtp
    db_path = tmp_path / "inbound.db"
    db = make_engine(f"sqlite:///{db_path}")
    campaign_id = build_demo(
        db, records=1, now=dt.datetime.now(dt.UTC), agents=1, running=True, always_open=True
    )
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.pacing_profile = "progressive"
        campaign.wrapup_timeout_s = 1  # the agent is ready again a second after each call
        session.add(campaign)
        agent = session.exec(select(Agent)).first()
        assert agent is not None
        agent.extension = "1001"
        session.add(agent)
        session.commit()
        agent_id = agent.id or 0
    with db.begin() as conn:  # only the worklist's callers are to be called here
        conn.execute(sa.text("UPDATE record SET system_status = 'DO_NOT_CALL'"))
    wl.attach_queue(db, "sales", campaign_id, actor="boss", known_queues=["sales"])
    sink = MemorySink()
    world = World(
        behaviour=quick_answer, dialplan=Dialplan.parse(SHIPPED.read_text() + MEMBER_PHONE)
    )
    member = world.queues["sales"].members[0]
    member.paused = True  # on a break: callers wait and give up
    async with PbxSimulator(world, port=0) as pbx:
        settings = sim_settings(
            db_path,
            pbx.port,
            engine={"id": "inbound", "tick_s": 0.1},
            inbound={
                "smtp": {"host": "127.0.0.1", "port": smtp_port},
                "recipients": [{"user": "boss", "email": "boss@example.com", "mode": "immediate"}],
            },
        )
        async with Runtime(settings, sink=sink) as runtime:
            # each caller gives up 1 s after the PBX answered (0.5 s media wait): the rows
            # must follow within a second of that
            for caller in ("48601000001", "48601000002"):
                pbx.inbound_call(caller, patience_s=1.0)
            abandoned = time.monotonic() + 1.5
            await until("two misses", lambda: len(sink.on("inbound/missed")) == 2, 5)
            assert time.monotonic() - abandoned < 1.0
            pbx.inbound_call("48601000001", patience_s=1.0)
            abandoned = time.monotonic() + 1.5
            await until("the repeat miss", lambda: len(sink.on("inbound/missed")) == 3, 5)
            assert time.monotonic() - abandoned < 1.0
            member.paused = False  # back from the break: the next call is answered
            pbx.inbound_call("48601000002", patience_s=3.0)
            answered = await until("the answer", lambda: sink.on("inbound/answered"), 10)
            assert len(answered[0]["closed_rows"]) == 1
            misses = sink.on("inbound/missed")
            assert [m["new_row"] for m in misses] == [True, True, False]
            assert misses[2]["miss_count"] == 2
            runtime.agent_command(agent_id, "login", {"campaign": campaign_id, "seat": "1001"})
            await until("the row called back", lambda: wl.open_count(db) == 0, 20)
            stats = runtime.engine.stats(campaign_id)
            assert stats["dropped"] == 0
    rows = wl.list_rows(db, wl.Filters(states=["closed"]), now=dt.datetime.now(dt.UTC))
    assert sorted(r.phone for r in rows) == ["+48601000001", "+48601000002"]
    reasons = {r.phone: r.closed_reason for r in rows}
    assert reasons == {"+48601000001": "callback_reached", "+48601000002": "answered_inbound"}
    first = next(r for r in rows if r.phone == "+48601000001")
    kinds = [h.kind for h in wl.history(db, first.id)]
    assert kinds == ["missed", "missed", "callback", "closed"]
    assert wl.history(db, first.id)[2].agent == str(agent_id)
    await until("two mails", lambda: len(mail.messages) >= 2, 5)
    assert all(m.rcpt_tos == ["boss@example.com"] for m in mail.messages)
    assert b"+48601000001" in mail.messages[0].content
    db.dispose()
