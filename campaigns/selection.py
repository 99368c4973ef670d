"""Record selection: claim the next records of a campaign to dial, as atomic leases.

Priority (DESIGN §3, issue 2):

1. ``MY_RECORD`` callbacks due for the ready agent the claim is made for (``agent_id``);
2. ``CALL_PROGRESSIVE`` redials, only when an agent is reserved for the call;
   then ``TO_CALL`` / ``NOT_BEFORE`` records a supervisor asked to call next
   (``call_next_at``, in the order asked);
3. due ``NOT_BEFORE`` records (and, under the ``release`` owner-absent policy,
   ``MY_RECORD`` callbacks whose owner has not taken them ``owner_absent_release_min``
   minutes after they fell due);
4. due retries (``TO_CALL`` with attempts made, or with a due date);
5. fresh records (``TO_CALL``, never dialed, no date), in import order.

Tiers 1 and 2 give at most one record per claim: the one the reserved agent will take.
Whatever the tier, a claimed record is never on a DNC list (global or the campaign's,
not expired — checked at claim time), never ``DO_NOT_CALL``, never parked, never before its
``next_call_at``, never outside its calling window in its own zone key, never at or over
the campaign's ``max_attempts`` and never in flight (holding an unexpired lease).

Each tier is one ``UPDATE … WHERE id IN (SELECT … LIMIT k [FOR UPDATE SKIP LOCKED])
RETURNING …`` statement: on PostgreSQL concurrent claimers skip each other's locked rows
and re-check the lease of rows committed meanwhile; on SQLite the statement holds the
database's write lock. Claiming sets the lease (``lease_owner``, ``lease_expires_at``) and
counts the attempt (``attempts + 1``), so a crash mid-call still counts it; a lease left by
a crashed engine expires and the record becomes claimable again.

Public functions: :func:`claim`, :func:`renew`, :func:`release`, :func:`sweep_expired`,
:func:`park_dnc_hits` (keeps claims fast after many numbers join a DNC list) and
:func:`forget_zone_keys` (call after importing records or making records callable
outside :func:`release`: the distinct zone keys of a campaign are cached for
``ZONE_KEYS_TTL_S``, and a due-now query that came back short is skipped for up to
``EXHAUSTED_TTL_S``; a record in a zone not yet cached waits).
Every function takes ``now``; none reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from campaigns.enums import OwnerAbsentPolicy, SystemStatus
from campaigns.errors import CampaignError, CampaignNotFoundError
from campaigns.models import CallbackMiss, Campaign, DncEntry, Record
from campaigns.status_engine import CampaignRules, RecordState, owner_release_at, why_not_callable
from campaigns.windows import CallingWindow, open_zone_keys

#: Seconds the distinct zone keys of a campaign are cached before being read again.
ZONE_KEYS_TTL_S = 60.0
#: Seconds a campaign's due-now query is skipped after it came back short (see below).
EXHAUSTED_TTL_S = 10.0

Db = sa.Engine | sa.Connection | Session


class SelectionError(CampaignError):
    """A claim cannot be made as asked."""

    error_id = "selection_error"


class Tier(IntEnum):
    """Why a record was claimed, in priority order (lower first)."""

    MY_RECORD = 1
    PROGRESSIVE = 2
    CALL_NEXT = 3
    NOT_BEFORE = 4
    RETRY = 5
    FRESH = 6


@dataclass(frozen=True, slots=True)
class ClaimedRecord:
    """A record leased for one dial attempt, with what the dialer needs to place it."""

    id: int
    campaign_id: int
    phone: str
    name: str
    tz: str
    fields: dict[str, Any]
    system_status: SystemStatus
    status_id: int | None
    attempts: int
    """Attempts including this one (counted at claim time)."""
    owner_agent_id: int | None
    reserved_agent_id: int | None
    """The agent reserved for this call (tiers 1 and 2), else None (a predictive call)."""
    tier: Tier
    lease_owner: str
    lease_expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ExpiredLease:
    """A lease that ran out without being released (its engine probably died)."""

    record_id: int
    lease_owner: str | None
    lease_expires_at: dt.datetime


# ----------------------------------------------------------------------------- helpers


@contextmanager
def _connection(db: Db) -> Iterator[sa.Connection]:
    """A connection in a transaction: committed here for an engine, by the caller else."""
    if isinstance(db, sa.Engine):
        with db.begin() as conn:
            yield conn
    elif isinstance(db, Session):
        yield db.connection()
    else:
        yield db


_record = Record.__table__  # type: ignore[attr-defined]
_dnc = DncEntry.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_miss = CallbackMiss.__table__  # type: ignore[attr-defined]
_c = _record.c

_zone_cache: dict[tuple[str, int], tuple[dt.datetime, tuple[str, ...]]] = {}
#: Campaigns whose due-now (fresh) query came back short: until when to skip it, and the
#: open zone keys then. While those keys stay the same the query would only step over the
#: same uncallable rows again (numbers in closed zones, on DNC lists), so it is skipped
#: for ``EXHAUSTED_TTL_S``, or until the campaign's next lease expires if sooner.
_due_now_exhausted: dict[tuple[str, int], tuple[dt.datetime, tuple[str, ...]]] = {}


def forget_zone_keys(campaign_id: int | None = None) -> None:
    """Drop cached zone keys and "nothing fresh left" marks (of one campaign, or all).

    Call after importing records or releasing leases, so that new records are claimable
    at once rather than after at most ``ZONE_KEYS_TTL_S``.
    """
    for cache in (_zone_cache, _due_now_exhausted):
        for key in list(cache):
            if campaign_id is None or key[1] == campaign_id:
                del cache[key]


def _cache_key(conn: sa.Connection, campaign_id: int) -> tuple[str, int]:
    return (conn.engine.url.render_as_string(hide_password=True), campaign_id)


def _fresh(cache_key: tuple[str, int], now: dt.datetime, open_keys: tuple[str, ...]) -> bool:
    """True unless the due-now query recently came back short with these open keys."""
    mark = _due_now_exhausted.get(cache_key)
    if mark is None:
        return True
    until, keys = mark
    return not (now < until and keys == open_keys)


def _mark_exhausted(
    conn: sa.Connection,
    cache_key: tuple[str, int],
    campaign_id: int,
    now: dt.datetime,
    open_keys: tuple[str, ...],
) -> None:
    """Skip the due-now query for a while: a lease expiring sooner ends the pause."""
    next_expiry = conn.execute(
        sa.select(sa.func.min(_c.lease_expires_at)).where(
            _c.campaign_id == campaign_id, _c.lease_expires_at > now
        )
    ).scalar()
    until = now + dt.timedelta(seconds=EXHAUSTED_TTL_S)
    if next_expiry is not None:
        until = min(until, next_expiry)
    _due_now_exhausted[cache_key] = (until, open_keys)


def _zone_keys(conn: sa.Connection, campaign_id: int, now: dt.datetime) -> tuple[str, ...]:
    """The distinct zone keys of a campaign's records, cached for ``ZONE_KEYS_TTL_S``."""
    cache_key = _cache_key(conn, campaign_id)
    cached = _zone_cache.get(cache_key)
    if cached is not None and 0 <= (now - cached[0]).total_seconds() < ZONE_KEYS_TTL_S:
        return cached[1]
    rows = conn.execute(sa.select(_c.tz).where(_c.campaign_id == campaign_id).distinct())
    keys = tuple(sorted(row[0] for row in rows))
    _zone_cache[cache_key] = (now, keys)
    return keys


