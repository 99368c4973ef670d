"""Pacer traces: a campaign's pacer inputs and decisions as JSON lines, and their replay.

The engine (``[pacing] trace_dir``) appends, per campaign, every event its pacer observes
and every view it decides on with the count it returned. Replaying such a file through a
pacer built from any profile gives the count *that* pacer would have returned at each
of those moments, on the same facts: with the profile that ran it is the recorded count
(the trace is complete), with another it shows where and by how much the decisions part.
It does not say what would have followed (other dials, other answers): ``dialer simulate``
does that on a scenario.

One line per record: ``{"e": [t, kind, call_id, agent_id, value, outcome]}``,
``{"v": [t, logged_in, ready, ready_idle_s, talking_elapsed_s, wrapup_elapsed_s,
ringing_elapsed_s, waiting, lines_free], "n": count, "reason": why}``, or, when a pacer
is built, ``{"seed": {"t": clock_t, "utc": iso, "tz": zone, "facts": [[t, kind], ...]}}``:
its abandonment ledger's calendar and the facts of the last 30 days it started from.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pacing.accounting import SEED_KINDS, AbandonmentLedger, local_days
from pacing.types import EVENT_KINDS, Event, Pacer, View, pacer_reason


@dataclass(frozen=True, slots=True)
class Decision:
    """A view the pacer decided on, with the count it returned and why (if it said)."""

    view: View
    n: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Seed:
    """A pacer's ledger start: the calendar of ``tz`` (the clock read ``t`` at ``utc``)
    and the past facts ``(t, kind)`` it was seeded with."""

    t: float
    utc: dt.datetime
    tz: str
    facts: tuple[tuple[float, str], ...]

    def apply(self, ledger: AbandonmentLedger) -> int:
        """Start ``ledger`` with this calendar and these facts (what the engine does when it
        builds a campaign's pacer); returns how many facts it took."""
        ledger.use_calendar(local_days(self.t, self.utc, ZoneInfo(self.tz)))
        return ledger.seed(self.facts, now=self.t)


Record = Event | Decision | Seed


class TraceWriter:
    """Appends one campaign's pacer events and decisions to ``path`` (opened on first use,
    flushed at each decision: at most a tick's records are lost with the process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def _write(self, record: dict[str, Any], *, flush: bool = False) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        if flush:
            self._file.flush()

    def seed(self, seed: Seed) -> None:
        """Record the ledger's start."""
        record = {
            "t": seed.t,
            "utc": seed.utc.isoformat(),
            "tz": seed.tz,
            "facts": [list(f) for f in seed.facts],
        }
        self._write({"seed": record}, flush=True)

    def event(self, e: Event) -> None:
        """Record an event the pacer observed."""
        self._write({"e": [e.t, e.kind, e.call_id, e.agent_id, e.value, e.outcome]})

    def decision(self, v: View, n: int, reason: str | None = None) -> None:
        """Record a view, the count the pacer returned, and its reason."""
        fields = [
            v.t,
            v.agents_logged_in,
            v.agents_ready,
            list(v.ready_idle_s),
            list(v.talking_elapsed_s),
            list(v.wrapup_elapsed_s),
            list(v.ringing_elapsed_s),
            v.calls_waiting,
            v.lines_free,
        ]
        self._write({"v": fields, "n": n, "reason": reason}, flush=True)

    def close(self) -> None:
        """Close the file (a later record opens it again, appending)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{name} must be a finite number, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{name} must be a whole number >= 0, got {value!r}"
        raise ValueError(msg)
    return value


def _times(value: Any, name: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        msg = f"{name} must be a list of seconds, got {value!r}"
        raise ValueError(msg)
    return tuple(_number(x, name) for x in value)


def _optional_int(value: Any, name: str) -> int | None:
    return None if value is None else _count(value, name)


def _seed(record: Any) -> Seed:
    if not isinstance(record, dict):
        msg = "'seed' must be an object"
        raise ValueError(msg)
    try:
        utc = dt.datetime.fromisoformat(str(record.get("utc")))
    except ValueError as exc:
        msg = f"utc must be an ISO date-time, got {record.get('utc')!r}"
        raise ValueError(msg) from exc
    if utc.tzinfo is None:
        msg = f"utc must carry its offset, got {record.get('utc')!r}"
        raise ValueError(msg)
    tz = record.get("tz")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"tz must be a time zone name, got {tz!r}"
        raise ValueError(msg) from exc
    facts = record.get("facts")
    if not isinstance(facts, list):
        msg = "facts must be a list of [t, kind]"
        raise ValueError(msg)
    out = []
    for fact in facts:
        if not isinstance(fact, list) or len(fact) != 2 or fact[1] not in SEED_KINDS:
            msg = f"a fact must be [t, kind] with kind in {', '.join(SEED_KINDS)}, got {fact!r}"
            raise ValueError(msg)
        out.append((_number(fact[0], "a fact's t"), str(fact[1])))
    return Seed(_number(record.get("t"), "t"), utc, str(tz), tuple(out))


def parse_record(text: str) -> Record:
    """One trace line as an :class:`Event`, a :class:`Decision` or a :class:`Seed`
    (``ValueError`` naming the field that is wrong)."""
    record = json.loads(text)
    if not isinstance(record, dict):
        msg = "a record must be a JSON object"
        raise ValueError(msg)
    if "seed" in record:
        return _seed(record["seed"])
    if "e" in record:
        e = record["e"]
        if not isinstance(e, list) or len(e) != 6:
            msg = "'e' must be [t, kind, call_id, agent_id, value, outcome]"
            raise ValueError(msg)
        t, kind, call_id, agent_id, value, outcome = e
        if kind not in EVENT_KINDS:
            msg = f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})"
            raise ValueError(msg)
        if outcome is not None and not isinstance(outcome, str):
            msg = f"outcome must be a string or null, got {outcome!r}"
            raise ValueError(msg)
        return Event(
            _number(t, "t"),
            kind,
            _optional_int(call_id, "call_id"),
            _optional_int(agent_id, "agent_id"),
            None if value is None else _number(value, "value"),
            outcome,
        )
    if "v" in record:
        v = record["v"]
        if not isinstance(v, list) or len(v) != 9:
            msg = "'v' must hold the 9 fields of a view"
            raise ValueError(msg)
        view = View(
            _number(v[0], "t"),
            _count(v[1], "agents_logged_in"),
            _count(v[2], "agents_ready"),
            _times(v[3], "ready_idle_s"),
            _times(v[4], "talking_elapsed_s"),
            _times(v[5], "wrapup_elapsed_s"),
            _times(v[6], "ringing_elapsed_s"),
            _count(v[7], "calls_waiting"),
            _count(v[8], "lines_free"),
        )
        reason = record.get("reason")
        return Decision(
            view, _count(record.get("n"), "n"), reason if isinstance(reason, str) else None
        )
    msg = "a record has 'e' (an event), 'v' (a decision) or 'seed' (the ledger's start)"
    raise ValueError(msg)


def read_trace(path: Path) -> tuple[list[Record], list[str]]:
    """The records of a trace file, and one message per line that could not be read
    (``FILE:LINE: why``); the lines around a bad one are kept."""
    records: list[Record] = []
    errors: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_record(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                errors.append(f"{path}:{number}: {exc}")
    return records, errors


@dataclass(frozen=True, slots=True)
class Difference:
    """One decision where the replayed pacer's count parts from the recorded one."""

    t: float
    recorded: int
    replayed: int
    recorded_reason: str | None  # why the engine's pacer chose its count (if traced)
    replayed_reason: str | None  # why the replayed pacer chose its count


@dataclass
class Replay:
    """What a pacer returned on a trace's decisions, against what was recorded."""

    decisions: int = 0
    recorded_dials: int = 0
    replayed_dials: int = 0
    differing: int = 0
    #: the first decisions that differ
    first_differences: list[Difference] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)


def replay(records: Iterable[Record], pacer: Pacer, *, keep: int = 10) -> Replay:
    """Feed the records to ``pacer`` in order (a seed starts its abandonment ledger, if it
    has one); count where its counts part from the trace's."""
    out = Replay()
    for record in records:
        if isinstance(record, Event):
            pacer.observe(record)
            continue
        if isinstance(record, Seed):
            ledger = getattr(pacer, "ledger", None)
            if isinstance(ledger, AbandonmentLedger):
                record.apply(ledger)
            continue
        n = pacer.decide(record.view)
        out.decisions += 1
        out.recorded_dials += record.n
        out.replayed_dials += n
        reason = pacer_reason(pacer)
        if reason is not None:
            out.reasons[reason] = out.reasons.get(reason, 0) + 1
        if n != record.n:
            out.differing += 1
            if len(out.first_differences) < keep:
                out.first_differences.append(
                    Difference(record.view.t, record.n, n, record.reason, reason)
                )
    return out
