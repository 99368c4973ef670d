"""``dialer bench cluster``: several engine processes and simulators over one PostgreSQL.

:func:`build_cluster_demo` makes the data: the demo campaign split into ``campaigns``
campaigns (same statuses and rules, the records dealt out in turn), and ``agents`` agents
dealt out to them in blocks (:func:`agent_blocks`): the simulated agents of campaign k are
the k-th block.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from campaigns.abandonment import abandonment_windows
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.migrate import upgrade
from campaigns.models import Campaign, CampaignStatus, Record
from campaigns.selection import forget_zone_keys
from dialer.sim.bench_engine import NO_ANSWER_TIMEOUT_S, bench_scenario

_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_STATUS = CampaignStatus.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]


def agent_blocks(agents: int, campaigns: int) -> list[list[int]]:
    """Agent ids 1..``agents`` dealt to ``campaigns`` campaigns in blocks (sizes differ by
    at most one): campaign k (1-based) gets block k-1."""
    base, extra = divmod(agents, campaigns)
    out: list[list[int]] = []
    start = 1
    for k in range(campaigns):
        size = base + (1 if k < extra else 0)
        out.append(list(range(start, start + size)))
        start += size
    return out


def build_cluster_demo(
    db: sa.Engine, *, campaigns: int, records: int, agents: int, now: dt.datetime
) -> list[int]:
    """The demo data split into ``campaigns`` running campaigns; returns their ids."""
    first = build_demo(db, records=records, now=now, agents=agents, running=True, always_open=True)
    ids = [first]
    with db.begin() as conn:
        row: dict[str, Any] = dict(
            conn.execute(sa.select(_CAMPAIGN).where(_CAMPAIGN.c.id == first)).mappings().one()
        )
        statuses = conn.execute(sa.select(_STATUS).where(_STATUS.c.campaign_id == first)).all()
        for k in range(2, campaigns + 1):
            values = {key: value for key, value in row.items() if key != "id"}
            values["name"] = f"{row['name']} {k}"
            new_id = conn.execute(
                sa.insert(_CAMPAIGN).values(**values).returning(_CAMPAIGN.c.id)
            ).scalar_one()
            conn.execute(
                sa.insert(_STATUS),
                [{**s._asdict(), "campaign_id": new_id} for s in statuses],
            )
            ids.append(new_id)
        if campaigns > 1:
            for index, campaign_id in enumerate(ids[1:], start=1):
                conn.execute(
                    sa.update(_RECORD)
                    .where(_RECORD.c.campaign_id == first, _RECORD.c.id % campaigns == index)
                    .values(campaign_id=campaign_id)
                )
    for campaign_id in ids:
        forget_zone_keys(campaign_id)
    return ids


_DOUBLE_DIALS = """
SELECT count(*) FROM call_log a JOIN call_log b
  ON a.record_id = b.record_id AND a.id < b.id
 WHERE b.dial_at < coalesce(a.end_at, '9999-12-31')
"""


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a local process used so far (None: not on this host)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _DbSessions:
    """The PostgreSQL backends serving the bench's engines (their application_name starts
    with ``tag``): their CPU seconds and peak count, so that other work on a shared server
    is not counted. Backends seen at :meth:`start` count from there, later ones from 0."""

    def __init__(self, db: sa.Engine, tag: str) -> None:
        self.db = db
        self.tag = tag
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.peak = 0

    def _pids(self) -> list[int]:
        with self.db.connect() as conn:
            return [
                int(pid)
                for (pid,) in conn.execute(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE application_name LIKE :t"),
                    {"t": f"{self.tag}%"},
                )
            ]

    def start(self) -> None:
        for pid in self._pids():
            cpu = _cpu_s(pid)
            if cpu is not None:
                self.base[pid] = self.last[pid] = cpu

    def sample(self) -> None:
        pids = self._pids()
        self.peak = max(self.peak, len(pids))
        for pid in pids:
            cpu = _cpu_s(pid)
            if cpu is not None:
                self.base.setdefault(pid, 0.0)
                self.last[pid] = cpu

    @property
    def cpu_s(self) -> float:
        return sum(self.last[pid] - self.base[pid] for pid in self.last)


@dataclass
class _Proc:
    name: str
    proc: subprocess.Popen[bytes]
    cpu_s: float = 0.0


def _reap(item: _Proc, within_s: float) -> None:
    """Wait for a child and keep its CPU seconds (user + system)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        pid, _status, usage = os.wait4(item.proc.pid, os.WNOHANG)
        if pid:
            item.cpu_s = usage.ru_utime + usage.ru_stime
            item.proc.returncode = 0
            return
        time.sleep(0.1)
    item.proc.kill()
    _pid, _status, usage = os.wait4(item.proc.pid, 0)
    item.cpu_s = usage.ru_utime + usage.ru_stime
    item.proc.returncode = -9


