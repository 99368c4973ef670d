"""Schemathesis against the published OpenAPI spec: generated requests, valid and odd, as an
administrator, a group leader and an agent, on an app with an engine in the process, never
get a 5xx.

Before each generated request the fixture users are put back as they were (a request may
have deactivated one or changed a password) and signed in again, so every request reaches
its handler; the test also checks that each operation was really exercised (not all 401).
``GET /api/live`` is an endless event stream and is tested in ``test_live_api.py``.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case

from campaigns.models import User, UserSession
from dialer.api.throttle import SignInThrottle
from tests.api.conftest import PASSWORD
from tests.api.test_agent_api import Ops
from tests.api.test_agent_api import ops as ops  # noqa: PLC0414  (the fixture, re-exported)

#: Generated requests per operation (each sent as three roles).
EXAMPLES = 20
#: The operations are checked in this many tests (one part each).
SHARDS = 4
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


def _still_signed_in(db: sa.Engine, headers: dict[str, str]) -> bool:
    """Whether every session of ``headers`` is still there (a generated request may have
    signed one out, or changed a user, which ends its sessions); the users are active again
    (restored), so a session that is there signs its user in."""
    hashes = [
        hashlib.sha256(h.removeprefix("Bearer ").encode()).hexdigest() for h in headers.values()
    ]
    with db.connect() as conn:
        live = conn.execute(
            sa.select(sa.func.count())
            .select_from(UserSession)
            .where(UserSession.token_hash.in_(hashes))  # type: ignore[attr-defined]
        ).scalar_one()
    return bool(live == len(hashes))


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_request_gets_a_server_error(ops: Ops, api_db: sa.Engine, shard: int) -> None:
    """Whatever the body, path or query, every operation answers 2xx/4xx, never 5xx (the
    operations in ``SHARDS`` parts, so that the suite's workers share them)."""
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
    every = [result.ok() for result in schema.get_all_operations()]
    assert len(every) > 40
    operations = sorted(every, key=lambda op: op.label)[shard::SHARDS]
    reached: Counter[str] = Counter()
    tokens: dict[str, str] = {}

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
            # signing in for every example took a third of the test's time: the sessions are
            # kept while they last
            if not tokens or not _still_signed_in(api_db, tokens):
                tokens.clear()
                tokens.update(_sign_in(ops))
            for token in tokens.values():
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
