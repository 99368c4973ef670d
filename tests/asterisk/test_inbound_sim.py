"""Inbound callers in the PBX simulator reach the adapter's queue tracker over AMI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from asterisk.adapter import AmiAdapter
from asterisk.dialplan import SHIPPED, Dialplan
from asterisk.errors import ScenarioError
from asterisk.protocol import Message
from asterisk.queues import (
    InboundAbandoned,
    InboundAnswered,
    InboundCompleted,
    InboundEvent,
    InboundJoined,
    InboundMissed,
    QueueTracker,
)
from asterisk.scenario import ScenarioInbound, scenario_from_dict
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from tests.asterisk.conftest import settings_for


class Facts:
    """Inbound facts as the adapter delivers them; a test waits for one."""

    def __init__(self) -> None:
        self.items: list[InboundEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, fact: InboundEvent) -> None:
        self.items.append(fact)
        self._changed.set()

    async def wait_for(
        self, match: Callable[[InboundEvent], bool], within_s: float = 5.0
    ) -> InboundEvent:
        """The first fact for which ``match`` is true (seen already or coming)."""
        async with asyncio.timeout(within_s):
            while True:
                for fact in self.items:
                    if match(fact):
                        return fact
                self._changed.clear()
                await self._changed.wait()


async def test_a_caller_who_gives_up_in_the_queue_is_an_abandon_over_ami() -> None:
    """A simulated caller waits 2 s (world time) in 'sales' and hangs up: the adapter gets
    InboundJoined, then InboundAbandoned with the hold time in seconds."""
    facts = Facts()
    async with (
        PbxSimulator(World(), port=0, time_scale=10) as pbx,
        AmiAdapter(settings_for(pbx), on_inbound=facts) as ami,
    ):
        await ami.wait_ready(5)
        uid = pbx.inbound_call("48601000001", patience_s=2.0)
        joined = await facts.wait_for(lambda f: isinstance(f, InboundJoined))
        ab = await facts.wait_for(lambda f: isinstance(f, InboundAbandoned))
    assert isinstance(joined, InboundJoined)
    assert (joined.queue, joined.caller, joined.uniqueid) == ("sales", "48601000001", uid)
    assert isinstance(ab, InboundAbandoned)
    assert (ab.uniqueid, ab.position) == (uid, 1)
    assert ab.hold_s in (1, 2)  # whole-second clock differences, as app_queue counts


async def test_after_hours_call_is_missed_without_any_queue_event() -> None:
    """With INBOUND_HOURS=closed (AMI Setvar, global) the call goes to [dialer-missed]: one
    InboundMissed for the configured queue, and no queue event at all."""
    facts = Facts()
    async with (
        PbxSimulator(World(), port=0, time_scale=10) as pbx,
        AmiAdapter(settings_for(pbx, inbound_missed_queue="night"), on_inbound=facts) as ami,
    ):
        await ami.wait_ready(5)
        res = await ami.request(
            {"Action": "Setvar", "Variable": "INBOUND_HOURS", "Value": "closed"}
        )
        assert res.get("Message") == "Variable Set"
        pbx.inbound_call("48601000004", patience_s=10.0)
        miss = await facts.wait_for(lambda f: isinstance(f, InboundMissed))
    assert isinstance(miss, InboundMissed)
    assert (miss.caller, miss.reason, miss.queue, miss.context) == (
        "48601000004",
        "after-hours",
        "night",
        "dialer-missed",
    )
    assert [f for f in facts.items if not isinstance(f, InboundMissed)] == []


#: A queue member's phone for the simulator: rings 1 s, answers, talks until hung up.
MEMBER_PHONE = """
[queue-agents]
exten => _X.,1,NoOp(member ${EXTEN})
 same => n,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Wait(3600)
"""


def with_member_phone() -> Dialplan:
    """The shipped dialplan plus a phone for the lab queue's member Local/2001@queue-agents."""
    return Dialplan.parse(SHIPPED.read_text() + MEMBER_PHONE)


