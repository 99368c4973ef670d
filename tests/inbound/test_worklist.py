"""The missed-call worklist: one row per caller and queue, history, leaving, audit, stats."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns import inbound as wl
from campaigns.db import create_schema, make_engine
from campaigns.enums import SystemStatus
from campaigns.models import Agent, AuditLog, Campaign, Record

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    """``minutes`` after T0."""
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite database with the campaign "Oddzwonienia" (id 1)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'wl.db'}")
    create_schema(eng)
    with Session(eng) as session:
        session.add(Campaign(name="Oddzwonienia"))
        session.add(Agent(id=3, login="ola"))
        session.commit()
    return eng


def records(db: sa.Engine) -> list[Record]:
    """Every record, by id."""
    with Session(db) as session:
        return list(session.exec(select(Record).order_by(Record.id)).all())


def test_repeat_miss_updates_one_row_and_a_replayed_fact_counts_once(db: sa.Engine) -> None:
    """Two misses of one caller in one queue make one row (count 2, last time); the same
    AMI fact reported again (call_ref) changes nothing; another queue is another row."""
    first = wl.record_miss(db, caller="48601000001", queue="sales", at=at(0), call_ref="a/1")
    again = wl.record_miss(db, caller="+48 601 000 001", queue="sales", at=at(5), call_ref="a/2")
    dup = wl.record_miss(db, caller="48601000001", queue="sales", at=at(5), call_ref="a/2")
    other = wl.record_miss(db, caller="48601000001", queue="support", at=at(6))
    assert first.new_row
    assert not again.new_row
    assert dup.duplicate
    assert first.row_id == again.row_id != other.row_id
    row = wl.get_row(db, first.row_id)
    assert (row.phone, row.miss_count, row.last_missed_at) == ("+48601000001", 2, at(5))
    assert [h.kind for h in wl.history(db, row.id)] == ["missed", "missed"]
    assert wl.open_count(db) == 2


def test_invalid_caller_is_refused_with_the_number_named(db: sa.Engine) -> None:
    """An unusable caller number raises an error naming it and writes nothing."""
    with pytest.raises(wl.InvalidCallerError, match="caller: '12'"):
        wl.record_miss(db, caller="12", queue="sales", at=at(0))
    assert wl.open_count(db) == 0


def test_rows_leave_when_the_caller_gets_through(db: sa.Engine) -> None:
    """An inbound answer of the same caller closes their rows in every queue, by system."""
    a = wl.record_miss(db, caller="48601000001", queue="sales", at=at(0))
    wl.record_miss(db, caller="48601000001", queue="support", at=at(1))
    closed = wl.record_answered(db, caller="48601000001", queue="sales", at=at(3))
    assert len(closed) == 2
    row = wl.get_row(db, a.row_id)
    assert (row.state, row.closed_by, row.closed_reason) == ("closed", "system", "answered_inbound")
    assert wl.open_count(db) == 0
    # a new miss after that opens a new row
    assert wl.record_miss(db, caller="48601000001", queue="sales", at=at(9)).new_row


def test_hide_restore_delete_are_audited_with_who(db: sa.Engine) -> None:
    """A person's hide, restore and delete are in the history and the audit log."""
    r = wl.record_miss(db, caller="48601000001", queue="sales", at=at(0)).row_id
    wl.hide(db, r, actor="anna", now=at(1))
    assert wl.get_row(db, r).state == "hidden"
    assert wl.open_count(db) == 0
    with pytest.raises(wl.RowStateError, match="is hidden; cannot hide"):
        wl.hide(db, r, actor="anna")
    wl.restore(db, r, actor="anna", now=at(2))
    wl.delete(db, r, actor="boss", now=at(3))
    row = wl.get_row(db, r)
    assert (row.state, row.closed_by, row.closed_reason) == ("closed", "boss", "deleted")
    with Session(db) as session:
        audit = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(a.actor, a.action, a.entity_id) for a in audit] == [
        ("anna", "worklist_hide", str(r)),
        ("anna", "worklist_restore", str(r)),
        ("boss", "worklist_delete", str(r)),
    ]
    with pytest.raises(wl.RowNotFoundError, match="id: worklist row 999"):
        wl.delete(db, 999, actor="boss")


