"""Odd input from a source with a valid key never gets a server error: each is refused
naming its field, or accepted."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.requests.helpers import NOW, count, make_campaign, make_source

ODD: list[dict[str, object]] = [
    {"campaign": 2**63, "phone": "+48500100100"},
    {"campaign": -1, "phone": "+48500100100"},
    {"campaign": "", "phone": "+48500100100"},
    {"campaign": "web", "phone": "+48 ５００ １００ １００"},
    {"campaign": "web", "phone": "+" + "9" * 39},
    {"campaign": "web", "phone": "+48500100100", "at": "9999-12-31T23:59:59-14:00"},
    {"campaign": "web", "phone": "+48500100100", "at": "0001-01-01T00:00:00+14:00"},
    {"campaign": "web", "phone": "+48500100100", "at": "2026-03-11T12:00", "timezone": ""},
    {"campaign": "web", "phone": "+48500100100", "timezone": "../../etc/passwd"},
    {"campaign": "web", "phone": "+48500100100", "region": "zz"},
    {"campaign": "web", "phone": "+48500100100", "name": "x" * 5000},
    {"campaign": "web", "phone": "+48500100100", "extra": 1},
    {"campaign": "web", "phone": "\x00"},
]


def test_odd_bodies_are_refused_or_accepted_never_a_server_error(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """No 5xx; a refusal names a field and writes nothing."""
    app.state.ctx.clock = lambda: NOW
    make_campaign(api_db)
    _, key = make_source(api_db, rate_per_min=1000)
    client = TestClient(app)
    for body in ODD:
        before = count(api_db, "callback_request")
        response = client.post("/api/callback-requests", json=body, headers={"X-API-Key": key})
        assert response.status_code < 500, (body, response.text)
        if response.status_code != 201:
            assert response.status_code in {409, 422}, (body, response.text)
            assert response.json()["problems"][0]["field"], body
            assert count(api_db, "callback_request") == before, body
