"""The status dictionary and each campaign's statuses over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from campaigns.enums import CampaignState, Role
from campaigns.models import AuditLog, Campaign
from campaigns.service import create_campaign, validate_rules

Clients = dict[Role, TestClient]


def _campaign(db: sa.Engine, state: CampaignState = CampaignState.RUNNING) -> int:
    with Session(db) as session:
        row = create_campaign(session, validate_rules(name=f"C {state.value}"), actor="t")
        row.state = state
        session.add(row)
        session.commit()
        return row.id or 0


def _status(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("system_status", "TO_CALL")
    response = client.post("/api/statuses", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert field in problems, problems
    return problems[field]


def _actions(db: sa.Engine) -> list[tuple[str, str]]:
    with Session(db) as session:
        rows = session.exec(select(AuditLog).order_by(col(AuditLog.id)))
        return [(r.action, r.actor) for r in rows if r.actor.startswith("user:")]


# ------------------------------------------------------------------------- dictionary


def test_dictionary_lists_the_defaults_for_leaders(clients: Clients) -> None:
    """Leaders see the dictionary with its two default statuses."""
    rows = clients[Role.GROUP_LEADER].get("/api/statuses").json()
    assert [(r["name"], r["system_status"]) for r in rows] == [
        ("Dzwonić", "TO_CALL"),
        ("Nie dzwonić", "DO_NOT_CALL"),
    ]


def test_create_edit_deactivate_a_status_audited(clients: Clients, api_db: sa.Engine) -> None:
    """A dictionary status is created, edited and deactivated, each step audited."""
    admin = clients[Role.ADMIN]
    made = _status(admin, name="Oddzwonić", system_status="NOT_BEFORE", auto_outcome="busy")
    assert made["auto_outcome"] == "busy"
    assert made["campaign_id"] is None
    edited = admin.patch(
        f"/api/statuses/{made['id']}", json={"name": "Oddzwoń", "auto_outcome": None}
    ).json()
    assert edited["name"] == "Oddzwoń"
    assert edited["auto_outcome"] is None
    assert edited["system_status"] == "NOT_BEFORE"
    gone = admin.delete(f"/api/statuses/{made['id']}").json()
    assert gone["active"] is False
    assert _actions(api_db) == [
        ("status.create", "user:admin"),
        ("status.edit", "user:admin"),
        ("status.edit", "user:admin"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "system_status": "MAYBE"}, "system_status"),
        ({"name": "x", "system_status": "TO_CALL", "auto_outcome": "answered"}, "auto_outcome"),
        ({"name": "x", "system_status": "MY_RECORD", "auto_outcome": "busy"}, "auto_outcome"),
        ({"name": "   ", "system_status": "TO_CALL"}, "name"),
        ({"name": "dzwonić", "system_status": "TO_CALL"}, "name"),
        ({"name": "x" * 121, "system_status": "TO_CALL"}, "name"),
        ({"name": "x", "system_status": "TO_CALL", "hidden": "sometimes"}, "hidden"),
        ({"system_status": "TO_CALL"}, "name"),
    ],
)
def test_bad_status_is_refused_naming_the_field(
    clients: Clients, body: dict[str, Any], field: str
) -> None:
    """A bad status gets 422 naming the field (a taken name, an outcome no status may have)."""
    _problem(clients[Role.ADMIN].post("/api/statuses", json=body), field)
    assert len(clients[Role.ADMIN].get("/api/statuses").json()) == 2


def test_one_outcome_one_active_status(clients: Clients) -> None:
    """Two active dictionary statuses cannot both be given automatically on busy."""
    _status(clients[Role.ADMIN], name="Zajęte", auto_outcome="busy")
    problem = _problem(
        clients[Role.ADMIN].post(
            "/api/statuses",
            json={"name": "Busy", "system_status": "TO_CALL", "auto_outcome": "busy"},
        ),
        "auto_outcome",
    )
    assert "Zajęte" in problem


def test_patch_refuses_null_for_required_fields_and_unknown_ids(clients: Clients) -> None:
    """Null is only a value for auto_outcome; an unknown status is 404."""
    admin = clients[Role.ADMIN]
    _problem(admin.patch("/api/statuses/1", json={"name": None}), "name")
    _problem(admin.patch("/api/statuses/1", json={"active": None}), "active")
    assert admin.patch("/api/statuses/999", json={"hidden": True}).status_code == 404
    assert admin.delete("/api/statuses/999").status_code == 404


# -------------------------------------------------------------------------- campaigns


def test_agent_gets_active_visible_statuses_of_a_running_campaign(
    clients: Clients, api_db: sa.Engine
) -> None:
    """The agent's form lists the campaign's active, visible statuses (id, name, system
    status) and nothing of the admin settings."""
    cid = _campaign(api_db)
    admin = clients[Role.ADMIN]
    hidden = _status(admin, name="Ukryty", hidden=True)
    off = _status(admin, name="Wyłączony")
    admin.put(
        f"/api/campaigns/{cid}/statuses", json={"status_ids": [1, 2, hidden["id"], off["id"]]}
    )
    admin.delete(f"/api/statuses/{off['id']}")
    seen = clients[Role.AGENT].get(f"/api/campaigns/{cid}/statuses").json()
    assert seen == [
        {"id": 1, "name": "Dzwonić", "system_status": "TO_CALL"},
        {"id": 2, "name": "Nie dzwonić", "system_status": "DO_NOT_CALL"},
    ]
    full = clients[Role.HEAD].get(f"/api/campaigns/{cid}/statuses").json()
    assert [s["name"] for s in full] == ["Dzwonić", "Nie dzwonić", "Ukryty", "Wyłączony"]


def test_agent_asking_for_a_draft_or_missing_campaign_gets_the_same_403(
    clients: Clients, api_db: sa.Engine
) -> None:
    """For an agent a campaign it may not work and one that does not exist look the same."""
    draft = _campaign(api_db, CampaignState.DRAFT)
    agent = clients[Role.AGENT]
    refused = agent.get(f"/api/campaigns/{draft}/statuses")
    missing = agent.get("/api/campaigns/9999/statuses")
    assert refused.status_code == missing.status_code == 403
    assert refused.json() == missing.json()
    assert clients[Role.HEAD].get("/api/campaigns/9999/statuses").status_code == 404


def test_put_orders_attaches_and_detaches_keeping_campaign_only_ones(
    clients: Clients, api_db: sa.Engine
) -> None:
    """The list given becomes the campaign's offer in that order; dictionary statuses left
    out are detached, campaign-only ones stay at the end; each change is audited."""
    cid = _campaign(api_db)
    admin = clients[Role.ADMIN]
    extra = _status(admin, name="Mój", system_status="MY_RECORD")
    own = admin.post(
        f"/api/campaigns/{cid}/statuses", json={"name": "Tylko tu", "system_status": "NOT_BEFORE"}
    ).json()
    assert own["campaign_id"] == cid
    response = admin.put(f"/api/campaigns/{cid}/statuses", json={"status_ids": [extra["id"], 2]})
    assert response.status_code == 200, response.text
    assert [s["name"] for s in response.json()] == ["Mój", "Nie dzwonić", "Tylko tu"]
    actions = [a for a, _ in _actions(api_db)]
    assert actions[-3:] == [
        "campaign.status_detach",
        "campaign.status_attach",
        "campaign.status_order",
    ]
    assert "Tylko tu" not in [s["name"] for s in admin.get("/api/statuses").json()]


@pytest.mark.parametrize(
    ("ids", "field"),
    [([1, 1], "status_ids.1"), ([1, 777], "status_ids.1"), ([0], "status_ids.0")],
)
def test_put_refuses_duplicates_and_unknown_ids(
    clients: Clients, api_db: sa.Engine, ids: list[int], field: str
) -> None:
    """A status listed twice or unknown is refused at its position; nothing changes."""
    cid = _campaign(api_db)
    _problem(
        clients[Role.ADMIN].put(f"/api/campaigns/{cid}/statuses", json={"status_ids": ids}), field
    )
    offered = clients[Role.ADMIN].get(f"/api/campaigns/{cid}/statuses").json()
    assert [s["id"] for s in offered] == [1, 2]


def test_put_refuses_inactive_other_campaigns_and_conflicting_statuses(
    clients: Clients, api_db: sa.Engine
) -> None:
    """An inactive status, another campaign's status, or a second status for the same
    automatic outcome cannot be offered."""
    cid = _campaign(api_db)
    other = _campaign(api_db, CampaignState.PAUSED)
    admin = clients[Role.ADMIN]
    off = _status(admin, name="Off", active=False)
    foreign = admin.post(
        f"/api/campaigns/{other}/statuses", json={"name": "Theirs", "system_status": "TO_CALL"}
    ).json()
    busy = _status(admin, name="Busy", auto_outcome="busy")
    url = f"/api/campaigns/{cid}/statuses"
    assert "inactive" in _problem(admin.put(url, json={"status_ids": [off["id"]]}), "status_ids.0")
    _problem(admin.put(url, json={"status_ids": [1, foreign["id"]]}), "status_ids.1")
    own = admin.post(
        url, json={"name": "Own busy", "system_status": "TO_CALL", "auto_outcome": "busy"}
    )
    assert own.status_code == 201, own.text
    problem = _problem(admin.put(url, json={"status_ids": [busy["id"]]}), "status_ids.0")
    assert "Own busy" in problem


def test_put_keeps_the_wrapup_default(clients: Clients, api_db: sa.Engine) -> None:
    """The campaign's wrap-up default status cannot be taken off its offer."""
    cid = _campaign(api_db)
    with api_db.begin() as conn:
        conn.execute(
            sa.update(Campaign).where(Campaign.id == cid).values(wrapup_default_status_id=2)
        )
    problem = _problem(
        clients[Role.ADMIN].put(f"/api/campaigns/{cid}/statuses", json={"status_ids": [1]}),
        "status_ids",
    )
    assert "wrap-up" in problem


