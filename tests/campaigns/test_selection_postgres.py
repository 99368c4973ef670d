"""Record selection on PostgreSQL: concurrent claimers never share a record; leases expire."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from campaigns.models import Record
from campaigns.selection import Tier, claim, forget_zone_keys, release, renew, sweep_expired
from tests.campaigns.core_helpers import (
    NOON,
    add_agent,
    add_campaign,
    add_dnc,
    add_record,
    pg_schema_engine,
    record_row,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    """A fresh PostgreSQL schema with every table, dropped afterwards."""
    forget_zone_keys()
    with pg_schema_engine(pg_url) as engine:
        yield engine


def _bulk_records(engine: sa.Engine, campaign_id: int, count: int) -> None:
    table = Record.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table),
            [
                {
                    "campaign_id": campaign_id,
                    "phone": f"+4860{i:07d}",
                    "name": "",
                    "tz": "UTC",
                    "fields": {},
                    "system_status": "TO_CALL",
                    "attempts": 0,
                    "created_at": NOON,
                }
                for i in range(count)
            ],
        )


def test_concurrent_claimers_never_share_a_record(engine: sa.Engine) -> None:
    """Six threads claiming batches at once get disjoint sets that cover every record."""
    cid = add_campaign(engine)
    _bulk_records(engine, cid, 1200)
    add_dnc(engine, "+48600000007")
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(k: int) -> None:
        mine: list[int] = []
        try:
            start.wait()
            while True:
                got = claim(engine, cid, 25, NOON, engine_id=f"engine-{k}", lease_s=300)
                if not got:
                    break
                mine.extend(item.id for item in got)
        except BaseException as exc:
            errors.append(exc)
        results[k] = mine

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    claimed = [rid for ids in results.values() for rid in ids]
    assert len(claimed) == len(set(claimed)), "a record was claimed by two claimers"
    assert len(claimed) == 1199
    assert sum(1 for ids in results.values() if ids) >= 4, "the claimers did not overlap"
    with engine.connect() as conn:
        owners = conn.execute(
            sa.text(
                "SELECT count(*) FROM record WHERE attempts = 1 AND lease_owner LIKE 'engine-%'"
            )
        ).scalar_one()
    assert owners == 1199


def test_crashed_claimer_lease_expires_and_record_returns(engine: sa.Engine) -> None:
    """A lease left by a dead engine blocks the record until it expires, then it is a retry."""
    cid = add_campaign(engine)
    rid = add_record(engine, cid, "+48600000001")
    assert [r.id for r in claim(engine, cid, 1, NOON, engine_id="dead", lease_s=30)] == [rid]
    assert claim(engine, cid, 1, NOON + dt.timedelta(seconds=29), engine_id="e2", lease_s=30) == []
    later = NOON + dt.timedelta(seconds=30)
    swept = sweep_expired(engine, later)
    assert [(lease.record_id, lease.lease_owner) for lease in swept] == [(rid, "dead")]
    got = claim(engine, cid, 1, later, engine_id="e2", lease_s=30)
    assert [(r.id, r.tier, r.attempts) for r in got] == [(rid, Tier.RETRY, 2)]
    assert release(engine, [rid], engine_id="e2") == 1


def test_callback_claimed_for_its_owner_on_postgres(engine: sa.Engine) -> None:
    """The MY_RECORD tier and its reserved agent work the same on PostgreSQL."""
    owner = add_agent(engine, "anna")
    cid = add_campaign(engine)
    fresh = add_record(engine, cid, "+48600000001")
    mine = add_record(
        engine,
        cid,
        "+48600000002",
        system_status="MY_RECORD",
        owner_agent_id=owner,
        next_call_at=NOON,
    )
    got = claim(engine, cid, 5, NOON, engine_id="e", lease_s=30, agent_id=owner)
    assert [(r.id, r.tier, r.reserved_agent_id) for r in got] == [
        (mine, Tier.MY_RECORD, owner),
        (fresh, Tier.FRESH, None),
    ]


def test_exclusions_fencing_and_take_back_on_postgres(engine: sa.Engine) -> None:
    """On PostgreSQL too: excluded records and numbers are not claimed, a lapsed owner
    cannot release the new owner's lease, and a swept lease is taken back by its renewal."""
    cid = add_campaign(engine)
    ids = [add_record(engine, cid, f"+4870000000{i}") for i in range(4)]
    got = claim(engine, cid, 10, NOON, engine_id="old", lease_s=10,
                exclude_records=[ids[0]], exclude_phones=["+48700000001"])  # fmt: skip
    assert sorted(r.id for r in got) == ids[2:]
    later = NOON + dt.timedelta(seconds=30)
    again = claim(engine, cid, 1, later, engine_id="new", lease_s=300, exclude_records=ids[:2])
    assert [r.id for r in again] == [ids[2]]
    assert release(engine, [ids[2]], engine_id="old") == 0
    assert record_row(engine, ids[2]).lease_owner == "new"
    sweep_expired(engine, later)
    assert record_row(engine, ids[3]).lease_owner is None
    assert renew(engine, [ids[3]], later, engine_id="old", lease_s=10) == [ids[3]]
    assert record_row(engine, ids[3]).lease_owner == "old"
