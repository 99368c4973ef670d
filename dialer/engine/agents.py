"""Agent state machine, as data: ``transition(state, event, now) -> (state, commands)``.

Phases: logged-out → ready → reserved → talking → wrap-up → ready, and paused with a
reason. A login starts the agent's seat (a nailed-up conference leg); the agent becomes
ready when the seat answers. A pause or logout asked for during a call takes effect after
the wrap-up. The adapter that owns the agents carries out the returned commands (start or
stop a seat, hang up a call, cancel a reservation, apply the campaign's default status).

Time ``now`` is seconds on whatever clock the caller runs (wall, simulator, virtual).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from dialer.errors import DialerError


class Phase(StrEnum):
    """Where an agent is in the call cycle."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


#: Pause reason while the seat is being set up after login (or after it was lost).
SEAT_PENDING = "seat"
#: Pause reason after the agent's seat hung up.
SEAT_LOST = "seat_lost"


class AgentTransitionError(DialerError):
    """An agent action that is not possible in the agent's current phase."""

    error_id = "agent_transition"

    def __init__(self, agent_id: int, phase: Phase, event: object, why: str) -> None:
        self.agent_id = agent_id
        self.phase = phase
        self.event = event
        super().__init__(
            f"agent {agent_id}: cannot {type(event).__name__} while {phase.value}: {why}"
        )


@dataclass(frozen=True, slots=True)
class AgentState:
    """One agent's state. ``since`` is when the current phase began."""

    agent_id: int
    phase: Phase = Phase.LOGGED_OUT
    since: float = 0.0
    seat_up: bool = False
    pause_reason: str | None = None
    call_id: str | None = None
    """The call reserved for, talking on, or being wrapped up."""
    pending: Phase | None = None
    """PAUSED or LOGGED_OUT asked for during a call: taken after the wrap-up."""
    pending_reason: str | None = None
    status_set: bool = False
    """The agent already set the status while talking: no wrap-up after the hang-up."""


# ---- events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    """The agent logs in: the seat is started, the agent is ready once it is up."""


@dataclass(frozen=True, slots=True)
class SeatUp:
    """The agent's seat answered and sits in its conference."""


@dataclass(frozen=True, slots=True)
class SeatDown:
    """The agent's seat hung up (handset dropped, network, server restart)."""


@dataclass(frozen=True, slots=True)
class GoReady:
    """The agent asks to take calls (end of a pause)."""


@dataclass(frozen=True, slots=True)
class Pause:
    """The agent asks for a pause with a reason (now, or after the current call)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Logout:
    """The agent logs out (now, or after the current call)."""


@dataclass(frozen=True, slots=True)
class Reserve:
    """The engine reserves this ready agent for a call about to be dialed or answered."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Unreserve:
    """The reserved call ended without reaching the agent (no answer, busy, …)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Connect:
    """An answered person was bridged into the agent's seat."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The connected call hung up: the agent goes to wrap-up."""

    call_id: str


@dataclass(frozen=True, slots=True)
class StatusSet:
    """The agent set the call's status: wrap-up is over."""

    call_id: str


@dataclass(frozen=True, slots=True)
class WrapupTimeout:
    """Wrap-up lasted longer than the campaign allows: the default status applies."""

    call_id: str


AgentEvent = (
    Login
    | SeatUp
    | SeatDown
    | GoReady
    | Pause
    | Logout
    | Reserve
    | Unreserve
    | Connect
    | CallEnded
    | StatusSet
    | WrapupTimeout
)

# ---- commands -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartSeat:
    """Originate the agent's seat into its conference."""

    agent_id: int


@dataclass(frozen=True, slots=True)
class StopSeat:
    """Hang up the agent's seat."""

    agent_id: int


@dataclass(frozen=True, slots=True)
class HangupCall:
    """Hang up a customer call the agent can no longer take part in."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CancelReservation:
    """The call reserved for this agent must find another agent (or be dropped)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ApplyDefaultStatus:
    """Give the call the campaign's default status (wrap-up timed out)."""

    agent_id: int
    call_id: str


AgentCommand = StartSeat | StopSeat | HangupCall | CancelReservation | ApplyDefaultStatus

Result = tuple[AgentState, tuple[AgentCommand, ...]]


def _to(state: AgentState, phase: Phase, now: float, **changes: object) -> AgentState:
    return replace(state, phase=phase, since=now, **changes)  # type: ignore[arg-type]


def _after_call(state: AgentState, now: float) -> Result:
    """Leave wrap-up: to the pending phase if one was asked for, else ready."""
    if state.pending is Phase.LOGGED_OUT:
        done = _to(state, Phase.LOGGED_OUT, now, call_id=None, pending=None, seat_up=False)
        return done, (StopSeat(state.agent_id),)
    if state.pending is Phase.PAUSED:
        paused = _to(
            state,
            Phase.PAUSED,
            now,
            call_id=None,
            pending=None,
            pause_reason=state.pending_reason,
            pending_reason=None,
        )
        return paused, ()
    if not state.seat_up:
        return _to(state, Phase.PAUSED, now, call_id=None, pause_reason=SEAT_LOST), ()
    return _to(state, Phase.READY, now, call_id=None, pause_reason=None), ()


