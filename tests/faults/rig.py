"""A rig for the fault suite: a PostgreSQL schema per test, the PBX simulator and the
engine (``dialer run`` with simulated agents) as subprocesses, a TCP relay to cut the
database, a private Mosquitto, and the checks of what must hold after any fault."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from campaigns.abandonment import abandonment_windows
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.migrate import upgrade
from campaigns.models import utcnow
from tests.conftest import in_ci

ROOT = Path(__file__).parents[2]
DIALER = [sys.executable, "-m", "dialer.cli"]
SCENARIO = ROOT / "config/scenarios/demo.toml"
TIME_SCALE = 20
LEASE_S = 10  # engine seconds
MOSQUITTO_DOC = ROOT / "config/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port} within {within_s} s")


def wait_for(what: str, condition: Callable[[], bool], within_s: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"not within {within_s} s: {what}")


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603  (our own programs)


class Relay:
    """Forwards TCP connections from a local port to ``target``; :meth:`cut` drops every
    open connection and refuses new ones until :meth:`restore`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._server = self._listen(0)
        self.port = self._server.getsockname()[1]
        self._start()

    def _listen(self, port: int) -> socket.socket:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(64)
        return server

    def _start(self) -> None:
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with contextlib.suppress(OSError):  # wakes the accepting thread (Linux)
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        self._server = self._listen(self.port)
        self._start()

    def close(self) -> None:
        self.cut()


