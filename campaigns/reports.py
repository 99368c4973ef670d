"""Reports over the call log: hourly rollups kept by a job, and the five reports read from them.

The job adds the call log up per campaign × agent × UTC hour of dialing (``call_hour``) and
per status set (``status_hour``). An hour's rollup is *final* when it was computed at least
:data:`SETTLE` after the hour ended (calls dialed in it have ended and been given a status);
reports read final hours from the rollups and every other hour (the open one, the unsettled
ones, any the job has not reached) from the raw log, so a report is exact whatever the job
has done so far.

Everything here takes a connection (or engine) and plain values and returns plain values;
roles become a *scope* (the agents whose calls the reader sees, None = every call), exactly
as the call log applies it: a scoped reader sees only calls an agent of the scope took, and
a group is the agents who are in it now. Local times (days, weeks, hours of day) are taken
in one IANA zone per report; since the rollups are per UTC hour, zones whose offset is not
a whole number of hours are refused.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from campaigns.enums import Outcome
from campaigns.models import (
    Agent,
    AgentPhase,
    AgentPhaseHour,
    CallbackMiss,
    CallHour,
    CallLog,
    CampaignHour,
    Record,
    RecordContact,
    RecordRollup,
    RollupHour,
    StatusHour,
    TotalHour,
)

_LOG = CallLog.__table__  # type: ignore[attr-defined]
_HOUR = CallHour.__table__  # type: ignore[attr-defined]
_SHOUR = StatusHour.__table__  # type: ignore[attr-defined]
_CHOUR = CampaignHour.__table__  # type: ignore[attr-defined]
_THOUR = TotalHour.__table__  # type: ignore[attr-defined]
_DONE = RollupHour.__table__  # type: ignore[attr-defined]
_AGENT = Agent.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]
_PHASE = AgentPhase.__table__  # type: ignore[attr-defined]
_PHOUR = AgentPhaseHour.__table__  # type: ignore[attr-defined]
_CONTACT = RecordContact.__table__  # type: ignore[attr-defined]
_UPTO = RecordRollup.__table__  # type: ignore[attr-defined]
_MISS = CallbackMiss.__table__  # type: ignore[attr-defined]

HOUR = dt.timedelta(hours=1)
_CHUNK = dt.timedelta(days=7)
#: An hour's rollup is final when computed this long after the hour ended.
SETTLE = dt.timedelta(hours=1)
#: The job looks this far back for hours that are not final yet.
LOOKBACK = dt.timedelta(days=3)

#: Counted per hour: how many calls of each kind (see :func:`_count_cases`).
COUNTS: tuple[str, ...] = (
    "dials",
    "persons",
    "connected",
    "dropped",
    "no_answer",
    "busy",
    "machine",
    "failed",
    "other",
    "callbacks_kept",
)
#: Added up per hour: seconds.
DURATIONS: tuple[str, ...] = ("talk_s", "wait_s", "wrapup_s")
METRICS: tuple[str, ...] = COUNTS + DURATIONS

_FAILED = (Outcome.CONGESTION.value, Outcome.FAILED.value, Outcome.INVALID.value)


class ReportError(ValueError):
    """A report cannot be made as asked; the message names the parameter and why."""

    error_id = "invalid_report"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# ------------------------------------------------------------------------- SQL helpers


def hour_of(column: Any, dialect: str) -> sa.ColumnElement[Any]:
    """SQL for the UTC hour (truncated) of a stored time column."""
    if dialect == "postgresql":
        return sa.func.date_trunc("hour", column)
    # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff": the same text form, minutes zeroed.
    return sa.func.strftime("%Y-%m-%d %H:00:00.000000", column)


def _count_cases() -> dict[str, sa.ColumnElement[Any]]:
    outcome = _LOG.c.outcome

    def n(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((cond, 1), else_=0))

    known = (
        Outcome.ANSWERED.value,
        Outcome.DROPPED.value,
        Outcome.NO_ANSWER.value,
        Outcome.BUSY.value,
        Outcome.MACHINE.value,
        *_FAILED,
    )
    return {
        "dials": sa.func.count(),
        "persons": n(outcome.in_((Outcome.ANSWERED.value, Outcome.DROPPED.value))),
        "connected": n(outcome == Outcome.ANSWERED.value),
        "dropped": n(outcome == Outcome.DROPPED.value),
        "no_answer": n(outcome == Outcome.NO_ANSWER.value),
        "busy": n(outcome == Outcome.BUSY.value),
        "machine": n(outcome == Outcome.MACHINE.value),
        "failed": n(outcome.in_(_FAILED)),
        "other": n(sa.or_(outcome.is_(None), outcome.not_in(known))),
        "callbacks_kept": n(_LOG.c.callback_kept.is_(sa.true())),
        "talk_s": sa.func.coalesce(sa.func.sum(_LOG.c.talk_s), 0.0),
        "wait_s": sa.func.coalesce(sa.func.sum(_LOG.c.wait_s), 0.0),
        "wrapup_s": sa.func.coalesce(sa.func.sum(_LOG.c.wrapup_s), 0.0),
    }


def _floor_hour(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


# ------------------------------------------------------------------------- agents' phases

#: The phases an agent is logged in through; ``paused`` stretches carry a reason.
PHASES: tuple[str, ...] = ("ready", "reserved", "talking", "wrap_up", "paused")
#: Phases in which the agent is busy with a call (occupancy's numerator).
BUSY_PHASES: tuple[str, ...] = ("reserved", "talking", "wrap_up")

PhaseKey = tuple[dt.datetime, int, int, str, str]


@dataclass(frozen=True)
class PhaseRow:
    """One stretch of the phase history, with whether its reserved call was dropped."""

    agent_id: int
    campaign_id: int
    phase: str
    reason: str
    start: dt.datetime
    end: dt.datetime | None
    dropped: bool


def _phase_rows(
    conn: sa.Connection,
    start: dt.datetime,
    end: dt.datetime,
    conds: Sequence[sa.ColumnElement[bool]],
) -> list[PhaseRow]:
    """The stretches overlapping [start, end) (``conds`` on ``agent_phase``)."""
    dropped = (
        sa.select(_LOG.c.id)
        .where(_LOG.c.channel_id == _PHASE.c.call_id, _LOG.c.outcome == Outcome.DROPPED.value)
        .exists()
    )
    query = sa.select(
        _PHASE.c.agent_id,
        _PHASE.c.campaign_id,
        _PHASE.c.phase,
        _PHASE.c.reason,
        _PHASE.c.start_at,
        _PHASE.c.end_at,
        sa.and_(_PHASE.c.phase == "reserved", _PHASE.c.call_id.is_not(None), dropped),
    ).where(
        _PHASE.c.start_at < end,
        sa.or_(_PHASE.c.end_at.is_(None), _PHASE.c.end_at > start),
        *conds,
    )
    return [
        PhaseRow(
            int(r[0]),
            int(r[1]),
            str(r[2]),
            (r[3] or "") if r[2] == "paused" else "",
            _as_hour(r[4]),
            None if r[5] is None else _as_hour(r[5]),
            bool(r[6]),
        )
        for r in conn.execute(query)
    ]


def phase_hours(
    rows: Iterable[PhaseRow], start: dt.datetime, end: dt.datetime, *, now: dt.datetime
) -> dict[PhaseKey, tuple[float, int]]:
    """Seconds per (UTC hour, agent, campaign, phase, reason) of ``rows`` inside [start, end)
    (a stretch still open lasts until ``now``), and reservations whose call was dropped,
    counted in the hour they began when that is inside [start, end)."""
    out: dict[PhaseKey, tuple[float, int]] = {}
    for row in rows:
        a = max(row.start, start)
        b = min(row.end if row.end is not None else max(now, row.start), end)
        at = a
        while at < b:
            hour = _floor_hour(at)
            upto = min(hour + HOUR, b)
            key = (hour, row.agent_id, row.campaign_id, row.phase, row.reason)
            seconds, missed = out.get(key, (0.0, 0))
            out[key] = (seconds + (upto - at).total_seconds(), missed)
            at = upto
        if row.dropped and start <= row.start < end:
            key = (_floor_hour(row.start), row.agent_id, row.campaign_id, row.phase, row.reason)
            seconds, missed = out.get(key, (0.0, 0))
            out[key] = (seconds, missed + 1)
    return out


# ------------------------------------------------------------------------- the job


def rollup_hours(db: sa.Engine, start: dt.datetime, end: dt.datetime, *, now: dt.datetime) -> int:
    """(Re)compute the rollups of every UTC hour in [start, end) (widened to whole hours),
    a week per transaction; returns how many hours were written."""
    first = _floor_hour(start)
    last = _floor_hour(end - dt.timedelta(microseconds=1)) + HOUR
    written = 0
    chunk_start = first
    while chunk_start < last:
        chunk_end = min(chunk_start + _CHUNK, last)
        _rollup_span(db, chunk_start, chunk_end, now=now)
        written += int((chunk_end - chunk_start) / HOUR)
        chunk_start = chunk_end
    return written


def _rollup_span(db: sa.Engine, start: dt.datetime, end: dt.datetime, *, now: dt.datetime) -> None:
    dialect = db.dialect.name
    hour = hour_of(_LOG.c.dial_at, dialect)
    agent_key = sa.func.coalesce(_LOG.c.agent_id, 0)
    in_span = sa.and_(_LOG.c.dial_at >= start, _LOG.c.dial_at < end)
    cases = _count_cases()
    calls = (
        sa.select(hour.label("hour"), _LOG.c.campaign_id, agent_key.label("agent_key"))
        .add_columns(*(cases[name].label(name) for name in METRICS))
        .where(in_span)
        .group_by(hour, _LOG.c.campaign_id, agent_key)
    )
    status_key = sa.func.coalesce(_LOG.c.status_id, 0)
    system_status = sa.func.coalesce(_LOG.c.system_status, "")
    statuses = (
        sa.select(
            hour.label("hour"),
            _LOG.c.campaign_id,
            agent_key.label("agent_key"),
            status_key.label("status_key"),
            system_status.label("system_status"),
            sa.func.count().label("calls"),
        )
        .where(in_span, sa.or_(_LOG.c.status_id.is_not(None), _LOG.c.system_status.is_not(None)))
        .group_by(hour, _LOG.c.campaign_id, agent_key, status_key, system_status)
    )
    hours = []
    at = start
    while at < end:
        hours.append({"hour": at, "final": now >= at + HOUR + SETTLE, "updated_at": now})
        at += HOUR
    with db.begin() as conn:
        conn.execute(sa.delete(_HOUR).where(_HOUR.c.hour >= start, _HOUR.c.hour < end))
        conn.execute(sa.delete(_SHOUR).where(_SHOUR.c.hour >= start, _SHOUR.c.hour < end))
        conn.execute(sa.delete(_CHOUR).where(_CHOUR.c.hour >= start, _CHOUR.c.hour < end))
        conn.execute(sa.delete(_DONE).where(_DONE.c.hour >= start, _DONE.c.hour < end))
        conn.execute(
            sa.insert(_HOUR).from_select(["hour", "campaign_id", "agent_key", *METRICS], calls)
        )
        per_campaign = (
            sa.select(_HOUR.c.hour, _HOUR.c.campaign_id)
            .add_columns(*(sa.func.sum(_HOUR.c[m]) for m in METRICS))
            .where(_HOUR.c.hour >= start, _HOUR.c.hour < end)
            .group_by(_HOUR.c.hour, _HOUR.c.campaign_id)
        )
        conn.execute(sa.insert(_CHOUR).from_select(["hour", "campaign_id", *METRICS], per_campaign))
        conn.execute(sa.delete(_THOUR).where(_THOUR.c.hour >= start, _THOUR.c.hour < end))
        total = (
            sa.select(_CHOUR.c.hour)
            .add_columns(*(sa.func.sum(_CHOUR.c[m]) for m in METRICS))
            .where(_CHOUR.c.hour >= start, _CHOUR.c.hour < end)
            .group_by(_CHOUR.c.hour)
        )
        conn.execute(sa.insert(_THOUR).from_select(["hour", *METRICS], total))
        conn.execute(
            sa.insert(_SHOUR).from_select(
                ["hour", "campaign_id", "agent_key", "status_key", "system_status", "calls"],
                statuses,
            )
        )
        conn.execute(sa.delete(_PHOUR).where(_PHOUR.c.hour >= start, _PHOUR.c.hour < end))
        phase_rows = [
            {
                "hour": hour,
                "agent_id": agent,
                "campaign_id": campaign,
                "phase": phase,
                "reason": reason,
                "seconds": round(seconds, 3),
                "missed": missed,
            }
            for (hour, agent, campaign, phase, reason), (seconds, missed) in sorted(
                phase_hours(_phase_rows(conn, start, end, ()), start, end, now=now).items()
            )
        ]
        if phase_rows:
            conn.execute(sa.insert(_PHOUR), phase_rows)
        conn.execute(sa.insert(_DONE), hours)


def rollup_due(db: sa.Engine, *, now: dt.datetime, lookback: dt.timedelta = LOOKBACK) -> int:
    """The scheduled job: roll up every hour of the last ``lookback`` that has ended and is
    not final yet; returns how many hours were written."""
    first = _floor_hour(now - lookback)
    current = _floor_hour(now)
    with db.connect() as conn:
        final = {
            r[0]
            for r in conn.execute(
                sa.select(_DONE.c.hour).where(
                    _DONE.c.hour >= first, _DONE.c.hour < current, _DONE.c.final
                )
            )
        }
    written = 0
    at = first
    while at < current:
        if at in final:
            at += HOUR
            continue
        span_end = at
        while span_end < current and span_end not in final:
            span_end += HOUR
        written += rollup_hours(db, at, span_end, now=now)
        at = span_end
    rollup_records(db, now=now)
    return written


def fill_rollups(db: sa.Engine, *, now: dt.datetime) -> int:
    """Roll up the whole call log up to the current hour (first run, or a rebuild)."""
    with db.connect() as conn:
        oldest = conn.execute(sa.select(sa.func.min(_LOG.c.dial_at))).scalar()
    rollup_records(db, now=now, rebuild=True)
    if oldest is None:
        return 0
    current = _floor_hour(now)
    if oldest >= current:
        return 0
    return rollup_hours(db, oldest, current, now=now)


# ------------------------------------------------------------------------- per record


def records_upto(conn: sa.Connection) -> dt.datetime | None:
    """Every call dialed before this is in ``record_contact`` (None: no call is)."""
    value = conn.execute(sa.select(_UPTO.c.upto).where(_UPTO.c.id == 1)).scalar()
    return None if value is None else _as_hour(value)


def _span_per_record(
    start: dt.datetime | None, end: dt.datetime, *, records: Sequence[int] | None = None
) -> sa.Select[Any]:
    """Each record's calls dialed in [start, end) (of ``records`` only, when given): the row
    ``record_contact`` holds."""
    is_answered = _LOG.c.outcome == Outcome.ANSWERED.value
    record = _LOG.c.record_id if start is None else _recent_key()
    in_span = [_LOG.c.dial_at < end, record.is_not(None)]
    if start is not None:
        in_span.append(_LOG.c.dial_at >= start)
    if records is not None:
        in_span.append(_LOG.c.record_id.in_(sorted(set(records))))
    agg = (
        sa.select(
            record.label("record_id"),
            sa.func.count().label("attempts"),
            sa.func.sum(sa.case((is_answered, 1), else_=0)).label("reached"),
            sa.func.min(_LOG.c.id).label("first_call_id"),
            sa.func.max(_LOG.c.id).label("last_call_id"),
            sa.func.max(sa.case((is_answered, _LOG.c.id))).label("last_answered_id"),
        )
        .where(*in_span)
        .group_by(record)
        .subquery("span")
    )
    first, last = _LOG.alias("first_call"), _LOG.alias("last_call")
    return (
        sa.select(
            agg.c.record_id,
            last.c.campaign_id,
            _RECORD.c.list_id,
            agg.c.attempts,
            agg.c.reached,
            agg.c.first_call_id,
            first.c.dial_at,
            first.c.outcome,
            first.c.agent_id,
            agg.c.last_call_id,
            last.c.dial_at,
            last.c.outcome,
            last.c.agent_id,
            agg.c.last_answered_id,
        )
        .select_from(
            agg.join(first, first.c.id == agg.c.first_call_id)
            .join(last, last.c.id == agg.c.last_call_id)
            .outerjoin(_RECORD, _RECORD.c.id == agg.c.record_id)
        )
        .where(sa.true())  # SQLite: an INSERT … SELECT … ON CONFLICT needs a WHERE
    )


def _recent_key() -> sa.ColumnElement[Any]:
    """The record id as an expression, to group calls dialed since a recent time by: on the
    bare column SQLite walks the record index (saving the grouping sort), which reads the
    whole log instead of the recent calls through the dial-time index."""
    key: sa.ColumnElement[Any] = _LOG.c.record_id + 0
    return key


_CONTACT_COLS = (
    "record_id",
    "campaign_id",
    "list_id",
    "attempts",
    "reached",
    "first_call_id",
    "first_at",
    "first_outcome",
    "first_agent_id",
    "last_call_id",
    "last_at",
    "last_outcome",
    "last_agent_id",
    "last_answered_id",
)


def rollup_records(db: sa.Engine, *, now: dt.datetime, rebuild: bool = False) -> bool:
    """Add the calls that settled since the last run (dialed before the hour that ended
    :data:`SETTLE` ago) to each record's ``record_contact`` row; ``rebuild`` starts over
    from the whole log. Returns whether anything moved."""
    upto = _floor_hour(now - SETTLE)
    with db.begin() as conn:
        # Write first: two jobs (engines) at once take turns here, and the second sees how
        # far the first went instead of adding the same calls again.
        conn.execute(sa.update(_UPTO).where(_UPTO.c.id == 1).values(updated_at=now))
        done = None if rebuild else records_upto(conn)
        if done is not None and done >= upto:
            return False
        if done is None:
            if db.dialect.name == "postgresql":
                # One grouping over the whole log: millions of records fit in memory with
                # room to spare instead of spilling to disk batch by batch.
                conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            conn.execute(sa.delete(_CONTACT))
            # Written in the order of the last call: a period's records then lie together
            # on disk (the job's later updates are of records called lately, written at the
            # end), so reading a month reads a stretch of the table, not pages all over it.
            every = _span_per_record(None, upto)
            conn.execute(
                sa.insert(_CONTACT).from_select(
                    _CONTACT_COLS, every.order_by(every.selected_columns[10])
                )
            )
            if db.dialect.name == "postgresql":
                # The table was replaced whole: the planner's figures of it are not its own
                # until analysed (autovacuum would get to it, some time).
                conn.exec_driver_sql("ANALYZE record_contact")
        else:
            insert = (
                postgresql.insert(_CONTACT)
                if db.dialect.name == "postgresql"
                else sqlite.insert(_CONTACT)
            )
            stmt = insert.from_select(_CONTACT_COLS, _span_per_record(done, upto))
            new = stmt.excluded
            # First and last are by call id: a call dialed in this span may have been
            # written before one of an earlier span (several engines).
            earlier = new.first_call_id < _CONTACT.c.first_call_id
            later = new.last_call_id > _CONTACT.c.last_call_id

            def pick(cond: sa.ColumnElement[bool], name: str) -> sa.ColumnElement[Any]:
                return sa.case((cond, new[name]), else_=_CONTACT.c[name])

            stmt = stmt.on_conflict_do_update(
                index_elements=[_CONTACT.c.record_id],
                set_={
                    "campaign_id": new.campaign_id,
                    "list_id": new.list_id,
                    "attempts": _CONTACT.c.attempts + new.attempts,
                    "reached": _CONTACT.c.reached + new.reached,
                    **{n: pick(earlier, n) for n in _CONTACT_COLS if n.startswith("first_")},
                    **{n: pick(later, n) for n in _CONTACT_COLS if n.startswith("last_call")},
                    **{n: pick(later, n) for n in ("last_at", "last_outcome", "last_agent_id")},
                    "last_answered_id": _later(new.last_answered_id, _CONTACT.c.last_answered_id),
                },
            )
            conn.execute(stmt)
        conn.execute(sa.delete(_UPTO))
        conn.execute(sa.insert(_UPTO).values(id=1, upto=upto, updated_at=now))
    return True


def recount_records(conn: sa.Connection, records: Sequence[int]) -> int:
    """Make the ``record_contact`` rows of ``records`` hold what the call log holds now (of
    the calls dialed before the rollup's ``upto``): for retention, after it deleted calls of
    these records in the caller's transaction. A record with no such call left loses its
    row. Takes its turn with the rollup job (both write ``record_rollup`` first); returns
    how many rows were rewritten."""
    if not records:
        return 0
    conn.execute(sa.update(_UPTO).where(_UPTO.c.id == 1).values(updated_at=_UPTO.c.updated_at))
    upto = records_upto(conn)
    if upto is None:
        return 0
    ids = sorted(set(records))
    conn.execute(sa.delete(_CONTACT).where(_CONTACT.c.record_id.in_(ids)))
    result = conn.execute(
        sa.insert(_CONTACT).from_select(_CONTACT_COLS, _span_per_record(None, upto, records=ids))
    )
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Scope:
    """Which calls a report counts."""

    start: dt.datetime
    end: dt.datetime
    campaign_id: int | None = None
    agent_id: int | None = None
    group_id: int | None = None
    agents: frozenset[int] | None = None
    """The agents whose calls the reader sees (None = every call, unanswered ones too)."""


Spans = list[tuple[dt.datetime, dt.datetime]]
#: More runs of final hours than this are matched with a subquery rather than ranges.
_MAX_RUNS = 32


def _split(conn: sa.Connection, start: dt.datetime, end: dt.datetime) -> tuple[Spans, Spans]:
    """The runs of final hours inside [start, end) (read from the rollups) and the spans
    to read from the raw log (everything else)."""
    first = _floor_hour(start)
    if first < start:
        first += HOUR
    last = _floor_hour(end)
    runs: Spans = []
    if first < last:
        in_range = (_DONE.c.hour >= first, _DONE.c.hour < last, _DONE.c.final)
        low, high, n = conn.execute(
            sa.select(sa.func.min(_DONE.c.hour), sa.func.max(_DONE.c.hour), sa.func.count()).where(
                *in_range
            )
        ).one()
        if n:
            low, high = _as_hour(low), _as_hour(high)
            if int((high - low) / HOUR) + 1 == n:  # one block: the usual case
                runs = [(low, high + HOUR)]
            else:
                for (hour,) in conn.execute(
                    sa.select(_DONE.c.hour).where(*in_range).order_by(_DONE.c.hour)
                ):
                    at = _as_hour(hour)
                    if runs and runs[-1][1] == at:
                        runs[-1] = (runs[-1][0], at + HOUR)
                    else:
                        runs.append((at, at + HOUR))
    spans: Spans = []
    cursor = start
    for a, b in runs:
        if cursor < a:
            spans.append((cursor, a))
        cursor = b
    if cursor < end:
        spans.append((cursor, end))
    return runs, spans


def _in_runs(column: Any, runs: Spans) -> sa.ColumnElement[bool]:
    if len(runs) <= _MAX_RUNS:
        return sa.or_(*(sa.and_(column >= a, column < b) for a, b in runs))
    return sa.and_(
        column >= runs[0][0],
        column < runs[-1][1],
        column.in_(
            sa.select(_DONE.c.hour).where(
                _DONE.c.hour >= runs[0][0], _DONE.c.hour < runs[-1][1], _DONE.c.final
            )
        ),
    )


def _scope_conds(table: sa.Table, agent_col: Any, s: Scope) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    if s.agents is not None:
        conds.append(agent_col.in_(sorted(s.agents)) if s.agents else sa.false())
    if s.campaign_id is not None:
        conds.append(table.c.campaign_id == s.campaign_id)
    if s.agent_id is not None:
        conds.append(agent_col == s.agent_id)
    if s.group_id is not None:
        conds.append(agent_col.in_(sa.select(_AGENT.c.id).where(_AGENT.c.group_id == s.group_id)))
    return conds


class Dim(StrEnum):
    """What a report's rows are split by."""

    NONE = "none"
    CAMPAIGN = "campaign"
    AGENT = "agent"
    GROUP = "group"


def _dim_col(table: sa.Table, agent_col: Any, dim: Dim) -> Any:
    if dim is Dim.CAMPAIGN:
        return table.c.campaign_id
    if dim is Dim.AGENT:
        return agent_col
    if dim is Dim.GROUP:
        return sa.func.coalesce(
            sa.select(_AGENT.c.group_id).where(_AGENT.c.id == agent_col).scalar_subquery(), 0
        )
    return sa.literal(0)


def _local_expr(column: Any, dialect: str, grain: str, offset_h: int) -> Any:
    """SQL for the local hour of day (an integer) or local day of a stored UTC time, in a
    zone ``offset_h`` hours from UTC."""
    if dialect == "postgresql":
        shifted = column + sa.func.make_interval(0, 0, 0, 0, offset_h)
        if grain == "hour":
            return sa.cast(sa.extract("hour", shifted), sa.Integer)
        return sa.cast(shifted, sa.Date)
    modifier = f"{offset_h:+d} hours"
    if grain == "hour":
        return sa.cast(sa.func.strftime("%H", column, modifier), sa.Integer)
    return sa.func.strftime("%Y-%m-%d", column, modifier)


def _local_value(value: Any, grain: str) -> Any:
    if grain == "hour":
        return int(value)
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def hourly(
    conn: sa.Connection,
    s: Scope,
    dim: Dim = Dim.NONE,
    *,
    per_hour: bool = True,
    local: tuple[str, int] | None = None,
) -> list[tuple[Any, ...]]:
    """(UTC hour, dimension key, *METRICS) of the calls in ``s``, from the final rollups
    and the raw log for every other hour; several rows may share an (hour, key). Without
    ``per_hour`` the hour is None and rows are only per key (fewer rows to read); with
    ``local=(grain, offset_h)`` it is the local hour of day (int, grain "hour") or the local
    day (grain "day") in a zone that many hours from UTC all through ``s``."""
    dialect = conn.dialect.name
    runs, spans = _split(conn, s.start, s.end)
    out: list[tuple[Any, ...]] = []
    if runs:
        by_agent = s.agents is not None or s.agent_id is not None or s.group_id is not None
        if by_agent or dim in {Dim.AGENT, Dim.GROUP}:
            table, key = _HOUR, _dim_col(_HOUR, _HOUR.c.agent_key, dim)
            conds = _scope_conds(_HOUR, _HOUR.c.agent_key, s)
        elif s.campaign_id is None and dim is Dim.NONE:  # all campaigns: one row an hour
            table, key, conds = _THOUR, sa.literal(0), []
        else:  # no agent in the question: the smaller per-campaign rollup answers it
            table, key = _CHOUR, _dim_col(_CHOUR, None, dim)
            conds = _scope_conds(_CHOUR, None, s)
        hours = [table.c.hour] if per_hour else []
        if local is not None:
            hours = [_local_expr(table.c.hour, dialect, *local)]
        query = (
            sa.select(*(hours or [sa.null()]), key.label("k"))
            .add_columns(*(sa.func.sum(table.c[m]) for m in METRICS))
            .where(_in_runs(table.c.hour, runs), *conds)
            .group_by(*hours, key)
        )
        if local is not None:
            out.extend((_local_value(r[0], local[0]), *r[1:]) for r in conn.execute(query))
        else:
            out.extend(tuple(r) for r in conn.execute(query))
    if spans:
        hour = hour_of(_LOG.c.dial_at, dialect)
        agent_key = sa.func.coalesce(_LOG.c.agent_id, 0)
        key = _dim_col(_LOG, agent_key, dim)
        cases = _count_cases()
        raw_hours = [hour] if per_hour else []
        if local is not None:
            raw_hours = [_local_expr(_LOG.c.dial_at, dialect, *local)]
        query = (
            sa.select(*(raw_hours or [sa.null()]), key.label("k"))
            .add_columns(*(cases[m] for m in METRICS))
            .where(
                sa.or_(*(sa.and_(_LOG.c.dial_at >= a, _LOG.c.dial_at < b) for a, b in spans)),
                *_scope_conds(_LOG, _LOG.c.agent_id, s),
            )
            .group_by(*raw_hours, key)
        )
        for r in conn.execute(query):
            if local is not None:
                first: Any = _local_value(r[0], local[0])
            else:
                first = _as_hour(r[0]) if per_hour else None
            out.append((first, *r[1:]))
    return out


def offset_segments(
    start: dt.datetime, end: dt.datetime, tz: ZoneInfo
) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """[start, end) cut where ``tz``'s offset from UTC changes: (from, to, offset in hours);
    ReportError when an offset is not a whole number of hours."""

    def offset(at: dt.datetime) -> int:
        delta = at.astimezone(tz).utcoffset() or dt.timedelta()
        seconds = int(delta.total_seconds())
        if seconds % 3600:
            raise ReportError(
                "tz", f"{tz.key} is not a whole number of hours from UTC; reports are kept per hour"
            )
        return seconds // 3600

    segments: list[tuple[dt.datetime, dt.datetime, int]] = []
    cursor, current = start, offset(start)
    day = dt.timedelta(days=1)
    probe = cursor
    while probe < end:
        nxt = min(probe + day, end)
        if nxt < end and offset(nxt) == current:
            probe = nxt
            continue
        # the offset may change inside (probe, nxt]: find the hour it does
        at = _floor_hour(probe) + HOUR
        while at < nxt and offset(at) == current:
            at += HOUR
        if at < end and at <= nxt and offset(at) != current:
            segments.append((cursor, at, current))
            cursor, current = at, offset(at)
            probe = at
            continue
        probe = nxt
    segments.append((cursor, end, current))
    return segments


def local_grouped(
    conn: sa.Connection, s: Scope, dim: Dim, *, tz: ZoneInfo, grain: str
) -> list[tuple[Any, ...]]:
    """(local hour of day or local day, key, *METRICS) of the calls in ``s``, grouped by
    the database (one query per stretch of constant UTC offset)."""
    out: list[tuple[Any, ...]] = []
    for a, b, off in offset_segments(s.start, s.end, tz):
        part = Scope(
            start=a,
            end=b,
            campaign_id=s.campaign_id,
            agent_id=s.agent_id,
            group_id=s.group_id,
            agents=s.agents,
        )
        out.extend(hourly(conn, part, dim, local=(grain, off)))
    return out


def _as_hour(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        msg = f"expected an hour from the database, got {value!r}"
        raise TypeError(msg)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def zone(name: str, field: str = "tz") -> ZoneInfo:
    """The IANA zone ``name`` (ReportError naming ``field`` when unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(field, f"unknown time zone {name!r} (use an IANA name)") from None


def _local(hour: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    local = hour.astimezone(tz)
    if local.minute or local.second:
        raise ReportError(
            "tz", f"{tz.key} is not a whole number of hours from UTC; reports are kept per hour"
        )
    return local


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of ``day``'s local midnight in ``tz``."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def _empty() -> dict[str, float]:
    return dict.fromkeys(METRICS, 0)


def _add(into: dict[str, float], values: Sequence[Any]) -> None:
    for name, value in zip(METRICS, values, strict=True):
        into[name] += value or 0


def finish(m: dict[str, float]) -> dict[str, float]:
    """Metrics with their rates: abandonment % (dropped / persons) and answer rate %
    (persons / dials); durations rounded to the second's tenth."""
    out = {k: (int(v) if k in COUNTS else round(float(v), 1)) for k, v in m.items()}
    out["abandon_pct"] = round(100.0 * m["dropped"] / m["persons"], 2) if m["persons"] else 0.0
    out["answer_pct"] = round(100.0 * m["persons"] / m["dials"], 2) if m["dials"] else 0.0
    return out


# ------------------------------------------------------------------------- 1. by period


class Period(StrEnum):
    """How a report's range is cut into dates."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def bucket_of(day: dt.date, period: Period) -> dt.date:
    """The first day of the bucket ``day`` falls in (weeks start on Monday)."""
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.QUARTER:
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def next_bucket(first: dt.date, period: Period) -> dt.date:
    """The first day of the bucket after the one starting on ``first``."""
    if period is Period.DAY:
        return first + dt.timedelta(days=1)
    if period is Period.WEEK:
        return first + dt.timedelta(days=7)
    months = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]
    total = first.year * 12 + first.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


@dataclass
class PeriodRow:
    """One cell row: a bucket (first day, local) × a key (campaign, agent or group id)."""

    bucket: dt.date
    key: int
    start: dt.datetime
    """Where the bucket starts inside the range (UTC), for the drill-down."""
    end: dt.datetime
    metrics: dict[str, float]


@dataclass
class PeriodReport:
    """Calls per bucket and key, the totals per key, per bucket and overall."""

    rows: list[PeriodRow]
    by_key: dict[int, dict[str, float]]
    by_bucket: dict[dt.date, dict[str, float]]
    total: dict[str, float]


def period_report(
    conn: sa.Connection,
    s: Scope,
    *,
    first_day: dt.date,
    last_day: dt.date,
    tz: ZoneInfo,
    period: Period,
    dim: Dim,
) -> PeriodReport:
    """Calls by period: local days ``first_day``..``last_day`` in ``tz``, cut by ``period``
    and split by ``dim``."""
    cells: dict[tuple[dt.date, int], dict[str, float]] = defaultdict(_empty)
    for row in local_grouped(conn, s, dim, tz=tz, grain="day"):
        bucket = bucket_of(row[0], period)
        _add(cells[bucket, int(row[1] or 0)], row[2:])
    rows: list[PeriodRow] = []
    by_key: dict[int, dict[str, float]] = defaultdict(_empty)
    by_bucket: dict[dt.date, dict[str, float]] = defaultdict(_empty)
    total = _empty()
    for (bucket, key), m in sorted(cells.items()):
        start = max(local_midnight(bucket, tz), s.start)
        end = min(local_midnight(next_bucket(bucket, period), tz), s.end)
        rows.append(PeriodRow(bucket, key, start, end, finish(m)))
        _add(by_key[key], [m[k] for k in METRICS])
        _add(by_bucket[bucket], [m[k] for k in METRICS])
        _add(total, [m[k] for k in METRICS])
    del first_day, last_day
    return PeriodReport(
        rows=rows,
        by_key={k: finish(v) for k, v in sorted(by_key.items())},
        by_bucket={k: finish(v) for k, v in sorted(by_bucket.items())},
        total=finish(total),
    )


# ------------------------------------------------------------------------- 2. time of day


def time_of_day(conn: sa.Connection, s: Scope, *, tz: ZoneInfo) -> list[dict[str, float]]:
    """24 rows (local hour 0..23 in ``tz``): the metrics of calls dialed in that hour, with
    each hour's share of the period's dials (``dials_pct``)."""
    hours = [_empty() for _ in range(24)]
    for row in local_grouped(conn, s, Dim.NONE, tz=tz, grain="hour"):
        _add(hours[row[0]], row[2:])
    total = sum(h["dials"] for h in hours)
    out: list[dict[str, float]] = []
    for k, h in enumerate(hours):
        line = finish(h)
        line["hour"] = k
        line["dials_pct"] = round(100.0 * h["dials"] / total, 2) if total else 0.0
        out.append(line)
    return out


# ------------------------------------------------------------------------- 3. agents


def status_counts(
    conn: sa.Connection, s: Scope, dim: Dim, *, per_hour: bool = True
) -> list[tuple[Any, ...]]:
    """(UTC hour, key, status id, system status, calls) of calls given a status in ``s``
    (the hour None and one row per key and status without ``per_hour``)."""
    dialect = conn.dialect.name
    runs, spans = _split(conn, s.start, s.end)
    out: list[tuple[Any, ...]] = []
    if runs:
        key = _dim_col(_SHOUR, _SHOUR.c.agent_key, dim)
        hours = [_SHOUR.c.hour] if per_hour else []
        query = (
            sa.select(
                *(hours or [sa.null()]),
                key.label("k"),
                _SHOUR.c.status_key,
                _SHOUR.c.system_status,
                sa.func.sum(_SHOUR.c.calls),
            )
            .where(
                _in_runs(_SHOUR.c.hour, runs),
                *_scope_conds(_SHOUR, _SHOUR.c.agent_key, s),
            )
            .group_by(*hours, key, _SHOUR.c.status_key, _SHOUR.c.system_status)
        )
        out.extend(tuple(r) for r in conn.execute(query))
    if spans:
        hour = hour_of(_LOG.c.dial_at, dialect)
        agent_key = sa.func.coalesce(_LOG.c.agent_id, 0)
        key = _dim_col(_LOG, agent_key, dim)
        status_key = sa.func.coalesce(_LOG.c.status_id, 0)
        system_status = sa.func.coalesce(_LOG.c.system_status, "")
        raw_hours = [hour] if per_hour else []
        query = (
            sa.select(
                *(raw_hours or [sa.null()]),
                key.label("k"),
                status_key,
                system_status,
                sa.func.count(),
            )
            .where(
                sa.or_(*(sa.and_(_LOG.c.dial_at >= a, _LOG.c.dial_at < b) for a, b in spans)),
                sa.or_(_LOG.c.status_id.is_not(None), _LOG.c.system_status.is_not(None)),
                *_scope_conds(_LOG, _LOG.c.agent_id, s),
            )
            .group_by(*raw_hours, key, status_key, system_status)
        )
        for r in conn.execute(query):
            out.append((_as_hour(r[0]) if per_hour else None, *r[1:]))  # noqa: PERF401
    return out


@dataclass
class AgentLine:
    """One agent's (or group's) figures over the period."""

    key: int
    metrics: dict[str, float]
    statuses: dict[str, int] = field(default_factory=dict)
    """Calls given each system status by this agent."""
    callbacks_booked: int = 0
    """Calls this agent gave MY_RECORD (a callback the agent owns); the callbacks kept are
    ``metrics["callbacks_kept"]`` (calls connected to the agent who booked their record)."""
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds logged in, per phase (ready, reserved, talking, wrap_up, paused)."""
    pauses: dict[str, float] = field(default_factory=dict)
    """Seconds paused, per pause reason."""
    missed: int = 0
    """Reservations for a call that was then dropped, and callbacks booked for this agent
    that found the agent absent (released to anyone by the owner-absent policy)."""
    logged_in_s: float = 0.0
    occupancy_pct: float = 0.0
    """Time busy with calls (reserved, talking, wrap-up) of the time logged in and not paused."""
    calls_per_hour: float = 0.0
    """Calls connected per hour logged in."""


def phase_totals(
    conn: sa.Connection, s: Scope, *, now: dt.datetime
) -> list[tuple[int, str, str, float, int]]:
    """(agent, phase, reason, seconds, missed) of the agents' phase history inside ``s``:
    final hours from ``agent_phase_hour``, the rest cut from ``agent_phase`` (a stretch
    still open lasts until ``now``)."""
    runs, spans = _split(conn, s.start, s.end)
    out: list[tuple[int, str, str, float, int]] = []
    if runs:
        query = (
            sa.select(
                _PHOUR.c.agent_id,
                _PHOUR.c.phase,
                _PHOUR.c.reason,
                sa.func.sum(_PHOUR.c.seconds),
                sa.func.sum(_PHOUR.c.missed),
            )
            .where(_in_runs(_PHOUR.c.hour, runs), *_scope_conds(_PHOUR, _PHOUR.c.agent_id, s))
            .group_by(_PHOUR.c.agent_id, _PHOUR.c.phase, _PHOUR.c.reason)
        )
        out.extend(
            (int(r[0]), r[1], r[2], float(r[3] or 0), int(r[4] or 0)) for r in conn.execute(query)
        )
    conds = _scope_conds(_PHASE, _PHASE.c.agent_id, s)
    for a, b in spans:
        for (_h, agent, _c, phase, reason), (seconds, missed) in phase_hours(
            _phase_rows(conn, a, b, conds), a, b, now=now
        ).items():
            out.append((agent, phase, reason, seconds, missed))
    return out


def callbacks_missed(conn: sa.Connection, s: Scope) -> list[tuple[int, int]]:
    """(agent, callbacks missed) in ``s``: the agent's MY_RECORD callbacks released to
    anyone in the period because the agent was absent (``callback_miss``, few rows)."""
    query = (
        sa.select(_MISS.c.agent_id, sa.func.count())
        .where(
            _MISS.c.at >= s.start,
            _MISS.c.at < s.end,
            *_scope_conds(_MISS, _MISS.c.agent_id, s),
        )
        .group_by(_MISS.c.agent_id)
    )
    return [(int(r[0]), int(r[1])) for r in conn.execute(query)]


def agents_report(
    conn: sa.Connection,
    s: Scope,
    *,
    dim: Dim = Dim.AGENT,
    now: dt.datetime | None = None,
) -> list[AgentLine]:
    """Per agent (or per group): calls, talk, wait and wrap-up time, statuses set, callbacks
    booked and kept, time logged in per phase and pause reason, occupancy, calls per hour
    and missed reservations. Calls no agent took are not an agent's and are left out; a
    group is the agents who are in it now. ``now`` ends the stretches still open (default:
    the wall clock)."""
    now = now if now is not None else dt.datetime.now(dt.UTC)
    lines: dict[int, AgentLine] = {}
    for row in hourly(conn, s, dim, per_hour=False):
        key = int(row[1] or 0)
        if dim is Dim.AGENT and key == 0:
            continue
        line = lines.setdefault(key, AgentLine(key, _empty()))
        _add(line.metrics, row[2:])
    for _hour, key, _status, system, calls in status_counts(conn, s, dim, per_hour=False):
        k = int(key or 0)
        if dim is Dim.AGENT and k == 0:
            continue
        line = lines.setdefault(k, AgentLine(k, _empty()))
        name = system or "none"
        line.statuses[name] = line.statuses.get(name, 0) + int(calls)
        if system == "MY_RECORD":
            line.callbacks_booked += int(calls)
    group_of: dict[int, int] = {}
    if dim is Dim.GROUP:
        group_of = {
            int(r[0]): int(r[1] or 0)
            for r in conn.execute(sa.select(_AGENT.c.id, _AGENT.c.group_id))
        }

    def key_of(agent: int) -> int:
        return group_of.get(agent, 0) if dim is Dim.GROUP else agent if dim is Dim.AGENT else 0

    for agent, phase, reason, seconds, missed in phase_totals(conn, s, now=now):
        line = lines.setdefault(key_of(agent), AgentLine(key_of(agent), _empty()))
        line.phases[phase] = line.phases.get(phase, 0.0) + seconds
        if phase == "paused":
            line.pauses[reason] = line.pauses.get(reason, 0.0) + seconds
        line.missed += missed
    for agent, missed in callbacks_missed(conn, s):
        line = lines.setdefault(key_of(agent), AgentLine(key_of(agent), _empty()))
        line.missed += missed
    for line in lines.values():
        line.metrics = finish(line.metrics)
        t = line.metrics
        t["talk_avg_s"] = round(t["talk_s"] / t["connected"], 1) if t["connected"] else 0.0
        line.phases = {k: round(v, 1) for k, v in sorted(line.phases.items())}
        line.pauses = {k: round(v, 1) for k, v in sorted(line.pauses.items())}
        logged_in = sum(line.phases.values())
        line.logged_in_s = round(logged_in, 1)
        working = logged_in - line.phases.get("paused", 0.0)
        busy = sum(line.phases.get(p, 0.0) for p in BUSY_PHASES)
        line.occupancy_pct = round(100.0 * busy / working, 2) if working > 0 else 0.0
        line.calls_per_hour = round(t["connected"] * 3600 / logged_in, 2) if logged_in > 0 else 0.0
    return [lines[k] for k in sorted(lines)]


# ------------------------------------------------------------------------- 4. customers


@dataclass(frozen=True)
class Contact:
    """A call to a record: when, how it ended, who took it."""

    at: dt.datetime
    outcome: str | None
    agent_id: int | None
    call_id: int


@dataclass
class CustomerLine:
    """One record's calls in the period."""

    record_id: int
    campaign_id: int
    list_id: int | None
    phone: str
    name: str
    calls: int
    reached: int
    """Calls in which a person answered and was connected to an agent."""
    first: Contact
    last: Contact


@dataclass
class CustomersReport:
    """Records last called (first called, in the first-contact view) in the period, over
    their whole history: attempts distribution and the four views."""

    distribution: dict[int, int]
    """Records by how many calls they have had (ever)."""
    records: int
    never_reached: int
    last_not_answered: int
    lines: list[CustomerLine]
    """The records of the chosen view, ordered by last call (newest first), one page."""


class CustomerView(StrEnum):
    """Which records a customers report lists."""

    ALL = "all"
    FIRST_CONTACT = "first_contact"
    LAST_CONTACT = "last_contact"
    LAST_NOT_ANSWERED = "last_not_answered"
    NEVER_REACHED = "never_reached"


def _raw_per_record(
    conds: Sequence[sa.ColumnElement[bool]], *, since: dt.datetime | None = None
) -> sa.Select[Any]:
    """Each record's calls among those matching ``conds`` (and dialed at or after ``since``),
    from the raw log: calls, reached, first / last / last answered call id, and when the
    first and last were dialed."""
    is_answered = _LOG.c.outcome == Outcome.ANSWERED.value
    record = _LOG.c.record_id if since is None else _recent_key()
    where = [record.is_not(None), *conds]
    if since is not None:
        where.append(_LOG.c.dial_at >= since)
    agg = (
        sa.select(
            record.label("record_id"),
            sa.func.count().label("calls"),
            sa.func.sum(sa.case((is_answered, 1), else_=0)).label("reached"),
            sa.func.min(_LOG.c.id).label("first_id"),
            sa.func.max(_LOG.c.id).label("last_id"),
            sa.func.max(sa.case((is_answered, _LOG.c.id))).label("last_answered_id"),
        )
        .where(*where)
        .group_by(record)
        .subquery("agg")
    )
    first, last = _LOG.alias("f"), _LOG.alias("l")
    return sa.select(
        agg.c.record_id,
        agg.c.calls,
        agg.c.reached,
        agg.c.first_id,
        agg.c.last_id,
        agg.c.last_answered_id,
        first.c.dial_at.label("first_at"),
        last.c.dial_at.label("last_at"),
    ).select_from(
        agg.join(first, first.c.id == agg.c.first_id).join(last, last.c.id == agg.c.last_id)
    )


def _later(a: Any, b: Any) -> sa.ColumnElement[Any]:
    """The larger of two ids, either of which may be NULL."""
    return sa.case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _per_record(
    conn: sa.Connection, s: Scope, *, list_id: int | None, by_first: bool
) -> list[sa.Select[Any]]:
    """One row per record whose last call (first call, ``by_first``) was dialed in ``s``,
    over the record's whole history, as parts that share no record: from ``record_contact``
    and from the calls dialed since it was last brought up to date merged with it (an
    unscoped reader), or from the raw log of the calls the reader sees (a scoped one)."""
    call_conds: list[sa.ColumnElement[bool]] = list(_scope_conds(_LOG, _LOG.c.agent_id, s))
    if list_id is not None:
        call_conds.append(
            _LOG.c.record_id.in_(sa.select(_RECORD.c.id).where(_RECORD.c.list_id == list_id))
        )
    scoped = s.agents is not None or s.agent_id is not None or s.group_id is not None
    upto = None if scoped else records_upto(conn)

    def in_period(first_at: Any, last_at: Any) -> sa.ColumnElement[bool]:
        at = first_at if by_first else last_at
        return sa.and_(at >= s.start, at < s.end)

    if upto is None:
        raw = _raw_per_record(call_conds).subquery("raw")
        return [sa.select(raw).where(in_period(raw.c.first_at, raw.c.last_at))]
    fresh = _raw_per_record(call_conds, since=upto).subquery("fresh")
    rc = _CONTACT
    rc_conds: list[sa.ColumnElement[bool]] = []
    if s.campaign_id is not None:
        rc_conds.append(rc.c.campaign_id == s.campaign_id)
    if list_id is not None:
        rc_conds.append(rc.c.list_id == list_id)
    settled = sa.select(
        rc.c.record_id,
        rc.c.attempts.label("calls"),
        rc.c.reached,
        rc.c.first_call_id.label("first_id"),
        rc.c.last_call_id.label("last_id"),
        rc.c.last_answered_id,
        rc.c.first_at,
        rc.c.last_at,
    ).where(
        *rc_conds,
        in_period(rc.c.first_at, rc.c.last_at),
        rc.c.record_id.not_in(sa.select(fresh.c.record_id)),
    )
    rc_first = sa.and_(rc.c.first_call_id.is_not(None), rc.c.first_call_id < fresh.c.first_id)
    rc_last = sa.and_(rc.c.last_call_id.is_not(None), rc.c.last_call_id > fresh.c.last_id)
    first_at = sa.case((rc_first, rc.c.first_at), else_=fresh.c.first_at)
    last_at = sa.case((rc_last, rc.c.last_at), else_=fresh.c.last_at)
    merged = (
        sa.select(
            fresh.c.record_id,
            (fresh.c.calls + sa.func.coalesce(rc.c.attempts, 0)).label("calls"),
            (fresh.c.reached + sa.func.coalesce(rc.c.reached, 0)).label("reached"),
            sa.case((rc_first, rc.c.first_call_id), else_=fresh.c.first_id).label("first_id"),
            sa.case((rc_last, rc.c.last_call_id), else_=fresh.c.last_id).label("last_id"),
            _later(fresh.c.last_answered_id, rc.c.last_answered_id).label("last_answered_id"),
            first_at.label("first_at"),
            last_at.label("last_at"),
        )
        .select_from(fresh.outerjoin(rc, rc.c.record_id == fresh.c.record_id))
        .where(in_period(first_at, last_at))
    )
    return [settled, merged]


def customers_report(
    conn: sa.Connection,
    s: Scope,
    *,
    list_id: int | None = None,
    view: CustomerView = CustomerView.ALL,
    limit: int = 100,
    offset: int = 0,
) -> CustomersReport:
    """Records whose last call (the first call, in the first-contact view) was dialed in
    the period, over each record's whole history of calls (those the reader sees): attempts
    per record, first and last call, whether the last was not answered, whether any call
    ever reached a person."""
    by_first = view is CustomerView.FIRST_CONTACT
    parts = _per_record(conn, s, list_id=list_id, by_first=by_first)
    per_record = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery("per_record")
    # The last call was not answered when no call was, or a later one was not.
    last_not_answered = sa.or_(
        per_record.c.last_answered_id.is_(None),
        per_record.c.last_answered_id < per_record.c.last_id,
    )
    # One pass: the distribution, with the two counts per number of calls.
    distribution: dict[int, int] = {}
    never_reached = last_na = 0
    for calls_n, n, never, not_answered in conn.execute(
        sa.select(
            per_record.c.calls,
            sa.func.count(),
            sa.func.sum(sa.case((per_record.c.reached == 0, 1), else_=0)),
            sa.func.sum(sa.case((last_not_answered, 1), else_=0)),
        )
        .group_by(per_record.c.calls)
        .order_by(per_record.c.calls)
    ):
        distribution[int(calls_n)] = int(n)
        never_reached += int(never or 0)
        last_na += int(not_answered or 0)
    # The page, newest first by (time, call id): the first offset + limit rows of each part
    # in that order, merged. The rollup's part is read off its index, (last_at,
    # last_call_id) or (first_at, first_call_id), instead of sorting every record of the
    # period.
    candidates: list[sa.Row[Any]] = []
    for part in parts:
        sub = part.subquery("part")
        page = sa.select(sub)
        if view is CustomerView.NEVER_REACHED:
            page = page.where(sub.c.reached == 0)
        elif view is CustomerView.LAST_NOT_ANSWERED:
            page = page.where(
                sa.or_(sub.c.last_answered_id.is_(None), sub.c.last_answered_id < sub.c.last_id)
            )
        if by_first:
            order = (sub.c.first_at.desc(), sub.c.first_id.desc())
        else:
            order = (sub.c.last_at.desc(), sub.c.last_id.desc())
        candidates.extend(conn.execute(page.order_by(*order).limit(offset + limit)).all())

    def newest(r: sa.Row[Any]) -> tuple[dt.datetime, int]:
        return (
            _as_hour(r.first_at if by_first else r.last_at),
            int(r.first_id if by_first else r.last_id),
        )

    picked = sorted(candidates, key=newest, reverse=True)[offset : offset + limit]
    ids = {r.first_id for r in picked} | {r.last_id for r in picked}
    calls = {
        r.id: r
        for r in conn.execute(
            sa.select(
                _LOG.c.id, _LOG.c.dial_at, _LOG.c.outcome, _LOG.c.agent_id, _LOG.c.campaign_id
            ).where(_LOG.c.id.in_(sorted(ids)))
        )
    }
    records = {
        r.id: r
        for r in conn.execute(
            sa.select(
                _RECORD.c.id,
                _RECORD.c.campaign_id,
                _RECORD.c.list_id,
                _RECORD.c.phone,
                _RECORD.c.name,
            ).where(_RECORD.c.id.in_(sorted({r.record_id for r in picked})))
        )
    }

    def contact(call_id: int, at: Any) -> Contact:
        call = calls.get(call_id)  # None once retention purged it: the rollup still knows when
        if call is None:
            return Contact(_as_hour(at), None, None, int(call_id))
        return Contact(call.dial_at, call.outcome, call.agent_id, int(call_id))

    lines = []
    for r in picked:
        rec = records.get(r.record_id)
        last_call = calls.get(r.last_id)
        campaign = last_call.campaign_id if last_call is not None else None
        lines.append(
            CustomerLine(
                record_id=int(r.record_id),
                campaign_id=int(campaign or (rec.campaign_id if rec is not None else 0)),
                list_id=rec.list_id if rec is not None else None,
                phone=rec.phone if rec is not None else "",
                name=rec.name if rec is not None else "",
                calls=int(r.calls),
                reached=int(r.reached or 0),
                first=contact(r.first_id, r.first_at),
                last=contact(r.last_id, r.last_at),
            )
        )
    return CustomersReport(
        distribution=distribution,
        records=sum(distribution.values()),
        never_reached=never_reached,
        last_not_answered=last_na,
        lines=lines,
    )


# ------------------------------------------------------------------------- 5. statuses


@dataclass
class StatusesReport:
    """Records by status now, and how many calls set each status in the period."""

    now: list[dict[str, Any]]
    """One row per campaign × list × status × system status: ``records``."""
    changes: dict[dt.date, dict[str, int]]
    """Per local bucket: calls that set each system status."""
    changes_total: dict[str, int]
    changes_by_status: dict[int, int]
    """Per status id (0 = none): calls that set it in the period."""


def statuses_report(
    conn: sa.Connection,
    s: Scope,
    *,
    tz: ZoneInfo,
    period: Period,
    list_id: int | None = None,
) -> StatusesReport:
    """The breakdown of records by status and system status (records owned by an agent of
    the scope, for a scoped reader) and the statuses set on calls in the period."""
    conds: list[sa.ColumnElement[bool]] = []
    if s.agents is not None:
        conds.append(_RECORD.c.owner_agent_id.in_(sorted(s.agents)) if s.agents else sa.false())
    if s.campaign_id is not None:
        conds.append(_RECORD.c.campaign_id == s.campaign_id)
    if list_id is not None:
        conds.append(_RECORD.c.list_id == list_id)
    if s.agent_id is not None:
        conds.append(_RECORD.c.owner_agent_id == s.agent_id)
    if s.group_id is not None:
        members = sa.select(_AGENT.c.id).where(_AGENT.c.group_id == s.group_id)
        conds.append(_RECORD.c.owner_agent_id.in_(members))
    cols = (
        _RECORD.c.campaign_id,
        _RECORD.c.list_id,
        _RECORD.c.status_id,
        _RECORD.c.system_status,
    )
    now = [
        {
            "campaign_id": r[0],
            "list_id": r[1],
            "status_id": r[2],
            "system_status": r[3],
            "records": int(r[4]),
        }
        for r in conn.execute(
            sa.select(*cols, sa.func.count()).where(*conds).group_by(*cols).order_by(*cols)
        )
    ]
    changes: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total: dict[str, int] = defaultdict(int)
    by_status: dict[int, int] = defaultdict(int)
    for hour, _key, status, system, calls in status_counts(conn, s, Dim.NONE):
        bucket = bucket_of(_local(hour, tz).date(), period)
        name = system or "none"
        changes[bucket][name] += int(calls)
        total[name] += int(calls)
        by_status[int(status or 0)] += int(calls)
    return StatusesReport(
        now=now,
        changes={k: dict(v) for k, v in sorted(changes.items())},
        changes_total=dict(total),
        changes_by_status=dict(sorted(by_status.items())),
    )


def check_zone(tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> None:
    """ReportError unless ``tz`` is a whole number of hours from UTC all through [start, end)
    (checked at each day's start: offsets change at most a few times a year)."""
    at = start
    while True:
        _local(_floor_hour(at), tz)
        if at >= end:
            return
        at = min(at + dt.timedelta(days=1), end)


def local_range(
    first_day: dt.date, last_day: dt.date, tz: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of local midnight before ``first_day`` and after ``last_day``."""
    if last_day < first_day:
        raise ReportError("to", "must not be before 'from'")
    return local_midnight(first_day, tz), local_midnight(last_day + dt.timedelta(days=1), tz)


def keys_of(rows: Iterable[Any]) -> set[int]:
    """The distinct non-zero keys of report rows (to look names up)."""
    return {int(r) for r in rows if r}


# ------------------------------------------------------------------------- recent calls


def recent_calls(
    conn: sa.Connection, s: Scope, *, answered: bool, limit: int = 20
) -> list[dict[str, Any]]:
    """The last ``limit`` calls in ``s`` that a person answered and an agent took
    (``answered``), or that ended without it (no answer, busy, dropped, machine, failed),
    newest first (``ix_call_log_dial``)."""
    outcome = _LOG.c.outcome
    cond = (
        outcome == Outcome.ANSWERED.value
        if answered
        else sa.and_(outcome.is_not(None), outcome != Outcome.ANSWERED.value)
    )
    query = (
        sa.select(
            _LOG.c.id,
            _LOG.c.dial_at,
            _LOG.c.campaign_id,
            _LOG.c.phone,
            _LOG.c.agent_id,
            _LOG.c.outcome,
            _LOG.c.talk_s,
            _LOG.c.recording_ref,
        )
        .where(
            _LOG.c.dial_at >= s.start,
            _LOG.c.dial_at < s.end,
            cond,
            *_scope_conds(_LOG, _LOG.c.agent_id, s),
        )
        .order_by(_LOG.c.dial_at.desc(), _LOG.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
