"""Callback requests made by websites and CRMs (issue 15 item 4, seed 000).

A *source* (a website widget, a CRM) holds an API key; only the key's SHA-256 is stored.
A request names a campaign and a number, and is either **ASAP** or **scheduled** at a time
given in the requester's zone. Accepting one makes the campaign's record of that number
(created if the campaign has none) a ``CALL_PROGRESSIVE`` record, due now or at the time:
the engine dials such a record only with a ready agent reserved for it first, so nobody who
asked for a call can be dropped.

Decisions (documented here and in the README):

- A scheduled time outside the campaign's hours or the person's calling window is
  **refused** (never silently moved), with the reason and the next time both are open;
  so is an ASAP request while either is closed.
- ASAP needs the campaign to be running; a scheduled one needs it running or paused.
- A request still waiting ``answer_within_s`` (per source) after its time — no agent
  became free to take it — ends *missed by agent*; cancelled and expired requests give the
  record back in the state it had before (a record the request created is parked as
  ``DO_NOT_CALL`` with no status, and a later request may wake it).
- A number on a DNC list, or a record an agent marked never to call, is refused.

States follow the seed: waiting → calling (dialed, agent reserved) → in progress
(connected) → answered; or missed by customer (no answer, busy, machine), carrier
failure (congestion, failure, invalid number), missed by agent (dropped, or expired);
cancelled by the requester. Each change is written when the engine's call fact arrives
(:func:`on_call_fact`), with a row in the request's history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from campaigns.dnc import is_on_dnc
from campaigns.enums import CampaignState, Outcome, SystemStatus
from campaigns.errors import CampaignError, CampaignNotFoundError
from campaigns.models import (
    AuditLog,
    CallbackRequest,
    CallbackRequestEvent,
    Campaign,
    Record,
    RequestSource,
)
from campaigns.phones import PhoneError, PhoneNormalizer, PhoneReason, check_region
from campaigns.selection import forget_zone_keys
from campaigns.service import campaign_hours
from campaigns.windows import CallingWindow, is_open, next_opening

_SOURCE = RequestSource.__table__  # type: ignore[attr-defined]
_REQ = CallbackRequest.__table__  # type: ignore[attr-defined]
_EVENT = CallbackRequestEvent.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]
_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]

KEY_PREFIX = "cbr_"
#: The largest row id (ids are PostgreSQL ``integer`` columns).
MAX_ID = 2**31 - 1
#: The farthest ahead a call may be scheduled.
MAX_AHEAD = dt.timedelta(days=60)
#: A scheduled time this far in the past is taken as "now" (clocks differ a little).
PAST_SLACK = dt.timedelta(minutes=2)
#: The record field that ties a record's next call to its request (read by the journal).
FIELD_REQUEST = "callback_request"
#: The record field naming the request's source (shown on the agent's screen).
FIELD_SOURCE = "request_source"


class RequestState(StrEnum):
    """A request's state (seed 000's call states)."""

    WAITING = "waiting"
    CALLING = "calling"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    MISSED_BY_AGENT = "missed_by_agent"
    MISSED_BY_CUSTOMER = "missed_by_customer"
    CARRIER_FAILURE = "carrier_failure"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({RequestState.WAITING, RequestState.CALLING, RequestState.IN_PROGRESS})


class RequestKind(StrEnum):
    """When the person wants the call."""

    ASAP = "asap"
    SCHEDULED = "scheduled"


class CallFact(StrEnum):
    """What the engine reports about a request's call."""

    DIALED = "dialed"
    CONNECTED = "connected"
    DROPPED = "dropped"
    REFUSED = "refused"
    FINISHED = "finished"


# ---------------------------------------------------------------------------- errors


class RequestError(CampaignError):
    """A callback request (or a source) refused: ``field`` names what is wrong."""

    error_id = "request_error"
    status = 422

    def __init__(self, field: str, message: str, **details: Any) -> None:
        self.field = field
        self.details = details
        super().__init__(f"{field}: {message}")


class SourceNotFoundError(RequestError):
    """No request source has this id or name."""

    error_id = "source_not_found"
    status = 404

    def __init__(self, key: object) -> None:
        super().__init__("source", f"request source {key!r} does not exist")


