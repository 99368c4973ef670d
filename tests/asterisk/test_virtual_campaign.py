"""A naive engine drives the in-memory telephony through half an hour of ref-20, virtually."""

from __future__ import annotations

from collections import Counter

from asterisk.adapter import DialRequest
from asterisk.events import (
    TERMINAL,
    CallAnswered,
    CallDialing,
    CallFailed,
    LifecycleEvent,
    SeatUp,
    SeatWrapupDone,
)
from asterisk.memory import WorldTelephony
from asterisk.scenario import ScenarioBehaviour, load_scenario
from asterisk.settings import AmiServerSettings
from asterisk.world import World
from tests.asterisk.transcripts import SCENARIOS


def test_ref20_half_hour_in_virtual_time() -> None:
    """Every call ends exactly once; outcome shares follow the scenario; agents cycle."""
    scenario = load_scenario(SCENARIOS / "ref-20.toml")
    behaviour = ScenarioBehaviour(scenario, seed=11)
    world = World(behaviour=behaviour, wrapup=behaviour.wrapup_s, emit_dialplan=False, seed=11)
    events: list[LifecycleEvent] = []
    ready: list[str] = []
    settings = AmiServerSettings(name="v", max_channels=400, ring_timeout_s=25)
    tel = WorldTelephony(world, on_event=events.append, settings=settings)
    agents = [str(100 + i) for i in range(20)]
    for a in agents:
        tel.start_seat(a)
    t, n, seen = 0.0, 0, 0
    while t < 1800:
        t += 0.5
        tel.advance(t)
        for ev in events[seen:]:
            if isinstance(ev, SeatUp | SeatWrapupDone):
                ready.append(ev.agent_id)
            elif isinstance(ev, CallAnswered):
                if ready:
                    tel.connect(ev.call_id, ready.pop(0))
                else:
                    tel.drop(ev.call_id)
        seen = len(events)
        in_flight = tel.in_use - len(agents)
        for _ in range(max(0, 3 * len(ready) - in_flight)):
            n += 1
            tel.originate_now(DialRequest(f"v{n}", f"555{n:07d}"))
    kinds = Counter(type(e).__name__ for e in events)
    ends = Counter(e.call_id for e in events if isinstance(e, TERMINAL))
    dialed = {e.call_id for e in events if isinstance(e, CallDialing)}
    assert n > 500
    assert max(ends.values()) == 1  # never two terminal events for one call
    assert len(ends) + (tel.in_use - len(agents)) == len(dialed) == n
    answered = kinds["CallAnswered"]
    assert kinds["CallConnected"] + kinds["CallDropped"] <= answered
    human_or_machine = answered / n
    assert 0.3 < human_or_machine < 0.5  # answer 0.30 + machine 0.10
    fails = Counter(e.outcome.value for e in events if isinstance(e, CallFailed))
    assert fails["busy"] > 0
    assert fails["no_answer"] > fails["busy"]
    assert kinds["SeatWrapupDone"] > 0
    assert kinds["CallConnected"] > kinds["CallDropped"]
