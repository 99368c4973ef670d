"""Generated call logs with known answers, and plain-Python oracles over the raw rows.

The oracles read ``call_log`` with one plain ``SELECT`` and count in Python; they share
nothing with ``campaigns/reports.py`` but the meaning of the figures.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.dispositions import mark_callbacks_kept
from campaigns.models import Agent, AgentGroup, CallLog, Campaign, ContactList, Record, StatusDef

#: The generated calls span both 2026 DST changes: the US one (8 March) and the EU one
#: (29 March).
FIRST = dt.datetime(2026, 3, 6, tzinfo=dt.UTC)
LAST = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
OUTCOMES = (
    "answered",
    "answered",
    "answered",
    "dropped",
    "no_answer",
    "no_answer",
    "busy",
    "machine",
    "congestion",
    "failed",
    "invalid",
    "cancelled",
    None,
)
SYSTEM = ("TO_CALL", "MY_RECORD", "NOT_BEFORE", "DO_NOT_CALL", "CALL_PROGRESSIVE")


@dataclass
class Generated:
    """Ids of what :func:`generate` wrote."""

    campaigns: list[int]
    groups: list[int]
    agents: list[int]
    """a1, a2 (group 1), a3 (group 2), a4 (group 3), a5 (no group)."""
    lists: list[int]
    statuses: list[int]


def generate(db: sa.Engine, *, calls: int = 700, seed: int = 13) -> Generated:
    """Three campaigns in three zones, five agents in three groups, records in two lists,
    and ``calls`` calls between :data:`FIRST` and :data:`LAST` with every outcome."""
    rng = random.Random(seed)
    with Session(db) as s:
        camps = [
            Campaign(name="Warsaw", hours_tz="Europe/Warsaw"),
            Campaign(name="New York", hours_tz="America/New_York"),
            Campaign(name="Tokyo", hours_tz="Asia/Tokyo"),
        ]
        groups = [AgentGroup(name=f"G{k}") for k in (1, 2, 3)]
        s.add_all([*camps, *groups])
        s.flush()
        group_of = [groups[0].id, groups[0].id, groups[1].id, groups[2].id, None]
        agents = [
            Agent(login=f"a{k + 1}", name=f"Agent {k + 1}", group_id=group_of[k]) for k in range(5)
        ]
        lists = [ContactList(campaign_id=camps[k % 3].id or 0, name=f"L{k}") for k in range(4)]
        statuses = [StatusDef(name=f"S-{name}", system_status=name) for name in SYSTEM]  # type: ignore[arg-type]
        s.add_all([*agents, *lists, *statuses])
        s.flush()
        records = []
        for k in range(60):
            lst = lists[k % 4]
            records.append(
                Record(
                    campaign_id=lst.campaign_id,
                    list_id=lst.id,
                    phone=f"+4850000{k:04d}",
                    name=f"Person {k}",
                    system_status=rng.choice(SYSTEM),  # type: ignore[arg-type]
                    status_id=rng.choice([None, *[st.id for st in statuses]]),
                    owner_agent_id=rng.choice([None, *[a.id for a in agents]]),
                )
            )
        s.add_all(records)
        s.flush()
        span = (LAST - FIRST).total_seconds()
        for _ in range(calls):
            rec = rng.choice(records)
            outcome = rng.choice(OUTCOMES)
            at = FIRST + dt.timedelta(seconds=rng.uniform(0, span))
            agent = rng.choice(agents).id if outcome == "answered" or rng.random() < 0.1 else None
            status = rng.choice(statuses) if outcome == "answered" or rng.random() < 0.3 else None
            s.add(
                CallLog(
                    campaign_id=rec.campaign_id,
                    record_id=rec.id,
                    phone=rec.phone,
                    agent_id=agent,
                    dial_at=at,
                    outcome=outcome,
                    talk_s=round(rng.uniform(5, 300), 1) if outcome == "answered" else None,
                    wait_s=round(rng.uniform(0, 2), 2)
                    if outcome in {"answered", "dropped"}
                    else None,
                    wrapup_s=round(rng.uniform(1, 60), 1) if outcome == "answered" else None,
                    status_id=status.id if status is not None else None,
                    system_status=status.system_status if status is not None else None,
                )
            )
        s.commit()
        gen = Generated(
            campaigns=[c.id or 0 for c in camps],
            groups=[g.id or 0 for g in groups],
            agents=[a.id or 0 for a in agents],
            lists=[lst.id or 0 for lst in lists],
            statuses=[st.id or 0 for st in statuses],
        )
    with db.begin() as conn:  # written when the connect happens, in the product
        mark_callbacks_kept(conn)
    return gen


# ---------------------------------------------------------------------------- oracles


def raw_calls(db: sa.Engine) -> list[dict[str, Any]]:
    """Every call of the log with its agent's current group (plain SQL)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.id, c.campaign_id, c.agent_id, c.record_id, c.dial_at, c.outcome, "
                "c.talk_s, c.wait_s, c.wrapup_s, c.status_id, c.system_status, a.group_id, "
                "r.list_id FROM call_log c LEFT JOIN agent a ON a.id = c.agent_id "
                "LEFT JOIN record r ON r.id = c.record_id ORDER BY c.id"
            )
        ).mappings()
        out = []
        for r in rows:
            row = dict(r)
            at = row["dial_at"]
            if isinstance(at, str):
                at = dt.datetime.fromisoformat(at)
            row["dial_at"] = at.replace(tzinfo=dt.UTC)
            out.append(row)
    # A callback kept, from the history: answered by the agent whose MY_RECORD booking was
    # its record's previous call.
    previous: dict[int, dict[str, Any]] = {}
    for row in out:  # in id order
        before = previous.get(row["record_id"])
        row["kept"] = (
            before is not None
            and row["outcome"] == "answered"
            and row["agent_id"] is not None
            and before["system_status"] == "MY_RECORD"
            and before["agent_id"] == row["agent_id"]
        )
        if row["record_id"] is not None:
            previous[row["record_id"]] = row
    return out


