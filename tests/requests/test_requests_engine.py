"""Callback requests through the engine on the database, on a virtual clock: when they
are dialed (only with an agent reserved), and how each call fact moves their state."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from asterisk import events as ev
from campaigns import requests as rq
from campaigns.enums import Outcome
from campaigns.models import Agent, Record
from campaigns.selection import forget_zone_keys
from dialer.engine import CampaignRun, Engine, Originate, RunState
from dialer.engine.clock import VirtualClock
from dialer.runtime.mqtt import MemorySink
from dialer.runtime.requests import RequestJournal, expiry_job
from dialer.runtime.store import SqlLeads
from pacing import types as pt
from tests.requests.helpers import NOW, make_campaign, make_source


class Never:
    """A pacer that never asks for predictive calls: only reserved ones are placed."""

    def observe(self, event: pt.Event) -> None:
        """Nothing to learn."""

    def decide(self, view: pt.View) -> int:
        """No predictive calls."""
        del view
        return 0


@pytest.fixture
def db(api_db: sa.Engine) -> sa.Engine:
    """A migrated database (a copy of the template) with one agent."""
    forget_zone_keys()
    with Session(api_db) as session:
        session.add(Agent(id=1, login="ala", name="Ala"))
        session.commit()
    return api_db


def make(db: sa.Engine, campaign_id: int) -> tuple[Engine, VirtualClock, MemorySink]:
    """The engine on the database with the request journal; agent 1 ready."""
    clock = VirtualClock(NOW)
    sink = MemorySink()
    engine = Engine(
        clock=clock,
        leads=SqlLeads(db, engine_id="e1", lease_s=300),
        journal=RequestJournal(db, engine_id="e1", clock=clock, sink=sink),
        sink=sink,
        lines=10,
        reserved_check_s=1.0,
    )
    engine.add_campaign(CampaignRun(campaign_id, "web", Never()))
    engine.set_state(campaign_id, RunState.RUNNING)
    engine.agent_login(1, "1001", campaign_id)
    engine.on_event(ev.SeatUp(agent_id="1001", channel="s"))
    return engine, clock, sink


def originates(engine: Engine) -> list[Originate]:
    """The Originates of one tick (the queued call-log rows written, as the runtime does
    after every engine step)."""
    out = [c for c in engine.tick() if isinstance(c, Originate)]
    journal = engine.journal
    assert isinstance(journal, RequestJournal)
    journal.flush()
    return out


def state(db: sa.Engine, request_id: int) -> str:
    """The request's state now."""
    return rq.get_request(db, request_id).state


def test_scheduled_request_is_dialed_at_its_time_with_the_agent_reserved(db: sa.Engine) -> None:
    """Nothing is dialed before the scheduled time; at it the agent is reserved first and
    the person dialed; connect and hang-up make it in progress, then answered, each
    state written and published when it happens."""
    campaign = make_campaign(db)
    source, _ = make_source(db)
    at = NOW + dt.timedelta(minutes=10)
    view = rq.create_request(
        db, source, rq.Asked(campaign=campaign, phone="+48500100200", at=at), now=NOW
    )
    engine, clock, sink = make(db, campaign)
    assert originates(engine) == []
    clock.advance(9 * 60)
    assert originates(engine) == []
    assert state(db, view.id) == "waiting"
    clock.advance(61)
    [call] = originates(engine)
    assert call.phone == "+48500100200"
    live = engine.calls[call.call_id]
    assert live.reserved_agent == 1
    assert engine.agents[1].state.phase.value == "reserved"
    got = rq.get_request(db, view.id)
    assert (got.state, got.agent_id, got.call_id) == ("calling", 1, call.call_id)
    engine.on_event(ev.CallAnswered(call.call_id, "ch", "u"))
    assert state(db, view.id) == "in_progress"
    clock.advance(30)
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    got = rq.get_request(db, view.id)
    assert got.state == "answered"
    assert [h["state"] for h in got.history] == ["waiting", "calling", "in_progress", "answered"]
    published = [p["state"] for p in sink.on(f"requests/{view.id}")]
    assert published == ["calling", "in_progress", "answered"]
    with Session(db) as session:
        record = session.get(Record, got.record_id)
        assert record is not None
        assert rq.FIELD_REQUEST not in record.fields  # later calls are the campaign's own


