"""List upload with the import report, the lists of a campaign, its records and their
export, over HTTP."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, col, select

from campaigns.enums import Role, SystemStatus
from campaigns.models import AuditLog, ContactList, Record
from campaigns.service import create_campaign, validate_rules
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, HttpSettings, Settings
from tests.api.conftest import LOGINS, World, sign_in

Clients = dict[Role, TestClient]


@pytest.fixture
def cid(api_db: sa.Engine) -> int:
    """A campaign to import into."""
    with Session(api_db) as session:
        row = create_campaign(session, validate_rules(name="Lists"), actor="t")
        session.commit()
        return row.id or 0


def _upload(
    client: TestClient,
    campaign_id: int,
    content: bytes,
    filename: str = "list.csv",
    **data: Any,
) -> Any:
    return client.post(
        f"/api/campaigns/{campaign_id}/lists",
        files={"file": (filename, content, "application/octet-stream")},
        data=data,
    )


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert field in problems, problems
    return problems[field]


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------ upload


def test_upload_reports_imported_and_rejected_rows_with_lines(
    clients: Clients, api_db: sa.Engine, cid: int
) -> None:
    """A CSV upload imports the good rows and lists each bad one with its line, reason and
    cells; the list is recorded under the file's name and the upload is audited."""
    content = (
        "Telefon;Imię;Miasto\n601 234 567;Jan;Kraków\nnot a number;Ewa;Gdańsk\n\n"
        "601234567;Jan again;Kraków\n+44 20 7946 0958;John;London\n"
    ).encode()
    response = _upload(clients[Role.ADMIN], cid, content, "klienci.csv", name="Wiosna")
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["imported"] == 2
    assert report["rejected"] == 2
    assert report["rows_read"] == 4
    assert report["source"] == "klienci.csv"
    assert [(r["line"], r["reason"]) for r in report["rejects"]] == [
        (3, "invalid_number"),
        (5, "duplicate_in_file"),
    ]
    assert report["rejects"][0]["values"] == ["not a number", "Ewa", "Gdańsk"]
    assert report["rejects_more"] == 0
    assert report["mapping"]["phone"] == "Telefon"
    [listed] = clients[Role.HEAD].get(f"/api/campaigns/{cid}/lists").json()
    assert listed["name"] == "Wiosna"
    assert listed["source"] == "klienci.csv"
    assert (listed["rows_imported"], listed["rows_rejected"]) == (2, 2)
    with Session(api_db) as session:
        [entry] = session.exec(select(AuditLog).where(AuditLog.action == "list.import")).all()
        records = session.exec(select(Record).order_by(col(Record.id))).all()
    assert entry.actor == "user:admin"
    assert entry.details["imported"] == 2
    assert [r.phone for r in records] == ["+48601234567", "+442079460958"]
    assert records[0].fields == {"Miasto": "Kraków"}


