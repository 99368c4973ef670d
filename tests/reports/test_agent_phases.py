"""The agents' phase history: written by the runtime when an agent changes phase, rolled up
per hour by the job, and read by the agents report (pause time per reason, logged-in time,
occupancy, calls per hour, missed reservations, callbacks kept), equal to a plain oracle
over the raw history and call log whatever the job has done."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from asterisk import events as ev
from campaigns.db import create_schema, make_engine
from campaigns.reports import (
    BUSY_PHASES,
    Dim,
    Scope,
    agents_report,
    fill_rollups,
    rollup_hours,
)
from dialer.engine import CampaignRun, Engine, PhaseChange
from dialer.engine.clock import VirtualClock
from dialer.runtime.mqtt import MemorySink
from dialer.runtime.store import SqlJournal
from dialer.sim.memory import MemoryJournal, MemoryLeads, MemoryRecord
from pacing.pacers import ProgressivePacer
from tests.reports.data import (
    FIRST,
    LAST,
    generate,
    generate_phases,
    raw_calls,
    raw_phases,
)
from tests.reports.test_reports_oracle import db

__all__ = ["db"]  # the fixture, imported for the tests below

NOW = LAST - dt.timedelta(minutes=20)


@dataclass
class ListPhaseLog:
    """Keeps the phase changes it is given, in order."""

    changes: list[PhaseChange] = field(default_factory=list)

    def agent_phase(self, change: PhaseChange) -> None:
        self.changes.append(change)


def test_the_engine_reports_each_phase_change_when_it_happens() -> None:
    """Login, seat up, pause with a reason, ready, logout: each change reaches the phase log
    at once with the wall time it happened, its campaign and its reason."""
    clock = VirtualClock()
    leads = MemoryLeads([MemoryRecord(1, 1, "+48221000001")])
    log = ListPhaseLog()
    engine = Engine(
        clock=clock, leads=leads, journal=MemoryJournal(leads), sink=MemorySink(), phases=log
    )
    engine.add_campaign(CampaignRun(1, "demo", ProgressivePacer(), max_wait_s=2.0))
    engine.agent_login(7, "1007", 1)
    clock.advance(3)
    engine.on_event(ev.SeatUp(agent_id="1007", channel="x"))
    clock.advance(60)
    engine.agent_pause(7, "lunch")
    clock.advance(1800)
    engine.agent_ready(7)
    clock.advance(10)
    engine.agent_logout(7)
    got = [(c.agent_id, c.campaign_id, c.phase, c.reason) for c in log.changes]
    assert got == [
        (7, 1, "paused", "seat"),
        (7, 1, "ready", None),
        (7, 1, "paused", "lunch"),
        (7, 1, "ready", None),
        (7, 1, "logged_out", None),
    ]
    times = [c.at for c in log.changes]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [
        3,
        60,
        1800,
        10,
    ]


def test_the_journal_writes_stretches_and_a_logout_closes_the_last(tmp_path: Path) -> None:
    """Each change closes the open stretch and opens the next; a logout opens none; a change
    written twice (a retry after an outage) opens its stretch once."""
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    create_schema(engine)
    journal = SqlJournal(engine, engine_id="e", clock=VirtualClock())
    t0 = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    steps = [("paused", "seat", 0), ("ready", None, 4), ("paused", "break", 600)]
    for phase, reason, s in steps:
        change = PhaseChange(7, 1, phase, reason, None, t0 + dt.timedelta(seconds=s))
        journal.agent_phase(change)
    journal.agent_phase(change)  # the last one again
    journal.agent_phase(PhaseChange(7, 1, "logged_out", None, None, t0 + dt.timedelta(hours=1)))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT phase, reason, start_at, end_at FROM agent_phase ORDER BY id")
        ).all()
    got = [
        (
            r[0],
            r[1],
            (dt.datetime.fromisoformat(r[2]).replace(tzinfo=dt.UTC) - t0).total_seconds(),
            (dt.datetime.fromisoformat(r[3]).replace(tzinfo=dt.UTC) - t0).total_seconds(),
        )
        for r in rows
    ]
    assert got == [
        ("paused", "seat", 0, 4),
        ("ready", None, 4, 600),
        ("paused", "break", 600, 3600),
    ]


def _oracle(
    phases: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    s: Scope,
    key_of: Any,
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"phases": defaultdict(float), "pauses": defaultdict(float), "missed": 0}
    )
    for p in phases:
        if s.agents is not None and p["agent_id"] not in s.agents:
            continue
        if s.campaign_id is not None and p["campaign_id"] != s.campaign_id:
            continue
        a = max(p["start_at"], s.start)
        b = min(p["end_at"] or NOW, s.end)
        k = key_of(p)
        if a < b:
            out[k]["phases"][p["phase"]] += (b - a).total_seconds()
            if p["phase"] == "paused":
                out[k]["pauses"][p["reason"]] += (b - a).total_seconds()
        if p["dropped"] and s.start <= p["start_at"] < s.end:
            out[k]["missed"] += 1
    by_record: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in calls:
        by_record[c["record_id"]].append(c)
    # A callback is kept by the call that keeps it (dialed in the period): answered by the
    # agent who booked the record as MY_RECORD on its previous call.
    for c in calls:
        if not (s.start <= c["dial_at"] < s.end) or c["outcome"] != "answered":
            continue
        if c["agent_id"] is None or (s.agents is not None and c["agent_id"] not in s.agents):
            continue
        if s.campaign_id is not None and c["campaign_id"] != s.campaign_id:
            continue
        earlier = [n for n in by_record[c["record_id"]] if n["id"] < c["id"]]
        booking = max(earlier, key=lambda n: n["id"]) if earlier else None
        kept = booking is not None and booking["system_status"] == "MY_RECORD"
        kept = kept and booking is not None and booking["agent_id"] == c["agent_id"]
        out[key_of(c)]["kept"] = out[key_of(c)].get("kept", 0) + kept
    return out


@pytest.mark.parametrize("state", ["raw", "partial", "full"])
def test_agents_phase_figures_equal_the_raw_history(db: sa.Engine, state: str) -> None:
    """Logged-in time per phase and pause reason, occupancy, calls per hour, missed
    reservations and callbacks kept equal the oracle's, per agent and per group, for all,
    one campaign and a scoped reader; periods cut hours and stretches in the middle."""
    gen = generate(db)
    generate_phases(db, gen)
    if state == "partial":
        rollup_hours(db, FIRST, NOW, now=FIRST + (NOW - FIRST) / 2)
    elif state == "full":
        fill_rollups(db, now=NOW)
    phases, calls = raw_phases(db), raw_calls(db)
    start = FIRST + dt.timedelta(days=3, minutes=17)
    end = LAST - dt.timedelta(hours=1, minutes=5)
    scopes = (
        Scope(start=start, end=end),
        Scope(start=start, end=end, campaign_id=gen.campaigns[1]),
        Scope(start=start, end=end, agents=frozenset(gen.agents[:2])),
    )
    with db.connect() as conn:
        for s in scopes:
            for dim in (Dim.AGENT, Dim.GROUP):

                def key_of(row: dict[str, Any], dim: Dim = dim) -> int:
                    return int(row["agent_id"] if dim is Dim.AGENT else row["group_id"] or 0)

                want = _oracle(phases, calls, s, key_of)
                got = {line.key: line for line in agents_report(conn, s, dim=dim, now=NOW)}
                for key, w in want.items():
                    line = got[key]
                    assert line.phases == pytest.approx(dict(w["phases"]), abs=0.11)
                    assert line.pauses == pytest.approx(dict(w["pauses"]), abs=0.11)
                    assert line.missed == w["missed"]
                    assert line.metrics["callbacks_kept"] == w.get("kept", 0)
                    logged_in = sum(w["phases"].values())
                    assert line.logged_in_s == pytest.approx(logged_in, abs=0.5)
                    working = logged_in - w["phases"].get("paused", 0.0)
                    busy = sum(w["phases"].get(p, 0.0) for p in BUSY_PHASES)
                    if working > 0:
                        assert line.occupancy_pct == pytest.approx(100 * busy / working, abs=0.01)
                    if logged_in > 0:
                        assert line.calls_per_hour == pytest.approx(
                            line.metrics["connected"] * 3600 / logged_in, abs=0.01
                        )
                assert {k for k, line in got.items() if line.phases} == {
                    k for k, w in want.items() if w["phases"]
                }
                assert sum(w["missed"] for w in want.values()) > 0 or s.agents is not None
