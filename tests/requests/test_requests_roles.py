"""Every callback-request endpoint answers each role as its role table says (sources'
endpoints answer to their key whatever the role; the rest by role, a bare 403 when
refused)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from campaigns.enums import Role
from tests.api.conftest import LOGINS, World, sign_in
from tests.api.roles import RoleCase, RoleContext, check_case
from tests.api.roles_requests import ROLE_TABLE


def test_every_case_for_every_role(app: FastAPI, api_db: sa.Engine, world: World) -> None:
    """Each role gets what the table promises, for every endpoint (one database)."""
    ctx = RoleContext(world=world, db=api_db)
    clients = {role: sign_in(app, LOGINS[role]) for role in Role}
    for case in ROLE_TABLE:
        for role, client in clients.items():
            check_case(case, role, client, ctx)


@pytest.mark.parametrize("case", ROLE_TABLE[:1], ids=lambda case: case.id)
def test_a_source_endpoint_without_a_key_is_401_for_every_role(
    case: RoleCase, app: FastAPI, api_db: sa.Engine, world: World
) -> None:
    """A signed-in user is no source: without the key the answer is 401 bad_api_key."""
    ctx = RoleContext(world=world, db=api_db)
    request = case.build(ctx)
    for role in Role:
        client: TestClient = sign_in(app, LOGINS[role])
        response = client.post(request.url, json=request.json)
        assert (response.status_code, response.json()["error"]) == (401, "bad_api_key")
