"""A MY_RECORD callback that found its owner absent: the owner-absent policy releases it to
anyone, the claim that takes it writes the fact, and the agents report counts it as the
owner's missed call (once per booking)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from campaigns.enums import OwnerAbsentPolicy, SystemStatus
from campaigns.reports import Dim, Scope, agents_report
from campaigns.selection import claim, forget_zone_keys, release
from tests.campaigns.core_helpers import NOON, add_agent, add_campaign, add_record
from tests.reports.test_reports_oracle import db

__all__ = ["db"]  # the fixture, imported for the tests below

DAY = Scope(start=NOON - dt.timedelta(hours=12), end=NOON + dt.timedelta(hours=12))


def _missed(engine: sa.Engine, s: Scope = DAY) -> dict[int, int]:
    with engine.connect() as conn:
        return {line.key: line.missed for line in agents_report(conn, s, dim=Dim.AGENT, now=NOON)}


def test_a_released_callback_is_its_owners_missed_call(db: sa.Engine) -> None:
    """Under the release policy a callback overdue by the release time, taken by a claim for
    anyone, counts once as its owner's missed call, however often the record is claimed
    again for that booking; a callback still within its release time, one taken by its owner
    and one of a keep-waiting campaign count nothing."""
    forget_zone_keys()
    owner, other = add_agent(db, "anna"), add_agent(db, "olek")
    release_cid = add_campaign(
        db, owner_absent_policy=OwnerAbsentPolicy.RELEASE, owner_absent_release_min=30
    )
    waiting_cid = add_campaign(db)
    booking = {"system_status": SystemStatus.MY_RECORD, "owner_agent_id": owner}
    late = add_record(
        db, release_cid, "+48500000001", **booking, next_call_at=NOON - dt.timedelta(minutes=31)
    )
    add_record(
        db, release_cid, "+48500000002", **booking, next_call_at=NOON - dt.timedelta(minutes=29)
    )
    add_record(
        db, waiting_cid, "+48500000003", **booking, next_call_at=NOON - dt.timedelta(hours=2)
    )
    assert _missed(db) == {}

    got = claim(db, release_cid, 10, NOON, engine_id="e1", lease_s=60)
    assert [r.id for r in got] == [late]
    assert claim(db, waiting_cid, 10, NOON, engine_id="e1", lease_s=60) == []
    assert _missed(db) == {owner: 1}
    assert _missed(db, Scope(start=DAY.start, end=DAY.end, agents=frozenset({other}))) == {}
    assert _missed(db, Scope(start=DAY.start, end=DAY.end, campaign_id=waiting_cid)) == {}

    # Not placed, given back, claimed again for the same booking: still one miss.
    release(db, [late])
    again = NOON + dt.timedelta(seconds=30)
    assert [r.id for r in claim(db, release_cid, 10, again, engine_id="e1", lease_s=60)] == [late]
    assert _missed(db) == {owner: 1}
    before = Scope(start=DAY.start, end=NOON)
    assert _missed(db, before) == {}


def test_the_owner_taking_a_released_callback_is_no_miss(db: sa.Engine) -> None:
    """A released callback claimed for its owner (ready again) is not a missed call."""
    forget_zone_keys()
    owner = add_agent(db, "anna")
    cid = add_campaign(
        db, owner_absent_policy=OwnerAbsentPolicy.RELEASE, owner_absent_release_min=5
    )
    rid = add_record(
        db,
        cid,
        "+48500000001",
        system_status=SystemStatus.MY_RECORD,
        owner_agent_id=owner,
        next_call_at=NOON - dt.timedelta(hours=1),
    )
    got = claim(db, cid, 1, NOON, engine_id="e1", lease_s=60, agent_id=owner)
    assert [r.id for r in got] == [rid]
    assert _missed(db) == {}
