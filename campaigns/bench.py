"""Selection benchmark: build a large campaign fast, then time repeated claims.

The mix (``dialer bench select``): 70 % fresh records, 20 % retries due later, 5 % due or
future ``MY_RECORD`` callbacks, 5 % numbers on the global DNC list, spread over several
zone keys (some outside their calling window at the benchmark's ``now``). Rows are
written with the driver's bulk path (``executemany`` on SQLite, ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from campaigns.enums import SystemStatus
from campaigns.models import Agent, Campaign, DncEntry, Record
from campaigns.selection import claim, forget_zone_keys, release

#: A Wednesday, 15:00 UTC: Warsaw, London, New York and Chicago are inside 09:00–20:00;
#: Los Angeles and Tokyo are not.
BENCH_NOW = dt.datetime(2026, 3, 11, 15, 0, tzinfo=dt.UTC)
ZONE_KEYS = (
    "Europe/Warsaw",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Chicago America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
)
RECORD_COLUMNS = (
    "campaign_id",
    "phone",
    "name",
    "tz",
    "fields",
    "system_status",
    "attempts",
    "next_call_at",
    "owner_agent_id",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class BuiltCampaign:
    """A benchmark campaign: its id, its agents and how long building it took."""

    campaign_id: int
    agent_ids: tuple[int, ...]
    records: int
    dnc_entries: int
    build_s: float


def _rows(
    campaign_id: int, count: int, agent_ids: tuple[int, ...], now: dt.datetime, seed: int
) -> Iterator[tuple[Any, ...]]:
    """Record rows of the mix, naive UTC times; DNC phones are those with ``kind == 'dnc'``."""
    rng = random.Random(seed)
    created = now.replace(tzinfo=None) - dt.timedelta(days=1)
    naive_now = now.replace(tzinfo=None)
    prefix = 100_000_000 + campaign_id * 1_000_000 % 100_000_000
    for i in range(count):
        draw = rng.random()
        tz = ZONE_KEYS[i % len(ZONE_KEYS)]
        phone = f"+48{prefix + i:09d}"[:16]
        status = SystemStatus.TO_CALL.value
        attempts = 0
        next_call_at: dt.datetime | None = None
        owner: int | None = None
        if 0.70 <= draw < 0.90:  # retries due later
            attempts = rng.randint(1, 3)
            next_call_at = naive_now + dt.timedelta(minutes=rng.randint(5, 48 * 60))
        elif 0.90 <= draw < 0.95:  # callbacks, some due
            status = SystemStatus.MY_RECORD.value
            attempts = 1
            owner = agent_ids[i % len(agent_ids)]
            next_call_at = naive_now + dt.timedelta(minutes=rng.randint(-120, 48 * 60))
        elif draw >= 0.95:  # on the DNC list
            phone = "D" + phone  # marker, stripped by the writer
        yield (
            campaign_id,
            phone,
            f"Bench {i}",
            tz,
            "{}",
            status,
            attempts,
            next_call_at,
            owner,
            created,
        )


def _bulk_write(conn: sa.Connection, rows: Iterator[tuple[Any, ...]]) -> int:
    """Write record rows and the DNC entries they mark; returns the number of DNC entries."""
    driver = conn.connection.driver_connection
    if driver is None:
        msg = "no DBAPI connection"
        raise RuntimeError(msg)
    created_dnc = BENCH_NOW.replace(tzinfo=None)
    if conn.dialect.name == "postgresql":
        cur = driver.cursor()
        dnc_phones: list[str] = []
        cols = ", ".join(RECORD_COLUMNS)
        with cur.copy(f"COPY record ({cols}) FROM STDIN") as copy:
            for row in rows:
                phone = row[1]
                if phone.startswith("D"):
                    phone = phone[1:]
                    dnc_phones.append(phone)
                copy.write_row((row[0], phone, *row[2:]))
        with cur.copy("COPY dnc_entry (phone, reason, added_by, created_at) FROM STDIN") as copy:
            for phone in dnc_phones:
                copy.write_row((phone, "bench", "bench", created_dnc))
        return len(dnc_phones)

    def fmt(value: Any) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, dt.datetime) else value

    cur = driver.cursor()
    placeholders = ", ".join("?" for _ in RECORD_COLUMNS)
    record_sql = f"INSERT INTO record ({', '.join(RECORD_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
    dnc_sql = "INSERT INTO dnc_entry (phone, reason, added_by, created_at) VALUES (?, ?, ?, ?)"
    batch: list[tuple[Any, ...]] = []
    dnc_batch: list[tuple[Any, ...]] = []
    for row in rows:
        phone = row[1]
        if phone.startswith("D"):
            phone = phone[1:]
            dnc_batch.append((phone, "bench", "bench", fmt(created_dnc)))
        batch.append((row[0], phone, *(fmt(v) for v in row[2:])))
        if len(batch) >= 50_000:
            cur.executemany(record_sql, batch)
            batch.clear()
    cur.executemany(record_sql, batch)
    cur.executemany(dnc_sql, dnc_batch)
    return len(dnc_batch)


def build_select_campaign(
    engine: sa.Engine, records: int, *, now: dt.datetime = BENCH_NOW, seed: int = 7
) -> BuiltCampaign:
    """Create a benchmark campaign with ``records`` records of the mix (tables must exist)."""
    started = time.perf_counter()
    with engine.begin() as conn:
        name = f"bench-select-{time.time_ns()}"
        campaign_id = conn.execute(
            sa.insert(Campaign.__table__)  # type: ignore[attr-defined]
            .values(
                name=name,
                description="dialer bench select",
                retry_delays_s={},
                window_days=[1, 2, 3, 4, 5, 6],
                created_at=now,
                updated_at=now,
            )
            .returning(Campaign.__table__.c.id)  # type: ignore[attr-defined]
        ).scalar_one()
        agent_ids = tuple(
            conn.execute(
                sa.insert(Agent.__table__)  # type: ignore[attr-defined]
                .values(login=f"{name}-agent-{k}", name=f"Agent {k}", created_at=now)
                .returning(Agent.__table__.c.id)  # type: ignore[attr-defined]
            ).scalar_one()
            for k in range(20)
        )
        dnc = _bulk_write(conn, _rows(campaign_id, records, agent_ids, now, seed))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE record"))
            conn.execute(sa.text("ANALYZE dnc_entry"))
        else:
            conn.execute(sa.text("ANALYZE"))
        conn.commit()
    forget_zone_keys(campaign_id)
    return BuiltCampaign(campaign_id, agent_ids, records, dnc, time.perf_counter() - started)


def drop_campaign(engine: sa.Engine, campaign_id: int) -> None:
    """Delete a benchmark campaign with its records, agents' leases and DNC entries."""
    record = Record.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        phones = sa.select(record.c.phone).where(record.c.campaign_id == campaign_id)
        conn.execute(
            sa.delete(DncEntry.__table__).where(  # type: ignore[attr-defined]
                DncEntry.__table__.c.phone.in_(phones),  # type: ignore[attr-defined]
                DncEntry.__table__.c.reason == "bench",  # type: ignore[attr-defined]
            )
        )
        conn.execute(sa.delete(record).where(record.c.campaign_id == campaign_id))
        conn.execute(
            sa.delete(Campaign.__table__).where(Campaign.__table__.c.id == campaign_id)  # type: ignore[attr-defined]
        )


