"""Sign-in throttling per login and per client address, locks an administrator lifts, and
the last active administrator never locked out from a trusted network."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from campaigns.models import AuditLog
from dialer.api.throttle import SignInThrottle
from dialer.web.i18n import EN, PL
from tests.api.conftest import PASSWORD, sign_in

OUTSIDE = ("203.0.113.7", 40000)  # not in http.trusted_networks
LOOPBACK = ("127.0.0.1", 40001)  # trusted by default


@pytest.fixture
def clock(app: FastAPI) -> list[float]:
    """A settable clock driving the app's sign-in throttle (default limits)."""
    now = [1000.0]
    app.state.ctx.throttle = SignInThrottle(clock=lambda: now[0])
    return now


def attempt(client: TestClient, login: str, password: str) -> int:
    """The status code of one sign-in."""
    return client.post("/api/auth/login", json={"login": login, "password": password}).status_code


def test_one_password_across_many_logins_locks_the_address(
    app: FastAPI, clock: list[float]
) -> None:
    """Twenty wrong passwords from one address, each for a different login, lock that
    address (429 naming it and the wait) while other addresses still sign in."""
    del clock
    spray = TestClient(app, client=OUTSIDE)
    codes = [attempt(spray, f"user{k}", "Summer2026!") for k in range(20)]
    assert codes == [401] * 20
    refused = spray.post("/api/auth/login", json={"login": "head", "password": PASSWORD})
    assert refused.status_code == 429
    body = refused.json()
    assert body["locked"] == "address"
    assert body["retry_after_s"] == 300
    assert refused.headers["Retry-After"] == "300"
    assert "your address" in body["detail"]
    assert attempt(TestClient(app, client=("198.51.100.9", 1)), "head", PASSWORD) == 200


def test_the_last_admin_is_never_locked_out_from_a_trusted_network(
    app: FastAPI, clock: list[float]
) -> None:
    """Five wrong passwords for the only administrator lock its login from outside, but it
    still signs in from a trusted network with the right password."""
    del clock
    outside = TestClient(app, client=OUTSIDE)
    assert [attempt(outside, "admin", "wrong-guess") for _ in range(5)] == [401] * 5
    assert attempt(outside, "admin", PASSWORD) == 429
    inside = TestClient(app, client=LOOPBACK)
    assert attempt(inside, "admin", "still-wrong") == 401  # the password is still checked
    assert attempt(inside, "admin", PASSWORD) == 200


def test_other_roles_stay_locked_from_a_trusted_network(app: FastAPI, clock: list[float]) -> None:
    """The trusted-network exception is for the last active administrator only."""
    del clock
    inside = TestClient(app, client=LOOPBACK)
    assert [attempt(inside, "head", "wrong-guess") for _ in range(5)] == [401] * 5
    assert attempt(inside, "head", PASSWORD) == 429


def test_an_administrator_lists_and_lifts_locks(app: FastAPI, clock: list[float]) -> None:
    """GET /api/auth/locks shows the locked login and address; lifting the login's lock
    lets it sign in at once, is audited, and is for administrators only."""
    del clock
    outside = TestClient(app, client=OUTSIDE)
    for _ in range(5):
        attempt(outside, "head", "wrong-guess")
    admin = sign_in(app, "admin")
    locks = admin.get("/api/auth/locks").json()
    assert locks == [{"kind": "login", "key": "head", "failures": 5, "wait_s": 300.0}]
    assert sign_in(app, "leader").get("/api/auth/locks").status_code == 403
    lifted = admin.post("/api/auth/locks/lift", json={"kind": "login", "key": "head"})
    assert lifted.status_code == 204
    assert attempt(outside, "head", PASSWORD) == 200
    again = admin.post("/api/auth/locks/lift", json={"kind": "login", "key": "head"})
    assert again.status_code == 404
    with Session(app.state.ctx.db) as session:
        rows = session.exec(select(AuditLog).where(AuditLog.action == "signin.unlock")).all()
    assert [(r.actor, r.entity, r.entity_id) for r in rows] == [("user:admin", "login", "head")]


def test_a_lock_ends_when_enough_failures_age_out(app: FastAPI, clock: list[float]) -> None:
    """The wait counts from the failure that keeps the login over the limit."""
    outside = TestClient(app, client=OUTSIDE)
    for _ in range(5):
        attempt(outside, "head", "wrong-guess")
        clock[0] += 10
    refused = outside.post("/api/auth/login", json={"login": "head", "password": PASSWORD})
    assert refused.json()["retry_after_s"] == 250
    clock[0] += 251
    assert attempt(outside, "head", PASSWORD) == 200


def test_the_page_texts_say_how_long_to_wait_in_both_languages() -> None:
    """The sign-in page's lock messages carry the wait, in English and Polish."""
    for catalog in (EN, PL):
        for key in ("login.too_many", "login.too_many_address"):
            assert "{wait}" in catalog[key]
        assert "{min}" in catalog["login.wait_min_s"]
