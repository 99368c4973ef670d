"""What an agent asks of the engine (login, ready, pause, logout, status) as engine calls:
one dispatcher, used by the runtime (API and MQTT commands) and by the tests' engine hosts,
so that none of them carries a copy of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from dialer.engine.calls import Lead
from dialer.engine.core import Command, Engine
from dialer.errors import ROOT_ERRORS

ACTIONS = (
    "login",
    "ready",
    "pause",
    "logout",
    "status",
    "hangup",
    "preview_dial",
    "preview_skip",
    "dial_record",
    "dial_number",
)

#: What :func:`agent_action` refuses an action with (the engine's rules, a bad payload).
REFUSALS: tuple[type[Exception], ...] = (*ROOT_ERRORS, KeyError, ValueError)


class DeskLeads(Protocol):
    """Records the desk's own dials claim (the campaign store)."""

    def claim_for_agent(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead:
        """The record leased for a dial with the agent reserved, or a refusal saying why."""

    def record_for_number(self, campaign_id: int, number: str) -> int:
        """The campaign's record of a typed number (created when there is none)."""

    def release(self, record_ids: Sequence[int]) -> None:
        """Give back records claimed and not dialed."""


def dial_record(engine: Engine, leads: DeskLeads, agent_id: int, record_id: int) -> list[Command]:
    """Claim ``record_id`` for ``agent_id`` and dial it now with the agent reserved
    (``call back now``, or a manual number's record); refusals say why, and a claimed
    record the engine then refuses is given back."""
    campaign_id = engine.check_dial_for_agent(agent_id)
    records, phones = engine.in_flight()
    lead = leads.claim_for_agent(
        campaign_id,
        record_id,
        agent_id,
        engine.clock.utcnow(),
        exclude_records=records,
        exclude_phones=phones,
    )
    try:
        return engine.dial_for_agent(agent_id, lead)[1]
    except Exception:
        leads.release([lead.record_id])
        raise


SeatOf = Callable[[int, Mapping[str, Any]], str]
"""The seat an agent logs in on, from its id and the request (checked by the caller's rules:
the agent's extension or a seat an administrator allowed it)."""


def aware(value: object) -> dt.datetime:
    """An ISO date-time; one without a zone is taken as UTC."""
    when = dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def agent_action(
    engine: Engine,
    agent_id: int,
    action: str,
    payload: Mapping[str, Any],
    *,
    seat_of: SeatOf,
    leads: DeskLeads | None = None,
) -> list[Command]:
    """Carry out one agent action on ``engine``; the commands for the telephony edge.

    ``leads``: the store the desk's own dials claim from (``dial_record``,
    ``dial_number``). Raises the engine's refusal (a DialerError), the store's (a
    CampaignError), or KeyError / ValueError naming a payload field that is missing or
    wrong, or an unknown action.
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
    if action == "hangup":
        return engine.agent_hangup(agent_id)
    if action == "preview_dial":
        return engine.preview_dial(agent_id)
    if action == "preview_skip":
        return engine.preview_skip(agent_id)
    if action in {"dial_record", "dial_number"}:
        if leads is None:
            msg = f"{action}: this engine has no record store to dial from"
            raise ValueError(msg)
        if action == "dial_record":
            record_id = int(payload["record"])
        else:
            campaign_id = engine.check_dial_for_agent(agent_id)
            record_id = leads.record_for_number(campaign_id, str(payload["number"]))
        return dial_record(engine, leads, agent_id, record_id)
    msg = f"unknown action {action!r} ({', '.join(ACTIONS)})"
    raise ValueError(msg)
