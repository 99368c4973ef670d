"""The status dictionary and each campaign's statuses (DESIGN §2), with an audit trail.

A *dictionary* status (``campaign_id`` NULL) can be attached to many campaigns; a
*campaign-only* status belongs to one campaign and never appears in the dictionary. Two
dictionary statuses exist from the start: *Dzwonić* (``TO_CALL``) and *Nie dzwonić*
(``DO_NOT_CALL``), both added to every new campaign unless a supervisor unticks that. A
status flagged "add to every new campaign" is attached to each campaign created
afterwards. A status "set automatically when" a telephony outcome happens is what the
status engine gives a record after that outcome; so that this is never ambiguous, one
outcome maps to at most one active status in a scope (the dictionary, or one campaign's
statuses).

Every change is written to the audit log in the caller's transaction; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigns.enums import AUTO_OUTCOMES, Outcome, SystemStatus
from campaigns.errors import CampaignError
from campaigns.models import AuditLog, Campaign, CampaignStatus, StatusDef

DEFAULT_STATUSES: tuple[tuple[str, SystemStatus], ...] = (
    ("Dzwonić", SystemStatus.TO_CALL),
    ("Nie dzwonić", SystemStatus.DO_NOT_CALL),
)
NAME_MAX = 120


class StatusError(CampaignError):
    """A status cannot be created, changed or attached as asked."""

    error_id = "invalid_status"

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: {value!r} is not valid, expected {expected}")


class StatusNotFoundError(CampaignError):
    """No status has this name or id (in the scope looked at)."""

    error_id = "status_not_found"

    def __init__(self, key: object, known: Iterable[str]) -> None:
        self.key = key
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"status {key!r} does not exist; known statuses: {names}")


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit log row for a change (committed with the change)."""
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details=details or {},
        )
    )


# ------------------------------------------------------------------------- validation


def parse_system_status(value: str | SystemStatus) -> SystemStatus:
    """A system status from its name in any case (``to_call``, ``TO_CALL``)."""
    if isinstance(value, SystemStatus):
        return value
    try:
        return SystemStatus(value.strip().upper().replace("-", "_"))
    except ValueError:
        allowed = ", ".join(status.value for status in SystemStatus)
        raise StatusError("system_status", value, f"one of {allowed}") from None


def parse_auto_outcome(value: str | Outcome | None) -> Outcome | None:
    """A telephony outcome a status may be set automatically on, or None."""
    if value is None or value == "":
        return None
    try:
        outcome = Outcome(str(value).strip().lower().replace("-", "_"))
    except ValueError:
        outcome = None
    if outcome not in AUTO_OUTCOMES:
        allowed = ", ".join(item.value for item in AUTO_OUTCOMES)
        raise StatusError("auto_outcome", value, f"one of {allowed} (or none)")
    return outcome


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > NAME_MAX:
        raise StatusError("name", name, f"1 to {NAME_MAX} characters")
    return cleaned


def _check_auto(system_status: SystemStatus, auto_outcome: Outcome | None) -> None:
    if auto_outcome is not None and system_status is SystemStatus.MY_RECORD:
        raise StatusError(
            "auto_outcome",
            auto_outcome.value,
            "none for a MY_RECORD status (only an agent can own a record)",
        )


def _scope_statuses(session: Session, campaign_id: int | None) -> list[StatusDef]:
    """Statuses sharing a scope: the dictionary, or one campaign's attached + own ones."""
    if campaign_id is None:
        return list(session.exec(select(StatusDef).where(col(StatusDef.campaign_id).is_(None))))
    return campaign_statuses(session, campaign_id)


def name_key(name: str) -> str:
    """How status names are compared: any case (Unicode), spaces collapsed (not SQL
    ``lower()``, which folds only ASCII on SQLite)."""
    return " ".join(name.split()).casefold()


def _check_unique(
    session: Session,
    *,
    name: str,
    campaign_id: int | None,
    auto_outcome: Outcome | None,
    active: bool,
    exclude_id: int | None = None,
) -> None:
    names = select(StatusDef)
    if campaign_id is None:
        names = names.where(col(StatusDef.campaign_id).is_(None))
    else:  # a campaign-only status may not shadow a dictionary one either
        names = names.where(
            sa.or_(col(StatusDef.campaign_id).is_(None), col(StatusDef.campaign_id) == campaign_id)
        )
    wanted = name_key(name)
    for other in session.exec(names):
        if other.id != exclude_id and name_key(other.name) == wanted:
            raise StatusError("name", name, "a name no other status in this scope has")
    if auto_outcome is None or not active:
        return
    for other in _scope_statuses(session, campaign_id):
        if other.id != exclude_id and other.active and other.auto_outcome == auto_outcome.value:
            raise StatusError(
                "auto_outcome",
                auto_outcome.value,
                f"an outcome no other active status uses (status {other.name!r} already does)",
            )