class RequestNotFoundError(RequestError):
    """No request of this id (for this source)."""

    error_id = "request_not_found"
    status = 404

    def __init__(self, request_id: int) -> None:
        super().__init__("id", f"callback request {request_id} does not exist for this source")


class RequestConflictError(RequestError):
    """Valid, but not possible in the present state (duplicate, call under way, ...)."""

    error_id = "request_conflict"
    status = 409


class OutsideHoursError(RequestError):
    """The time asked for is outside the campaign's hours or the person's window."""

    error_id = "outside_hours"


class OnDncError(RequestError):
    """The number may not be called (DNC list, or marked never to call)."""

    error_id = "do_not_call"


class InvalidPhoneError(RequestError):
    """The number is not a valid phone number."""

    error_id = "invalid_phone"


# ------------------------------------------------------------------------ pure rules


def next_state(
    state: RequestState, fact: CallFact, outcome: Outcome | None = None
) -> RequestState | None:
    """The state after ``fact`` (``outcome`` for FINISHED), or ``None`` for no change.

    A call given back without being placed (refused, cancelled before any answer) puts
    the request back to waiting; terminal states never change.
    """
    if state not in OPEN_STATES:
        return None
    if fact is CallFact.DIALED:
        return RequestState.CALLING if state is RequestState.WAITING else None
    if fact is CallFact.CONNECTED:
        return RequestState.IN_PROGRESS
    if fact is CallFact.DROPPED:
        return RequestState.MISSED_BY_AGENT
    if fact is CallFact.REFUSED:
        return RequestState.WAITING if state is RequestState.CALLING else None
    return _finished(state, outcome or Outcome.FAILED)


def _finished(state: RequestState, outcome: Outcome) -> RequestState | None:
    if outcome is Outcome.ANSWERED:
        if state is RequestState.IN_PROGRESS:
            return RequestState.ANSWERED
        return RequestState.MISSED_BY_AGENT  # answered, never bridged to the agent
    if outcome in {Outcome.CANCELLED, Outcome.NOT_PLACED}:
        return RequestState.WAITING if state is RequestState.CALLING else None
    if outcome is Outcome.DROPPED:
        return RequestState.MISSED_BY_AGENT
    if outcome in {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.MACHINE}:
        return RequestState.MISSED_BY_CUSTOMER
    return RequestState.CARRIER_FAILURE  # congestion, failed, invalid number


def key_hash(key: str) -> str:
    """The stored form of an API key (SHA-256: the key is random and long)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key: ``cbr_`` and 32 random URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(24)


def open_window_after(
    checks: Sequence[tuple[CallingWindow, str]], at: dt.datetime
) -> dt.datetime | None:
    """The first time ≥ ``at`` at which every (window, zone key) is open; None within two
    weeks."""
    t = at
    for _ in range(50):
        moved = False
        for window, key in checks:
            opening = next_opening(window, key, t)
            if opening is None:
                return None
            if opening > t:
                t, moved = opening, True
        if not moved:
            return t
    return None


# ------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class SourceView:
    """A request source as lists show it (never its key)."""

    id: int
    name: str
    key_prefix: str
    rate_per_min: int
    answer_within_s: int
    created_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


def _source_view(row: Any) -> SourceView:
    return SourceView(
        id=int(row.id),
        name=str(row.name),
        key_prefix=str(row.key_prefix),
        rate_per_min=int(row.rate_per_min),
        answer_within_s=int(row.answer_within_s),
        created_by=str(row.created_by),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


def _audit(
    conn: sa.Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    now: dt.datetime,
    **details: Any,
) -> None:
    conn.execute(
        sa.insert(_AUDIT).values(
            at=now,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            details=details,
        )
    )


def create_source(
    db: sa.Engine,
    name: str,
    *,
    actor: str,
    now: dt.datetime,
    rate_per_min: int = 30,
    answer_within_s: int = 900,
) -> tuple[SourceView, str]:
    """A new source and its API key (the only time the key is seen)."""
    name = name.strip()
    if not name or len(name) > 120:
        raise RequestError("name", "give the source a name of 1 to 120 characters")
    if not 1 <= rate_per_min <= 10_000:
        raise RequestError("rate_per_min", f"{rate_per_min} is not between 1 and 10000")
    if not 60 <= answer_within_s <= 7 * 86_400:
        raise RequestError(
            "answer_within_s", f"{answer_within_s} is not between 60 and 604800 seconds"
        )
    key = new_key()
    with db.begin() as conn:
        taken = conn.execute(sa.select(_SOURCE.c.id).where(_SOURCE.c.name == name)).first()
        if taken is not None:
            raise RequestConflictError("name", f"a source named {name!r} exists already")
        source_id = conn.execute(
            sa.insert(_SOURCE)
            .values(
                name=name,
                key_hash=key_hash(key),
                key_prefix=key[: len(KEY_PREFIX) + 6],
                rate_per_min=rate_per_min,
                answer_within_s=answer_within_s,
                created_by=actor,
                created_at=now,
            )
            .returning(_SOURCE.c.id)
        ).scalar_one()
        _audit(
            conn,
            actor=actor,
            action="create",
            entity="request_source",
            entity_id=source_id,
            now=now,
            name=name,
        )
        row = conn.execute(sa.select(_SOURCE).where(_SOURCE.c.id == source_id)).one()
    return _source_view(row), key


def list_sources(db: sa.Engine) -> list[SourceView]:
    """Every source, active first, by name."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(_SOURCE).order_by(_SOURCE.c.revoked_at.is_not(None), _SOURCE.c.name)
        ).all()
    return [_source_view(r) for r in rows]


