"""The role table of the callback-request API (``dialer/api/routes/requests.py``).

The sources' own endpoints (``/api/callback-requests…``) answer to an API key, not to a
role: each case sends a valid key, and every role gets through. The staff views are open
to every role within its scope; cancelling for supervisors; sources for administrators.
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlmodel import Session

from campaigns import requests as rq
from campaigns.enums import CampaignState
from campaigns.service import create_campaign, validate_rules
from tests.api.roles import (
    ADMIN,
    ALL_ROLES,
    SUPERVISORS,
    RoleCase,
    RoleContext,
    RoleRequest,
    fixed,
)

_phones = itertools.count(100)


def _world(ctx: RoleContext) -> tuple[int, rq.SourceView, str]:
    with Session(ctx.db) as session:
        row = create_campaign(
            session,
            validate_rules(
                name="Request roles",
                window_start="00:00",
                window_end="24:00",
                window_days=[1, 2, 3, 4, 5, 6, 7],
            ),
            actor="test",
        )
        row.state = CampaignState.RUNNING
        session.add(row)
        session.commit()
        assert row.id is not None
        campaign_id = row.id
    source, key = rq.create_source(
        ctx.db, "roles", actor="test", now=dt.datetime.now(dt.UTC), rate_per_min=10_000
    )
    return campaign_id, source, key


def world(ctx: RoleContext) -> tuple[int, rq.SourceView, str]:
    """A running campaign open all day, and a source with its key, shared by a test."""
    return ctx.once("requests-world", _world)


def new_request(ctx: RoleContext) -> int:
    """A fresh waiting request (for cases that consume one)."""
    campaign_id, source, _ = world(ctx)
    asked = rq.Asked(campaign=campaign_id, phone=f"+48500200{next(_phones):03d}")
    return rq.create_request(ctx.db, source, asked, now=dt.datetime.now(dt.UTC)).id


def make_request(ctx: RoleContext) -> RoleRequest:
    """POST a new request with the source's key."""
    campaign_id, _, key = world(ctx)
    return RoleRequest(
        "/api/callback-requests",
        json={"campaign": campaign_id, "phone": f"+48500300{next(_phones):03d}"},
        headers={"X-API-Key": key},
    )


def read_request(ctx: RoleContext) -> RoleRequest:
    """GET a request with its source's key."""
    request_id = ctx.once("requests-one", new_request)
    return RoleRequest(f"/api/callback-requests/{request_id}", headers={"X-API-Key": world(ctx)[2]})


def cancel_by_source(ctx: RoleContext) -> RoleRequest:
    """Cancel a fresh request with its source's key."""
    return RoleRequest(
        f"/api/callback-requests/{new_request(ctx)}", headers={"X-API-Key": world(ctx)[2]}
    )


def cancel_by_source_post(ctx: RoleContext) -> RoleRequest:
    """Cancel a fresh request (POST form) with its source's key."""
    return RoleRequest(
        f"/api/callback-requests/{new_request(ctx)}/cancel", headers={"X-API-Key": world(ctx)[2]}
    )


def staff_read(ctx: RoleContext) -> RoleRequest:
    """One request as staff see it."""
    return RoleRequest(f"/api/requests/{ctx.once('requests-one', new_request)}")


def staff_cancel(ctx: RoleContext) -> RoleRequest:
    """A supervisor cancels a fresh request."""
    return RoleRequest(f"/api/requests/{new_request(ctx)}/cancel")


def new_source(ctx: RoleContext) -> RoleRequest:
    """Create a source (a new name each time)."""
    del ctx
    return RoleRequest("/api/request-sources", json={"name": f"site {next(_phones)}"})


def revoke(ctx: RoleContext) -> RoleRequest:
    """Revoke a fresh source."""
    source, _ = rq.create_source(
        ctx.db, f"gone {next(_phones)}", actor="test", now=dt.datetime.now(dt.UTC)
    )
    return RoleRequest(f"/api/request-sources/{source.id}")


ROLE_TABLE: list[RoleCase] = [
    RoleCase("POST", "/api/callback-requests", ALL_ROLES, make_request),
    RoleCase("GET", "/api/callback-requests/{request_id}", ALL_ROLES, read_request),
    RoleCase("DELETE", "/api/callback-requests/{request_id}", ALL_ROLES, cancel_by_source),
    RoleCase(
        "POST", "/api/callback-requests/{request_id}/cancel", ALL_ROLES, cancel_by_source_post
    ),
    RoleCase("GET", "/api/requests", ALL_ROLES, fixed("/api/requests")),
    RoleCase("GET", "/api/requests/sources", ALL_ROLES, fixed("/api/requests/sources")),
    RoleCase("GET", "/api/requests/stats", ALL_ROLES, fixed("/api/requests/stats")),
    RoleCase(
        "GET",
        "/api/requests/export",
        ALL_ROLES,
        fixed("/api/requests/export", params={"format": "csv"}),
    ),
    RoleCase("GET", "/api/requests/{request_id}", ALL_ROLES, staff_read),
    RoleCase("POST", "/api/requests/{request_id}/cancel", SUPERVISORS, staff_cancel),
    RoleCase("GET", "/api/request-sources", ADMIN, fixed("/api/request-sources")),
    RoleCase("POST", "/api/request-sources", ADMIN, new_source),
    RoleCase("DELETE", "/api/request-sources/{source_id}", ADMIN, revoke),
]