# ------------------------------------------------------------------------- dictionary


def ensure_defaults(session: Session, *, actor: str = "system") -> list[StatusDef]:
    """Create the default dictionary statuses that are missing; returns those created."""
    created = []
    for name, system_status in DEFAULT_STATUSES:
        exists = session.exec(
            select(StatusDef).where(StatusDef.name == name, col(StatusDef.campaign_id).is_(None))
        ).first()
        if exists is None:
            created.append(
                create_status(
                    session,
                    name=name,
                    system_status=system_status,
                    add_to_new_campaigns=True,
                    actor=actor,
                )
            )
    return created


def create_status(
    session: Session,
    *,
    name: str,
    system_status: str | SystemStatus,
    actor: str,
    auto_outcome: str | Outcome | None = None,
    add_to_new_campaigns: bool = False,
    hidden: bool = False,
    active: bool = True,
    campaign_id: int | None = None,
) -> StatusDef:
    """Add a dictionary status, or a campaign-only one when ``campaign_id`` is given."""
    clean = _clean_name(name)
    status = parse_system_status(system_status)
    outcome = parse_auto_outcome(auto_outcome)
    _check_auto(status, outcome)
    if campaign_id is not None:
        if session.get(Campaign, campaign_id) is None:
            raise StatusError("campaign_id", campaign_id, "an existing campaign")
        if add_to_new_campaigns:
            raise StatusError("add_to_new_campaigns", True, "false for a campaign-only status")
    _check_unique(session, name=clean, campaign_id=campaign_id, auto_outcome=outcome, active=active)
    row = StatusDef(
        name=clean,
        system_status=status,
        auto_outcome=None if outcome is None else outcome.value,
        add_to_new_campaigns=add_to_new_campaigns,
        hidden=hidden,
        active=active,
        campaign_id=campaign_id,
    )
    session.add(row)
    session.flush()
    if campaign_id is not None:
        _attach(session, campaign_id, row)
    audit(
        session,
        actor=actor,
        action="status.create",
        entity="status_def",
        entity_id=row.id,
        details=_describe(row),
    )
    return row


def _describe(row: StatusDef) -> dict[str, Any]:
    return {
        "name": row.name,
        "system_status": str(row.system_status),
        "auto_outcome": row.auto_outcome,
        "add_to_new_campaigns": row.add_to_new_campaigns,
        "hidden": row.hidden,
        "active": row.active,
        "campaign_id": row.campaign_id,
    }


def list_statuses(
    session: Session, *, include_inactive: bool = True, include_hidden: bool = True
) -> list[StatusDef]:
    """The dictionary statuses, by name."""
    query = select(StatusDef).where(col(StatusDef.campaign_id).is_(None))
    if not include_inactive:
        query = query.where(StatusDef.active == True)  # noqa: E712
    if not include_hidden:
        query = query.where(StatusDef.hidden == False)  # noqa: E712
    return sorted(session.exec(query), key=lambda row: row.name.lower())


