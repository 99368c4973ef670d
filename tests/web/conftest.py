"""Web page fixtures: the API fixtures (database, users of every role) and clients that
sign in with the session cookie, as a browser does."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import (  # noqa: F401  (fixtures shared with the API tests)
    PASSWORD,
    _cheap_hashing,
    _migrated_template,
    api_db,
    app,
    world,
)


def page_client(web_app: FastAPI, login: str | None, **headers: str) -> TestClient:
    """A client signed in as ``login`` through the session cookie (None: not signed in);
    redirects are not followed, so tests see them."""
    client = TestClient(web_app, follow_redirects=False, headers=headers)
    if login is not None:
        response = client.post("/api/auth/login", json={"login": login, "password": PASSWORD})
        assert response.status_code == 200, response.text
    return client