def test_campaign_only_status_validation(clients: Clients, api_db: sa.Engine) -> None:
    """A campaign-only status may not shadow a dictionary name; a missing campaign is 404."""
    cid = _campaign(api_db)
    admin = clients[Role.ADMIN]
    _problem(
        admin.post(
            f"/api/campaigns/{cid}/statuses", json={"name": "Dzwonić", "system_status": "TO_CALL"}
        ),
        "name",
    )
    _problem(
        admin.post(
            f"/api/campaigns/{cid}/statuses",
            json={"name": "x", "system_status": "TO_CALL", "add_to_new_campaigns": True},
        ),
        "add_to_new_campaigns",
    )
    missing = admin.post(
        "/api/campaigns/4040/statuses", json={"name": "x", "system_status": "TO_CALL"}
    )
    assert missing.status_code == 404


def test_non_ascii_status_names_taken_twice_are_422(clients: Clients, api_db: sa.Engine) -> None:
    """A dictionary or campaign-only status name with Polish capitals taken twice is refused
    as 422 naming the name, not a server error."""
    admin = clients[Role.ADMIN]
    _status(admin, name="Źle wybrany")
    _problem(
        admin.post("/api/statuses", json={"name": "Źle wybrany", "system_status": "TO_CALL"}),
        "name",
    )
    cid = _campaign(api_db)
    url = f"/api/campaigns/{cid}/statuses"
    assert admin.post(url, json={"name": "Ósemka", "system_status": "TO_CALL"}).status_code == 201
    _problem(admin.post(url, json={"name": "Ósemka", "system_status": "TO_CALL"}), "name")
    _problem(admin.patch("/api/statuses/1", json={"name": "NIE DZWONIĆ"}), "name")
