"""The desk's engine commands: a status given once, hang-up from the desk, a dial for one
agent now (reserved first), and preview campaigns (offer, dial, skip, timeout)."""

from __future__ import annotations

import datetime as dt

import pytest

from asterisk import events as ev
from campaigns.windows import CallingWindow
from dialer.engine import ConnectCall, EngineError, HangupCall, Lead, RunState
from dialer.engine.core import DialMode, DialRefusedError, PreviewTimeout, StatusAlreadySetError
from tests.dialer.test_engine import login, make, originates


def _talking(pacer_n: int = 1) -> tuple[object, ...]:
    engine, clock, leads, journal, _pacer, _sink = make(pacer_n=pacer_n)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.on_event(ev.CallAnswered(call.call_id, "c1", "1"))
    assert engine.agents[1].state.phase.value == "talking"
    return engine, clock, leads, journal, call


def test_a_status_set_while_talking_cannot_be_set_again() -> None:
    """A second status for a call whose status the agent already set during the call is
    refused (StatusAlreadySetError) and the first one stands."""
    engine, _, _, journal, call = _talking()
    engine.agent_set_status(1, call.call_id, 1, note="first")
    with pytest.raises(StatusAlreadySetError, match="cannot be given twice"):
        engine.agent_set_status(1, call.call_id, 2, note="second")
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    assert journal.rows[call.call_id]["note"] == "first"
    assert engine.agents[1].state.phase.value == "ready"


def test_a_status_set_in_wrap_up_cannot_be_set_again() -> None:
    """After the wrap-up ended with a status, the same call's status again is refused as
    already given (not as an unknown call)."""
    engine, _, _, _, call = _talking()
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    engine.agent_set_status(1, call.call_id, 1)
    with pytest.raises(StatusAlreadySetError) as refused:
        engine.agent_set_status(1, call.call_id, 1)
    assert refused.value.error_id == "status_already_set"


def test_agent_hangs_up_its_call_and_wraps_up() -> None:
    """Hang-up from the desk asks the PBX to end the call; the hang-up event ends it in the
    journal and the agent wraps up. With no call up the hang-up is refused."""
    engine, _, _, journal, call = _talking()
    assert engine.agent_hangup(1) == [HangupCall(call.call_id)]
    assert engine.agents[1].state.phase.value == "talking"  # nothing reconstructed early
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    assert engine.agents[1].state.phase.value == "wrap_up"
    assert journal.rows[call.call_id]["end_at"] is not None
    with pytest.raises(EngineError, match="no call up"):
        engine.agent_hangup(1)


def _lead(leads: object, record_id: int) -> Lead:
    rec = leads.records[record_id]  # type: ignore[attr-defined]
    rec.leased = True
    return Lead(record_id=record_id, campaign_id=1, phone=rec.phone)


def test_dial_for_agent_reserves_the_agent_then_connects_it() -> None:
    """A direct dial for agent 2 reserves it before placing the call; when the person
    answers it is connected to agent 2 although agent 1 was idle longer."""
    engine, clock, leads, *_ = make(pacer_n=0)
    login(engine, 1)
    clock.advance(5)
    login(engine, 2)
    engine.set_state(1, RunState.RUNNING)
    call_id, commands = engine.dial_for_agent(2, _lead(leads, 7))
    (placed,) = originates(commands)
    assert placed.call_id == call_id
    assert engine.agents[2].state.phase.value == "reserved"
    assert engine.calls[call_id].reserved_agent == 2
    connect = engine.on_event(ev.CallAnswered(call_id, "c", "1"))
    assert connect[0] == ConnectCall(call_id, "1002")
    assert engine.agents[1].state.phase.value == "ready"


