"""The role table of the missed-call worklist API (``dialer/api/routes/inbound.py``).

Everyone reads the open rows, their history and the counter, adds notes and asks for a
callback; group leaders and up hide, restore and export; administrators and heads delete
rows, read the statistics and link queues to campaigns.
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlmodel import Session

from campaigns import inbound as wl
from campaigns.service import create_campaign, validate_rules
from tests.api.roles import (
    ALL_ROLES,
    LEADERS,
    SUPERVISORS,
    RoleCase,
    RoleContext,
    RoleRequest,
    fixed,
)

_callers = itertools.count(10)


def _new_row(ctx: RoleContext) -> int:
    n = next(_callers)
    at = dt.datetime.now(dt.UTC)
    return wl.record_miss(ctx.db, caller=f"486010000{n:02d}", queue="sales", at=at).row_id


def row_id(ctx: RoleContext) -> int:
    """An open row every case of one test shares."""
    return ctx.once("worklist-row", _new_row)


def _campaign(ctx: RoleContext) -> int:
    with Session(ctx.db) as session:
        row = create_campaign(session, validate_rules(name="Callbacks roles"), actor="test")
        session.commit()
        assert row.id is not None
        wl.attach_queue(ctx.db, "sales", row.id, actor="test")
        return row.id


def linked_row(ctx: RoleContext) -> int:
    """An open row whose queue feeds a callback campaign."""
    ctx.once("callback-campaign", _campaign)
    return row_id(ctx)


def detail(ctx: RoleContext) -> RoleRequest:
    """One row with its history."""
    return RoleRequest(f"/api/worklist/{row_id(ctx)}")


def hide(ctx: RoleContext) -> RoleRequest:
    """Hide a fresh row."""
    return RoleRequest(f"/api/worklist/{_new_row(ctx)}/hide")


def restore(ctx: RoleContext) -> RoleRequest:
    """Restore a freshly hidden row."""
    rid = _new_row(ctx)
    wl.hide(ctx.db, rid, actor="test")
    return RoleRequest(f"/api/worklist/{rid}/restore")


def delete(ctx: RoleContext) -> RoleRequest:
    """Delete a fresh row (a deletion consumes its target)."""
    return RoleRequest(f"/api/worklist/{_new_row(ctx)}")


def note(ctx: RoleContext) -> RoleRequest:
    """A note on the shared row."""
    return RoleRequest(f"/api/worklist/{row_id(ctx)}/notes", json={"text": "proszę po 16"})


def callback(ctx: RoleContext) -> RoleRequest:
    """'Call back' the shared row by the fixture's agent in group A."""
    return RoleRequest(
        f"/api/worklist/{linked_row(ctx)}/callback", json={"agent_id": ctx.world.agent_a}
    )


def link(ctx: RoleContext) -> RoleRequest:
    """Link 'sales' (a queue the worklist has seen) to a campaign."""
    row_id(ctx)
    campaign = ctx.once("callback-campaign", _campaign)
    return RoleRequest("/api/inbound/queues/sales", json={"campaign_id": campaign})


def unlink(ctx: RoleContext) -> RoleRequest:
    """Unlink 'sales'."""
    ctx.once("callback-campaign", _campaign)
    return RoleRequest("/api/inbound/queues/sales")


ROLE_TABLE: list[RoleCase] = [
    RoleCase("GET", "/api/worklist", ALL_ROLES, fixed("/api/worklist")),
    RoleCase("GET", "/api/worklist/count", ALL_ROLES, fixed("/api/worklist/count")),
    RoleCase("GET", "/api/worklist/stats", SUPERVISORS, fixed("/api/worklist/stats")),
    RoleCase(
        "GET",
        "/api/worklist/export",
        LEADERS,
        fixed("/api/worklist/export", params={"format": "csv"}),
    ),
    RoleCase("GET", "/api/worklist/{row_id}", ALL_ROLES, detail),
    RoleCase("POST", "/api/worklist/{row_id}/hide", LEADERS, hide),
    RoleCase("POST", "/api/worklist/{row_id}/restore", LEADERS, restore),
    RoleCase("DELETE", "/api/worklist/{row_id}", SUPERVISORS, delete),
    RoleCase("POST", "/api/worklist/{row_id}/notes", ALL_ROLES, note),
    RoleCase("POST", "/api/worklist/{row_id}/callback", ALL_ROLES, callback),
    RoleCase("GET", "/api/inbound/queues", ALL_ROLES, fixed("/api/inbound/queues")),
    RoleCase("PUT", "/api/inbound/queues/{queue}", SUPERVISORS, link),
    RoleCase("DELETE", "/api/inbound/queues/{queue}", SUPERVISORS, unlink),
]
