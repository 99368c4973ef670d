"""Record selection on SQLite: priority order, the DESIGN §5 invariants, leases."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from campaigns.enums import OwnerAbsentPolicy, SystemStatus
from campaigns.selection import (
    EXHAUSTED_TTL_S,
    CampaignNotFoundError,
    Tier,
    claim,
    forget_zone_keys,
    park_dnc_hits,
    release,
    renew,
    sweep_expired,
)
from tests.campaigns.core_helpers import (
    NOON,
    add_agent,
    add_campaign,
    add_dnc,
    add_record,
    record_row,
    sqlite_engine,
)

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite database with every table."""
    forget_zone_keys()
    return sqlite_engine(tmp_path / "sel.db")


def _claim(engine: sa.Engine, campaign_id: int, n: int = 10, **kwargs: object) -> list[int]:
    got = claim(engine, campaign_id, n, NOON, engine_id="e1", lease_s=60, **kwargs)  # type: ignore[arg-type]
    return [item.id for item in got]


def test_priority_order_for_an_agent(engine: sa.Engine) -> None:
    """A claim for an agent returns his due callback, then NOT_BEFORE, retries, fresh."""
    agent = add_agent(engine, "anna")
    other = add_agent(engine, "olek")
    cid = add_campaign(engine)
    fresh = add_record(engine, cid, "+48500000001")
    retry = add_record(engine, cid, "+48500000002", attempts=1, next_call_at=NOON - HOUR)
    not_before = add_record(
        engine, cid, "+48500000003", system_status=SystemStatus.NOT_BEFORE, next_call_at=NOON
    )
    mine = add_record(
        engine,
        cid,
        "+48500000004",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=agent,
        next_call_at=NOON - HOUR,
    )
    add_record(
        engine,
        cid,
        "+48500000005",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=other,
        next_call_at=NOON - HOUR,
    )
    got = claim(engine, cid, 10, NOON, engine_id="e1", lease_s=60, agent_id=agent)
    assert [item.id for item in got] == [mine, not_before, retry, fresh]
    assert [item.tier for item in got] == [Tier.MY_RECORD, Tier.NOT_BEFORE, Tier.RETRY, Tier.FRESH]
    assert got[0].reserved_agent_id == agent
    assert all(item.reserved_agent_id is None for item in got[1:])


def test_callback_only_for_its_owner_and_only_when_due(engine: sa.Engine) -> None:
    """A MY_RECORD callback is never claimed without its owner, nor before it is due."""
    owner = add_agent(engine, "anna")
    other = add_agent(engine, "olek")
    cid = add_campaign(engine)
    due = add_record(
        engine,
        cid,
        "+48500000001",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=owner,
        next_call_at=NOON,
    )
    add_record(
        engine,
        cid,
        "+48500000002",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=owner,
        next_call_at=NOON + HOUR,
    )
    assert _claim(engine, cid) == []
    assert _claim(engine, cid, agent_id=other) == []
    assert _claim(engine, cid, agent_id=owner) == [due]


def test_release_policy_lets_anyone_take_an_overdue_callback(engine: sa.Engine) -> None:
    """Under owner_absent_policy=release, a callback overdue by the release time is anyone's."""
    owner = add_agent(engine, "anna")
    cid = add_campaign(
        engine, owner_absent_policy=OwnerAbsentPolicy.RELEASE, owner_absent_release_min=30
    )
    late = add_record(
        engine,
        cid,
        "+48500000001",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=owner,
        next_call_at=NOON - dt.timedelta(minutes=31),
    )
    add_record(
        engine,
        cid,
        "+48500000002",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=owner,
        next_call_at=NOON - dt.timedelta(minutes=29),
    )
    assert _claim(engine, cid) == [late]