class Mosquitto:
    """A private broker with the documented config/mosquitto set-up on a free loopback
    port; :meth:`stop` kills it (SIGKILL), :meth:`start` brings it back on the same port."""

    def __init__(self, tmp: Path) -> None:
        mosquitto, passwd = shutil.which("mosquitto"), shutil.which("mosquitto_passwd")
        if mosquitto is None or passwd is None:
            if in_ci():
                pytest.fail("mosquitto and mosquitto_passwd are needed (CI=true: must run)")
            pytest.skip("install mosquitto to run the MQTT fault test")
        self.tmp, self.binary = tmp, mosquitto
        self.passwords = dict(
            line.split(":", 1)
            for line in (MOSQUITTO_DOC / "passwords.example").read_text().splitlines()
        )
        hashed = tmp / "passwords"
        shutil.copy(MOSQUITTO_DOC / "passwords.example", hashed)
        subprocess.run([passwd, "-U", str(hashed)], check=True)  # noqa: S603
        shutil.copy(MOSQUITTO_DOC / "acl", tmp / "acl")
        self.port = free_port()
        conf = (MOSQUITTO_DOC / "mosquitto.conf").read_text()
        conf = re.sub(r"(?m)^password_file .*$", f"password_file {hashed}", conf)
        conf = re.sub(r"(?m)^acl_file .*$", f"acl_file {tmp / 'acl'}", conf)
        conf = re.sub(r"(?m)^listener 1883 .*$", f"listener {self.port} 127.0.0.1", conf)
        conf = re.sub(r"(?m)^(persistence|persistence_location|log_dest) .*$", "", conf)
        conf += f"\nuser {getpass.getuser()}\nlog_dest stderr\n"
        (tmp / "mosquitto.conf").write_text(conf)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = spawn(
            [self.binary, "-c", str(self.tmp / "mosquitto.conf")], self.tmp / "mosquitto.log"
        )
        wait_port(self.port, 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class Rig:
    """One campaign on its own PostgreSQL schema, the simulator and the engine."""

    tmp: Path
    pg_url: str
    schema: str = field(default_factory=lambda: f"fault_{uuid.uuid4().hex[:12]}")
    mqtt: Mosquitto | None = None
    relay: Relay | None = None
    drain_s: float = 20.0
    sim_port: int = field(default_factory=free_port)
    sim: subprocess.Popen[bytes] | None = None
    engine_proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    campaign_id: int = 0
    db: sa.Engine | None = field(default=None, init=False)
    config: Path = field(init=False)

    # ------------------------------------------------------------------ set-up
    def url(self, *, via_relay: bool = False) -> str:
        url = make_url(self.pg_url)
        if via_relay:
            assert self.relay is not None
            url = url.set(host="127.0.0.1", port=self.relay.port)
        url = url.update_query_dict({"options": f"-csearch_path={self.schema}"})
        return url.render_as_string(hide_password=False)

    def setup(self) -> None:
        admin = make_engine(self.pg_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
        admin.dispose()
        self.db = db = make_engine(self.url())
        upgrade(db)
        self.campaign_id = build_demo(
            db, records=2000, now=utcnow(), agents=10, running=True, always_open=True
        )
        mqtt = ""
        if self.mqtt is not None:
            mqtt = (
                f'[mqtt]\nenabled = true\nport = {self.mqtt.port}\nusername = "dialer-engine"\n'
                f'password = "{self.mqtt.passwords["dialer-engine"]}"\n'
            )
        self.config = self.tmp / "dialer.toml"
        self.config.write_text(
            f'[database]\nurl = "{self.url(via_relay=self.relay is not None)}"\n'
            f'[engine]\nid = "fault"\ntick_s = 0.5\nlease_s = {LEASE_S}\n'
            f"drain_s = {self.drain_s}\n"
            f'[pacing]\nprofiles_dir = "{ROOT / "config/pacing"}"\n'
            f'[[asterisk.servers]]\nname = "sim"\nport = {self.sim_port}\nmax_channels = 80\n'
            f"originates_per_second = 200\namd = true\n{mqtt}"
        )
        self.sim = spawn(
            [*DIALER, "pbx-sim", "--scenario", str(SCENARIO), "--port", str(self.sim_port),
             "--time-scale", str(TIME_SCALE)],
            self.tmp / "sim.log",
        )  # fmt: skip
        wait_port(self.sim_port)

    def teardown(self) -> None:
        for proc in (self.engine_proc, self.sim):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.relay is not None:
            self.relay.close()
        if self.db is not None:
            self.db.dispose()
        admin = make_engine(self.pg_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        admin.dispose()

    # ------------------------------------------------------------------ the engine
    def start_engine(self) -> Path:
        log = self.tmp / f"run{len(self.logs) + 1}.log"
        self.logs.append(log)
        self.engine_proc = spawn(
            [*DIALER, "--config", str(self.config), "run", "--sim-agents", str(SCENARIO),
             "--campaign", str(self.campaign_id), "--time-scale", str(TIME_SCALE)],
            log,
        )  # fmt: skip
        return log

    def kill_engine(self, sig: signal.Signals, within_s: float = 60.0) -> int:
        proc = self.engine_proc
        assert proc is not None
        os.kill(proc.pid, sig)
        code = proc.wait(timeout=within_s)
        self.engine_proc = None
        return code

    def engine_alive(self) -> bool:
        return self.engine_proc is not None and self.engine_proc.poll() is None

    def log_text(self) -> str:
        return "".join(log.read_text(errors="replace") for log in self.logs)

    def wait_log(self, event: str, after: int = 0, within_s: float = 30.0) -> None:
        """Wait for ``event`` in the engine's log past offset ``after``."""
        wait_for(
            f"{event} in the engine's log",
            lambda: f'"event": "{event}"' in self.log_text()[after:],
            within_s,
        )

    def sim_control(self, op: str) -> None:
        """Send ``SimControl Op: <op>`` to the simulator after a Login."""
        with socket.create_connection(("127.0.0.1", self.sim_port), timeout=5) as sock:
            sock.sendall(
                b"Action: Login\r\nUsername: fault\r\nSecret: fault\r\nActionID: l1\r\n\r\n"
                + f"Action: SimControl\r\nOp: {op}\r\nActionID: s1\r\n\r\n".encode()
            )
            got = b""
            deadline = time.monotonic() + 5
            while b"ActionID: s1" not in got and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        assert b"SimControl" in got, f"the simulator did not take SimControl {op}: {got!r}"

    # ------------------------------------------------------------------ the database
    def rows(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        assert self.db is not None
        with self.db.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]

    def scalar(self, sql: str, **params: object) -> int:
        return int(self.rows(sql, **params)[0][0] or 0)

    def open_calls(self) -> int:
        return self.scalar("SELECT count(*) FROM call_log WHERE end_at IS NULL")

    def last_call_id(self) -> int:
        return self.scalar("SELECT coalesce(max(id), 0) FROM call_log")

    def wait_calls_in_flight(self, n: int = 3, within_s: float = 30.0) -> None:
        wait_for(f"{n} calls in flight", lambda: self.open_calls() >= n, within_s)

    def wait_resumed(self, mark: int, log_offset: int, within_s: float = 30.0) -> None:
        """Dialing resumed after the recovery: new call-log rows past ``mark`` and an
        agent connected (``call_connected``) in the engine's log after ``log_offset``."""

        def resumed() -> bool:
            newer = self.scalar("SELECT count(*) FROM call_log WHERE id > :m", m=mark)
            return newer > 5 and "call_connected" in self.log_text()[log_offset:]

        wait_for(
            "dialing resumed after the recovery (new calls, an agent connected)", resumed, within_s
        )

    def run_on_then_drain(self, mark: int, log_offset: int) -> None:
        """Let the engine run on until it dials and serves again, then SIGTERM it."""
        self.wait_resumed(mark, log_offset)
        assert self.engine_alive(), f"the engine exited: {self.logs[-1].read_text()[-3000:]}"
        code = self.kill_engine(signal.SIGTERM)
        assert code == 0, f"the drained engine exited {code}: {self.logs[-1].read_text()[-3000:]}"
        assert "engine_drained" in self.logs[-1].read_text()

    def check_truth(self) -> None:
        """What must hold in the database after any fault, recovery and drain."""
        problems: list[str] = []
        overlaps = self.rows(
            "SELECT a.record_id, a.id, a.dial_at, a.end_at, b.id, b.dial_at "
            "FROM call_log a JOIN call_log b ON a.record_id = b.record_id AND a.id < b.id "
            "WHERE b.dial_at < coalesce(a.end_at, '9999-12-31') ORDER BY 1, 2"
        )
        if overlaps:
            problems.append(
                "records dialed while a call of theirs was live: "
                f"{sorted({r[0] for r in overlaps})}"
                " (record, call, dial_at, end_at, next call, its dial_at): "
                + "; ".join(", ".join(str(v) for v in r) for r in overlaps[:10])
            )
        bad_answered = self.rows(
            "SELECT id FROM call_log WHERE outcome = 'answered' AND "
            "(answer_at IS NULL OR connect_at IS NULL OR agent_id IS NULL) ORDER BY id"
        )
        if bad_answered:
            problems.append(
                "answered calls lacking answer_at/connect_at/agent_id: "
                f"{[r[0] for r in bad_answered]}"
            )
        still_open = self.rows("SELECT id FROM call_log WHERE end_at IS NULL ORDER BY id")
        if still_open:
            problems.append(f"open call-log rows: {[r[0] for r in still_open]}")
        leased = self.rows(
            "SELECT id, lease_owner FROM record WHERE lease_owner IS NOT NULL ORDER BY id"
        )
        if leased:
            problems.append(f"leases held: {leased[:20]}")
        drop_no_at = self.rows(
            "SELECT id FROM call_log WHERE outcome = 'dropped' AND drop_at IS NULL"
        )
        if drop_no_at:
            problems.append(f"dropped calls without drop_at: {[r[0] for r in drop_no_at]}")
        skipped = [
            line[:200]
            for line in self.log_text().splitlines()
            if '"telephony_action_skipped"' in line and '"ConnectCall"' in line
        ]
        if skipped:
            problems.append(
                "people recorded as connected to an agent whose ConnectCall was never sent: "
                + "; ".join(skipped[:5])
            )
        problems += self._abandonment_mismatches()
        assert not problems, "after the fault:\n  " + "\n  ".join(problems)

    def _abandonment_mismatches(self) -> list[str]:
        tz = str(self.rows("SELECT hours_tz FROM campaign WHERE id = :c", c=self.campaign_id)[0][0])
        latest = self.rows(
            "SELECT max(greatest(dial_at, end_at, connect_at, drop_at)) FROM call_log"
        )[0][0]
        assert isinstance(latest, dt.datetime), "the engine placed calls"
        now = latest.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=1)
        assert self.db is not None
        windows = abandonment_windows(self.db, self.campaign_id, now, tz)
        wrong: list[str] = []
        for window in (windows.today, windows.rolling_24h, windows.rolling_30d):
            since = window.since.astimezone(dt.UTC).replace(tzinfo=None)
            naive_now = now.replace(tzinfo=None)
            counts = {
                col: self.scalar(
                    f"SELECT count(*) FROM call_log WHERE campaign_id = :c AND {col} >= :s "
                    f"AND {col} <= :n",
                    c=self.campaign_id,
                    s=since,
                    n=naive_now,
                )
                for col in ("connect_at", "drop_at")
            }
            got = {"connect_at": window.connected, "drop_at": window.dropped}
            if got != counts:
                wrong.append(
                    f"abandonment window {window.name}: {got} but the call log counts {counts}"
                )
        return wrong


@contextlib.contextmanager
def rig(tmp_path: Path, pg_url: str, **kwargs: object) -> Iterator[Rig]:
    """A set-up :class:`Rig`, torn down (processes killed, schema dropped) afterwards."""
    r = Rig(tmp_path, pg_url, **kwargs)  # type: ignore[arg-type]
    try:
        r.setup()
        yield r
    except BaseException:
        for log in [*r.logs, tmp_path / "sim.log"]:  # shown with the failure
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-40:]
                print(f"---- last lines of {log.name}\n" + "\n".join(tail))
        raise
    finally:
        r.teardown()
