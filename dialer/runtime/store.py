"""The engine's storage adapters: records to dial and the call journal, on the database.

:class:`SqlLeads` leases records through :mod:`campaigns.selection`; :class:`SqlJournal`
writes one call-log row per attempt and runs every outcome through the status engine via
:mod:`campaigns.dispositions`. A record's lease is held from the claim until its outcome
or its agent's status is written, so a record is never dialed again while its previous
call may still be live; :meth:`SqlLeads.renew` keeps the leases of long calls alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import queue
import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import sqlalchemy as sa
import structlog

from campaigns import desk, selection
from campaigns.abandonment import settled_facts, zone
from campaigns.dispositions import (
    CallDetails,
    load_rules,
    mark_callback_kept,
    record_outcome,
    set_agent_status,
    state_of,
)
from campaigns.enums import Outcome
from campaigns.models import AgentPhase, CallLog, Record
from campaigns.retention import purge
from campaigns.status_engine import RuleRefusal, StatusRuleError, apply_agent_status
from dialer.engine import Call, Lead
from dialer.engine.clock import Clock
from dialer.engine.core import PhaseChange
from dialer.runtime.cluster import CampaignMovedError
from dialer.runtime.jobs import JobSpec
from pacing.accounting import AbandonmentLedger
from pacing.trace import Seed, TraceWriter

log = structlog.get_logger(__name__)

_CALL_LOG = CallLog.__table__  # type: ignore[attr-defined]
_PHASE = AgentPhase.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]


def _lead(item: selection.ClaimedRecord) -> Lead:
    return Lead(
        record_id=item.id,
        campaign_id=item.campaign_id,
        phone=item.phone,
        name=item.name,
        fields=dict(item.fields),
        system_status=item.system_status.value,
        owner_agent_id=item.owner_agent_id,
        attempt=item.attempts,
    )


#: This process's start nonce: leases are owned by ``<engine id>/<nonce>``, so that a
#: lapsed owner (an earlier start of the same engine, or a stalled one) is fenced off.
PROCESS_NONCE = secrets.token_hex(4)


def lease_owner(engine_id: str, nonce: str | None = None) -> str:
    """The lease owner of ``engine_id`` for one start (``nonce``: this process's)."""
    return f"{engine_id}/{PROCESS_NONCE if nonce is None else nonce}"


class SqlLeads:
    """Records to dial, leased from the database for this engine.

    Leases are owned by :attr:`owner` (engine id + start nonce): a release, renewal or
    outcome of an earlier owner never touches a lease taken since by another. Leases are
    counted on the engine's clock (``now`` comes from it) and renewed by
    :meth:`renew_job` on the same clock. While renewals fail (the database is
    unreachable) :attr:`can_claim` is False and no record is claimed: the leases of the
    calls up may have lapsed, and only the engine's own exclusions still protect them.
    """

    def __init__(
        self, db: sa.Engine, *, engine_id: str, lease_s: float, nonce: str | None = None
    ) -> None:
        self.db = db
        self.engine_id = engine_id
        self.owner = lease_owner(engine_id, nonce)
        self.lease_s = lease_s
        self._renew_failing = False
        #: In a cluster: checks, inside a claim's transaction, that this engine still owns
        #: the campaign (:meth:`dialer.runtime.cluster.Cluster.fence`); None: one engine.
        self.fence: Callable[[sa.Connection, int], bool] | None = None

    @property
    def can_claim(self) -> bool:
        """False while the last renewal of leases failed."""
        return not self._renew_failing

    def claim(
        self,
        campaign_id: int,
        n: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> list[Lead]:
        """Up to ``n`` records any agent may take, none of ``exclude_records`` and none
        with a number in ``exclude_phones`` (the engine's live calls)."""
        if not self.can_claim:
            return []
        with self._fenced(campaign_id) as conn:
            if conn is None:
                return []
            got = selection.claim(
                conn,
                campaign_id,
                n,
                now,
                engine_id=self.owner,
                lease_s=self.lease_s,
                exclude_records=exclude_records,
                exclude_phones=exclude_phones,
            )
        return [_lead(item) for item in got]

    @contextlib.contextmanager
    def _fenced(self, campaign_id: int) -> Iterator[sa.Connection | None]:
        """A transaction for a claim; None (nothing may be claimed) when the fence says
        this engine no longer owns the campaign."""
        with self.db.begin() as conn:
            if self.fence is not None and not self.fence(conn, campaign_id):
                log.warning("claim_fenced", campaign=campaign_id, owner=self.owner)
                yield None
                return
            yield conn

    def reserved_work(
        self, campaign_id: int, agent_ids: Sequence[int], now: dt.datetime
    ) -> tuple[set[int], int]:
        """Owners among ``agent_ids`` with a due callback, and how many progressive redials
        are due (capped at the number of agents). Window and DNC are left to the claim."""
        free = sa.or_(_RECORD.c.lease_expires_at.is_(None), _RECORD.c.lease_expires_at <= now)
        due = sa.or_(_RECORD.c.next_call_at.is_(None), _RECORD.c.next_call_at <= now)
        with self.db.connect() as conn:
            owners = conn.execute(
                sa.select(_RECORD.c.owner_agent_id)
                .where(
                    _RECORD.c.owner_agent_id.in_(list(agent_ids)),
                    _RECORD.c.system_status == "MY_RECORD",
                    _RECORD.c.campaign_id == campaign_id,
                    due,
                    free,
                )
                .distinct()
            ).scalars()
            found = {int(o) for o in owners}
            progressive = conn.execute(
                sa.select(sa.func.count()).select_from(
                    sa.select(_RECORD.c.id)
                    .where(
                        _RECORD.c.campaign_id == campaign_id,
                        _RECORD.c.system_status == "CALL_PROGRESSIVE",
                        due,
                        free,
                    )
                    .limit(len(agent_ids))
                    .subquery()
                )
            ).scalar_one()
        return found, int(progressive)

    def claim_reserved(
        self,
        campaign_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead | None:
        """The agent's due callback, else a progressive redial, else ``None``."""
        if not self.can_claim:
            return None
        with self._fenced(campaign_id) as conn:
            if conn is None:
                return None
            got = selection.claim(
                conn,
                campaign_id,
                1,
                now,
                engine_id=self.owner,
                lease_s=self.lease_s,
                agent_id=agent_id,
                reserved_only=True,
                exclude_records=exclude_records,
                exclude_phones=exclude_phones,
            )
        return _lead(got[0]) if got else None

    def release(self, record_ids: Sequence[int]) -> None:
        """Give back records claimed and not dialed (only leases this owner holds)."""
        selection.release(self.db, record_ids, engine_id=self.owner)

    def exhausted(self, campaign_id: int) -> bool:
        """A claim made here that gave nothing found nothing: always True."""
        del campaign_id
        return True

    def claim_for_agent(
        self,
        campaign_id: int,
        record_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead:
        """Record ``record_id`` leased for a dial with ``agent_id`` reserved, now
        (:func:`campaigns.desk.claim_for_agent`: DeskDialRefusedError says why not)."""
        item = desk.claim_for_agent(
            self.db,
            record_id,
            agent_id,
            now,
            campaign_id=campaign_id,
            engine_id=self.owner,
            lease_s=self.lease_s,
            exclude_records=exclude_records,
            exclude_phones=exclude_phones,
        )
        return _lead(item)

    def record_for_number(self, campaign_id: int, number: str) -> int:
        """The campaign's record of a typed number, created when there is none."""
        return desk.record_for_number(self.db, campaign_id, number)

    def renew(self, record_ids: Sequence[int], now: dt.datetime) -> list[int]:
        """Extend this owner's leases on records whose calls are still going on (and take
        back a lease that lapsed unclaimed); returns the ids renewed. A failure (the
        database is unreachable) stops claims until a renewal succeeds again."""
        try:
            renewed = selection.renew(
                self.db, record_ids, now, engine_id=self.owner, lease_s=self.lease_s
            )
        except Exception:
            if not self._renew_failing:
                log.warning("lease_renew_failing", records=len(record_ids))
            self._renew_failing = True
            raise
        if self._renew_failing:
            log.info("lease_renew_resumed", records=len(renewed))
        self._renew_failing = False
        lost = set(record_ids) - set(renewed)
        if lost:
            log.warning("leases_lost", records=sorted(lost))
        return renewed

    def adopt(
        self, record_ids: Sequence[int], now: dt.datetime, *, engine_id: str | None = None
    ) -> list[int]:
        """Take over the leases an earlier start of this engine (or of ``engine_id``, whose
        campaign this engine took over) held on ``record_ids`` (calls adopted), and free or
        lapsed ones; returns the ids taken."""
        return selection.renew(
            self.db,
            record_ids,
            now,
            engine_id=self.owner,
            lease_s=self.lease_s,
            also_owners_like=f"{engine_id or self.engine_id}/%",
        )

    def earlier_leases(self) -> list[int]:
        """Records still leased by an earlier start of this engine (after a restart)."""
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(_RECORD.c.id).where(
                    _RECORD.c.lease_owner.like(f"{self.engine_id}/%"),
                    _RECORD.c.lease_owner != self.owner,
                )
            )
            return sorted(int(r[0]) for r in rows)

    def renew_job(self, live_record_ids: Callable[[], Collection[int]], clock: Clock) -> JobSpec:
        """The scheduled job that renews the leases of the calls up, every third of
        ``lease_s`` on the engine's clock (run it with ``Jobs(..., time_scale=...)``)."""

        async def renew() -> None:
            ids = sorted(live_record_ids())
            if not ids:
                self._renew_failing = False
                return
            await asyncio.to_thread(self.renew, ids, clock.utcnow())

        return JobSpec(
            "lease-renew",
            renew,
            "renew leases of calls in progress",
            every_s=self.lease_s / 3,
            engine_clock=True,
        )


def retention_job(
    db: sa.Engine, clock: Clock, *, call_log_days: int, audit_days: int, run_at: str, batch: int
) -> JobSpec:
    """The daily job deleting call-log and audit rows past their keeping time (the
    ``[retention]`` settings); it runs in a worker thread."""

    def retention() -> None:
        purged = purge(
            db, clock.utcnow(), call_log_days=call_log_days, audit_days=audit_days, batch=batch
        )
        if purged.call_log or purged.audit:
            log.info("retention_purged", call_log=purged.call_log, audit=purged.audit)

    return JobSpec("retention", retention, "delete call/audit rows past retention", at=run_at)


def load_ledger(
    ledger: AbandonmentLedger,
    db: sa.Engine,
    campaign_id: int,
    *,
    clock: Clock,
    tz: str,
    before_t: float | None = None,
    trace: TraceWriter | None = None,
) -> int:
    """Make ``ledger`` count "today" in the campaign's zone ``tz`` and seed it with the
    connects, drops (and machines) of the last 30 days from the call log, on ``clock``'s
    scale; returns how many facts it took. Call it when the campaign's pacer is built
    (at start, and when a profile reload builds a new one), before it sees live events:
    the call log holds every engine's facts, so the pacer's guard starts from the same
    windows as the dashboard. ``before_t``: only the facts before that time (a rebuilt
    pacer is fed the later ones as events). ``trace``: the seed is recorded there."""
    now_t, now_at = clock.now(), clock.utcnow()
    facts = (
        (now_t - (now_at - at).total_seconds(), kind)
        for at, kind in settled_facts(db, campaign_id, now_at)
    )
    # the zone the ledger counts "today" in (an unknown name counts in UTC)
    seed = Seed(
        now_t,
        now_at,
        str(zone(tz)),
        tuple(f for f in facts if before_t is None or f[0] < before_t),
    )
    if trace is not None:
        trace.seed(seed)
    return seed.apply(ledger)


@dataclass(frozen=True, slots=True)
class _PendingStatus:
    agent_id: int
    status_id: int
    date: dt.datetime | None
    note: str


def _pick_up(call: Call) -> dict[str, object]:
    """The call-log columns of a pick-up, written again with each later fact (answered,
    connected, dropped) so that any one of them alone leaves the row complete."""
    return {
        "answer_at": call.answer_at,
        "ring_s": _seconds(call.dial_at, call.answer_at),
        "amd_result": call.amd_status,
        "amd_cause": call.amd_cause,
    }


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _details(call: Call) -> CallDetails:
    answered_or_end = call.answer_at or call.end_at
    return CallDetails(
        dial_at=call.dial_at,
        answer_at=call.answer_at,
        connect_at=call.connect_at,
        drop_at=call.drop_at,
        end_at=call.end_at,
        ring_s=_seconds(call.dial_at, answered_or_end),
        wait_s=_seconds(call.person_at, call.connect_at or call.drop_at or call.end_at)
        if call.person_at
        else None,
        talk_s=_seconds(call.connect_at, call.end_at),
        agent_id=call.agent_id,
        hangup_cause=call.cause,
        hangup_cause_txt=call.cause_txt or None,
        amd_result=call.amd_status,
        amd_cause=call.amd_cause,
        server=call.server or None,
        channel_id=call.call_id,
    )


class _InTransaction:
    """Stands for the engine inside :meth:`SqlJournal.batch`: what the journal's writers
    call on an engine (``begin()``, ``connect()``) gives the batch's connection, inside
    its transaction, and leaves both open."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def begin(self) -> contextlib.nullcontext[sa.Connection]:
        return contextlib.nullcontext(self._conn)

    def connect(self) -> contextlib.nullcontext[sa.Connection]:
        return contextlib.nullcontext(self._conn)


class SqlJournal:
    """Call log and status engine on the database, for one engine.

    Every method writes its fact at once, in its own transaction (or, inside
    :meth:`batch`, in the batch's), and may be run again
    after it failed (a database outage): :class:`BackgroundJournal` retries it until it
    succeeds. A row is found by the call's id (``channel_id``) when this process did not
    write it (a call adopted after a restart).

    In a cluster (:attr:`fence` set) every call fact is written only while the campaign's
    lease still has this owner and the token it had when the fact happened
    (:attr:`token_of` then, or the one :meth:`as_owner` pins), checked in the write's own
    transaction; otherwise the write raises CampaignMovedError (a queued call-log row is
    dropped instead): another engine took the campaign and adopted its calls. An agent's
    status is not fenced: it is what a person did, and the record's lease guards it.
    """

    #: The in-memory bookkeeping a batch undoes when its transaction does not commit.
    _BATCH_STATE: tuple[str, ...] = (
        "_log_ids",
        "_unwritten",
        "_pending",
        "_ended",
        "_insert_failed",
        "_row_tokens",
    )

    def __init__(
        self, db: sa.Engine, *, engine_id: str, clock: Clock, nonce: str | None = None
    ) -> None:
        self._engine = db
        self._local = threading.local()
        self.engine_id = engine_id
        #: The lease owner this journal writes outcomes as (see :func:`lease_owner`).
        self.owner = lease_owner(engine_id, nonce)
        self.clock = clock
        self._log_ids: dict[str, int] = {}
        self._unwritten: list[Call] = []
        self._pending: dict[str, _PendingStatus] = {}
        self._ended: set[str] = set()
        self._insert_failed = False
        #: In a cluster: does the lease of campaign c still have this owner and token t?
        #: (:meth:`dialer.runtime.cluster.Cluster.owns`; None: one engine, no fence.)
        self.fence: Callable[[sa.Connection, int, int | None], bool] | None = None
        #: The token this engine holds for a campaign now (None: not held).
        self.token_of: Callable[[int], int | None] | None = None
        self._pinned: tuple[int, int | None] | None = None
        self._row_tokens: dict[str, int | None] = {}

    @property
    def db(self) -> sa.Engine:
        """The database; inside :meth:`batch`, on the thread running it, the batch's one
        connection and transaction."""
        conn: sa.Connection | None = getattr(self._local, "conn", None)
        return self._engine if conn is None else cast(sa.Engine, _InTransaction(conn))

    @contextlib.contextmanager
    def batch(self, leases: Collection[tuple[int, int | None]] = ()) -> Iterator[None]:
        """Write everything done inside in one transaction, committed at the end.

        The writers open their own transactions as usual; inside a batch, on this
        thread, those are the batch's one (a floor of hundreds of agents writes dozens of
        facts a second: one transaction each, with its commit and its lease check, kept
        the journal seconds behind). The lease is checked once per campaign and token:
        the row stays share-locked until the commit. Those of ``leases`` (the campaigns
        and tokens of the facts to write) and of the rows waiting for :meth:`flush` are
        checked first, in the order of their campaigns, the order in which the cluster's
        renewal locks them: taken in the facts' order, a batch holding one lease row and
        asking for another deadlocked with the renewal holding the second, and the
        renewal, PostgreSQL's victim, let the leases lapse. When the batch raises, or its commit
        fails, nothing of it is written and this journal's bookkeeping (rows written,
        statuses waiting for their calls' end) is as it was before: the jobs can be run
        again, one by one.
        """
        if getattr(self._local, "conn", None) is not None:
            yield  # already in one
            return
        saved = {name: copy.copy(getattr(self, name)) for name in self._BATCH_STATE}
        try:
            with self._engine.connect() as conn, conn.begin():
                self._local.conn = conn
                self._local.verdicts = {}
                try:
                    if self.fence is not None:
                        rows = {
                            (c.campaign_id, self._row_tokens.get(c.call_id))
                            for c in self._unwritten
                        }
                        for campaign_id, token in sorted(
                            {*leases, *rows}, key=lambda k: (k[0], k[1] is None, k[1] or 0)
                        ):
                            self._owns(conn, campaign_id, token)
                    yield
                finally:
                    self._local.conn = None
                    self._local.verdicts = None
        except BaseException:
            for name, value in saved.items():
                setattr(self, name, value)
            raise

    def _owns(self, conn: sa.Connection, campaign_id: int, token: int | None) -> bool:
        """The fence's verdict (once per campaign and token inside a batch)."""
        if self.fence is None:
            return True
        verdicts: dict[tuple[int, int | None], bool] | None = getattr(self._local, "verdicts", None)
        if verdicts is None:
            return self.fence(conn, campaign_id, token)
        key = (campaign_id, token)
        if key not in verdicts:
            verdicts[key] = self.fence(conn, campaign_id, token)
        return verdicts[key]

    def as_owner(self, campaign_id: int, token: int | None, job: Callable[[], None]) -> None:
        """Run ``job`` with the lease token held when its fact happened (a queued write)."""
        self._pinned = (campaign_id, token)
        try:
            job()
        finally:
            self._pinned = None

    def _token(self, campaign_id: int) -> int | None:
        if self._pinned is not None and self._pinned[0] == campaign_id:
            return self._pinned[1]
        return None if self.token_of is None else self.token_of(campaign_id)

    def _check_owner(self, conn: sa.Connection, campaign_id: int, token: int | None) -> None:
        """Raise CampaignMovedError unless this engine still owns the campaign with
        ``token`` (no fence: always fine)."""
        if self.fence is not None and not self._owns(conn, campaign_id, token):
            raise CampaignMovedError(campaign_id, self.owner, token)

    def _guard_for(self, call: Call) -> Callable[[sa.Connection], None] | None:
        """The fence of a write of ``call``'s facts, for a transaction opened elsewhere."""
        if self.fence is None:
            return None
        campaign_id, token = call.campaign_id, self._token(call.campaign_id)
        return lambda conn: self._check_owner(conn, campaign_id, token)

    def dialed(self, call: Call) -> None:
        """Queue the attempt's call-log row; :meth:`flush` writes the queued rows in one
        transaction (the runtime flushes after every engine step, before any event of
        the call can arrive)."""
        if self.fence is not None:
            self._row_tokens[call.call_id] = self._token(call.campaign_id)
        self._unwritten.append(call)

    def flush(self) -> None:
        """Write the queued call-log rows (one transaction, ids kept for the updates).

        The rows stay queued until the transaction commits; after a failed attempt the
        rows already there (the commit went through, its answer was lost) are not
        inserted twice. In a cluster, the rows of a campaign this engine no longer owns
        (with the token it had when it dialed) are not written: dropped and logged.
        """
        if not self._unwritten:
            return
        calls = list(self._unwritten)
        fenced: list[str] = []
        with self.db.begin() as conn:
            if self.fence is not None:
                verdict: dict[tuple[int, int | None], bool] = {}
                for call in calls:
                    key = (call.campaign_id, self._row_tokens.get(call.call_id))
                    if key not in verdict:
                        verdict[key] = self._owns(conn, *key)
                fenced = [
                    c.call_id
                    for c in calls
                    if not verdict[(c.campaign_id, self._row_tokens.get(c.call_id))]
                ]
                calls = [c for c in calls if c.call_id not in set(fenced)]
            if self._insert_failed:
                ids = [call.call_id for call in calls]
                found = conn.execute(
                    sa.select(_CALL_LOG.c.id, _CALL_LOG.c.channel_id).where(
                        _CALL_LOG.c.channel_id.in_(ids)
                    )
                ).all()
                for log_id, call_id in found:
                    self._log_ids[str(call_id)] = int(log_id)
                calls = [call for call in calls if call.call_id not in self._log_ids]
            rows = [
                {
                    "campaign_id": call.campaign_id,
                    "record_id": call.lead.record_id,
                    "phone": call.lead.phone,
                    "attempt": call.lead.attempt,
                    "dial_at": call.dial_at,
                    "channel_id": call.call_id,
                    "server": call.server or None,
                    "note": "",
                }
                for call in calls
            ]
            self._insert_failed = True
            if rows:
                result = conn.execute(
                    sa.insert(_CALL_LOG).returning(_CALL_LOG.c.id, _CALL_LOG.c.channel_id), rows
                )
                for log_id, call_id in result:
                    self._log_ids[str(call_id)] = int(log_id)
        self._insert_failed = False
        for call in self._unwritten:
            self._row_tokens.pop(call.call_id, None)
        del self._unwritten[: len(self._unwritten)]
        if fenced:
            log.warning("call_rows_fenced", calls=fenced, owner=self.owner)

    def _log_id(self, conn: sa.Connection, call: Call) -> int | None:
        """The call's row: written by this journal, or found by the call's id."""
        log_id = self._log_ids.get(call.call_id)
        if log_id is None:
            log_id = conn.execute(
                sa.select(_CALL_LOG.c.id)
                .where(_CALL_LOG.c.channel_id == call.call_id)
                .order_by(_CALL_LOG.c.id.desc())
                .limit(1)
            ).scalar()
            if log_id is not None:
                self._log_ids[call.call_id] = int(log_id)
        return None if log_id is None else int(log_id)

    def _fact(self, call: Call, fact: str, values: dict[str, Any]) -> None:
        """Write ``values`` into the call's row now (``None`` values are left alone)."""
        self.flush()
        values = {k: v for k, v in values.items() if v is not None}
        with self.db.begin() as conn:
            self._check_owner(conn, call.campaign_id, self._token(call.campaign_id))
            log_id = self._log_id(conn, call)
            if log_id is None:
                log.warning("call_log_row_missing", call_id=call.call_id, fact=fact)
                return
            conn.execute(sa.update(_CALL_LOG).where(_CALL_LOG.c.id == log_id).values(**values))
            if "connect_at" in values:
                mark_callback_kept(conn, log_id)

    def answered(self, call: Call) -> None:
        """Someone picked up: the answer time (and AMD's verdict when known)."""
        self._fact(
            call,
            "answered",
            {**_pick_up(call), "server": call.server or None},
        )

    def connected(self, call: Call) -> None:
        """The person was bridged to an agent: connect time, agent, wait."""
        self._fact(
            call,
            "connected",
            {
                **_pick_up(call),
                "connect_at": call.connect_at,
                "agent_id": call.agent_id,
                "wait_s": _seconds(call.person_at, call.connect_at),
                "server": call.server or None,
            },
        )

    def dropped(self, call: Call) -> None:
        """The person was sent to the drop message: drop time, wait."""
        self._fact(
            call,
            "dropped",
            {
                **_pick_up(call),
                "drop_at": call.drop_at or self.clock.utcnow(),
                "wait_s": _seconds(call.person_at, call.drop_at),
            },
        )

    def refused(self, call: Call, message: str) -> None:
        """No call was placed: the row is closed ``not_placed`` with the server's message,
        the lease released and the attempt given back (the record is otherwise unchanged)."""
        self.flush()
        now = call.end_at or self.clock.utcnow()
        details = replace(_details(call), end_at=now, hangup_cause_txt=message or None)
        with self.db.connect() as conn:
            log_id = self._log_id(conn, call)
        record_outcome(
            self.db,
            call.lead.record_id,
            Outcome.NOT_PLACED,
            now=now,
            call=details,
            call_log_id=log_id,
            lease_owner=self.owner,
            guard=self._guard_for(call),
        )
        self._forget(call.call_id)

    def finished(self, call: Call) -> None:
        """Close the row. A call nobody talked to gets its outcome through the status
        engine now (CANCELLED gives its attempt back); an answered one waits for its
        agent's status (unless given already)."""
        self.flush()
        with self.db.connect() as conn:
            log_id = self._log_id(conn, call)
        now = call.end_at or self.clock.utcnow()
        outcome = call.outcome or Outcome.FAILED
        if outcome is not Outcome.ANSWERED:
            try:
                record_outcome(
                    self.db,
                    call.lead.record_id,
                    outcome,
                    now=now,
                    call=_details(call),
                    call_log_id=log_id,
                    lease_owner=self.owner,
                    guard=self._guard_for(call),
                )
            finally:
                self._forget(call.call_id)
            return
        with self.db.begin() as conn:
            try:
                self._check_owner(conn, call.campaign_id, self._token(call.campaign_id))
            except CampaignMovedError:
                self._forget(call.call_id)
                raise
            values = {"outcome": outcome.value, **_details(call).values()}
            conn.execute(sa.update(_CALL_LOG).where(_CALL_LOG.c.id == log_id).values(**values))
        pending = self._pending.pop(call.call_id, None)
        if pending is not None:
            self._apply_status(call, pending, now)
        else:
            self._ended.add(call.call_id)

    def status_set(
        self,
        call: Call,
        agent_id: int,
        status_id: int,
        date: dt.datetime | None,
        note: str,
    ) -> None:
        """Validate the agent's status; write it now, or when the call ends if it is up.

        Raises StatusRuleError (or RecordNotFoundError) naming what is wrong; nothing changes.
        """
        self.flush()
        pending = _PendingStatus(agent_id, status_id, date, note)
        now = self.clock.utcnow()
        if call.call_id in self._ended or call.end_at is not None:
            self._apply_status(call, pending, now)
            return
        self.check_status(call, pending, now)
        self._pending[call.call_id] = pending

    def default_status(self, call: Call) -> None:
        """Wrap-up timed out: the campaign's default status, else the answered-call rule."""
        self.flush()
        with self.db.connect() as conn:
            default_id = conn.execute(
                sa.text("SELECT wrapup_default_status_id FROM campaign WHERE id = :id"),
                {"id": call.campaign_id},
            ).scalar()
        now = call.end_at or self.clock.utcnow()
        if default_id is not None and call.agent_id is not None:
            try:
                self._apply_status(
                    call,
                    _PendingStatus(call.agent_id, int(default_id), None, "wrap-up timeout"),
                    now,
                )
            except StatusRuleError:
                pass
            else:
                return
        record_outcome(
            self.db,
            call.lead.record_id,
            Outcome.ANSWERED,
            now=now,
            call=_details(call),
            call_log_id=self._log_ids.get(call.call_id),
            lease_owner=self.owner,
            guard=self._guard_for(call),
        )
        self._forget(call.call_id)

    def check_status(self, call: Call, pending: _PendingStatus, now: dt.datetime) -> None:
        """Raise StatusRuleError when the agent's status cannot be applied to the record."""
        with self.db.connect() as conn:
            row = conn.execute(sa.select(_RECORD).where(_RECORD.c.id == call.lead.record_id)).one()
            rules, _auto = load_rules(conn, call.campaign_id)
        option = rules.offered(pending.status_id)
        if option is None:
            names = ", ".join(f"{o.name!r} (id {o.id})" for o in rules.statuses) or "none"
            raise StatusRuleError(
                "status_id",
                f"status {pending.status_id} is not offered by this campaign",
                f"choose one of: {names}",
                code=RuleRefusal.NOT_OFFERED,
                params={"status": str(pending.status_id)},
            )
        apply_agent_status(
            state_of(row), option, now, rules, agent_id=pending.agent_id, date=pending.date
        )

    def _apply_status(self, call: Call, pending: _PendingStatus, now: dt.datetime) -> None:
        set_agent_status(
            self.db,
            call.lead.record_id,
            pending.status_id,
            agent_id=pending.agent_id,
            now=now,
            date=pending.date,
            note=pending.note,
            call_log_id=self._log_ids.get(call.call_id),
            lease_owner=self.owner,
            extra_audit={"call_id": call.call_id},
        )
        self._forget(call.call_id)

    def agent_phase(self, change: PhaseChange) -> None:
        """Close the agent's open stretch at ``change.at`` and open the new one (none after
        a logout). Written again after a failure, the same stretch is not opened twice."""
        self.agent_phases([change])

    def agent_phases(self, changes: Sequence[PhaseChange]) -> None:
        """:meth:`agent_phase` for each change, in order, in one transaction."""
        with self.db.begin() as conn:
            for change in changes:
                self._agent_phase(conn, change)

    @staticmethod
    def _agent_phase(conn: sa.Connection, change: PhaseChange) -> None:
        conn.execute(
            sa.update(_PHASE)
            .where(
                _PHASE.c.agent_id == change.agent_id,
                _PHASE.c.end_at.is_(None),
                _PHASE.c.start_at < change.at,
            )
            .values(end_at=change.at)
        )
        if change.phase == "logged_out":
            return
        again = conn.execute(
            sa.select(_PHASE.c.id).where(
                _PHASE.c.agent_id == change.agent_id, _PHASE.c.start_at == change.at
            )
        ).first()
        if again is None:
            conn.execute(
                sa.insert(_PHASE).values(
                    agent_id=change.agent_id,
                    campaign_id=change.campaign_id,
                    phase=change.phase,
                    reason=change.reason,
                    call_id=change.call_id,
                    start_at=change.at,
                )
            )

    def _forget(self, call_id: str) -> None:
        self._row_tokens.pop(call_id, None)
        self._log_ids.pop(call_id, None)
        self._ended.discard(call_id)
        self._pending.pop(call_id, None)


#: Errors that mean "the database cannot be reached now": the write is tried again.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the database is unreachable or busy (worth a retry)."""
    if isinstance(exc, OUTAGE_ERRORS):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


@dataclass(frozen=True, slots=True)
class _Write:
    """A queued write; ``campaign_id`` when it is a call's fact (counted per campaign),
    ``lease`` when it is fenced by the campaign's lease (the token held when it happened)."""

    job: Callable[[], None]
    campaign_id: int | None = None
    lease: tuple[int, int | None] | None = None  # the campaign and token it is written under


class BackgroundJournal:
    """A :class:`SqlJournal` whose writes run on one worker thread: a write-ahead queue.

    The engine's loop never waits for the database to write a fact (each costs
    milliseconds: the answered people of other calls would wait behind them). The worker
    writes the facts in the order they happened; a write that fails because the database
    cannot be reached is tried again (back-off ``retry_s`` doubling up to ``max_retry_s``)
    until it succeeds, and the writes behind it wait, so nothing is dropped and the order
    is kept. A write refused for another reason (a bug, a rule) is logged and counted in
    ``failures``. :attr:`stalled` is set while the worker waits for the database.

    An agent's status is still checked at once, so a wrong one is refused to the agent
    (unless the database cannot be read: then the write on the worker checks it).

    Writes that piled up while the worker wrote (up to ``batch_max``) are written in one
    transaction, in their order (:meth:`_run_batch`): a floor of hundreds of agents makes
    dozens of facts a second, and one transaction each kept the worker seconds behind.
    """

    def __init__(
        self,
        inner: SqlJournal,
        *,
        retry_s: float = 0.2,
        max_retry_s: float = 5.0,
        batch_max: int = 64,
    ) -> None:
        self.inner = inner
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._queued = 0
        #: Set while a write waits for the database to come back.
        self.stalled = threading.Event()
        self.failures = 0
        self.retries = 0
        #: Call facts refused because the campaign moved to another engine meanwhile.
        self.fenced = 0
        self._facts_queued: dict[int, int] = {}
        self._unflushed = False  # a row was queued since the last flush was asked for
        #: Phase changes waiting for the queued write that will take them, and the batch
        #: the worker is writing (kept for its retries).
        self._phases: list[PhaseChange] = []
        self._phase_batch: list[PhaseChange] | None = None
        #: At most this many queued writes share one transaction (see :meth:`_run_batch`).
        self.batch_max = batch_max
        #: Transactions that wrote several writes together, and those whose batch failed
        #: and were written again one by one.
        self.batches = 0
        self.batch_fallbacks = 0
        self._in_batch = False  # the worker is running a batch (set on the worker only)
        self._phases_taken: list[PhaseChange] = []  # phase changes written in the batch
        self._thread = threading.Thread(target=self._work, name="call-journal", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Writes queued and not yet done."""
        return self._queued

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            writes = [first]
            last = False
            while len(writes) < self.batch_max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                writes.append(more)
            if len(writes) == 1:
                self._run(first.job)
            else:
                self._run_batch(writes)
            with self._idle:
                self._queued -= len(writes)
                for write in writes:
                    if write.campaign_id is not None:
                        self._facts_queued[write.campaign_id] -= 1
                self._idle.notify_all()
            if last:
                return

    def _run_batch(self, writes: list[_Write]) -> None:
        """Run the writes that piled up in one transaction (:meth:`SqlJournal.batch`).

        A write fenced off (its campaign moved) writes nothing and the others go on. When
        the database cannot be reached the whole batch is tried again, as a single write
        is. When a write is refused for another reason (a bug, a rule), the transaction
        is undone and the writes run again one by one, so that only the refused one is
        lost (and logged): a batch never loses or reorders a fact.
        """
        delay = self.retry_s
        leases = {w.lease for w in writes if w.lease is not None}
        while True:
            fenced: list[CampaignMovedError] = []
            failed: Exception | None = None
            self._in_batch = True
            self._phases_taken = []
            try:
                with self.inner.batch(leases):
                    for write in writes:
                        try:
                            write.job()
                        except CampaignMovedError as exc:
                            fenced.append(exc)
            except Exception as exc:
                failed = exc
            finally:
                self._in_batch = False
            if failed is None:
                break
            if self._phases_taken:  # the next phase write writes them again, first
                self._phase_batch = [*self._phases_taken, *(self._phase_batch or [])]
            if is_outage(failed) and not self._stop.is_set():
                self.retries += 1
                delay = self._wait_for_database(failed, delay)
                continue
            self.batch_fallbacks += 1
            log.info("call_journal_batch_undone", writes=len(writes), error=repr(failed)[:200])
            for write in writes:
                self._run(write.job)
            return
        self.batches += 1
        for moved in fenced:
            self._fenced(moved)
        self._resumed()

    def _fenced(self, exc: CampaignMovedError) -> None:
        self.fenced += 1
        log.warning("call_fact_fenced", campaign=exc.campaign_id, token=exc.token)

    def _wait_for_database(self, exc: Exception, delay: float) -> float:
        """Say the journal is stalled (once), wait ``delay`` (or until close() gives up);
        the next back-off."""
        if not self.stalled.is_set():
            log.warning("call_journal_stalled", error=str(exc).splitlines()[0])
            self.stalled.set()
        self._stop.wait(delay)
        return min(delay * 2, self.max_retry_s)

    def _resumed(self) -> None:
        if self.stalled.is_set():
            log.info("call_journal_resumed", retries=self.retries, queued=self._queued)
            self.stalled.clear()

    def _run(self, job: Callable[[], None]) -> None:
        delay = self.retry_s
        while True:
            try:
                job()
            except CampaignMovedError as exc:
                self._fenced(exc)
                return
            except Exception as exc:
                if not is_outage(exc):
                    self.failures += 1
                    log.exception("call_journal_write_failed")
                    return
                self.retries += 1
                if self._stop.is_set():  # close() gave up waiting: counted as unwritten
                    self.failures += 1
                    return
                delay = self._wait_for_database(exc, delay)
                continue
            self._resumed()
            return

    def _put(
        self,
        job: Callable[[], None],
        campaign_id: int | None = None,
        lease: tuple[int, int | None] | None = None,
    ) -> None:
        with self._idle:
            self._queued += 1
            if campaign_id is not None:
                self._facts_queued[campaign_id] = self._facts_queued.get(campaign_id, 0) + 1
        self._queue.put(_Write(job, campaign_id, lease))

    def _put_fact(self, call: Call, job: Callable[[Call], None]) -> None:
        """Queue a write of ``call``'s facts with the lease token held now (in a cluster);
        it counts in :meth:`facts_queued` until it is done (written, fenced or refused)."""
        snapshot = replace(call)
        campaign_id = call.campaign_id
        token_of = self.inner.token_of
        token = None if token_of is None else token_of(campaign_id)

        def write() -> None:
            self.inner.as_owner(campaign_id, token, lambda: job(snapshot))

        fenced = self.inner.fence is not None
        self._put(write, campaign_id, (campaign_id, token) if fenced else None)

    def facts_queued(self, campaign_id: int) -> int:
        """Call facts of a campaign queued and not written yet (a campaign handed over
        waits for them: they are written under its lease)."""
        with self._idle:
            return self._facts_queued.get(campaign_id, 0)

    def dialed(self, call: Call) -> None:
        """Queue the row (written at the next flush, on the worker)."""
        self._unflushed = True
        self._put_fact(call, self.inner.dialed)

    def flush(self) -> None:
        """Ask the worker to write the queued rows (nothing to ask when no row was queued
        since the last flush: the runtime flushes after every engine step)."""
        if not self._unflushed:
            return
        self._unflushed = False
        self._put(self.inner.flush)

    def answered(self, call: Call) -> None:
        """Write the pick-up on the worker."""
        self._put_fact(call, self.inner.answered)

    def connected(self, call: Call) -> None:
        """Write the connection to the agent on the worker."""
        self._put_fact(call, self.inner.connected)

    def dropped(self, call: Call) -> None:
        """Write the drop on the worker."""
        self._put_fact(call, self.inner.dropped)

    def refused(self, call: Call, message: str) -> None:
        """Close the attempt as not placed on the worker."""
        self._put_fact(call, lambda c: self.inner.refused(c, message))

    def finished(self, call: Call) -> None:
        """Close the attempt on the worker."""
        self._put_fact(call, self.inner.finished)

    def status_set(
        self,
        call: Call,
        agent_id: int,
        status_id: int,
        date: dt.datetime | None,
        note: str,
    ) -> None:
        """Check the status now (StatusRuleError to the caller); write it on the worker."""
        pending = _PendingStatus(agent_id, status_id, date, note)
        try:
            self.inner.check_status(call, pending, self.inner.clock.utcnow())
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("status_check_deferred", call_id=call.call_id)
        snapshot = replace(call)
        self._put(lambda: self.inner.status_set(snapshot, agent_id, status_id, date, note))

    def default_status(self, call: Call) -> None:
        """Apply the default status on the worker."""
        self._put_fact(call, self.inner.default_status)

    def agent_phase(self, change: PhaseChange) -> None:
        """Write the agent's phase change on the worker, in order with the calls' facts.

        Changes that come while the write of the previous ones waits in the queue join it:
        the worker writes them together in one transaction, at the place of the first (a
        floor of hundreds of agents changes phase dozens of times a second; one
        transaction each kept the worker behind the calls' facts)."""
        with self._idle:
            self._phases.append(change)
            if len(self._phases) > 1:
                return  # a write is queued and has not taken its batch yet
        self._put(self._write_phases)

    def _write_phases(self) -> None:
        """On the worker: take the batch (once: a retry writes the same batch), write it."""
        if self._phase_batch is None:
            with self._idle:
                self._phase_batch, self._phases = self._phases, []
        try:
            self.inner.agent_phases(self._phase_batch)
        except Exception as exc:
            if not is_outage(exc) and not self._in_batch:
                self._phase_batch = None  # refused (logged by the worker): not retried
            raise
        if self._in_batch:  # given back if the batch's transaction is undone
            self._phases_taken.extend(self._phase_batch)
        self._phase_batch = None

    def wait_idle(self, within_s: float) -> bool:
        """Wait until every queued write is done; False when ``within_s`` ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._queued == 0, within_s)

    def close(self, within_s: float = 30.0) -> None:
        """Write everything queued (waiting up to ``within_s`` for the database), then
        stop the worker. Writes still queued then are logged as lost."""
        self._put(self.inner.flush)
        done = self.wait_idle(within_s)
        if not done:
            log.error("call_journal_unwritten", writes=self._queued)
            self._stop.set()
        self._queue.put(None)
        self._thread.join(within_s if done else 5.0)  # stopped, it gives up its write at once