def test_progressive_redial_needs_a_reserved_agent(engine: sa.Engine) -> None:
    """CALL_PROGRESSIVE records are claimed only with an agent reserved, one per agent."""
    agent = add_agent(engine, "anna")
    cid = add_campaign(engine)
    first = add_record(engine, cid, "+48500000001", system_status=SystemStatus.CALL_PROGRESSIVE)
    add_record(engine, cid, "+48500000002", system_status=SystemStatus.CALL_PROGRESSIVE)
    assert _claim(engine, cid) == []
    got = claim(engine, cid, 10, NOON, engine_id="e1", lease_s=60, reserved_agent_id=agent)
    assert [(item.id, item.tier, item.reserved_agent_id) for item in got] == [
        (first, Tier.PROGRESSIVE, agent)
    ]


def test_dnc_blocks_globally_and_per_campaign_until_expiry(engine: sa.Engine) -> None:
    """Global and campaign DNC entries block a record at claim time; expired ones do not."""
    cid = add_campaign(engine)
    other_cid = add_campaign(engine)
    global_hit = add_record(engine, cid, "+48500000001")
    campaign_hit = add_record(engine, cid, "+48500000002")
    other_campaign_entry = add_record(engine, cid, "+48500000003")
    expired_entry = add_record(engine, cid, "+48500000004")
    add_dnc(engine, "+48500000001")
    add_dnc(engine, "+48500000002", campaign_id=cid)
    add_dnc(engine, "+48500000003", campaign_id=other_cid)
    add_dnc(engine, "+48500000004", expires_at=NOON - HOUR)
    claimed = _claim(engine, cid)
    assert sorted(claimed) == sorted([other_campaign_entry, expired_entry])
    assert global_hit not in claimed
    assert campaign_hit not in claimed


def test_do_not_call_future_and_exhausted_records_are_never_claimed(engine: sa.Engine) -> None:
    """DO_NOT_CALL, not-yet-due and max-attempts records stay put; a due retry is taken."""
    cid = add_campaign(engine, max_attempts=3)
    add_record(engine, cid, "+48500000001", system_status=SystemStatus.DO_NOT_CALL)
    add_record(engine, cid, "+48500000002", attempts=1, next_call_at=NOON + HOUR)
    add_record(
        engine, cid, "+48500000003", system_status=SystemStatus.NOT_BEFORE, next_call_at=NOON + HOUR
    )
    add_record(engine, cid, "+48500000004", attempts=3, next_call_at=NOON - HOUR)
    add_record(engine, cid, "+48500000005", attempts=3)
    ok = add_record(engine, cid, "+48500000006", attempts=2, next_call_at=NOON - HOUR)
    assert _claim(engine, cid) == [ok]


def test_calling_window_in_the_record_zone(engine: sa.Engine) -> None:
    """At 12:00 UTC a 09:00-20:00 window is open in Warsaw, closed in New York and Tokyo."""
    cid = add_campaign(engine, window_start="09:00", window_end="20:00")
    warsaw = add_record(engine, cid, "+48500000001", tz="Europe/Warsaw")
    add_record(engine, cid, "+12125550100", tz="America/New_York")
    add_record(engine, cid, "+81312345678", tz="Asia/Tokyo")
    add_record(engine, cid, "+48500000002", tz="Europe/Warsaw Asia/Tokyo")
    assert _claim(engine, cid) == [warsaw]


def test_claim_leases_counts_the_attempt_and_never_repeats(engine: sa.Engine) -> None:
    """A claimed record gets a lease and attempts + 1, and a second claim does not see it."""
    cid = add_campaign(engine)
    rid = add_record(engine, cid, "+48500000001")
    got = claim(engine, cid, 5, NOON, engine_id="e1", lease_s=60)
    assert [item.id for item in got] == [rid]
    assert got[0].attempts == 1
    stored = record_row(engine, rid)
    assert stored.lease_owner == "e1"
    assert stored.lease_expires_at == NOON + dt.timedelta(seconds=60)
    assert stored.attempts == 1
    assert claim(engine, cid, 5, NOON + dt.timedelta(seconds=59), engine_id="e2", lease_s=60) == []


def test_expired_lease_of_a_crashed_engine_comes_back(engine: sa.Engine) -> None:
    """After the lease expires another engine claims the record, as a retry."""
    cid = add_campaign(engine)
    rid = add_record(engine, cid, "+48500000001")
    claim(engine, cid, 5, NOON, engine_id="crashed", lease_s=60)
    later = NOON + dt.timedelta(seconds=60)
    got = claim(engine, cid, 5, later, engine_id="e2", lease_s=60)
    assert [(item.id, item.tier, item.attempts) for item in got] == [(rid, Tier.RETRY, 2)]


