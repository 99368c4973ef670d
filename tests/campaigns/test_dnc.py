"""Do-not-call lists: add, remove, list, import, expiry, audit, and their effect on import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.db import create_schema, make_engine
from campaigns.dnc import DncNotFoundError, add_dnc, import_dnc, is_on_dnc, list_dnc, remove_dnc
from campaigns.importer import CampaignNotFoundError, RejectReason, import_file
from campaigns.models import AuditLog, Campaign
from campaigns.phones import PhoneError

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite database with the campaign "Sprzedaż"."""
    eng = make_engine(f"sqlite:///{tmp_path / 'dnc.db'}")
    create_schema(eng)
    with Session(eng) as session:
        session.add(Campaign(name="Sprzedaż"))
        session.commit()
    return eng


def audit_actions(engine: sa.Engine) -> list[str]:
    """The audit log's actions, oldest first."""
    with Session(engine) as session:
        return [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id)).all()]


def test_add_normalises_and_updates_an_existing_entry(engine: sa.Engine) -> None:
    """A number typed nationally is stored in E.164; adding it again updates, not duplicates."""
    assert add_dnc(engine, "601 234 567", reason="prośba klienta", now=NOW) == (
        "+48601234567",
        True,
    )
    assert add_dnc(engine, "+48601234567", reason="RODO", now=NOW) == ("+48601234567", False)
    entries = list_dnc(engine, now=NOW)
    assert [(e.phone, e.reason, e.campaign) for e in entries] == [("+48601234567", "RODO", None)]
    assert audit_actions(engine) == ["dnc_add", "dnc_update"]


def test_campaign_list_is_separate_from_global(engine: sa.Engine) -> None:
    """A campaign entry blocks that campaign only; listings show all lists unless scoped."""
    add_dnc(engine, "601234567", campaign="Sprzedaż", now=NOW)
    add_dnc(engine, "601234568", now=NOW)
    assert [e.phone for e in list_dnc(engine, campaign="Sprzedaż", now=NOW)] == ["+48601234567"]
    assert [e.phone for e in list_dnc(engine, global_only=True, now=NOW)] == ["+48601234568"]
    assert len(list_dnc(engine, now=NOW)) == 2
    with engine.connect() as conn:
        assert is_on_dnc(conn, "+48601234567", 1, NOW)
        assert not is_on_dnc(conn, "+48601234567", None, NOW)
        assert is_on_dnc(conn, "+48601234568", 1, NOW)


def test_expired_entry_no_longer_blocks(engine: sa.Engine) -> None:
    """An entry past its expiry is not listed by default and does not block the number."""
    add_dnc(engine, "601234567", expires_at=NOW + dt.timedelta(days=1), now=NOW)
    later = NOW + dt.timedelta(days=2)
    assert list_dnc(engine, now=later) == []
    assert len(list_dnc(engine, now=later, include_expired=True)) == 1
    with engine.connect() as conn:
        assert is_on_dnc(conn, "+48601234567", None, NOW)
        assert not is_on_dnc(conn, "+48601234567", None, later)


def test_remove_and_remove_missing(engine: sa.Engine) -> None:
    """Removing a listed number audits it; removing an absent one names the list."""
    add_dnc(engine, "601234567", now=NOW)
    assert remove_dnc(engine, "601-234-567") == "+48601234567"
    with pytest.raises(DncNotFoundError, match=r"phone: \+48601234567 is not on the global DNC"):
        remove_dnc(engine, "601234567")
    assert audit_actions(engine) == ["dnc_add", "dnc_remove"]


def test_invalid_number_and_unknown_campaign_are_refused(engine: sa.Engine) -> None:
    """A number that is not valid or a campaign that does not exist is a clear error."""
    with pytest.raises(PhoneError, match="phone: '12' is too short"):
        add_dnc(engine, "12")
    with pytest.raises(CampaignNotFoundError, match="existing campaigns: 'Sprzedaż'"):
        add_dnc(engine, "601234567", campaign="Nie ma")


def test_import_reports_lines_and_skips_already_listed(engine: sa.Engine, tmp_path: Path) -> None:
    """A DNC file import adds new numbers, counts listed ones, rejects bad lines by number."""
    add_dnc(engine, "601000001", now=NOW)
    source = tmp_path / "dnc.csv"
    source.write_text("numer;powód\n601000001;x\n601000002;y\nzły;z\n+48601000002;w\n;\n")
    dry = import_dnc(engine, source, dry_run=True, now=NOW)
    assert (dry.added, dry.already_listed) == (1, 1)
    assert len(list_dnc(engine, now=NOW)) == 1
    report = import_dnc(engine, source, reason="lista operatora", batch_size=1, now=NOW)
    assert (report.rows_read, report.added, report.already_listed) == (4, 1, 1)
    assert [(r.line, r.reason) for r in report.rejects] == [
        (4, RejectReason.INVALID_NUMBER),
        (5, RejectReason.DUPLICATE_IN_FILE),
    ]
    assert report.rejects[1].detail == "+48601000002 duplicates line 3"
    assert {e.phone for e in list_dnc(engine, now=NOW)} == {"+48601000001", "+48601000002"}
    assert audit_actions(engine)[-1] == "dnc_import"


def test_list_import_rejects_numbers_added_to_dnc(engine: sa.Engine, tmp_path: Path) -> None:
    """A number put on the campaign's DNC list is rejected by the next list import."""
    add_dnc(engine, "601234567", campaign="Sprzedaż", now=NOW)
    source = tmp_path / "lista.csv"
    source.write_text("telefon\n+48 601 234 567\n601234568\n")
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert report.imported == 1
    assert [(r.line, r.reason) for r in report.rejects] == [(2, RejectReason.DNC_CAMPAIGN)]
