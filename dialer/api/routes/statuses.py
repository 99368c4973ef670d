"""The status dictionary and the statuses each campaign offers its agents.

Thin over :mod:`campaigns.statuses`, which validates, audits and keeps an automatic
outcome unambiguous; its errors come back as 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from campaigns.enums import CampaignState, Outcome, Role, SystemStatus
from campaigns.models import Campaign, CampaignStatus, StatusDef
from campaigns.service import get_campaign
from campaigns.statuses import (
    StatusError,
    StatusNotFoundError,
    attach_status,
    audit,
    campaign_statuses,
    create_status,
    deactivate_status,
    detach_status,
    edit_status,
    list_statuses,
    name_key,
)
from dialer.api.routes.admin_common import MAX_ID, Id, Text, field_errors, invalid, unique
from dialer.api.security import Admin, Ctx, CurrentUser, Leader, forbidden

router = APIRouter(prefix="/api", tags=["statuses"])

StatusId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Status id.")]
CampaignId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Campaign id.")]
_AGENT_STATES = frozenset({CampaignState.RUNNING, CampaignState.PAUSED})


class StatusBrief(BaseModel):
    """A status as the agent's status form offers it."""

    id: int
    name: str
    system_status: SystemStatus


class StatusOut(StatusBrief):
    """A status with its settings."""

    auto_outcome: str | None = Field(description="Given automatically after this outcome.")
    add_to_new_campaigns: bool
    hidden: bool = Field(description="Not offered to agents.")
    active: bool
    campaign_id: int | None = Field(description="Set for a campaign-only status.")


class CampaignStatusIn(BaseModel):
    """A campaign-only status."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=120)
    system_status: SystemStatus
    auto_outcome: Outcome | None = Field(
        default=None,
        description="busy, no_answer, congestion, machine, dropped or invalid (or null).",
    )
    hidden: bool = False
    active: bool = True


class StatusIn(CampaignStatusIn):
    """A dictionary status."""

    add_to_new_campaigns: bool = False


class StatusPatch(BaseModel):
    """Changes to a status: only the fields given change (auto_outcome null clears it)."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=120)
    system_status: SystemStatus | None = None
    auto_outcome: Outcome | None = None
    add_to_new_campaigns: bool | None = None
    hidden: bool | None = None
    active: bool | None = None


class StatusOrderIn(BaseModel):
    """The statuses a campaign offers, in the order agents see them."""

    model_config = ConfigDict(extra="forbid")

    status_ids: list[Id] = Field(
        max_length=500,
        description="Dictionary statuses (and the campaign's own) in order; dictionary "
        "statuses left out are no longer offered; campaign-only ones left out come last.",
    )


def status_out(row: StatusDef) -> dict[str, Any]:
    """The fields of :class:`StatusOut` for a status row."""
    return {
        "id": row.id or 0,
        "name": row.name,
        "system_status": SystemStatus(row.system_status),
        "auto_outcome": row.auto_outcome,
        "add_to_new_campaigns": row.add_to_new_campaigns,
        "hidden": row.hidden,
        "active": row.active,
        "campaign_id": row.campaign_id,
    }


def _check_name(
    session: Session, name: str, campaign_id: int | None, exclude_id: int | None = None
) -> None:
    """Refuse a name another status of the scope has, in any case: the dictionary, or the
    dictionary and the campaign's own statuses. Compared in Python, since SQL lower() may
    fold only ASCII letters (Polish capitals would slip through)."""
    wanted = name_key(name)
    for other_id, other_name, other_campaign in session.exec(
        select(StatusDef.id, StatusDef.name, StatusDef.campaign_id)
    ):
        in_scope = other_campaign is None or (
            campaign_id is not None and other_campaign == campaign_id
        )
        if in_scope and other_id != exclude_id and name_key(other_name) == wanted:
            raise invalid("name", f"{name!r}: status {other_id} in this scope has this name")


# ------------------------------------------------------------------------- dictionary


@router.get("/statuses")
def statuses_list(user: Leader, ctx: Ctx) -> list[StatusOut]:
    """The status dictionary, by name (inactive and hidden statuses included)."""
    del user
    with ctx.session() as session:
        return [StatusOut(**status_out(row)) for row in list_statuses(session)]


@router.post("/statuses", status_code=201)
def statuses_create(body: StatusIn, user: Admin, ctx: Ctx) -> StatusOut:
    """Add a status to the dictionary."""
    with unique("name", body.name), ctx.session() as session, field_errors(StatusError):
        _check_name(session, body.name, None)
        row = create_status(
            session,
            name=body.name,
            system_status=body.system_status,
            auto_outcome=body.auto_outcome,
            add_to_new_campaigns=body.add_to_new_campaigns,
            hidden=body.hidden,
            active=body.active,
            actor=user.actor,
        )
        return StatusOut(**status_out(row))


_NOT_NULL = ("name", "system_status", "add_to_new_campaigns", "hidden", "active")


