"""Campaigns: create with validated rules, list, find, and summarize their records.

Rules are validated by :class:`CampaignRules` (pydantic); an error names the field and
what is expected. Creating a campaign attaches the dictionary statuses flagged "add to
every new campaign" and writes the audit log; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from campaigns.enums import DialMode, Outcome, OwnerAbsentPolicy, PreviewTimeout, SystemStatus
from campaigns.errors import CampaignError, CampaignNotFoundError
from campaigns.models import Campaign, DncEntry, Record, StatusDef
from campaigns.statuses import (
    attach_new_campaign_statuses,
    audit,
    campaign_statuses,
    name_key,
)
from campaigns.windows import CallingWindow, WindowError, check_zone, open_zone_keys

#: Outcomes that use an attempt have a retry delay; CANCELLED and NOT_PLACED give it back.
RETRY_KEYS = (
    "default",
    *(o.value for o in Outcome if o not in {Outcome.CANCELLED, Outcome.NOT_PLACED}),
)


class CampaignRulesError(CampaignError):
    """A campaign cannot be created or changed as asked."""

    error_id = "invalid_campaign"

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: {value!r} is not valid, expected {expected}")


class CampaignRules(BaseModel):
    """The rules of a campaign, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    pacing_profile: str = Field(default="predictive", min_length=1, max_length=120)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_delays_s: dict[str, int] = Field(
        default_factory=lambda: {"default": 3600, "busy": 600, "no_answer": 1800}
    )
    window_start: str = "09:00"
    window_end: str = "20:00"
    window_days: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    default_region: str = Field(default="PL", min_length=2, max_length=2)
    default_tz: str | None = None
    owner_absent_policy: OwnerAbsentPolicy = OwnerAbsentPolicy.KEEP_WAITING
    owner_absent_release_min: int = Field(default=30, ge=0, le=7 * 24 * 60)
    max_wait_s: float = Field(default=2.0, gt=0, le=10)
    wrapup_timeout_s: int = Field(default=120, ge=0, le=3600)
    caller_id: str | None = None
    hours_start: str | None = None
    hours_end: str | None = None
    hours_days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    hours_tz: str = "UTC"
    dial_mode: DialMode = DialMode.PREDICTIVE
    preview_timeout_s: int = Field(default=0, ge=0, le=3600)
    preview_timeout_action: PreviewTimeout = PreviewTimeout.SKIP

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        cleaned = " ".join(value.split())
        if not cleaned:
            msg = "a non-empty name"
            raise ValueError(msg)
        return cleaned

    @field_validator("retry_delays_s")
    @classmethod
    def _retry(cls, value: dict[str, int]) -> dict[str, int]:
        for key, seconds in value.items():
            if key not in RETRY_KEYS:
                msg = f"keys among {', '.join(RETRY_KEYS)}, not {key!r}"
                raise ValueError(msg)
            if seconds < 0:
                msg = f"a delay ≥ 0 seconds for {key!r}, not {seconds}"
                raise ValueError(msg)
        return dict(sorted(value.items()))

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            msg = f"an ISO 3166 region code phonenumbers knows (e.g. PL, GB, US), not {value!r}"
            raise ValueError(msg)
        return region

    @field_validator("default_tz", "hours_tz")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_zone(value)
        except WindowError as exc:
            msg = "an IANA time zone such as Europe/Warsaw"
            raise ValueError(msg) from exc

    @field_validator("caller_id")
    @classmethod
    def _caller_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            msg = "an E.164 number such as +48221234567"
            raise ValueError(msg) from exc
        if not phonenumbers.is_valid_number(number):
            msg = "a valid E.164 number such as +48221234567"
            raise ValueError(msg)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def window(self) -> CallingWindow:
        """The calling window (raises WindowError naming the bad field)."""
        return CallingWindow.parse(self.window_start, self.window_end, self.window_days)

    def hours(self) -> CallingWindow | None:
        """The campaign's own operating hours, or None (raises WindowError on a bad field)."""
        return campaign_hours(self.hours_start, self.hours_end, self.hours_days)


