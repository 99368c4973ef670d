"""Carrying out the engine's telephony commands on a Telephony implementation.

Connects, drops and hang-ups are sent at once (they are what keeps a person from waiting).
An Originate the edge refuses (server down, no capacity) becomes a refused call for the
engine (no call placed: the record's lease is released, no attempt used); an action on a call the
edge no longer knows (it ended meanwhile) is logged and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import structlog

from asterisk import events as ev
from asterisk.adapter import DialRequest
from asterisk.errors import AmiError
from dialer.engine import (
    Command,
    ConnectCall,
    DropCall,
    HangupCall,
    Originate,
    StartSeat,
    StopSeat,
)

log = structlog.get_logger(__name__)


class SyncTelephony(Protocol):
    """A telephony edge whose actions are all sent at once (in-memory, or a single server)."""

    def originate_now(self, req: DialRequest) -> str:
        """Place a call now."""

    def connect(self, call_id: str, agent_id: str) -> None:
        """Move an answered call into an agent's seat."""

    def drop(self, call_id: str) -> None:
        """Send an answered call to the drop context."""

    def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang a call up."""

    def start_seat(self, agent_id: str, *, group: str | None = None) -> str:
        """Bring an agent's seat up (``group``: the agent's campaign, kept together on a
        server by a pool of servers)."""

    def stop_seat(self, agent_id: str) -> None:
        """Tear an agent's seat down."""


def dial_request(cmd: Originate) -> DialRequest:
    """The edge's request for an engine Originate."""
    return DialRequest(
        call_id=cmd.call_id, number=cmd.phone, variables=dict(cmd.variables), server=cmd.server
    )


def refused(call_id: str, exc: Exception) -> ev.CallRefused:
    """The event the engine gets for an Originate the edge refused: no call was placed."""
    return ev.CallRefused(call_id, str(exc))


def execute_now(
    tel: SyncTelephony, commands: Iterable[Command], *, originate: bool = True
) -> list[ev.LifecycleEvent]:
    """Carry out ``commands`` in order; returns failed-call events for refused Originates.

    With ``originate=False`` Originates are skipped (the caller sends them itself).
    """
    failures: list[ev.LifecycleEvent] = []
    for cmd in commands:
        try:
            match cmd:
                case Originate():
                    if originate:
                        tel.originate_now(dial_request(cmd))
                case ConnectCall():
                    tel.connect(cmd.call_id, cmd.seat)
                case DropCall():
                    tel.drop(cmd.call_id)
                case HangupCall():
                    tel.hangup(cmd.call_id)
                case StartSeat():
                    tel.start_seat(cmd.seat, group=cmd.group)
                case StopSeat():
                    tel.stop_seat(cmd.seat)
        except AmiError as exc:
            if isinstance(cmd, Originate):
                log.warning("originate_refused", call_id=cmd.call_id, error=str(exc))
                failures.append(refused(cmd.call_id, exc))
            else:
                log.info("telephony_action_skipped", command=type(cmd).__name__, error=str(exc))
    return failures
