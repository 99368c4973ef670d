"""Users, one's own profile, agents and groups over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from campaigns.enums import Role
from campaigns.models import AuditLog, User
from tests.api.conftest import PASSWORD, World, sign_in

Clients = dict[Role, TestClient]


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert field in problems, problems
    return problems[field]


def _audit(db: sa.Engine, action: str) -> list[AuditLog]:
    with Session(db) as session:
        return list(
            session.exec(
                select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
            )
        )


def _user_id(db: sa.Engine, login: str) -> int:
    with Session(db) as session:
        return session.exec(select(User).where(User.login == login)).one().id or 0


# -------------------------------------------------------------------------------- users


def test_create_user_who_can_then_sign_in(
    app: FastAPI, clients: Clients, api_db: sa.Engine, world: World
) -> None:
    """An administrator adds a group leader; the password is stored hashed, the user signs
    in with it, and the creation is audited."""
    response = clients[Role.ADMIN].post(
        "/api/users",
        json={
            "login": "gosia",
            "password": "secret-pass-1",
            "role": "group_leader",
            "name": "Gosia",
            "group_id": world.group_b,
            "language": "pl",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == "group_leader"
    assert "password" not in str(body)
    me = sign_in(app, "gosia", "secret-pass-1").get("/api/me").json()
    assert (me["group_id"], me["language"]) == (world.group_b, "pl")
    [row] = _audit(api_db, "user.create")[-1:]
    assert row.actor == "user:admin"
    assert row.details["login"] == "gosia"
    listed = clients[Role.ADMIN].get("/api/users").json()
    assert "gosia" in [u["login"] for u in listed]
    assert all("password_hash" not in u for u in listed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"login": "x", "password": "long-enough", "role": "agent"}, "agent_id"),
        ({"login": "x", "password": "long-enough", "role": "group_leader"}, "group_id"),
        ({"login": "admin", "password": "long-enough", "role": "head"}, "login"),
        ({"login": "x", "password": "short", "role": "head"}, "password"),
        ({"login": "x", "password": "long-enough", "role": "root"}, "role"),
        ({"login": "x", "password": "long-enough", "role": "head", "language": "de"}, "language"),
        ({"login": "a b", "password": "long-enough", "role": "head"}, "login"),
        ({"login": "x", "password": "long-enough", "role": "agent", "agent_id": 1}, "agent_id"),
        ({"login": "x", "password": "long-enough", "role": "head", "group_id": 999}, "group_id"),
        ({"login": "x", "password": "long-enough", "role": "head", "agent_id": 10**20}, "agent_id"),
        ({"login": "x", "password": "long-enough", "role": "head", "active": False}, "active"),
    ],
)
def test_create_user_refuses_bad_input_naming_the_field(
    clients: Clients, body: dict[str, Any], field: str
) -> None:
    """A bad user is refused with the field named (links that do not fit the role, a taken
    login or agent, a short password)."""
    _problem(clients[Role.ADMIN].post("/api/users", json=body), field)
    assert len(clients[Role.ADMIN].get("/api/users").json()) == 5


def test_edit_user_role_and_links_audited(
    clients: Clients, api_db: sa.Engine, world: World
) -> None:
    """A head becomes a group leader of group B; only the changes are audited."""
    uid = _user_id(api_db, "head")
    response = clients[Role.ADMIN].patch(
        f"/api/users/{uid}", json={"role": "group_leader", "group_id": world.group_b}
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "group_leader"
    [row] = _audit(api_db, "user.edit")
    assert row.details["changed"] == {
        "role": ["head", "group_leader"],
        "group_id": [None, world.group_b],
    }
    assert clients[Role.HEAD].get("/api/me").json()["role"] == "group_leader"
    _problem(clients[Role.ADMIN].patch(f"/api/users/{uid}", json={"group_id": None}), "group_id")


def test_new_password_or_deactivation_signs_the_user_out(
    app: FastAPI, clients: Clients, api_db: sa.Engine
) -> None:
    """After an administrator sets a new password the user's sessions end and the new
    password works; a deactivated user is signed out and cannot sign in."""
    uid = _user_id(api_db, "leader")
    admin = clients[Role.ADMIN]
    assert admin.patch(f"/api/users/{uid}", json={"password": "brand-new-pass"}).status_code == 200
    assert clients[Role.GROUP_LEADER].get("/api/me").status_code == 401
    fresh = sign_in(app, "leader", "brand-new-pass")
    [row] = _audit(api_db, "user.edit")
    assert row.details["changed"] == {"password": "changed"}
    assert "brand-new-pass" not in str(row.details)
    admin.patch(f"/api/users/{uid}", json={"active": False})
    assert fresh.get("/api/me").status_code == 401
    login = TestClient(app).post(
        "/api/auth/login", json={"login": "leader", "password": "brand-new-pass"}
    )
    assert login.status_code == 401


def test_the_last_active_admin_stays_one(clients: Clients, api_db: sa.Engine) -> None:
    """The only active administrator can neither be demoted nor deactivated; with a second
    one it can."""
    admin = clients[Role.ADMIN]
    uid = _user_id(api_db, "admin")
    _problem(admin.patch(f"/api/users/{uid}", json={"role": "head"}), "role")
    _problem(admin.patch(f"/api/users/{uid}", json={"active": False}), "active")
    admin.post("/api/users", json={"login": "admin2", "password": "long-enough", "role": "admin"})
    assert admin.patch(f"/api/users/{uid}", json={"role": "head"}).status_code == 200


def test_edit_user_odd_input(clients: Clients, api_db: sa.Engine) -> None:
    """Unknown users are 404; null where a value is needed, unknown fields and login
    changes are 422."""
    admin = clients[Role.ADMIN]
    uid = _user_id(api_db, "head")
    assert admin.patch("/api/users/9999", json={"name": "x"}).status_code == 404
    _problem(admin.patch(f"/api/users/{uid}", json={"role": None}), "role")
    _problem(admin.patch(f"/api/users/{uid}", json={"login": "boss"}), "login")
    _problem(admin.patch(f"/api/users/{uid}", json={"language": ""}), "language")


# ----------------------------------------------------------------------------------- me


def test_own_profile_name_language_and_password(
    app: FastAPI, clients: Clients, api_db: sa.Engine
) -> None:
    """An agent changes its name and language; a new password needs the current one, keeps
    this session and ends the others."""
    agent = clients[Role.AGENT]
    other = sign_in(app, "agent")
    body = agent.patch("/api/me", json={"name": "Anna N.", "language": "pl"}).json()
    assert (body["name"], body["language"]) == ("Anna N.", "pl")
    _problem(
        agent.patch("/api/me", json={"password": "another-pass", "current_password": "wrong"}),
        "current_password",
    )
    _problem(agent.patch("/api/me", json={"password": "another-pass"}), "current_password")
    ok = agent.patch("/api/me", json={"password": "another-pass", "current_password": PASSWORD})
    assert ok.status_code == 200, ok.text
    assert agent.get("/api/me").status_code == 200
    assert other.get("/api/me").status_code == 401
    sign_in(app, "agent", "another-pass")
    actions = [(r.actor, sorted(r.details["changed"])) for r in _audit(api_db, "user.edit_self")]
    assert actions == [
        ("user:agent", ["language", "name"]),
        ("user:agent", ["password"]),
    ]


@pytest.mark.parametrize(
    "body", [{"role": "admin"}, {"agent_id": 2}, {"active": False}, {"group_id": 1}]
)
def test_nobody_raises_their_own_rights_through_me(
    clients: Clients, api_db: sa.Engine, body: dict[str, Any]
) -> None:
    """Role, links and the active flag are not fields of one's own profile."""
    assert clients[Role.AGENT].patch("/api/me", json=body).status_code == 422
    with Session(api_db) as session:
        user = session.exec(select(User).where(User.login == "agent")).one()
    assert (user.role, user.active, user.group_id) == (Role.AGENT, True, None)


