"""The dialplan the simulator obeys: Asterisk's pattern rules, the shipped file, and a
simulator that refuses what a real Asterisk with that dialplan would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from asterisk.adapter import AmiAdapter, DialRequest
from asterisk.dialplan import SHIPPED, Dialplan, DialplanError, expand
from asterisk.events import CallDialing, CallDropped, CallHungUp, CallRefused, SeatUp
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from tests.asterisk.conftest import EventLog, settings_for

#: Seat names the agent API accepts (``^[A-Za-z0-9_.-]{1,32}$``) and that are in use.
SEATS = ["7", "1001", "agent1", "desk-7", "Desk.2"]


@pytest.mark.parametrize(
    ("pattern", "exten", "matches"),
    [
        ("_X.", "10201200001", True),
        ("_X.", "+48501020120", False),  # h1 (a): X never matches '+'
        ("_X.", "7", False),  # '.' is one or more
        ("_+X.", "+48501020120", True),
        ("_Z", "0", False),
        ("_Z", "1", True),
        ("_N", "1", False),
        ("_N", "2", True),
        ("_[13-5]X", "47", True),
        ("_[13-5]X", "27", False),
        ("_X!", "7", True),  # '!' is zero or more
        ("_1-XX", "123", True),  # '-' is ignored
        ("s", "s", True),
        ("s", "S", False),
        ("1001", "1001", True),
        ("1001", "10011", False),
    ],
)
def test_asterisk_pattern_rules(pattern: str, exten: str, matches: bool) -> None:
    """Extensions match with Asterisk's rules: X Z N [..] . ! and literals."""
    plan = Dialplan.parse(f"[c]\nexten => {pattern},1,NoOp()\n")
    assert plan.exists("c", exten) is matches


def test_includes_and_priorities() -> None:
    """A context sees the extensions of the contexts it includes; priority 1 must exist."""
    plan = Dialplan.parse(
        "[a]\ninclude => b\n[b]\nexten => _X.,2,NoOp()\nexten => 55,1,NoOp()\n"
        " same => n(x),Goto(x)\n"
    )
    assert plan.exists("a", "55")
    assert not plan.exists("a", "123")  # no priority 1
    assert plan.exists("a", "123", 2)
    ext = plan.find("b", "55")
    assert ext is not None
    label = ext.label("x")
    assert label is not None
    assert label.priority == 2


def test_bad_dialplan_line_names_file_and_line(tmp_path: Path) -> None:
    """A line the simulator cannot read is an error naming the file and the line."""
    path = tmp_path / "bad.conf"
    path.write_text("[c]\nexten => _X.,1,NoOp()\n same => x(y),NoOp()\n")
    with pytest.raises(DialplanError, match=r"bad\.conf:3: bad priority 'x\(y\)'"):
        Dialplan.load(path)


def test_expressions_of_the_shipped_dialplan() -> None:
    """${VAR}, ${LEN()}, ${IF()} and $[...] expand as Asterisk expands them."""
    variables = {"EXTEN": "123"}

    def lookup(name: str) -> str:
        return variables.get(name, "")

    hold = "default,${IF($[${LEN(${DIALER_MAX_HOLD})} > 0]?${DIALER_MAX_HOLD}:5)}"
    assert expand(hold, lookup) == "default,5"
    variables["DIALER_MAX_HOLD"] = "3"
    assert expand(hold, lookup) == "default,3"
    assert expand('$["${DIALER_AMD}" = "1"]?amd', lookup) == "0?amd"
    variables["DIALER_AMD"] = "1"
    assert expand('$["${DIALER_AMD}" = "1"]?amd', lookup) == "1?amd"


def test_shipped_dialplan_accepts_what_the_engine_sends() -> None:
    """E.164 numbers (with '+') and plain digits reach the holding context; every seat name
    the agent API accepts reaches the seat contexts; the drop context has 's'."""
    plan = Dialplan.shipped()
    for number in ("+48501020142", "48501020142", "10201200001"):
        assert plan.exists("dialer-answered", number), number
    for seat in SEATS:
        for context in ("agents", "agent-handset", "agent-bridge", "agent-phone"):
            assert plan.exists(context, seat), (context, seat)
    assert plan.exists("drop", "s")


def test_shipped_holding_patterns_run_the_same_steps() -> None:
    """The holding context's patterns (with and without '+') carry identical steps, so an
    edit to one cannot silently miss the other."""
    plan = Dialplan.shipped()
    steps = [e.steps for e in plan.contexts["dialer-answered"].extensions]
    assert len(steps) >= 2
    assert all(s == steps[0] for s in steps)


async def test_simulator_refuses_an_extension_the_dialplan_lacks(tmp_path: Path) -> None:
    """With the shipped [dialer-answered] pattern put back to '_X.' (on a copy), the
    simulator refuses the engine's E.164 Originate at once: CallRefused with the server's
    message, and the server made no channel; with the shipped file the same call is placed."""
    copy = tmp_path / "extensions_dialer.conf"
    text = SHIPPED.read_text()
    assert "exten => _+X.,1," in text
    old = text.replace("exten => _+X.,1,", "exten => _X.,1,", 1)
    copy.write_text(old)
    for plan, placed in ((Dialplan.load(copy), False), (Dialplan.shipped(), True)):
        log = EventLog()
        async with (
            PbxSimulator(World(dialplan=plan), port=0, time_scale=20) as sim,
            AmiAdapter(settings_for(sim), on_event=log) as adapter,
        ):
            await adapter.wait_ready(5)
            with capture_logs() as logs:
                await adapter.originate(DialRequest("e1", "+48101000001"))
                first = await log.wait_for(lambda e: isinstance(e, CallRefused | CallDialing))
            refusals = [x for x in logs if x["event"] == "ami_originate_refused"]
            if placed:
                assert isinstance(first, CallDialing)
                assert refusals == []
            else:
                assert first == CallRefused("e1", "Extension does not exist.", "sim")
                assert [x["message"] for x in refusals] == ["Extension does not exist."]
                assert sim.world.channels == {}
                assert adapter.in_use == 0


async def test_seat_names_the_api_accepts_come_up(sim: PbxSimulator) -> None:
    """A seat named like the agent API allows ('agent1', 'desk-7', '7') joins its conference."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        for seat in SEATS:
            adapter.start_seat(seat)
        for seat in SEATS:
            await log.wait_for(lambda e, s=seat: isinstance(e, SeatUp) and e.agent_id == s)


async def test_answered_leg_never_moved_is_dropped_by_the_hold_timeout(sim: PbxSimulator) -> None:
    """With the shipped dialplan, a person the engine never moves hears the drop message
    after DIALER_MAX_HOLD seconds (default 5, h5): CallDropped, then CallHungUp."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        await adapter.originate(DialRequest("h1", "10103000001"))
        await adapter.originate(
            DialRequest("h2", "10103000002", variables={"DIALER_MAX_HOLD": "1"})
        )
        for call in ("h1", "h2"):
            await log.wait_for(lambda e, c=call: isinstance(e, CallDropped) and e.call_id == c)
            await log.wait_for(lambda e, c=call: isinstance(e, CallHungUp) and e.call_id == c)
        order = [e.call_id for e in log.events if isinstance(e, CallDropped)]
        assert order == ["h2", "h1"]  # the 1 s hold ran out before the default 5 s
