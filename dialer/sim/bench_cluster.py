"""``dialer bench cluster``: several engine processes and simulators over one PostgreSQL.

:func:`build_cluster_demo` makes the data: the demo campaign split into ``campaigns``
campaigns (same statuses and rules, the records dealt out in turn), and ``agents`` agents
dealt out to them in blocks (:func:`agent_blocks`): the simulated agents of campaign k are
the k-th block.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from campaigns.demo import build_demo
from campaigns.models import Campaign, CampaignStatus, Record
from campaigns.selection import forget_zone_keys

_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_STATUS = CampaignStatus.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]


def agent_blocks(agents: int, campaigns: int) -> list[list[int]]:
    """Agent ids 1..``agents`` dealt to ``campaigns`` campaigns in blocks (sizes differ by
    at most one): campaign k (1-based) gets block k-1."""
    base, extra = divmod(agents, campaigns)
    out: list[list[int]] = []
    start = 1
    for k in range(campaigns):
        size = base + (1 if k < extra else 0)
        out.append(list(range(start, start + size)))
        start += size
    return out


def build_cluster_demo(
    db: sa.Engine, *, campaigns: int, records: int, agents: int, now: dt.datetime
) -> list[int]:
    """The demo data split into ``campaigns`` running campaigns; returns their ids."""
    first = build_demo(db, records=records, now=now, agents=agents, running=True, always_open=True)
    ids = [first]
    with db.begin() as conn:
        row: dict[str, Any] = dict(
            conn.execute(sa.select(_CAMPAIGN).where(_CAMPAIGN.c.id == first)).mappings().one()
        )
        statuses = conn.execute(sa.select(_STATUS).where(_STATUS.c.campaign_id == first)).all()
        for k in range(2, campaigns + 1):
            values = {key: value for key, value in row.items() if key != "id"}
            values["name"] = f"{row['name']} {k}"
            new_id = conn.execute(
                sa.insert(_CAMPAIGN).values(**values).returning(_CAMPAIGN.c.id)
            ).scalar_one()
            conn.execute(
                sa.insert(_STATUS),
                [{**s._asdict(), "campaign_id": new_id} for s in statuses],
            )
            ids.append(new_id)
        if campaigns > 1:
            for index, campaign_id in enumerate(ids[1:], start=1):
                conn.execute(
                    sa.update(_RECORD)
                    .where(_RECORD.c.campaign_id == first, _RECORD.c.id % campaigns == index)
                    .values(campaign_id=campaign_id)
                )
    for campaign_id in ids:
        forget_zone_keys(campaign_id)
    return ids
