"""The fault suite: a campaign on PostgreSQL, dialed by a real engine process against the
PBX simulator, driven through one fault per test. After the fault and its recovery the
engine runs on until it dials and serves agents again, is drained (SIGTERM), and the
database must tell the truth: no record dialed twice at once, no answered call without its
facts, nothing open, no lease held, abandonment windows equal to a plain count."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.faults.rig import LEASE_S, TIME_SCALE, Mosquitto, Relay, Rig, rig, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def plain(tmp_path: Path, pg_url: str) -> Iterator[Rig]:
    with rig(tmp_path, pg_url) as r:
        yield r


def _fault_then_recover(r: Rig) -> tuple[int, int]:
    """The mark (last call-log id) and log offset taken at the recovery."""
    return r.last_call_id(), len(r.log_text())


def test_kill_9_then_restart(plain: Rig) -> None:
    """kill -9 mid-call; the restarted engine adopts or closes what was open and dials on."""
    r = plain
    r.start_engine()
    r.wait_calls_in_flight()
    r.kill_engine(signal.SIGKILL)
    open_ids = [row[0] for row in r.rows("SELECT id FROM call_log WHERE end_at IS NULL")]
    assert open_ids, "the engine was killed with calls in flight"
    mark, offset = _fault_then_recover(r)
    r.start_engine()
    r.run_on_then_drain(mark, offset)
    assert "adopted_after_restart" in r.logs[-1].read_text()
    r.check_truth()


def test_sigterm_then_restart(plain: Rig) -> None:
    """SIGTERM mid-call drains (exit 0, nothing open); a restart dials on."""
    r = plain
    r.start_engine()
    r.wait_calls_in_flight()
    assert r.kill_engine(signal.SIGTERM) == 0
    assert "engine_drained" in r.logs[-1].read_text()
    assert r.open_calls() == 0, "the drain left call-log rows open"
    mark, offset = _fault_then_recover(r)
    r.start_engine()
    r.run_on_then_drain(mark, offset)
    r.check_truth()


def test_ami_cut(plain: Rig) -> None:
    """The simulator drops every AMI connection mid-call; the engine reconnects, settles
    the calls it lost sight of, and dials on."""
    r = plain
    r.start_engine()
    r.wait_calls_in_flight(8)
    offset = len(r.log_text())
    r.sim_control("drop")
    r.wait_log("ami_disconnected", offset)
    r.wait_log("ami_ready", offset)
    mark, offset = _fault_then_recover(r)
    r.run_on_then_drain(mark, offset)
    r.check_truth()


def test_simulator_restart(plain: Rig) -> None:
    """The PBX restarts (every channel hangs up, Shutdown event); the engine closes the
    calls, reconnects and dials on."""
    r = plain
    r.start_engine()
    r.wait_calls_in_flight(8)
    offset = len(r.log_text())
    r.sim_control("restart")
    r.wait_log("ami_server_shutdown", offset)
    r.wait_log("ami_ready", offset)
    mark, offset = _fault_then_recover(r)
    r.run_on_then_drain(mark, offset)
    r.check_truth()


def test_database_unreachable_longer_than_the_lease(tmp_path: Path, pg_url: str) -> None:
    """The engine's database connections are cut for longer than ``lease_s`` (engine clock)
    with calls in flight, then restored: no fact is lost, no record is dialed twice."""
    url = make_url(pg_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    with rig(tmp_path, pg_url, relay=relay) as r:
        r.start_engine()
        r.wait_calls_in_flight()
        offset = len(r.log_text())
        relay.cut()
        cut_at = time.monotonic()
        r.wait_log("lease_renew_failing", offset)
        time.sleep(max(0.0, cut_at + 3.0 - time.monotonic()))  # the outage: 3 s wall
        outage_s = (time.monotonic() - cut_at) * TIME_SCALE
        assert outage_s > 2 * LEASE_S, "the outage outlasts the lease in the engine's clock"
        relay.restore()
        r.wait_log("lease_renew_resumed", offset)
        assert r.engine_alive(), f"the engine died in the outage: {r.log_text()[-3000:]}"
        mark, offset = _fault_then_recover(r)
        r.run_on_then_drain(mark, offset)
        r.check_truth()


def test_mqtt_broker_down(tmp_path: Path, pg_url: str) -> None:
    """The MQTT broker is killed mid-run and started again: dialing goes on without it and
    after it."""
    broker_dir = tmp_path / "broker"
    broker_dir.mkdir()
    mqtt = Mosquitto(broker_dir)
    mqtt.start()
    with rig(tmp_path, pg_url, mqtt=mqtt) as r:
        r.start_engine()
        r.wait_calls_in_flight()
        r.wait_log("mqtt_connected")
        offset = len(r.log_text())
        mqtt.stop()
        r.wait_log("mqtt_disconnected", offset)
        down = r.last_call_id()
        wait_for(
            "the engine dials on while the broker is down",
            lambda: r.last_call_id() > down + 5,
        )
        offset = len(r.log_text())
        mqtt.start()
        r.wait_log("mqtt_connected", offset)
        mark, offset = _fault_then_recover(r)
        r.run_on_then_drain(mark, offset)
        r.check_truth()
