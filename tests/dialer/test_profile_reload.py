"""Ops edit a pacing profile while the engine runs: valid edits apply, invalid ones don't."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from campaigns.db import make_engine
from campaigns.demo import build_demo
from dialer.config import Settings
from dialer.runtime import Runtime
from dialer.runtime.profiles import PacerHost
from pacing.pacers import PredictivePacer, RatioPacer

ROOT = Path(__file__).parents[2]


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime + 10, stat.st_mtime + 10))


def test_profile_edit_applies_at_next_tick_and_bad_edit_keeps_the_old(tmp_path: Path) -> None:
    """Switching the campaign's profile to ratio swaps its pacer; a broken file changes
    nothing and the campaign keeps pacing with the last good profile."""
    profiles = tmp_path / "pacing"
    shutil.copytree(ROOT / "config/pacing", profiles)
    db = tmp_path / "reload.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(engine, records=50, now=dt.datetime.now(dt.UTC), running=True)
    engine.dispose()
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{db}"},
            "pacing": {"profiles_dir": str(profiles)},
            "asterisk": {"servers": [{"name": "sim", "port": 1}]},
        }
    )
    runtime = Runtime(settings)
    runtime.profiles.poll()
    runtime.sync_campaigns()
    host = runtime.engine.campaigns[1].pacer
    assert isinstance(host, PacerHost)
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
