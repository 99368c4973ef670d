"""Campaign ownership between engines (dialer/runtime/cluster.py): the sharing rule, and
the leases with fencing tokens on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from campaigns.db import make_engine
from campaigns.migrate import upgrade
from campaigns.models import utcnow
from dialer.runtime.cluster import Cluster, Handovers, assign, to_hand_over
from dialer.runtime.store import SqlLeads
from dialer.sim.bench_cluster import build_cluster_demo


def test_assign_balances_by_agents_heaviest_first() -> None:
    """Campaigns needing an owner go heaviest first to the engine with fewest agents."""
    got = assign([1, 2, 3, 4], {1: 30, 2: 20, 3: 10, 4: 0}, {"a/1": 0, "b/1": 25})
    # 1 (30) -> a (0 < 25); 2 (20) -> b (25 < 30); 3 (10) -> a (30 < 45); 4 (1) -> a (40 < 45)
    assert got == {1: "a/1", 2: "b/1", 3: "a/1", 4: "a/1"}


def test_assign_is_the_same_for_every_engine_and_empty_without_engines() -> None:
    """Ties break on the owner name (every engine computes the same plan); no engine, no plan."""
    assert assign([5, 6], {}, {"b/2": 0, "a/9": 0}) == {5: "a/9", 6: "b/2"}
    assert assign([5], {}, {}) == {}


@pytest.fixture
def db(pg_url: str) -> Iterator[sa.Engine]:
    schema = f"cluster_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    upgrade(engine)
    build_cluster_demo(engine, campaigns=3, records=30, agents=6, now=utcnow())
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _member(db: sa.Engine, name: str, nonce: str = "n1", **kw: float) -> Cluster:
    clock = kw.pop("t", 100.0)
    return Cluster(
        db,
        engine_id=name,
        owner=f"{name}/{nonce}",
        failover_s=kw.get("failover_s", 1.0),
        settle_s=0.0,
        monotonic=lambda: clock,
    )


@pytest.mark.postgres
def test_engines_share_campaigns_and_one_takes_over_a_dead_ones(db: sa.Engine) -> None:
    """Two engines split three campaigns; when one stops renewing, the other takes its
    campaigns with a higher token, and the stale owner's renewal and fence fail."""
    a, b = _member(db, "a"), _member(db, "b")
    a.renew({})
    b.renew({})
    taken_a = a.step({})
    taken_b = b.step({})
    held = set(a.held) | set(b.held)
    assert held == {1, 2, 3}
    assert not set(a.held) & set(b.held)
    assert a.held, taken_a
    assert b.held, taken_b
    before = dict(a.held)
    with db.begin() as conn:  # a stalls: its leases and heartbeat run out
        conn.execute(
            sa.text(
                "UPDATE campaign_lease SET expires_at = expires_at - interval '1 h'"
                " WHERE owner = 'a/n1'"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE cluster_engine SET expires_at = expires_at - interval '1 h'"
                " WHERE owner = 'a/n1'"
            )
        )
    b.renew({})
    changes = b.step({})
    assert {t.campaign_id for t in changes.taken} == set(before)
    assert all(t.previous == "a/n1" and t.token == before[t.campaign_id] + 1 for t in changes.taken)
    with db.begin() as conn:
        for campaign_id in before:
            assert not a.fence(conn, campaign_id), "a stale owner's claim is fenced off"
            assert b.fence(conn, campaign_id)
    assert sorted(a.renew({})) == sorted(before), "the stale owner learns it lost them"
    assert a.held == {}


@pytest.mark.postgres
def test_a_restarted_engine_takes_its_earlier_starts_campaigns_at_once(db: sa.Engine) -> None:
    """Leases of an earlier start of the same engine id are taken without waiting."""
    first = _member(db, "a", "old")
    first.renew({})
    first.step({})
    assert set(first.held) == {1, 2, 3}
    again = _member(db, "a", "new")
    again.renew({})
    changes = again.step({})
    assert {t.campaign_id for t in changes.taken} == {1, 2, 3}
    assert all(t.previous == "a/old" for t in changes.taken)


@pytest.mark.postgres
def test_release_hands_campaigns_over_in_one_round_and_only_one_engine_wins(
    db: sa.Engine,
) -> None:
    """A released lease is taken by the next engine at once; a take with an old token loses."""
    a, b = _member(db, "a"), _member(db, "b")
    a.renew({})
    a.step({})
    assert set(a.held) == {1, 2, 3}
    tokens = dict(a.held)
    a.leave()
    b.renew({})
    b.step({})
    assert set(b.held) == {1, 2, 3}
    assert a.take(1, tokens[1]) is None, "the token moved on: the old view loses"


