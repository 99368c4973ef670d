"""Campaign rules validation, creation with audit, lookup and the record summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.enums import SystemStatus
from campaigns.models import AuditLog
from campaigns.selection import claim
from campaigns.service import (
    CampaignNotFoundError,
    CampaignRulesError,
    create_campaign,
    get_campaign,
    summarize,
    validate_rules,
)
from tests.campaigns.core_helpers import NOON, add_dnc, add_record, sqlite_engine


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite database."""
    return sqlite_engine(tmp_path / "svc.db")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": ""}, r"^name: '' is not valid"),
        ({"name": "A", "max_attempts": 0}, r"max_attempts: 0 .* greater than or equal to 1"),
        ({"name": "A", "window_start": "9:00"}, r"window_start: '9:00' .* \"HH:MM\""),
        ({"name": "A", "window_end": "24:30"}, r"window_end: '24:30' .* 24:00 for midnight"),
        ({"name": "A", "window_days": [0, 8]}, r"window_days: .* weekdays 1 \(Monday\) to 7"),
        ({"name": "A", "retry_delays_s": {"bussy": 60}}, r"retry_delays_s: .* keys among default"),
        ({"name": "A", "default_tz": "Mars/Base"}, r"default_tz: 'Mars/Base' .* IANA"),
        ({"name": "A", "default_region": "XX"}, r"default_region: 'XX' .* ISO 3166"),
        ({"name": "A", "caller_id": "12"}, r"caller_id: '12' .* E\.164"),
        ({"name": "A", "colour": "red"}, r"colour: 'red' .* one of name, description"),
    ],
)
def test_bad_rules_name_the_field(values: dict[str, object], message: str) -> None:
    """Each invalid rule is refused with its field, its value and what is expected."""
    with pytest.raises(CampaignRulesError, match=message):
        validate_rules(**values)


def test_create_audits_and_refuses_duplicate_names(engine: sa.Engine) -> None:
    """Creating writes the audit log; a second campaign with the same name is refused."""
    with Session(engine) as session:
        campaign = create_campaign(session, validate_rules(name="Jesień 2026"), actor="anna")
        session.commit()
        entry = session.exec(select(AuditLog).where(AuditLog.action == "campaign.create")).one()
        assert (entry.actor, entry.entity_id) == ("anna", str(campaign.id))
        with pytest.raises(CampaignRulesError, match=r"name: 'jesień 2026' .* no other campaign"):
            create_campaign(session, validate_rules(name="jesień 2026"), actor="anna")


def test_lookup_by_name_or_id_and_unknown(engine: sa.Engine) -> None:
    """A campaign is found by id or name; an unknown one lists the campaigns that exist."""
    with Session(engine) as session:
        campaign = create_campaign(session, validate_rules(name="Jesień"), actor="a")
        session.commit()
        assert get_campaign(session, "jesień").id == campaign.id
        assert get_campaign(session, str(campaign.id)).name == "Jesień"
        with pytest.raises(CampaignNotFoundError, match="existing campaigns: 'Jesień'"):
            get_campaign(session, "Zima")


def test_summary_counts(engine: sa.Engine) -> None:
    """The summary counts due now, waiting, outside window, in flight, DNC and exhausted."""
    with Session(engine) as session:
        campaign = create_campaign(
            session,
            validate_rules(name="S", max_attempts=2, window_days=[1, 2, 3, 4, 5, 6, 7]),
            actor="a",
        )
        session.commit()
        cid = campaign.id or 0
    add_record(engine, cid, "+48500000001", tz="Europe/Warsaw")  # due now
    add_record(engine, cid, "+48500000002", tz="Europe/Warsaw")  # will be in flight
    add_record(
        engine,
        cid,
        "+48500000003",
        tz="Europe/Warsaw",
        attempts=1,
        next_call_at=NOON + dt.timedelta(hours=1),
    )  # waiting
    add_record(engine, cid, "+12125550100", tz="America/New_York")  # outside window
    add_record(engine, cid, "+48500000004", tz="Europe/Warsaw", attempts=2)  # exhausted
    add_record(engine, cid, "+48500000005", tz="Europe/Warsaw")  # DNC
    add_record(engine, cid, "+48500000006", system_status=SystemStatus.DO_NOT_CALL)
    add_dnc(engine, "+48500000005")
    claim(engine, cid, 1, NOON, engine_id="e", lease_s=60)
    with Session(engine) as session:
        summary = summarize(session, get_campaign(session, cid), NOON)
    assert summary.total == 7
    assert summary.by_system_status == {"TO_CALL": 6, "DO_NOT_CALL": 1}
    assert (summary.due_now, summary.waiting, summary.outside_window) == (1, 1, 1)
    assert (summary.in_flight, summary.dnc, summary.exhausted) == (1, 1, 1)
    assert "America/New_York" in summary.closed_zones
    assert [row.name for row in summary.statuses] == []


def test_names_compare_in_any_case_beyond_ascii(engine: sa.Engine) -> None:
    """ "ŁÓDŹ" and "łódź" are the same name (SQLite's lower() folds only ASCII)."""
    with Session(engine) as session:
        created = create_campaign(session, validate_rules(name="Łódź  Jesień"), actor="a")
        session.commit()
        assert get_campaign(session, "ŁÓDŹ jesień").id == created.id
        with pytest.raises(CampaignRulesError, match="no other campaign"):
            create_campaign(session, validate_rules(name="ŁÓDŹ JESIEŃ"), actor="a")
