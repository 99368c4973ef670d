"""Every route of the published API is in some role table (so every endpoint is checked for
every role), and no route is in two tables."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.roles_admin import ROLE_TABLE as ADMIN_TABLE
from tests.api.roles_inbound import ROLE_TABLE as INBOUND_TABLE
from tests.api.roles_ops import ROLE_TABLE as OPS_TABLE
from tests.api.roles_requests import ROLE_TABLE as REQUESTS_TABLE

#: Routes that need no role: FastAPI's own documentation pages.
PUBLIC = {("GET", "/api/openapi.json"), ("GET", "/api/docs"), ("GET", "/api/docs/oauth2-redirect")}


def test_every_api_route_is_in_exactly_one_role_table(app: FastAPI) -> None:
    """A new endpoint without a role case fails here, naming the endpoint."""
    spec = TestClient(app).get("/api/openapi.json").json()
    served = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert len(served) > 40
    cases = [
        (case.method, case.path)
        for case in [*ADMIN_TABLE, *OPS_TABLE, *INBOUND_TABLE, *REQUESTS_TABLE]
    ]
    assert len(cases) == len(set(cases)), "a route is in two role tables"
    missing = sorted(served - set(cases) - PUBLIC)
    assert missing == [], f"routes with no role case: {missing}"
    stale = sorted(set(cases) - served)
    assert stale == [], f"role cases for routes the app does not serve: {stale}"
