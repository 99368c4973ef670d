"""The engine on the database: leases, the call log and statuses through the status engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from asterisk import events as ev
from campaigns.db import make_engine
from campaigns.enums import SystemStatus
from campaigns.migrate import initialize
from campaigns.models import Agent, CallLog, Record
from campaigns.selection import forget_zone_keys
from campaigns.service import create_campaign, validate_rules
from campaigns.status_engine import StatusRuleError
from campaigns.statuses import create_status
from dialer.clock import VirtualClock
from dialer.engine import CampaignRun, Engine, Originate, RunState
from dialer.mqtt import MemorySink
from dialer.store import SqlJournal, SqlLeads, lease_owner
from pacing import types as pt

START = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)


class Fixed:
    """A pacer asking for a fixed number of calls."""

    def __init__(self, n: int) -> None:
        self.n = n

    def observe(self, event: pt.Event) -> None:
        pass

    def decide(self, view: pt.View) -> int:
        n, self.n = self.n, 0
        return n


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    """A migrated SQLite database with a campaign of five records and its statuses."""
    forget_zone_keys()
    engine = make_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    initialize(engine, actor="test")
    with Session(engine) as session:
        for name, system in (
            ("Oddzwonić", SystemStatus.MY_RECORD),
            ("Sukces", SystemStatus.DO_NOT_CALL),
        ):
            create_status(
                session, name=name, system_status=system, add_to_new_campaigns=True, actor="t"
            )
        campaign = create_campaign(
            session,
            validate_rules(
                name="store",
                window_start="00:00",
                window_end="24:00",
                window_days=[1, 2, 3, 4, 5, 6, 7],
                max_attempts=3,
            ),
            actor="t",
        )
        session.commit()
        session.add(Agent(id=1, login="ala"))
        for i in range(5):
            session.add(Record(campaign_id=campaign.id or 0, phone=f"+4850000000{i}", tz="UTC"))
        session.commit()
    return engine


def make(db: sa.Engine, n: int) -> tuple[Engine, VirtualClock]:
    clock = VirtualClock(START)
    engine = Engine(
        clock=clock,
        leads=SqlLeads(db, engine_id="e1", lease_s=300),
        journal=SqlJournal(db, engine_id="e1", clock=clock),
        sink=MemorySink(),
        lines=10,
    )
    engine.add_campaign(CampaignRun(1, "store", Fixed(n)))
    engine.set_state(1, RunState.RUNNING)
    engine.agent_login(1, "1001", 1)
    engine.on_event(ev.SeatUp(agent_id="1001", channel="s"))
    return engine, clock


def status_id(db: sa.Engine, name: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT id FROM status_def WHERE name = :n"), {"n": name}
            ).scalar_one()
        )


def record(db: sa.Engine, record_id: int) -> Record:
    with Session(db) as session:
        row = session.get(Record, record_id)
        assert row is not None
        return row


def test_busy_call_is_logged_and_redialed_later(db: sa.Engine) -> None:
    """A busy call closes its call-log row, frees the lease and schedules a retry."""
    engine, clock = make(db, 1)
    call = next(c for c in engine.tick() if isinstance(c, Originate))
    rid = engine.calls[call.call_id].lead.record_id
    assert record(db, rid).lease_owner == lease_owner("e1")
    clock.advance(4)
    engine.on_event(ev.CallFailed(call.call_id, ev.FailOutcome.BUSY, 5, 17))
    row = record(db, rid)
    assert (row.lease_owner, row.attempts, row.last_outcome) == (None, 1, "busy")
    assert row.next_call_at is not None
    assert row.next_call_at > START
    with Session(db) as session:
        log = session.exec(sa.select(CallLog)).scalars().one()  # type: ignore[call-overload]
    assert (log.outcome, log.channel_id, log.hangup_cause) == ("busy", call.call_id, 17)
    assert log.ring_s == pytest.approx(4.0)


def test_callback_status_set_while_talking_is_written_at_hangup(db: sa.Engine) -> None:
    """A MY_RECORD status set during the call is validated at once and written at hang-up,
    keeping the lease while the call is up."""
    engine, clock = make(db, 1)
    call = next(c for c in engine.tick() if isinstance(c, Originate))
    rid = engine.calls[call.call_id].lead.record_id
    engine.on_event(ev.CallAnswered(call.call_id, "ch", "u"))
    clock.advance(30)
    callback = status_id(db, "Oddzwonić")
    with pytest.raises(StatusRuleError, match="date"):
        engine.agent_set_status(1, call.call_id, callback)
    when = START + dt.timedelta(days=1)
    engine.agent_set_status(1, call.call_id, callback, date=when, note="po 10")
    assert record(db, rid).lease_owner == lease_owner("e1")
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    row = record(db, rid)
    assert (row.system_status, row.owner_agent_id, row.lease_owner) == ("MY_RECORD", 1, None)
    assert row.next_call_at == when
    assert engine.agents[1].state.phase.value == "ready"
    with Session(db) as session:
        log = session.exec(sa.select(CallLog)).scalars().one()  # type: ignore[call-overload]
    assert (log.outcome, log.note, log.agent_id) == ("answered", "po 10", 1)
    assert log.talk_s == pytest.approx(30.0)


def test_dropped_person_becomes_progressive(db: sa.Engine) -> None:
    """A person dropped at the deadline is logged as dropped and marked CALL_PROGRESSIVE."""
    engine, clock = make(db, 2)
    first, second = [c for c in engine.tick() if isinstance(c, Originate)]
    engine.on_event(ev.CallAnswered(first.call_id, "a", "1"))
    engine.on_event(ev.CallAnswered(second.call_id, "b", "2"))
    clock.advance(2.0)
    engine.on_timer()
    engine.on_event(ev.CallHungUp(second.call_id, 16, "Normal Clearing"))
    rid = engine_record_of(db, second.call_id)
    assert record(db, rid).system_status == "CALL_PROGRESSIVE"


def engine_record_of(db: sa.Engine, call_id: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT record_id FROM call_log WHERE channel_id = :c"), {"c": call_id}
            ).scalar_one()
        )


def test_dropped_person_wait_is_logged_up_to_the_drop(db: sa.Engine) -> None:
    """The call log's wait of a dropped person ends at the drop, not after the message."""
    engine, clock = make(db, 2)
    first, second = [c for c in engine.tick() if isinstance(c, Originate)]
    engine.on_event(ev.CallAnswered(first.call_id, "a", "1"))
    engine.on_event(ev.CallAnswered(second.call_id, "b", "2"))
    clock.advance(1.8)
    engine.on_timer()
    clock.advance(2.5)  # the legal message plays
    engine.on_event(ev.CallHungUp(second.call_id, 16, "Normal Clearing"))
    with db.connect() as conn:
        wait = conn.execute(
            sa.text("SELECT wait_s FROM call_log WHERE channel_id = :c"), {"c": second.call_id}
        ).scalar_one()
    assert wait == pytest.approx(1.8)
