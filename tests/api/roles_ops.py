"""The role table of the operations API: who may call what.

Every route of ``dialer/api/routes/{agent,calls,dashboard,live}.py`` has one
:class:`RoleCase` here; ``test_roles_ops.py`` runs each case for every role. Agent actions
are for agents only (other roles get 403 before the engine is asked); the call log, its
export and the live stream are open to every role, each within its scope; dashboards are
for leaders and above.
"""

from __future__ import annotations

from sqlmodel import Session

from campaigns.service import create_campaign, validate_rules
from tests.api.roles import (
    AGENTS,
    ALL_ROLES,
    LEADERS,
    RoleCase,
    RoleContext,
    RoleRequest,
    fixed,
)


def _campaign(ctx: RoleContext) -> int:
    with Session(ctx.db) as session:
        row = create_campaign(session, validate_rules(name="Ops roles"), actor="test")
        session.commit()
        assert row.id is not None
        return row.id


def campaign_id(ctx: RoleContext) -> int:
    """A campaign every case of one test shares."""
    return ctx.once("ops-campaign", _campaign)


def dashboard(ctx: RoleContext) -> RoleRequest:
    """One campaign's dashboard."""
    return RoleRequest(f"/api/dashboard/{campaign_id(ctx)}")


def login(ctx: RoleContext) -> RoleRequest:
    """An agent's login to a campaign."""
    return RoleRequest("/api/agent/login", json={"campaign": campaign_id(ctx)})


ROLE_TABLE: list[RoleCase] = [
    RoleCase("GET", "/api/agent/state", AGENTS, fixed("/api/agent/state")),
    RoleCase("POST", "/api/agent/login", AGENTS, login),
    RoleCase("POST", "/api/agent/ready", AGENTS, fixed("/api/agent/ready")),
    RoleCase("POST", "/api/agent/pause", AGENTS, fixed("/api/agent/pause", json={"reason": "x"})),
    RoleCase("POST", "/api/agent/logout", AGENTS, fixed("/api/agent/logout")),
    RoleCase(
        "POST",
        "/api/agent/status",
        AGENTS,
        fixed("/api/agent/status", json={"call_id": "c-1", "status": 1}),
    ),
    RoleCase("POST", "/api/agent/hangup", AGENTS, fixed("/api/agent/hangup")),
    RoleCase("POST", "/api/agent/preview/dial", AGENTS, fixed("/api/agent/preview/dial")),
    RoleCase("POST", "/api/agent/preview/skip", AGENTS, fixed("/api/agent/preview/skip")),
    RoleCase(
        "POST", "/api/agent/dial", AGENTS, fixed("/api/agent/dial", json={"number": "+48221234567"})
    ),
    RoleCase(
        "POST",
        "/api/agent/callbacks/{record_id}/dial",
        AGENTS,
        fixed("/api/agent/callbacks/1/dial"),
    ),
    RoleCase("GET", "/api/agent/callbacks", AGENTS, fixed("/api/agent/callbacks")),
    RoleCase("GET", "/api/agent/calls", AGENTS, fixed("/api/agent/calls")),
    RoleCase("GET", "/api/calls", ALL_ROLES, fixed("/api/calls", params={"page_size": 10})),
    RoleCase(
        "GET", "/api/calls/export", ALL_ROLES, fixed("/api/calls/export", params={"format": "csv"})
    ),
    RoleCase("GET", "/api/dashboard", LEADERS, fixed("/api/dashboard")),
    RoleCase("GET", "/api/dashboard/{campaign_id}", LEADERS, dashboard),
    RoleCase(
        "POST",
        "/api/dashboard/agents/{agent_id}/{action}",
        LEADERS,
        lambda ctx: RoleRequest(f"/api/dashboard/agents/{ctx.world.agent_a}/ready"),
    ),
    RoleCase("GET", "/api/live", ALL_ROLES, fixed("/api/live")),
    # reports (issue 13): an agent has only the agent report of itself
    RoleCase("GET", "/api/reports/period", LEADERS, fixed("/api/reports/period")),
    RoleCase("GET", "/api/reports/time_of_day", LEADERS, fixed("/api/reports/time_of_day")),
    RoleCase("GET", "/api/reports/agents", ALL_ROLES, fixed("/api/reports/agents")),
    RoleCase("GET", "/api/reports/customers", LEADERS, fixed("/api/reports/customers")),
    RoleCase("GET", "/api/reports/statuses", LEADERS, fixed("/api/reports/statuses")),
    RoleCase("GET", "/api/reports/recent", LEADERS, fixed("/api/reports/recent")),
    RoleCase(
        "GET",
        "/api/reports/{name}/export",
        ALL_ROLES,
        fixed("/api/reports/agents/export", params={"format": "csv"}),
    ),
]
