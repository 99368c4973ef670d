"""A cluster rig: one PostgreSQL schema, S PBX simulators and E engine processes
(``dialer run --sim-agents ... --campaign all``), and the checks of what must hold."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from campaigns.abandonment import abandonment_windows
from campaigns.db import make_engine
from campaigns.migrate import upgrade
from campaigns.models import utcnow
from dialer.sim.bench_cluster import build_cluster_demo
from tests.faults.rig import DIALER, ROOT, free_port, spawn, wait_port

#: Real time (scale 1): engines on one database must share one clock for record leases.
SCENARIO = """\
name = "cluster"
duration_s = 3600
tick_s = 0.5
max_wait_s = 2.0
lines = 40
[agents]
count = {agents}
wrapup = {{ dist = "lognormal", mean = 2, sd = 1 }}
[calls]
answer_prob = 0.5
machine_prob = 0.0
busy_prob = 0.05
congestion_prob = 0.0
ring = {{ dist = "lognormal", mean = 3, sd = 1 }}
no_answer_timeout_s = 10
talk = {{ dist = "lognormal", mean = 6, sd = 2, min = 2 }}
"""

#: Test-only audit (installed in the rig's schema): every write of a call's telephony facts
#: (who: the writing session's application_name, which is the engine's id) and every change
#: of a campaign's lease owner or token, with the database's clock_timestamp().
AUDIT = """
CREATE TABLE audit_fact (call_log_id int, campaign_id int, writer text,
                         at timestamp DEFAULT timezone('UTC', clock_timestamp()));
CREATE TABLE audit_lease (campaign_id int, owner text, token int,
                          at timestamp DEFAULT timezone('UTC', clock_timestamp()));
CREATE FUNCTION audit_fact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR (NEW.dial_at, NEW.answer_at, NEW.connect_at, NEW.drop_at,
      NEW.end_at, NEW.outcome, NEW.agent_id) IS DISTINCT FROM (OLD.dial_at, OLD.answer_at,
      OLD.connect_at, OLD.drop_at, OLD.end_at, OLD.outcome, OLD.agent_id) THEN
    INSERT INTO audit_fact (call_log_id, campaign_id, writer)
    VALUES (NEW.id, NEW.campaign_id, current_setting('application_name'));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_fact AFTER INSERT OR UPDATE ON call_log
  FOR EACH ROW EXECUTE FUNCTION audit_fact();
CREATE FUNCTION audit_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR (NEW.owner, NEW.token) IS DISTINCT FROM (OLD.owner, OLD.token) THEN
    INSERT INTO audit_lease (campaign_id, owner, token) VALUES (NEW.campaign_id, NEW.owner,
                                                                NEW.token);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_lease AFTER INSERT OR UPDATE ON campaign_lease
  FOR EACH ROW EXECUTE FUNCTION audit_lease();
"""

#: Facts written by an engine that was not the campaign's lease owner at that moment.
FOREIGN_WRITES = """
SELECT f.call_log_id, f.campaign_id, f.writer, f.at, l.owner FROM audit_fact f
  LEFT JOIN LATERAL (SELECT owner FROM audit_lease a WHERE a.campaign_id = f.campaign_id
                      AND a.at <= f.at ORDER BY a.at DESC LIMIT 1) l ON true
 WHERE f.writer <> coalesce(split_part(l.owner, '/', 1), '')
 ORDER BY f.at
