"""Several engines on one PostgreSQL: who runs which campaign.

Each running (or paused) campaign is owned by exactly one engine at a time, through a row
of ``campaign_lease``: the owner (``<engine id>/<start nonce>``), when the lease ends and a
**fencing token** that grows by one with every new owner. Times are the database's own
clock, so engines on hosts whose clocks disagree (or engines run at ``--time-scale``) still
agree on who is late.

The rule (:func:`assign`), run by every engine on the same survey of the database:

* every engine writes a heartbeat (``cluster_engine``) every ``failover_s / 3``; one whose
  heartbeat is older than ``failover_s`` is gone;
* a campaign needs an owner when it has no lease, or its lease ran out (its owner died or
  stalled: it did not renew for ``failover_s``), or its lease belongs to an earlier start
  of this same engine (engine ids are unique: that start is dead);
* campaigns needing an owner are handed out heaviest first (by the agents logged in to
  them when last owned, at least 1), each to the live engine with the fewest agents so
  far (then the lowest owner name): balanced by agents logged in;
* an engine takes the campaigns the rule gives it; one left free longer than
  ``failover_s`` (its designated engine did not take it) is taken by whoever sees it;
* a campaign is not moved away from a live engine that renews its lease; a graceful stop
  (SIGTERM) releases the engine's leases at once, so the others take them in one round.

Taking a lease is one conditional write (``token = token + 1`` only while the token is the
one seen and the lease is free or ran out), so two engines never both win. The new owner
adopts the campaign's live calls and seats as a restart does. An owner that fails to renew
drops the campaign at once, and its record claims are fenced: each claim checks, in the
claim's own transaction, that the lease still names this owner and token and has not run
out (``FOR KEY SHARE``: a takeover, which locks the row ``FOR UPDATE`` first, waits for the
claim to commit), so a stale owner can never lease (and so dial) a record after the
campaign moved. The owner's own renewal changes no key and does not wait for its claims
and call facts: with ``FOR SHARE`` it did, and an engine's journal writing its piled-up
facts in one transaction after another, beside its claims, kept the renewal waiting until
the leases lapsed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
import structlog

from dialer.errors import DialerError

log = structlog.get_logger(__name__)


class CampaignMovedError(DialerError):
    """A write for a campaign whose lease no longer has the writer's owner and token."""

    error_id = "campaign_moved"

    def __init__(self, campaign_id: int, owner: str, token: int | None) -> None:
        self.campaign_id = campaign_id
        self.owner = owner
        self.token = token
        super().__init__(
            f"campaign {campaign_id} is no longer owned by {owner} with token {token}: "
            "another engine took it over (or this one gave it up); the write is refused"
        )


def assign(
    needing: Collection[int],
    weights: Mapping[int, int],
    engines: Mapping[str, int],
) -> dict[int, str]:
    """Which live engine takes each campaign of ``needing`` (pure; see the module).

    ``weights``: agents last logged in per campaign; ``engines``: live engine owner name →
    agents logged in on the campaigns it holds now. Returns campaign → owner name.
    """
    if not engines:
        return {}
    load = dict(engines)
    out: dict[int, str] = {}
    for campaign_id in sorted(needing, key=lambda c: (-max(1, weights.get(c, 0)), c)):
        owner = min(load, key=lambda o: (load[o], o))
        out[campaign_id] = owner
        load[owner] += max(1, weights.get(campaign_id, 0))
    return out


def to_hand_over(held: Mapping[int, int], engines: Mapping[str, int], me: str) -> int | None:
    """Which campaign this engine (``me``) hands to a less loaded one, if any (pure).

    ``held``: agents logged in per campaign this engine holds; ``engines``: live engine →
    agents on its campaigns (as :class:`Survey` counts, each campaign at least 1). Only the
    most loaded engine moves a campaign, and only one whose weight ``w`` (at least 1) is
    below the gap to the least loaded engine, so that the move narrows the gap (and never
    moves it back): the one leaving the two loads closest.
    """
    if me not in engines or len(engines) < 2 or len(held) < 2:
        return None
    top = max(engines.values())
    low_owner = min(engines, key=lambda o: (engines[o], o))
    if engines[me] != top or low_owner == me:
        return None
    gap = engines[me] - engines[low_owner]
    fits = [(abs(gap - 2 * max(1, w)), c) for c, w in held.items() if max(1, w) < gap]
    return min(fits)[1] if fits else None


