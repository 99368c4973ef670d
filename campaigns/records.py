"""What a supervisor does to records by hand: edit, set a status, reassign or release a
callback, call next, park and unpark — one record or many, each change audited.

The rules are pure (:func:`plan`, :func:`apply_status_by_hand` take a record's state and
return the change or the reason it is refused); :func:`act` and :func:`set_status` load the
rows, apply the rules and write the records and one ``AuditLog`` row per changed record in
one transaction. A record that one action may not take is skipped with its reason; the
others are changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from campaigns.dispositions import RecordNotFoundError, _option, load_rules, state_of
from campaigns.enums import SystemStatus
from campaigns.errors import CampaignError
from campaigns.models import Agent, AuditLog, Record, StatusDef
from campaigns.selection import forget_zone_keys
from campaigns.status_engine import (
    CampaignRules,
    RecordState,
    RuleRefusal,
    StatusOption,
    StatusRuleError,
    check_status_choice,
)
from campaigns.windows import WindowError, check_zone

_RECORD = Record.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]
_STATUS = StatusDef.__table__  # type: ignore[attr-defined]
_AGENT = Agent.__table__  # type: ignore[attr-defined]

#: Records one bulk action may change at most (a larger selection is refused, not cut).
MAX_BULK = 10_000
#: Custom fields a record may carry, and the longest key and value.
MAX_FIELDS = 100
MAX_FIELD_KEY = 64
MAX_FIELD_VALUE = 2000


class RecordAction(StrEnum):
    """A supervisor's action on records."""

    REASSIGN = "reassign"
    """Give MY_RECORD callbacks to another agent."""
    RELEASE = "release"
    """Free MY_RECORD callbacks from their owner: anyone calls them (NOT_BEFORE, same time)."""
    CALL_NEXT = "call_next"
    """Due now and first in the queue."""
    PARK = "park"
    """Never dialed until unparked."""
    UNPARK = "unpark"
    """Back in the queue where its state puts it."""


class Skip(StrEnum):
    """Why an action left a record as it was."""

    NOT_A_CALLBACK = "not_a_callback"
    SAME_OWNER = "same_owner"
    DO_NOT_CALL = "do_not_call"
    PARKED = "parked"
    NOT_PARKED = "not_parked"
    MAX_ATTEMPTS = "max_attempts"
    IN_FLIGHT = "in_flight"
    ALREADY_NEXT = "already_next"