def test_renew_keeps_a_live_call_leased(engine: sa.Engine) -> None:
    """Renewing extends only the renewing engine's lease; the record stays unclaimable."""
    cid = add_campaign(engine)
    rid = add_record(engine, cid, "+48500000001")
    claim(engine, cid, 1, NOON, engine_id="e1", lease_s=60)
    assert renew(engine, [rid], NOON + dt.timedelta(seconds=50), engine_id="e2", lease_s=60) == []
    assert renew(engine, [rid], NOON + dt.timedelta(seconds=50), engine_id="e1", lease_s=60) == [
        rid
    ]
    at = NOON + dt.timedelta(seconds=100)
    assert claim(engine, cid, 1, at, engine_id="e2", lease_s=60) == []


def test_release_frees_the_record_but_keeps_the_attempt(engine: sa.Engine) -> None:
    """Releasing clears the lease (only the owner's) and the attempt stays counted."""
    cid = add_campaign(engine)
    rid = add_record(engine, cid, "+48500000001")
    claim(engine, cid, 1, NOON, engine_id="e1", lease_s=60)
    assert release(engine, [rid], engine_id="e2") == 0
    assert release(engine, [rid], engine_id="e1") == 1
    stored = record_row(engine, rid)
    assert (stored.lease_owner, stored.lease_expires_at, stored.attempts) == (None, None, 1)
    assert [item.id for item in claim(engine, cid, 1, NOON, engine_id="e2", lease_s=60)] == [rid]


def test_sweep_clears_and_reports_expired_leases(engine: sa.Engine) -> None:
    """sweep_expired reports each expired lease with its owner and clears it, no others."""
    cid = add_campaign(engine)
    old = add_record(engine, cid, "+48500000001")
    claim(engine, cid, 1, NOON, engine_id="dead", lease_s=10)
    young = add_record(engine, cid, "+48500000002")
    claim(engine, cid, 1, NOON + dt.timedelta(seconds=5), engine_id="live", lease_s=60)
    swept = sweep_expired(engine, NOON + dt.timedelta(seconds=10))
    assert [(lease.record_id, lease.lease_owner) for lease in swept] == [(old, "dead")]
    assert record_row(engine, old).lease_owner is None
    assert record_row(engine, young).lease_owner == "live"


def test_claim_errors(engine: sa.Engine) -> None:
    """An unknown campaign, a naive time or a negative count are refused with clear errors."""
    cid = add_campaign(engine)
    with pytest.raises(CampaignNotFoundError, match="campaign 999 does not exist"):
        claim(engine, 999, 1, NOON, engine_id="e", lease_s=60)
    with pytest.raises(ValueError, match="timezone-aware"):
        claim(engine, cid, 1, NOON.replace(tzinfo=None), engine_id="e", lease_s=60)
    with pytest.raises(ValueError, match="n must be"):
        claim(engine, cid, -1, NOON, engine_id="e", lease_s=60)


def test_zone_imported_after_caching_is_not_dialed_unchecked(engine: sa.Engine) -> None:
    """A record in a zone added after the zone keys were cached waits; it is never dialed blind."""
    cid = add_campaign(engine, window_start="09:00", window_end="20:00")
    warsaw = add_record(engine, cid, "+48500000001", tz="Europe/Warsaw")
    assert _claim(engine, cid) == [warsaw]
    add_record(engine, cid, "+81312345678", tz="Asia/Tokyo")  # closed at NOON (21:00 there)
    assert _claim(engine, cid) == []
    forget_zone_keys(cid)
    assert _claim(engine, cid) == []


