"""Ops edit a pacing profile while the engine runs: valid edits apply, invalid ones don't."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from campaigns.db import make_engine
from campaigns.demo import build_demo
from dialer.config import Settings
from dialer.engine.clock import VirtualClock
from dialer.runtime import Runtime
from dialer.runtime.profiles import PacerHost
from dialer.runtime.store import SqlJournal
from pacing.pacers import PredictivePacer, RatioPacer
from pacing.types import CONNECT, Event
from tests.dialer.test_abandonment_truth import connect, drop

ROOT = Path(__file__).parents[2]


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime + 10, stat.st_mtime + 10))


def _loaded(tmp_path: Path, db_path: Path) -> tuple[Runtime, PacerHost, Path]:
    """A runtime (not running) over ``db_path`` whose profiles are a copy of
    config/pacing, its campaigns loaded; campaign 1's pacer host and the profiles' folder."""
    profiles = tmp_path / "pacing"
    shutil.copytree(ROOT / "config/pacing", profiles)
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{db_path}"},
            "pacing": {"profiles_dir": str(profiles)},
            "asterisk": {"servers": [{"name": "sim", "port": 1}]},
        }
    )
    runtime = Runtime(settings)
    runtime.profiles.poll()
    runtime.sync_campaigns()
    host = runtime.engine.campaigns[1].pacer
    assert isinstance(host, PacerHost)
    return runtime, host, profiles


def test_profile_edit_applies_at_next_tick_and_bad_edit_keeps_the_old(tmp_path: Path) -> None:
    """Switching the campaign's profile to ratio swaps its pacer; a broken file changes
    nothing and the campaign keeps pacing with the last good profile."""
    db = tmp_path / "reload.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(engine, records=50, now=dt.datetime.now(dt.UTC), running=True)
    engine.dispose()
    runtime, host, profiles = _loaded(tmp_path, db)
    assert isinstance(host.pacer, PredictivePacer)

    _touch(profiles / "predictive.toml", 'mode = "ratio"\nratio = 2.5\n')
    runtime._apply_profile_changes()
    assert isinstance(host.pacer, RatioPacer)

    _touch(profiles / "predictive.toml", 'mode = "turbo"\n')
    runtime._apply_profile_changes()
    assert isinstance(host.pacer, RatioPacer)
    assert "mode" in runtime.profiles.errors["predictive"]
    runtime.journal.close()
    runtime.db.dispose()


def test_a_reloaded_profile_keeps_the_drops_from_before_the_engine_started(
    tmp_path: Path,
) -> None:
    """A profile edit builds a new pacer: its ledger starts from the call log up to the
    first event the host remembers and takes the rest from the replayed events, so the
    drops before this engine's start still count (they were forgotten at a reload) and a
    fact the engine saw itself is not counted twice."""
    db_path = tmp_path / "reload.db"
    db = make_engine(f"sqlite:///{db_path}")
    build_demo(db, records=50, now=dt.datetime.now(dt.UTC), running=True)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    past = SqlJournal(db, engine_id="earlier", clock=VirtualClock(before))
    for k in range(40):
        connect(past, before + dt.timedelta(seconds=20 * k))
    for k in range(2):
        drop(past, before + dt.timedelta(minutes=20 + k))
    db.dispose()
    runtime, host, profiles = _loaded(tmp_path, db_path)
    now = runtime.clock.now()
    host.observe(Event(now - 0.001, CONNECT, 9001, 1, 0.0))  # this engine's own connect
    live = SqlJournal(runtime.db, engine_id="live", clock=VirtualClock(runtime.clock.utcnow()))
    connect(live, runtime.clock.utcnow())  # ... and its row in the call log

    def r24() -> tuple[float, float]:
        assert isinstance(host.pacer, PredictivePacer)
        window = host.pacer.ledger.windows(runtime.clock.now())[1]
        return window.drops, window.answered

    assert r24() == (2.0, 43.0)
    _touch(profiles / "predictive.toml", "[predictive]\nrisk_gain = 0.2\n")
    runtime._apply_profile_changes()
    assert isinstance(host.pacer, PredictivePacer)
    assert host.pacer.settings.risk_gain == 0.2
    assert r24() == (2.0, 43.0)
    runtime.journal.close()
    runtime.db.dispose()
