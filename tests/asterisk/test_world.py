"""The pure world model, driven in virtual time without asyncio."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk.adapter import DialRequest
from asterisk.events import CallAnswered, LifecycleEvent
from asterisk.memory import WorldTelephony
from asterisk.protocol import Message
from asterisk.scenario import ScenarioBehaviour, load_scenario
from asterisk.world import Behaviour, Out, World, lab_behaviour
from tests.asterisk.transcripts import SCENARIOS


def originate(world: World, now: float, number: str, aid: str, **extra: str) -> list[Out]:
    """Send one async Originate to ``Local/<number>@customers`` at ``now``."""
    pairs = [
        ("Action", "Originate"),
        ("ActionID", aid),
        ("Channel", f"Local/{number}@customers"),
        ("Context", "dialer-answered"),
        ("Exten", number),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", "30000"),
        *extra.items(),
    ]
    return world.action(1, Message.of(pairs), now)


def names(outs: list[Out]) -> list[str]:
    """Event (or Response) names of some outputs, noise left out."""
    skip = {"Newexten", "VarSet"}
    return [o.pairs[0][1] for o in outs if o.pairs[0][1] not in skip]


def run(world: World, until: float, step: float = 0.05) -> list[Out]:
    """Advance the world in steps; everything it emitted."""
    outs: list[Out] = []
    t = 0.0
    while t < until:
        t += step
        outs += world.advance(t)
    return outs


def test_lab_number_encoding() -> None:
    """Class digit, ring and talk seconds are decoded as extensions.conf documents."""
    assert lab_behaviour("10203012345") == Behaviour("human", 2.0, 30.0)
    assert lab_behaviour("20200000001").kind == "busy"
    assert lab_behaviour("30000000001").kind == "no_answer"
    assert lab_behaviour("40200000001").kind == "congestion"
    assert lab_behaviour("50103000001").kind == "machine"
    assert lab_behaviour("90000000001").kind == "invalid"
    assert lab_behaviour("123").kind == "invalid"


def test_busy_call_in_virtual_time() -> None:
    """A busy customer: ringing, DialEnd BUSY, hangups and OriginateResponse Reason 5, which
    goes to every session like the call's events (h2), not only to the one that asked."""
    world = World()
    first = originate(world, 0.0, "20200000001", "A1")
    assert first[0].pairs[:2] == [("Response", "Success"), ("ActionID", "A1")]
    outs = run(world, 3.0)
    got = names(outs)
    assert got.index("DialState") < got.index("DialEnd") < got.index("OriginateResponse")
    resp = next(o for o in outs if o.pairs[0][1] == "OriginateResponse")
    assert resp.session is None
    assert ("Reason", "5") in resp.pairs
    assert ("Uniqueid", "<unknown>") in resp.pairs
    hangups = [dict(o.pairs)["Cause"] for o in outs if o.pairs[0][1] == "Hangup"]
    assert sorted(hangups) == ["0", "17"]
    assert world.channels == {}


def test_steps_due_before_an_action_are_not_lost() -> None:
    """Events of steps that fall due when an action arrives are returned with its response."""
    world = World()
    originate(world, 0.0, "20100000001", "A1")
    outs = originate(world, 5.0, "20100000002", "A2")  # the first call's whole life is due
    assert "OriginateResponse" in names(outs)
    assert names(outs).count("Hangup") == 2


def test_preset_channel_ids_become_uniqueids() -> None:
    """ChannelId/OtherChannelId name the legs; a failure still reports the preset Uniqueid."""
    world = World()
    originate(world, 0.0, "20100000001", "A1", ChannelId="c-1", OtherChannelId="c-1-2")
    outs = run(world, 2.0)
    new = [dict(o.pairs) for o in outs if o.pairs[0][1] == "Newchannel"]
    assert [(n["Uniqueid"], n["Linkedid"]) for n in new] == [("c-1", "c-1"), ("c-1-2", "c-1")]
    resp = next(dict(o.pairs) for o in outs if o.pairs[0][1] == "OriginateResponse")
    assert resp["Uniqueid"] == "c-1"


def test_scenario_world_is_reproducible_with_a_seed() -> None:
    """Two worlds with the same scenario and seed emit the same outcomes in virtual time."""
    scenario = load_scenario(SCENARIOS / "small-5.toml")

    def outcomes(seed: int) -> list[str]:
        world = World(behaviour=ScenarioBehaviour(scenario, seed=seed), emit_dialplan=False)
        outs: list[Out] = []
        for i in range(40):
            outs += originate(world, i * 0.5, f"555{i:04d}", f"A{i}")
        outs += run(world, 200.0, step=1.0)
        return [dict(o.pairs)["Reason"] for o in outs if o.pairs[0][1] == "OriginateResponse"]

    first = outcomes(3)
    assert first == outcomes(3)
    assert len(first) == 40
    assert {"3", "4"} <= set(first)  # some ring out, some answer


def test_scenario_agents_talk_and_wrap_up_in_virtual_time(tmp_path: Path) -> None:
    """Scenario mode: the person talks for the talk draw, then the agent wraps up."""
    path = tmp_path / "const.toml"
    path.write_text(
        "lines = 5\nduration_s = 600\n[agents]\ncount = 1\n"
        'wrapup = { dist = "constant", value = 5 }\n'
        "[calls]\nanswer_prob = 1.0\n"
        'ring = { dist = "constant", value = 2 }\ntalk = { dist = "constant", value = 10 }\n'
    )
    behaviour = ScenarioBehaviour(load_scenario(path), seed=1)
    events: list[tuple[float, LifecycleEvent]] = []
    tel = WorldTelephony(
        World(behaviour=behaviour, wrapup=behaviour.wrapup_s, emit_dialplan=False),
        on_event=lambda e: events.append((tel.now, e)),
    )
    tel.start_seat("7")
    tel.originate_now(DialRequest("c1", "5550001"))
    connected = False
    while (nt := tel.next_time()) is not None and nt < 100:
        tel.advance(nt)
        if not connected and any(isinstance(e, CallAnswered) for _, e in events):
            tel.connect("c1", "7")
            connected = True
    at = {type(e).__name__: t for t, e in events}
    assert "CallConnected" in at
    assert at["CallAnswered"] == pytest.approx(2.0, abs=0.05)
    assert at["CallHungUp"] == pytest.approx(2.0 + 0.8 + 10.0, abs=0.05)
    assert at["SeatWrapupDone"] == pytest.approx(at["CallHungUp"] + 5.0, abs=0.01)
