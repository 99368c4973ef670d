"""The audit log query: filters, period and paging."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from campaigns.enums import Role
from campaigns.models import AuditLog

Clients = dict[Role, TestClient]
#: Ahead of the rows the fixtures write now, so a period from T0 holds only these.
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)


@pytest.fixture
def rows(api_db: sa.Engine) -> None:
    """Five audit rows an hour apart by two actors on two entities (after the fixture's)."""
    with Session(api_db) as session:
        for i, (actor, action, entity) in enumerate(
            [
                ("user:admin", "campaign.create", "campaign"),
                ("user:head", "campaign.start", "campaign"),
                ("user:admin", "status.create", "status_def"),
                ("user:head", "campaign.pause", "campaign"),
                ("user:admin", "campaign.edit", "campaign"),
            ]
        ):
            session.add(
                AuditLog(
                    at=T0 + dt.timedelta(hours=i),
                    actor=actor,
                    action=action,
                    entity=entity,
                    entity_id="7" if entity == "campaign" else "3",
                    details={"i": i},
                )
            )
        session.commit()


def _items(client: TestClient, **params: Any) -> list[int]:
    params.setdefault("since", T0.isoformat())
    response = client.get("/api/audit", params=params)
    assert response.status_code == 200, response.text
    return [item["details"].get("i", -1) for item in response.json()["items"]]


@pytest.mark.usefixtures("rows")
def test_filters_by_actor_entity_action_and_period(clients: Clients) -> None:
    """Rows come newest first and filter by actor, entity, entity id, action and period."""
    admin = clients[Role.ADMIN]
    since = T0.isoformat()
    assert _items(admin, since=since) == [4, 3, 2, 1, 0]
    assert _items(admin, actor="user:head") == [3, 1]
    assert _items(admin, entity="status_def") == [2]
    assert _items(admin, entity="campaign", entity_id="7", action="campaign.edit") == [4]
    window = {
        "since": (T0 + dt.timedelta(hours=1)).isoformat(),
        "until": (T0 + dt.timedelta(hours=3)).isoformat(),
    }
    assert _items(admin, **window) == [2, 1]


@pytest.mark.usefixtures("rows")
def test_paging_keeps_the_total(clients: Clients) -> None:
    """A page holds limit rows from offset; total counts every match."""
    page = (
        clients[Role.ADMIN]
        .get("/api/audit", params={"since": T0.isoformat(), "limit": 2, "offset": 1})
        .json()
    )
    assert page["total"] == 5
    assert [item["details"]["i"] for item in page["items"]] == [3, 2]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"since": "2026-03-01T00:00:00"},
        {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
        {"limit": 5000},
        {"offset": -3},
    ],
)
def test_odd_queries_are_422(clients: Clients, params: dict[str, Any]) -> None:
    """Unreadable or naive times, a period that ends before it starts and paging out of range
    are refused as bad input."""
    assert clients[Role.ADMIN].get("/api/audit", params=params).status_code == 422


def test_changes_made_over_http_appear_in_the_log(clients: Clients) -> None:
    """A change made through the API is found in the log under its actor."""
    clients[Role.ADMIN].post("/api/groups", json={"name": "Night shift"})
    page = clients[Role.ADMIN].get("/api/audit", params={"action": "group.create"}).json()
    [item] = page["items"]
    assert item["actor"] == "user:admin"
    assert item["details"] == {"name": "Night shift"}
