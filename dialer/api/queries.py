"""Read-only queries behind the operations API: the call log, callbacks and live figures.

Everything here takes a connection (or engine) and plain values and returns plain values;
the routes add roles, scope and HTTP. Queries are written for a large call log:

* the call list filters and orders on ``call_log`` alone (``ix_call_log_campaign_dial`` and
  ``ix_call_log_agent_dial`` serve the campaign and agent filters with their order), pages
  by offset, and joins names only for the rows of the page;
* its count stops at :data:`CALL_COUNT_CAP` rows, so a broad filter costs a bounded scan;
* exports page by key (dial time, id), a short connection per batch;
* abandonment is :func:`campaigns.abandonment.abandonment_windows` (people counted when
  connected or dropped, by ``ix_call_log_campaign_connect`` / ``_drop``): the one truth
  the pacer's guard reads too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from campaigns.abandonment import Window, abandonment_windows
from campaigns.enums import Outcome, SystemStatus
from campaigns.models import Agent, CallLog, Campaign, Record, StatusDef
from dialer.errors import ROOT_ERRORS
from pacing.profile import load_profile

_LOG = CallLog.__table__  # type: ignore[attr-defined]
_AGENT = Agent.__table__  # type: ignore[attr-defined]
_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_STATUS = StatusDef.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]

#: The call list counts matching rows up to this many (more is shown as "10 000+").
CALL_COUNT_CAP = 10_000
#: Rows per export file at most (an XLSX sheet holds 1 048 576 rows).
EXPORT_MAX_ROWS = 1_000_000
#: What reading a pacing profile may raise when the file is bad or missing.
_UNREADABLE: tuple[type[Exception], ...] = (*ROOT_ERRORS, OSError, ValueError)
#: The abandonment cap when a campaign's pacing profile cannot be read.
DEFAULT_ABANDON_CAP = 0.03
_EXPORT_BATCH = 2_000


# ---------------------------------------------------------------------------- call list


@dataclass(frozen=True)
class CallFilter:
    """Which calls to list; ``None`` fields do not filter."""

    start: dt.datetime | None = None
    """Dialed at or after this time."""
    end: dt.datetime | None = None
    """Dialed before this time."""
    campaign_id: int | None = None
    agent_id: int | None = None
    group_id: int | None = None
    """Calls taken by the agents of this group."""
    status_id: int | None = None
    system_status: SystemStatus | None = None
    outcome: Outcome | None = None
    phone: str | None = None
    """Part of the number (digits; spaces, dashes and brackets are ignored)."""
    scope: frozenset[int] | None = None
    """The agents whose calls the reader may see; None = every call, also unanswered ones."""


class CallRow(BaseModel):
    """One dial attempt as the call log shows it (times in UTC, durations in seconds)."""

    model_config = ConfigDict(frozen=True)

    id: int
    campaign_id: int
    campaign_name: str | None
    record_id: int | None
    record_name: str | None = Field(description="The called person's name from the list")
    phone: str
    attempt: int
    agent_id: int | None
    agent_name: str | None
    dial_at: dt.datetime
    answer_at: dt.datetime | None
    connect_at: dt.datetime | None
    end_at: dt.datetime | None
    ring_s: float | None
    wait_s: float | None = Field(description="How long the answered person waited for an agent")
    talk_s: float | None
    wrapup_s: float | None
    outcome: str | None = Field(description="Telephony outcome; null while the call is up")
    hangup_cause: int | None
    hangup_cause_txt: str | None
    amd_result: str | None
    status_id: int | None
    status_name: str | None
    system_status: str | None
    note: str
    recording_ref: str | None = Field(
        default=None, description="The call's recording reference (see http.recording_url)"
    )


@dataclass(frozen=True)
class CallPage:
    """A page of the call list and how many calls match (counted up to the cap)."""

    items: list[CallRow]
    total: int
    total_capped: bool
    """True when more than ``total`` calls match (the count stopped at the cap)."""


def phone_digits(text: str) -> str:
    """A phone search term without the separators people type (``+48 501-200``)."""
    return "".join(ch for ch in text if ch.isdigit() or ch == "+")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(f: CallFilter) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    if f.scope is not None:
        conds.append(_LOG.c.agent_id.in_(sorted(f.scope)) if f.scope else sa.false())
    if f.start is not None:
        conds.append(_LOG.c.dial_at >= f.start)
    if f.end is not None:
        conds.append(_LOG.c.dial_at < f.end)
    if f.campaign_id is not None:
        conds.append(_LOG.c.campaign_id == f.campaign_id)
    if f.agent_id is not None:
        conds.append(_LOG.c.agent_id == f.agent_id)
    if f.group_id is not None:
        members = sa.select(_AGENT.c.id).where(_AGENT.c.group_id == f.group_id)
        conds.append(_LOG.c.agent_id.in_(members))
    if f.status_id is not None:
        conds.append(_LOG.c.status_id == f.status_id)
    if f.system_status is not None:
        conds.append(_LOG.c.system_status == f.system_status.value)
    if f.outcome is not None:
        conds.append(_LOG.c.outcome == f.outcome.value)
    if f.phone:
        conds.append(_LOG.c.phone.like(f"%{_like_escape(f.phone)}%", escape="\\"))
    return conds


def _named(ids: sa.Subquery | None, where: Sequence[sa.ColumnElement[bool]] = ()) -> sa.Select[Any]:
    """The call list's columns, with campaign, agent, status and record names joined."""
    source: sa.FromClause = _LOG
    if ids is not None:
        source = _LOG.join(ids, ids.c.id == _LOG.c.id)
    source = (
        source.outerjoin(_CAMPAIGN, _CAMPAIGN.c.id == _LOG.c.campaign_id)
        .outerjoin(_AGENT, _AGENT.c.id == _LOG.c.agent_id)
        .outerjoin(_STATUS, _STATUS.c.id == _LOG.c.status_id)
        .outerjoin(_RECORD, _RECORD.c.id == _LOG.c.record_id)
    )
    return (
        sa.select(
            _LOG.c.id,
            _LOG.c.campaign_id,
            _CAMPAIGN.c.name.label("campaign_name"),
            _LOG.c.record_id,
            _RECORD.c.name.label("record_name"),
            _LOG.c.phone,
            _LOG.c.attempt,
            _LOG.c.agent_id,
            _AGENT.c.name.label("agent_name"),
            _AGENT.c.login.label("agent_login"),
            _LOG.c.dial_at,
            _LOG.c.answer_at,
            _LOG.c.connect_at,
            _LOG.c.end_at,
            _LOG.c.ring_s,
            _LOG.c.wait_s,
            _LOG.c.talk_s,
            _LOG.c.wrapup_s,
            _LOG.c.outcome,
            _LOG.c.hangup_cause,
            _LOG.c.hangup_cause_txt,
            _LOG.c.amd_result,
            _LOG.c.status_id,
            _STATUS.c.name.label("status_name"),
            _LOG.c.system_status,
            _LOG.c.note,
            _LOG.c.recording_ref,
        )
        .select_from(source)
        .where(*where)
        .order_by(_LOG.c.dial_at.desc(), _LOG.c.id.desc())
    )


