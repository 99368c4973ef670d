"""Do-not-call lists over HTTP: add, list, remove, import a file, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from campaigns.enums import Role
from campaigns.models import AuditLog, DncEntry
from campaigns.service import create_campaign, validate_rules

Clients = dict[Role, TestClient]


@pytest.fixture
def gb_campaign(api_db: sa.Engine) -> int:
    """A campaign whose numbers default to the United Kingdom."""
    with Session(api_db) as session:
        row = create_campaign(session, validate_rules(name="UK", default_region="GB"), actor="t")
        session.commit()
        return row.id or 0


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert field in problems, problems
    return problems[field]


def _audit(db: sa.Engine) -> list[tuple[str, str | None, str]]:
    with Session(db) as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.entity == "dnc_entry").order_by(col(AuditLog.id))
        )
        return [(r.action, r.entity_id, r.actor) for r in rows]


def _future(days: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def test_add_normalizes_updates_an_existing_entry_and_audits(
    clients: Clients, api_db: sa.Engine
) -> None:
    """A number typed locally is stored in E.164; adding it again updates its reason; both
    are audited under the administrator."""
    admin = clients[Role.ADMIN]
    first = admin.post("/api/dnc", json={"phone": "601 234 777", "reason": "asked"}).json()
    assert first["phone"] == "+48601234777"
    assert first["added"] is True
    assert first["campaign_id"] is None
    expires = _future()
    again = admin.post(
        "/api/dnc", json={"phone": "+48601234777", "reason": "complaint", "expires_at": expires}
    ).json()
    assert again["added"] is False
    assert again["id"] == first["id"]
    assert again["reason"] == "complaint"
    assert again["expires_at"] is not None
    assert _audit(api_db) == [
        ("dnc_add", "+48601234777", "user:admin"),
        ("dnc_update", "+48601234777", "user:admin"),
    ]


def test_campaign_entry_uses_the_campaign_region(clients: Clients, gb_campaign: int) -> None:
    """A number for a campaign's list is read in the campaign's default region."""
    body = (
        clients[Role.ADMIN]
        .post("/api/dnc", json={"phone": "020 7946 0958", "campaign_id": gb_campaign})
        .json()
    )
    assert body["phone"] == "+442079460958"
    assert body["campaign"] == "UK"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"phone": "601234567", "region": "XX"}, "region"),
        ({"phone": "601234567", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"phone": "601234567", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"phone": "601234567", "expires_at": "9999-12-31T23:59:59-14:00"}, "expires_at"),
        ({"phone": "601234567", "campaign_id": 0}, "campaign_id"),
        ({"phone": "601234567", "reason": "a\x00b"}, "reason"),
    ],
)
def test_add_refuses_bad_input_naming_the_field(
    clients: Clients, api_db: sa.Engine, body: dict[str, Any], field: str
) -> None:
    """A bad number, region or expiry gets 422 naming it; nothing is listed."""
    _problem(clients[Role.ADMIN].post("/api/dnc", json=body), field)
    with Session(api_db) as session:
        assert session.exec(select(DncEntry)).all() == []


def test_add_to_a_missing_campaign_is_404(clients: Clients) -> None:
    """The list of a campaign that does not exist cannot take numbers."""
    response = clients[Role.ADMIN].post("/api/dnc", json={"phone": "601234567", "campaign_id": 99})
    assert response.status_code == 404


def test_list_filters_by_list_phone_and_expiry_with_paging(
    clients: Clients, api_db: sa.Engine, gb_campaign: int
) -> None:
    """The list filters by campaign, global only, phone (normalized) and hides expired
    entries unless asked; paging keeps the total."""
    admin = clients[Role.ADMIN]
    admin.post("/api/dnc", json={"phone": "601234501"})
    admin.post("/api/dnc", json={"phone": "601234502"})
    admin.post("/api/dnc", json={"phone": "02079460958", "campaign_id": gb_campaign})
    with api_db.begin() as conn:
        conn.execute(
            sa.update(DncEntry)
            .where(col(DncEntry.phone) == "+48601234502")
            .values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    head = clients[Role.HEAD]

    def phones(**params: Any) -> list[str]:
        response = head.get("/api/dnc", params=params)
        assert response.status_code == 200, response.text
        return [item["phone"] for item in response.json()["items"]]

    assert sorted(phones()) == ["+442079460958", "+48601234501"]
    assert sorted(phones(include_expired=True)) == [
        "+442079460958",
        "+48601234501",
        "+48601234502",
    ]
    assert phones(campaign_id=gb_campaign) == ["+442079460958"]
    assert phones(global_only=True) == ["+48601234501"]
    assert phones(phone="601 234 501") == ["+48601234501"]
    page = head.get("/api/dnc", params={"limit": 1, "include_expired": True}).json()
    assert page["total"] == 3
    assert len(page["items"]) == 1
    _problem(head.get("/api/dnc", params={"phone": "12"}), "query.phone")
    assert head.get("/api/dnc", params={"campaign_id": 777}).status_code == 404


def test_remove_by_phone_and_by_id(clients: Clients, api_db: sa.Engine, gb_campaign: int) -> None:
    """A number comes off a list by phone or by entry id (audited); one not listed is 404."""
    admin = clients[Role.ADMIN]
    admin.post("/api/dnc", json={"phone": "601234501"})
    entry = admin.post("/api/dnc", json={"phone": "02079460958", "campaign_id": gb_campaign}).json()
    removed = admin.delete("/api/dnc", params={"phone": "601-234-501"})
    assert removed.json() == {"phone": "+48601234501", "campaign_id": None}
    again = admin.delete("/api/dnc", params={"phone": "601234501"})
    assert again.status_code == 404
    assert again.json()["error"] == "dnc_not_found"
    assert admin.delete(f"/api/dnc/{entry['id']}").json()["campaign_id"] == gb_campaign
    assert admin.delete(f"/api/dnc/{entry['id']}").status_code == 404
    _problem(admin.delete("/api/dnc", params={"phone": "xx"}), "query.phone")
    with Session(api_db) as session:
        assert session.exec(select(DncEntry)).all() == []
    assert [a for a, _, _ in _audit(api_db)][-2:] == ["dnc_remove", "dnc_remove"]


def test_import_reports_added_listed_and_rejected_rows(
    clients: Clients, api_db: sa.Engine, gb_campaign: int
) -> None:
    """A DNC file adds its numbers, counts those already listed and reports bad rows with
    their lines; the audit row names the file."""
    admin = clients[Role.ADMIN]
    admin.post("/api/dnc", json={"phone": "601234501"})
    content = b"numer;uwagi\n601234501;stary\n601234502;nowy\nzly;x\n601234502;dup\n"
    response = admin.post(
        "/api/dnc/import",
        files={"file": ("zakazane.csv", content, "text/csv")},
        data={"reason": "RODO", "expires_at": _future()},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows_read"], report["added"], report["already_listed"]) == (4, 1, 1)
    assert [(r["line"], r["reason"]) for r in report["rejects"]] == [
        (4, "invalid_number"),
        (5, "duplicate_in_file"),
    ]
    assert report["source"] == "zakazane.csv"
    assert ("dnc_import", "zakazane.csv", "user:admin") in _audit(api_db)
    with Session(api_db) as session:
        added = session.exec(select(DncEntry).where(DncEntry.phone == "+48601234502")).one()
    assert added.reason == "RODO"
    assert added.expires_at is not None
    uk = admin.post(
        "/api/dnc/import",
        files={"file": ("uk.csv", b"phone\n02079460958\n", "text/csv")},
        data={"campaign_id": str(gb_campaign)},
    ).json()
    assert uk["added"] == 1
    assert uk["campaign_id"] == gb_campaign


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({"file": ("x.csv", b"name\nJan\n", "text/csv")}, {}, "file"),
        ({"file": ("x.doc", b"phone\n601234567\n", "text/plain")}, {}, "file"),
        ({"file": ("x.csv", b"phone\n601234567\n", "text/csv")}, {"region": "ZZ"}, "region"),
        (
            {"file": ("x.csv", b"phone\n601234567\n", "text/csv")},
            {"expires_at": "yesterday"},
            "expires_at",
        ),
        (
            {"file": ("x.csv", b"phone\n601234567\n", "text/csv")},
            {"phone_column": "tel"},
            "file",
        ),
    ],
)
def test_import_refuses_bad_files_and_options(
    clients: Clients, files: dict[str, Any], data: dict[str, str], field: str
) -> None:
    """A file without a phone column, a wrong type, region or expiry gets 422 naming it."""
    _problem(clients[Role.ADMIN].post("/api/dnc/import", files=files, data=data), field)


def test_export_lists_the_filtered_entries(clients: Clients) -> None:
    """The DNC export is a CSV of the entries the same filters show."""
    admin = clients[Role.ADMIN]
    admin.post("/api/dnc", json={"phone": "601234501", "reason": "asked"})
    response = clients[Role.HEAD].get("/api/dnc/export", params={"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "phone", "campaign", "reason", "added_by", "expires_at", "created_at"]
    assert rows[1][1:5] == ["+48601234501", "", "asked", "user:admin"]


def test_a_listed_number_is_refused_by_a_later_upload(clients: Clients, gb_campaign: int) -> None:
    """A number put on the global list over HTTP is rejected by the next list upload."""
    admin = clients[Role.ADMIN]
    admin.post("/api/dnc", json={"phone": "+442079460958"})
    report = admin.post(
        f"/api/campaigns/{gb_campaign}/lists",
        files={"file": ("l.csv", b"phone\n02079460958\n02079460959\n", "text/csv")},
    ).json()
    assert report["imported"] == 1
    assert report["rejects"][0]["reason"] == "dnc_global"
