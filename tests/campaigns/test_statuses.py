"""The status dictionary and campaign statuses: defaults, flags, validation, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from campaigns.enums import SystemStatus
from campaigns.models import AuditLog
from campaigns.service import create_campaign, validate_rules
from campaigns.statuses import (
    StatusError,
    StatusNotFoundError,
    attach_status,
    campaign_statuses,
    create_status,
    deactivate_status,
    detach_status,
    edit_status,
    ensure_defaults,
    get_status,
    list_statuses,
)
from tests.campaigns.core_helpers import sqlite_engine


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A session on a fresh SQLite database with the default statuses."""
    with Session(sqlite_engine(tmp_path / "st.db")) as session:
        ensure_defaults(session)
        session.commit()
        yield session


def test_defaults_exist_once(session: Session) -> None:
    """Dzwonić (TO_CALL) and Nie dzwonić (DO_NOT_CALL) exist after init, and only once."""
    assert ensure_defaults(session) == []
    found = {(row.name, row.system_status) for row in list_statuses(session)}
    assert found == {("Dzwonić", SystemStatus.TO_CALL), ("Nie dzwonić", SystemStatus.DO_NOT_CALL)}


def test_new_campaign_gets_flagged_statuses_only(session: Session) -> None:
    """A new campaign is offered the active statuses flagged "add to every new campaign"."""
    create_status(
        session,
        name="Wstępnie zainteresowany",
        system_status="my_record",
        add_to_new_campaigns=True,
        actor="sup",
    )
    create_status(session, name="Zajęty", system_status="TO_CALL", auto_outcome="busy", actor="sup")
    retired = create_status(
        session, name="Stary", system_status="TO_CALL", add_to_new_campaigns=True, actor="sup"
    )
    deactivate_status(session, retired.id or 0, actor="sup")
    campaign = create_campaign(session, validate_rules(name="Jesień"), actor="sup")
    names = [row.name for row in campaign_statuses(session, campaign.id or 0)]
    assert names == ["Dzwonić", "Nie dzwonić", "Wstępnie zainteresowany"]


def test_campaign_only_status_stays_out_of_the_dictionary(session: Session) -> None:
    """A campaign-only status is offered in its campaign and not listed in the dictionary."""
    campaign = create_campaign(session, validate_rules(name="Jesień"), actor="sup")
    create_status(
        session, name="Umówiony", system_status="NOT_BEFORE", campaign_id=campaign.id, actor="sup"
    )
    assert "Umówiony" in [row.name for row in campaign_statuses(session, campaign.id or 0)]
    assert "Umówiony" not in [row.name for row in list_statuses(session)]


def test_attach_and_detach(session: Session) -> None:
    """Attaching is idempotent; detaching removes the status from the campaign only."""
    campaign = create_campaign(session, validate_rules(name="Jesień"), actor="sup")
    create_status(session, name="Poczta głosowa", system_status="TO_CALL", actor="sup")
    attach_status(session, campaign.id or 0, "poczta głosowa", actor="sup")
    attach_status(session, campaign.id or 0, "Poczta głosowa", actor="sup")
    names = [row.name for row in campaign_statuses(session, campaign.id or 0)]
    assert names.count("Poczta głosowa") == 1
    detach_status(session, campaign.id or 0, "Poczta głosowa", actor="sup")
    assert "Poczta głosowa" not in [
        row.name for row in campaign_statuses(session, campaign.id or 0)
    ]
    assert get_status(session, "Poczta głosowa").active


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  ", "system_status": "TO_CALL"}, r"name: .* expected 1 to 120 characters"),
        ({"name": "X", "system_status": "MAYBE"}, r"system_status: 'MAYBE' .* one of TO_CALL"),
        (
            {"name": "X", "system_status": "TO_CALL", "auto_outcome": "answered"},
            r"auto_outcome: 'answered' .* one of busy, no_answer",
        ),
        (
            {"name": "X", "system_status": "MY_RECORD", "auto_outcome": "busy"},
            r"none for a MY_RECORD status",
        ),
        ({"name": "dzwonić", "system_status": "TO_CALL"}, r"name: 'dzwonić' .* no other status"),
    ],
)
def test_invalid_statuses_are_refused_with_the_field(
    session: Session, kwargs: dict[str, str], message: str
) -> None:
    """Bad names, system statuses, outcomes and duplicates name the field and what is right."""
    with pytest.raises(StatusError, match=message):
        create_status(session, actor="sup", **kwargs)  # type: ignore[arg-type]


def test_one_active_status_per_automatic_outcome(session: Session) -> None:
    """Two active statuses cannot both be set automatically on the same outcome."""
    create_status(session, name="Zajęty", system_status="TO_CALL", auto_outcome="busy", actor="s")
    with pytest.raises(StatusError, match="'Zajęty' already does"):
        create_status(
            session, name="Busy 2", system_status="TO_CALL", auto_outcome="busy", actor="s"
        )


def test_edit_is_audited_with_before_and_after(session: Session) -> None:
    """Editing a status changes it and records what changed, and by whom, in the audit log."""
    row = create_status(session, name="Zajęty", system_status="TO_CALL", actor="anna")
    edit_status(session, row.id or 0, actor="olek", hidden=True, name="Zajęte")
    session.commit()
    entry = session.exec(select(AuditLog).where(AuditLog.action == "status.edit")).one()
    assert entry.actor == "olek"
    assert entry.details["changed"] == {"name": ["Zajęty", "Zajęte"], "hidden": [False, True]}


def test_unknown_status_lists_known_names(session: Session) -> None:
    """Looking up a missing status names the statuses that exist."""
    with pytest.raises(StatusNotFoundError, match="known statuses: Dzwonić, Nie dzwonić"):
        get_status(session, "Nieznany")


def test_status_names_compare_in_any_case_beyond_ascii(session: Session) -> None:
    """A dictionary status "Żółty" refuses "ŻÓŁTY" and is found by it (not just ASCII)."""
    created = create_status(session, name="Żółty", system_status=SystemStatus.TO_CALL, actor="a")
    session.commit()
    assert get_status(session, "ŻÓŁTY").id == created.id
    with pytest.raises(StatusError, match="no other status"):
        create_status(session, name="ŻÓŁTY", system_status=SystemStatus.TO_CALL, actor="a")