def _row(r: Any) -> CallRow:
    # Rows come from the database: built without validation (exports run to a million).
    return CallRow.model_construct(
        id=r.id,
        campaign_id=r.campaign_id,
        campaign_name=r.campaign_name,
        record_id=r.record_id,
        record_name=r.record_name,
        phone=r.phone,
        attempt=r.attempt,
        agent_id=r.agent_id,
        agent_name=(r.agent_name or r.agent_login) if r.agent_id is not None else None,
        dial_at=r.dial_at,
        answer_at=r.answer_at,
        connect_at=r.connect_at,
        end_at=r.end_at,
        ring_s=r.ring_s,
        wait_s=r.wait_s,
        talk_s=r.talk_s,
        wrapup_s=r.wrapup_s,
        outcome=r.outcome,
        hangup_cause=r.hangup_cause,
        hangup_cause_txt=r.hangup_cause_txt,
        amd_result=r.amd_result,
        status_id=r.status_id,
        status_name=r.status_name,
        system_status=r.system_status,
        note=r.note or "",
        recording_ref=r.recording_ref,
    )


def call_page(
    conn: sa.Connection,
    f: CallFilter,
    *,
    page: int,
    page_size: int,
    count_cap: int = CALL_COUNT_CAP,
) -> CallPage:
    """One page of the calls matching ``f``, newest dial first."""
    conds = _conditions(f)
    ids = (
        sa.select(_LOG.c.id)
        .where(*conds)
        .order_by(_LOG.c.dial_at.desc(), _LOG.c.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
        .subquery("page_ids")
    )
    items = [_row(r) for r in conn.execute(_named(ids))]
    capped_ids = sa.select(_LOG.c.id).where(*conds).limit(count_cap + 1).subquery("matching")
    found = int(conn.execute(sa.select(sa.func.count()).select_from(capped_ids)).scalar_one())
    return CallPage(items=items, total=min(found, count_cap), total_capped=found > count_cap)


def iter_calls(db: sa.Engine, f: CallFilter, *, limit: int = EXPORT_MAX_ROWS) -> Iterator[CallRow]:
    """Every call matching ``f`` (up to ``limit``), newest first, read in batches by key.

    Each batch uses its own short connection, so the iterator may be consumed slowly and
    from any thread (a streaming download) without holding the database.
    """
    conds = _conditions(f)
    after: tuple[dt.datetime, int] | None = None
    sent = 0
    while sent < limit:
        where = list(conds)
        if after is not None:
            when, last_id = after
            where.append(
                sa.or_(_LOG.c.dial_at < when, sa.and_(_LOG.c.dial_at == when, _LOG.c.id < last_id))
            )
        batch = min(_EXPORT_BATCH, limit - sent)
        with db.connect() as conn:
            rows = [_row(r) for r in conn.execute(_named(None, where).limit(batch))]
        yield from rows
        sent += len(rows)
        if len(rows) < batch:
            return
        after = (rows[-1].dial_at, rows[-1].id)


#: Export columns: title and how to get the value from a row.
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("call id", "id"),
    ("dialed at (UTC)", "dial_at"),
    ("campaign", "campaign_name"),
    ("phone", "phone"),
    ("name", "record_name"),
    ("attempt", "attempt"),
    ("agent", "agent_name"),
    ("outcome", "outcome"),
    ("status", "status_name"),
    ("system status", "system_status"),
    ("answered at (UTC)", "answer_at"),
    ("connected at (UTC)", "connect_at"),
    ("ended at (UTC)", "end_at"),
    ("ring s", "ring_s"),
    ("wait s", "wait_s"),
    ("talk s", "talk_s"),
    ("wrap-up s", "wrapup_s"),
    ("hangup cause", "hangup_cause"),
    ("hangup cause text", "hangup_cause_txt"),
    ("answering machine", "amd_result"),
    ("note", "note"),
    ("record id", "record_id"),
    ("recording", "recording_ref"),
)


