"""List import, DNC and dispositions on PostgreSQL (named parameters, JSON, row locks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.dispositions import record_outcome, set_agent_status
from campaigns.dnc import add_dnc, list_dnc
from campaigns.enums import Outcome, SystemStatus
from campaigns.importer import RejectReason, import_file
from campaigns.models import Agent, Campaign, CampaignStatus, Record, StatusDef
from tests.campaigns.conftest_b import engine_in_private_schema

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    """A PostgreSQL engine on a private schema with one campaign and one agent."""
    with engine_in_private_schema(pg_url) as eng:
        with Session(eng) as session:
            session.add(Campaign(name="Sprzedaż"))
            session.add(Agent(login="ala"))
            session.commit()
        yield eng


def test_import_on_postgres(engine: sa.Engine, tmp_path: Path) -> None:
    """The batched insert works with PostgreSQL's named parameters, JSON fields and times."""
    add_dnc(engine, "601000002", now=NOW)
    source = tmp_path / "lista.csv"
    source.write_text(
        "telefon;imię;miasto\n601000001;Anna;Kraków\n601000002;DNC;X\nzły;Z;Y\n"
        "+48 601 000 001;Dup;Q\n+1 415 555 2671;Mary;SF\n",
        encoding="utf-8",
    )
    report = import_file(engine, source, campaign="Sprzedaż", batch_size=1, now=NOW)
    assert report.imported == 2
    assert [(r.line, r.reason) for r in report.rejects] == [
        (3, RejectReason.DNC_GLOBAL),
        (4, RejectReason.INVALID_NUMBER),
        (5, RejectReason.DUPLICATE_IN_FILE),
    ]
    with Session(engine) as session:
        anna = session.exec(select(Record).where(Record.phone == "+48601000001")).one()
    assert (anna.name, anna.tz, anna.fields, anna.created_at) == (
        "Anna",
        "Europe/Warsaw",
        {"miasto": "Kraków"},
        NOW,
    )
    again = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert again.imported == 0
    assert again.rejected_by_reason[RejectReason.DUPLICATE_IN_CAMPAIGN] == 3  # lines 2, 5, 6
    assert [e.phone for e in list_dnc(engine, now=NOW)] == ["+48601000002"]


def test_nul_bytes_in_cells_do_not_break_a_postgres_import(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """PostgreSQL refuses NUL in text: the importer drops it from cells, the rows import."""
    source = tmp_path / "nul.csv"
    source.write_bytes(b"phone,name,note\n601000007,An\x00na,x\x00y\n")
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert report.imported == 1
    with Session(engine) as session:
        row = session.exec(select(Record).where(Record.phone == "+48601000007")).one()
    assert (row.name, row.fields) == ("Anna", {"note": "xy"})


def test_dispositions_on_postgres(engine: sa.Engine) -> None:
    """An outcome and an agent status are written under a row lock on PostgreSQL."""
    with Session(engine) as s:
        mine = StatusDef(name="Mój rekord", system_status=SystemStatus.MY_RECORD)
        s.add(mine)
        s.commit()
        assert mine.id is not None
        s.add(CampaignStatus(campaign_id=1, status_id=mine.id))
        s.add(Record(campaign_id=1, phone="+48601234567", tz="Europe/Warsaw", attempts=1))
        s.commit()
        record_id = s.exec(select(Record.id)).one()
        status_id = mine.id
    assert record_id is not None
    record_outcome(engine, record_id, Outcome.DROPPED, now=NOW)
    due = NOW + dt.timedelta(days=1)
    result = set_agent_status(engine, record_id, status_id, agent_id=1, now=NOW, date=due)
    assert (result.state.system_status, result.state.owner_agent_id) == (
        SystemStatus.MY_RECORD,
        1,
    )
    with Session(engine) as s:
        record = s.get(Record, record_id)
    assert record is not None
    assert (record.system_status, record.next_call_at, record.last_outcome) == (
        SystemStatus.MY_RECORD,
        due,
        "answered",
    )
