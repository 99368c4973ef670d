"""Crash safety: kill -9 of the engine mid-campaign, then a restart."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.models import utcnow

ROOT = Path(__file__).parents[2]
DIALER = [sys.executable, "-m", "dialer.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port}")


def _start_engine(config: Path, log: Path) -> subprocess.Popen[bytes]:
    args = [
        *DIALER, "--config", str(config), "run",
        "--sim-agents", str(ROOT / "config/scenarios/demo.toml"),
        "--campaign", "1", "--time-scale", "20",
    ]  # fmt: skip
    return _spawn(args, log)


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603  (our own CLI)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def _floor(
    tmp_path: Path, engine_id: str, extra: str = "", *, amd: bool = True
) -> tuple[Path, Path, int]:
    """A demo campaign in SQLite and an engine config for it: (db file, config, AMI port)."""
    db = tmp_path / f"{engine_id}.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(engine, records=2000, now=utcnow(), agents=10, running=True, always_open=True)
    engine.dispose()
    port = _free_port()
    config = tmp_path / "dialer.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n[engine]\nid = "{engine_id}"\ntick_s = 0.5\n'
        f'{extra}[pacing]\nprofiles_dir = "{ROOT / "config/pacing"}"\n'
        f'[[asterisk.servers]]\nname = "sim"\nport = {port}\nmax_channels = 80\n'
        f"originates_per_second = 200\namd = {str(amd).lower()}\n"
    )
    return db, config, port


def _start_sim(port: int, log: Path) -> subprocess.Popen[bytes]:
    return _spawn(
        [*DIALER, "pbx-sim", "--scenario", str(ROOT / "config/scenarios/demo.toml"),
         "--port", str(port), "--time-scale", "20"],
        log,
    )  # fmt: skip


def _wait_open_calls(db: Path, at_least: int = 3, within_s: float = 30.0) -> int:
    """Wait until ``at_least`` call-log rows are open (calls in flight); how many are."""
    deadline = time.monotonic() + within_s
    open_rows = 0
    while time.monotonic() < deadline:
        open_rows = int(_rows(db, "SELECT count(*) FROM call_log WHERE end_at IS NULL")[0][0])  # type: ignore[call-overload]
        if open_rows >= at_least:
            break
        time.sleep(0.2)
    return open_rows


@pytest.mark.slow
def test_kill_9_and_restart_lose_nothing_and_dial_nothing_twice(tmp_path: Path) -> None:
    """After kill -9 mid-campaign and a restart, every open attempt is closed with an
    outcome, no record is locked, and no record is dialed while its previous call may be up."""
    db, config, port = _floor(tmp_path, "crash", "")
    sim = _start_sim(port, tmp_path / "sim.log")
    try:
        _wait_port(port)
        first = _start_engine(config, tmp_path / "run1.log")
        _wait_open_calls(db)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        open_ids = [r[0] for r in _rows(db, "SELECT id FROM call_log WHERE end_at IS NULL")]
        leased = _rows(db, "SELECT count(*) FROM record WHERE lease_owner LIKE 'crash/%'")[0][0]
        assert open_ids, "the engine was killed with calls in flight"
        assert int(leased) >= len(open_ids)  # type: ignore[call-overload]

        second = _start_engine(config, tmp_path / "run2.log")
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                still = _rows(
                    db,
                    "SELECT count(*) FROM call_log WHERE end_at IS NULL AND id IN "
                    f"({','.join(str(i) for i in open_ids)})",
                )[0][0]
                newer = _rows(db, f"SELECT count(*) FROM call_log WHERE id > {max(open_ids)}")
                served = "call_connected" in (tmp_path / "run2.log").read_text()
                if still == 0 and int(newer[0][0]) > 5 and served:  # type: ignore[call-overload]
                    break
                time.sleep(0.2)
            assert still == 0, "attempts open at the crash are closed with an outcome"
            outcomes = _rows(
                db,
                "SELECT DISTINCT outcome FROM call_log WHERE id IN "
                f"({','.join(str(i) for i in open_ids)})",
            )
            assert all(o[0] is not None for o in outcomes)
            overlaps = _rows(
                db,
                "SELECT count(*) FROM call_log a JOIN call_log b ON a.record_id = b.record_id "
                "AND a.id < b.id WHERE b.dial_at < coalesce(a.end_at, '9999-12-31')",
            )[0][0]
            assert overlaps == 0
            log = (tmp_path / "run2.log").read_text()
            assert "adopted_after_restart" in log
            assert "call_connected" in log, "the restarted engine serves agents again"
        finally:
            os.kill(second.pid, signal.SIGKILL)
            second.wait()
        total = _rows(db, "SELECT count(*) FROM record")[0][0]
        assert total == 2000
    finally:
        sim.terminate()
        sim.wait(timeout=10)


@pytest.mark.slow
def test_sigterm_drains_and_leaves_nothing_open(tmp_path: Path) -> None:
    """SIGTERM mid-campaign: the engine stops dialing, lets its calls finish or hangs them
    up after engine.drain_s, and exits with every call-log row closed and no lease held."""
    db, config, port = _floor(tmp_path, "term", "drain_s = 20\n", amd=False)
    sim = _start_sim(port, tmp_path / "sim.log")
    try:
        _wait_port(port)
        run = _start_engine(config, tmp_path / "run.log")
        assert _wait_open_calls(db) >= 3, "calls in flight at the stop"
        os.kill(run.pid, signal.SIGTERM)
        assert run.wait(timeout=60) == 0
        still_open = _rows(db, "SELECT count(*) FROM call_log WHERE end_at IS NULL")[0][0]
        leased = _rows(db, "SELECT count(*) FROM record WHERE lease_owner IS NOT NULL")[0][0]
        assert (still_open, leased) == (0, 0)
        log = (tmp_path / "run.log").read_text()
        assert "engine_drained" in log
    finally:
        sim.terminate()
        sim.wait(timeout=10)
