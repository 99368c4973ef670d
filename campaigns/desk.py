"""What the agent's desk reads and claims: a record's history and card (the screen pop),
and one record claimed for one agent at once (preview, "call back now", a manual number).

Plain functions over a connection or engine; the dialer calls them. A dial that may not be
placed is refused with :class:`DeskDialRefusedError`, whose ``reason`` is a stable code a
page translates and whose message says the same in words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from campaigns.dnc import is_on_dnc
from campaigns.enums import SystemStatus
from campaigns.errors import CampaignError, CampaignNotFoundError
from campaigns.models import Agent, CallLog, Campaign, ContactList, Record, StatusDef
from campaigns.phones import PhoneNormalizer, PhoneReason
from campaigns.selection import ClaimedRecord, Tier
from campaigns.windows import CallingWindow, is_open

_R = Record.__table__.c  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]
_LOG = CallLog.__table__  # type: ignore[attr-defined]
_AGENT = Agent.__table__  # type: ignore[attr-defined]
_STATUS = StatusDef.__table__  # type: ignore[attr-defined]
_LIST = ContactList.__table__  # type: ignore[attr-defined]
_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]

#: Every reason a desk dial is refused with (this module's and the engine's), which the
#: desk says in the user's language.
DIAL_REFUSAL_REASONS = (
    "not_ready",
    "stopped",
    "outside_hours",
    "no_line",
    "other_campaign",
    "in_flight",
    "dnc",
    "do_not_call",
    "not_owner",
    "max_attempts",
    "outside_window",
    "invalid_number",
    "no_preview",
)

#: The list a manually dialed number is added to when its campaign has no record of it.
MANUAL_LIST = "Manual dials"


class DeskDialRefusedError(CampaignError):
    """A record (or number) an agent asked to dial may not be dialed now."""

    error_id = "dial_refused"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class PastCall:
    """One earlier attempt on a record, as the screen pop lists it."""

    dial_at: dt.datetime
    agent: str | None
    outcome: str | None
    status: str | None
    system_status: str | None
    note: str
    talk_s: float | None


@dataclass(frozen=True, slots=True)
class RecordCard:
    """What the screen pop shows beside the record's fields."""

    record_id: int
    list_name: str | None
    status: str | None
    system_status: str
    attempts: int
    owner: str | None
    """The callback's owner (an agent's name), when the record is someone's MY_RECORD."""
    next_call_at: dt.datetime | None
    callback_note: str | None
    """The note of the call that booked the callback."""
    history: list[PastCall]


def record_history(
    conn: sa.Connection, record_id: int, *, limit: int = 20, exclude_call: str | None = None
) -> list[PastCall]:
    """The record's attempts, newest first (``exclude_call``: the call now on the desk)."""
    query = (
        sa.select(
            _LOG.c.dial_at,
            _AGENT.c.name.label("agent"),
            _LOG.c.outcome,
            _STATUS.c.name.label("status"),
            _LOG.c.system_status,
            _LOG.c.note,
            _LOG.c.talk_s,
        )
        .select_from(
            _LOG.outerjoin(_AGENT, _AGENT.c.id == _LOG.c.agent_id).outerjoin(
                _STATUS, _STATUS.c.id == _LOG.c.status_id
            )
        )
        .where(_LOG.c.record_id == record_id)
        .order_by(_LOG.c.dial_at.desc(), _LOG.c.id.desc())
        .limit(limit)
    )
    if exclude_call is not None:
        query = query.where(sa.or_(_LOG.c.channel_id.is_(None), _LOG.c.channel_id != exclude_call))
    return [
        PastCall(
            dial_at=row.dial_at,
            agent=row.agent,
            outcome=row.outcome,
            status=row.status,
            system_status=row.system_status,
            note=row.note or "",
            talk_s=row.talk_s,
        )
        for row in conn.execute(query)
    ]


def record_card(
    conn: sa.Connection, record_id: int, *, exclude_call: str | None = None
) -> RecordCard | None:
    """The record's list, status, callback owner and note, and its history (None when the
    record does not exist)."""
    row = conn.execute(
        sa.select(
            _R.id,
            _R.system_status,
            _R.attempts,
            _R.next_call_at,
            _R.owner_agent_id,
            _LIST.c.name.label("list_name"),
            _STATUS.c.name.label("status"),
            _AGENT.c.name.label("owner"),
        )
        .select_from(
            _RECORD.outerjoin(_LIST, _LIST.c.id == _R.list_id)
            .outerjoin(_STATUS, _STATUS.c.id == _R.status_id)
            .outerjoin(_AGENT, _AGENT.c.id == _R.owner_agent_id)
        )
        .where(_R.id == record_id)
    ).first()
    if row is None:
        return None
    history = record_history(conn, record_id, exclude_call=exclude_call)
    callback = row.system_status == SystemStatus.MY_RECORD.value
    note = None
    if callback:
        note = next(
            (c.note for c in history if c.system_status == SystemStatus.MY_RECORD.value), None
        )
    return RecordCard(
        record_id=row.id,
        list_name=row.list_name,
        status=row.status,
        system_status=row.system_status,
        attempts=row.attempts,
        owner=row.owner if callback else None,
        next_call_at=row.next_call_at if callback else None,
        callback_note=note,
        history=history,
    )


def _refuse(reason: str, message: str) -> DeskDialRefusedError:
    return DeskDialRefusedError(reason, message)