def test_concurrent_claimers_on_sqlite_never_share(engine: sa.Engine) -> None:
    """Four threads claiming from one SQLite file at once get disjoint records, all of them."""
    cid = add_campaign(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO record (campaign_id, phone, name, tz, fields, system_status, "
                "attempts, created_at) VALUES (:c, :p, '', 'UTC', '{}', 'TO_CALL', 0, :t)"
            ),
            [
                {"c": cid, "p": f"+4860{i:07d}", "t": "2026-03-01 00:00:00.000000"}
                for i in range(400)
            ],
        )
    results: dict[int, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(k: int) -> None:
        barrier.wait()
        mine: list[int] = []
        while got := claim(engine, cid, 10, NOON, engine_id=f"e{k}", lease_s=60):
            mine.extend(item.id for item in got)
        results[k] = mine

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = [rid for ids in results.values() for rid in ids]
    assert len(results) == 4
    assert len(claimed) == len(set(claimed)) == 400


def test_retry_without_date_comes_before_fresh_records(engine: sa.Engine) -> None:
    """A record dialed before whose lease ended without an outcome beats fresh records."""
    cid = add_campaign(engine)
    fresh = [add_record(engine, cid, f"+4850000000{k}") for k in range(3)]
    returned = add_record(engine, cid, "+48500000009", attempts=1)
    got = claim(engine, cid, 2, NOON, engine_id="e1", lease_s=60)
    assert [(item.id, item.tier) for item in got] == [
        (returned, Tier.RETRY),
        (fresh[0], Tier.FRESH),
    ]


def test_park_dnc_hits_moves_listed_records_out_of_the_way(engine: sa.Engine) -> None:
    """Parking gives DNC-listed due records a later time; callbacks and others keep theirs."""
    owner = add_agent(engine, "anna")
    cid = add_campaign(engine)
    listed = add_record(engine, cid, "+48500000001")
    callback = add_record(
        engine,
        cid,
        "+48500000002",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=owner,
        next_call_at=NOON,
    )
    free = add_record(engine, cid, "+48500000003")
    add_dnc(engine, "+48500000001")
    add_dnc(engine, "+48500000002")
    assert park_dnc_hits(engine, cid, NOON, recheck_after_s=3600) == 1
    assert record_row(engine, listed).next_call_at == NOON + HOUR
    assert record_row(engine, callback).next_call_at == NOON
    assert record_row(engine, free).next_call_at is None
    assert _claim(engine, cid) == [free]


def test_short_fresh_query_pauses_until_ttl_or_forget(engine: sa.Engine) -> None:
    """After the fresh query came back short it rests EXHAUSTED_TTL_S, unless told to look."""
    cid = add_campaign(engine)
    first = add_record(engine, cid, "+48500000001")
    assert _claim(engine, cid) == [first]  # asked for 10, got 1: nothing fresh left
    late = add_record(engine, cid, "+48500000002")  # inserted behind the selector's back
    assert _claim(engine, cid) == []
    later = NOON + dt.timedelta(seconds=EXHAUSTED_TTL_S)
    assert [r.id for r in claim(engine, cid, 10, later, engine_id="e1", lease_s=60)] == [late]
    again = add_record(engine, cid, "+48500000003")
    assert claim(engine, cid, 10, later, engine_id="e1", lease_s=60) == []
    forget_zone_keys(cid)  # what an import does
    assert [r.id for r in claim(engine, cid, 10, later, engine_id="e1", lease_s=60)] == [again]


def test_reserved_only_claims_just_callbacks_and_progressive_redials(engine: sa.Engine) -> None:
    """A reserved-only claim returns the agent's callback, else a progressive redial, else
    nothing — never a predictive record."""
    agent = add_agent(engine, "ewa")
    cid = add_campaign(engine)
    add_record(engine, cid, "+48500000101")
    assert _claim(engine, cid, 1, agent_id=agent, reserved_only=True) == []
    progressive = add_record(
        engine, cid, "+48500000102", system_status=SystemStatus.CALL_PROGRESSIVE
    )
    mine = add_record(
        engine,
        cid,
        "+48500000103",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=agent,
        next_call_at=NOON - HOUR,
    )
    assert _claim(engine, cid, 5, agent_id=agent, reserved_only=True) == [mine]
    assert _claim(engine, cid, 5, agent_id=agent, reserved_only=True) == [progressive]
    assert _claim(engine, cid, 5, agent_id=agent, reserved_only=True) == []