def find_source(db: sa.Engine, key: int | str) -> SourceView:
    """A source by id or name (SourceNotFoundError otherwise)."""
    with db.connect() as conn:
        where = _SOURCE.c.name == str(key)
        as_id = _as_id(key)
        if as_id is not None:
            where = sa.or_(where, _SOURCE.c.id == as_id)
        row = conn.execute(sa.select(_SOURCE).where(where)).first()
    if row is None:
        raise SourceNotFoundError(key)
    return _source_view(row)


def revoke_source(db: sa.Engine, key: int | str, *, actor: str, now: dt.datetime) -> SourceView:
    """Revoke a source's key: every later call with it is refused (401)."""
    source = find_source(db, key)
    if not source.active:
        return source
    with db.begin() as conn:
        conn.execute(
            sa.update(_SOURCE)
            .where(_SOURCE.c.id == source.id)
            .values(revoked_at=now, revoked_by=actor)
        )
        _audit(
            conn,
            actor=actor,
            action="revoke",
            entity="request_source",
            entity_id=source.id,
            now=now,
            name=source.name,
        )
    return find_source(db, source.id)


def source_for_key(db: sa.Engine, key: str) -> SourceView | None:
    """The active source of an API key, or None (unknown or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    with db.connect() as conn:
        row = conn.execute(sa.select(_SOURCE).where(_SOURCE.c.key_hash == key_hash(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return _source_view(row)


# ------------------------------------------------------------------------ requests


@dataclass(frozen=True, slots=True)
class Asked:
    """A callback request as the requester sent it (checked by :func:`create_request`)."""

    campaign: int | str
    phone: str
    name: str = ""
    at: dt.datetime | None = None
    """None: ASAP. Naive: a wall time in ``timezone``."""
    timezone: str | None = None
    region: str | None = None
    note: str = ""
    external_ref: str = ""


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request as the API, the pages and MQTT show it."""

    id: int
    source_id: int
    source: str
    campaign_id: int
    campaign: str
    record_id: int
    phone: str
    name: str
    kind: str
    due_at: dt.datetime
    requester_tz: str
    state: str
    agent_id: int | None
    agent: str | None
    call_id: str | None
    attempts: int
    reason: str
    note: str
    external_ref: str
    created_at: dt.datetime
    updated_at: dt.datetime
    dialed_at: dt.datetime | None
    connected_at: dt.datetime | None
    ended_at: dt.datetime | None
    history: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """The JSON form (times as ISO 8601 UTC)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        out["due_local"] = _local(self.due_at, self.requester_tz)
        return out


def _local(at: dt.datetime, tz: str) -> str:
    try:
        return at.astimezone(ZoneInfo(tz)).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        return at.isoformat()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RequestError(
            "timezone", f"{name!r} is not a known time zone (an IANA name such as Europe/Warsaw)"
        ) from None


def _as_id(key: int | str) -> int | None:
    """``key`` as a row id when it can be one (a positive 32-bit integer), else None."""
    text = str(key).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _campaign_row(conn: sa.Connection, key: int | str) -> Any:
    where = _CAMPAIGN.c.name == str(key)
    as_id = _as_id(key)
    if as_id is not None:
        where = sa.or_(_CAMPAIGN.c.id == as_id, where)
    row = conn.execute(sa.select(_CAMPAIGN).where(where)).first()
    if row is None:
        raise CampaignNotFoundError(key)
    return row


def _due(asked: Asked, now: dt.datetime) -> tuple[RequestKind, dt.datetime, str]:
    """Kind, due time (UTC) and the requester's zone of a request."""
    tz_name = asked.timezone or "UTC"
    zone = _zone(tz_name)
    if asked.at is None:
        return RequestKind.ASAP, now, tz_name
    at = asked.at
    if at.tzinfo is None:
        if asked.timezone is None:
            raise RequestError(
                "at", "a time without a UTC offset needs 'timezone' (e.g. Europe/Warsaw)"
            )
        at = at.replace(tzinfo=zone)
    try:
        due = at.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise RequestError("at", f"{at.isoformat()} is out of range") from None
    if due < now - PAST_SLACK:
        raise RequestError("at", f"{at.isoformat()} is in the past")
    if due > now + MAX_AHEAD:
        raise RequestError("at", f"{at.isoformat()} is more than {MAX_AHEAD.days} days ahead")
    return RequestKind.SCHEDULED, max(due, now), tz_name