def run_cluster_bench(
    *,
    engines: int,
    servers: int,
    agents: int,
    pg_url: str,
    seconds: float = 90.0,
    campaigns: int | None = None,
    warmup_s: float = 30.0,
    profiles_dir: Path = Path("config/pacing"),
    profile_to: Path | None = None,
    logs_to: Path | None = None,
) -> dict[str, Any]:
    """Start ``engines`` engine processes and ``servers`` simulators over a fresh schema of
    the PostgreSQL at ``pg_url``, run a predictive campaign mix with ``agents`` simulated
    agents for ``seconds`` (the first ``warmup_s`` not measured), stop everything (drain),
    and return the figures. ``profile_to``: a folder where each engine writes its cProfile
    (``bench<k>.prof``; read it with ``python -m pstats``). ``logs_to``: a folder where
    the engines' and simulators' logs are kept (``engine<k>.log``, ``pbx<k>.log``)."""
    n_campaigns = campaigns or max(2, 2 * engines)
    per = max(1, agents // n_campaigns)
    schema = f"bench_cluster_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    db_url = url.render_as_string(hide_password=False)
    db = make_engine(db_url)
    procs: list[_Proc] = []
    tmp = Path(tempfile.mkdtemp(prefix="dialer-bench-cluster-"))
    try:
        upgrade(db)
        ids = build_cluster_demo(
            db,
            campaigns=n_campaigns,
            records=max(20_000, 40 * agents),
            agents=per * n_campaigns,
            now=dt.datetime.now(dt.UTC),
        )
        scenario = tmp / "bench.toml"
        scenario.write_text(
            bench_scenario("bench-cluster", agents=per, lines=per * n_campaigns * 6)
        )
        ports = [_free_port() for _ in range(servers)]
        for k, port in enumerate(ports):
            args = [*_DIALER, "pbx-sim", "--scenario", str(scenario), "--port", str(port)]
            args += ["--seed", str(k + 1)]
            procs.append(_Proc(f"pbx{k + 1}", _spawn(args, tmp / f"pbx{k + 1}.log")))
        for port in ports:
            _wait_port(port, 60)
        channels = max(50, per * n_campaigns * 7 // servers)
        server_toml = "".join(
            f'[[asterisk.servers]]\nname = "pbx{k + 1}"\nport = {port}\n'
            f"max_channels = {channels}\noriginates_per_second = 2000\n"
            f"ring_timeout_s = {NO_ANSWER_TIMEOUT_S}\n"
            for k, port in enumerate(ports)
        )
        engine_procs: list[_Proc] = []
        for e in range(engines):
            name = f"bench{e + 1}"
            config = tmp / f"{name}.toml"
            engine_url = make_url(db_url).update_query_dict(
                {"application_name": f"{schema}/{name}"}
            )
            config.write_text(
                f'[database]\nurl = "{engine_url.render_as_string(hide_password=False)}"\n'
                f'[engine]\nid = "{name}"\ntick_s = 0.5\ndrain_s = 20\n'
                f"[cluster]\nfailover_s = 10\nsettle_s = 8\n"
                f'[pacing]\nprofiles_dir = "{profiles_dir.resolve()}"\n'
                f'[logging]\nlevel = "WARNING"\n{server_toml}'
            )
            program = _DIALER
            if profile_to is not None:
                profile_to.mkdir(parents=True, exist_ok=True)
                out = profile_to.resolve() / f"{name}.prof"
                program = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "dialer.cli"]
            args = [*program, "--config", str(config), "run", "--sim-agents", str(scenario)]
            args += ["--campaign", "all", "--metrics", str(tmp / f"{name}.json")]
            engine_procs.append(_Proc(name, _spawn(args, tmp / f"{name}.log")))
        procs.extend(engine_procs)
        _wait_up(db, len(ids), procs, tmp, 120)
        started = time.monotonic()
        time.sleep(warmup_s)
        first_id = _scalar(db, "SELECT coalesce(max(id), 0) FROM call_log")
        # The engines' samples carry perf_counter() times: one system-wide monotonic clock.
        cutoff = time.perf_counter()
        sessions = _DbSessions(db, f"{schema}/")
        sessions.start()
        t0 = time.monotonic()
        load_start = os.getloadavg()
        while time.monotonic() - started < seconds:
            sessions.sample()
            time.sleep(1.0)
        sessions.sample()
        measured_s = time.monotonic() - t0
        db_cpu = sessions.cpu_s
        connections = sessions.peak
        load_end = os.getloadavg()
        dials = _scalar(db, "SELECT count(*) FROM call_log WHERE id > :m", m=first_id)
        for item in engine_procs:
            item.proc.send_signal(signal.SIGTERM)
        for item in engine_procs:
            _reap(item, 60)
        steady = [
            json.loads((tmp / f"{p.name}.json").read_text())
            for p in engine_procs
            if (tmp / f"{p.name}.json").exists()
        ]
        connects = [d for s in steady for t, d in s["answer_to_connect"] if t >= cutoff]
        ticks = [d for s in steady for t, d in s["tick_to_originate"] if t >= cutoff]
        overloaded = [o for s in steady for t, o in s.get("tick_overloaded", []) if t >= cutoff]
        now = dt.datetime.now(dt.UTC)
        per_campaign = {}
        for campaign_id in ids:
            w = abandonment_windows(db, campaign_id, now, "UTC").rolling_24h
            per_campaign[str(campaign_id)] = {
                "abandon_rate": round(w.rate, 4),
                "connected": w.connected,
                "dropped": w.dropped,
            }
        double = _scalar(db, _DOUBLE_DIALS)
        engine_cpu = sum(p.cpu_s for p in engine_procs)
        run_s = time.monotonic() - started
        return {
            "benchmark": "cluster",
            "engines": engines,
            "servers": servers,
            "agents": per * n_campaigns,
            "campaigns": n_campaigns,
            "seconds": round(run_s, 1),
            "measured_s": round(measured_s, 1),
            "dials_per_s": round(dials / measured_s, 2) if measured_s else None,
            "connect_samples": len(connects),
            "connect_p50_ms": _pct(connects, 0.5),
            "connect_p99_ms": _pct(connects, 0.99),
            "tick_samples": len(ticks),
            "tick_p99_ms": _pct(ticks, 0.99),
            # Ticks measured while an engine lagged and dialed progressively (no pacing
            # risk taken: abandonment figures of such a run say little about the pacer).
            "overloaded_tick_share": round(sum(overloaded) / len(overloaded), 3)
            if overloaded
            else None,
            "double_dials": double,
            "campaigns_abandonment": per_campaign,
            "max_abandon_rate": max(v["abandon_rate"] for v in per_campaign.values()),
            "db_cpu_s": round(db_cpu, 1),
            "db_cpu_share": round(db_cpu / measured_s, 3) if measured_s else None,
            "db_connections_max": connections,
            "engine_cpu_s": round(engine_cpu, 1),
            "engine_cpu_s_per_agent_hour": round(engine_cpu / (per * n_campaigns * run_s / 3600), 1)
            if run_s
            else None,
            "engine_errors": sum(int(s["errors"]) for s in steady),
            "engines_reporting": len(steady),
            "target_connect_p99_ms": 100,
            # The machine's load while measured (other work counts: the figures are the
            # machine's as much as the engine's), and its CPUs.
            "load_avg_1m_start": round(load_start[0], 2),
            "load_avg_1m_end": round(load_end[0], 2),
            "cpus": os.cpu_count(),
        }
    finally:
        for item in procs:
            if item.proc.poll() is None and item.proc.returncode is None:
                item.proc.kill()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(item.proc.pid, 0)
        db.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
        if logs_to is not None:
            logs_to.mkdir(parents=True, exist_ok=True)
            for log_file in tmp.glob("*.log"):
                shutil.copy2(log_file, logs_to / log_file.name)
        shutil.rmtree(tmp, ignore_errors=True)


_DIALER = [sys.executable, "-m", "dialer.cli"]


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603  (our own programs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, within_s: float) -> None:
    _wait_for(lambda: _port_open(port), within_s)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(condition: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    msg = f"the cluster did not come up within {within_s:.0f} s"
    raise TimeoutError(msg)


def _wait_up(db: sa.Engine, campaigns: int, procs: list[_Proc], tmp: Path, within_s: float) -> None:
    """Wait until every campaign is owned; a process that exits meanwhile (an engine that
    refused to start, a simulator that failed) ends the wait at once, with its last lines."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        dead = [p for p in procs if p.proc.poll() is not None]
        if dead:
            tails = []
            for item in dead:
                lines = (tmp / f"{item.name}.log").read_text(errors="replace").splitlines()
                tails.append(
                    f"{item.name} exited ({item.proc.returncode}): " + " | ".join(lines[-5:])
                )
            raise RuntimeError("the cluster did not come up: " + "; ".join(tails))
        if _owned(db) == campaigns:
            return
        time.sleep(0.5)
    msg = f"the cluster did not come up within {within_s:.0f} s (campaigns owned: {_owned(db)})"
    raise TimeoutError(msg)


def _scalar(db: sa.Engine, sql: str, **params: object) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar() or 0)


def _owned(db: sa.Engine) -> int:
    return _scalar(
        db,
        "SELECT count(*) FROM campaign_lease WHERE owner IS NOT NULL"
        " AND expires_at > timezone('UTC', clock_timestamp())",
    )