"""


@dataclass
class ClusterRig:
    """``campaigns`` campaigns of ``agents`` agents each, ``servers`` simulators."""

    tmp: Path
    pg_url: str
    campaigns: int = 3
    agents: int = 4
    servers: int = 2
    failover_s: float = 3.0
    schema: str = field(default_factory=lambda: f"cluster_{uuid.uuid4().hex[:12]}")
    sims: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    engines: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    campaign_ids: list[int] = field(default_factory=list)
    db: sa.Engine | None = None

    def url(self, application: str = "rig") -> str:
        """The schema's URL; ``application``: the sessions' application_name (the engine's
        id for an engine, so that the audit knows who wrote)."""
        url = make_url(self.pg_url).update_query_dict(
            {"options": f"-csearch_path={self.schema}", "application_name": application}
        )
        return url.render_as_string(hide_password=False)

    def setup(self) -> None:
        admin = make_engine(self.pg_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
        admin.dispose()
        self.db = make_engine(self.url())
        upgrade(self.db)
        with self.db.begin() as conn:
            conn.execute(sa.text(AUDIT))
        self.campaign_ids = build_cluster_demo(
            self.db,
            campaigns=self.campaigns,
            records=600 * self.campaigns,
            agents=self.agents * self.campaigns,
            now=utcnow(),
        )
        scenario = self.tmp / "cluster.toml"
        scenario.write_text(SCENARIO.format(agents=self.agents))
        self.scenario = scenario
        for k in range(self.servers):
            port = free_port()
            self.ports.append(port)
            args = [*DIALER, "pbx-sim", "--scenario", str(scenario), "--port", str(port)]
            args += ["--seed", str(k + 1)]
            self.sims.append(spawn(args, self.tmp / f"sim{k + 1}.log"))
        for port in self.ports:
            wait_port(port, 60)

    def start_engine(self, name: str, *, rebalance: bool = True) -> None:
        # ring_timeout_s: the scenario's no_answer_timeout_s
        servers = "".join(
            f'[[asterisk.servers]]\nname = "pbx{k + 1}"\nport = {port}\nmax_channels = 60\n'
            "originates_per_second = 100\nring_timeout_s = 10\n"
            for k, port in enumerate(self.ports)
        )
        config = self.tmp / f"{name}.toml"
        config.write_text(
            f'[database]\nurl = "{self.url(name)}"\n'
            f'[engine]\nid = "{name}"\ntick_s = 0.5\nlease_s = 10\ndrain_s = 15\n'
            f"[cluster]\nfailover_s = {self.failover_s}\nsettle_s = 4\n"
            f"rebalance = {str(rebalance).lower()}\nrebalance_after_s = 3\n"
            f'[pacing]\nprofiles_dir = "{ROOT / "config/pacing"}"\n{servers}'
        )
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        self.engines[name] = spawn(
            [*DIALER, "--config", str(config), "run", "--sim-agents", str(self.scenario),
             "--campaign", "all"],
            log,
        )  # fmt: skip

    def stop_engine(self, name: str, sig: signal.Signals, within_s: float = 40.0) -> int:
        proc = self.engines.pop(name)
        os.kill(proc.pid, sig)
        return proc.wait(timeout=within_s)

    def stop_all(self, within_s: float = 40.0) -> None:
        """SIGTERM every engine at once (they drain side by side), then wait: each must
        exit 0 (its log's tail in the failure otherwise)."""
        names = sorted(self.engines)
        for name in names:
            os.kill(self.engines[name].pid, signal.SIGTERM)
        for name in names:
            code = self.engines.pop(name).wait(timeout=within_s)
            assert code == 0, f"{name} exited {code}:\n{self.log_text(name)[-2000:]}"

    def pause_engine(self, name: str) -> None:
        """Freeze an engine process (SIGSTOP): a stall, as under load or a long GC pause."""
        os.kill(self.engines[name].pid, signal.SIGSTOP)

    def resume_engine(self, name: str) -> None:
        """Let a frozen engine go on (SIGCONT) where it stopped."""
        os.kill(self.engines[name].pid, signal.SIGCONT)

    def teardown(self) -> None:
        for proc in self.engines.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
        for proc in [*self.engines.values(), *self.sims]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if self.db is not None:
            self.db.dispose()
        admin = make_engine(self.pg_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        admin.dispose()

    # ------------------------------------------------------------------ the database
    def rows(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        assert self.db is not None
        with self.db.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]

    def owners(self) -> dict[int, str]:
        """Campaign → engine id of its live lease."""
        return {
            int(c): str(owner).partition("/")[0]
            for c, owner in self.rows(
                "SELECT campaign_id, owner FROM campaign_lease WHERE owner IS NOT NULL"
                " AND expires_at > timezone('UTC', clock_timestamp())"
            )
        }

    def live_engines(self) -> list[str]:
        """Engine ids with a live heartbeat."""
        return sorted(
            str(e)
            for (e,) in self.rows(
                "SELECT engine_id FROM cluster_engine"
                " WHERE expires_at > timezone('UTC', clock_timestamp())"
            )
        )

    def log_text(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def problems(self) -> list[str]:
        """What must hold after the run: nothing dialed twice at once, nothing open or
        leased, every answered call complete, windows equal to a count, no skipped connect."""
        out: list[str] = []
        overlaps = self.rows(
            "SELECT a.record_id, a.channel_id, b.channel_id FROM call_log a JOIN call_log b"
            " ON a.record_id = b.record_id AND a.id < b.id"
            " WHERE b.dial_at < coalesce(a.end_at, '9999-12-31')"
        )
        if overlaps:
            out.append(f"double dials (record, call, next call): {overlaps[:10]}")
        still_open = self.rows("SELECT id, channel_id FROM call_log WHERE end_at IS NULL")
        if still_open:
            out.append(f"open call-log rows (lost calls): {still_open[:10]}")
        bad = self.rows(
            "SELECT id FROM call_log WHERE outcome = 'answered' AND "
            "(answer_at IS NULL OR connect_at IS NULL OR agent_id IS NULL)"
        )
        if bad:
            out.append(f"answered calls lacking answer/connect/agent: {bad[:10]}")
        leased = self.rows("SELECT id, lease_owner FROM record WHERE lease_owner IS NOT NULL")
        if leased:
            out.append(f"record leases held: {leased[:10]}")
        foreign = self.rows(FOREIGN_WRITES)
        if foreign:
            out.append(
                "call facts written by an engine that did not own the campaign then"
                f" (row, campaign, writer, at, owner): {foreign[:10]}"
            )
        for name, log in self.logs.items():
            skipped = [
                line[:200]
                for line in log.read_text(errors="replace").splitlines()
                if '"telephony_action_skipped"' in line and '"ConnectCall"' in line
            ]
            if skipped:
                out.append(f"{name}: ConnectCall never sent: {skipped[:3]}")
        latest = self.rows("SELECT max(greatest(dial_at, end_at)) FROM call_log")[0][0]
        assert isinstance(latest, dt.datetime)
        now = latest.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=1)
        assert self.db is not None
        for campaign_id in self.campaign_ids:
            window = abandonment_windows(self.db, campaign_id, now, "UTC").rolling_24h
            counts = self.rows(
                "SELECT count(connect_at), count(drop_at) FROM call_log WHERE campaign_id = :c",
                c=campaign_id,
            )[0]
            if (window.connected, window.dropped) != tuple(counts):
                out.append(
                    f"campaign {campaign_id}: window {window.connected}/{window.dropped} but the"
                    f" call log counts {counts}"
                )
        return out


@contextlib.contextmanager
def cluster_rig(tmp: Path, pg_url: str, **kwargs: Any) -> Iterator[ClusterRig]:
    """A set-up :class:`ClusterRig`, torn down afterwards (logs printed on failure)."""
    rig = ClusterRig(tmp, pg_url, **kwargs)
    try:
        rig.setup()
        yield rig
    except BaseException:
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-30:]
            print(f"---- last lines of {log.name}\n" + "\n".join(tail))
        raise
    finally:
        rig.teardown()
