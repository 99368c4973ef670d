"""Hypothesis: whatever the records, a claim breaks no DESIGN §5 invariant and keeps priority."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.db import create_schema, make_engine
from campaigns.enums import OwnerAbsentPolicy, SystemStatus
from campaigns.models import Agent, Campaign, DncEntry, Record
from campaigns.selection import Tier, claim, forget_zone_keys
from campaigns.windows import CallingWindow, is_open
from tests.campaigns.core_helpers import pg_schema_engine

ZONES = ("UTC", "Europe/Warsaw", "America/New_York", "Asia/Tokyo", "Europe/Warsaw Asia/Tokyo")
BASE = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)  # a Monday
AGENTS = (1, 2)
MAX_ATTEMPTS = 3
WINDOW = CallingWindow.parse("08:00", "21:00", [1, 2, 3, 4, 5])


@dataclass(frozen=True)
class Rec:
    """One generated record."""

    status: SystemStatus
    attempts: int
    next_offset_min: int | None
    owner: int | None
    tz: str
    on_dnc: str | None  # None, "global", "campaign", "expired", "other"
    lease_offset_s: int | None


recs = st.builds(
    Rec,
    status=st.sampled_from(list(SystemStatus)),
    attempts=st.integers(0, MAX_ATTEMPTS + 1),
    next_offset_min=st.one_of(st.none(), st.integers(-600, 600)),
    owner=st.sampled_from((None, *AGENTS)),
    tz=st.sampled_from(ZONES),
    on_dnc=st.sampled_from((None, None, None, "global", "campaign", "expired", "other")),
    lease_offset_s=st.one_of(st.none(), st.integers(-120, 120)),
)

_engine = make_engine("sqlite://")
create_schema(_engine)


def _tiers(
    rec: Rec, now: dt.datetime, agent: int | None, policy: OwnerAbsentPolicy
) -> tuple[Tier | None, Tier | None]:
    """The oracle: (tier with the agent reserved, tier without) a record may be claimed in."""
    due_at = (
        None if rec.next_offset_min is None else now + dt.timedelta(minutes=rec.next_offset_min)
    )
    lease = None if rec.lease_offset_s is None else now + dt.timedelta(seconds=rec.lease_offset_s)
    if rec.on_dnc in {"global", "campaign"} or rec.attempts >= MAX_ATTEMPTS:
        return None, None
    if lease is not None and lease > now:
        return None, None
    if not is_open(WINDOW, rec.tz, now):
        return None, None
    due = due_at is None or due_at <= now
    if rec.status is SystemStatus.MY_RECORD:
        mine = Tier.MY_RECORD if agent is not None and rec.owner == agent and due else None
        released = (
            policy is OwnerAbsentPolicy.RELEASE
            and due_at is not None
            and due_at <= now - dt.timedelta(minutes=30)
        )
        return mine, Tier.NOT_BEFORE if released else None
    if rec.status is SystemStatus.CALL_PROGRESSIVE:
        return (Tier.PROGRESSIVE if agent is not None and due else None), None
    if rec.status is SystemStatus.NOT_BEFORE:
        return None, Tier.NOT_BEFORE if due else None
    if rec.status is SystemStatus.TO_CALL and due:
        return None, Tier.FRESH if rec.attempts == 0 and due_at is None else Tier.RETRY
    return None, None


def _load(
    engine: sa.Engine, records: list[Rec], now: dt.datetime, policy: OwnerAbsentPolicy
) -> list[int]:
    forget_zone_keys()
    with engine.begin() as conn:
        for table in (Record, DncEntry, Campaign, Agent):
            conn.execute(sa.delete(table.__table__))  # type: ignore[attr-defined]
        for agent in AGENTS:
            conn.execute(
                sa.insert(Agent.__table__).values(id=agent, login=f"a{agent}", created_at=now)
            )  # type: ignore[attr-defined]
        for cid in (1, 2):
            conn.execute(
                sa.insert(Campaign.__table__).values(  # type: ignore[attr-defined]
                    id=cid,
                    name=f"c{cid}",
                    max_attempts=MAX_ATTEMPTS,
                    window_start="08:00",
                    window_end="21:00",
                    window_days=[1, 2, 3, 4, 5],
                    retry_delays_s={},
                    owner_absent_policy=policy.value,
                    owner_absent_release_min=30,
                    created_at=now,
                    updated_at=now,
                )
            )
        ids = []
        for index, rec in enumerate(records):
            phone = f"+4850000{index:04d}"
            next_at = None
            if rec.next_offset_min is not None:
                next_at = now + dt.timedelta(minutes=rec.next_offset_min)
            lease = None
            if rec.lease_offset_s is not None:
                lease = now + dt.timedelta(seconds=rec.lease_offset_s)
            rid = conn.execute(
                sa.insert(Record.__table__)  # type: ignore[attr-defined]
                .values(
                    campaign_id=1,
                    phone=phone,
                    tz=rec.tz,
                    fields={},
                    system_status=rec.status.value,
                    attempts=rec.attempts,
                    next_call_at=next_at,
                    owner_agent_id=rec.owner,
                    lease_owner=None if lease is None else "other-engine",
                    lease_expires_at=lease,
                    created_at=now,
                )
                .returning(Record.__table__.c.id)  # type: ignore[attr-defined]
            ).scalar_one()
            ids.append(rid)
            if rec.on_dnc is not None:
                conn.execute(
                    sa.insert(DncEntry.__table__).values(  # type: ignore[attr-defined]
                        phone=phone,
                        campaign_id={"campaign": 1, "other": 2}.get(rec.on_dnc),
                        expires_at=now - dt.timedelta(minutes=1)
                        if rec.on_dnc == "expired"
                        else None,
                        created_at=now,
                    )
                )
        return ids


def _check(
    engine: sa.Engine,
    *,
    records: list[Rec],
    minutes: int,
    n: int,
    agent: int | None,
    policy: OwnerAbsentPolicy,
) -> None:
    now = BASE + dt.timedelta(minutes=minutes)
    ids = _load(engine, records, now, policy)
    tiers = {rid: _tiers(rec, now, agent, policy) for rid, rec in zip(ids, records, strict=True)}
    got = claim(engine, 1, n, now, engine_id="e", lease_s=60, agent_id=agent)
    reserved_tiers = {Tier.MY_RECORD, Tier.PROGRESSIVE}

    # Nothing claimed breaks an invariant, and each is claimed in a tier the oracle allows.
    assert len({item.id for item in got}) == len(got)
    for item in got:
        assert item.tier in tiers[item.id], f"record {item.id} must not be claimed as {item.tier}"
        if item.tier in reserved_tiers:
            assert item.reserved_agent_id == agent is not None
            if item.system_status is SystemStatus.MY_RECORD:
                assert item.owner_agent_id == agent
        else:
            assert item.reserved_agent_id is None
            assert item.system_status is not SystemStatus.CALL_PROGRESSIVE

    # Priority: tiers never go down the list, and nothing better was left behind.
    assert [item.tier for item in got] == sorted(item.tier for item in got)
    reserved = [item for item in got if item.tier in reserved_tiers]
    assert len(reserved) <= 1
    if any(first is not None for first, _ in tiers.values()):
        assert reserved, "a record was callable with the reserved agent but none was claimed"
    unreserved = [item for item in got if item.tier not in reserved_tiers]
    taken = {item.id for item in got}
    open_left = [
        second for rid, (_, second) in tiers.items() if second is not None and rid not in taken
    ]
    callable_open = sum(
        1
        for rid, (_, second) in tiers.items()
        if second is not None and rid not in {item.id for item in reserved}
    )
    assert len(unreserved) == min(n - len(reserved), callable_open)
    if open_left and unreserved:
        assert min(open_left) >= max(item.tier for item in unreserved)


cases = {
    "records": st.lists(recs, max_size=25),
    "minutes": st.integers(0, 7 * 24 * 60),
    "n": st.integers(1, 12),
    "agent": st.sampled_from((None, *AGENTS)),
    "policy": st.sampled_from(list(OwnerAbsentPolicy)),
}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**cases)
def test_claims_respect_invariants_and_priority(
    records: list[Rec], minutes: int, n: int, agent: int | None, policy: OwnerAbsentPolicy
) -> None:
    """Claimed records are exactly the best-tier callable ones; no §5 invariant is broken."""
    _check(_engine, records=records, minutes=minutes, n=n, agent=agent, policy=policy)


@pytest.fixture(scope="module")
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    """A PostgreSQL schema with every table for this module."""
    with pg_schema_engine(pg_url) as engine:
        yield engine


@pytest.mark.postgres
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(**cases)
def test_claims_respect_invariants_and_priority_on_postgres(
    pg_engine: sa.Engine,
    *,
    records: list[Rec],
    minutes: int,
    n: int,
    agent: int | None,
    policy: OwnerAbsentPolicy,
) -> None:
    """The same property holds on PostgreSQL, whose NULL ordering and locking differ."""
    _check(pg_engine, records=records, minutes=minutes, n=n, agent=agent, policy=policy)