def _windows(campaign: Any, zone_key: str) -> list[tuple[CallingWindow, str, str]]:
    """(window, zone key, what it is) that must all be open for a call to the person."""
    person = CallingWindow.parse(campaign.window_start, campaign.window_end, campaign.window_days)
    out = [(person, zone_key, "the person's calling window")]
    hours = campaign_hours(campaign.hours_start, campaign.hours_end, campaign.hours_days)
    if hours is not None:
        out.insert(0, (hours, campaign.hours_tz, "the campaign's hours"))
    return out


def create_request(
    db: sa.Engine, source: SourceView, asked: Asked, *, now: dt.datetime
) -> RequestView:
    """Accept a request: validate it, make its record due for a reserved agent, write it.

    Raises a :class:`RequestError` (or CampaignNotFoundError) naming the field; nothing
    is written then.
    """
    kind, due, tz_name = _due(asked, now)
    name = asked.name.strip()[:200]
    with db.begin() as conn:
        campaign = _campaign_row(conn, asked.campaign)
        state = CampaignState(campaign.state)
        if kind is RequestKind.ASAP and state is not CampaignState.RUNNING:
            raise RequestConflictError(
                "campaign",
                f"campaign {campaign.name!r} is {state.value}: an ASAP call needs it running"
                " (ask for a time instead)",
            )
        if state not in {CampaignState.RUNNING, CampaignState.PAUSED}:
            raise RequestConflictError(
                "campaign", f"campaign {campaign.name!r} is {state.value}: it takes no requests"
            )
        region = check_region(asked.region) if asked.region else str(campaign.default_region)
        normalizer = PhoneNormalizer(region, fallback_tz=campaign.default_tz or "UTC")
        normalized = normalizer.normalize(asked.phone)
        if isinstance(normalized, PhoneReason):
            error = PhoneError(asked.phone, normalized, region)
            raise InvalidPhoneError("phone", str(error).removeprefix("phone: "))
        phone = normalized.e164
        if is_on_dnc(conn, phone, int(campaign.id), now):
            raise OnDncError("phone", f"{phone} is on a do-not-call list")
        record = conn.execute(
            sa.select(_RECORD).where(_RECORD.c.campaign_id == campaign.id, _RECORD.c.phone == phone)
        ).first()
        if record is not None:
            _check_record(conn, record, now)
        zone_key = record.tz if record is not None else normalized.zone_key
        checks = _windows(campaign, zone_key)
        closed = [what for window, key, what in checks if not is_open(window, key, due)]
        if closed:
            opens = open_window_after([(w, k) for w, k, _ in checks], due)
            when = "now" if kind is RequestKind.ASAP else f"at {due.isoformat()}"
            hint = f"; next open at {opens.isoformat()}" if opens else ""
            raise OutsideHoursError(
                "at",
                f"{' and '.join(closed)} {'is' if len(closed) == 1 else 'are'} closed {when}"
                + hint,
                next_open_at=opens.isoformat() if opens else None,
            )
        source_name = source.name
        if record is None:
            record_id = conn.execute(
                sa.insert(_RECORD)
                .values(
                    campaign_id=campaign.id,
                    phone=phone,
                    name=name,
                    tz=zone_key,
                    fields={},
                    system_status=SystemStatus.DO_NOT_CALL.value,
                    attempts=0,
                    created_at=now,
                )
                .returning(_RECORD.c.id)
            ).scalar_one()
            prior: dict[str, Any] = {"record_created": True}
            attempts, fields = 0, {}
        else:
            record_id = int(record.id)
            prior = {
                "record_created": False,
                "prior_status": record.system_status,
                "prior_next_call_at": record.next_call_at,
                "prior_attempts": record.attempts,
            }
            attempts, fields = int(record.attempts), dict(record.fields or {})
        request_id = conn.execute(
            sa.insert(_REQ)
            .values(
                source_id=source.id,
                campaign_id=campaign.id,
                record_id=record_id,
                phone=phone,
                name=name,
                kind=kind.value,
                due_at=due,
                requester_tz=tz_name,
                state=RequestState.WAITING.value,
                external_ref=asked.external_ref[:120],
                note=asked.note[:500],
                attempts=0,
                reason="",
                created_at=now,
                updated_at=now,
                **prior,
            )
            .returning(_REQ.c.id)
        ).scalar_one()
        fields.update({FIELD_REQUEST: int(request_id), FIELD_SOURCE: source_name})
        conn.execute(
            sa.update(_RECORD)
            .where(_RECORD.c.id == record_id)
            .values(
                system_status=SystemStatus.CALL_PROGRESSIVE.value,
                next_call_at=None if kind is RequestKind.ASAP else due,
                # One more attempt is always possible: the person asked for this call.
                attempts=min(attempts, max(0, int(campaign.max_attempts) - 1)),
                fields=fields,
                **({"name": name} if name and record is None else {}),
            )
        )
        _event(conn, int(request_id), RequestState.WAITING, now, f"{kind.value} from {source_name}")
    if record is None:
        # A new record may bring a zone key the claim's cache does not know yet.
        forget_zone_keys(int(campaign.id))
    return get_request(db, int(request_id))


