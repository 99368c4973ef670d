"""List uploads are bounded (size, rows, time), keep no server path, write the list with
its audit entry or nothing, and report broken rows and formulas instead of losing them."""

from __future__ import annotations

import concurrent.futures
import io
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlmodel import Session, col, select

from campaigns.models import AuditLog, ContactList, Record
from campaigns.service import create_campaign, validate_rules
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, HttpSettings, Settings
from tests.api.conftest import World, sign_in


@pytest.fixture
def cid(api_db: sa.Engine) -> int:
    """A campaign to import into."""
    with Session(api_db) as session:
        row = create_campaign(session, validate_rules(name="Limits"), actor="t")
        session.commit()
        return row.id or 0


def upload(client: TestClient, campaign_id: int, content: bytes, filename: str) -> Any:
    """POST one file to the campaign's lists."""
    return client.post(
        f"/api/campaigns/{campaign_id}/lists",
        files={"file": (filename, content, "application/octet-stream")},
    )


def lists_and_audit(db: sa.Engine) -> tuple[list[ContactList], list[AuditLog]]:
    """Every list and every list.import audit entry."""
    with Session(db) as session:
        lists = list(session.exec(select(ContactList)))
        audits = list(session.exec(select(AuditLog).where(AuditLog.action == "list.import")))
    return lists, audits


def xlsx(build: Any) -> bytes:
    """The bytes of a workbook made by ``build(sheet)``."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    build(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_one_cell_at_xfd1048576_is_refused_quickly(
    app: FastAPI, api_db: sa.Engine, cid: int
) -> None:
    """A 5 KB list with one stray cell at XFD1048576 is refused in seconds naming the cell,
    and leaves no list (today: over 400 s, a list with a temporary path and no audit)."""

    def far_cell(sheet: Any) -> None:
        sheet.append(["phone", "name"])
        sheet.append(["+48601234567", "Jan"])
        sheet["XFD1048576"] = "x"

    content = xlsx(far_cell)
    assert len(content) < 6000
    admin = sign_in(app, "admin")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(upload, admin, cid, content, "far.xlsx")
        response = future.result(timeout=60)
    assert time.monotonic() - started < 30
    assert response.status_code == 422, response.text
    assert "cell XFD1048576" in response.json()["detail"]
    assert lists_and_audit(api_db) == ([], [])


def test_the_real_used_range_is_read_not_the_declared_one(
    app: FastAPI, api_db: sa.Engine, cid: int
) -> None:
    """A list whose sheet declares A1:XFD1048576 (one styled empty cell far away) imports
    its rows in seconds."""

    def rows_and_a_styled_cell(sheet: Any) -> None:
        sheet.append(["phone", "name"])
        sheet.append(["+48601234567", "Jan"])
        sheet.append(["+48601234568", "Ewa"])
        sheet["XFD1048576"].font = Font(bold=True)

    content = rows_and_a_styled_cell
    started = time.monotonic()
    response = upload(sign_in(app, "admin"), cid, xlsx(content), "styled.xlsx")
    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 2
    assert time.monotonic() - started < 30


def test_formulas_are_reported_as_formulas(app: FastAPI, api_db: sa.Engine, cid: int) -> None:
    """A formula in the phone column is "a formula, not a phone number"; one in another
    column is reported too; the plain row beside them is imported."""

    def with_formulas(sheet: Any) -> None:
        sheet.append(["phone", "name"])
        sheet.append(['=CONCAT("+4860","1234567")', "Jan"])
        sheet.append(["+48601234568", '=UPPER("ewa")'])
        sheet.append(["+48601234569", "Ola"])

    response = upload(sign_in(app, "admin"), cid, xlsx(with_formulas), "f.xlsx")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported"] == 1
    rejects = {r["line"]: r for r in body["rejects"]}
    assert rejects[2]["reason"] == "formula"
    assert "a formula" in rejects[2]["detail"]
    assert "not a phone number" in rejects[2]["detail"]
    assert rejects[3]["reason"] == "formula"
    assert "column 'name'" in rejects[3]["detail"]


def test_an_unclosed_quote_is_a_reject_naming_its_line(
    app: FastAPI, api_db: sa.Engine, cid: int
) -> None:
    """A CSV row with a quote never closed is rejected with its line; the rows after it are
    imported, none merged into it."""
    content = (
        b'phone,name\n+48601234561,Jan\n+48601234562,"Ewa\n+48601234563,Ola\n+48601234564,Ala\n'
    )
    response = upload(sign_in(app, "admin"), cid, content, "quote.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported"] == 3
    assert [(r["line"], r["reason"]) for r in body["rejects"]] == [(3, "malformed_row")]
    assert "never closed" in body["rejects"][0]["detail"]
    with Session(api_db) as session:
        phones = sorted(session.exec(select(Record.phone)))
    assert phones == ["+48601234561", "+48601234563", "+48601234564"]


def test_the_list_source_is_the_clients_file_name_and_it_is_audited(
    app: FastAPI, api_db: sa.Engine, cid: int
) -> None:
    """The stored list names the uploaded file, never a server path, and has its audit."""
    response = upload(sign_in(app, "admin"), cid, b"phone\n+48601234567\n", "klienci.csv")
    assert response.status_code == 201
    lists, audits = lists_and_audit(api_db)
    assert [row.source for row in lists] == ["klienci.csv"]
    assert [a.entity_id for a in audits] == [str(lists[0].id)]


def test_a_failed_import_leaves_neither_list_nor_audit(
    api_db: sa.Engine, world: World, cid: int, tmp_path: Any
) -> None:
    """Past the row limit the upload is refused naming the limit, and nothing is written
    (the list and its audit entry go together or not at all)."""
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'x.db'}"),
        http=HttpSettings(import_max_rows=3),
    )
    del world
    app = create_app(settings, db=api_db)
    rows = b"phone\n" + b"".join(b"+4860123456%d\n" % k for k in range(5))
    response = upload(sign_in(app, "admin"), cid, rows, "five.csv")
    assert response.status_code == 422
    assert "more than 3 rows" in response.json()["detail"]
    assert lists_and_audit(api_db) == ([], [])
    with Session(api_db) as session:
        assert session.exec(select(col(Record.id))).all() == []


def test_a_file_over_the_size_limit_is_refused_with_413(
    api_db: sa.Engine, world: World, cid: int, tmp_path: Any
) -> None:
    """A list over http.upload_max_mb is answered 413 naming the limit."""
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'x.db'}"),
        http=HttpSettings(upload_max_mb=0.1),
    )
    del world
    app = create_app(settings, db=api_db)
    big = b"phone\n" + b"+48601234567\n" * 20_000
    response = upload(sign_in(app, "admin"), cid, big, "big.csv")
    assert response.status_code == 413
    assert "limit of 0.1 MB" in response.json()["detail"]
    assert lists_and_audit(api_db) == ([], [])