def claim_for_agent(
    db: sa.Engine,
    record_id: int,
    agent_id: int,
    now: dt.datetime,
    *,
    campaign_id: int,
    engine_id: str,
    lease_s: float,
    exclude_records: Collection[int] = (),
    exclude_phones: Collection[str] = (),
) -> ClaimedRecord:
    """Lease record ``record_id`` of ``campaign_id`` for one dial with ``agent_id`` reserved,
    now, whatever its due time (an agent calling back earlier than booked).

    Refused (DeskDialRefusedError) when the record is in another campaign, on a DNC list,
    DO_NOT_CALL, over max attempts, being called, outside the person's calling window, or
    a callback owned by another agent. The attempt is counted, as by any claim.
    """
    with db.begin() as conn:
        campaign = conn.execute(sa.select(_CAMPAIGN).where(_CAMPAIGN.c.id == campaign_id)).first()
        if campaign is None:
            raise CampaignNotFoundError(campaign_id)
        row = conn.execute(sa.select(_RECORD).where(_R.id == record_id)).mappings().first()
        if row is None or row["campaign_id"] != campaign_id:
            why = f"record {record_id} is not a record of campaign {campaign.name!r}"
            raise _refuse("other_campaign", why)
        phone = row["phone"]
        if record_id in exclude_records or phone in exclude_phones:
            raise _refuse("in_flight", f"{phone} is being called already")
        if is_on_dnc(conn, phone, campaign_id, now):
            raise _refuse("dnc", f"{phone} is on a do-not-call list")
        status = SystemStatus(row["system_status"])
        if status is SystemStatus.DO_NOT_CALL:
            raise _refuse("do_not_call", f"{phone} has the status do not call")
        if status is SystemStatus.MY_RECORD and row["owner_agent_id"] not in (None, agent_id):
            raise _refuse("not_owner", f"{phone} is another agent's callback")
        if row["attempts"] >= campaign.max_attempts:
            why = f"{phone} has had its {campaign.max_attempts} attempts (the campaign's maximum)"
            raise _refuse("max_attempts", why)
        lease = row["lease_expires_at"]
        if lease is not None and lease.replace(tzinfo=lease.tzinfo or dt.UTC) > now:
            raise _refuse("in_flight", f"{phone} is being called already")
        window = CallingWindow.parse(
            campaign.window_start, campaign.window_end, campaign.window_days
        )
        if not is_open(window, row["tz"], now):
            why = (
                f"it is outside {phone}'s calling window ({campaign.window_start}–"
                f"{campaign.window_end} in {row['tz']})"
            )
            raise _refuse("outside_window", why)
        expires = now + dt.timedelta(seconds=lease_s)
        free = sa.or_(_R.lease_expires_at.is_(None), _R.lease_expires_at <= now)
        taken = (
            conn.execute(
                sa.update(_RECORD)
                .where(_R.id == record_id, free)
                .values(lease_owner=engine_id, lease_expires_at=expires, attempts=_R.attempts + 1)
                .returning(*_R)
            )
            .mappings()
            .first()
        )
        if taken is None:
            raise _refuse("in_flight", f"{phone} is being called already")
    tier = Tier.MY_RECORD if status is SystemStatus.MY_RECORD else Tier.PROGRESSIVE
    return ClaimedRecord(
        id=taken["id"],
        campaign_id=taken["campaign_id"],
        phone=taken["phone"],
        name=taken["name"],
        tz=taken["tz"],
        fields=dict(taken["fields"] or {}),
        system_status=SystemStatus(taken["system_status"]),
        status_id=taken["status_id"],
        attempts=taken["attempts"],
        owner_agent_id=taken["owner_agent_id"],
        reserved_agent_id=agent_id,
        tier=tier,
        lease_owner=engine_id,
        lease_expires_at=expires,
    )


def record_for_number(db: sa.Engine, campaign_id: int, raw: str) -> int:
    """The id of the campaign's record of the number ``raw`` (typed by an agent), created
    in the campaign's "Manual dials" list when there is none. Refused (reason
    ``invalid_number``) with the reason when ``raw`` is not a valid number."""
    with db.begin() as conn:
        campaign = conn.execute(sa.select(_CAMPAIGN).where(_CAMPAIGN.c.id == campaign_id)).first()
        if campaign is None:
            raise CampaignNotFoundError(campaign_id)
        normal = PhoneNormalizer(campaign.default_region, fallback_tz=campaign.default_tz or "UTC")
        result = normal.normalize(raw)
        if isinstance(result, PhoneReason):
            why = f"{raw.strip()[:40]!r} is not a valid number ({result.value.replace('_', ' ')})"
            raise _refuse("invalid_number", why)
        found = conn.execute(
            sa.select(_R.id).where(_R.campaign_id == campaign_id, _R.phone == result.e164)
        ).scalar()
        if found is not None:
            return int(found)
        list_id = conn.execute(
            sa.select(_LIST.c.id).where(
                _LIST.c.campaign_id == campaign_id, _LIST.c.name == MANUAL_LIST
            )
        ).scalar()
        if list_id is None:
            list_id = conn.execute(
                sa.insert(_LIST)
                .values(
                    campaign_id=campaign_id, name=MANUAL_LIST, source="desk", created_at=now_utc()
                )
                .returning(_LIST.c.id)
            ).scalar_one()
        values: dict[str, Any] = {
            "campaign_id": campaign_id,
            "list_id": list_id,
            "phone": result.e164,
            "name": "",
            "tz": result.zone_key,
            "fields": {},
            "system_status": SystemStatus.TO_CALL.value,
            "attempts": 0,
            "created_at": now_utc(),
        }
        return int(conn.execute(sa.insert(_RECORD).values(**values).returning(_R.id)).scalar_one())


def now_utc() -> dt.datetime:
    """The wall clock's aware UTC time."""
    return dt.datetime.now(dt.UTC)
