"""Every report's figures equal a plain oracle over the raw call log, whatever the rollup job
has done: nothing, part (some hours not final, rows changed after), or all of it; in several
time zones across both DST changes of 2026, with an agent moved to another group."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from campaigns.db import create_schema, make_engine
from campaigns.reports import (
    METRICS,
    CustomerView,
    Dim,
    Period,
    ReportError,
    Scope,
    agents_report,
    customers_report,
    fill_rollups,
    local_range,
    period_report,
    rollup_due,
    rollup_hours,
    rollup_records,
    statuses_report,
    time_of_day,
)
from campaigns.retention import purge
from tests.campaigns.conftest_b import engine_in_private_schema
from tests.reports.data import (
    FIRST,
    LAST,
    Generated,
    figures,
    first_of_bucket,
    generate,
    local_bounds,
    local_day,
    raw_calls,
    selected,
)

ZONES = ("UTC", "Europe/Warsaw", "America/New_York", "Asia/Tokyo")
MID = dt.datetime(2026, 3, 20, 12, 30, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database of every kind the product runs on."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
        create_schema(engine)
        yield engine
        engine.dispose()
        return
    pg_url = request.getfixturevalue("pg_url")
    with engine_in_private_schema(pg_url) as engine:
        yield engine


def _move_agent(db: sa.Engine, agent: int, group: int) -> None:
    with db.begin() as conn:
        conn.execute(
            sa.text("UPDATE agent SET group_id = :g WHERE id = :a"), {"g": group, "a": agent}
        )


def _prepare(db: sa.Engine, state: str) -> Generated:
    """Generated calls, rolled up as ``state`` says, and agent a2 moved from G1 to G2."""
    gen = generate(db)
    if state == "partial":
        # Roll everything up as it stood at MID (hours before MID - 1 h settle are final),
        # then change calls of unsettled hours: reports must see the change.
        rollup_hours(db, FIRST, MID, now=MID)
        with db.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE call_log SET outcome = 'answered', agent_id = :a, talk_s = 42 "
                    "WHERE dial_at >= :f AND dial_at < :t"
                ),
                {"a": gen.agents[3], "f": MID - dt.timedelta(minutes=80), "t": MID},
            )
        rollup_hours(
            db,
            MID + dt.timedelta(days=3),
            MID + dt.timedelta(days=4),
            now=MID + dt.timedelta(days=5),
        )
    elif state == "full":
        assert fill_rollups(db, now=LAST + dt.timedelta(days=1)) > 0
    _move_agent(db, gen.agents[1], gen.groups[1])
    return gen


STATES = ("raw", "partial", "full")


def test_the_job_redoes_only_hours_that_are_not_final(db: sa.Engine) -> None:
    """The scheduled job rewrites the hours of its look-back that were rolled up before
    they settled or never, and leaves final ones alone."""
    generate(db, calls=50)
    now = LAST + dt.timedelta(minutes=30)
    oldest = min(c["dial_at"] for c in raw_calls(db)).replace(minute=0, second=0, microsecond=0)
    assert fill_rollups(db, now=now) == int((LAST - oldest) / dt.timedelta(hours=1))
    # The last hour ended 30 minutes ago: not settled, so the job redoes it every time.
    assert rollup_due(db, now=now) == 1
    later = LAST + dt.timedelta(hours=2, minutes=1)
    # 23:00 (rolled before it settled), 00:00 and 01:00 (never rolled up).
    assert rollup_due(db, now=later) == 3
    # Only 01:00, which ended a minute before it was rolled up, is not final yet.
    assert rollup_due(db, now=later) == 1
    # An hour on: 01:00 again (not settled at 02:01) and 02:00, which just ended.
    assert rollup_due(db, now=later + dt.timedelta(hours=1)) == 2


def _near(a: dict[str, Any], b: dict[str, Any]) -> None:
    for k in METRICS:
        assert abs(float(a.get(k, 0)) - float(b.get(k, 0))) <= 0.051, (k, a, b)


@pytest.mark.parametrize("state", STATES)
def test_period_report_equals_the_raw_log(db: sa.Engine, state: str) -> None:
    """Calls by period (every period, every split, in four zones, filtered and scoped)
    equal the raw log counted per local date: rows, totals per key and the grand total."""
    gen = _prepare(db, state)
    calls = raw_calls(db)
    first_day, last_day = dt.date(2026, 3, 6), dt.date(2026, 4, 1)
    cases: list[tuple[str, str, Dim, dict[str, Any]]] = [
        (tz, period, dim, {})
        for tz in ZONES
        for period, dim in (("day", Dim.NONE), ("week", Dim.CAMPAIGN), ("month", Dim.AGENT))
    ]
    cases += [
        ("Europe/Warsaw", "day", Dim.GROUP, {}),
        ("America/New_York", "quarter", Dim.GROUP, {"group": gen.groups[1]}),
        ("UTC", "year", Dim.NONE, {"campaign": gen.campaigns[0]}),
        ("Europe/Warsaw", "day", Dim.AGENT, {"scope": {gen.agents[0], gen.agents[1]}}),
        ("Asia/Tokyo", "week", Dim.CAMPAIGN, {"agent": gen.agents[2], "scope": {gen.agents[2]}}),
        ("UTC", "day", Dim.NONE, {"scope": set()}),
    ]
    with db.connect() as conn:
        for tz, period, dim, f in cases:
            start, end = local_bounds(first_day, last_day, tz)
            assert (start, end) == local_range(first_day, last_day, ZoneInfo(tz))
            scope = Scope(
                start=start,
                end=end,
                campaign_id=f.get("campaign"),
                agent_id=f.get("agent"),
                group_id=f.get("group"),
                agents=frozenset(f["scope"]) if "scope" in f else None,
            )
            got = period_report(
                conn, scope, first_day=first_day, last_day=last_day, tz=ZoneInfo(tz),
                period=Period(period), dim=dim,
            )  # fmt: skip
            chosen = selected(calls, start=start, end=end, **f)
            cells: dict[tuple[dt.date, int], list[dict[str, Any]]] = defaultdict(list)
            for c in chosen:
                key = {
                    Dim.NONE: 0,
                    Dim.CAMPAIGN: c["campaign_id"],
                    Dim.AGENT: c["agent_id"] or 0,
                    Dim.GROUP: (c["group_id"] or 0) if c["agent_id"] else 0,
                }[dim]
                cells[first_of_bucket(local_day(c, tz).date(), period), key].append(c)
            assert [(r.bucket, r.key) for r in got.rows] == sorted(cells), (tz, period, dim, f)
            for r in got.rows:
                _near(r.metrics, figures(cells[r.bucket, r.key]))
            _near(got.total, figures(chosen))
            for key, m in got.by_key.items():
                _near(m, figures([c for (_, k), cs in cells.items() if k == key for c in cs]))
            assert got.total["dials"] == len(chosen)
    if state != "raw":
        assert any(r.metrics["dials"] for r in got.rows) or not chosen


@pytest.mark.parametrize("state", STATES)
def test_time_of_day_equals_the_raw_log(db: sa.Engine, state: str) -> None:
    """Calls per local hour of day equal the raw log's, in zones east and west of UTC and
    over both DST changes (a local hour is counted in the offset of its own day), for all
    calls, one campaign, one group (with an agent moved into it), one agent and a scoped
    reader."""
    gen = _prepare(db, state)
    calls = raw_calls(db)
    filters: list[dict[str, Any]] = [
        {},
        {"campaign": gen.campaigns[1]},
        {"group": gen.groups[1]},  # a2 moved into G2: counted in his new group
        {"agent": gen.agents[0]},
        {"scope": {gen.agents[0], gen.agents[1]}},
    ]
    with db.connect() as conn:
        for tz, f in itertools.product(ZONES, filters):
            start, end = local_bounds(dt.date(2026, 3, 7), dt.date(2026, 3, 31), tz)
            scope = Scope(
                start=start,
                end=end,
                campaign_id=f.get("campaign"),
                agent_id=f.get("agent"),
                group_id=f.get("group"),
                agents=frozenset(f["scope"]) if "scope" in f else None,
            )
            got = time_of_day(conn, scope, tz=ZoneInfo(tz))
            chosen = selected(calls, start=start, end=end, **f)
            per_hour: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for c in chosen:
                per_hour[local_day(c, tz).hour].append(c)
            assert [h["hour"] for h in got] == list(range(24))
            for h in got:
                _near(h, figures(per_hour[int(h["hour"])]))
            if chosen:
                assert sum(h["dials_pct"] for h in got) == pytest.approx(100.0, abs=0.2)


def test_a_zone_off_the_whole_hour_is_refused(db: sa.Engine) -> None:
    """Rollups are per UTC hour: a half-hour zone (Asia/Kolkata) is refused by name."""
    generate(db, calls=50)
    start, end = local_bounds(dt.date(2026, 3, 10), dt.date(2026, 3, 12), "Asia/Kolkata")
    with db.connect() as conn, pytest.raises(ReportError, match="Asia/Kolkata"):
        time_of_day(conn, Scope(start=start, end=end), tz=ZoneInfo("Asia/Kolkata"))


@pytest.mark.parametrize("state", STATES)
def test_agents_report_equals_the_raw_log(db: sa.Engine, state: str) -> None:
    """Per agent and per group (the current group of each agent): calls, times, statuses
    set and callbacks booked equal the raw log's; calls without an agent are nobody's. Over
    the whole span and over local days (both DST changes, the 23-hour day alone), for all,
    a scoped reader, one campaign, one group and one agent."""
    gen = _prepare(db, state)
    calls = raw_calls(db)
    bounds = [
        (FIRST, LAST),
        local_bounds(dt.date(2026, 3, 8), dt.date(2026, 3, 29), "America/New_York"),
        local_bounds(dt.date(2026, 3, 29), dt.date(2026, 3, 29), "Europe/Warsaw"),  # 23 h
    ]
    filters: list[dict[str, Any]] = [
        {},
        {"scope": {gen.agents[0], gen.agents[1]}},
        {"campaign": gen.campaigns[2]},
        {"group": gen.groups[1]},
        {"agent": gen.agents[3], "scope": {gen.agents[3]}},
    ]
    with db.connect() as conn:
        for (start, end), f in itertools.product(bounds, filters):
            for dim in (Dim.AGENT, Dim.GROUP):
                got = agents_report(
                    conn,
                    Scope(
                        start=start,
                        end=end,
                        campaign_id=f.get("campaign"),
                        agent_id=f.get("agent"),
                        group_id=f.get("group"),
                        agents=frozenset(f["scope"]) if "scope" in f else None,
                    ),
                    dim=dim,
                )
                chosen = selected(calls, start=start, end=end, **f)
                per: dict[int, list[dict[str, Any]]] = defaultdict(list)
                for c in chosen:
                    if dim is Dim.AGENT:
                        if c["agent_id"] is not None:
                            per[c["agent_id"]].append(c)
                    else:
                        per[(c["group_id"] or 0) if c["agent_id"] else 0].append(c)
                assert [line.key for line in got] == sorted(per)
                for line in got:
                    mine = per[line.key]
                    _near(line.metrics, figures(mine))
                    assert line.statuses == dict(
                        Counter(c["system_status"] for c in mine if c["system_status"])
                    )
                    assert line.callbacks_booked == sum(
                        c["system_status"] == "MY_RECORD" for c in mine
                    )


def _roll_records(db: sa.Engine, state: str) -> None:
    """The per-record rollup as ``state`` says: never run, run now and then as the job
    would (each run adds the hours settled since), or rebuilt after the last call."""
    if state == "stepped":
        for now in (FIRST + dt.timedelta(days=4), MID, MID + dt.timedelta(hours=7), LAST):
            assert rollup_records(db, now=now)
        assert not rollup_records(db, now=LAST + dt.timedelta(minutes=30))
    elif state == "full":
        fill_rollups(db, now=LAST + dt.timedelta(days=1))
    elif state == "purged":
        # Rolled up, then retention deletes every call dialed before MID (in batches).
        fill_rollups(db, now=LAST + dt.timedelta(days=1))
        purged = purge(db, MID + dt.timedelta(days=1), call_log_days=1, audit_days=1, batch=50)
        assert purged.call_log > 50


@pytest.mark.parametrize("state", ["raw", "stepped", "full", "purged"])
def test_customers_report_equals_the_raw_log(db: sa.Engine, state: str) -> None:
    """Records whose last call (first call, in the first-contact view) falls in the period,
    with attempts, first and last contact, last not answered and never reached over their
    whole history, equal the raw log's: for all records, one list, one campaign and a
    scoped reader, whatever the per-record rollup has done, and after retention purged
    the older calls (the rollup counts no call that is gone)."""
    gen = generate(db)
    _roll_records(db, state)
    calls = raw_calls(db)
    start, end = local_bounds(dt.date(2026, 3, 10), dt.date(2026, 3, 25), "Europe/Warsaw")
    cases = (
        (None, None, None),
        (gen.lists[1], None, None),
        (None, gen.campaigns[2], None),
        (None, None, {gen.agents[0]}),
    )
    with db.connect() as conn:
        for view, (list_id, campaign, scope) in itertools.product(CustomerView, cases):
            got = customers_report(
                conn,
                Scope(
                    start=start,
                    end=end,
                    campaign_id=campaign,
                    agents=frozenset(scope) if scope is not None else None,
                ),
                list_id=list_id,
                view=view,
                limit=1000,
            )
            per: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for c in selected(calls, start=FIRST, end=LAST, campaign=campaign, scope=scope):
                if list_id is None or c["list_id"] == list_id:
                    per[c["record_id"]].append(c)
            pick = 0 if view is CustomerView.FIRST_CONTACT else -1
            per = {r: v for r, v in per.items() if start <= v[pick]["dial_at"] < end}
            assert got.records == len(per)
            assert got.distribution == dict(sorted(Counter(len(v) for v in per.values()).items()))
            never = {r for r, v in per.items() if not any(c["outcome"] == "answered" for c in v)}
            last_na = {r for r, v in per.items() if v[-1]["outcome"] != "answered"}
            assert got.never_reached == len(never)
            assert got.last_not_answered == len(last_na)
            expected = {
                CustomerView.NEVER_REACHED: never,
                CustomerView.LAST_NOT_ANSWERED: last_na,
            }.get(view, set(per))
            assert {line.record_id for line in got.lines} == expected
            by_first = view is CustomerView.FIRST_CONTACT
            order = [
                (c.at, c.call_id) for c in (ln.first if by_first else ln.last for ln in got.lines)
            ]
            assert order == sorted(order, reverse=True)  # newest first
            got_scope = Scope(
                start=start,
                end=end,
                campaign_id=campaign,
                agents=frozenset(scope) if scope is not None else None,
            )
            pages = [
                customers_report(
                    conn, got_scope, list_id=list_id, view=view, limit=7, offset=k
                ).lines
                for k in (0, 7, 14)
            ]
            assert [ln.record_id for page in pages for ln in page] == [
                ln.record_id for ln in got.lines[:21]
            ]
            for line in got.lines:
                mine = per[line.record_id]
                assert line.calls == len(mine)
                assert line.reached == sum(c["outcome"] == "answered" for c in mine)
                assert (line.first.call_id, line.first.outcome, line.first.at) == (
                    mine[0]["id"],
                    mine[0]["outcome"],
                    mine[0]["dial_at"],
                )
                assert (line.last.call_id, line.last.agent_id) == (
                    mine[-1]["id"],
                    mine[-1]["agent_id"],
                )


@pytest.mark.parametrize("state", STATES)
def test_statuses_report_equals_the_database(db: sa.Engine, state: str) -> None:
    """Records by status now (owned by the scope's agents, for a scoped reader; of one
    campaign) and the system statuses set on calls per local day, week or month (in four
    zones) and per status equal plain counts."""
    gen = _prepare(db, state)
    calls = raw_calls(db)
    cases = [
        ("America/New_York", "week", None, None),
        ("America/New_York", "week", None, {gen.agents[2]}),
        ("Europe/Warsaw", "day", gen.campaigns[0], None),
        ("Asia/Tokyo", "day", None, {gen.agents[0], gen.agents[1]}),
        ("UTC", "month", gen.campaigns[1], None),
    ]
    with db.connect() as conn:
        records = conn.execute(
            sa.text(
                "SELECT campaign_id, list_id, status_id, system_status, owner_agent_id FROM record"
            )
        ).all()
        for tz, period, campaign, scope in cases:
            start, end = local_bounds(dt.date(2026, 3, 6), dt.date(2026, 4, 1), tz)
            got = statuses_report(
                conn,
                Scope(
                    start=start,
                    end=end,
                    campaign_id=campaign,
                    agents=frozenset(scope) if scope is not None else None,
                ),
                tz=ZoneInfo(tz),
                period=Period(period),
            )
            now = Counter(
                (r[0], r[1], r[2], r[3])
                for r in records
                if (scope is None or r[4] in scope) and (campaign is None or r[0] == campaign)
            )
            assert {
                (r["campaign_id"], r["list_id"], r["status_id"], r["system_status"]): r["records"]
                for r in got.now
            } == dict(now)
            chosen = [
                c
                for c in selected(calls, start=start, end=end, campaign=campaign, scope=scope)
                if c["system_status"]
            ]
            buckets: dict[dt.date, Counter[str]] = defaultdict(Counter)
            for c in chosen:
                buckets[first_of_bucket(local_day(c, tz).date(), period)][c["system_status"]] += 1
            assert got.changes == {k: dict(v) for k, v in sorted(buckets.items())}
            assert got.changes_total == dict(Counter(c["system_status"] for c in chosen))
            with_status = [
                c
                for c in selected(calls, start=start, end=end, campaign=campaign, scope=scope)
                if c["status_id"] is not None
            ]
            assert {k: v for k, v in got.changes_by_status.items() if k} == dict(
                Counter(c["status_id"] for c in with_status)
            )


def test_offset_segments_cut_at_each_dst_change() -> None:
    """A range is cut exactly at the UTC instants the zone's offset changes (both 2026
    changes of Warsaw and New York); a zone without changes is one stretch."""
    from campaigns.reports import offset_segments

    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    utc = dt.UTC
    assert offset_segments(start, end, ZoneInfo("Europe/Warsaw")) == [
        (start, dt.datetime(2026, 3, 29, 1, tzinfo=utc), 1),
        (dt.datetime(2026, 3, 29, 1, tzinfo=utc), dt.datetime(2026, 10, 25, 1, tzinfo=utc), 2),
        (dt.datetime(2026, 10, 25, 1, tzinfo=utc), end, 1),
    ]
    assert offset_segments(start, end, ZoneInfo("America/New_York")) == [
        (start, dt.datetime(2026, 3, 8, 7, tzinfo=utc), -5),
        (dt.datetime(2026, 3, 8, 7, tzinfo=utc), dt.datetime(2026, 11, 1, 6, tzinfo=utc), -4),
        (dt.datetime(2026, 11, 1, 6, tzinfo=utc), end, -5),
    ]
    assert offset_segments(start, end, ZoneInfo("Asia/Tokyo")) == [(start, end, 9)]
    with pytest.raises(ReportError, match="Kolkata"):
        offset_segments(start, end, ZoneInfo("Asia/Kolkata"))