def _not_on_dnc(campaign_id: int, now: dt.datetime) -> sa.ColumnElement[bool]:
    """No unexpired global or campaign DNC entry for the record's phone."""
    hit = (
        sa.select(sa.literal(1))
        .select_from(_dnc)
        .where(
            _dnc.c.phone == _c.phone,
            sa.or_(_dnc.c.campaign_id.is_(None), _dnc.c.campaign_id == campaign_id),
            sa.or_(_dnc.c.expires_at.is_(None), _dnc.c.expires_at > now),
        )
    )
    return ~sa.exists(hit)


def _is(status: SystemStatus) -> sa.ColumnElement[bool]:
    """``system_status = '<status>'`` written inline, so the planner can match the partial
    index ``ix_record_due_now`` (a bound parameter would hide the value from it)."""
    condition: sa.ColumnElement[bool] = _c.system_status == sa.literal_column(f"'{status.value}'")
    return condition


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.or_(_c.next_call_at.is_(None), _c.next_call_at <= now)


@dataclass(frozen=True, slots=True)
class _TierQuery:
    tier: Tier
    where: tuple[sa.ColumnElement[bool], ...]
    order_by: tuple[sa.ColumnElement[Any], ...]
    reserved: bool
    released: bool = False
    """MY_RECORD callbacks the owner-absent policy gave to anyone."""