# ------------------------------------------------------------------------------- agents


def test_group_leader_sees_only_its_groups_agents(clients: Clients, world: World) -> None:
    """A group leader lists its group's agents; another group and a missing one get the
    same 403."""
    leader = clients[Role.GROUP_LEADER]
    assert [a["login"] for a in leader.get("/api/agents").json()] == ["anna"]
    assert [a["login"] for a in clients[Role.HEAD].get("/api/agents").json()] == ["anna", "bartek"]
    other = leader.get("/api/agents", params={"group_id": world.group_b})
    missing = leader.get("/api/agents", params={"group_id": 999})
    assert other.status_code == missing.status_code == 403
    assert other.json() == missing.json()
    own = leader.get("/api/agents", params={"group_id": world.group_a}).json()
    assert [a["login"] for a in own] == ["anna"]


def test_create_and_edit_agents_audited(clients: Clients, api_db: sa.Engine, world: World) -> None:
    """Agents are added and changed (moved, re-seated, deactivated) with audit rows."""
    admin = clients[Role.ADMIN]
    made = admin.post(
        "/api/agents",
        json={
            "login": "celina",
            "name": "Celina",
            "extension": "agent3",
            "group_id": world.group_a,
        },
    )
    assert made.status_code == 201, made.text
    aid = made.json()["id"]
    edited = admin.patch(
        f"/api/agents/{aid}", json={"group_id": world.group_b, "extension": None, "active": False}
    ).json()
    assert (edited["group_id"], edited["extension"], edited["active"]) == (
        world.group_b,
        None,
        False,
    )
    [created] = _audit(api_db, "agent.create")
    [changed] = _audit(api_db, "agent.edit")
    assert created.details["login"] == "celina"
    assert changed.details["changed"] == {
        "extension": ["agent3", None],
        "group_id": [world.group_a, world.group_b],
        "active": [True, False],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"login": "anna"}, "login"),
        ({"login": "x", "extension": "agent1"}, "extension"),
        ({"login": "x", "group_id": 999}, "group_id"),
        ({"login": ""}, "login"),
        ({"login": "x y"}, "login"),
        ({"login": "x", "extension": "a b"}, "extension"),
        ({"login": "x", "seat": "1"}, "seat"),
    ],
)
def test_bad_agent_is_refused_naming_the_field(
    clients: Clients, body: dict[str, Any], field: str
) -> None:
    """A taken login or seat, a missing group or a malformed value is 422 naming it."""
    _problem(clients[Role.ADMIN].post("/api/agents", json=body), field)


