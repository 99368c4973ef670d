"""Every worklist endpoint answers each role as its role table says: allowed roles are let
through, the others get a bare 403."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from campaigns.enums import Role
from tests.api.conftest import LOGINS, World, sign_in
from tests.api.roles import RoleCase, RoleContext, check_case
from tests.api.roles_inbound import ROLE_TABLE


@pytest.mark.parametrize("case", ROLE_TABLE, ids=lambda case: case.id)
def test_role_case(case: RoleCase, app: FastAPI, api_db: sa.Engine, world: World) -> None:
    """Each role gets what the table promises for this endpoint (403 and nothing more when
    refused)."""
    ctx = RoleContext(world=world, db=api_db)
    for role in Role:
        check_case(case, role, sign_in(app, LOGINS[role]), ctx)