async def test_a_caller_the_member_answers_is_answered_then_completed() -> None:
    """With the member's phone reachable, the queue rings it; it answers after 1 s: the
    adapter gets InboundAnswered (hold and ring seconds) and, when the caller hangs up,
    InboundCompleted with the talk time; never an abandon."""
    facts = Facts()
    async with (
        PbxSimulator(World(dialplan=with_member_phone()), port=0, time_scale=10) as pbx,
        AmiAdapter(settings_for(pbx), on_inbound=facts) as ami,
    ):
        await ami.wait_ready(5)
        pbx.inbound_call("48601000002", patience_s=4.0)
        ans = await facts.wait_for(lambda f: isinstance(f, InboundAnswered))
        done = await facts.wait_for(lambda f: isinstance(f, InboundCompleted))
    assert isinstance(ans, InboundAnswered)
    assert (ans.queue, ans.caller, ans.member) == ("sales", "48601000002", "Agent 2001")
    assert ans.hold_s in (0, 1, 2)
    assert isinstance(done, InboundCompleted)
    assert (done.reason, done.talk_s in (2, 3, 4)) == ("caller", True)
    assert not [f for f in facts.items if isinstance(f, InboundAbandoned)]


def test_inbound_call_into_a_missing_context_is_refused() -> None:
    """The simulator refuses an inbound call its dialplan cannot take (as strict as Asterisk
    would be: no extension, no call)."""
    with pytest.raises(ValueError, match="no extension '48601000001' in context 'nowhere'"):
        World().inbound_call("48601000001", patience_s=1, context="nowhere")


SCENARIO = {
    "duration_s": 3600,
    "lines": 10,
    "agents": {"count": 1, "wrapup": {"dist": "constant", "value": 5}},
    "calls": {
        "answer_prob": 0.5,
        "ring": {"dist": "constant", "value": 3},
        "talk": {"dist": "constant", "value": 60},
    },
    "inbound": {
        "rate_per_hour": [[0, 360], [1800, 0]],
        "patience": {"dist": "constant", "value": 20},
        "callers": 30,
    },
}


def test_scenario_inbound_rates_bring_callers_who_abandon_in_virtual_time() -> None:
    """360 callers/hour for the first half hour and none after: about 180 callers join in
    virtual time, from a pool of 30 numbers, each one abandons after 20 s; none later."""
    sc = scenario_from_dict(SCENARIO, name="inbound")
    assert sc.inbound is not None
    world = World(emit_dialplan=False)
    world.start_inbound(ScenarioInbound(sc.inbound, seed=3))
    tracker = QueueTracker(server="sim")
    facts: list[InboundEvent] = []
    t = 0.0
    while t < 3600:
        t += 10
        for out in world.advance(t):
            facts.extend(tracker.feed(Message.of(out.pairs)))
    joins = [f for f in facts if isinstance(f, InboundJoined)]
    abandons = [f for f in facts if isinstance(f, InboundAbandoned)]
    assert 130 <= len(joins) <= 230
    assert len(abandons) == len(joins)
    assert len({f.caller for f in joins}) <= 30
    assert all(f.hold_s in (19, 20) for f in abandons)


def test_scenario_inbound_errors_name_the_key() -> None:
    """A wrong [inbound] key or value is refused with its dotted name."""
    bad = {**SCENARIO, "inbound": {**SCENARIO["inbound"], "callers": 0}}
    with pytest.raises(ScenarioError, match=r"'inbound\.callers' must be an integer >= 1"):
        scenario_from_dict(bad, name="x")
    unknown = {**SCENARIO, "inbound": {**SCENARIO["inbound"], "rate": 1}}
    with pytest.raises(ScenarioError, match=r"unknown key 'inbound\.rate'"):
        scenario_from_dict(unknown, name="x")
