"""Dispositions: outcomes and agent statuses written to records, call log and audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.db import create_schema, make_engine
from campaigns.dispositions import (
    CallDetails,
    RecordNotFoundError,
    apply_wrapup_timeout,
    record_outcome,
    set_agent_status,
)
from campaigns.enums import Outcome, SystemStatus
from campaigns.models import (
    Agent,
    AuditLog,
    CallLog,
    Campaign,
    CampaignStatus,
    Record,
    StatusDef,
)
from campaigns.status_engine import StatusRuleError

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # Monday 11:00 in Warsaw
LEASE = NOW + dt.timedelta(minutes=2)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A campaign offering five statuses (one automatic on busy) and a leased record."""
    eng = make_engine(f"sqlite:///{tmp_path / 'disp.db'}")
    create_schema(eng)
    with Session(eng) as s:
        campaign = Campaign(name="Sprzedaż", retry_delays_s={"busy": 600, "answered": 7200})
        s.add(campaign)
        s.add(Agent(login="ala"))
        s.add(Agent(login="ola"))
        s.commit()
        assert campaign.id is not None
        statuses = [
            StatusDef(name="Dzwonić", system_status=SystemStatus.TO_CALL),  # 1
            StatusDef(name="Nie dzwonić", system_status=SystemStatus.DO_NOT_CALL),  # 2
            StatusDef(name="Mój rekord", system_status=SystemStatus.MY_RECORD),  # 3
            StatusDef(
                name="Zajęty",
                system_status=SystemStatus.NOT_BEFORE,
                auto_outcome=Outcome.BUSY.value,
            ),  # 4
            StatusDef(name="Spoza kampanii", system_status=SystemStatus.TO_CALL),  # 5
        ]
        s.add_all(statuses)
        s.commit()
        for position, status_id in enumerate((1, 2, 3, 4)):
            s.add(CampaignStatus(campaign_id=campaign.id, status_id=status_id, position=position))
        s.add(
            StatusDef(
                name="Oddzwonić później",
                system_status=SystemStatus.NOT_BEFORE,
                campaign_id=campaign.id,
            )
        )  # 6, campaign-only
        s.add(
            Record(
                campaign_id=campaign.id,
                phone="+48601234567",
                tz="Europe/Warsaw",
                attempts=1,
                lease_owner="engine-1",
                lease_expires_at=LEASE,
                last_call_at=NOW - dt.timedelta(seconds=40),
            )
        )
        s.commit()
    return eng


def record(engine: sa.Engine) -> Record:
    """The one record, fresh from the database."""
    with Session(engine) as s:
        return s.exec(select(Record)).one()


def call_logs(engine: sa.Engine) -> list[CallLog]:
    """Every call-log row, oldest first."""
    with Session(engine) as s:
        return list(s.exec(select(CallLog).order_by(CallLog.id)).all())


def test_busy_applies_the_campaign_auto_status_and_clears_the_lease(engine: sa.Engine) -> None:
    """A busy outcome sets the campaign's automatic status, the busy delay, and frees the lease."""
    result = record_outcome(
        engine,
        1,
        Outcome.BUSY,
        now=NOW,
        call=CallDetails(hangup_cause=17, channel_id="PJSIP/t-1"),
        lease_owner="engine-1",
    )
    rec = record(engine)
    assert (rec.system_status, rec.status_id) == (SystemStatus.NOT_BEFORE, 4)
    assert rec.next_call_at == NOW + dt.timedelta(seconds=600)
    assert (rec.lease_owner, rec.lease_expires_at) == (None, None)
    assert (rec.last_outcome, rec.last_call_at, rec.attempts) == ("busy", NOW, 1)
    [log] = call_logs(engine)
    assert log.id == result.call_log_id
    assert (log.outcome, log.status_id, log.system_status, log.attempt) == (
        "busy",
        4,
        "NOT_BEFORE",
        1,
    )
    assert (log.hangup_cause, log.channel_id, log.end_at) == (17, "PJSIP/t-1", NOW)


def test_outcome_updates_the_attempts_existing_call_log_row(engine: sa.Engine) -> None:
    """When the runtime created the attempt's call-log row at dial time, that row is filled."""
    with Session(engine) as s:
        s.add(CallLog(campaign_id=1, record_id=1, phone="+48601234567", attempt=1, dial_at=NOW))
        s.commit()
    record_outcome(engine, 1, Outcome.DROPPED, now=NOW)
    [log] = call_logs(engine)
    assert (log.outcome, log.system_status) == ("dropped", "CALL_PROGRESSIVE")
    assert record(engine).system_status == SystemStatus.CALL_PROGRESSIVE


def test_lease_taken_by_another_dialer_is_kept(engine: sa.Engine) -> None:
    """A late outcome from a dialer whose lease was taken over does not free the new lease."""
    record_outcome(engine, 1, Outcome.NO_ANSWER, now=NOW, lease_owner="engine-2")
    rec = record(engine)
    assert (rec.lease_owner, rec.lease_expires_at) == ("engine-1", LEASE)
    assert rec.last_outcome == "no_answer"