def _tiers(
    campaign: sa.Row[Any], now: dt.datetime, agent_id: int | None, reserved: int | None
) -> list[_TierQuery]:
    tiers: list[_TierQuery] = []
    if agent_id is not None:
        tiers.append(
            _TierQuery(
                Tier.MY_RECORD,
                (
                    _is(SystemStatus.MY_RECORD),
                    _c.owner_agent_id == agent_id,
                    _due(now),
                ),
                (_c.next_call_at.asc().nulls_first(), _c.id),
                reserved=True,
            )
        )
    if reserved is not None:
        tiers.append(
            _TierQuery(
                Tier.PROGRESSIVE,
                (_is(SystemStatus.CALL_PROGRESSIVE), _due(now)),
                (_c.next_call_at.asc().nulls_first(), _c.id),
                reserved=True,
            )
        )
    tiers.append(
        _TierQuery(
            Tier.CALL_NEXT,
            (
                _c.call_next_at.is_not(None),
                _c.system_status.in_([SystemStatus.TO_CALL.value, SystemStatus.NOT_BEFORE.value]),
                _due(now),
            ),
            (_c.call_next_at, _c.id),
            reserved=False,
        )
    )
    tiers.append(
        _TierQuery(
            Tier.NOT_BEFORE,
            (_is(SystemStatus.NOT_BEFORE), _due(now)),
            (_c.next_call_at.asc().nulls_first(), _c.id),
            reserved=False,
        )
    )
    if campaign.owner_absent_policy == OwnerAbsentPolicy.RELEASE.value:
        released_before = now - dt.timedelta(minutes=campaign.owner_absent_release_min)
        tiers.append(
            _TierQuery(
                Tier.NOT_BEFORE,
                (_is(SystemStatus.MY_RECORD), _c.next_call_at <= released_before),
                (_c.next_call_at.asc().nulls_first(), _c.id),
                reserved=False,
                released=True,
            )
        )
    tiers.extend(
        (
            _TierQuery(
                Tier.RETRY,
                (_is(SystemStatus.TO_CALL), _c.next_call_at <= now),
                (_c.next_call_at, _c.id),  # never NULL here: the index order serves it
                reserved=False,
            ),
            _TierQuery(
                Tier.FRESH,  # attempts > 0 first (leases ended without an outcome): RETRY
                (_is(SystemStatus.TO_CALL), _c.next_call_at.is_(None)),
                (_c.attempts.desc(), _c.id),
                reserved=False,
            ),
        )
    )
    return tiers


_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


def _order_key(row: sa.RowMapping) -> tuple[dt.datetime, int, int]:
    """The order within a tier in Python (RETURNING keeps none): due time (NULL first),
    more attempts first (retries before fresh records), then id."""
    return (row["next_call_at"] or _EARLIEST, -row["attempts"], row["id"])


def _tier_of(row: sa.RowMapping, tier: Tier) -> Tier:
    """A record of the due-now query that was dialed before is a retry, not fresh."""
    return Tier.RETRY if tier is Tier.FRESH and row["attempts"] > 1 else tier


