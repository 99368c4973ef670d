"""Typed call-lifecycle events: what the engine learns from the telephony edge.

Every event is a frozen dataclass carrying the ``server`` it came from. A call ends with
exactly one terminal event: :class:`CallRefused` (never placed), :class:`CallFailed`
(placed, never answered) or :class:`CallHungUp` (answered, then ended). Agent seats report
:class:`SeatUp` and :class:`SeatDown`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailOutcome(StrEnum):
    """Why a call was never answered (classified by OriginateResponse ``Reason``)."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    INVALID = "invalid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """This client hung the call up itself before it was answered (Reason 0 after our own
    Hangup): says nothing about the number."""


@dataclass(frozen=True, slots=True)
class CallDialing:
    """The server accepted the Originate (``Originate successfully queued``)."""

    call_id: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class CallRefused:
    """No call was placed (terminal): the server refused the Originate synchronously
    (``Response: Error``, e.g. ``Extension does not exist.``), or the edge could not send it
    (not connected, at capacity). Says nothing about the number; ``message`` says why."""

    call_id: str
    message: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The customer answered; the leg waits in the holding context.

    ``adopted`` is True when the answer was learned at a resync after the AMI session was
    re-established (the leg was found up in the holding context): when it was answered is
    unknown, only that it was before the resync.
    """

    call_id: str
    channel: str
    uniqueid: str
    server: str = ""
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The call ended without an answer (terminal)."""

    call_id: str
    outcome: FailOutcome
    reason: int
    cause: int
    detail: str = ""
    server: str = ""


@dataclass(frozen=True, slots=True)
class CallMachine:
    """Answering-machine detection reported on an answered leg (AMDSTATUS/AMDCAUSE).

    ``machine`` is True for ``MACHINE``; HUMAN, NOTSURE and HANGUP are reported too so
    that the engine can decide (NOTSURE is usually treated as a person).
    """

    call_id: str
    status: str
    cause: str
    server: str = ""

    @property
    def machine(self) -> bool:
        """True when AMD decided the answer came from a machine."""
        return self.status == "MACHINE"


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The answered leg entered the seat (ConfBridge) of ``agent_id``."""

    call_id: str
    agent_id: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class CallDropped:
    """The answered leg reached the drop context (legal message playing)."""

    call_id: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class CallHungUp:
    """An answered call's controlled leg hung up (terminal)."""

    call_id: str
    cause: int
    cause_txt: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class SeatUp:
    """An agent's nailed-up seat joined its conference."""

    agent_id: str
    channel: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class SeatDown:
    """An agent's seat left its conference or hung up."""

    agent_id: str
    cause: int = 0
    server: str = ""


@dataclass(frozen=True, slots=True)
class SeatWrapupDone:
    """A simulated agent finished wrap-up after a call (PBX simulator, scenario mode only).

    A real Asterisk never sends it: real agents say they are ready through the engine.
    """

    agent_id: str
    server: str = ""


@dataclass(frozen=True, slots=True)
class ServerDown:
    """The adapter lost its AMI connection; no new calls go to ``server``."""

    server: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ServerUp:
    """The adapter is logged in to ``server`` (again) and resynced."""

    server: str


CallEvent = (
    CallDialing
    | CallAnswered
    | CallFailed
    | CallRefused
    | CallMachine
    | CallConnected
    | CallDropped
    | CallHungUp
)
LifecycleEvent = CallEvent | SeatUp | SeatDown | SeatWrapupDone | ServerDown | ServerUp

TERMINAL = (CallFailed, CallRefused, CallHungUp)
