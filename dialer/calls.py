"""Call lifecycle as data: ``transition(call, event, now) -> (call, commands, facts)``.

A call goes dialing → (screening →) waiting → talking → ended, or waiting → dropped →
ended, or ends failed (never answered), refused (never placed) or cancelled (hung up by us
before an answer). The transition is pure: it returns the call's next value, the telephony
commands to carry out for it (connect, drop, hang up) and the *facts* that happened, which
the engine journals at once (answered, AMD verdict, connected to agent X, dropped, ended,
refused) and shows to the pacer, the agents and the live projections.

Choosing an agent, queueing a person and the drop deadline are the engine's orchestration:
it feeds :class:`Connect` or :class:`Drop` when it has decided. Time ``now`` carries both
the engine clock's seconds (waits, deadlines) and the wall time written to the call log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from campaigns.enums import Outcome
from dialer.errors import DialerError


@dataclass(frozen=True, slots=True)
class Now:
    """The present on both clocks: engine seconds and wall time."""

    t: float
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Lead:
    """A claimed record, ready to dial."""

    record_id: int
    campaign_id: int
    phone: str
    name: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    system_status: str = "TO_CALL"
    owner_agent_id: int | None = None
    attempt: int = 1


class CallPhase(StrEnum):
    """Where a call is."""

    DIALING = "dialing"
    SCREENING = "screening"
    """Answered; answering-machine detection is still listening."""
    WAITING = "waiting"
    """Answered by a person, waiting for an agent (FIFO, until the drop deadline)."""
    TALKING = "talking"
    DROPPED = "dropped"
    ENDED = "ended"
    FAILED = "failed"


@dataclass(slots=True, eq=False)
class Call:
    """One attempt, from Originate to its terminal event.

    :func:`transition` never changes a call: it returns a new value (``replace``), so a
    value handed to the journal or kept by a test stays what it was. (Not frozen, so that
    the journal's own tests may build the values they need field by field.)
    """

    call_id: str
    index: int
    """Dial index within the campaign (the pacer's call id)."""
    campaign_id: int
    lead: Lead
    reserved_agent: int | None
    dial_t: float
    dial_at: dt.datetime
    phase: CallPhase = CallPhase.DIALING
    answer_t: float | None = None
    """When the person's wait for an agent began (pick-up, or the end of AMD's listening)."""
    answer_at: dt.datetime | None = None
    """Wall time of the pick-up."""
    person_at: dt.datetime | None = None
    """Wall time the wait for an agent began (the 2-second rule counts from here)."""
    drop_at: dt.datetime | None = None
    """Wall time the person was sent to the drop message."""
    connect_t: float | None = None
    connect_at: dt.datetime | None = None
    end_t: float | None = None
    end_at: dt.datetime | None = None
    agent_id: int | None = None
    outcome: Outcome | None = None
    cause: int | None = None
    cause_txt: str = ""
    amd_status: str | None = None
    amd_cause: str | None = None
    server: str = ""
    cancelled: bool = False
    adopted: bool = False
    """Learned from Asterisk (resync or restart) rather than followed from the dial."""

    @property
    def up(self) -> bool:
        """True while the call holds a line."""
        return self.phase in _UP


_UP = frozenset(
    {
        CallPhase.DIALING,
        CallPhase.SCREENING,
        CallPhase.WAITING,
        CallPhase.TALKING,
        CallPhase.DROPPED,
    }
)
_RINGING = frozenset({CallPhase.DIALING, CallPhase.SCREENING})


class CallTransitionError(DialerError):
    """An event that cannot apply to a call in its phase (a bug of the caller)."""

    error_id = "call_transition"

    def __init__(self, call_id: str, phase: CallPhase, event: object) -> None:
        super().__init__(f"call {call_id}: cannot {type(event).__name__} while {phase.value}")


# ---- events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answered:
    """The customer picked up. ``amd``: the campaign screens answers for machines first.
    ``adopted``: learned at a resync (when it was answered is unknown): no screening."""

    amd: bool = False
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class Screened:
    """Answering-machine detection's verdict."""

    status: str
    cause: str

    @property
    def machine(self) -> bool:
        """True when the answer came from a machine."""
        return self.status == "MACHINE"


@dataclass(frozen=True, slots=True)
class Connect:
    """The engine chose agent ``agent_id`` (seat ``seat``) for the waiting person."""

    agent_id: int
    seat: str


@dataclass(frozen=True, slots=True)
class Drop:
    """The engine sends the waiting person to the drop message (deadline, or no agent)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The call ended before a person was on the line (busy, no answer, cancelled, …)."""

    outcome: Outcome
    cause: int
    cause_txt: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """No call was placed: the server or the edge refused the Originate."""

    message: str


@dataclass(frozen=True, slots=True)
class HungUp:
    """The call's leg hung up."""

    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """The agent reserved for the call can no longer take it (seat lost): a ringing call is
    hung up; one answered meanwhile is hung up when the answer comes (it was dialed for
    that agent only)."""


CallEvent = Answered | Screened | Connect | Drop | Failed | Refused | HungUp | Cancel

# ---- commands -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectCall:
    """Move the answered leg into ``seat`` (the agent's conference)."""

    call_id: str
    seat: str


@dataclass(frozen=True, slots=True)
class DropCall:
    """Send the answered leg to the drop context (legal message, hang-up)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class HangupCall:
    """Hang up a call."""

    call_id: str


CallCommand = ConnectCall | DropCall | HangupCall

# ---- facts --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PickedUp:
    """Someone (person or machine) answered: journal ``answered``."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """AMD decided it is a person: journal ``answered`` again (the verdict, the wait's start)."""


@dataclass(frozen=True, slots=True)
class PersonWaiting:
    """A person is on the line and waits for an agent: the engine connects or queues."""

    adopted: bool = False


@dataclass(frozen=True, slots=True)
class Connected:
    """The person was bridged to ``agent_id``: journal ``connected``."""

    agent_id: int
    wait_s: float


@dataclass(frozen=True, slots=True)
class Dropped:
    """The person was sent to the drop message: journal ``dropped``, count the drop."""

    wait_s: float


@dataclass(frozen=True, slots=True)
class Ended:
    """The attempt is over (``call.outcome`` says how): journal ``finished``."""

    before: CallPhase
    """The phase the call ended from (talking: the agent goes to wrap-up)."""


@dataclass(frozen=True, slots=True)
class NotPlaced:
    """No call was placed: journal ``refused``; no attempt used."""

    message: str


Fact = PickedUp | Verdict | PersonWaiting | Connected | Dropped | Ended | NotPlaced

Result = tuple[Call, tuple[CallCommand, ...], tuple[Fact, ...]]


def _end(call: Call, phase: CallPhase, outcome: Outcome, now: Now, **changes: Any) -> Call:
    return replace(call, phase=phase, outcome=outcome, end_t=now.t, end_at=now.at, **changes)


def transition(call: Call, event: CallEvent, now: Now) -> Result:
    """The call's next value, its commands and the facts that happened.

    Events that come too late to matter (an answer after the call ended, a second hang-up)
    leave the call as it is; only an engine decision on a call in the wrong phase
    (:class:`Connect`, :class:`Drop`) raises CallTransitionError.
    """
    phase = call.phase
    match event:
        case Answered(amd=amd, adopted=adopted):
            if phase is CallPhase.SCREENING and adopted:
                # AMD's verdict was lost with the session: the person is on the line.
                nxt = replace(call, phase=CallPhase.WAITING, answer_t=now.t, person_at=now.at)
                return replace(nxt, adopted=True), (), (PersonWaiting(adopted=True),)
            if phase is not CallPhase.DIALING:
                return call, (), ()
            answered = replace(call, answer_t=now.t, answer_at=now.at, adopted=adopted)
            if call.cancelled:
                done = _end(answered, CallPhase.FAILED, Outcome.FAILED, now)
                return done, (HangupCall(call.call_id),), (PickedUp(), Ended(phase))
            if amd and not adopted:
                return replace(answered, phase=CallPhase.SCREENING), (), (PickedUp(),)
            waiting = replace(answered, phase=CallPhase.WAITING, person_at=now.at)
            return waiting, (), (PickedUp(), PersonWaiting(adopted=adopted))
        case Screened(status=status, cause=cause):
            judged = replace(call, amd_status=status, amd_cause=cause)
            if phase is not CallPhase.SCREENING:
                return judged, (), ()
            if event.machine:
                done = _end(judged, CallPhase.FAILED, Outcome.MACHINE, now)
                return done, (HangupCall(call.call_id),), (Ended(phase),)
            # The person's greeting is over: the wait for an agent (and the drop clock) starts.
            waiting = replace(judged, phase=CallPhase.WAITING, answer_t=now.t, person_at=now.at)
            return waiting, (), (Verdict(), PersonWaiting())
        case Connect(agent_id=agent_id, seat=seat):
            if phase is not CallPhase.WAITING:
                raise CallTransitionError(call.call_id, phase, event)
            talking = replace(
                call,
                phase=CallPhase.TALKING,
                agent_id=agent_id,
                connect_t=now.t,
                connect_at=now.at,
            )
            wait = now.t - (call.answer_t if call.answer_t is not None else now.t)
            return talking, (ConnectCall(call.call_id, seat),), (Connected(agent_id, wait),)
        case Drop():
            if phase is not CallPhase.WAITING:
                raise CallTransitionError(call.call_id, phase, event)
            dropped = replace(call, phase=CallPhase.DROPPED, drop_at=now.at)
            wait = now.t - (call.answer_t if call.answer_t is not None else now.t)
            return dropped, (DropCall(call.call_id),), (Dropped(wait),)
        case Failed(outcome=outcome, cause=cause, cause_txt=cause_txt):
            if phase not in _RINGING:
                return call, (), ()
            txt = cause_txt or call.cause_txt
            done = _end(call, CallPhase.FAILED, outcome, now, cause=cause, cause_txt=txt)
            return done, (), (Ended(phase),)
        case Refused(message=message):
            if phase is not CallPhase.DIALING:
                return call, (), ()
            done = _end(call, CallPhase.FAILED, Outcome.NOT_PLACED, now, cause_txt=message)
            return done, (), (NotPlaced(message),)
        case HungUp(cause=cause, cause_txt=cause_txt):
            hung = replace(call, cause=cause, cause_txt=cause_txt)
            if phase is CallPhase.TALKING:
                return _end(hung, CallPhase.ENDED, Outcome.ANSWERED, now), (), (Ended(phase),)
            if phase is CallPhase.DROPPED:
                return _end(hung, CallPhase.ENDED, Outcome.DROPPED, now), (), (Ended(phase),)
            if phase is CallPhase.WAITING:
                # The person hung up before an agent came and before the drop deadline.
                return _end(hung, CallPhase.ENDED, Outcome.FAILED, now), (), (Ended(phase),)
            if phase in _RINGING:
                return _end(hung, CallPhase.FAILED, Outcome.FAILED, now), (), (Ended(phase),)
            return call, (), ()
        case Cancel():
            if not call.up:
                return call, (), ()
            cancelled = replace(call, reserved_agent=None, cancelled=True)
            commands = (HangupCall(call.call_id),) if phase is CallPhase.DIALING else ()
            return cancelled, commands, ()
    raise CallTransitionError(call.call_id, phase, event)  # pragma: no cover