def _check_record(conn: sa.Connection, record: Any, now: dt.datetime) -> None:
    """Refuse a request on a record that may not be called or is busy."""
    if record.system_status == SystemStatus.DO_NOT_CALL.value and record.status_id is not None:
        raise OnDncError("phone", f"{record.phone} is marked never to call in this campaign")
    open_one = conn.execute(
        sa.select(_REQ.c.id).where(
            _REQ.c.record_id == record.id,
            _REQ.c.state.in_([s.value for s in OPEN_STATES]),
        )
    ).first()
    if open_one is not None:
        raise RequestConflictError(
            "phone",
            f"{record.phone} has an open callback request already (id {open_one.id})",
            request_id=int(open_one.id),
        )
    if record.lease_expires_at is not None and record.lease_expires_at > now:
        raise RequestConflictError("phone", f"{record.phone} is being called right now")


def _event(
    conn: sa.Connection,
    request_id: int,
    state: RequestState,
    now: dt.datetime,
    detail: str = "",
    *,
    agent_id: int | None = None,
    call_id: str | None = None,
) -> None:
    conn.execute(
        sa.insert(_EVENT).values(
            request_id=request_id,
            at=now,
            state=state.value,
            detail=detail,
            agent_id=agent_id,
            call_id=call_id,
        )
    )