class RecordActionError(CampaignError):
    """An action on records cannot be done as asked (names the field and the fix)."""

    error_id = "record_action_refused"

    def __init__(self, field: str, problem: str, expected: str) -> None:
        self.field = field
        self.problem = problem
        self.expected = expected
        super().__init__(f"{field}: {problem}; {expected}")


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did: the records changed and those skipped, with why."""

    action: RecordAction
    changed: list[int] = field(default_factory=list)
    skipped: dict[int, Skip] = field(default_factory=dict)


# ---------------------------------------------------------------------- the rules, pure


def plan(
    state: RecordState,
    action: RecordAction,
    now: dt.datetime,
    rules: CampaignRules,
    *,
    agent_id: int | None = None,
) -> dict[str, Any] | Skip:
    """The columns ``action`` changes on a record in ``state`` at ``now``, or why not."""
    status = state.system_status
    in_flight = state.lease_expires_at is not None and state.lease_expires_at > now
    if action is RecordAction.PARK:
        return Skip.PARKED if state.parked else {"parked": True}
    if action is RecordAction.UNPARK:
        return {"parked": False} if state.parked else Skip.NOT_PARKED
    if action in {RecordAction.REASSIGN, RecordAction.RELEASE}:
        if status is not SystemStatus.MY_RECORD:
            return Skip.NOT_A_CALLBACK
        if action is RecordAction.RELEASE:
            return {
                "system_status": SystemStatus.NOT_BEFORE,
                "status_id": None,
                "owner_agent_id": None,
            }
        if agent_id == state.owner_agent_id:
            return Skip.SAME_OWNER
        return {"owner_agent_id": agent_id}
    # CALL_NEXT
    if status is SystemStatus.DO_NOT_CALL:
        return Skip.DO_NOT_CALL
    if state.parked:
        return Skip.PARKED
    if state.attempts >= rules.max_attempts:
        return Skip.MAX_ATTEMPTS
    if in_flight:
        return Skip.IN_FLIGHT
    if state.call_next_at is not None:
        return Skip.ALREADY_NEXT
    due = state.next_call_at if state.next_call_at is None or state.next_call_at <= now else now
    if status in {SystemStatus.MY_RECORD, SystemStatus.CALL_PROGRESSIVE}:
        # Reserved-agent records come first for their agent anyway: make them due now.
        return {"next_call_at": due if due is not None else now}
    return {"next_call_at": due, "call_next_at": now}


def apply_status_by_hand(
    state: RecordState,
    status: StatusOption,
    now: dt.datetime,
    rules: CampaignRules,
    *,
    owner_agent_id: int | None,
    date: dt.datetime | None,
) -> RecordState:
    """The record's next state when a supervisor sets ``status`` by hand (no call made).

    The campaign's rules hold as for an agent's status (offered, active, a date in the
    future for MY_RECORD / NOT_BEFORE and none for the others, attempts left for a dated
    status), except that a supervisor may reopen a DO_NOT_CALL record. MY_RECORD needs the
    agent who will own the callback. A record in flight is refused. The last outcome and
    call time stay: no call was made.
    """
    if state.lease_expires_at is not None and state.lease_expires_at > now:
        raise StatusRuleError(
            "status_id",
            "the record is being called right now",
            "try again after the call",
            code=RuleRefusal.BEING_CALLED,
        )
    offered = check_status_choice(status, rules, state, now, date, by_supervisor=True)
    target = offered.system_status
    if target is SystemStatus.MY_RECORD and owner_agent_id is None:
        raise StatusRuleError(
            "owner_agent_id",
            f"status {offered.name!r} needs the agent who owns the callback",
            "choose an agent",
            code=RuleRefusal.NEEDS_OWNER,
            params={"status": offered.name},
        )
    base = replace(state, system_status=target, status_id=offered.id, call_next_at=None)
    if target is SystemStatus.MY_RECORD:
        return replace(base, owner_agent_id=owner_agent_id, next_call_at=date)
    if target is SystemStatus.NOT_BEFORE:
        return replace(base, owner_agent_id=None, next_call_at=date)
    return replace(base, owner_agent_id=None, next_call_at=None)


# ---------------------------------------------------------------------- the database side


def _audit(
    conn: sa.Connection, rows: Sequence[Mapping[str, Any]], *, actor: str, action: str
) -> None:
    if rows:
        conn.execute(
            sa.insert(_AUDIT),
            [
                {
                    "at": row["at"],
                    "actor": actor,
                    "action": action,
                    "entity": "record",
                    "entity_id": str(row["id"]),
                    "details": row["details"],
                }
                for row in rows
            ],
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def _columns(changes: Mapping[str, Any], now: dt.datetime, actor: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "parked":
            out["parked_at"] = now if value else None
            out["parked_by"] = actor[:64] if value else None
        elif key == "system_status":
            out[key] = value.value
        else:
            out[key] = value
    return out


def _names(conn: sa.Connection, details: dict[str, Any]) -> dict[str, Any]:
    """Audit details with status and owner ids shown by name (``status``, ``owner``)."""
    out = dict(details)
    for key, table, column, label in (
        ("status_id", _STATUS, _STATUS.c.name, "status"),
        ("owner_agent_id", _AGENT, _AGENT.c.login, "owner"),
    ):
        change = out.pop(key, None)
        if change is None:
            continue
        ids = [v for v in (change["from"], change["to"]) if v is not None]
        rows = conn.execute(sa.select(table.c.id, column).where(table.c.id.in_(ids)))
        names: dict[Any, Any] = {row[0]: row[1] for row in rows}
        out[label] = {"from": names.get(change["from"]), "to": names.get(change["to"])}
    return out


def _agent_exists(conn: sa.Connection, agent_id: int) -> None:
    if conn.execute(sa.select(_AGENT.c.id).where(_AGENT.c.id == agent_id)).first() is None:
        raise RecordActionError("agent_id", f"no agent with id {agent_id}", "choose an agent")


def act(
    engine: sa.Engine,
    campaign_id: int,
    record_ids: Sequence[int],
    action: RecordAction,
    *,
    actor: str,
    now: dt.datetime,
    agent_id: int | None = None,
) -> ActionResult:
    """Do ``action`` to the campaign's ``record_ids`` (one transaction, audited per record).

    ``agent_id``: the new owner for REASSIGN. Ids not in the campaign raise
    ``RecordNotFoundError`` (nothing changed).
    """
    if action is RecordAction.REASSIGN and agent_id is None:
        raise RecordActionError("agent_id", "reassigning needs an agent", "choose an agent")
    ids = sorted(set(record_ids))
    if len(ids) > MAX_BULK:
        raise RecordActionError(
            "records",
            f"{len(ids)} records selected",
            f"act on at most {MAX_BULK} at a time (narrow the filters)",
        )
    result = ActionResult(action)
    audits: list[dict[str, Any]] = []
    with engine.begin() as conn:
        if agent_id is not None:
            _agent_exists(conn, agent_id)
        rules, _auto = load_rules(conn, campaign_id)
        rows: dict[int, Any] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in conn.execute(
                sa.select(_RECORD)
                .where(_RECORD.c.id.in_(chunk), _RECORD.c.campaign_id == campaign_id)
                .with_for_update()
            ):
                rows[row.id] = row
        missing = [rid for rid in ids if rid not in rows]
        if missing:
            raise RecordNotFoundError(missing[0])
        for rid in ids:
            row = rows[rid]
            before = state_of(row)
            planned = plan(before, action, now, rules, agent_id=agent_id)
            if isinstance(planned, Skip):
                result.skipped[rid] = planned
                continue
            values = _columns(planned, now, actor)
            conn.execute(sa.update(_RECORD).where(_RECORD.c.id == rid).values(**values))
            result.changed.append(rid)
            details = {
                key: {"from": _jsonable(getattr(row, key)), "to": _jsonable(value)}
                for key, value in values.items()
                if key != "parked_by"
            }
            audits.append({"id": rid, "at": now, "details": _names(conn, details)})
        _audit(conn, audits, actor=actor, action=f"record.{action.value}")
    if action in {RecordAction.CALL_NEXT, RecordAction.UNPARK, RecordAction.RELEASE}:
        forget_zone_keys(campaign_id)  # callable now: claims look again at once
    return result


def set_status(
    engine: sa.Engine,
    record_id: int,
    status_id: int,
    *,
    actor: str,
    now: dt.datetime,
    owner_agent_id: int | None = None,
    date: dt.datetime | None = None,
    note: str = "",
) -> RecordState:
    """Set a status on a record by hand (see :func:`apply_status_by_hand`), audited."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(_RECORD).where(_RECORD.c.id == record_id).with_for_update()
        ).first()
        if row is None:
            raise RecordNotFoundError(record_id)
        if owner_agent_id is not None:
            _agent_exists(conn, owner_agent_id)
        rules, _auto = load_rules(conn, row.campaign_id)
        status_row = conn.execute(sa.select(_STATUS).where(_STATUS.c.id == status_id)).first()
        if status_row is None:
            raise StatusRuleError(
                "status_id",
                f"no status with id {status_id}",
                "choose one",
                code=RuleRefusal.NO_STATUS,
                params={"id": status_id},
            )
        before = state_of(row)
        state = apply_status_by_hand(
            before, _option(status_row), now, rules, owner_agent_id=owner_agent_id, date=date
        )
        values = {
            "system_status": state.system_status.value,
            "status_id": state.status_id,
            "owner_agent_id": state.owner_agent_id,
            "next_call_at": state.next_call_at,
            "call_next_at": None,
        }
        conn.execute(sa.update(_RECORD).where(_RECORD.c.id == record_id).values(**values))
        details: dict[str, Any] = {
            key: {"from": _jsonable(getattr(row, key)), "to": _jsonable(value)}
            for key, value in values.items()
            if getattr(row, key) != value
        }
        details = _names(conn, details)
        details.setdefault("status", {"from": None, "to": status_row.name})
        if note:
            details["note"] = note
        _audit(
            conn,
            [{"id": record_id, "at": now, "details": details}],
            actor=actor,
            action="record.status_by_hand",
        )
    forget_zone_keys(row.campaign_id)
    return state