@pytest.mark.postgres
def test_a_stale_owner_claims_no_record_after_its_campaign_moved(db: sa.Engine) -> None:
    """Record claims are fenced by the campaign lease: the owner claims, and once another
    engine took the campaign over, the stale owner's claim returns nothing."""
    a, b = _member(db, "a"), _member(db, "b")
    a.renew({})
    a.step({})
    leads = SqlLeads(db, engine_id="a", lease_s=60, nonce="n1")
    leads.fence = a.fence
    assert leads.claim(1, 2, utcnow())
    with db.begin() as conn:  # a stalls past its lease
        conn.execute(
            sa.text(
                "UPDATE campaign_lease SET expires_at = expires_at - interval '1 h';"
                "UPDATE cluster_engine SET expires_at = expires_at - interval '1 h'"
            )
        )
    b.renew({})
    assert 1 in {t.campaign_id for t in b.step({}).taken}
    assert leads.claim(1, 2, utcnow()) == []


def test_the_most_loaded_engine_hands_over_the_campaign_that_narrows_the_gap() -> None:
    """a has 8 + 4 + 1 agents, b none: a hands over the campaign leaving the loads closest
    (13 vs 0: moving 8 gives 5 / 8, moving 4 gives 9 / 4); b, or a balanced a, hands
    nothing over; a campaign as heavy as the gap never moves (it would move back)."""
    assert to_hand_over({1: 8, 2: 4, 3: 1}, {"a/1": 13, "b/1": 0}, "a/1") == 1
    assert to_hand_over({4: 2}, {"a/1": 13, "b/1": 2}, "b/1") is None
    assert to_hand_over({1: 4, 2: 4}, {"a/1": 8, "b/1": 4}, "a/1") is None, "4 < 4 fails"
    assert to_hand_over({1: 4, 2: 4}, {"a/1": 8, "b/1": 0}, "a/1") == 1
    assert to_hand_over({1: 9}, {"a/1": 9, "b/1": 0}, "a/1") is None, "its only campaign"
    assert to_hand_over({1: 0, 2: 0}, {"a/1": 2, "b/1": 0}, "a/1") == 1, "idle ones weigh 1"


def test_a_campaign_never_quiet_is_not_held_still_by_handover_after_handover() -> None:
    """The rule proposes the same campaign every round; it never goes quiet (long talks,
    rings longer than the wait). It once stood still 15 s of every 16 (a CI run saw no
    connect in 40 s); now it waits once, dials on, and the retries back off."""
    handovers = Handovers(wait_s=15.0, retry_s=60.0)
    still = 0.0
    gave_up: list[float] = []
    for second in range(3600):
        now = float(second)
        handovers.start(7, now)
        if 7 in handovers.pending:
            still += 1.0
            if handovers.overdue(7, now):
                gave_up.append(handovers.give_up(7, now))
    assert gave_up[:5] == [60.0, 120.0, 240.0, 480.0, 480.0], "doubling up to eight times"
    assert still / 3600 < 0.1, f"held still {still:.0f} s of the hour"


def test_a_handover_done_lets_the_next_start_at_once_and_one_runs_at_a_time() -> None:
    handovers = Handovers(wait_s=15.0, retry_s=60.0)
    assert handovers.start(1, 0.0)
    assert not handovers.start(2, 1.0), "one at a time"
    assert not handovers.overdue(1, 15.0)
    assert handovers.overdue(1, 15.5)
    handovers.give_up(1, 16.0)
    assert not handovers.start(2, 75.0), "60 s after the miss"
    assert handovers.start(2, 76.0)
    handovers.done(2)
    assert handovers.misses == 0
    assert handovers.start(3, 77.0), "a success resets the pause"
    handovers.forget(3)
    assert handovers.pending == {}


def test_a_proposal_must_stand_before_a_campaign_moves() -> None:
    """Loads that flicker (agents logging in one by one at a shift's start) propose a move
    now and then: nothing moves until the same proposal stood ``steady_s`` unbroken."""
    handovers = Handovers(wait_s=15.0, retry_s=60.0, steady_s=60.0)
    for second in range(600):  # proposed 50 s, then one round without, again and again
        assert not handovers.start(None if second % 51 == 50 else 4, float(second))
    assert not handovers.start(5, 600.0), "another campaign starts its own count"
    assert not handovers.start(5, 659.0)
    assert handovers.start(5, 660.0)
    assert handovers.pending == {5: 660.0}
