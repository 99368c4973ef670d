"""One agent-action dispatcher for the runtime and the tests' engine hosts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from dialer.engine.actions import agent_action, aware
from dialer.engine.clock import VirtualClock
from dialer.engine.core import CampaignRun, Engine
from dialer.engine.sink import MemorySink
from dialer.sim.memory import MemoryJournal, MemoryLeads
from pacing.pacers import ProgressivePacer


def _engine() -> Engine:
    engine = Engine(
        clock=VirtualClock(dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)),
        leads=MemoryLeads([]),
        journal=MemoryJournal(),
        sink=MemorySink(),
    )
    engine.add_campaign(CampaignRun(1, "A", ProgressivePacer()))
    return engine


def test_login_asks_the_caller_for_the_seat_and_pause_reaches_the_agent() -> None:
    """Login takes the seat the caller's rule gives (not the payload's), pause its reason."""
    engine = _engine()
    seats: list[tuple[int, str | None]] = []

    def seat_of(agent: int, payload: Mapping[str, Any]) -> str:
        seats.append((agent, payload.get("seat")))
        return "201"

    commands = agent_action(engine, 7, "login", {"campaign": 1, "seat": "999"}, seat_of=seat_of)
    assert seats == [(7, "999")]
    assert engine.agents[7].seat == "201"
    assert commands  # the seat is started
    agent_action(engine, 7, "pause", {"reason": "lunch"}, seat_of=seat_of)
    assert engine.agents[7].state.pause_reason == "lunch"


def test_bad_requests_name_what_is_wrong() -> None:
    """An unknown action lists the known ones; a missing field is a KeyError naming it."""
    engine = _engine()
    with pytest.raises(ValueError, match=r"unknown action 'dance' .*login, ready, pause"):
        agent_action(engine, 7, "dance", {}, seat_of=lambda a, p: "201")
    with pytest.raises(KeyError, match="campaign"):
        agent_action(engine, 7, "login", {}, seat_of=lambda a, p: "201")


def test_a_date_without_a_zone_is_utc() -> None:
    """A callback date given without a zone is taken as UTC."""
    assert aware("2026-12-08T10:00") == dt.datetime(2026, 12, 8, 10, tzinfo=dt.UTC)