def get_status(session: Session, key: str | int, *, campaign_id: int | None = None) -> StatusDef:
    """A dictionary status (or one of the campaign's) by id or by name, any case."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        row = session.get(StatusDef, int(key))
        if row is not None and row.campaign_id in (None, campaign_id):
            return row
    else:
        query = select(StatusDef)
        if campaign_id is None:
            query = query.where(col(StatusDef.campaign_id).is_(None))
        else:
            query = query.where(
                sa.or_(
                    col(StatusDef.campaign_id).is_(None), col(StatusDef.campaign_id) == campaign_id
                )
            )
        wanted = name_key(key)
        found = next((r for r in session.exec(query) if name_key(r.name) == wanted), None)
        if found is not None:
            return found
    scope = _scope_statuses(session, campaign_id) if campaign_id else list_statuses(session)
    raise StatusNotFoundError(key, (row.name for row in scope))


_EDITABLE = frozenset(
    {"name", "system_status", "auto_outcome", "add_to_new_campaigns", "hidden", "active"}
)


def edit_status(session: Session, status_id: int, *, actor: str, **changes: Any) -> StatusDef:
    """Change fields of a status (name, system_status, auto_outcome, flags)."""
    unknown = sorted(set(changes) - _EDITABLE)
    if unknown:
        raise StatusError("field", unknown[0], f"one of {', '.join(sorted(_EDITABLE))}")
    row = session.get(StatusDef, status_id)
    if row is None:
        raise StatusNotFoundError(status_id, (item.name for item in list_statuses(session)))
    before = _describe(row)
    name = _clean_name(changes["name"]) if "name" in changes else row.name
    status = parse_system_status(changes.get("system_status", row.system_status))
    outcome = parse_auto_outcome(changes.get("auto_outcome", row.auto_outcome))
    active = bool(changes.get("active", row.active))
    _check_auto(status, outcome)
    if row.campaign_id is not None and changes.get("add_to_new_campaigns"):
        raise StatusError("add_to_new_campaigns", True, "false for a campaign-only status")
    _check_unique(
        session,
        name=name,
        campaign_id=row.campaign_id,
        auto_outcome=outcome,
        active=active,
        exclude_id=row.id,
    )
    row.name = name
    row.system_status = status
    row.auto_outcome = None if outcome is None else outcome.value
    row.active = active
    for flag in ("add_to_new_campaigns", "hidden"):
        if flag in changes:
            setattr(row, flag, bool(changes[flag]))
    session.add(row)
    session.flush()
    after = _describe(row)
    changed = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    audit(
        session,
        actor=actor,
        action="status.edit",
        entity="status_def",
        entity_id=row.id,
        details={"changed": changed},
    )
    return row


def deactivate_status(session: Session, status_id: int, *, actor: str) -> StatusDef:
    """Mark a status inactive: agents no longer see it; records keep it."""
    return edit_status(session, status_id, actor=actor, active=False)


# -------------------------------------------------------------------------- campaigns


def campaign_statuses(session: Session, campaign_id: int) -> list[StatusDef]:
    """The statuses offered in a campaign (dictionary ones attached + its own), in order."""
    rows = session.exec(
        select(StatusDef, CampaignStatus.position)
        .join(CampaignStatus, col(CampaignStatus.status_id) == col(StatusDef.id))
        .where(CampaignStatus.campaign_id == campaign_id)
        .order_by(col(CampaignStatus.position), col(StatusDef.id))
    )
    return [row for row, _position in rows]


def _attach(session: Session, campaign_id: int, row: StatusDef) -> CampaignStatus:
    last = session.exec(
        select(sa.func.max(CampaignStatus.position)).where(
            CampaignStatus.campaign_id == campaign_id
        )
    ).one()
    if row.id is None:
        msg = "status must be flushed before it is attached"
        raise RuntimeError(msg)
    link = CampaignStatus(campaign_id=campaign_id, status_id=row.id, position=(last or 0) + 1)
    session.add(link)
    session.flush()
    return link


def attach_status(
    session: Session, campaign_id: int, status_key: str | int, *, actor: str
) -> StatusDef:
    """Offer a dictionary status in a campaign (no-op if it is already offered)."""
    if session.get(Campaign, campaign_id) is None:
        raise StatusError("campaign_id", campaign_id, "an existing campaign")
    row = get_status(session, status_key)
    current = campaign_statuses(session, campaign_id)
    if any(item.id == row.id for item in current):
        return row
    if row.auto_outcome is not None and row.active:
        for other in current:
            if other.active and other.auto_outcome == row.auto_outcome:
                raise StatusError(
                    "auto_outcome",
                    row.auto_outcome,
                    f"an outcome no other status of the campaign uses ({other.name!r} does)",
                )
    _attach(session, campaign_id, row)
    audit(
        session,
        actor=actor,
        action="campaign.status_attach",
        entity="campaign",
        entity_id=campaign_id,
        details={"status_id": row.id, "status": row.name},
    )
    return row


def detach_status(session: Session, campaign_id: int, status_key: str | int, *, actor: str) -> None:
    """Stop offering a dictionary status in a campaign."""
    row = get_status(session, status_key, campaign_id=campaign_id)
    link = session.get(CampaignStatus, (campaign_id, row.id))
    if link is None:
        raise StatusNotFoundError(
            status_key, (item.name for item in campaign_statuses(session, campaign_id))
        )
    session.delete(link)
    audit(
        session,
        actor=actor,
        action="campaign.status_detach",
        entity="campaign",
        entity_id=campaign_id,
        details={"status_id": row.id, "status": row.name},
    )


def attach_new_campaign_statuses(
    session: Session, campaign_id: int, *, actor: str
) -> list[StatusDef]:
    """Attach every active dictionary status flagged "add to every new campaign"."""
    flagged = session.exec(
        select(StatusDef)
        .where(
            col(StatusDef.campaign_id).is_(None),
            StatusDef.add_to_new_campaigns == True,  # noqa: E712
            StatusDef.active == True,  # noqa: E712
        )
        .order_by(col(StatusDef.id))
    )
    return [attach_status(session, campaign_id, row.id or 0, actor=actor) for row in flagged]
