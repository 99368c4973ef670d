"""CSV and XLSX export of the call log: same filters and scope as the list, admin-only gate."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from campaigns.enums import Role
from dialer.api import queries
from dialer.api.app import create_app
from dialer.api.queries import EXPORT_COLUMNS, CallFilter, iter_calls
from dialer.config import DatabaseSettings, HttpSettings, Settings
from tests.api.conftest import LOGINS, World, sign_in
from tests.api.test_agent_api import make_campaign
from tests.api.test_calls_api import NOW, add_call


@pytest.fixture
def campaign(api_db: sa.Engine, world: World) -> int:
    """A campaign with one call of agent A (a note that looks like a formula), one of agent B
    and one nobody answered."""
    cid, _ = make_campaign(api_db)
    add_call(
        api_db,
        cid,
        ago_min=1,
        phone="+48501000001",
        agent_id=world.agent_a,
        outcome="answered",
        note="=HYPERLINK(1)",
        talk_s=12.5,
    )
    add_call(api_db, cid, ago_min=2, phone="+48501000002", agent_id=world.agent_b)
    add_call(api_db, cid, ago_min=3, phone="+48501000003", outcome="busy")
    return cid


def csv_rows(response_text: str) -> list[dict[str, str]]:
    """The CSV body as dictionaries by column title."""
    return list(csv.DictReader(io.StringIO(response_text)))


def test_csv_has_the_titles_and_the_rows_of_the_list(
    clients: dict[Role, TestClient], campaign: int
) -> None:
    """The CSV export holds a title row and every call the same filter lists, in order."""
    response = clients[Role.ADMIN].get(
        "/api/calls/export", params={"format": "csv", "campaign": campaign}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="calls-' in response.headers["content-disposition"]
    rows = csv_rows(response.text)
    assert list(rows[0]) == [title for title, _ in EXPORT_COLUMNS]
    assert [r["phone"] for r in rows] == ["+48501000001", "+48501000002", "+48501000003"]
    first = rows[0]
    assert first["agent"] == "Anna Nowak"
    assert first["campaign"] == "Jesień"
    assert first["talk s"] == "12.5"
    assert first["note"] == "'=HYPERLINK(1)"  # never run as a formula by a spreadsheet
    listed = clients[Role.ADMIN].get("/api/calls", params={"campaign": campaign}).json()
    assert [str(item["id"]) for item in listed["items"]] == [r["call id"] for r in rows]


def test_xlsx_export_follows_the_role_scope(clients: dict[Role, TestClient], campaign: int) -> None:
    """A group leader's XLSX export holds only its group's agents' calls."""
    del campaign
    response = clients[Role.GROUP_LEADER].get("/api/calls/export", params={"format": "xlsx"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = book["calls"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][:4] == ["call id", "dialed at (UTC)", "campaign", "phone"]
    assert [row[3] for row in values[1:]] == ["+48501000001"]
    assert isinstance(values[1][1], dt.datetime)


def test_agent_exports_own_calls_and_out_of_scope_filter_is_403(
    clients: dict[Role, TestClient], campaign: int, world: World
) -> None:
    """An agent's export holds its own calls; naming another agent is refused like the list."""
    del campaign
    agent = clients[Role.AGENT]
    rows = csv_rows(agent.get("/api/calls/export").text)
    assert [r["phone"] for r in rows] == ["+48501000001"]
    refused = agent.get("/api/calls/export", params={"agent": world.agent_b})
    assert refused.status_code == 403
    assert "+48" not in refused.text


def test_unknown_format_is_422_naming_it(clients: dict[Role, TestClient]) -> None:
    """An export format other than csv or xlsx answers 422 naming ``format``."""
    response = clients[Role.ADMIN].get("/api/calls/export", params={"format": "pdf"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "query.format"


def test_export_can_be_limited_to_administrators(
    api_db: sa.Engine, campaign: int, tmp_path: Path
) -> None:
    """With ``export_admin_only``, heads, leaders and agents get 403 and administrators the
    file; the list itself stays open to them."""
    del campaign
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"),
        http=HttpSettings(export_admin_only=True),
    )
    app: FastAPI = create_app(settings, db=api_db)
    for role, login in LOGINS.items():
        client = sign_in(app, login)
        response = client.get("/api/calls/export")
        if role is Role.ADMIN:
            assert response.status_code == 200
        else:
            assert response.status_code == 403, role
            assert "admin" in response.json()["detail"]
            assert "+48" not in response.text
            assert client.get("/api/calls").status_code == 200


def test_export_reads_in_batches_without_losing_or_repeating_rows(
    api_db: sa.Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading by key in small batches gives every row once, newest first, even when several
    calls were dialed at the same instant; the limit stops it."""
    del world
    cid, _ = make_campaign(api_db)
    for k in range(7):
        add_call(api_db, cid, ago_min=k // 3, phone=f"+4850100000{k}")
    monkeypatch.setattr(queries, "_EXPORT_BATCH", 2)
    rows = list(iter_calls(api_db, CallFilter(campaign_id=cid)))
    assert len(rows) == 7
    assert len({r.id for r in rows}) == 7
    keys = [(r.dial_at, r.id) for r in rows]
    assert keys == sorted(keys, reverse=True)
    assert rows[0].dial_at == NOW
    assert len(list(iter_calls(api_db, CallFilter(campaign_id=cid), limit=3))) == 3