def _claimed(
    row: sa.RowMapping,
    tier: Tier,
    reserved_agent_id: int | None,
    engine_id: str,
    expires: dt.datetime,
) -> ClaimedRecord:
    return ClaimedRecord(
        id=row["id"],
        campaign_id=row["campaign_id"],
        phone=row["phone"],
        name=row["name"],
        tz=row["tz"],
        fields=dict(row["fields"] or {}),
        system_status=SystemStatus(row["system_status"]),
        status_id=row["status_id"],
        attempts=row["attempts"],
        owner_agent_id=row["owner_agent_id"],
        reserved_agent_id=reserved_agent_id,
        tier=tier,
        lease_owner=engine_id,
        lease_expires_at=expires,
    )


def _load_campaign(conn: sa.Connection, campaign_id: int) -> sa.Row[Any]:
    row = conn.execute(sa.select(_campaign).where(_campaign.c.id == campaign_id)).first()
    if row is None:
        raise CampaignNotFoundError(campaign_id)
    return row


# ------------------------------------------------------------------- the rules, pure


def claim_rank(
    state: RecordState,
    now: dt.datetime,
    rules: CampaignRules,
    *,
    agent_id: int | None = None,
    reserved_agent_id: int | None = None,
    window_open: bool = True,
    dnc: bool = False,
) -> tuple[Tier, int, tuple[Any, ...]] | None:
    """Where :func:`claim` would take a record, in pure form (for in-memory stores and
    tests): ``(tier, query, order key)`` — sort by it, best first — or ``None`` when the
    record is not claimable at ``now`` by this claim (the §5 rules of
    :func:`campaigns.status_engine.why_not_callable`, then the tier queries)."""
    reserved = reserved_agent_id if reserved_agent_id is not None else agent_id
    status = state.system_status
    dated = (state.next_call_at is not None, state.next_call_at or _EARLIEST)

    def allowed(reserved_for: int | None) -> bool:
        return (
            why_not_callable(
                state, now, rules, window_open=window_open, dnc=dnc, reserved_agent_id=reserved_for
            )
            is None
        )

    if (
        status is SystemStatus.MY_RECORD
        and agent_id is not None
        and state.owner_agent_id == agent_id
        and allowed(agent_id)
    ):
        return Tier.MY_RECORD, 0, dated
    if status is SystemStatus.CALL_PROGRESSIVE and reserved is not None and allowed(reserved):
        return Tier.PROGRESSIVE, 1, dated
    if status in {SystemStatus.MY_RECORD, SystemStatus.CALL_PROGRESSIVE} or not allowed(None):
        if status is SystemStatus.MY_RECORD and allowed(None):  # released to anyone
            release = owner_release_at(state, rules)
            return Tier.NOT_BEFORE, 4, (release, 0)
        return None
    if state.call_next_at is not None:
        return Tier.CALL_NEXT, 2, (state.call_next_at, 0)
    if status is SystemStatus.NOT_BEFORE:
        return Tier.NOT_BEFORE, 3, dated
    if state.next_call_at is not None:
        return Tier.RETRY, 5, (state.next_call_at, 0)
    return (Tier.RETRY if state.attempts > 0 else Tier.FRESH), 6, (-state.attempts, 0)


def _none_of(
    column: sa.ColumnElement[Any], values: Sequence[Any], *, postgres: bool
) -> sa.ColumnElement[bool]:
    """``column`` is none of ``values``. On PostgreSQL one array parameter (``<> ALL``):
    an engine with hundreds of calls up excludes them all in every tier of every claim,
    and a ``NOT IN`` of that many placeholders made each claim's statement tens of KB to
    build, convert and plan (new text every time: no statement cache)."""
    if postgres:
        return column != sa.all_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.not_in(values)


# ------------------------------------------------------------------------------- API