def _check_call(state: AgentState, event: AgentEvent, call_id: str) -> None:
    if state.call_id != call_id:
        why = f"the agent's call is {state.call_id!r}, not {call_id!r}"
        raise AgentTransitionError(state.agent_id, state.phase, event, why)


def transition(state: AgentState, event: AgentEvent, now: float) -> Result:
    """The agent's next state and the commands to carry out, or AgentTransitionError."""
    phase = state.phase
    aid = state.agent_id
    match event:
        case Login():
            if phase is not Phase.LOGGED_OUT:
                raise AgentTransitionError(aid, phase, event, "already logged in")
            nxt = _to(state, Phase.PAUSED, now, pause_reason=SEAT_PENDING, seat_up=False)
            return nxt, (StartSeat(aid),)
        case SeatUp():
            if phase is Phase.LOGGED_OUT:
                return state, (StopSeat(aid),)
            seated = replace(state, seat_up=True)
            if phase is Phase.PAUSED and state.pause_reason in {SEAT_PENDING, SEAT_LOST}:
                return _to(seated, Phase.READY, now, pause_reason=None), ()
            return seated, ()
        case SeatDown():
            lost = replace(state, seat_up=False)
            if phase in {Phase.LOGGED_OUT, Phase.WRAP_UP}:
                return lost, ()
            if phase is Phase.TALKING and state.call_id is not None:
                return _to(lost, Phase.WRAP_UP, now), (HangupCall(state.call_id),)
            commands: tuple[AgentCommand, ...] = ()
            if phase is Phase.RESERVED and state.call_id is not None:
                commands = (CancelReservation(state.call_id),)
            lost = replace(lost, call_id=None, pending=None, pending_reason=None)
            if state.pending is Phase.LOGGED_OUT:
                return _to(lost, Phase.LOGGED_OUT, now, pause_reason=None), commands
            return _to(lost, Phase.PAUSED, now, pause_reason=SEAT_LOST), commands
        case GoReady():
            if phase is Phase.READY:
                return state, ()
            if phase is not Phase.PAUSED:
                why = "only a paused agent can go ready"
                raise AgentTransitionError(aid, phase, event, why)
            if not state.seat_up:
                return _to(state, Phase.PAUSED, now, pause_reason=SEAT_PENDING), (StartSeat(aid),)
            return _to(state, Phase.READY, now, pause_reason=None), ()
        case Pause(reason=reason):
            if not reason.strip():
                raise AgentTransitionError(aid, phase, event, "a pause needs a reason")
            if phase is Phase.LOGGED_OUT:
                raise AgentTransitionError(aid, phase, event, "log in first")
            if phase in {Phase.TALKING, Phase.WRAP_UP, Phase.RESERVED}:
                if state.pending is Phase.LOGGED_OUT:
                    return state, ()
                return replace(state, pending=Phase.PAUSED, pending_reason=reason), ()
            return _to(state, Phase.PAUSED, now, pause_reason=reason), ()
        case Logout():
            if phase is Phase.LOGGED_OUT:
                return state, ()
            if phase in {Phase.TALKING, Phase.WRAP_UP, Phase.RESERVED}:
                return replace(state, pending=Phase.LOGGED_OUT, pending_reason=None), ()
            done = _to(state, Phase.LOGGED_OUT, now, seat_up=False, pause_reason=None)
            return done, (StopSeat(aid),)
        case Reserve(call_id=call_id):
            if phase is not Phase.READY or state.pending is not None:
                why = "only a ready agent can be reserved"
                raise AgentTransitionError(aid, phase, event, why)
            return _to(state, Phase.RESERVED, now, call_id=call_id), ()
        case Unreserve(call_id=call_id):
            if phase is not Phase.RESERVED:
                return state, ()
            _check_call(state, event, call_id)
            return _after_call(state, now)
        case Connect(call_id=call_id):
            if phase is Phase.RESERVED:
                _check_call(state, event, call_id)
            elif phase is not Phase.READY:
                raise AgentTransitionError(aid, phase, event, "the agent is not ready")
            return _to(state, Phase.TALKING, now, call_id=call_id, status_set=False), ()
        case CallEnded(call_id=call_id):
            if phase is not Phase.TALKING:
                return state, ()
            _check_call(state, event, call_id)
            if state.status_set:
                return _after_call(replace(state, status_set=False), now)
            return _to(state, Phase.WRAP_UP, now), ()
        case StatusSet(call_id=call_id):
            if phase is Phase.TALKING:
                _check_call(state, event, call_id)
                return replace(state, status_set=True), ()
            if phase is not Phase.WRAP_UP:
                why = "there is no call to set a status for"
                raise AgentTransitionError(aid, phase, event, why)
            _check_call(state, event, call_id)
            return _after_call(state, now)
        case WrapupTimeout(call_id=call_id):
            if phase is not Phase.WRAP_UP or state.call_id != call_id:
                return state, ()
            nxt, commands = _after_call(state, now)
            return nxt, (ApplyDefaultStatus(aid, call_id), *commands)
    raise AgentTransitionError(aid, phase, event, "unknown event")  # pragma: no cover
