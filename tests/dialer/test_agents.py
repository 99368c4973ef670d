"""The agent state machine: the call cycle, pauses, seats, and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.engine.agents import (
    SEAT_LOST,
    AgentEvent,
    AgentState,
    AgentTransitionError,
    ApplyDefaultStatus,
    CallEnded,
    CancelReservation,
    Connect,
    GoReady,
    HangupCall,
    Login,
    Logout,
    Pause,
    Phase,
    Reserve,
    SeatDown,
    SeatUp,
    StartSeat,
    StatusSet,
    StopSeat,
    Unreserve,
    WrapupTimeout,
    transition,
)


def run(events: list[AgentEvent], state: AgentState | None = None) -> AgentState:
    """Apply events one per second from t = 0 and return the final state."""
    current = state or AgentState(agent_id=7)
    for i, event in enumerate(events):
        current, _ = transition(current, event, float(i))
    return current


def test_login_starts_the_seat_and_ready_follows_when_it_answers() -> None:
    """Login asks for the seat; the agent is ready only once the seat is up."""
    state, commands = transition(AgentState(agent_id=1), Login(), 0.0)
    assert state.phase is Phase.PAUSED
    assert commands == (StartSeat(1),)
    state, commands = transition(state, SeatUp(), 1.5)
    assert (state.phase, state.since, commands) == (Phase.READY, 1.5, ())


def test_full_call_cycle_returns_to_ready() -> None:
    """Reserve → connect → hang up → status brings the agent back to ready."""
    state = run([Login(), SeatUp(), Reserve("c1"), Connect("c1"), CallEnded("c1")])
    assert (state.phase, state.call_id) == (Phase.WRAP_UP, "c1")
    state, _ = transition(state, StatusSet("c1"), 10.0)
    assert (state.phase, state.call_id, state.since) == (Phase.READY, None, 10.0)


def test_status_set_while_talking_skips_wrap_up() -> None:
    """An agent who sets the status during the call is ready right after the hang-up."""
    state = run([Login(), SeatUp(), Connect("c1"), StatusSet("c1"), CallEnded("c1")])
    assert state.phase is Phase.READY


def test_pause_during_call_takes_effect_after_wrap_up() -> None:
    """A pause asked for while talking waits for the end of the wrap-up."""
    state = run([Login(), SeatUp(), Connect("c1"), Pause("lunch"), CallEnded("c1")])
    assert state.phase is Phase.WRAP_UP
    state = run([StatusSet("c1")], state)
    assert (state.phase, state.pause_reason) == (Phase.PAUSED, "lunch")


def test_logout_during_call_stops_the_seat_after_wrap_up() -> None:
    """A logout while talking ends in logged-out with the seat stopped after wrap-up."""
    state = run([Login(), SeatUp(), Connect("c1"), Logout(), CallEnded("c1")])
    state, commands = transition(state, StatusSet("c1"), 9.0)
    assert state.phase is Phase.LOGGED_OUT
    assert commands == (StopSeat(7),)


def test_seat_lost_while_talking_hangs_up_the_call() -> None:
    """A seat that hangs up mid-call ends the customer call and leaves the agent paused."""
    state = run([Login(), SeatUp(), Connect("c1")])
    state, commands = transition(state, SeatDown(), 5.0)
    assert commands == (HangupCall("c1"),)
    assert state.phase is Phase.WRAP_UP
    state = run([StatusSet("c1")], state)
    assert (state.phase, state.pause_reason) == (Phase.PAUSED, SEAT_LOST)


def test_seat_lost_while_reserved_cancels_the_reservation() -> None:
    """A reserved agent whose seat hangs up releases the reserved call."""
    state = run([Login(), SeatUp(), Reserve("c9")])
    state, commands = transition(state, SeatDown(), 3.0)
    assert commands == (CancelReservation("c9"),)
    assert state.phase is Phase.PAUSED


def test_ready_without_seat_restarts_the_seat() -> None:
    """Going ready after the seat was lost starts a new seat first."""
    state = run([Login(), SeatUp(), SeatDown()])
    state, commands = transition(state, GoReady(), 4.0)
    assert commands == (StartSeat(7),)
    assert state.phase is Phase.PAUSED
    assert run([SeatUp()], state).phase is Phase.READY


def test_wrapup_timeout_applies_default_status() -> None:
    """A wrap-up timeout gives the default status and makes the agent ready."""
    state = run([Login(), SeatUp(), Connect("c1"), CallEnded("c1")])
    state, commands = transition(state, WrapupTimeout("c1"), 200.0)
    assert commands == (ApplyDefaultStatus(7, "c1"),)
    assert state.phase is Phase.READY


def test_unreserve_returns_agent_to_ready() -> None:
    """A reserved call that fails before answer frees the agent."""
    state = run([Login(), SeatUp(), Reserve("c1"), Unreserve("c1")])
    assert (state.phase, state.call_id) == (Phase.READY, None)


@pytest.mark.parametrize(
    ("events", "bad"),
    [
        ([], Reserve("c1")),
        ([Login(), SeatUp()], StatusSet("c1")),
        ([Login(), SeatUp(), Reserve("c1")], Connect("c2")),
        ([Login()], Login()),
        ([Login(), SeatUp()], Pause("  ")),
    ],
)
def test_impossible_actions_are_refused_with_a_named_error(
    events: list[AgentEvent], bad: AgentEvent
) -> None:
    """An action the phase does not allow raises an error naming the agent and the phase."""
    state = run(events)
    with pytest.raises(AgentTransitionError, match="agent 7: cannot"):
        transition(state, bad, 99.0)


_calls = st.sampled_from(["c1", "c2"])
_events = st.one_of(
    st.builds(Login),
    st.builds(SeatUp),
    st.builds(SeatDown),
    st.builds(GoReady),
    st.builds(Pause, st.sampled_from(["lunch", "training"])),
    st.builds(Logout),
    st.builds(Reserve, _calls),
    st.builds(Unreserve, _calls),
    st.builds(Connect, _calls),
    st.builds(CallEnded, _calls),
    st.builds(StatusSet, _calls),
    st.builds(WrapupTimeout, _calls),
)


@settings(max_examples=400)
@given(st.lists(_events, max_size=40))
def test_invariants_hold_for_any_event_sequence(events: list[AgentEvent]) -> None:
    """Whatever happens, a call is held only in call phases and a ready agent has a seat."""
    state = AgentState(agent_id=3)
    for i, event in enumerate(events):
        try:
            state, _ = transition(state, event, float(i))
        except AgentTransitionError:
            continue
        in_call = state.phase in {Phase.RESERVED, Phase.TALKING, Phase.WRAP_UP}
        assert (state.call_id is not None) == in_call
        if state.phase in {Phase.READY, Phase.RESERVED}:
            assert state.seat_up
        if state.phase is Phase.LOGGED_OUT:
            assert not state.seat_up
        if state.pending is not None:
            assert in_call