def claim(
    db: Db,
    campaign_id: int,
    n: int,
    now: dt.datetime,
    *,
    engine_id: str,
    lease_s: float,
    agent_id: int | None = None,
    reserved_agent_id: int | None = None,
    reserved_only: bool = False,
    exclude_records: Collection[int] = (),
    exclude_phones: Collection[str] = (),
) -> list[ClaimedRecord]:
    """Lease up to ``n`` callable records of a campaign at ``now``, best first.

    ``agent_id``: a ready agent this claim is made for; his due ``MY_RECORD`` callbacks
    come first and he counts as reserved for one call. ``reserved_agent_id``: an agent
    reserved for one progressive call (allows ``CALL_PROGRESSIVE`` records); defaults to
    ``agent_id``. At most one record per claim comes from tiers 1–2 and carries
    ``reserved_agent_id``; the rest are predictive calls with no agent reserved.
    ``reserved_only``: only the agent's callback or a progressive redial (tiers 1–2), for
    an engine that reserves the agent only when such a record exists.
    ``exclude_records`` / ``exclude_phones``: records and numbers the caller has calls up
    for; none of them is claimed, whatever their leases say (a lease may have lapsed while
    the database was unreachable; a number may be on several records).

    With an engine the claim commits before returning; with a connection or session the
    caller's transaction holds it (commit promptly: other claimers wait on the rows).
    """
    if n < 0:
        msg = f"n must be ≥ 0, got {n}"
        raise ValueError(msg)
    if now.tzinfo is None:
        msg = f"now must be timezone-aware, got {now!r}"
        raise ValueError(msg)
    if agent_id is not None and reserved_agent_id not in (None, agent_id):
        msg = "agent_id and reserved_agent_id name different agents; claim for one at a time"
        raise ValueError(msg)
    reserved = reserved_agent_id if reserved_agent_id is not None else agent_id
    if n == 0:
        return []
    expires = now + dt.timedelta(seconds=lease_s)
    claimed: list[ClaimedRecord] = []
    with _connection(db) as conn:
        campaign = _load_campaign(conn, campaign_id)
        window = CallingWindow.parse(
            campaign.window_start, campaign.window_end, campaign.window_days
        )
        keys = _zone_keys(conn, campaign_id, now)
        open_keys = open_zone_keys(window, keys, now)
        if not open_keys or campaign.max_attempts < 1:
            return []
        common: list[sa.ColumnElement[bool]] = [
            _c.campaign_id == campaign_id,
            sa.or_(_c.lease_expires_at.is_(None), _c.lease_expires_at <= now),
            _c.parked_at.is_(None),
            _not_on_dnc(campaign_id, now),
            # Always filter, even when every known zone is open: a zone imported since the
            # keys were cached is not known to be open, so it waits for the next refresh.
            _c.tz.in_(open_keys),
        ]
        postgres = conn.dialect.name == "postgresql"
        if exclude_records:
            common.append(_none_of(_c.id, sorted(set(exclude_records)), postgres=postgres))
        if exclude_phones:
            common.append(_none_of(_c.phone, sorted(set(exclude_phones)), postgres=postgres))
        if postgres:
            # psycopg prepares a statement after a few runs and PostgreSQL may then switch
            # to a generic plan, blind to the lease and due times: that plan scans the
            # table (100x slower at 1M records). Plan each claim for its own values.
            conn.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        tiers = _tiers(campaign, now, agent_id, reserved)
        if reserved_only:
            tiers = [tier for tier in tiers if tier.reserved]
            if not tiers:
                return []

        def candidates(tier: _TierQuery) -> sa.Select[tuple[int]]:
            bound = _c.attempts < campaign.max_attempts
            return sa.select(_c.id).where(*common, bound, *tier.where)

        # One round trip tells which of the rarer tiers have candidates at all, so that
        # only those cost an UPDATE; fresh records are nearly always there.
        rare = [tier for tier in tiers if tier.tier is not Tier.FRESH]
        present = conn.execute(sa.select(*(sa.exists(candidates(t)) for t in rare))).one()
        worth = [t for t, there in zip(rare, present, strict=True) if there]
        cache_key = _cache_key(conn, campaign_id)
        open_tuple = tuple(open_keys)
        if _fresh(cache_key, now, open_tuple):
            worth += [tier for tier in tiers if tier.tier is Tier.FRESH]

        reserved_used = False
        for tier in worth:
            if tier.reserved and reserved_used:
                continue
            want = 1 if tier.reserved else n - len(claimed)
            if want <= 0:
                break
            pick = candidates(tier).order_by(*tier.order_by).limit(want)
            if postgres:
                pick = pick.with_for_update(skip_locked=True)
            stmt = (
                sa.update(_record)
                .where(_c.id.in_(pick.scalar_subquery()))
                .values(
                    lease_owner=engine_id,
                    lease_expires_at=expires,
                    attempts=_c.attempts + 1,
                    call_next_at=None,
                )
                .returning(*_c)
            )
            rows = sorted(conn.execute(stmt).mappings(), key=_order_key)
            agent = reserved if tier.reserved else None
            claimed.extend(
                _claimed(row, _tier_of(row, tier.tier), agent, engine_id, expires) for row in rows
            )
            if tier.reserved and rows:
                reserved_used = True
            if tier.released:
                _callbacks_missed(conn, rows, agent_id, now)
            if tier.tier is Tier.FRESH and len(rows) < want:
                _mark_exhausted(conn, cache_key, campaign_id, now, open_tuple)
    return claimed