def test_upload_xlsx_with_mapping_region_and_zone(
    clients: Clients, api_db: sa.Engine, cid: int
) -> None:
    """An XLSX file imports with an explicit column mapping, a default region and zone."""
    content = _xlsx([["Kontakt", "Nazwa"], ["020 7946 0958", "Ann"], ["", "Nobody"]])
    response = _upload(
        clients[Role.ADMIN],
        cid,
        content,
        "list.xlsx",
        region="GB",
        tz="Europe/London",
        map=["phone=Kontakt"],
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["imported"] == 1
    assert report["rejects"][0]["line"] == 3
    assert report["rejects"][0]["reason"] == "missing_phone"
    with Session(api_db) as session:
        [record] = session.exec(select(Record)).all()
    assert (record.phone, record.name, record.tz) == ("+442079460958", "Ann", "Europe/London")


def test_upload_of_a_windows_1250_file_is_read_with_a_note(
    clients: Clients, api_db: sa.Engine, cid: int
) -> None:
    """A Polish file saved by Excel in Windows-1250 keeps its names and says how it was read."""
    content = "telefon;nazwisko\n601234567;Łukasz Żółć\n".encode("cp1250")
    report = _upload(clients[Role.ADMIN], cid, content).json()
    assert report["imported"] == 1
    assert "Windows-1250" in report["notes"][0]
    with Session(api_db) as session:
        assert session.exec(select(Record.name)).one() == "Łukasz Żółć"


def test_rejects_in_the_answer_are_capped_and_counted(clients: Clients, cid: int) -> None:
    """An upload of many bad rows lists the first thousand and says how many more there were."""
    content = ("phone\n" + "bad\n" * 1500).encode()
    report = _upload(clients[Role.ADMIN], cid, content).json()
    assert report["rejected"] == 1500
    assert len(report["rejects"]) == 1000
    assert report["rejects_more"] == 500
    assert report["rejects"][0]["line"] == 2


@pytest.mark.parametrize(
    ("content", "filename", "words"),
    [
        (b"phone\n601234567\n", "list.pdf", ".csv or .xlsx"),
        (b"", "list.csv", "empty"),
        (b"name;city\nJan;Krakow\n", "list.csv", "no phone column"),
        (b"PK\x03\x04 not really a workbook", "list.xlsx", "list.xlsx"),
        (b"phone\n\x81\x8d\x8f\x90\x98\n", "list.csv", "list.csv"),
    ],
)
def test_unreadable_files_are_refused_naming_the_file(
    clients: Clients,
    *,
    api_db: sa.Engine,
    cid: int,
    content: bytes,
    filename: str,
    words: str,
) -> None:
    """A file that cannot be imported at all gets 422 naming it; no record is written."""
    problem = _problem(_upload(clients[Role.ADMIN], cid, content, filename), "file")
    assert words in problem
    with Session(api_db) as session:
        assert session.exec(select(Record)).all() == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"region": "XX"}, "region"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"map": ["phone"]}, "map"),
        ({"map": ["phone=Nope"]}, "file"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_bad_options_are_refused_naming_them(
    clients: Clients, cid: int, data: dict[str, Any], field: str
) -> None:
    """A bad region, zone, mapping or name is refused with its field named."""
    _problem(_upload(clients[Role.ADMIN], cid, b"phone\n601234567\n", **data), field)


def test_upload_without_a_file_or_to_a_missing_campaign(clients: Clients, cid: int) -> None:
    """No file part is 422 naming it; an unknown campaign is 404."""
    response = clients[Role.ADMIN].post(f"/api/campaigns/{cid}/lists", data={"name": "x"})
    _problem(response, "file")
    assert _upload(clients[Role.ADMIN], 9999, b"phone\n601234567\n").status_code == 404


def test_a_nul_byte_in_a_cell_loses_no_row(clients: Clients, api_db: sa.Engine, cid: int) -> None:
    """A stray NUL byte inside a cell does not stop the upload or lose the rows around it."""
    content = b"phone,name\n601234567,Jan\n601234568,E\x00wa\n601234569,Ola\n"
    report = _upload(clients[Role.ADMIN], cid, content).json()
    assert report["imported"] + report["rejected"] == 3
    with Session(api_db) as session:
        phones = set(session.exec(select(Record.phone)).all())
    assert {"+48601234567", "+48601234569"} <= phones


# ----------------------------------------------------------------------------- records


@pytest.fixture
def records(api_db: sa.Engine, world: World, cid: int) -> dict[str, int]:
    """Four records: two owned by agent A (one a callback), one by agent B, one by nobody."""
    rows = {
        "a_call": Record(
            campaign_id=cid,
            phone="+48601000001",
            owner_agent_id=world.agent_a,
            system_status=SystemStatus.MY_RECORD,
            status_id=1,
            fields={"city": "Kraków"},
        ),
        "a_free": Record(campaign_id=cid, phone="+48601000002", owner_agent_id=world.agent_a),
        "b": Record(
            campaign_id=cid,
            phone="+48602000003",
            owner_agent_id=world.agent_b,
            fields={"note": "=cmd()"},
        ),
        "none": Record(campaign_id=cid, phone="+48603000004", system_status="DO_NOT_CALL"),
    }
    with Session(api_db) as session:
        session.add_all(rows.values())
        session.commit()
        return {key: row.id or 0 for key, row in rows.items()}


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_records_filters_and_paging(clients: Clients, cid: int, records: dict[str, int]) -> None:
    """Records filter by system status, status, phone digits and owner; paging keeps the
    total."""
    head = clients[Role.HEAD]
    url = f"/api/campaigns/{cid}/records"
    assert _ids(head.get(url)) == list(records.values())
    assert _ids(head.get(url, params={"system_status": "MY_RECORD"})) == [records["a_call"]]
    assert _ids(head.get(url, params={"status_id": 1})) == [records["a_call"]]
    assert _ids(head.get(url, params={"phone": "602 000"})) == [records["b"]]
    page = head.get(url, params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 4
    assert [i["id"] for i in page["items"]] == [records["b"], records["none"]]
    first = head.get(url, params={"system_status": "MY_RECORD"}).json()["items"][0]
    assert first["owner"] == "anna"
    assert first["status"] == "Dzwonić"
    assert first["fields"] == {"city": "Kraków"}


def test_group_leader_sees_only_records_its_agents_own(
    clients: Clients, cid: int, records: dict[str, int], world: World
) -> None:
    """A group leader sees its agents' records; asking for another group's agent and for an
    agent that does not exist get the same 403."""
    leader = clients[Role.GROUP_LEADER]
    url = f"/api/campaigns/{cid}/records"
    assert _ids(leader.get(url)) == [records["a_call"], records["a_free"]]
    assert leader.get(url).json()["total"] == 2
    other = leader.get(url, params={"owner_agent_id": world.agent_b})
    missing = leader.get(url, params={"owner_agent_id": 999})
    assert other.status_code == missing.status_code == 403
    assert other.json() == missing.json()
    exported = leader.get(f"{url}/export").text
    assert "+48602000003" not in exported
    assert "+48601000001" in exported


@pytest.mark.parametrize(
    "params",
    [
        {"system_status": "SOMETIMES"},
        {"phone": "abc"},
        {"limit": 0},
        {"limit": 10**6},
        {"offset": -1},
        {"owner_agent_id": 10**30},
    ],
)
def test_records_refuse_odd_queries(
    clients: Clients, cid: int, records: dict[str, int], params: dict[str, Any]
) -> None:
    """Odd filters are 422, never a server error."""
    response = clients[Role.ADMIN].get(f"/api/campaigns/{cid}/records", params=params)
    assert response.status_code == 422, response.text


def test_records_export_csv_and_xlsx_with_custom_fields(
    clients: Clients, cid: int, records: dict[str, int]
) -> None:
    """The export has the list's columns plus one per custom field, with the same filters;
    a cell that would run as a formula is quoted."""
    head = clients[Role.HEAD]
    url = f"/api/campaigns/{cid}/records/export"
    response = head.get(url, params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][-2:] == ["city", "note"]
    assert len(rows) == 5
    by_phone = {row[1]: row for row in rows[1:]}
    assert by_phone["+48601000001"][-2] == "Kraków"
    assert by_phone["+48602000003"][-1] == "'=cmd()"
    filtered = head.get(url, params={"format": "xlsx", "system_status": "DO_NOT_CALL"})
    sheet = load_workbook(io.BytesIO(filtered.content)).active
    assert sheet is not None
    values = list(sheet.values)
    assert len(values) == 2
    assert values[1][1] == "+48603000004"
    assert head.get(url, params={"format": "pdf"}).status_code == 422


def test_export_can_be_limited_to_administrators(
    api_db: sa.Engine, world: World, tmp_path: Path, cid: int
) -> None:
    """With export_admin_only, a head gets 403 for exports (records and DNC) and still
    sees the lists; an administrator exports."""
    del world
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"),
        http=HttpSettings(export_admin_only=True),
    )
    app = create_app(settings, db=api_db)
    head = sign_in(app, LOGINS[Role.HEAD])
    admin = sign_in(app, LOGINS[Role.ADMIN])
    for url in (f"/api/campaigns/{cid}/records/export", "/api/dnc/export"):
        refused = head.get(url)
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
        assert admin.get(url).status_code == 200
    assert head.get(f"/api/campaigns/{cid}/records").status_code == 200


def test_lists_of_a_missing_campaign_is_404(clients: Clients, api_db: sa.Engine) -> None:
    """Lists and records of a campaign that does not exist answer 404."""
    assert clients[Role.HEAD].get("/api/campaigns/555/lists").status_code == 404
    assert clients[Role.HEAD].get("/api/campaigns/555/records").status_code == 404
    with Session(api_db) as session:
        assert session.exec(select(ContactList)).all() == []


def test_xlsx_export_of_a_campaign_named_with_a_slash(clients: Clients, api_db: sa.Engine) -> None:
    """A campaign name a spreadsheet refuses as a tab title (a slash) still exports."""
    with Session(api_db) as session:
        row = create_campaign(session, validate_rules(name="Sales 2026/11: [north]"), actor="t")
        session.commit()
        campaign_id = row.id
    response = clients[Role.HEAD].get(
        f"/api/campaigns/{campaign_id}/records/export", params={"format": "xlsx"}
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Sales 2026-11- -north-"]