def test_cancelled_request_is_never_dialed(db: sa.Engine) -> None:
    """A request cancelled before its time is not dialed at it, nor later."""
    campaign = make_campaign(db)
    source, _ = make_source(db)
    at = NOW + dt.timedelta(minutes=5)
    view = rq.create_request(
        db, source, rq.Asked(campaign=campaign, phone="+48500100201", at=at), now=NOW
    )
    rq.cancel_request(db, view.id, source_id=source.id, actor="source:website", now=NOW)
    engine, clock, _ = make(db, campaign)
    for _ in range(4):
        clock.advance(5 * 60)
        assert originates(engine) == []
    assert state(db, view.id) == "cancelled"


def test_asap_waits_for_a_free_agent_and_ends_missed_by_agent_when_none_comes(
    db: sa.Engine,
) -> None:
    """An ASAP request is not dialed while no agent is ready; after the source's
    answer_within_s it is missed by agent and its record is no longer due."""
    campaign = make_campaign(db)
    source, _ = make_source(db, answer_within_s=120)
    view = rq.create_request(db, source, rq.Asked(campaign=campaign, phone="+48500100202"), now=NOW)
    engine, clock, sink = make(db, campaign)
    engine.agent_pause(1, "break")
    clock.advance(60)
    assert originates(engine) == []
    clock.advance(61)
    job = expiry_job(db, clock, sink)
    job.func()
    assert state(db, view.id) == "missed_by_agent"
    engine.agent_ready(1)
    clock.advance(5)
    assert originates(engine) == []


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (ev.FailOutcome.NO_ANSWER, "missed_by_customer"),
        (ev.FailOutcome.BUSY, "missed_by_customer"),
        (ev.FailOutcome.CONGESTION, "carrier_failure"),
    ],
)
def test_unanswered_asap_call_ends_as_the_seed_names_it(
    db: sa.Engine, failure: ev.FailOutcome, expected: str
) -> None:
    """No answer and busy are missed by customer; congestion is a carrier failure."""
    campaign = make_campaign(db)
    source, _ = make_source(db)
    view = rq.create_request(db, source, rq.Asked(campaign=campaign, phone="+48500100203"), now=NOW)
    engine, clock, _ = make(db, campaign)
    [call] = originates(engine)
    clock.advance(20)
    engine.on_event(ev.CallFailed(call.call_id, failure, 5, 17))
    got = rq.get_request(db, view.id)
    assert got.state == expected
    assert got.ended_at is not None


def test_call_cancelled_before_answer_puts_the_request_back_to_waiting(db: sa.Engine) -> None:
    """A call the engine hung up before anyone answered (campaign stopped) uses no
    attempt: the request waits again, and is dialed when the campaign runs."""
    campaign = make_campaign(db)
    source, _ = make_source(db)
    view = rq.create_request(db, source, rq.Asked(campaign=campaign, phone="+48500100204"), now=NOW)
    engine, clock, _ = make(db, campaign)
    [call] = originates(engine)
    engine.set_state(campaign, RunState.STOPPED)
    engine.on_event(ev.CallFailed(call.call_id, ev.FailOutcome.CANCELLED, 0, 0))
    assert state(db, view.id) == "waiting"
    engine.set_state(campaign, RunState.RUNNING)
    clock.advance(2)
    [again] = originates(engine)
    assert again.phone == "+48500100204"
    assert state(db, view.id) == "calling"


@pytest.mark.parametrize(
    ("state", "fact", "outcome", "expected"),
    [
        ("waiting", rq.CallFact.DIALED, None, "calling"),
        ("calling", rq.CallFact.REFUSED, None, "waiting"),
        ("calling", rq.CallFact.DROPPED, None, "missed_by_agent"),
        ("calling", rq.CallFact.FINISHED, Outcome.MACHINE, "missed_by_customer"),
        ("calling", rq.CallFact.FINISHED, Outcome.INVALID, "carrier_failure"),
        ("calling", rq.CallFact.FINISHED, Outcome.ANSWERED, "missed_by_agent"),
        ("in_progress", rq.CallFact.FINISHED, Outcome.ANSWERED, "answered"),
        ("cancelled", rq.CallFact.DIALED, None, None),
        ("answered", rq.CallFact.FINISHED, Outcome.BUSY, None),
    ],
)
def test_state_rules(
    state: str, fact: rq.CallFact, outcome: Outcome | None, expected: str | None
) -> None:
    """The pure state rules: what each call fact makes of each state; ended requests
    never change again."""
    got = rq.next_state(rq.RequestState(state), fact, outcome)
    assert (got.value if got else None) == expected