def campaign_hours(start: str | None, end: str | None, days: Sequence[int]) -> CallingWindow | None:
    """Operating hours from a campaign's columns (both ends, or neither)."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise WindowError(
            "hours_start" if start is None else "hours_end", None, "both ends of the hours"
        )
    try:
        return CallingWindow.parse(start, end, days)
    except WindowError as exc:
        field = {"window_start": "hours_start", "window_end": "hours_end"}.get(
            exc.field, "hours_days"
        )
        raise WindowError(field, exc.value, str(exc).split("expected ", 1)[-1]) from exc


def validate_rules(**values: Any) -> CampaignRules:
    """Rules from keyword values, or a CampaignRulesError naming the first bad field."""
    try:
        rules = CampaignRules(**values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first["loc"]) or "campaign"
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"one of {', '.join(CampaignRules.model_fields)}"
        raise CampaignRulesError(key, first.get("input"), message) from exc
    try:
        rules.window()
        rules.hours()
    except WindowError as exc:
        raise CampaignRulesError(exc.field, exc.value, str(exc).split("expected ", 1)[-1]) from exc
    return rules


def create_campaign(session: Session, rules: CampaignRules, *, actor: str) -> Campaign:
    """Create a campaign; attach the "add to every new campaign" statuses; audit it."""
    wanted = name_key(rules.name)
    if any(name_key(row.name) == wanted for row in session.exec(select(Campaign))):
        raise CampaignRulesError("name", rules.name, "a name no other campaign has")
    values = rules.model_dump()
    values["window_days"] = sorted(set(values["window_days"]))
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    if campaign.id is None:
        msg = "campaign has no id after flush"
        raise RuntimeError(msg)
    audit(
        session,
        actor=actor,
        action="campaign.create",
        entity="campaign",
        entity_id=campaign.id,
        details=rules.model_dump(mode="json"),
    )
    attach_new_campaign_statuses(session, campaign.id, actor=actor)
    return campaign


def list_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, by name."""
    return sorted(session.exec(select(Campaign)), key=lambda row: row.name.lower())


def get_campaign(session: Session, key: str | int) -> Campaign:
    """A campaign by id or by name (any case), or CampaignNotFoundError listing names."""
    found: Campaign | None = None
    if isinstance(key, int) or key.isdigit():
        found = session.get(Campaign, int(key))
    if found is None and isinstance(key, str):
        wanted = name_key(key)
        found = next(
            (r for r in session.exec(select(Campaign)) if name_key(r.name) == wanted), None
        )
    if found is None:
        raise CampaignNotFoundError(key, [row.name for row in list_campaigns(session)])
    return found


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """Where a campaign's records stand at ``now``."""

    campaign: Campaign
    statuses: list[StatusDef]
    total: int
    by_system_status: dict[str, int]
    due_now: int
    """Callable right now: due, window open, not in flight, not DNC, attempts left."""
    waiting: int
    """Will be callable later: a retry, NOT_BEFORE or callback time still ahead."""
    outside_window: int
    """Due, but their calling window is closed at ``now``."""
    in_flight: int
    dnc: int
    exhausted: int
    open_zones: list[str] = field(default_factory=list)
    closed_zones: list[str] = field(default_factory=list)
    parked: int = 0
    """Parked by a supervisor (not dialed until unparked)."""


def summarize(session: Session, campaign: Campaign, now: dt.datetime) -> CampaignSummary:
    """Count a campaign's records by system status and by callability at ``now``."""
    cid = campaign.id
    by_status = {
        str(status): count
        for status, count in session.exec(
            select(Record.system_status, sa.func.count())
            .where(Record.campaign_id == cid)
            .group_by(col(Record.system_status))
        )
    }
    window = CallingWindow.parse(campaign.window_start, campaign.window_end, campaign.window_days)
    zones = sorted(
        session.exec(select(Record.tz).where(Record.campaign_id == cid).distinct()).all()
    )
    open_zones = open_zone_keys(window, zones, now)
    dnc_hit = sa.exists(
        select(DncEntry.id).where(
            col(DncEntry.phone) == col(Record.phone),
            sa.or_(col(DncEntry.campaign_id).is_(None), col(DncEntry.campaign_id) == cid),
            sa.or_(col(DncEntry.expires_at).is_(None), col(DncEntry.expires_at) > now),
        )
    )
    leased = sa.and_(col(Record.lease_expires_at).is_not(None), col(Record.lease_expires_at) > now)
    exhausted = col(Record.attempts) >= campaign.max_attempts
    callable_status = col(Record.system_status).in_(
        [s.value for s in SystemStatus if s is not SystemStatus.DO_NOT_CALL]
    )
    due = sa.or_(col(Record.next_call_at).is_(None), col(Record.next_call_at) <= now)
    in_open = col(Record.tz).in_(open_zones) if open_zones else sa.false()
    parked = col(Record.parked_at).is_not(None)
    live = sa.and_(callable_status, ~exhausted, ~dnc_hit, ~parked)

    def count(*conditions: Any) -> int:
        query = select(sa.func.count()).select_from(Record).where(Record.campaign_id == cid)
        return int(session.exec(query.where(*conditions)).one())

    return CampaignSummary(
        campaign=campaign,
        statuses=campaign_statuses(session, cid or 0),
        total=sum(by_status.values()),
        by_system_status=by_status,
        due_now=count(live, ~leased, due, in_open),
        waiting=count(live, ~leased, ~due),
        outside_window=count(live, ~leased, due, ~in_open),
        in_flight=count(leased),
        dnc=count(dnc_hit),
        exhausted=count(exhausted, callable_status),
        open_zones=open_zones,
        closed_zones=[zone for zone in zones if zone not in open_zones],
        parked=count(parked),
    )
