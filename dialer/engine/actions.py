"""What an agent asks of the engine (login, ready, pause, logout, status) as engine calls:
one dispatcher, used by the runtime (API and MQTT commands) and by the tests' engine hosts,
so that none of them carries a copy of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from dialer.engine.core import Command, Engine

ACTIONS = ("login", "ready", "pause", "logout", "status")

SeatOf = Callable[[int, Mapping[str, Any]], str]
"""The seat an agent logs in on, from its id and the request (checked by the caller's rules:
the agent's extension or a seat an administrator allowed it)."""


def aware(value: object) -> dt.datetime:
    """An ISO date-time; one without a zone is taken as UTC."""
    when = dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def agent_action(
    engine: Engine, agent_id: int, action: str, payload: Mapping[str, Any], *, seat_of: SeatOf
) -> list[Command]:
    """Carry out one agent action on ``engine``; the commands for the telephony edge.

    Raises the engine's refusal (a DialerError), or KeyError / ValueError naming a payload
    field that is missing or wrong, or an unknown action.
    """
    if action == "login":
        return engine.agent_login(agent_id, seat_of(agent_id, payload), int(payload["campaign"]))
    if action == "ready":
        return engine.agent_ready(agent_id)
    if action == "pause":
        return engine.agent_pause(agent_id, str(payload.get("reason", "")))
    if action == "logout":
        return engine.agent_logout(agent_id)
    if action == "status":
        return engine.agent_set_status(
            agent_id,
            str(payload["call_id"]),
            int(payload["status"]),
            date=aware(payload["date"]) if payload.get("date") else None,
            note=str(payload.get("note", "")),
        )
    msg = f"unknown action {action!r} ({', '.join(ACTIONS)})"
    raise ValueError(msg)
