"""``dialer bench calls``: how fast the call log answers the pages' queries on a large log.

Fills a call log of N attempts (three campaigns, 60 agents in six groups, a month of dial
times, the usual mix of outcomes), then times one page of 50 rows for each query the pages
make — everything (administrator), one campaign, one agent's own calls, a group leader's
scope, a status, a phone fragment — and an export of one campaign's calls (rows per second).
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.enums import Outcome, SystemStatus
from campaigns.models import Agent, AgentGroup, CallLog, Campaign
from campaigns.statuses import ensure_defaults
from dialer.api.queries import CallFilter, call_page, export_rows, iter_calls

BENCH_NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_OUTCOMES = (
    ("no_answer", 0.45),
    ("answered", 0.30),
    ("busy", 0.12),
    ("machine", 0.08),
    ("congestion", 0.03),
    ("dropped", 0.02),
)
_CAMPAIGNS = 3
_GROUPS = 6
_AGENTS = 60


def build_call_log(db: sa.Engine, rows: int, *, seed: int = 7) -> dict[str, Any]:
    """Write the bench campaigns, agents and ``rows`` call-log rows; returns their ids."""
    with Session(db) as session:
        ensure_defaults(session, actor="bench")
        campaigns = [Campaign(name=f"bench calls {k}") for k in range(_CAMPAIGNS)]
        groups = [AgentGroup(name=f"bench group {k}") for k in range(_GROUPS)]
        session.add_all([*campaigns, *groups])
        session.flush()
        agents = [
            Agent(login=f"bench{k}", name=f"Bench {k}", group_id=groups[k % _GROUPS].id)
            for k in range(_AGENTS)
        ]
        session.add_all(agents)
        session.commit()
        campaign_ids = [int(c.id or 0) for c in campaigns]
        agent_ids = [int(a.id or 0) for a in agents]
        group_of = {int(a.id or 0): int(a.group_id or 0) for a in agents}
    rng = random.Random(seed)
    names = [name for name, _ in _OUTCOMES]
    weights = [weight for _, weight in _OUTCOMES]
    table = CallLog.__table__  # type: ignore[attr-defined]
    month_s = 30 * 86_400

    def batch(n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            outcome = rng.choices(names, weights)[0]
            dial = BENCH_NOW - dt.timedelta(seconds=rng.random() * month_s)
            answered = outcome == "answered"
            yield {
                "campaign_id": rng.choice(campaign_ids),
                "phone": f"+48{rng.randint(500_000_000, 799_999_999)}",
                "agent_id": rng.choice(agent_ids) if answered else None,
                "attempt": rng.randint(1, 4),
                "dial_at": dial,
                "answer_at": dial + dt.timedelta(seconds=12) if answered else None,
                "connect_at": dial + dt.timedelta(seconds=12.4) if answered else None,
                "end_at": dial + dt.timedelta(seconds=rng.uniform(15, 400)),
                "ring_s": 12.0,
                "talk_s": rng.uniform(5, 380) if answered else None,
                "outcome": outcome,
                "system_status": SystemStatus.TO_CALL.value,
                "note": "",
            }

    written = 0
    with db.begin() as conn:
        while written < rows:
            n = min(20_000, rows - written)
            conn.execute(sa.insert(table), list(batch(n)))
            written += n
    return {"campaigns": campaign_ids, "agents": agent_ids, "group_of": group_of}


def _time(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
    }


def run_calls_bench(db: sa.Engine, built: dict[str, Any], *, rounds: int = 20) -> dict[str, Any]:
    """Time each page query and one export; the figures as a dict."""
    campaign = built["campaigns"][0]
    agent = built["agents"][0]
    group = built["group_of"][agent]
    group_agents = frozenset(a for a, g in built["group_of"].items() if g == group)
    shapes = {
        "page_all": CallFilter(),
        "page_campaign": CallFilter(campaign_id=campaign),
        "page_agent_own": CallFilter(scope=frozenset({agent})),
        "page_leader_scope": CallFilter(scope=group_agents),
        "page_answered_last_week": CallFilter(
            outcome=Outcome.ANSWERED, start=BENCH_NOW - dt.timedelta(days=7), campaign_id=campaign
        ),
        "page_phone_fragment": CallFilter(phone="5551"),
    }
    result: dict[str, Any] = {"database": db.dialect.name}
    with db.connect() as conn:
        result["rows"] = conn.execute(sa.select(sa.func.count()).select_from(CallLog)).scalar()
        for name, f in shapes.items():

            def page(f: CallFilter = f) -> object:
                return call_page(conn, f, page=1, page_size=50)

            result[name] = _time(page, rounds)
    t0 = time.perf_counter()
    exported = sum(1 for _ in export_rows(iter_calls(db, CallFilter(campaign_id=campaign))))
    seconds = time.perf_counter() - t0
    result["export_rows"] = exported
    result["export_rows_per_s"] = round(exported / seconds) if seconds else None
    return result