def check_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Custom fields as stored: text keys and values within the limits, or the field named."""
    if len(fields) > MAX_FIELDS:
        raise RecordActionError("fields", f"{len(fields)} fields", f"at most {MAX_FIELDS}")
    out: dict[str, str] = {}
    for key, value in fields.items():
        name = str(key).strip()
        if not name or len(name) > MAX_FIELD_KEY:
            raise RecordActionError(
                "fields", f"field name {name!r}", f"1 to {MAX_FIELD_KEY} characters"
            )
        text = "" if value is None else str(value)
        if len(text) > MAX_FIELD_VALUE:
            raise RecordActionError(
                f"fields.{name}", f"{len(text)} characters", f"at most {MAX_FIELD_VALUE}"
            )
        out[name] = text
    return out


def edit(
    engine: sa.Engine,
    record_id: int,
    *,
    actor: str,
    now: dt.datetime,
    name: str | None = None,
    tz: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Change a record's name, zone key or custom fields; returns what changed (audited)."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name.strip()
    if tz is not None:
        try:
            values["tz"] = " ".join(check_zone(part) for part in tz.split())
        except WindowError as exc:
            raise RecordActionError("tz", str(exc), "an IANA zone such as Europe/Warsaw") from exc
        if not values["tz"]:
            raise RecordActionError("tz", "empty", "an IANA zone such as Europe/Warsaw")
    if fields is not None:
        values["fields"] = check_fields(fields)
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(_RECORD).where(_RECORD.c.id == record_id).with_for_update()
        ).first()
        if row is None:
            raise RecordNotFoundError(record_id)
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            return {}
        conn.execute(sa.update(_RECORD).where(_RECORD.c.id == record_id).values(**changed))
        details = {k: {"from": getattr(row, k), "to": v} for k, v in changed.items()}
        _audit(
            conn,
            [{"id": record_id, "at": now, "details": details}],
            actor=actor,
            action="record.edit",
        )
    if "tz" in changed:
        forget_zone_keys(row.campaign_id)
    return changed
