"""Schemathesis against the published OpenAPI spec: generated requests, valid and odd, as
an administrator and as an agent, never get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case

from tests.api.conftest import sign_in

#: Generated requests per operation and role (the whole run stays within seconds per route).
EXAMPLES = 25


@pytest.fixture
def tokens(app: FastAPI) -> dict[str, str]:
    """Authorization headers of an administrator and of an agent."""
    return {login: sign_in(app, login).headers["Authorization"] for login in ("admin", "agent")}


def test_no_request_gets_a_server_error(app: FastAPI, tokens: dict[str, str]) -> None:
    """Whatever the body, path or query, every operation answers 2xx/4xx, never 5xx."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 3

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            for token in tokens.values():
                headers = {"Authorization": token}
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