@router.patch("/statuses/{status_id}")
def statuses_edit(status_id: StatusId, body: StatusPatch, user: Admin, ctx: Ctx) -> StatusOut:
    """Change a status (dictionary or campaign-only): name, system status, flags."""
    changes = body.model_dump(exclude_unset=True)
    for key in _NOT_NULL:
        if key in changes and changes[key] is None:
            raise invalid(key, "a value (null is only allowed for auto_outcome)")
    with (
        unique("name", changes.get("name")),
        ctx.session() as session,
        field_errors(StatusError),
    ):
        current = session.get(StatusDef, status_id)
        if current is not None and changes.get("name"):
            _check_name(session, changes["name"], current.campaign_id, exclude_id=status_id)
        row = edit_status(session, status_id, actor=user.actor, **changes)
        return StatusOut(**status_out(row))


@router.delete("/statuses/{status_id}")
def statuses_deactivate(status_id: StatusId, user: Admin, ctx: Ctx) -> StatusOut:
    """Deactivate a status: agents no longer see it; records keep it."""
    with ctx.session() as session, field_errors(StatusError):
        row = deactivate_status(session, status_id, actor=user.actor)
        return StatusOut(**status_out(row))


# -------------------------------------------------------------------------- campaigns


@router.get("/campaigns/{campaign_id}/statuses")
def campaign_statuses_list(
    campaign_id: CampaignId, user: CurrentUser, ctx: Ctx
) -> list[StatusOut] | list[StatusBrief]:
    """The statuses a campaign offers, in order. An agent gets the active, visible ones
    of a running or paused campaign (403 for any other campaign)."""
    with ctx.session() as session:
        if user.role is Role.AGENT:
            row = session.get(Campaign, campaign_id)
            if row is None or row.state not in _AGENT_STATES:
                raise forbidden()
            return [
                StatusBrief(id=s.id or 0, name=s.name, system_status=SystemStatus(s.system_status))
                for s in campaign_statuses(session, campaign_id)
                if s.active and not s.hidden
            ]
        get_campaign(session, campaign_id)
        return [StatusOut(**status_out(s)) for s in campaign_statuses(session, campaign_id)]


def _check_order(session: Session, campaign_id: int, ids: list[int]) -> list[StatusDef]:
    offered = {row.id for row in campaign_statuses(session, campaign_id)}
    rows = []
    seen: set[int] = set()
    for i, status_id in enumerate(ids):
        if status_id in seen:
            raise invalid(f"status_ids.{i}", f"{status_id} is listed twice")
        seen.add(status_id)
        row = session.get(StatusDef, status_id)
        if row is None or row.campaign_id not in {None, campaign_id}:
            raise invalid(
                f"status_ids.{i}",
                f"{status_id} is neither a dictionary status nor one of this campaign's",
            )
        if row.id not in offered and not row.active:
            raise invalid(f"status_ids.{i}", f"{status_id} ({row.name}) is inactive")
        rows.append(row)
    return rows


@router.put("/campaigns/{campaign_id}/statuses")
def campaign_statuses_set(
    campaign_id: CampaignId, body: StatusOrderIn, user: Admin, ctx: Ctx
) -> list[StatusOut]:
    """Set which dictionary statuses a campaign offers and in what order."""
    ids = list(body.status_ids)
    with ctx.session() as session:
        campaign = get_campaign(session, campaign_id)
        _check_order(session, campaign_id, ids)
        current = campaign_statuses(session, campaign_id)
        for row in current:
            if row.campaign_id is None and row.id not in ids:
                if row.id == campaign.wrapup_default_status_id:
                    raise invalid(
                        "status_ids",
                        f"status {row.id} ({row.name}) is the campaign's wrap-up default: "
                        "change wrapup_default_status_id first",
                    )
                detach_status(session, campaign_id, row.id or 0, actor=user.actor)
        offered = {row.id for row in current}
        for i, status_id in enumerate(ids):
            if status_id in offered:
                continue
            try:
                attach_status(session, campaign_id, status_id, actor=user.actor)
            except (StatusError, StatusNotFoundError) as exc:
                raise invalid(f"status_ids.{i}", str(exc)) from exc
        links = {
            link.status_id: link
            for link in session.exec(
                select(CampaignStatus).where(CampaignStatus.campaign_id == campaign_id)
            )
        }
        order = ids + [
            row.id or 0 for row in current if row.campaign_id is not None and row.id not in ids
        ]
        for position, status_id in enumerate(order, start=1):
            links[status_id].position = position
            session.add(links[status_id])
        audit(
            session,
            actor=user.actor,
            action="campaign.status_order",
            entity="campaign",
            entity_id=campaign_id,
            details={"status_ids": order},
        )
        session.flush()
        return [StatusOut(**status_out(s)) for s in campaign_statuses(session, campaign_id)]


@router.post("/campaigns/{campaign_id}/statuses", status_code=201)
def campaign_statuses_create(
    campaign_id: CampaignId, body: CampaignStatusIn, user: Admin, ctx: Ctx
) -> StatusOut:
    """Add a status that only this campaign offers."""
    with unique("name", body.name), ctx.session() as session:
        get_campaign(session, campaign_id)
        _check_name(session, body.name, campaign_id)
        with field_errors(StatusError):
            row = create_status(
                session,
                name=body.name,
                system_status=body.system_status,
                auto_outcome=body.auto_outcome,
                hidden=body.hidden,
                active=body.active,
                campaign_id=campaign_id,
                actor=user.actor,
            )
        return StatusOut(**status_out(row))
