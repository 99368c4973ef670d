"""Pacing profiles edited while the engine runs."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dialer.errors import DialerError
from dialer.runtime.profiles import PacerHost, ProfileUnavailableError, ProfileWatcher
from pacing import types as pt


class BadProfileError(DialerError):
    """A test loader's refusal."""


def load_ratio(path: Path) -> float:
    """A tiny loader: the file must hold `ratio = <number ≥ 1>`."""
    data = tomllib.loads(path.read_text())
    ratio = data.get("ratio")
    if not isinstance(ratio, int | float) or ratio < 1:
        msg = f"{path}: ratio: must be a number ≥ 1"
        raise BadProfileError(msg)
    return float(ratio)


def touch_later(path: Path, text: str) -> None:
    """Write the file and move its mtime forward so the change is seen."""
    path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime + 10, stat.st_mtime + 10))


def test_valid_change_is_picked_up(tmp_path: Path) -> None:
    """A changed, valid profile is reported once and becomes the current one."""
    (tmp_path / "fast.toml").write_text("ratio = 2\n")
    watcher = ProfileWatcher(tmp_path, load_ratio)
    assert [c.name for c in watcher.poll()] == ["fast"]
    assert watcher.poll() == []
    touch_later(tmp_path / "fast.toml", "ratio = 3\n")
    changes = watcher.poll()
    assert [(c.name, c.profile) for c in changes] == [("fast", 3.0)]
    assert watcher.get("fast") == 3.0


def test_invalid_change_is_refused_and_old_profile_kept(tmp_path: Path) -> None:
    """An invalid edit is reported with the loader's error and the old profile stays."""
    (tmp_path / "fast.toml").write_text("ratio = 2\n")
    watcher = ProfileWatcher(tmp_path, load_ratio)
    watcher.poll()
    touch_later(tmp_path / "fast.toml", "ratio = 0\n")
    (change,) = watcher.poll()
    assert change.profile is None
    assert change.error is not None
    assert "ratio: must be a number" in change.error
    assert watcher.get("fast") == 2.0


def test_missing_profile_names_what_is_loaded(tmp_path: Path) -> None:
    """Asking for an unknown profile says which ones exist."""
    (tmp_path / "a.toml").write_text("ratio = 2\n")
    watcher = ProfileWatcher(tmp_path, load_ratio)
    watcher.poll()
    with pytest.raises(ProfileUnavailableError, match="loaded: a"):
        watcher.get("b")


@dataclass
class CountingPacer:
    """Counts the events it saw and answers with that count."""

    seen: list[pt.Event] = field(default_factory=list)

    def observe(self, event: pt.Event) -> None:
        self.seen.append(event)

    def decide(self, view: pt.View) -> int:
        return len(self.seen)


def test_swapped_pacer_learns_the_history() -> None:
    """A pacer swapped in after a profile change is fed the events seen so far."""
    host = PacerHost(CountingPacer(), history=2)
    for t in range(3):
        host.observe(pt.Event(t=float(t), kind=pt.DIAL, call_id=t))
    fresh = CountingPacer()
    host.swap(fresh)
    assert [e.t for e in fresh.seen] == [1.0, 2.0]
    assert host.decide(pt.View(t=3.0, agents_logged_in=1, agents_ready=1)) == 2


def test_the_engine_stats_name_the_reason_of_a_hosted_pacer() -> None:
    """The engine drives every campaign's pacer through a PacerHost: the stats' pacer reason
    (read by the floor's idle reasons, "compliance guard") is the hosted pacer's. It was
    always empty: the host did not pass the pacer's status on."""
    from dialer.engine import CampaignRun, Engine
    from dialer.engine.clock import VirtualClock
    from dialer.runtime.mqtt import MemorySink
    from dialer.sim.memory import MemoryJournal, MemoryLeads
    from pacing.pacers import PredictivePacer

    leads = MemoryLeads([])
    engine = Engine(
        clock=VirtualClock(), leads=leads, journal=MemoryJournal(leads), sink=MemorySink()
    )
    host = PacerHost(PredictivePacer())
    engine.add_campaign(CampaignRun(1, "demo", host, max_wait_s=2.0))
    host.decide(pt.View(t=1.0, agents_logged_in=1, agents_ready=1, lines_free=10))
    assert engine.stats(1)["pacer_reason"] == "small_team"


def test_a_trace_that_cannot_be_written_is_given_up_and_pacing_goes_on(tmp_path: Path) -> None:
    """``[pacing] trace_dir`` under a file (or a full disk): the first write fails, the
    error is logged once with the path, the trace is dropped, and the pacer keeps being
    fed and asked."""
    from structlog.testing import capture_logs

    from pacing.trace import TraceWriter

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    host = PacerHost(CountingPacer(), trace=TraceWriter(blocker / "tr-campaign-1.jsonl"))
    with capture_logs() as logs:
        host.observe(pt.Event(t=1.0, kind=pt.DIAL, call_id=1))
        host.observe(pt.Event(t=2.0, kind=pt.DIAL, call_id=2))
        n = host.decide(pt.View(t=3.0, agents_logged_in=1, agents_ready=1))
    assert n == 2
    assert host.trace is None
    failed = [e for e in logs if e["event"] == "pacer_trace_failed"]
    assert len(failed) == 1
    assert "not-a-folder" in failed[0]["path"]