def _callbacks_missed(
    conn: sa.Connection, rows: Sequence[sa.RowMapping], agent_id: int | None, now: dt.datetime
) -> None:
    """The fact that each released callback found its owner absent, written with the claim
    (once per booking: a record claimed again for the same due time adds nothing). A claim
    made for the owner himself is not a miss."""
    missed = [
        {
            "campaign_id": row["campaign_id"],
            "record_id": row["id"],
            "agent_id": row["owner_agent_id"],
            "due_at": row["next_call_at"],
            "at": now,
        }
        for row in rows
        if row["owner_agent_id"] is not None
        and row["next_call_at"] is not None
        and row["owner_agent_id"] != agent_id
    ]
    for fact in missed:
        booked = sa.select(sa.literal(1)).where(
            _miss.c.record_id == fact["record_id"], _miss.c.due_at == fact["due_at"]
        )
        values = sa.select(*(sa.literal(v, _miss.c[k].type).label(k) for k, v in fact.items()))
        conn.execute(sa.insert(_miss).from_select(list(fact), values.where(~sa.exists(booked))))


def renew(
    db: Db,
    record_ids: Sequence[int],
    now: dt.datetime,
    *,
    engine_id: str,
    lease_s: float,
    also_owners_like: str | None = None,
) -> list[int]:
    """Extend the leases ``engine_id`` holds on ``record_ids``; returns the ids renewed.

    A lease that lapsed and was cleared (swept) or that nobody holds is taken back (the
    caller's call is still up), unless the record's last call ended within ``lease_s``
    (its outcome was written while this renewal was on its way). A record another owner
    has claimed since (after this lease expired) and still holds is not renewed: its id
    is missing from the result, and the caller should treat that call as lost.
    ``also_owners_like``: a LIKE pattern of other owners whose leases are taken over too
    (an earlier start of the same engine).
    """
    if not record_ids:
        return []
    expires = now + dt.timedelta(seconds=lease_s)
    # A lease cleared by an outcome written just now (the call ended while this renewal
    # was on its way) is not taken back: its record's last call ended within lease_s.
    settled_long_ago = sa.or_(
        _c.last_call_at.is_(None), _c.last_call_at <= now - dt.timedelta(seconds=lease_s)
    )
    mine: list[sa.ColumnElement[bool]] = [
        _c.lease_owner == engine_id,
        sa.and_(sa.or_(_c.lease_owner.is_(None), _c.lease_expires_at <= now), settled_long_ago),
    ]
    if also_owners_like is not None:
        mine.append(_c.lease_owner.like(also_owners_like))
    with _connection(db) as conn:
        rows = conn.execute(
            sa.update(_record)
            .where(_c.id.in_(list(record_ids)), sa.or_(*mine))
            .values(lease_owner=engine_id, lease_expires_at=expires)
            .returning(_c.id)
        )
        return sorted(row[0] for row in rows)


