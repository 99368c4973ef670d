"""Schemathesis against the published OpenAPI spec: generated requests, valid and odd, as an
administrator, a group leader and an agent, on an app with an engine in the process, never
get a 5xx.

Before each generated request the fixture users are put back as they were (a request may
have deactivated one or changed a password) and signed in again, so every request reaches
its handler; the test also checks that each operation was really exercised (not all 401).
``GET /api/live`` is an endless event stream and is tested in ``test_live_api.py``.
"""

from __future__ import annotations

from collections import Counter

import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case

from campaigns.models import User
from dialer.api.throttle import SignInThrottle
from tests.api.conftest import PASSWORD
from tests.api.test_agent_api import Ops
from tests.api.test_agent_api import ops as ops  # noqa: PLC0414  (the fixture, re-exported)

#: Generated requests per operation (each sent as three roles).
EXAMPLES = 20
SKIPPED = frozenset({"GET /api/live"})
LOGINS = ("admin", "leader", "agent")


def _restore_users(db: sa.Engine, saved: list[sa.Row[tuple[object, ...]]]) -> None:
    with db.begin() as conn:
        for row in saved:
            values = dict(row._mapping)
            conn.execute(sa.update(User).where(User.id == values.pop("id")).values(**values))


def _sign_in(ops: Ops) -> dict[str, str]:
    from fastapi.testclient import TestClient

    client = TestClient(ops.app)
    headers = {}
    for login in LOGINS:
        answer = client.post("/api/auth/login", json={"login": login, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        headers[login] = f"Bearer {answer.json()['token']}"
    return headers


def test_no_request_gets_a_server_error(ops: Ops, api_db: sa.Engine) -> None:
    """Whatever the body, path or query, every operation answers 2xx/4xx, never 5xx."""
    with api_db.connect() as conn:
        saved = list(
            conn.execute(
                sa.select(
                    User.id,
                    User.login,
                    User.password_hash,
                    User.role,
                    User.group_id,
                    User.agent_id,
                    User.active,
                )
            )
        )
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", ops.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    reached: Counter[str] = Counter()

    for operation in operations:
        if operation.label in SKIPPED:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            _restore_users(api_db, saved)
            # Generated sign-ins with wrong passwords lock the test client's address after
            # a while: each example starts with no lock, so the roles can sign in.
            ops.app.state.ctx.throttle = SignInThrottle()
            for token in _sign_in(ops).values():
                response = case.call_and_validate(
                    headers={"Authorization": token}, checks=[not_a_server_error]
                )
                if response.status_code != 401 or "sign in first" not in response.text:
                    reached[case.operation.label] += 1

        check()

    never = sorted(
        op.label for op in operations if op.label not in SKIPPED and reached[op.label] == 0
    )
    assert never == [], f"operations whose handler no generated request reached: {never}"
