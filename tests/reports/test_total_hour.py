"""The hourly rollup over all campaigns (``total_hour``): kept by the job with the others,
read by an unscoped reader's all-campaign reports, and filled by the migration from the
hours already rolled up (those are final: the job would not redo them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from campaigns.db import make_engine
from campaigns.migrate import upgrade
from campaigns.reports import METRICS, Scope, fill_rollups, time_of_day
from tests.reports.data import FIRST, LAST, generate, raw_calls
from tests.reports.test_reports_oracle import db

__all__ = ["db"]  # the fixture, imported for the tests below


def test_total_hour_is_campaign_hour_added_up(db: sa.Engine) -> None:
    """After the job, each hour's total row is the sum of its campaigns' rows, and the time
    of day over all campaigns (read from it) counts every call of the log."""
    generate(db)
    fill_rollups(db, now=LAST + dt.timedelta(days=1))
    sums = ", ".join(f"sum({m})" for m in METRICS)
    with db.connect() as conn:
        per_campaign = conn.execute(
            sa.text(f"SELECT hour, {sums} FROM campaign_hour GROUP BY hour ORDER BY hour")
        ).all()
        total = conn.execute(
            sa.text(f"SELECT hour, {', '.join(METRICS)} FROM total_hour ORDER BY hour")
        ).all()
        assert len(total) == len(per_campaign) > 400
        for a, b in zip(total, per_campaign, strict=True):
            assert a[0] == b[0]
            assert [round(float(x), 3) for x in a[1:]] == [round(float(x), 3) for x in b[1:]]
        got = time_of_day(conn, Scope(start=FIRST, end=LAST), tz=ZoneInfo("UTC"))
    assert sum(h["dials"] for h in got) == len(raw_calls(db))


def test_the_migration_fills_total_hour_from_the_hours_rolled_up(tmp_path: Path) -> None:
    """A database rolled up before total_hour existed gets it filled by the upgrade."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine, "0014_cluster")
    then = [m for m in METRICS if m != "callbacks_kept"]  # the rollup's columns at 0014
    zeros = ", ".join("0" for _ in then[2:])
    with engine.begin() as conn:
        for hour, campaign, dials, persons in (
            ("2026-03-01 10:00:00.000000", 1, 5, 2),
            ("2026-03-01 10:00:00.000000", 2, 7, 1),
            ("2026-03-01 11:00:00.000000", 1, 3, 3),
        ):
            conn.execute(
                sa.text(
                    f"INSERT INTO campaign_hour (hour, campaign_id, {', '.join(then)})"
                    f" VALUES ('{hour}', {campaign}, {dials}, {persons}, {zeros})"
                )
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT hour, dials, persons FROM total_hour ORDER BY hour")
        ).all()
    assert [(str(r[0])[:13], r[1], r[2]) for r in rows] == [
        ("2026-03-01 10", 12, 3),
        ("2026-03-01 11", 3, 3),
    ]
    engine.dispose()


def test_the_migration_writes_the_callbacks_kept_and_tops_up_the_rollups(
    tmp_path: Path,
) -> None:
    """A log written before callback_kept existed: the upgrade marks the calls that kept a
    callback (answered by the agent whose MY_RECORD booking was the record's previous
    call) and adds them to the hours already rolled up."""
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    upgrade(engine, "0016_cluster_stats")
    # The call log alone (a plain engine: SQLite then checks no foreign key).
    plain = sa.create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with plain.begin() as conn:
        for call_id, agent, outcome, status, at in (
            (1, 7, "answered", "MY_RECORD", "2026-03-01 10:05:00.000000"),
            (2, 7, "answered", "TO_CALL", "2026-03-01 11:05:00.000000"),  # kept
            (3, 8, "answered", "MY_RECORD", "2026-03-01 11:20:00.000000"),
            (4, 7, "answered", "TO_CALL", "2026-03-01 11:40:00.000000"),  # not its booking
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO call_log (id, campaign_id, record_id, phone, agent_id,"
                    " attempt, dial_at, outcome, system_status, note)"
                    " VALUES (:i, 1, 1, '+48500000001', :a, 1, :at, :o, :s, '')"
                ),
                {"i": call_id, "a": agent, "o": outcome, "s": status, "at": at},
            )
    with plain.begin() as conn:  # the hours as the job rolled them up before the upgrade
        conn.execute(
            sa.text(
                "INSERT INTO call_hour (hour, campaign_id, agent_key, dials, persons,"
                " connected, dropped, no_answer, busy, machine, failed, other, talk_s, wait_s,"
                " wrapup_s) VALUES ('2026-03-01 10:00:00.000000', 1, 7, 1, 1, 1, 0, 0, 0, 0,"
                " 0, 0, 0, 0, 0), ('2026-03-01 11:00:00.000000', 1, 7, 2, 2, 2, 0, 0, 0, 0, 0,"
                " 0, 0, 0, 0), ('2026-03-01 11:00:00.000000', 1, 8, 1, 1, 1, 0, 0, 0, 0, 0, 0,"
                " 0, 0, 0)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO total_hour (hour, dials, persons, connected, dropped, no_answer,"
                " busy, machine, failed, other, talk_s, wait_s, wrapup_s) VALUES"
                " ('2026-03-01 10:00:00.000000', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),"
                " ('2026-03-01 11:00:00.000000', 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0)"
            )
        )
    plain.dispose()
    upgrade(engine)
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT id FROM call_log WHERE callback_kept")).all()
        hours = conn.execute(
            sa.text(
                "SELECT hour, agent_key, callbacks_kept FROM call_hour ORDER BY hour, agent_key"
            )
        ).all()
        total = conn.execute(sa.text("SELECT sum(callbacks_kept) FROM total_hour")).scalar()
    assert [r[0] for r in kept] == [2]
    assert [(str(h)[:13], a, n) for h, a, n in hours] == [
        ("2026-03-01 10", 7, 0),
        ("2026-03-01 11", 7, 1),
        ("2026-03-01 11", 8, 0),
    ]
    assert total == 1
    engine.dispose()