def test_dial_for_agent_is_refused_with_a_reason() -> None:
    """A paused agent, a campaign outside its hours or a number already being called are
    refused with a reason code; nothing is dialed."""
    engine, clock, leads, *_ = make(pacer_n=0)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    engine.agent_pause(1, "lunch")
    with pytest.raises(DialRefusedError) as refused:
        engine.dial_for_agent(1, _lead(leads, 3))
    assert refused.value.reason == "not_ready"
    engine.agent_ready(1)
    now = clock.utcnow()
    closed_from = (now + dt.timedelta(hours=1)).strftime("%H:%M")
    closed_to = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    if closed_from < closed_to:
        engine.campaign(1).hours = CallingWindow.parse(
            closed_from, closed_to, [1, 2, 3, 4, 5, 6, 7]
        )
        with pytest.raises(DialRefusedError) as refused:
            engine.dial_for_agent(1, _lead(leads, 3))
        assert refused.value.reason == "outside_hours"
        engine.campaign(1).hours = None
    login(engine, 2)
    engine.dial_for_agent(1, _lead(leads, 3))
    with pytest.raises(DialRefusedError) as refused:
        engine.dial_for_agent(2, _lead(leads, 3))
    assert refused.value.reason == "in_flight"
    assert engine.agents[2].state.phase.value == "ready"


def _preview(**settings: object) -> tuple[object, ...]:
    engine, clock, leads, _journal, _pacer, sink = make(pacer_n=5)
    run = engine.campaign(1)
    run.dial_mode = DialMode.PREVIEW
    for key, value in settings.items():
        setattr(run, key, value)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    return engine, clock, leads, sink


def test_preview_campaign_never_dials_predictively_and_offers_a_record() -> None:
    """A preview campaign places no call on its own, whatever the pacer asks; the ready
    agent is shown one record, claimed for it, in its state and on its preview topic."""
    engine, _, leads, sink = _preview()
    assert originates(engine.tick()) == []
    assert originates(engine.tick()) == []
    snap = engine.agent_snapshot(1)
    assert snap is not None
    shown = snap["preview"]
    assert shown is not None
    assert leads.records[shown["id"]].leased
    assert sink.on("agents/1/preview")[-1]["record"]["id"] == shown["id"]
    assert [r for r in leads.records.values() if r.leased] == [leads.records[shown["id"]]]
    assert engine.live_record_ids() == [shown["id"]]  # its lease is renewed while shown


def test_preview_dial_and_skip() -> None:
    """The agent dials the previewed record (reserved for it) or skips it: a skipped record
    is given back and the agent is shown another one."""
    engine, _, leads, _ = _preview()
    engine.tick()
    first = engine.agent_snapshot(1)["preview"]["id"]  # type: ignore[index]
    assert engine.preview_skip(1) == []
    assert not leads.records[first].leased
    engine.tick()
    second = engine.agent_snapshot(1)["preview"]["id"]  # type: ignore[index]
    assert second != first
    (placed,) = originates(engine.preview_dial(1))
    assert engine.calls[placed.call_id].lead.record_id == second
    assert engine.calls[placed.call_id].reserved_agent == 1
    assert engine.agent_snapshot(1)["preview"] is None  # type: ignore[index]
    with pytest.raises(DialRefusedError, match="no record"):
        engine.preview_skip(1)


def test_preview_timeout_skips_or_dials_as_configured() -> None:
    """An untouched preview is skipped after the campaign's timeout, or dialed when the
    campaign says so; the deadline is announced to the timer."""
    engine, clock, leads, _ = _preview(preview_timeout_s=30.0)
    engine.tick()
    first = engine.agent_snapshot(1)["preview"]["id"]  # type: ignore[index]
    assert engine.next_deadline() == pytest.approx(30.0)
    clock.advance(30)
    assert originates(engine.on_timer()) == []
    assert engine.agent_snapshot(1)["preview"] is None  # type: ignore[index]
    assert not leads.records[first].leased

    engine, clock, _, _ = _preview(
        preview_timeout_s=10.0, preview_timeout_action=PreviewTimeout.DIAL
    )
    engine.tick()
    shown = engine.agent_snapshot(1)["preview"]["id"]  # type: ignore[index]
    clock.advance(10)
    (placed,) = originates(engine.on_timer())
    assert engine.calls[placed.call_id].lead.record_id == shown
    assert engine.agents[1].state.phase.value == "reserved"


def test_pausing_gives_the_preview_back() -> None:
    """An agent who pauses with a record on its desk gives it back at once."""
    engine, _, leads, sink = _preview()
    engine.tick()
    shown = engine.agent_snapshot(1)["preview"]["id"]  # type: ignore[index]
    engine.agent_pause(1, "break")
    assert not leads.records[shown].leased
    assert sink.on("agents/1/preview")[-1]["record"] is None
