"""Pacer traces: what a campaign's pacer saw and returned, written as it happens and
replayed through any profile (``dialer pacing replay``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pacing.accounting import AbandonmentLedger
from pacing.referee import RefereeAdapter, predictive, to_event, to_view
from pacing.trace import Decision, Seed, TraceWriter, read_trace, replay
from pacing.types import CONNECT, DROP, Event, View
from tests.pacing.outcomes import SCENARIOS, require_referee, run


class _Traced(RefereeAdapter):
    """The predictive pacer run by the referee, its inputs and answers traced."""

    def __init__(self, inner: RefereeAdapter, trace: TraceWriter) -> None:
        super().__init__(inner.pacer)
        self.inner, self.trace = inner, trace

    def observe(self, event: Any) -> None:
        self.inner.observe(event)
        self.trace.event(to_event(event))

    def decide(self, view: Any) -> int:
        n = self.inner.decide(view)
        status = getattr(self.pacer, "status", None)
        self.trace.decision(to_view(view), n, getattr(status, "reason", None))
        return n


def _young_floor_trace(path: Path) -> None:
    """Two minutes of the 62-agent young floor (seed 77: a wave sized on a first wave that
    answered little), traced."""
    trace = TraceWriter(path)
    run(
        SCENARIOS / "young-floor-62.toml",
        lambda params: _Traced(predictive(params), trace),
        seeds=range(77, 78),
        duration_s=120,
    )
    trace.close()


def test_a_trace_replays_to_the_same_decisions_and_shows_another_profiles(
    tmp_path: Path,
) -> None:
    """Replayed through the profile that ran, every decision of the trace is the one
    recorded (the trace holds all the pacer saw); without the estimate's own error the
    pacer would have dialed more calls at the same moments."""
    require_referee()
    path = tmp_path / "young.jsonl"
    _young_floor_trace(path)
    records, errors = read_trace(path)
    assert errors == []
    assert sum(isinstance(r, Decision) for r in records) == 240  # a decision each 0.5 s
    same = replay(records, predictive({"target_abandon": 0.03, "max_wait_s": 2.0}).pacer)
    assert same.differing == 0
    assert same.replayed_dials == same.recorded_dials > 100
    assert same.reasons["cold_start"] > 0
    blind = replay(
        records,
        predictive(
            {"target_abandon": 0.03, "max_wait_s": 2.0, "estimators.rate_error_weight": 0.0}
        ).pacer,
    )
    assert blind.differing > 0
    assert blind.replayed_dials > blind.recorded_dials
    first = blind.first_differences[0]
    assert first.replayed > first.recorded
    # why each side chose its count: the engine's reason from the trace, the replay's own
    assert first.recorded_reason == "risk"
    assert first.replayed_reason == "risk"


def test_bad_lines_are_named_and_the_rest_is_replayed(tmp_path: Path) -> None:
    """A line that is not JSON, or has a field out of range, is reported with its file and
    line number (and the field); the records around it are kept."""
    path = tmp_path / "bad.jsonl"
    writer = TraceWriter(path)
    writer.event(Event(1.0, CONNECT, 1, 1, 0.0))
    writer.close()
    with path.open("a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"v": [2.0, 1, -1, [], [], [], [], 0, 5], "n": 0}) + "\n")
        f.write(json.dumps({"e": [3.0, "teleport", None, None, None, None]}) + "\n")
    writer.decision(View(4.0, 1, 1, (1.0,), (), (), (), 0, 5), 1, "small_team")
    writer.close()
    records, errors = read_trace(path)
    assert len(records) == 2
    assert [e.split(": ", 1)[0] for e in errors] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "agents_ready" in errors[1]
    assert "teleport" in errors[2]


def test_a_seed_starts_the_replayed_ledger_as_the_engine_started_it(tmp_path: Path) -> None:
    """The ledger's start (the calendar of the campaign's zone and the call log's facts)
    is in the trace: a replayed pacer guards the same windows as the engine's did."""
    path = tmp_path / "seeded.jsonl"
    writer = TraceWriter(path)
    utc = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)
    facts = [(900.0 - 60 * k, CONNECT) for k in range(10)] + [(950.0, DROP)]
    writer.seed(Seed(1000.0, utc, "Europe/Warsaw", tuple(facts)))
    writer.close()
    records, errors = read_trace(path)
    assert errors == []
    (seed,) = records
    assert isinstance(seed, Seed)
    ledger = AbandonmentLedger()
    seed.apply(ledger)
    today, r24, _ = ledger.windows(1000.0)
    assert (r24.drops, r24.answered) == (1.0, 11.0)
    assert (today.drops, today.answered) == (1.0, 11.0)
    pacer = predictive({"target_abandon": 0.03, "max_wait_s": 2.0}).pacer
    replay(records, pacer)
    assert pacer.ledger.windows(1000.0)[1].drops == 1.0
