"""The in-memory fakes run the real rules: they claim what the database store claims, in
the same order, and refuse what the status engine refuses."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from campaigns.dispositions import load_rules
from campaigns.enums import Outcome
from campaigns.models import DncEntry, Record
from campaigns.status_engine import StatusRuleError
from dialer.engine import Call
from dialer.memory import MemoryJournal, MemoryLeads, MemoryRecord
from dialer.store import SqlLeads
from tests.dialer.test_store import START, db

__all__ = ["db"]  # the fixture, imported for the tests below

H = dt.timedelta(hours=1)
#: (system status, attempts, due, owner, leased, on DNC) of records 6 … 17.
CASES = [
    ("TO_CALL", 0, None, None, False, False),  # fresh
    ("TO_CALL", 1, START - H, None, False, False),  # retry due
    ("TO_CALL", 1, START + H, None, False, False),  # retry not due
    ("NOT_BEFORE", 1, START - 2 * H, None, False, False),  # due
    ("NOT_BEFORE", 1, START + H, None, False, False),  # not yet
    ("MY_RECORD", 1, START - H, 1, False, False),  # agent 1's callback, due
    ("CALL_PROGRESSIVE", 1, START - H, None, False, False),  # needs a reserved agent
    ("DO_NOT_CALL", 1, None, None, False, False),
    ("TO_CALL", 3, None, None, False, False),  # max attempts (3) used
    ("TO_CALL", 0, None, None, True, False),  # in flight
    ("TO_CALL", 0, None, None, False, True),  # number on the DNC list
    ("TO_CALL", 2, None, None, False, False),  # lease ended without outcome: a retry
]


def _both(db: sa.Engine) -> tuple[SqlLeads, MemoryLeads]:
    memory: list[MemoryRecord] = []
    dnc: set[str] = set()
    with Session(db) as session:
        for i, (status, attempts, due, owner, leased, listed) in enumerate(CASES, start=6):
            phone = f"+4860000{i:04d}"
            session.add(
                Record(id=i, campaign_id=1, phone=phone, tz="UTC", system_status=status,
                       attempts=attempts, next_call_at=due, owner_agent_id=owner,
                       lease_owner="other" if leased else None,
                       lease_expires_at=START + H if leased else None)
            )  # fmt: skip
            if listed:
                session.add(DncEntry(phone=phone))
                dnc.add(phone)
            memory.append(MemoryRecord(i, 1, phone, status, owner, due, attempts, leased))
        session.commit()
        for r in session.exec(sa.select(Record).where(Record.id <= 5)).scalars():  # type: ignore[call-overload, arg-type]
            memory.insert(r.id - 1, MemoryRecord(r.id, 1, r.phone))
    with db.connect() as conn:
        rules, _auto = load_rules(conn, 1)
    return SqlLeads(db, engine_id="e1", lease_s=300), MemoryLeads(memory, rules=rules, dnc=dnc)


def test_memory_leads_claim_what_the_database_claims_in_the_same_order(db: sa.Engine) -> None:
    """Over records in every state, the fake and the store claim the same records in the
    same order, the same callback for its owner and the same progressive redial."""
    sql, memory = _both(db)
    assert sql.claim_reserved(1, 1, START) is not None
    assert memory.claim_reserved(1, 1, START) is not None
    assert memory.claims == [11]
    first = [lead.record_id for lead in sql.claim(1, 4, START, exclude_phones=["+48500000000"])]
    mem = [lead.record_id for lead in memory.claim(1, 4, START, exclude_phones=["+48500000000"])]
    assert mem == first == [9, 7, 17, 2]
    rest = [lead.record_id for lead in sql.claim(1, 20, START)]
    assert [lead.record_id for lead in memory.claim(1, 20, START)] == rest
    assert sorted(rest) == [1, 3, 4, 5, 6]
    progressive = sql.claim_reserved(1, 2, START)
    assert progressive is not None
    same = memory.claim_reserved(1, 2, START)
    assert same is not None
    assert same.record_id == progressive.record_id == 12


def test_memory_journal_applies_the_status_engine() -> None:
    """A busy call waits the campaign's busy delay before a redial, a drop makes the record
    progressive, a refused Originate gives the attempt back (the old fake redialed a busy
    number at once and ignored refusals)."""
    busy, dropped, refused = (MemoryRecord(i, 1, f"+4822000000{i}") for i in (1, 2, 3))
    leads = MemoryLeads([busy, dropped, refused])
    journal = MemoryJournal(leads)
    got = {lead.record_id: lead for lead in leads.claim(1, 3, START)}
    call = {rid: Call(f"c{rid}", 0, 1, lead, None, 0.0, START) for rid, lead in got.items()}
    for c in call.values():
        journal.dialed(c)
    end = START + dt.timedelta(seconds=20)
    call[1].outcome, call[1].end_at = Outcome.BUSY, end
    journal.finished(call[1])
    call[2].outcome, call[2].end_at = Outcome.DROPPED, end
    journal.finished(call[2])
    journal.refused(call[3], "no route")
    busy_delay = leads.rules.retry_delay(Outcome.BUSY)
    assert busy_delay > dt.timedelta(0)
    assert (busy.system_status, busy.due, busy.leased) == ("TO_CALL", end + busy_delay, False)
    assert dropped.system_status == "CALL_PROGRESSIVE"
    assert (refused.attempts, refused.leased, refused.due) == (0, False, None)
    assert [lead.record_id for lead in leads.claim(1, 3, end)] == [3]


def test_memory_journal_refuses_a_callback_without_a_date() -> None:
    """A MY_RECORD status without a date is refused by the status engine's rule, as the
    database journal refuses it (the old fake took it)."""
    rec = MemoryRecord(1, 1, "+48220000001")
    leads = MemoryLeads([rec])
    journal = MemoryJournal(leads)
    (lead,) = leads.claim(1, 1, START)
    call = Call("c1", 0, 1, lead, None, 0.0, START)
    call.connect_at, call.agent_id = START, 1
    journal.dialed(call)
    with pytest.raises(StatusRuleError, match="date"):
        journal.status_set(call, 1, 3, None, "")
    journal.status_set(call, 1, 3, START + dt.timedelta(days=1), "jutro")
    assert rec.system_status == "TO_CALL", "applied when the call ends, not before"
    call.outcome, call.end_at = Outcome.ANSWERED, START + dt.timedelta(minutes=2)
    journal.finished(call)
    assert (rec.system_status, rec.owner_agent_id, rec.leased) == ("MY_RECORD", 1, False)
