"""Every administration endpoint answers each role as its role table says: allowed roles are
let through, the others get a bare 403."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from campaigns.enums import Role
from tests.api.conftest import LOGINS, World, sign_in
from tests.api.roles import RoleCase, RoleContext, check_case
from tests.api.roles_admin import ROLE_TABLE

ADMIN_TAGS = {
    "auth",
    "campaigns",
    "statuses",
    "lists",
    "records",
    "dnc",
    "people",
    "audit",
    "settings",
}


@pytest.mark.parametrize("case", ROLE_TABLE, ids=lambda case: case.id)
def test_role_case(case: RoleCase, app: FastAPI, api_db: sa.Engine, world: World) -> None:
    """Each role gets what the table promises for this endpoint (403 and nothing more when
    refused)."""
    ctx = RoleContext(world=world, db=api_db)
    for role in Role:
        check_case(case, role, sign_in(app, LOGINS[role]), ctx)


def test_table_covers_every_admin_route(app: FastAPI) -> None:
    """Every operation of the administration and auth routers (by OpenAPI tag) has a case,
    and every case is a real operation."""
    spec = TestClient(app).get("/api/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if set(operation.get("tags", ())) & ADMIN_TAGS
    }
    table = {(case.method, case.path) for case in ROLE_TABLE}
    assert routes - table == set()
    assert table - routes == set()
    assert len(table) == len(ROLE_TABLE), "a route appears twice in the table"