@dataclass
class Handovers:
    """The rebalancing handovers of this engine (bookkeeping only; the clock is passed in).

    One at a time, once the rule has proposed the same campaign for ``steady_s``. A
    campaign being handed over places no new call and waits up to ``wait_s`` to go quiet
    (its ringing calls ended, its agents done with their calls and wrap-up). One that does
    not is given up (it dials on) and this engine proposes no other for ``retry_s``, twice
    that after a second miss in a row, up to eight times: a campaign that is never quiet
    in time (long talks, or rings longer than the wait) keeps dialing instead of standing
    still for most of every minute."""

    wait_s: float
    retry_s: float
    steady_s: float = 0.0
    """A proposal is acted on only once the rule made it this long without a break (agents
    logging in at a shift's start, or one engine joining a few seconds after another, do
    not move a campaign)."""
    pending: dict[int, float] = field(default_factory=dict)
    """Campaign → when its handover began."""
    not_before: float = 0.0
    misses: int = 0
    """Handovers given up in a row."""
    proposed: int | None = None
    proposed_since: float = 0.0

    def start(self, proposed: int | None, now: float) -> bool:
        """The rule's proposal this round (None: none): True when handing ``proposed``
        over begins now. Not while one is under way, a miss is recent, or the proposal has
        not stood for ``steady_s``."""
        if proposed != self.proposed:
            self.proposed, self.proposed_since = proposed, now
        if (
            proposed is None
            or self.pending
            or now < self.not_before
            or now - self.proposed_since < self.steady_s
        ):
            return False
        self.pending[proposed] = now
        return True

    def overdue(self, campaign_id: int, now: float) -> bool:
        return now - self.pending[campaign_id] > self.wait_s

    def done(self, campaign_id: int) -> None:
        """Handed over: the next proposal may start at once."""
        self.pending.pop(campaign_id, None)
        self.misses = 0

    def give_up(self, campaign_id: int, now: float) -> float:
        """Not quiet in time: dial on; the seconds before the next proposal."""
        self.pending.pop(campaign_id, None)
        self.misses += 1
        pause = self.retry_s * float(2 ** min(self.misses - 1, 3))
        self.not_before = now + pause
        return pause

    def forget(self, campaign_id: int) -> None:
        """The campaign left this engine another way (lost, stopped)."""
        self.pending.pop(campaign_id, None)


@dataclass(frozen=True, slots=True)
class Lease:
    """One campaign's lease as surveyed."""

    campaign_id: int
    owner: str | None
    token: int
    live: bool
    """Its owner renewed it within ``failover_s``."""
    agents: int
    seats: tuple[str, ...] = ()
    """The seats of the agents logged in to it, as its owner last reported."""


@dataclass(frozen=True, slots=True)
class Survey:
    """What the database says about the cluster now."""

    engines: dict[str, int]
    """Live engines: owner → agents logged in on their campaigns."""
    leases: dict[int, Lease]
    campaigns: tuple[int, ...]
    """Campaigns that want an owner while live (running or paused)."""
    ages: dict[str, float] = field(default_factory=dict)
    """Live engines: seconds since their first heartbeat."""


@dataclass(frozen=True, slots=True)
class Taken:
    """A campaign this engine now owns: its token, and the owner before it (None: free)."""

    campaign_id: int
    token: int
    previous: str | None
    seats: tuple[str, ...] = ()
    """The seats its previous owner reported (the agents that follow the campaign)."""
    previous_live: bool = False
    """The previous owner still runs (a handover, or a stalled owner): only legs of the
    campaign's own calls are touched, never its other calls."""