def run_select_bench(
    engine: sa.Engine,
    built: BuiltCampaign,
    *,
    rounds: int = 200,
    batch: int = 100,
    now: dt.datetime = BENCH_NOW,
    in_flight_rounds: int = 3,
) -> dict[str, Any]:
    """Time ``rounds`` claims of ``batch`` records; every 10th claim is for a ready agent.

    Between claims (untimed) the calls of ``in_flight_rounds`` claims ago end: their
    leases are released and they get a retry time an hour later, so the number of calls
    in flight stays what a real campaign has.
    """
    timings: list[float] = []
    claimed_total = 0
    tiers: dict[str, int] = {}
    history: list[list[int]] = []
    record = Record.__table__  # type: ignore[attr-defined]
    for round_no in range(rounds + 1):
        at = now + dt.timedelta(seconds=round_no)
        agent = built.agent_ids[round_no % len(built.agent_ids)] if round_no % 10 == 0 else None
        started = time.perf_counter()
        got = claim(
            engine, built.campaign_id, batch, at, engine_id="bench", lease_s=600, agent_id=agent
        )
        elapsed = time.perf_counter() - started
        if round_no > 0:  # the first claim also reads the campaign's zone keys
            timings.append(elapsed * 1000)
            claimed_total += len(got)
            for item in got:
                tiers[item.tier.name] = tiers.get(item.tier.name, 0) + 1
        history.append([item.id for item in got])
        if len(history) > in_flight_rounds:
            done = history.pop(0)
            with engine.begin() as conn:
                conn.execute(
                    sa.update(record)
                    .where(record.c.id.in_(done))
                    .values(next_call_at=at + dt.timedelta(hours=1))
                )
            release(engine, done, engine_id="bench")
    for ids in history:
        release(engine, ids, engine_id="bench")
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "benchmark": "select",
        "database": engine.dialect.name,
        "records": built.records,
        "dnc_entries": built.dnc_entries,
        "build_s": round(built.build_s, 2),
        "build_rows_per_s": round(built.records / built.build_s) if built.build_s else None,
        "batch": batch,
        "rounds": len(timings),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
        "min_ms": round(ordered[0], 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "claimed_per_round": round(claimed_total / len(timings), 1),
        "claimed_by_tier": tiers,
        "target_median_ms": 20,
        "ok": statistics.median(ordered) <= 20,
        "mix": {"fresh": 0.70, "retry_due_later": 0.20, "callbacks": 0.05, "dnc": 0.05},
        "zone_keys": list(ZONE_KEYS),
        "now": now.isoformat(),
    }