def export_rows(rows: Iterator[CallRow]) -> Iterator[list[Any]]:
    """The export cells of each row, in :data:`EXPORT_COLUMNS` order."""
    names = [name for _, name in EXPORT_COLUMNS]
    for row in rows:
        yield [getattr(row, name) for name in names]


# ---------------------------------------------------------------------------- agents


class Callback(BaseModel):
    """A MY_RECORD record an agent owns, with its next-contact time."""

    record_id: int
    campaign_id: int
    campaign_name: str | None
    name: str
    phone: str
    next_call_at: dt.datetime | None
    status_id: int | None
    status_name: str | None
    attempts: int
    last_call_at: dt.datetime | None
    fields: dict[str, Any]


def agent_callbacks(conn: sa.Connection, agent_id: int, *, limit: int = 1000) -> list[Callback]:
    """The agent's own callbacks, soonest first (``ix_record_owner_due``)."""
    query = (
        sa.select(
            _RECORD.c.id,
            _RECORD.c.campaign_id,
            _CAMPAIGN.c.name.label("campaign_name"),
            _RECORD.c.name,
            _RECORD.c.phone,
            _RECORD.c.next_call_at,
            _RECORD.c.status_id,
            _STATUS.c.name.label("status_name"),
            _RECORD.c.attempts,
            _RECORD.c.last_call_at,
            _RECORD.c.fields,
        )
        .select_from(
            _RECORD.outerjoin(_CAMPAIGN, _CAMPAIGN.c.id == _RECORD.c.campaign_id).outerjoin(
                _STATUS, _STATUS.c.id == _RECORD.c.status_id
            )
        )
        .where(
            _RECORD.c.owner_agent_id == agent_id,
            _RECORD.c.system_status == SystemStatus.MY_RECORD.value,
        )
        .order_by(_RECORD.c.next_call_at, _RECORD.c.id)
        .limit(limit)
    )
    return [
        Callback(
            record_id=r.id,
            campaign_id=r.campaign_id,
            campaign_name=r.campaign_name,
            name=r.name,
            phone=r.phone,
            next_call_at=r.next_call_at,
            status_id=r.status_id,
            status_name=r.status_name,
            attempts=r.attempts,
            last_call_at=r.last_call_at,
            fields=dict(r.fields or {}),
        )
        for r in conn.execute(query)
    ]