def test_attached_queue_feeds_the_campaign_progressive_oldest_first(db: sa.Engine) -> None:
    """Attaching a queue turns its open rows and later misses into CALL_PROGRESSIVE records
    due from their first miss; an unknown queue is refused naming the known ones."""
    wl.record_miss(db, caller="48601000002", queue="sales", at=at(2))
    with pytest.raises(wl.UnknownQueueError, match=r"queue: 'salse'.*'sales'"):
        wl.attach_queue(db, "salse", 1, actor="boss", known_queues=["sales"])
    wl.attach_queue(db, "sales", 1, actor="boss", known_queues=["sales"])
    wl.record_miss(db, caller="48601000001", queue="sales", at=at(0))
    recs = records(db)
    assert [(r.phone, str(r.system_status), r.next_call_at) for r in recs] == [
        ("+48601000002", SystemStatus.CALL_PROGRESSIVE, at(2)),
        ("+48601000001", SystemStatus.CALL_PROGRESSIVE, at(0)),
    ]
    assert recs[0].fields["worklist_id"] == wl.list_rows(db, wl.Filters(), now=at(3))[1].id


def test_callback_outcomes_go_to_history_and_reaching_closes_the_row(db: sa.Engine) -> None:
    """A failed callback is a history line; the one that reaches the person closes the row
    and stops its record; the stats count it."""
    wl.attach_queue(db, "sales", 1, actor="boss")
    r = wl.record_miss(db, caller="48601000001", queue="sales", at=at(0)).row_id
    rec = records(db)[0].id
    assert rec is not None
    wl.record_callback(db, record_id=rec, outcome="busy", reached=False, at=at(10))
    wl.record_callback(
        db, record_id=rec, outcome="answered", reached=True, at=at(30), agent="7", call_ref="c2"
    )
    hist = [(h.kind, h.outcome, h.agent) for h in wl.history(db, r)]
    assert hist == [
        ("missed", "abandoned", None),
        ("callback", "busy", None),
        ("callback", "answered", "7"),
        ("closed", "callback_reached", None),
    ]
    assert records(db)[0].system_status == SystemStatus.DO_NOT_CALL
    s = wl.stats(db, at(-60), at(60))
    assert (s.missed, s.called_back, s.callback_attempts, s.reached) == (1, 1, 2, 1)
    assert (s.removed_by_system, s.removed_by_person, s.still_open) == (1, 0, 0)
    assert s.median_first_callback_s == 600.0


def test_agent_callback_makes_the_record_the_agents_own_due_now(db: sa.Engine) -> None:
    """'Call back' makes the row's record MY_RECORD of that agent, due now (reserved path)."""
    r = wl.record_miss(db, caller="48601000001", queue="sales", at=at(0)).row_id
    with pytest.raises(wl.NoCallbackCampaignError, match="queue 'sales'"):
        wl.request_callback(db, r, agent_id=3, actor="ola")
    rec_id = wl.request_callback(db, r, agent_id=3, actor="ola", campaign_id=1, now=at(1))
    rec = records(db)[0]
    assert (rec.id, rec.system_status, rec.owner_agent_id, rec.next_call_at) == (
        rec_id,
        SystemStatus.MY_RECORD,
        3,
        at(1),
    )
    assert wl.history(db, r)[-1].kind == "callback_requested"


def test_retention_closes_old_rows_and_filters_select(db: sa.Engine) -> None:
    """Rows whose last miss is older than the retention leave by themselves; filters pick
    by queue, age and state."""
    old = wl.record_miss(db, caller="48601000001", queue="sales", at=at(0)).row_id
    new = wl.record_miss(db, caller="48601000002", queue="support", at=at(60 * 24 * 3)).row_id
    now = at(60 * 24 * 8)
    assert [r.id for r in wl.list_rows(db, wl.Filters(queues=["support"]), now=now)] == [new]
    age = wl.Filters(max_age_s=6 * 86400)
    assert [r.id for r in wl.list_rows(db, age, now=now)] == [new]
    assert wl.expire(db, now, retention_days=7) == 1
    assert wl.get_row(db, old).closed_reason == "retention"
    closed = wl.Filters(states=["closed"])
    assert [r.id for r in wl.list_rows(db, closed, now=now)] == [old]