def _give_back(conn: sa.Connection, req: Any, now: dt.datetime) -> bool:
    """Return the record to its state before the request, unless a call holds it now.

    False when the record is leased (being dialed): the caller must not close the request.
    """
    record = conn.execute(sa.select(_RECORD).where(_RECORD.c.id == req.record_id)).one()
    fields = {
        k: v for k, v in dict(record.fields or {}).items() if k not in {FIELD_REQUEST, FIELD_SOURCE}
    }
    if req.record_created:
        values: dict[str, Any] = {
            "system_status": SystemStatus.DO_NOT_CALL.value,
            "next_call_at": None,
        }
    else:
        values = {
            "system_status": req.prior_status,
            "next_call_at": req.prior_next_call_at,
            "attempts": max(int(record.attempts), int(req.prior_attempts or 0)),
        }
    done = conn.execute(
        sa.update(_RECORD)
        .where(
            _RECORD.c.id == req.record_id,
            sa.or_(_RECORD.c.lease_expires_at.is_(None), _RECORD.c.lease_expires_at <= now),
        )
        .values(fields=fields, **values)
    ).rowcount
    return bool(done)


def _set_state(
    conn: sa.Connection,
    req: Any,
    state: RequestState,
    now: dt.datetime,
    detail: str,
    **values: Any,
) -> bool:
    """Move the request from the state it was read in (``req.state``) to ``state``, with
    a history row; False, writing nothing, when another writer changed it meanwhile."""
    if state not in OPEN_STATES:
        values.setdefault("ended_at", now)
    moved = conn.execute(
        sa.update(_REQ)
        .where(_REQ.c.id == req.id, _REQ.c.state == req.state)
        .values(state=state.value, updated_at=now, **values)
    ).rowcount
    if not moved:
        return False
    _event(
        conn,
        int(req.id),
        state,
        now,
        detail,
        agent_id=values.get("agent_id", req.agent_id),
        call_id=values.get("call_id", req.call_id),
    )
    return True


class _RacedError(Exception):
    """Another writer changed a request under way: the whole change is rolled back."""