@dataclass
class Changes:
    """What one round of :meth:`Cluster.step` changed for this engine."""

    taken: list[Taken] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    hand_over: int | None = None
    """A campaign to hand to a less loaded engine (rebalancing; see :func:`to_hand_over`)."""


def owner_engine(owner: str) -> str:
    """The engine id of a lease owner name (``<engine id>/<nonce>``)."""
    return owner.rpartition("/")[0] or owner


class Cluster:
    """This engine's membership of the cluster, on a PostgreSQL database.

    Call :meth:`step` every ``failover_s / 3`` (wall clock); it heartbeats, renews the
    leases held, surveys the others and takes what the rule gives this engine.
    :attr:`held` maps each campaign owned to its fencing token; :meth:`fence` checks it
    inside a claim's transaction.
    """

    def __init__(
        self,
        db: sa.Engine,
        *,
        engine_id: str,
        owner: str,
        failover_s: float = 10.0,
        settle_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if db.dialect.name != "postgresql":
            msg = f"campaign ownership needs PostgreSQL, not {db.dialect.name}"
            raise ValueError(msg)
        self.db = db
        self.engine_id = engine_id
        self.owner = owner
        self.failover_s = failover_s
        self.settle_s = failover_s / 2 if settle_s is None else settle_s
        self.held: dict[int, int] = {}
        #: Until when (monotonic) each lease held surely holds: the start of the write that
        #: last extended it + failover_s - margin_s (the database's expiry is later).
        self.valid_until: dict[int, float] = {}
        self.margin_s = min(0.5, failover_s / 10)
        #: Leases given up locally (lapsed) and released in the next round (token kept).
        self._to_release: dict[int, int] = {}
        self._monotonic = monotonic
        self._joined_t: float | None = None
        self._free_since: dict[int, float] = {}

    # ---- one round ----------------------------------------------------------------------

    def step(
        self,
        seats: Mapping[int, Sequence[str]],
        take: bool = True,
        *,
        stats: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> Changes:
        """Heartbeat, renew, survey, take (``seats``: of the agents logged in, per campaign
        held; ``take``: False while draining, when only the leases held are kept;
        ``stats``: the live figures of the campaigns held, for the other engines' pages)."""
        now_t = self._monotonic()
        if self._joined_t is None:
            self._joined_t = now_t
        changes = Changes()
        changes.lost = self.renew(seats, stats)
        if not take:
            return changes
        survey = self.survey()
        if now_t - self._joined_t < self.settle_s:
            return changes  # the others may not have announced themselves yet
        # Campaigns go only to engines settled in (they take what is free only then).
        settled = {
            o: load
            for o, load in survey.engines.items()
            if o == self.owner or survey.ages.get(o, 0.0) >= self.settle_s
        }
        held_weights = {c: len(seats.get(c, ())) for c in self.held if c in survey.leases}
        changes.hand_over = to_hand_over(held_weights, settled, self.owner)
        needing = [
            c
            for c in survey.campaigns
            if c not in self.held and self._needs_owner(survey.leases.get(c))
        ]
        for c in list(self._free_since):
            if c not in needing:
                del self._free_since[c]
        for c in needing:
            self._free_since.setdefault(c, now_t)
        weights = {c: lease.agents for c, lease in survey.leases.items()}
        plan = assign(needing, weights, survey.engines)
        for campaign_id in needing:
            mine = plan.get(campaign_id) == self.owner
            overdue = now_t - self._free_since[campaign_id] > self.failover_s
            if not (mine or overdue):
                continue
            lease = survey.leases.get(campaign_id)
            taken = self.take(campaign_id, lease.token if lease else None)
            if taken is not None:
                taken = replace(
                    taken,
                    seats=lease.seats if lease else (),
                    previous_live=taken.previous in survey.engines,
                )
                changes.taken.append(taken)
                self._free_since.pop(campaign_id, None)
        return changes

    def _needs_owner(self, lease: Lease | None) -> bool:
        if lease is None or lease.owner is None or not lease.live:
            return True
        return owner_engine(lease.owner) == self.engine_id and lease.owner != self.owner

    # ---- the database -------------------------------------------------------------------

    def renew(
        self,
        seats: Mapping[int, Sequence[str]],
        stats: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> list[int]:
        """Heartbeat and extend the leases held (``seats``: of the agents logged in, per
        campaign; ``stats``: their live figures, kept beside the lease for the other
        engines' pages); returns the campaigns lost (another owner took them, or they ran
        out while this engine could not reach the database)."""
        stats = stats or {}
        total = sum(len(seats.get(c, ())) for c in self.held)
        lost: list[int] = []
        kept_ids: list[int] = []
        started = self._monotonic()
        to_release = dict(self._to_release)
        with self.db.begin() as conn:
            for campaign_id, token in sorted(to_release.items()):
                # Free at once; this owner's name stays, so that whoever takes it (this
                # engine too) adopts its calls and the seats it reported.
                conn.execute(
                    sa.text(
                        "UPDATE campaign_lease SET expires_at = NULL"
                        " WHERE campaign_id = :c AND owner = :owner AND token = :t"
                    ),
                    {"c": campaign_id, "owner": self.owner, "t": token},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO cluster_engine (owner, engine_id, started_at, expires_at, agents)"
                    " VALUES (:owner, :engine, timezone('UTC', clock_timestamp()),"
                    " timezone('UTC', clock_timestamp()) + make_interval(secs => :f), :a)"
                    " ON CONFLICT (owner) DO UPDATE SET"
                    " expires_at = EXCLUDED.expires_at, agents = EXCLUDED.agents"
                ),
                {"owner": self.owner, "engine": self.engine_id, "f": self.failover_s, "a": total},
            )
            for campaign_id, token in sorted(self.held.items()):
                kept = conn.execute(
                    sa.text(
                        "UPDATE campaign_lease SET"
                        " expires_at = timezone('UTC', clock_timestamp()) + make_interval(secs =>"
                        " :f), agents = :a, seats = :s,"
                        " stats = coalesce(CAST(:st AS json), stats),"
                        " stats_at = CASE WHEN :st IS NULL THEN stats_at"
                        " ELSE timezone('UTC', clock_timestamp()) END"
                        " WHERE campaign_id = :c AND owner = :owner AND token = :t"
                        " AND expires_at > timezone('UTC', clock_timestamp())"
                    ),
                    {
                        "c": campaign_id,
                        "owner": self.owner,
                        "t": token,
                        "f": self.failover_s,
                        "a": len(seats.get(campaign_id, ())),
                        "s": ",".join(sorted(seats.get(campaign_id, ()))),
                        "st": (
                            json.dumps(stats[campaign_id], default=str)
                            if campaign_id in stats
                            else None
                        ),
                    },
                ).rowcount
                if kept:
                    kept_ids.append(campaign_id)
                else:
                    lost.append(campaign_id)
        for campaign_id in to_release:
            self._to_release.pop(campaign_id, None)
        for campaign_id in kept_ids:
            self.valid_until[campaign_id] = started + self.failover_s - self.margin_s
        for campaign_id in lost:
            # (lapsed() may have given it up meanwhile, on the engine's loop)
            if self.held.pop(campaign_id, None) is not None:
                log.warning("campaign_lease_lost", campaign=campaign_id, owner=self.owner)
            self.valid_until.pop(campaign_id, None)
        return lost

    def lapsed(self) -> list[int]:
        """Give up, at once, the leases held that may have run out by now (this engine
        did not renew them in time: it stalled, or the database did not answer); returns
        their campaigns. Each is released in the next round if it is still this owner's."""
        now_t = self._monotonic()
        out: list[int] = []
        for campaign_id, token in list(self.held.items()):
            until = self.valid_until.get(campaign_id)
            if until is None or now_t < until:
                continue
            if self.held.pop(campaign_id, None) is None:
                continue
            self.valid_until.pop(campaign_id, None)
            self._to_release[campaign_id] = token
            out.append(campaign_id)
            log.warning(
                "campaign_lease_lapsed",
                campaign=campaign_id,
                token=token,
                late_s=round(now_t - until, 3),
                owner=self.owner,
            )
        return out

    def survey(self) -> Survey:
        """Live engines, leases and the campaigns that want an owner."""
        with self.db.connect() as conn:
            ages = {
                str(owner): float(age)
                for owner, age in conn.execute(
                    sa.text(
                        "SELECT owner, extract(epoch FROM timezone('UTC', clock_timestamp())"
                        " - started_at) FROM cluster_engine WHERE expires_at >"
                        " timezone('UTC', clock_timestamp())"
                    )
                )
            }
            engines = dict.fromkeys(ages, 0)
            leases = {
                int(row.campaign_id): Lease(
                    int(row.campaign_id),
                    row.owner,
                    int(row.token),
                    bool(row.live),
                    int(row.agents),
                    tuple(s for s in str(row.seats).split(",") if s),
                )
                for row in conn.execute(
                    sa.text(
                        "SELECT campaign_id, owner, token, agents, seats,"
                        " coalesce(expires_at > timezone('UTC', clock_timestamp()), false) AS"
                        " live FROM campaign_lease"
                    )
                )
            }
            campaigns = tuple(
                int(c)
                for (c,) in conn.execute(
                    sa.text(
                        "SELECT id FROM campaign WHERE state IN ('running', 'paused') ORDER BY id"
                    )
                )
            )
        engines.setdefault(self.owner, 0)
        # An engine's load: the agents on the campaigns it holds, each campaign at least 1
        # (so that campaigns nobody works yet are spread too).
        for lease in leases.values():
            if lease.live and lease.owner in engines:
                engines[lease.owner] += max(1, lease.agents)
        return Survey(engines, leases, campaigns, ages)

    def take(self, campaign_id: int, seen_token: int | None) -> Taken | None:
        """Become the campaign's owner if its lease is still as surveyed (``seen_token``;
        None: no lease row) and free, run out, or an earlier start's of this engine."""
        started = self._monotonic()
        with self.db.begin() as conn:
            # The old owner's claims and call facts hold the row FOR KEY SHARE until they
            # commit; the upsert's own lock would not wait for them.
            conn.execute(
                sa.text("SELECT 1 FROM campaign_lease WHERE campaign_id = :c FOR UPDATE"),
                {"c": campaign_id},
            )
            row = conn.execute(
                sa.text(
                    "INSERT INTO campaign_lease AS l"
                    " (campaign_id, owner, token, expires_at, agents, seats)"
                    " VALUES (:c, :owner, 1, timezone('UTC', clock_timestamp()) +"
                    " make_interval(secs => :f), 0, '')"
                    " ON CONFLICT (campaign_id) DO UPDATE SET owner = :owner,"
                    " token = l.token + 1, expires_at = EXCLUDED.expires_at"
                    " WHERE l.token = :seen AND (l.owner IS NULL OR l.expires_at IS NULL"
                    " OR l.expires_at <= timezone('UTC', clock_timestamp()) OR l.owner LIKE :mine)"
                    " RETURNING token,"
                    " (SELECT owner FROM campaign_lease WHERE campaign_id = :c) AS previous"
                ),
                {
                    "c": campaign_id,
                    "owner": self.owner,
                    "f": self.failover_s,
                    "seen": -1 if seen_token is None else seen_token,
                    "mine": f"{self.engine_id}/%",
                },
            ).first()
        if row is None:
            return None
        token, previous = int(row.token), row.previous
        self.valid_until[campaign_id] = started + self.failover_s - self.margin_s
        self.held[campaign_id] = token
        log.info(
            "campaign_lease_taken",
            campaign=campaign_id,
            token=token,
            previous=previous,
            owner=self.owner,
        )
        return Taken(campaign_id, token, previous)

    def release(self, campaign_ids: Sequence[int] | None = None) -> None:
        """Give up leases (default: all held) so that the others take them at once."""
        ids = sorted(self.held if campaign_ids is None else campaign_ids)
        with self.db.begin() as conn:
            for campaign_id in ids:
                conn.execute(
                    sa.text(
                        "UPDATE campaign_lease SET owner = NULL, expires_at = NULL"
                        " WHERE campaign_id = :c AND owner = :owner AND token = :t"
                    ),
                    {"c": campaign_id, "owner": self.owner, "t": self.held.get(campaign_id, -1)},
                )
                self.held.pop(campaign_id, None)
                self.valid_until.pop(campaign_id, None)
        log.info("campaign_leases_released", campaigns=ids, owner=self.owner)

    def hand_over(self, campaign_id: int, seats: Sequence[str]) -> None:
        """Give up a lease for another engine to take at once, keeping this owner's name on
        it with ``seats``, those of its agents logged in now (not as of the last renewal),
        so that the taker adopts every one of them (its agents follow)."""
        token = self.held.get(campaign_id, -1)
        with self.db.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE campaign_lease SET expires_at = NULL, agents = :a, seats = :s"
                    " WHERE campaign_id = :c AND owner = :owner AND token = :t"
                ),
                {
                    "c": campaign_id,
                    "owner": self.owner,
                    "t": token,
                    "a": len(seats),
                    "s": ",".join(sorted(seats)),
                },
            )
        self.held.pop(campaign_id, None)
        self.valid_until.pop(campaign_id, None)
        log.info("campaign_lease_handed_over", campaign=campaign_id, owner=self.owner)

    def leave(self) -> None:
        """Release every lease and remove this engine's heartbeat (graceful stop)."""
        self.release()
        with self.db.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM cluster_engine WHERE owner = :owner"), {"owner": self.owner}
            )

    def fence(self, conn: sa.Connection, campaign_id: int) -> bool:
        """True when the lease still names this owner and token and has not run out; the
        row stays share-locked until ``conn``'s transaction ends (a takeover waits)."""
        token = self.held.get(campaign_id)
        if token is None:
            return False
        row = conn.execute(
            sa.text(
                "SELECT 1 FROM campaign_lease WHERE campaign_id = :c AND owner = :owner"
                " AND token = :t AND expires_at > timezone('UTC', clock_timestamp())"
                " FOR KEY SHARE"
            ),
            {"c": campaign_id, "owner": self.owner, "t": token},
        ).first()
        return row is not None

    def owns(self, conn: sa.Connection, campaign_id: int, token: int | None) -> bool:
        """True when the campaign's lease still names this owner with ``token`` (the one
        held when a fact happened; None: not held then). The row stays share-locked until
        ``conn``'s transaction ends, so a takeover waits for the write to commit. The
        lease may have run out meanwhile: until another owner takes it, the facts of this
        owner's calls are still its own to write."""
        if token is None:
            return False
        row = conn.execute(
            sa.text(
                "SELECT 1 FROM campaign_lease WHERE campaign_id = :c AND owner = :owner"
                " AND token = :t FOR KEY SHARE"
            ),
            {"c": campaign_id, "owner": self.owner, "t": token},
        ).first()
        return row is not None

    def figures(self, campaign_id: int) -> Figures | None:
        """The live figures another engine keeps beside its lease of the campaign (None:
        no live owner, or it has not reported any yet)."""
        with self.db.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT owner, stats, extract(epoch FROM timezone('UTC', clock_timestamp())"
                    " - stats_at) AS age FROM campaign_lease WHERE campaign_id = :c"
                    " AND owner IS NOT NULL AND stats IS NOT NULL"
                    " AND expires_at > timezone('UTC', clock_timestamp())"
                ),
                {"c": campaign_id},
            ).first()
        if row is None:
            return None
        stats = row.stats if isinstance(row.stats, dict) else json.loads(str(row.stats))
        return Figures(owner_engine(str(row.owner)), stats, round(float(row.age or 0.0), 1))


@dataclass(frozen=True, slots=True)
class Figures:
    """A campaign's live figures as its owner (another engine) last reported them."""

    engine: str
    stats: dict[str, Any]
    age_s: float
    """How old they are (the owner reports every ``failover_s / 3``)."""

    def payload(self) -> dict[str, Any]:
        """The figures as this engine's own are shown, with who runs it and their age."""
        return {**self.stats, "engine": self.engine, "figures_age_s": self.age_s}
