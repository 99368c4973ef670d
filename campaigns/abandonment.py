"""Abandonment from the call log: the one truth the pacer's guard, the dashboard and the
live statistics read (DESIGN §3).

A person is counted when it happens: when connected to an agent (``connect_at``) or when
sent to the drop message (``drop_at``); the journal writes both facts at that moment, so
calls still up count, on every engine. Windows (FTC: 30 days; Ofcom: 24 hours; and today
since midnight in the campaign's zone) are ``[since, now]``.

:func:`abandonment_windows` gives the counts; :func:`settled_facts` lists the facts of the
last 30 days, to seed an engine's in-memory ledger at start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.models import CallLog

_LOG = CallLog.__table__  # type: ignore[attr-defined]

#: The longest legal window (FTC): how far back the facts are read.
LONGEST = dt.timedelta(days=30)

Db = sa.Engine | sa.Connection | Session


@dataclass(frozen=True, slots=True)
class Window:
    """People connected and dropped in ``[since, now]``."""

    name: str
    since: dt.datetime
    connected: int
    dropped: int

    @property
    def answered(self) -> int:
        """People who answered: connected or dropped."""
        return self.connected + self.dropped

    @property
    def rate(self) -> float:
        """dropped / answered (0 when nobody answered)."""
        return self.dropped / self.answered if self.answered else 0.0


@dataclass(frozen=True, slots=True)
class Windows:
    """A campaign's abandonment today, over the last 24 hours and over the last 30 days
    (the legal windows, in iteration order), and over the last hour (no law's window: the
    figure supervisors watch, not iterated)."""

    today: Window
    rolling_24h: Window
    rolling_30d: Window
    last_hour: Window

    def __iter__(self) -> Iterator[Window]:
        return iter((self.today, self.rolling_24h, self.rolling_30d))


def zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    """The zone named ``tz`` (UTC when the name is unknown)."""
    if isinstance(tz, dt.tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def day_start(now: dt.datetime, tz: str | dt.tzinfo) -> dt.datetime:
    """Midnight of ``now``'s day in ``tz``, as UTC."""
    local = now.astimezone(zone(tz))
    midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=local.tzinfo)
    return midnight.astimezone(dt.UTC)


def _aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        msg = f"now must be timezone-aware, got {now!r}"
        raise ValueError(msg)


def _counts(
    conn: sa.Connection, campaign_id: int, column: sa.Column[dt.datetime], bounds: list[dt.datetime]
) -> list[int]:
    """How many rows have ``column`` in ``[bound, now]`` for each of ``bounds`` (the last
    one is ``now``); one indexed range scan from the earliest bound."""
    now = bounds[-1]
    since = bounds[:-1]
    query = sa.select(
        *(sa.func.coalesce(sa.func.sum(sa.case((column >= b, 1), else_=0)), 0) for b in since)
    ).where(_LOG.c.campaign_id == campaign_id, column >= min(since), column <= now)
    return [int(v) for v in conn.execute(query).one()]


@contextmanager
def _reading(db: Db) -> Iterator[sa.Connection]:
    """A connection to read with: a new one for an engine, else the caller's."""
    if isinstance(db, sa.Engine):
        with db.connect() as conn:
            yield conn
    elif isinstance(db, Session):
        yield db.connection()
    else:
        yield db


def abandonment_windows(db: Db, campaign_id: int, now: dt.datetime, tz: str | dt.tzinfo) -> Windows:
    """Connected and dropped people of the campaign today (since midnight in ``tz``, the
    campaign's hours zone), over the last 24 hours, the last 30 days and the last hour, at
    ``now``."""
    _aware(now)
    since = [
        day_start(now, tz),
        now - dt.timedelta(hours=24),
        now - LONGEST,
        now - dt.timedelta(hours=1),
    ]
    with _reading(db) as conn:
        connected = _counts(conn, campaign_id, _LOG.c.connect_at, [*since, now])
        dropped = _counts(conn, campaign_id, _LOG.c.drop_at, [*since, now])
    names = ("today", "rolling_24h", "rolling_30d", "last_hour")
    today, r24, r30, hour = (
        Window(name, start, c, d)
        for name, start, c, d in zip(names, since, connected, dropped, strict=True)
    )
    return Windows(today, r24, r30, hour)


def settled_facts(
    db: sa.Engine, campaign_id: int, now: dt.datetime
) -> Iterator[tuple[dt.datetime, str]]:
    """``(when, kind)`` of the last 30 days: ``"connect"``, ``"drop"`` and ``"machine"``
    (a call ended as an answering machine, for the Ofcom AMD option), oldest first."""
    _aware(now)
    since = now - LONGEST
    parts = [
        sa.select(_LOG.c.connect_at.label("at"), sa.literal("connect").label("kind")).where(
            _LOG.c.campaign_id == campaign_id, _LOG.c.connect_at >= since, _LOG.c.connect_at <= now
        ),
        sa.select(_LOG.c.drop_at.label("at"), sa.literal("drop").label("kind")).where(
            _LOG.c.campaign_id == campaign_id, _LOG.c.drop_at >= since, _LOG.c.drop_at <= now
        ),
        sa.select(_LOG.c.end_at.label("at"), sa.literal("machine").label("kind")).where(
            _LOG.c.campaign_id == campaign_id,
            _LOG.c.dial_at >= since - dt.timedelta(days=1),
            _LOG.c.outcome == "machine",
            _LOG.c.end_at >= since,
            _LOG.c.end_at <= now,
        ),
    ]
    union = sa.union_all(*parts).subquery()
    query = sa.select(union.c.at, union.c.kind).order_by(union.c.at)
    with db.connect() as conn:
        for at, kind in conn.execute(query.execution_options(yield_per=5000)):
            yield _utc(at), str(kind)


def _utc(value: dt.datetime) -> dt.datetime:
    """Union columns lose the UTC type decorator on some databases: make them aware."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
