"""The role table of the administration API (and the auth endpoints): who may call what.

Every route of ``dialer/api/routes/{auth,campaigns,statuses,lists,records,dnc,people,
audit,settings}.py``
has one :class:`RoleCase` here. ``test_roles_admin.py`` runs each case for every role.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sqlmodel import Session, select

from campaigns.dnc import add_dnc
from campaigns.enums import CampaignState, SystemStatus
from campaigns.models import DncEntry, Record, User
from campaigns.service import create_campaign, validate_rules
from campaigns.statuses import list_statuses
from tests.api.conftest import PASSWORD
from tests.api.roles import (
    ADMIN,
    ALL_ROLES,
    LEADERS,
    SUPERVISORS,
    RoleCase,
    RoleContext,
    RoleRequest,
    fixed,
)

_serial = itertools.count(1)

CSV_LIST = b"phone,name\n601234567,Jan Kowalski\n601234568,Ewa Nowak\n"
CSV_DNC = b"phone\n601234999\n"


def make_campaign(
    ctx: RoleContext, *, name: str | None = None, state: CampaignState = CampaignState.RUNNING
) -> int:
    """A campaign (running by default) created directly in the database; returns its id."""
    with Session(ctx.db) as session:
        row = create_campaign(
            session, validate_rules(name=name or f"Campaign {next(_serial)}"), actor="test"
        )
        row.state = state
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def campaign_id(ctx: RoleContext) -> int:
    """The running campaign every case of one test shares."""
    return ctx.once("campaign", lambda c: make_campaign(c, name="Shared"))


def status_id(ctx: RoleContext) -> int:
    """A dictionary status id (the default TO_CALL one)."""
    with Session(ctx.db) as session:
        return list_statuses(session)[0].id or 0


def fresh_dnc(ctx: RoleContext) -> tuple[int, str]:
    """A new global DNC entry: (id, E.164 phone)."""
    phone = f"+4860{next(_serial):07d}"
    add_dnc(ctx.db, phone, actor="test")
    with Session(ctx.db) as session:
        row = session.exec(select(DncEntry).where(DncEntry.phone == phone)).one()
        return row.id or 0, phone


def record_id(ctx: RoleContext) -> int:
    """A callback of the group leader's agent in the shared campaign."""

    def make(c: RoleContext) -> int:
        with Session(c.db) as session:
            row = Record(
                campaign_id=campaign_id(c),
                phone="+48601000111",
                system_status=SystemStatus.MY_RECORD,
                owner_agent_id=c.world.agent_a,
            )
            session.add(row)
            session.commit()
            return row.id or 0

    return ctx.once("record", make)


def _record(suffix: str, **kwargs: object) -> Callable[[RoleContext], RoleRequest]:
    def build(ctx: RoleContext) -> RoleRequest:
        return RoleRequest(f"/api/records/{record_id(ctx)}{suffix}", **kwargs)

    return build


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


def _in_campaign(suffix: str, **kwargs: object) -> Callable[[RoleContext], RoleRequest]:
    def build(ctx: RoleContext) -> RoleRequest:
        return RoleRequest(f"/api/campaigns/{campaign_id(ctx)}{suffix}", **kwargs)

    return build


def _user_id(ctx: RoleContext) -> int:
    with Session(ctx.db) as session:
        return session.exec(select(User).where(User.login == "agent_b")).one().id or 0