def selected(
    calls: list[dict[str, Any]],
    *,
    start: dt.datetime,
    end: dt.datetime,
    campaign: int | None = None,
    agent: int | None = None,
    group: int | None = None,
    scope: set[int] | None = None,
) -> list[dict[str, Any]]:
    """The calls a report with these filters counts (the call log's rules)."""
    return [
        c
        for c in calls
        if start <= c["dial_at"] < end
        and (campaign is None or c["campaign_id"] == campaign)
        and (agent is None or c["agent_id"] == agent)
        and (group is None or (c["agent_id"] is not None and c["group_id"] == group))
        and (scope is None or c["agent_id"] in scope)
    ]


def figures(calls: list[dict[str, Any]]) -> dict[str, float]:
    """The counts and sums of a set of calls."""
    out: dict[str, float] = defaultdict(float)
    for c in calls:
        o = c["outcome"]
        out["dials"] += 1
        out["persons"] += o in {"answered", "dropped"}
        out["connected"] += o == "answered"
        out["dropped"] += o == "dropped"
        out["no_answer"] += o == "no_answer"
        out["busy"] += o == "busy"
        out["machine"] += o == "machine"
        out["failed"] += o in {"congestion", "failed", "invalid"}
        out["other"] += o not in {
            "answered",
            "dropped",
            "no_answer",
            "busy",
            "machine",
            "congestion",
            "failed",
            "invalid",
        }
        out["callbacks_kept"] += bool(c["kept"])
        out["talk_s"] += c["talk_s"] or 0
        out["wait_s"] += c["wait_s"] or 0
        out["wrapup_s"] += c["wrapup_s"] or 0
    return dict(out)