@dataclass(frozen=True)
class AgentInfo:
    """Who an agent is (names for the dashboard)."""

    id: int
    login: str
    name: str
    group_id: int | None


def agents_in(conn: sa.Connection, scope: frozenset[int] | None) -> list[AgentInfo]:
    """The agents in ``scope`` (None = all), by name."""
    query = sa.select(_AGENT.c.id, _AGENT.c.login, _AGENT.c.name, _AGENT.c.group_id)
    if scope is not None:
        if not scope:
            return []
        query = query.where(_AGENT.c.id.in_(sorted(scope)))
    rows = conn.execute(query.order_by(_AGENT.c.name, _AGENT.c.id)).all()
    return [AgentInfo(r.id, r.login, r.name or r.login, r.group_id) for r in rows]


# ---------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Abandonment:
    """Dropped / (connected + dropped) over one window, with its counts."""

    since: dt.datetime
    connected: int
    dropped: int

    @property
    def rate(self) -> float:
        """The abandonment rate (0 when nobody answered)."""
        settled = self.connected + self.dropped
        return round(self.dropped / settled, 5) if settled else 0.0


@dataclass(frozen=True)
class AbandonmentFigures:
    """A campaign's abandonment today, over the last 24 hours and 30 days (the legal
    windows), over the last hour (what supervisors watch), and its cap."""

    cap: float
    today: Abandonment
    rolling_24h: Abandonment
    rolling_30d: Abandonment
    last_hour: Abandonment


def abandon_cap(profiles_dir: str | Path, profile: str) -> float:
    """The ``target_abandon`` of a pacing profile (the default cap when it cannot be read)."""
    name = Path(profile).name
    if not name or name != profile or name.startswith("."):
        return DEFAULT_ABANDON_CAP
    try:
        return float(load_profile(Path(profiles_dir) / f"{name}.toml").target_abandon)
    except _UNREADABLE:
        return DEFAULT_ABANDON_CAP


def abandonment(
    conn: sa.Connection, campaign_id: int, *, now: dt.datetime, tz_name: str, cap: float
) -> AbandonmentFigures:
    """Abandonment since midnight in ``tz_name``, over the last 24 h and the last 30 days
    (:func:`campaigns.abandonment.abandonment_windows`, the figures the pacer's guard reads),
    and over the last hour."""
    windows = abandonment_windows(conn, campaign_id, now, tz_name)

    def figures(w: Window) -> Abandonment:
        return Abandonment(since=w.since, connected=w.connected, dropped=w.dropped)

    return AbandonmentFigures(
        cap=cap,
        today=figures(windows.today),
        rolling_24h=figures(windows.rolling_24h),
        rolling_30d=figures(windows.rolling_30d),
        last_hour=figures(windows.last_hour),
    )


@dataclass
class Minute:
    """The calls dialed in one minute (the chart of the last hour)."""

    at: dt.datetime
    dials: int = 0
    answered: int = 0
    """A person answered (connected to an agent or dropped)."""
    connected: int = 0
    dropped: int = 0
    machines: int = 0


@dataclass(frozen=True)
class Series:
    """Per-minute counts, oldest minute first; the last one is the current minute."""

    minutes: list[Minute] = field(default_factory=list)


def minute_series(
    conn: sa.Connection, campaign_id: int, *, now: dt.datetime, minutes: int = 60
) -> Series:
    """The last ``minutes`` minutes of the campaign's call log, by minute of dialing."""
    current = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    start = current - dt.timedelta(minutes=minutes - 1)
    buckets = [Minute(at=start + dt.timedelta(minutes=k)) for k in range(minutes)]
    rows = conn.execute(
        sa.select(_LOG.c.dial_at, _LOG.c.outcome).where(
            _LOG.c.campaign_id == campaign_id, _LOG.c.dial_at >= start
        )
    ).all()
    for dial_at, outcome in rows:
        k = int((dial_at - start).total_seconds() // 60)
        if not 0 <= k < minutes:
            continue
        b = buckets[k]
        b.dials += 1
        if outcome == Outcome.ANSWERED.value:
            b.answered += 1
            b.connected += 1
        elif outcome == Outcome.DROPPED.value:
            b.answered += 1
            b.dropped += 1
        elif outcome == Outcome.MACHINE.value:
            b.machines += 1
    return Series(buckets)
