"""``dialer bench reports``: a year of N calls written by SQL, the rollups filled, and each
report over a month (and the time of day over the year) timed.

The calls are generated inside the database (``generate_series`` on PostgreSQL, a recursive
CTE on SQLite), spread over the daytime hours (08–20 UTC) of 2025, 20 campaigns of 5 agents
each in 10 groups, ``N / 5`` records. The figures are those of the report functions of
:mod:`campaigns.reports` (the API adds names and the table around them).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.db import create_schema, make_engine
from campaigns.dispositions import mark_callbacks_kept
from campaigns.models import Agent, AgentGroup, Campaign
from campaigns.reports import (
    CustomerView,
    Dim,
    Period,
    Scope,
    agents_report,
    customers_report,
    fill_rollups,
    local_range,
    period_report,
    statuses_report,
    time_of_day,
)

CAMPAIGNS = 20
AGENTS_PER_CAMPAIGN = 5
GROUPS = 10
YEAR = 2025
_YEAR_START = dt.datetime(YEAR, 1, 1, tzinfo=dt.UTC)
#: Outcome thresholds on one uniform draw.
_OUTCOME_CASE = (
    "CASE WHEN {r} < 0.30 THEN 'answered' WHEN {r} < 0.33 THEN 'dropped' "
    "WHEN {r} < 0.63 THEN 'no_answer' WHEN {r} < 0.73 THEN 'busy' "
    "WHEN {r} < 0.83 THEN 'machine' WHEN {r} < 0.88 THEN 'congestion' "
    "WHEN {r} < 0.90 THEN 'failed' ELSE 'no_answer' END"
)


#: A uniform draw in [0, 1) on SQLite.
_RND = "(abs(random()) / 9223372036854775808.0)"


@contextmanager
def bench_engine(url: str | None, tmp_dir: str) -> Iterator[sa.Engine]:
    """An empty database: a SQLite file in ``tmp_dir``, or a fresh schema of the PostgreSQL
    database at ``url`` (dropped afterwards)."""
    if url is None or not url.startswith("postgresql"):
        engine = make_engine(url or f"sqlite:///{tmp_dir}/reports.db")
        try:
            create_schema(engine)
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _people(db: sa.Engine) -> None:
    with Session(db) as s:
        s.add_all([Campaign(name=f"bench reports {k}") for k in range(CAMPAIGNS)])
        s.add_all([AgentGroup(name=f"bench group {k}") for k in range(GROUPS)])
        s.flush()
        s.add_all(
            Agent(login=f"rb{k}", name=f"Bench {k}", group_id=1 + k % GROUPS)
            for k in range(CAMPAIGNS * AGENTS_PER_CAMPAIGN)
        )
        s.commit()


Progress = Callable[[str], None]


def _to_stderr(message: str) -> None:
    print(f"bench reports: {message}", file=sys.stderr, flush=True)  # noqa: T201


_BULK_TABLES = ("record", "call_log")


@contextmanager
def _bare_tables(conn: sa.Connection, progress: Progress) -> Iterator[None]:
    """PostgreSQL: the bench's own tables without their secondary indexes and foreign keys
    while the generated rows go in (each row would otherwise update every index and look
    up its record), put back afterwards from their saved definitions, as they were."""
    tables = {"tables": list(_BULK_TABLES)}
    indexes = conn.execute(
        sa.text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
            " FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relnamespace = current_schema()::regnamespace"
            " AND t.relname = ANY(:tables)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ),
        tables,
    ).all()
    foreign = conn.execute(
        sa.text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
            " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
            " WHERE t.relnamespace = current_schema()::regnamespace"
            " AND t.relname = ANY(:tables) AND c.contype = 'f'"
        ),
        tables,
    ).all()
    for table, name, _definition in foreign:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for k, (name, definition) in enumerate(indexes, 1):
        progress(f"index {k}/{len(indexes)}: {name}")
        conn.exec_driver_sql(definition)
    for table, name, definition in foreign:
        progress(f"foreign key {table}.{name}")
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def write_calls(db: sa.Engine, rows: int, *, progress: Progress = _to_stderr) -> None:
    """Campaigns, agents, ``rows / 5`` records and ``rows`` calls, written by SQL."""
    _people(db)
    records = max(100, rows // 5)
    per = AGENTS_PER_CAMPAIGN
    if db.dialect.name == "postgresql":
        with db.begin() as conn, _bare_tables(conn, progress):
            progress(f"writing {records} records")
            conn.execute(
                sa.text(
                    "INSERT INTO record (campaign_id, phone, name, tz, fields, system_status,"
                    " attempts, created_at) SELECT (g - 1) % :c + 1, '+48' || (500000000 + g),"
                    " 'P' || g, 'UTC', '{}', CASE WHEN g % 7 = 0 THEN 'MY_RECORD'"
                    " WHEN g % 11 = 0 THEN 'DO_NOT_CALL' ELSE 'TO_CALL' END, 0, now()"
                    " FROM generate_series(1, :n) g"
                ),
                {"c": CAMPAIGNS, "n": records},
            )
            progress(f"writing {rows} calls")
            conn.execute(
                sa.text(
                    "INSERT INTO call_log (campaign_id, record_id, phone, agent_id, attempt,"  # noqa: S608  (constants only)
                    " dial_at, outcome, talk_s, wait_s, wrapup_s, system_status, note)"
                    " SELECT (rec - 1) % :c + 1, rec, '+48' || (500000000 + rec),"
                    " CASE WHEN o IN ('answered') OR r4 < 0.05 THEN"
                    "  ((rec - 1) % :c) * :per + 1 + floor(r4 * :per)::int END,"
                    " 1, timestamp '2025-01-01'"
                    "  + make_interval(days => ((g - 1)::bigint * 365 / :n)::int,"
                    "  secs => 28800 + r1 * 43200), o,"
                    " CASE WHEN o = 'answered' THEN 5 + r4 * 300 END,"
                    " CASE WHEN o IN ('answered', 'dropped') THEN r4 * 2 END,"
                    " CASE WHEN o = 'answered' THEN 3 + r4 * 30 END,"
                    " CASE WHEN o = 'answered' THEN (CASE WHEN r1 < 0.2 THEN 'MY_RECORD'"
                    "  WHEN r1 < 0.3 THEN 'DO_NOT_CALL' ELSE 'TO_CALL' END) END, ''"
                    " FROM (SELECT g, r1, r4, 1 + floor(r2 * :recs)::int AS rec, "
                    + _OUTCOME_CASE.format(r="r3")
                    + " AS o FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3,"
                    " random() AS r4 FROM generate_series(1, :n) g) d) x"
                ),
                {"c": CAMPAIGNS, "per": per, "n": rows, "recs": records},
            )
        progress("callbacks kept")
        with db.begin() as conn:
            mark_callbacks_kept(conn)
        progress("vacuum analyze")
        # What autovacuum does to a table at rest: statistics and the visibility map (an
        # index-only scan, as the statuses report's, reads no table page once it is set).
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        return
    with db.begin() as conn:
        conn.execute(
            sa.text(
                "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n)"
                " INSERT INTO record (campaign_id, phone, name, tz, fields, system_status,"
                " attempts, created_at) SELECT (g - 1) % :c + 1, '+48' || (500000000 + g),"
                " 'P' || g, 'UTC', '{}', CASE WHEN g % 7 = 0 THEN 'MY_RECORD'"
                " WHEN g % 11 = 0 THEN 'DO_NOT_CALL' ELSE 'TO_CALL' END, 0,"
                " '2025-01-01 00:00:00.000000' FROM s"
            ),
            {"c": CAMPAIGNS, "n": records},
        )
        conn.execute(
            sa.text(
                "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n)"  # noqa: S608  (constants only)
                " INSERT INTO call_log (campaign_id, record_id, phone, agent_id, attempt,"
                " dial_at, outcome, talk_s, wait_s, wrapup_s, system_status, note)"
                " SELECT (rec - 1) % :c + 1, rec, '+48' || (500000000 + rec),"
                " CASE WHEN o = 'answered' OR r4 < 0.05 THEN"
                "  ((rec - 1) % :c) * :per + 1 + CAST(r4 * :per AS INTEGER) END,"
                " 1, strftime('%Y-%m-%d %H:%M:%S', '2025-01-01',"
                "  '+' || ((g - 1) * 365 / :n) || ' days',"
                "  '+' || CAST(28800 + r1 * 43200 AS INTEGER) || ' seconds') || '.000000', o,"
                " CASE WHEN o = 'answered' THEN 5 + r4 * 300 END,"
                " CASE WHEN o IN ('answered', 'dropped') THEN r4 * 2 END,"
                " CASE WHEN o = 'answered' THEN 3 + r4 * 30 END,"
                " CASE WHEN o = 'answered' THEN (CASE WHEN r1 < 0.2 THEN 'MY_RECORD'"
                "  WHEN r1 < 0.3 THEN 'DO_NOT_CALL' ELSE 'TO_CALL' END) END, ''"
                " FROM (SELECT g, r1, r4, 1 + CAST(r2 * :recs AS INTEGER) AS rec, "
                + _OUTCOME_CASE.format(r="r3")
                + " AS o FROM (SELECT g, "
                + ", ".join(f"{_RND} AS r{k}" for k in (1, 2, 3, 4))
                + " FROM s) d) x"
            ),
            {"c": CAMPAIGNS, "per": per, "n": rows, "recs": records},
        )
        mark_callbacks_kept(conn)
        conn.exec_driver_sql("ANALYZE")


def _timed(
    fn: Callable[[int], object], rounds: int, name: str, progress: Progress
) -> dict[str, float]:
    progress(f"timing {name} ({rounds} rounds)")
    times = []
    for k in range(rounds):
        t0 = time.perf_counter()
        fn(k)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
    }


def run_reports_bench(
    db: sa.Engine, *, rounds: int = 10, progress: Progress = _to_stderr
) -> dict[str, Any]:
    """Time each report over a month of all campaigns (a different month each round) and the
    time of day over the whole year; every hour is read from final rollups."""
    tz = ZoneInfo("Europe/Warsaw")

    def month(k: int) -> Scope:
        first = dt.date(YEAR, 1 + k % 12, 1)
        last = dt.date(YEAR + (first.month == 12), first.month % 12 + 1, 1) - dt.timedelta(1)
        start, end = local_range(first, last, tz)
        return Scope(start=start, end=end)

    def period(k: int) -> None:
        s = month(k)
        with db.connect() as conn:
            period_report(
                conn,
                s,
                first_day=s.start.date(),
                last_day=s.end.date(),
                tz=tz,
                period=Period.DAY,
                dim=Dim.CAMPAIGN,
            )

    def tod(k: int) -> None:
        with db.connect() as conn:
            time_of_day(conn, month(k), tz=tz)

    def tod_year(k: int) -> None:
        del k
        start, end = local_range(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31), tz)
        with db.connect() as conn:
            time_of_day(conn, Scope(start=start, end=end), tz=tz)

    def agents(k: int) -> None:
        with db.connect() as conn:
            agents_report(conn, month(k), dim=Dim.AGENT)

    def customers(k: int) -> None:
        with db.connect() as conn:
            customers_report(conn, month(k), view=CustomerView.LAST_NOT_ANSWERED)

    def statuses(k: int) -> None:
        with db.connect() as conn:
            statuses_report(conn, month(k), tz=tz, period=Period.DAY)

    return {
        "period_month": _timed(period, rounds, "period_month", progress),
        "time_of_day_month": _timed(tod, rounds, "time_of_day_month", progress),
        "time_of_day_year": _timed(tod_year, rounds, "time_of_day_year", progress),
        "agents_month": _timed(agents, rounds, "agents_month", progress),
        "customers_month": _timed(customers, rounds, "customers_month", progress),
        "statuses_month": _timed(statuses, rounds, "statuses_month", progress),
    }


def bench(
    db: sa.Engine, rows: int, *, rounds: int = 10, progress: Progress = _to_stderr
) -> dict[str, Any]:
    """Write ``rows`` calls, fill the rollups (``fill_s``), time the reports; says what it
    is doing through ``progress`` (default: lines on stderr)."""
    t0 = time.perf_counter()
    write_calls(db, rows, progress=progress)
    write_s = time.perf_counter() - t0
    progress(f"written in {write_s:.0f} s; filling the rollups")
    t0 = time.perf_counter()
    fill_rollups(db, now=_YEAR_START + dt.timedelta(days=370))
    fill_s = time.perf_counter() - t0
    progress(f"rollups filled in {fill_s:.0f} s")
    with db.connect() as conn:
        hours = conn.execute(sa.text("SELECT count(*) FROM call_hour")).scalar_one()
    return {
        "database": db.dialect.name,
        "rows": rows,
        "write_s": round(write_s, 1),
        "fill_s": round(fill_s, 1),
        "rollup_rows": int(hours),
        **run_reports_bench(db, rounds=rounds, progress=progress),
    }