def first_of_bucket(day: dt.date, period: str) -> dt.date:
    """The first day of ``day``'s day/week/month/quarter/year."""
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.isoweekday() - 1)
    if period == "month":
        return dt.date(day.year, day.month, 1)
    if period == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def local_day(c: dict[str, Any], tz: str) -> dt.datetime:
    """The call's dial time in ``tz``."""
    at: dt.datetime = c["dial_at"]
    return at.astimezone(ZoneInfo(tz))


def local_bounds(first: dt.date, last: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight before ``first`` and after ``last``, in UTC."""
    zone = ZoneInfo(tz)
    a = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
    nxt = last + dt.timedelta(days=1)
    b = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    return a.astimezone(dt.UTC), b.astimezone(dt.UTC)


# ---------------------------------------------------------------------------- agents' phases

PAUSE_REASONS = ("break", "lunch", "training")


def generate_phases(db: sa.Engine, gen: Generated, *, seed: int = 14) -> None:
    """Each agent's phase history between :data:`FIRST` and :data:`LAST`: sessions of
    stretches (a few seconds to an hour) with gaps logged out between them, pauses with
    reasons, reservations for calls of the log (some dropped); the first agent's last
    stretch is still open. Every call gets a channel id (``c<id>``)."""
    rng = random.Random(seed)
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE call_log SET channel_id = 'c' || id"))
        call_ids = [int(r[0]) for r in conn.execute(sa.text("SELECT id FROM call_log"))]
        rows: list[dict[str, Any]] = []
        for k, agent in enumerate(gen.agents):
            campaign = gen.campaigns[k % len(gen.campaigns)]
            at = FIRST + dt.timedelta(minutes=rng.uniform(0, 600))
            while at < LAST - dt.timedelta(hours=2):
                for _ in range(rng.randint(3, 40)):
                    phase = rng.choice(("ready", "reserved", "talking", "wrap_up", "paused"))
                    length = dt.timedelta(seconds=rng.uniform(5, 3600))
                    rows.append(
                        {
                            "agent_id": agent,
                            "campaign_id": campaign,
                            "phase": phase,
                            "reason": rng.choice(PAUSE_REASONS) if phase == "paused" else None,
                            "call_id": f"c{rng.choice(call_ids)}"
                            if phase in {"reserved", "talking", "wrap_up"}
                            else None,
                            "start_at": at,
                            "end_at": at + length,
                        }
                    )
                    at += length
                at += dt.timedelta(hours=rng.uniform(1, 30))
        rows[len([r for r in rows if r["agent_id"] == gen.agents[0]]) - 1]["end_at"] = None
        conn.execute(
            sa.text(
                "INSERT INTO agent_phase (agent_id, campaign_id, phase, reason, call_id,"
                " start_at, end_at) VALUES (:agent_id, :campaign_id, :phase, :reason,"
                " :call_id, :start_at, :end_at)"
            ),
            [
                {
                    **r,
                    "start_at": r["start_at"].replace(tzinfo=None),
                    "end_at": r["end_at"].replace(tzinfo=None) if r["end_at"] else None,
                }
                for r in rows
            ],
        )


def raw_phases(db: sa.Engine) -> list[dict[str, Any]]:
    """Every stretch of the phase history, with its agent's current group and whether it
    reserved a call that was dropped (plain SQL)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT p.agent_id, p.campaign_id, p.phase, p.reason, p.start_at, p.end_at,"
                " a.group_id, c.outcome FROM agent_phase p JOIN agent a ON a.id = p.agent_id"
                " LEFT JOIN call_log c ON c.channel_id = p.call_id ORDER BY p.id"
            )
        ).mappings()
        out = []
        for r in rows:
            row = dict(r)
            for key in ("start_at", "end_at"):
                at = row[key]
                if isinstance(at, str):
                    at = dt.datetime.fromisoformat(at)
                row[key] = at.replace(tzinfo=dt.UTC) if at is not None else None
            row["dropped"] = row["phase"] == "reserved" and row["outcome"] == "dropped"
            out.append(row)
        return out