def test_agent_sets_my_record_with_owner_date_call_log_and_audit(engine: sa.Engine) -> None:
    """MY_RECORD by agent 2 stores owner and due time, fills the call log and audits it."""
    due = NOW + dt.timedelta(days=1)
    record_outcome(engine, 1, Outcome.ANSWERED, now=NOW)
    set_agent_status(engine, 1, 3, agent_id=2, now=NOW, date=due, note="oddzwonić jutro")
    rec = record(engine)
    assert (rec.system_status, rec.owner_agent_id, rec.next_call_at, rec.status_id) == (
        SystemStatus.MY_RECORD,
        2,
        due,
        3,
    )
    [log] = call_logs(engine)
    assert (log.outcome, log.status_id, log.agent_id, log.note) == (
        "answered",
        3,
        2,
        "oddzwonić jutro",
    )
    with Session(engine) as s:
        [audit] = s.exec(select(AuditLog)).all()
    assert (audit.actor, audit.action, audit.entity_id) == ("agent:2", "record_status_set", "1")
    assert audit.details["date"] == due.isoformat()
    assert audit.details["previous_system_status"] == "TO_CALL"


def test_campaign_only_status_is_offered(engine: sa.Engine) -> None:
    """A campaign-only NOT_BEFORE status applies with its date."""
    later = NOW + dt.timedelta(hours=3)
    set_agent_status(engine, 1, 6, agent_id=1, now=NOW, date=later)
    rec = record(engine)
    assert (rec.system_status, rec.next_call_at, rec.owner_agent_id) == (
        SystemStatus.NOT_BEFORE,
        later,
        None,
    )


@pytest.mark.parametrize(
    ("status_id", "date", "message"),
    [
        (3, None, r"date: status 'Mój rekord' \(MY_RECORD\) needs a date"),
        (3, NOW - dt.timedelta(hours=1), "date: .* is not in the future"),
        (5, None, r"status_id: status 'Spoza kampanii' \(id 5\) is not offered"),
        (99, None, "status_id: no status with id 99"),
    ],
)
def test_refused_agent_status_writes_nothing(
    engine: sa.Engine, status_id: int, date: dt.datetime | None, message: str
) -> None:
    """A refused agent status raises a field-naming StatusRuleError and leaves every table
    as it was."""
    before = record(engine)
    with pytest.raises(StatusRuleError, match=message):
        set_agent_status(engine, 1, status_id, agent_id=1, now=NOW, date=date)
    assert record(engine) == before
    assert call_logs(engine) == []
    with Session(engine) as s:
        assert s.exec(select(AuditLog)).all() == []


def test_unknown_record_is_a_clear_error(engine: sa.Engine) -> None:
    """An outcome for a record that does not exist names the id."""
    with pytest.raises(RecordNotFoundError, match="record_id: no record with id 42"):
        record_outcome(engine, 42, Outcome.BUSY, now=NOW)


def set_wrapup_default(engine: sa.Engine, status_id: int | None) -> None:
    """Give the campaign a default status for wrap-up timeouts."""
    with Session(engine) as s:
        campaign = s.exec(select(Campaign)).one()
        campaign.wrapup_default_status_id = status_id
        s.add(campaign)
        s.commit()


def test_wrapup_timeout_applies_the_campaign_default(engine: sa.Engine) -> None:
    """When wrap-up times out, the campaign's default status is applied and audited as system."""
    set_wrapup_default(engine, 1)
    result = apply_wrapup_timeout(engine, 1, agent_id=2, now=NOW)
    assert result is not None
    rec = record(engine)
    assert (rec.system_status, rec.status_id) == (SystemStatus.TO_CALL, 1)
    assert rec.next_call_at == NOW + dt.timedelta(seconds=7200)
    with Session(engine) as s:
        [audit] = s.exec(select(AuditLog)).all()
    assert (audit.actor, audit.details["agent_id"]) == ("system:wrapup_timeout", 2)


def test_wrapup_timeout_dates_a_default_callback(engine: sa.Engine) -> None:
    """A MY_RECORD default gives the agent the record, due after the answered delay."""
    set_wrapup_default(engine, 3)
    apply_wrapup_timeout(engine, 1, agent_id=2, now=NOW)
    rec = record(engine)
    assert (rec.system_status, rec.owner_agent_id) == (SystemStatus.MY_RECORD, 2)
    assert rec.next_call_at == NOW + dt.timedelta(seconds=7200)


def test_wrapup_timeout_without_default_writes_nothing(engine: sa.Engine) -> None:
    """Without a default status a wrap-up timeout changes nothing."""
    before = record(engine)
    assert apply_wrapup_timeout(engine, 1, agent_id=2, now=NOW) is None
    assert record(engine) == before
    with pytest.raises(RecordNotFoundError):
        apply_wrapup_timeout(engine, 99, agent_id=2, now=NOW)
