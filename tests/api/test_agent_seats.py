"""Seats over the API: an agent is refused another agent's seat with the reason, and an
administrator allows seats per agent (hot-desking)."""

from __future__ import annotations

from tests.api.conftest import sign_in
from tests.api.test_agent_api import Ops, ops

__all__ = ["ops"]  # the fixture, used here too


def test_api_refuses_a_foreign_seat_with_409_and_an_admin_allows_one(ops: Ops) -> None:
    """POST /api/agent/login on another agent's seat answers 409 with the reason; after an
    administrator adds the seat to the agent's list (PATCH /api/agents/{id}) it works."""
    agent = sign_in(ops.app, "agent")
    refused = agent.post("/api/agent/login", json={"campaign": ops.campaign, "seat": "agent2"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "seat_refused"
    assert "seat 'agent2' is not a seat of agent anna" in refused.json()["detail"]
    admin = sign_in(ops.app, "admin")
    bad = admin.patch(f"/api/agents/{ops.world.agent_a}", json={"seats": ["has space"]})
    assert bad.status_code == 422
    edited = admin.patch(f"/api/agents/{ops.world.agent_a}", json={"seats": ["hot-1"]})
    assert edited.status_code == 200, edited.text
    assert edited.json()["seats"] == ["hot-1"]
    ok = agent.post("/api/agent/login", json={"campaign": ops.campaign, "seat": "hot-1"})
    assert ok.status_code == 200
    assert ok.json()["seat"] == "hot-1"
