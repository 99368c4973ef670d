"""Signing in, sessions, CSRF for cookie sessions, and the 401/403 answers."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from campaigns.enums import Role
from campaigns.models import User, UserSession
from dialer.api.throttle import SignInThrottle
from tests.api.conftest import PASSWORD, sign_in


def test_login_gives_token_and_cookie_and_me(app: FastAPI) -> None:
    client = TestClient(app)
    response = client.post("/api/auth/login", json={"login": "head", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["role"] == "head"
    assert "dialer_session" in response.cookies
    bearer = client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert bearer.json()["login"] == "head"
    by_cookie = client.get("/api/me")
    assert by_cookie.status_code == 200
    assert by_cookie.json()["csrf"] == body["csrf"]


def test_wrong_password_and_unknown_login_get_the_same_401(app: FastAPI) -> None:
    client = TestClient(app)
    wrong = client.post("/api/auth/login", json={"login": "head", "password": "nope-nope"})
    unknown = client.post("/api/auth/login", json={"login": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_no_token_is_401_and_a_bad_token_too(app: FastAPI) -> None:
    client = TestClient(app)
    assert client.get("/api/me").status_code == 401
    response = client.get("/api/me", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_password_is_stored_hashed_and_token_only_as_digest(
    app: FastAPI, api_db: sa.Engine
) -> None:
    client = sign_in(app, "admin")
    token = client.headers["Authorization"].split()[1]
    with api_db.connect() as conn:
        stored = conn.execute(sa.select(User.password_hash).where(User.login == "admin")).scalar()
        digests = conn.execute(sa.select(UserSession.token_hash)).scalars().all()
    assert stored is not None
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored
    assert token not in digests
    assert len(digests) >= 1


def test_logout_ends_the_session(app: FastAPI) -> None:
    client = sign_in(app, "leader")
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/me").status_code == 401


def test_cookie_session_needs_csrf_header_for_changes(app: FastAPI) -> None:
    client = TestClient(app)
    body = client.post("/api/auth/login", json={"login": "admin", "password": PASSWORD}).json()
    refused = client.post("/api/auth/logout")
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    assert (
        client.post("/api/auth/logout", headers={"X-CSRF-Token": body["csrf"]}).status_code == 204
    )


def test_inactive_user_cannot_sign_in(app: FastAPI, api_db: sa.Engine) -> None:
    with api_db.begin() as conn:
        conn.execute(sa.update(User).where(User.login == "head").values(active=False))
    response = TestClient(app).post("/api/auth/login", json={"login": "head", "password": PASSWORD})
    assert response.status_code == 401


def test_every_role_signs_in(clients: dict[Role, TestClient]) -> None:
    for role, client in clients.items():
        assert client.get("/api/me").json()["role"] == role.value


def test_openapi_is_published(app: FastAPI) -> None:
    spec = TestClient(app).get("/api/openapi.json").json()
    assert "/api/auth/login" in spec["paths"]


def test_repeated_wrong_passwords_slow_that_login_down(app: FastAPI) -> None:
    """After five wrong passwords a login is refused with 429 and Retry-After, even with the
    right password, until the window passes; other logins are not affected."""
    ctx = app.state.ctx
    now = [1000.0]
    ctx.throttle = SignInThrottle(clock=lambda: now[0])
    client = TestClient(app)

    def attempt(login: str, password: str) -> int:
        body = {"login": login, "password": password}
        return client.post("/api/auth/login", json=body).status_code

    assert [attempt("head", "wrong-guess") for _ in range(5)] == [401] * 5
    refused = client.post("/api/auth/login", json={"login": "HEAD", "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_attempts"
    assert refused.headers["Retry-After"] == "300"
    assert attempt("admin", PASSWORD) == 200
    now[0] += 301
    assert attempt("head", PASSWORD) == 200
    assert attempt("head", "wrong-guess") == 401  # a success forgot the earlier failures


def test_unknown_logins_are_throttled_alike(app: FastAPI) -> None:
    """Guessing against a login that does not exist is slowed the same way."""
    app.state.ctx.throttle = SignInThrottle(max_failures=2, clock=lambda: 0.0)
    client = TestClient(app)
    codes = [
        client.post("/api/auth/login", json={"login": "ghost", "password": "x" * 8}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 429]
