"""Daily rollups: each campaign's figures per UTC day, from the call log."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from campaigns.models import CallLog, CampaignDay

_LOG = CallLog.__table__  # type: ignore[attr-defined]
_DAY = CampaignDay.__table__  # type: ignore[attr-defined]


def rollup_day(db: sa.Engine, day: dt.date, *, now: dt.datetime) -> int:
    """(Re)compute every campaign's row of ``day``; returns how many campaigns had calls."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    outcome = _LOG.c.outcome
    query = (
        sa.select(
            _LOG.c.campaign_id,
            sa.func.count().label("dials"),
            sa.func.sum(sa.case((outcome.in_(("answered", "dropped")), 1), else_=0)),
            sa.func.sum(sa.case((outcome == "answered", 1), else_=0)),
            sa.func.sum(sa.case((outcome == "dropped", 1), else_=0)),
            sa.func.sum(sa.case((outcome == "machine", 1), else_=0)),
            sa.func.coalesce(sa.func.sum(_LOG.c.talk_s), 0.0),
        )
        .where(_LOG.c.dial_at >= start, _LOG.c.dial_at < end)
        .group_by(_LOG.c.campaign_id)
    )
    with db.begin() as conn:
        rows = conn.execute(query).all()
        conn.execute(sa.delete(_DAY).where(_DAY.c.day == day))
        if rows:
            conn.execute(
                sa.insert(_DAY),
                [
                    {
                        "campaign_id": r[0],
                        "day": day,
                        "dials": int(r[1]),
                        "answered": int(r[2] or 0),
                        "connected": int(r[3] or 0),
                        "dropped": int(r[4] or 0),
                        "machines": int(r[5] or 0),
                        "talk_s": float(r[6] or 0.0),
                        "updated_at": now,
                    }
                    for r in rows
                ],
            )
    return len(rows)