def release(db: Db, record_ids: Sequence[int], *, engine_id: str | None = None) -> int:
    """Clear the leases on ``record_ids`` (only ``engine_id``'s, when given); returns count.

    Releasing does not give back the attempt counted at claim time.
    """
    if not record_ids:
        return 0
    conditions: list[sa.ColumnElement[bool]] = [
        _c.id.in_(list(record_ids)),
        _c.lease_owner.is_not(None),
    ]
    if engine_id is not None:
        conditions.append(_c.lease_owner == engine_id)
    with _connection(db) as conn:
        result = conn.execute(
            sa.update(_record)
            .where(*conditions)
            .values(lease_owner=None, lease_expires_at=None)
            .returning(_c.campaign_id)
        )
        released = result.all()
        for campaign_id in {row[0] for row in released}:  # claimable again: look again
            _due_now_exhausted.pop(_cache_key(conn, campaign_id), None)
        return len(released)


def sweep_expired(
    db: Db, now: dt.datetime, *, campaign_id: int | None = None
) -> list[ExpiredLease]:
    """Clear every lease that expired at or before ``now``, and report them."""
    conditions: list[sa.ColumnElement[bool]] = [_c.lease_expires_at <= now]
    if campaign_id is not None:
        conditions.append(_c.campaign_id == campaign_id)
    with _connection(db) as conn:
        rows = conn.execute(
            sa.select(_c.id, _c.lease_owner, _c.lease_expires_at).where(*conditions)
        ).all()
        if not rows:
            return []
        expired = [ExpiredLease(row[0], row[1], row[2]) for row in rows]
        ids = [lease.record_id for lease in expired]
        for start in range(0, len(ids), 500):
            conn.execute(
                sa.update(_record)
                .where(_c.id.in_(ids[start : start + 500]), _c.lease_expires_at <= now)
                .values(lease_owner=None, lease_expires_at=None)
            )
        return sorted(expired, key=lambda lease: lease.record_id)


def park_dnc_hits(
    db: Db, campaign_id: int, now: dt.datetime, *, recheck_after_s: float = 86_400
) -> int:
    """Give due records whose number is on a DNC list a ``next_call_at`` in the future.

    Claims skip such records anyway (the DNC check is made at claim time), but each claim
    has to step over them again; parking them keeps claims fast when many numbers were put
    on a DNC list after import. A parked record is checked again at ``now +
    recheck_after_s`` (and dialed then only if its DNC entry has gone). ``MY_RECORD``
    callbacks keep their time. Call it after adding DNC entries, and daily. Returns the
    number of records parked.
    """
    until = now + dt.timedelta(seconds=recheck_after_s)
    listed = sa.select(_dnc.c.phone).where(
        sa.or_(_dnc.c.campaign_id.is_(None), _dnc.c.campaign_id == campaign_id),
        sa.or_(_dnc.c.expires_at.is_(None), _dnc.c.expires_at > now),
    )
    with _connection(db) as conn:
        result = conn.execute(
            sa.update(_record)
            .where(
                _c.campaign_id == campaign_id,
                _c.phone.in_(listed),
                _c.system_status.in_(
                    [
                        SystemStatus.TO_CALL.value,
                        SystemStatus.NOT_BEFORE.value,
                        SystemStatus.CALL_PROGRESSIVE.value,
                    ]
                ),
                _due(now),
                sa.or_(_c.lease_expires_at.is_(None), _c.lease_expires_at <= now),
            )
            .values(next_call_at=until)
        )
        return int(result.rowcount)