def cancel_request(
    db: sa.Engine,
    request_id: int,
    *,
    source_id: int | None,
    actor: str,
    now: dt.datetime,
) -> RequestView:
    """Cancel a waiting request (its record is never dialed for it). ``source_id``: only
    that source's requests (None: any, for staff). A request being called or ended is
    refused with 409; cancelling a cancelled one again is a no-op."""
    with db.begin() as conn:
        query = sa.select(_REQ).where(_REQ.c.id == request_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        req = conn.execute(query).first()
        if req is None or (source_id is not None and req.source_id != source_id):
            raise RequestNotFoundError(request_id)
        if req.state == RequestState.CANCELLED.value:
            pass
        elif (
            req.state != RequestState.WAITING.value
            or not _give_back(conn, req, now)
            or not _set_state(
                conn,
                req,
                RequestState.CANCELLED,
                now,
                f"cancelled by {actor}",
                reason=f"cancelled by {actor}",
            )
        ):
            raise RequestConflictError(
                "id",
                f"request {request_id} is {req.state.replace('_', ' ')}"
                f"{' (being dialed)' if req.state == 'waiting' else ''}: it can no longer"
                " be cancelled",
            )
        else:
            _audit(
                conn,
                actor=actor,
                action="cancel",
                entity="callback_request",
                entity_id=request_id,
                now=now,
            )
    return get_request(db, request_id)


def on_call_fact(
    db: sa.Engine,
    request_id: int,
    fact: CallFact,
    *,
    call_id: str,
    agent_id: int | None,
    now: dt.datetime,
    outcome: Outcome | None = None,
    detail: str = "",
) -> RequestView | None:
    """Apply one call fact of the engine to the request; the new view, or None when the
    state did not change (an unrelated call of the same record, a repeated fact)."""
    with db.begin() as conn:
        req = conn.execute(sa.select(_REQ).where(_REQ.c.id == request_id)).first()
        if req is None:
            return None
        if fact is not CallFact.DIALED and req.call_id not in {None, call_id}:
            return None  # a later call of the record, not the request's
        state = next_state(RequestState(req.state), fact, outcome)
        if state is None:
            return None
        values: dict[str, Any] = {"call_id": call_id}
        if agent_id is not None:
            values["agent_id"] = agent_id
        if fact is CallFact.DIALED:
            values.update(dialed_at=now, attempts=int(req.attempts) + 1)
        elif fact is CallFact.CONNECTED:
            values["connected_at"] = now
        if state is not RequestState.WAITING and state not in OPEN_STATES:
            values["reason"] = detail or (outcome.value if outcome else fact.value)
        text = detail or (outcome.value if outcome else fact.value)
        if not _set_state(conn, req, state, now, text, **values):
            return None
        if state not in OPEN_STATES:
            _untag(conn, int(req.record_id), request_id)
    return get_request(db, request_id)


def _untag(conn: sa.Connection, record_id: int, request_id: int) -> None:
    """The request is over: its record's next calls are the campaign's own again."""
    fields = conn.execute(sa.select(_RECORD.c.fields).where(_RECORD.c.id == record_id)).scalar()
    fields = dict(fields or {})
    if fields.get(FIELD_REQUEST) == request_id:
        fields.pop(FIELD_REQUEST, None)
        fields.pop(FIELD_SOURCE, None)
        conn.execute(sa.update(_RECORD).where(_RECORD.c.id == record_id).values(fields=fields))


def expire_overdue(db: sa.Engine, *, now: dt.datetime) -> list[RequestView]:
    """Waiting requests whose time plus their source's ``answer_within_s`` has passed:
    missed by agent (nobody became free in time); their records are given back."""
    ended: list[int] = []
    try:
        ended = _expire(db, now)
    except _RacedError:  # a call or a cancel got there first: the next run looks again
        return []
    return [get_request(db, i) for i in ended]


def _expire(db: sa.Engine, now: dt.datetime) -> list[int]:
    ended: list[int] = []
    with db.begin() as conn:
        rows = conn.execute(
            sa.select(_REQ, _SOURCE.c.answer_within_s)
            .join(_SOURCE, _SOURCE.c.id == _REQ.c.source_id)
            .where(_REQ.c.state == RequestState.WAITING.value, _REQ.c.due_at <= now)
        ).all()
        for req in rows:
            if req.due_at + dt.timedelta(seconds=int(req.answer_within_s)) > now:
                continue
            if not _give_back(conn, req, now):
                continue  # being dialed this very moment: its call decides
            if not _set_state(
                conn,
                req,
                RequestState.MISSED_BY_AGENT,
                now,
                "no agent took it in time",
                reason=f"no agent free within {int(req.answer_within_s)} s",
            ):
                raise _RacedError
            ended.append(int(req.id))
    return ended


# ------------------------------------------------------------------------- reading


def _view_query() -> sa.Select[Any]:
    agent = sa.table("agent", sa.column("id"), sa.column("login"), sa.column("name"))
    return (
        sa.select(
            _REQ,
            _SOURCE.c.name.label("source_name"),
            _CAMPAIGN.c.name.label("campaign_name"),
            sa.func.coalesce(sa.func.nullif(agent.c.name, ""), agent.c.login).label("agent_name"),
        )
        .join(_SOURCE, _SOURCE.c.id == _REQ.c.source_id)
        .join(_CAMPAIGN, _CAMPAIGN.c.id == _REQ.c.campaign_id)
        .outerjoin(agent, agent.c.id == _REQ.c.agent_id)
    )


def _view(row: Any, history: list[dict[str, Any]] | None = None) -> RequestView:
    return RequestView(
        id=int(row.id),
        source_id=int(row.source_id),
        source=str(row.source_name),
        campaign_id=int(row.campaign_id),
        campaign=str(row.campaign_name),
        record_id=int(row.record_id),
        phone=str(row.phone),
        name=str(row.name),
        kind=str(row.kind),
        due_at=row.due_at,
        requester_tz=str(row.requester_tz),
        state=str(row.state),
        agent_id=row.agent_id,
        agent=row.agent_name,
        call_id=row.call_id,
        attempts=int(row.attempts),
        reason=str(row.reason),
        note=str(row.note),
        external_ref=str(row.external_ref),
        created_at=row.created_at,
        updated_at=row.updated_at,
        dialed_at=row.dialed_at,
        connected_at=row.connected_at,
        ended_at=row.ended_at,
        history=history or [],
    )


def get_request(db: sa.Engine, request_id: int, *, source_id: int | None = None) -> RequestView:
    """One request with its history (RequestNotFoundError; also for another source's)."""
    with db.connect() as conn:
        row = conn.execute(_view_query().where(_REQ.c.id == request_id)).first()
        if row is None or (source_id is not None and row.source_id != source_id):
            raise RequestNotFoundError(request_id)
        events = conn.execute(
            sa.select(_EVENT).where(_EVENT.c.request_id == request_id).order_by(_EVENT.c.id)
        ).all()
    history = [
        {
            "at": e.at.isoformat(),
            "state": e.state,
            "detail": e.detail,
            "agent_id": e.agent_id,
            "call_id": e.call_id,
        }
        for e in events
    ]
    return _view(row, history)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """What the requests list shows: period of creation, state, source, campaign, scope."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    states: tuple[str, ...] = ()
    source_id: int | None = None
    campaign_id: int | None = None
    scope: frozenset[int] | None = None
    """Agents whose requests the reader sees (None: all)."""


def _where(f: RequestFilter) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    if f.start is not None:
        out.append(_REQ.c.created_at >= f.start)
    if f.end is not None:
        out.append(_REQ.c.created_at < f.end)
    if f.states:
        out.append(_REQ.c.state.in_(list(f.states)))
    if f.source_id is not None:
        out.append(_REQ.c.source_id == f.source_id)
    if f.campaign_id is not None:
        out.append(_REQ.c.campaign_id == f.campaign_id)
    if f.scope is not None:
        out.append(_REQ.c.agent_id.in_(sorted(f.scope)))
    return out


def list_requests(
    db: sa.Engine, f: RequestFilter, *, offset: int = 0, limit: int = 50
) -> tuple[list[RequestView], int]:
    """A page of requests, newest first, and how many match."""
    where = _where(f)
    with db.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(_REQ).where(*where)
        ).scalar_one()
        rows = conn.execute(
            _view_query()
            .where(*where)
            .order_by(_REQ.c.created_at.desc(), _REQ.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    return [_view(r) for r in rows], int(total)


def iter_requests(db: sa.Engine, f: RequestFilter, *, limit: int) -> Iterable[RequestView]:
    """Every matching request, newest first, up to ``limit`` (exports)."""
    with db.connect() as conn:
        rows = conn.execute(
            _view_query()
            .where(*_where(f))
            .order_by(_REQ.c.created_at.desc(), _REQ.c.id.desc())
            .limit(limit)
        ).all()
    return [_view(r) for r in rows]


def stats_by_source(db: sa.Engine, f: RequestFilter) -> list[dict[str, Any]]:
    """Per source: requests in the filter, by state, and the share answered among those
    that ended (cancelled ones left out)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(_SOURCE.c.id, _SOURCE.c.name, _REQ.c.state, sa.func.count())
            .join(_SOURCE, _SOURCE.c.id == _REQ.c.source_id)
            .where(*_where(f))
            .group_by(_SOURCE.c.id, _SOURCE.c.name, _REQ.c.state)
        ).all()
    by: dict[int, dict[str, Any]] = {}
    for source_id, name, state, n in rows:
        entry = by.setdefault(
            int(source_id),
            {"source_id": int(source_id), "source": name, "total": 0}
            | {s.value: 0 for s in RequestState},
        )
        entry[state] = entry.get(state, 0) + int(n)
        entry["total"] += int(n)
    out = []
    for entry in sorted(by.values(), key=lambda e: e["source"]):
        ended = sum(
            entry[s.value]
            for s in RequestState
            if s not in OPEN_STATES and s is not RequestState.CANCELLED
        )
        entry["answered_rate"] = round(entry["answered"] / ended, 4) if ended else None
        out.append(entry)
    return out
