"""Every operations endpoint answers each role as its role table says: allowed roles are
let through (with and without an engine in the process), the others get a bare 403."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from campaigns.enums import Role
from dialer.api.app import create_app
from dialer.api.hub import EventHub
from dialer.config import DatabaseSettings, Settings
from tests.api.conftest import LOGINS, World, sign_in
from tests.api.roles import RoleCase, RoleContext, check_case
from tests.api.roles_ops import ROLE_TABLE
from tests.api.test_agent_api import EngineHost, make_campaign

OPS_TAGS = {"agent", "calls", "dashboard", "live", "reports"}


def finite_live(app: FastAPI) -> FastAPI:
    """The app with its live hub closed: a stream sends the present and ends, so a test
    client can read it to the end."""
    app.state.ctx.hub.close()
    return app


@pytest.fixture
def engine_app(api_db: sa.Engine, world: World, tmp_path: Path) -> FastAPI:
    """The API with an engine in the process running one campaign."""
    del world
    campaign, _ = make_campaign(api_db)
    hub = EventHub()
    host = EngineHost(api_db, hub)
    host.load(campaign, "Jesień")
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"))
    return create_app(settings, db=api_db, hub=hub, engine=host)


@pytest.mark.parametrize("case", ROLE_TABLE, ids=lambda case: case.id)
def test_role_case(case: RoleCase, app: FastAPI, api_db: sa.Engine, world: World) -> None:
    """Each role gets what the table promises for this endpoint (403 and nothing more when
    refused), with no engine in the process."""
    ctx = RoleContext(world=world, db=api_db)
    finite_live(app)
    for role in Role:
        check_case(case, role, sign_in(app, LOGINS[role]), ctx)


@pytest.mark.parametrize("case", ROLE_TABLE, ids=lambda case: case.id)
def test_role_case_with_engine(
    case: RoleCase, engine_app: FastAPI, api_db: sa.Engine, world: World
) -> None:
    """The same promise holds with an engine in the process (agent actions reach it)."""
    ctx = RoleContext(world=world, db=api_db)
    finite_live(engine_app)
    for role in Role:
        check_case(case, role, sign_in(engine_app, LOGINS[role]), ctx)


def test_table_covers_every_ops_route(app: FastAPI) -> None:
    """Every operation of the operations routers (by OpenAPI tag) has a case, and every case
    is a real operation."""
    spec = TestClient(app).get("/api/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if set(operation.get("tags", ())) & OPS_TAGS
    }
    table = {(case.method, case.path) for case in ROLE_TABLE}
    assert routes - table == set()
    assert table - routes == set()
    assert len(table) == len(ROLE_TABLE), "a route appears twice in the table"