def test_edit_agent_checks_and_404(clients: Clients, world: World) -> None:
    """An agent cannot take another's login; an unknown agent is 404."""
    admin = clients[Role.ADMIN]
    _problem(admin.patch(f"/api/agents/{world.agent_b}", json={"login": "anna"}), "login")
    _problem(admin.patch(f"/api/agents/{world.agent_b}", json={"login": None}), "login")
    assert admin.patch("/api/agents/999", json={"name": "x"}).status_code == 404


# ------------------------------------------------------------------------------- groups


def test_groups_by_role_create_and_rename(
    clients: Clients, api_db: sa.Engine, world: World
) -> None:
    """A group leader sees its own group only; an administrator adds and renames groups
    (audited); names are unique in any case."""
    assert clients[Role.GROUP_LEADER].get("/api/groups").json() == [
        {"id": world.group_a, "name": "Team A", "agents": 1}
    ]
    assert len(clients[Role.HEAD].get("/api/groups").json()) == 2
    admin = clients[Role.ADMIN]
    made = admin.post("/api/groups", json={"name": "Team C"}).json()
    assert made["agents"] == 0
    _problem(admin.post("/api/groups", json={"name": "team c"}), "name")
    _problem(admin.post("/api/groups", json={"name": "  "}), "name")
    renamed = admin.patch(f"/api/groups/{world.group_b}", json={"name": "Team Bee"}).json()
    assert renamed == {"id": world.group_b, "name": "Team Bee", "agents": 1}
    _problem(admin.patch(f"/api/groups/{world.group_b}", json={"name": "Team A"}), "name")
    assert admin.patch("/api/groups/999", json={"name": "x"}).status_code == 404
    assert [r.details for r in _audit(api_db, "group.edit")] == [
        {"changed": {"name": ["Team B", "Team Bee"]}}
    ]
    assert _audit(api_db, "group.create")[0].actor == "user:admin"


def test_group_names_with_polish_capitals_are_unique_in_any_case(clients: Clients) -> None:
    """ "Zespół Łódź" and "ZESPÓŁ ŁÓDŹ" are the same group name."""
    admin = clients[Role.ADMIN]
    assert admin.post("/api/groups", json={"name": "Zespół Łódź"}).status_code == 201
    _problem(admin.post("/api/groups", json={"name": "ZESPÓŁ ŁÓDŹ"}), "name")