ROLE_TABLE: list[RoleCase] = [
    # ---------------------------------------------------------------------- auth
    RoleCase(
        "POST",
        "/api/auth/login",
        ALL_ROLES,
        fixed("/api/auth/login", json={"login": "head", "password": PASSWORD}),
    ),
    RoleCase("POST", "/api/auth/logout", ALL_ROLES, fixed("/api/auth/logout")),
    RoleCase("GET", "/api/auth/locks", ADMIN, fixed("/api/auth/locks")),
    RoleCase(
        "POST",
        "/api/auth/locks/lift",
        ADMIN,
        fixed("/api/auth/locks/lift", json={"kind": "login", "key": "nobody"}),
    ),
    RoleCase("GET", "/api/me", ALL_ROLES, fixed("/api/me")),
    RoleCase("PATCH", "/api/me", ALL_ROLES, fixed("/api/me", json={"name": "New Name"})),
    # ----------------------------------------------------------------- campaigns
    RoleCase("GET", "/api/campaigns", ALL_ROLES, fixed("/api/campaigns")),
    RoleCase(
        "POST",
        "/api/campaigns",
        ADMIN,
        lambda ctx: RoleRequest("/api/campaigns", json={"name": _unique("New campaign ")}),
    ),
    RoleCase("GET", "/api/campaigns/{campaign_id}", LEADERS, _in_campaign("")),
    RoleCase(
        "PATCH",
        "/api/campaigns/{campaign_id}",
        ADMIN,
        _in_campaign("", json={"description": "edited"}),
    ),
    RoleCase("POST", "/api/campaigns/{campaign_id}/start", SUPERVISORS, _in_campaign("/start")),
    RoleCase("POST", "/api/campaigns/{campaign_id}/pause", SUPERVISORS, _in_campaign("/pause")),
    RoleCase("POST", "/api/campaigns/{campaign_id}/stop", SUPERVISORS, _in_campaign("/stop")),
    RoleCase("GET", "/api/pacing/profiles", SUPERVISORS, fixed("/api/pacing/profiles")),
    # ------------------------------------------------------------------ statuses
    RoleCase("GET", "/api/campaigns/{campaign_id}/statuses", ALL_ROLES, _in_campaign("/statuses")),
    RoleCase(
        "PUT",
        "/api/campaigns/{campaign_id}/statuses",
        ADMIN,
        lambda ctx: RoleRequest(
            f"/api/campaigns/{campaign_id(ctx)}/statuses", json={"status_ids": [status_id(ctx)]}
        ),
    ),
    RoleCase(
        "POST",
        "/api/campaigns/{campaign_id}/statuses",
        ADMIN,
        lambda ctx: RoleRequest(
            f"/api/campaigns/{campaign_id(ctx)}/statuses",
            json={"name": _unique("Own "), "system_status": "TO_CALL"},
        ),
    ),
    RoleCase("GET", "/api/statuses", LEADERS, fixed("/api/statuses")),
    RoleCase(
        "POST",
        "/api/statuses",
        ADMIN,
        lambda ctx: RoleRequest(
            "/api/statuses", json={"name": _unique("Status "), "system_status": "NOT_BEFORE"}
        ),
    ),
    RoleCase(
        "PATCH",
        "/api/statuses/{status_id}",
        ADMIN,
        lambda ctx: RoleRequest(f"/api/statuses/{status_id(ctx)}", json={"hidden": False}),
    ),
    RoleCase(
        "DELETE",
        "/api/statuses/{status_id}",
        ADMIN,
        lambda ctx: RoleRequest(f"/api/statuses/{status_id(ctx)}"),
    ),
    # --------------------------------------------------------------------- lists
    RoleCase(
        "POST",
        "/api/campaigns/{campaign_id}/lists",
        ADMIN,
        _in_campaign("/lists", files={"file": ("list.csv", CSV_LIST, "text/csv")}),
    ),
    RoleCase("GET", "/api/campaigns/{campaign_id}/lists", SUPERVISORS, _in_campaign("/lists")),
    RoleCase("GET", "/api/campaigns/{campaign_id}/records", LEADERS, _in_campaign("/records")),
    RoleCase(
        "GET",
        "/api/campaigns/{campaign_id}/records/export",
        LEADERS,
        _in_campaign("/records/export", params={"format": "xlsx"}),
    ),
    RoleCase(
        "POST",
        "/api/campaigns/{campaign_id}/records/actions",
        LEADERS,
        _in_campaign("/records/actions", json={"action": "park", "filter": {}}),
    ),
    # -------------------------------------------------------------------- records
    RoleCase("GET", "/api/records/{record_id}", LEADERS, _record("")),
    RoleCase("PATCH", "/api/records/{record_id}", LEADERS, _record("", json={"name": "Jan"})),
    RoleCase(
        "POST",
        "/api/records/{record_id}/status",
        LEADERS,
        lambda ctx: RoleRequest(
            f"/api/records/{record_id(ctx)}/status", json={"status_id": status_id(ctx)}
        ),
    ),
    RoleCase(
        "POST",
        "/api/records/{record_id}/actions",
        LEADERS,
        _record("/actions", json={"action": "call_next"}),
    ),
    # ----------------------------------------------------------------------- DNC
    RoleCase("GET", "/api/dnc", SUPERVISORS, fixed("/api/dnc")),
    RoleCase(
        "POST",
        "/api/dnc",
        ADMIN,
        fixed("/api/dnc", json={"phone": "601 234 777", "reason": "asked"}),
    ),
    RoleCase(
        "DELETE",
        "/api/dnc",
        ADMIN,
        lambda ctx: RoleRequest("/api/dnc", params={"phone": fresh_dnc(ctx)[1]}),
    ),
    RoleCase(
        "DELETE",
        "/api/dnc/{dnc_id}",
        ADMIN,
        lambda ctx: RoleRequest(f"/api/dnc/{fresh_dnc(ctx)[0]}"),
    ),
    RoleCase(
        "POST",
        "/api/dnc/import",
        ADMIN,
        fixed("/api/dnc/import", files={"file": ("dnc.csv", CSV_DNC, "text/csv")}),
    ),
    RoleCase("GET", "/api/dnc/export", SUPERVISORS, fixed("/api/dnc/export")),
    # -------------------------------------------------------------------- people
    RoleCase("GET", "/api/users", ADMIN, fixed("/api/users")),
    RoleCase(
        "POST",
        "/api/users",
        ADMIN,
        lambda ctx: RoleRequest(
            "/api/users",
            json={"login": _unique("user"), "password": "long-enough-1", "role": "head"},
        ),
    ),
    RoleCase(
        "PATCH",
        "/api/users/{user_id}",
        ADMIN,
        lambda ctx: RoleRequest(f"/api/users/{_user_id(ctx)}", json={"name": "Bartek Z."}),
    ),
    RoleCase("GET", "/api/agents", LEADERS, fixed("/api/agents")),
    RoleCase(
        "POST",
        "/api/agents",
        ADMIN,
        lambda ctx: RoleRequest(
            "/api/agents", json={"login": _unique("agent"), "group_id": ctx.world.group_a}
        ),
    ),
    RoleCase(
        "PATCH",
        "/api/agents/{agent_id}",
        ADMIN,
        lambda ctx: RoleRequest(f"/api/agents/{ctx.world.agent_b}", json={"name": "B. Z."}),
    ),
    RoleCase("GET", "/api/groups", LEADERS, fixed("/api/groups")),
    RoleCase(
        "POST",
        "/api/groups",
        ADMIN,
        lambda ctx: RoleRequest("/api/groups", json={"name": _unique("Team ")}),
    ),
    RoleCase(
        "PATCH",
        "/api/groups/{group_id}",
        ADMIN,
        lambda ctx: RoleRequest(f"/api/groups/{ctx.world.group_b}", json={"name": "Team Bee"}),
    ),
    # --------------------------------------------------------------------- audit
    RoleCase("GET", "/api/audit", ADMIN, fixed("/api/audit", params={"limit": 5})),
    # ------------------------------------------------------------------ settings
    RoleCase("GET", "/api/settings", ADMIN, fixed("/api/settings")),
    RoleCase(
        "PUT", "/api/settings", ADMIN, fixed("/api/settings", json={"export_admin_only": False})
    ),
]
