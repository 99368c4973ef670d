"""The API on PostgreSQL: the same answers as on SQLite where the databases differ (id
ranges, case-insensitive names, uploads, the call-log query and its export)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from campaigns.enums import Role
from campaigns.statuses import ensure_defaults
from tests.campaigns.conftest_b import engine_in_private_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def api_db(pg_url: str) -> Iterator[sa.Engine]:
    """The API fixtures' database, on a private PostgreSQL schema (overrides SQLite)."""
    with engine_in_private_schema(pg_url) as engine:
        with Session(engine) as session:
            ensure_defaults(session)
            session.commit()
        yield engine


def test_ids_beyond_the_integer_columns_are_refused_not_a_server_error(
    clients: dict[Role, TestClient],
) -> None:
    """PostgreSQL ids are 32-bit: a larger one is a 422 naming it, the largest a 404."""
    admin = clients[Role.ADMIN]
    assert admin.get("/api/campaigns/2147483647").status_code == 404
    for path in ("/api/campaigns/2147483648", "/api/campaigns/9223372036854775807/records"):
        answer = admin.get(path)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["problems"][0]["field"].endswith("_id")
    assert admin.get("/api/calls", params={"agent": 2**40}).status_code == 422


def test_campaign_list_upload_and_call_log_on_postgres(clients: dict[Role, TestClient]) -> None:
    """A supervisor's path on PostgreSQL: create (names unique in any case), upload a list
    with a NUL byte and a bad row, read its records, the call log and its export."""
    admin = clients[Role.ADMIN]
    created = admin.post("/api/campaigns", json={"name": "Łódź Jesień"})
    assert created.status_code in {200, 201}, created.text
    campaign = created.json()["id"]
    again = admin.post("/api/campaigns", json={"name": "ŁÓDŹ JESIEŃ"})
    assert again.status_code == 422
    csv = b"phone,name\n601000001,An\x00na\nnot-a-number,X\n601000002,Ola\n"
    upload = admin.post(
        f"/api/campaigns/{campaign}/lists", files={"file": ("lista.csv", csv, "text/csv")}
    )
    assert upload.status_code in {200, 201}, upload.text
    report = upload.json()
    assert (report["imported"], report["rejected"]) == (2, 1)
    records = admin.get(f"/api/campaigns/{campaign}/records").json()
    assert sorted(r["name"] for r in records["items"]) == ["Anna", "Ola"]
    calls = admin.get("/api/calls", params={"campaign": campaign, "phone": "601"})
    assert calls.status_code == 200
    assert calls.json()["items"] == []
    export = admin.get("/api/calls/export", params={"format": "xlsx", "campaign": campaign})
    assert export.status_code == 200
    assert export.content[:2] == b"PK"
