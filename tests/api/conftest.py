"""API fixtures: an upgraded SQLite database with two groups, two agents and one user of
every role, and HTTP clients signed in as each of them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from campaigns.db import make_engine
from campaigns.enums import Role
from campaigns.migrate import initialize
from campaigns.models import Agent, AgentGroup
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, Settings
from dialer.services import accounts as security
from dialer.services.accounts import create_user

PASSWORD = "correct-horse-9"


@dataclass(frozen=True)
class World:
    """Ids of what the fixture database holds."""

    group_a: int
    group_b: int
    agent_a: int
    """Agent in group A (user ``agent``)."""
    agent_b: int
    """Agent in group B (user ``agent_b``)."""


#: Login of the user of each role (the group leader leads group A).
LOGINS = {
    Role.ADMIN: "admin",
    Role.HEAD: "head",
    Role.GROUP_LEADER: "leader",
    Role.AGENT: "agent",
}


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    """argon2 with minimal cost: the tests check behaviour, not hashing strength."""
    security.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    security.use_hasher(PasswordHasher())


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database upgraded to head with the default statuses, copied by each test."""
    path = tmp_path_factory.mktemp("api-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    initialize(engine)
    engine.dispose()
    return path


@pytest.fixture
def api_db(tmp_path: Path, _migrated_template: Path) -> Iterator[sa.Engine]:
    """An upgraded SQLite database with the default statuses (a copy of the template)."""
    shutil.copyfile(_migrated_template, tmp_path / "api.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def world(api_db: sa.Engine) -> World:
    """Groups A and B, one agent in each, and a user for every role."""
    with Session(api_db) as session:
        group_a, group_b = AgentGroup(name="Team A"), AgentGroup(name="Team B")
        session.add_all([group_a, group_b])
        session.flush()
        agent_a = Agent(login="anna", name="Anna Nowak", extension="agent1", group_id=group_a.id)
        agent_b = Agent(login="bartek", name="Bartek Zieliński", extension="agent2")
        agent_b.group_id = group_b.id
        session.add_all([agent_a, agent_b])
        session.flush()
        assert group_a.id
        assert group_b.id
        assert agent_a.id
        assert agent_b.id
        for role, login in LOGINS.items():
            create_user(
                session,
                login=login,
                password=PASSWORD,
                role=role,
                actor="test",
                name=login.title(),
                group_id=group_a.id if role is Role.GROUP_LEADER else None,
                agent_id=agent_a.id if role is Role.AGENT else None,
            )
        create_user(
            session,
            login="agent_b",
            password=PASSWORD,
            role=Role.AGENT,
            actor="test",
            agent_id=agent_b.id,
        )
        session.commit()
        return World(group_a.id, group_b.id, agent_a.id, agent_b.id)


@pytest.fixture
def app(api_db: sa.Engine, world: World, tmp_path: Path) -> FastAPI:
    """The API on the fixture database (no engine in the process)."""
    del world
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"))
    return create_app(settings, db=api_db)


def sign_in(app: FastAPI, login: str, password: str = PASSWORD) -> TestClient:
    """A client signed in as ``login`` with a Bearer token."""
    client = TestClient(app)
    response = client.post("/api/auth/login", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"
    client.cookies.clear()
    return client


@pytest.fixture
def clients(app: FastAPI) -> dict[Role, TestClient]:
    """A signed-in client for each role."""
    return {role: sign_in(app, login) for role, login in LOGINS.items()}
