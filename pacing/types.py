"""Value types the pacers consume: events (what happened) and views (the present).

They mirror the referee's ``contract.Event`` / ``contract.View`` field for field, so the
engine and the referee adapter hand the same values to the same pacer objects.  Time
``t`` is seconds on any clock the caller chooses; pacing never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

DIAL: Final = "dial"
ANSWER: Final = "answer"
FAIL: Final = "fail"
CONNECT: Final = "connect"
DROP: Final = "drop"
HANGUP: Final = "hangup"
READY: Final = "ready"
UNREADY: Final = "unready"
LOGIN: Final = "login"
LOGOUT: Final = "logout"

EVENT_KINDS: Final = (DIAL, ANSWER, FAIL, CONNECT, DROP, HANGUP, READY, UNREADY, LOGIN, LOGOUT)
FAIL_OUTCOMES: Final = ("no_answer", "busy", "congestion", "machine")
MACHINE: Final = "machine"


@dataclass(frozen=True, slots=True)
class Event:
    """One call or agent event (see the referee contract for the meaning of ``value``)."""

    t: float
    kind: str
    call_id: int | None = None
    agent_id: int | None = None
    value: float | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class View:
    """The campaign at one decision tick: who is free, busy, ringing and waiting."""

    t: float
    agents_logged_in: int
    agents_ready: int
    ready_idle_s: tuple[float, ...] = ()
    talking_elapsed_s: tuple[float, ...] = ()
    wrapup_elapsed_s: tuple[float, ...] = ()
    ringing_elapsed_s: tuple[float, ...] = ()
    calls_waiting: int = 0
    lines_free: int = 0


class Pacer(Protocol):
    """What the engine (and the referee adapter) drives: events in, a dial count out."""

    def observe(self, event: Event) -> None:
        """Learn from one event; events arrive in time order."""

    def decide(self, view: View) -> int:
        """Return how many new calls to start now (0 ≤ n ≤ ``view.lines_free``)."""


def pacer_reason(pacer: object) -> str | None:
    """Why ``pacer`` chose its last count (its ``status.reason``), if it says; the simple
    pacers keep no status."""
    reason = getattr(getattr(pacer, "status", None), "reason", None)
    return reason if isinstance(reason, str) else None
