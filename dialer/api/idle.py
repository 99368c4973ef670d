"""Why a running campaign is not dialing, in codes the pages put into words.

:func:`why_idle` is pure: it reads the engine's live figures (``stats``) and what the
database says about the campaign's records (:func:`record_facts`, one cheap query) and
answers every reason that holds, most important first. Nothing is guessed: a reason is
given only when a fact shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from campaigns.enums import CampaignState, SystemStatus
from campaigns.models import DncEntry, Record
from campaigns.service import campaign_hours
from campaigns.windows import CallingWindow, is_open, open_zone_keys

_RECORD = Record.__table__  # type: ignore[attr-defined]
_DNC = DncEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """Where a campaign's callable records stand at ``now``."""

    callable_total: int
    """Records that may still be dialed some day (not DNC status, attempts left, unparked)."""
    due: int
    """Of those, due now (no date, or a date passed), not in flight."""
    due_in_open_window: int
    """Of the due ones, those whose person's calling window is open now."""
    next_due_at: dt.datetime | None
    """The earliest date a record not yet due falls due."""
    hours_open: bool | None
    """The campaign's own hours are open now (None: the campaign has no hours)."""


@dataclass(frozen=True, slots=True)
class IdleReason:
    """One reason, as a code and the values its sentence names."""

    code: str
    params: Mapping[str, Any]


def record_facts(conn: sa.Connection, campaign: Any, now: dt.datetime) -> RecordFacts:
    """Count the campaign's callable and due records at ``now`` (a few aggregate queries)."""
    c = _RECORD.c
    dnc = sa.exists(
        sa.select(sa.literal(1))
        .select_from(_DNC)
        .where(
            _DNC.c.phone == c.phone,
            sa.or_(_DNC.c.campaign_id.is_(None), _DNC.c.campaign_id == campaign.id),
            sa.or_(_DNC.c.expires_at.is_(None), _DNC.c.expires_at > now),
        )
    )
    live = sa.and_(
        c.campaign_id == campaign.id,
        c.system_status != SystemStatus.DO_NOT_CALL.value,
        c.attempts < campaign.max_attempts,
        c.parked_at.is_(None),
        ~dnc,
    )
    due = sa.and_(
        sa.or_(c.next_call_at.is_(None), c.next_call_at <= now),
        sa.or_(c.lease_expires_at.is_(None), c.lease_expires_at <= now),
    )
    total, due_count, next_due = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(due),
            sa.func.min(c.next_call_at).filter(c.next_call_at > now),
        ).where(live)
    ).one()
    window = CallingWindow.parse(campaign.window_start, campaign.window_end, campaign.window_days)
    zones = [row[0] for row in conn.execute(sa.select(c.tz).where(live, due).distinct())]
    open_keys = open_zone_keys(window, zones, now)
    in_open = 0
    if open_keys:
        in_open = int(
            conn.execute(
                sa.select(sa.func.count()).where(live, due, c.tz.in_(open_keys))
            ).scalar_one()
        )
    hours = campaign_hours(campaign.hours_start, campaign.hours_end, campaign.hours_days)
    hours_open = None if hours is None else is_open(hours, campaign.hours_tz, now)
    if isinstance(next_due, dt.datetime) and next_due.tzinfo is None:
        next_due = next_due.replace(tzinfo=dt.UTC)
    return RecordFacts(
        callable_total=int(total or 0),
        due=int(due_count or 0),
        due_in_open_window=in_open,
        next_due_at=next_due,
        hours_open=hours_open,
    )


def why_idle(
    state: str, paused_reason: str | None, stats: Mapping[str, Any] | None, facts: RecordFacts
) -> list[IdleReason]:
    """Every reason the campaign does not dial now (empty: nothing stops it).

    ``stats``: the engine's live figures when an engine here runs the campaign, else None.
    """
    out: list[IdleReason] = []
    if paused_reason:
        out.append(IdleReason("circuit_breaker", {"reason": paused_reason}))
    if state != CampaignState.RUNNING.value:
        if not paused_reason:
            out.append(IdleReason("not_running", {"state": state}))
        return out
    if facts.hours_open is False:
        out.append(IdleReason("outside_hours", {}))
    if facts.callable_total == 0:
        out.append(IdleReason("list_exhausted", {}))
    elif facts.due == 0:
        out.append(IdleReason("nothing_due", {"next_due_at": facts.next_due_at}))
    elif facts.due_in_open_window == 0:
        out.append(IdleReason("outside_every_window", {"due": facts.due}))
    if stats is None:
        out.append(IdleReason("no_engine", {}))
        return out
    agents = stats.get("agents") or {}
    logged_in = sum(n for phase, n in agents.items() if phase != "logged_out")
    ready = int(agents.get("ready", 0))
    if logged_in == 0:
        out.append(IdleReason("no_agents", {}))
    elif ready == 0:
        out.append(IdleReason("no_agent_ready", {"logged_in": logged_in}))
    if stats.get("pacer_reason") == "compliance_guard":
        out.append(IdleReason("compliance_guard", {}))
    return out
