"""The documented Mosquitto set-up (config/mosquitto/) enforces who may publish and read
which dialer topic, against a real broker started with its password and ACL files."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from dialer.runtime.mqtt import MqttPublisher
from tests.conftest import in_ci

ROOT = Path(__file__).parents[2]
DOC = ROOT / "config/mosquitto"
PASSWORDS = dict(
    line.split(":", 1) for line in (DOC / "passwords.example").read_text().splitlines()
)

pytestmark = pytest.mark.mosquitto


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    """Mosquitto with the documented mosquitto.conf, acl and passwords on a free loopback
    port (only the paths, the port and the run-as user changed); yields the port."""
    mosquitto, mosquitto_passwd = shutil.which("mosquitto"), shutil.which("mosquitto_passwd")
    if mosquitto is None or mosquitto_passwd is None:
        if in_ci():
            pytest.fail("mosquitto and mosquitto_passwd are needed (CI=true: must run)")
        pytest.skip("install mosquitto to run the broker ACL tests")
    passwords = tmp_path / "passwords"
    shutil.copy(DOC / "passwords.example", passwords)
    subprocess.run([mosquitto_passwd, "-U", str(passwords)], check=True)  # noqa: S603
    shutil.copy(DOC / "acl", tmp_path / "acl")
    port = _free_port()
    conf = (DOC / "mosquitto.conf").read_text()
    conf = re.sub(r"(?m)^password_file .*$", f"password_file {passwords}", conf)
    conf = re.sub(r"(?m)^acl_file .*$", f"acl_file {tmp_path / 'acl'}", conf)
    conf = re.sub(r"(?m)^listener 1883 .*$", f"listener {port} 127.0.0.1", conf)
    assert str(port) in conf
    assert "allow_anonymous false" in conf
    conf += f"\nuser {getpass.getuser()}\nlog_dest stderr\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603  (the broker found on PATH, a file we wrote)
        [mosquitto, "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        for _ in range(200):  # wait for the listener (at most 10 s)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if proc.poll() is not None:
                pytest.fail(f"mosquitto exited: {(tmp_path / 'mosquitto.log').read_text()}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        else:
            pytest.fail("mosquitto did not listen within 10 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@contextlib.asynccontextmanager
async def client(port: int, user: str | None) -> AsyncIterator[aiomqtt.Client]:
    """A client signed in as ``user`` (None: anonymous) with the documented password."""
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        username=user,
        password=PASSWORDS[user] if user else None,
        timeout=5.0,
    ) as mqtt:
        yield mqtt


async def test_anonymous_and_wrong_password_clients_are_refused(broker: int) -> None:
    """A client without an account, or with a wrong password, cannot connect."""
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, None):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", broker, username="agent-1", password="guess"):
            pass


async def test_only_the_agents_own_and_the_supervisors_commands_reach_the_engine(
    broker: int,
) -> None:
    """agent-1 may command agent 1 only, never agent 2 or a campaign; the supervisor may
    command campaigns; the engine (with its account) receives exactly the allowed ones."""
    received: list[tuple[str, str, dict[str, Any]]] = []
    got = asyncio.Event()

    async def handler(kind: str, ident: str, payload: dict[str, Any]) -> None:
        received.append((kind, ident, payload))
        if payload.get("last"):
            got.set()

    async with MqttPublisher(
        port=broker,
        username="dialer-engine",
        password=PASSWORDS["dialer-engine"],
        on_command=handler,
    ) as engine:
        async with asyncio.timeout(5):
            await engine.wait_connected()
        async with client(broker, "agent-1") as agent1:
            await agent1.publish("dialer/agents/2/cmd", b'{"action": "logout"}', qos=1)
            await agent1.publish("dialer/campaigns/1/cmd", b'{"action": "stop"}', qos=1)
            await agent1.publish("dialer/agents/1/cmd", b'{"action": "ready"}', qos=1)
        async with client(broker, "supervisor") as supervisor:
            await supervisor.publish("dialer/agents/1/cmd", b'{"action": "logout"}', qos=1)
            await supervisor.publish(
                "dialer/campaigns/1/cmd", b'{"action": "pause", "last": true}', qos=1
            )
        async with asyncio.timeout(5):
            await got.wait()
    assert received == [
        ("agents", "1", {"action": "ready"}),
        ("campaigns", "1", {"action": "pause", "last": True}),
    ]


async def test_commands_and_other_agents_topics_are_not_readable(broker: int) -> None:
    """Neither another agent nor the supervisor reads an agent's commands (they carry its
    token) or another agent's screen pops; the events they may read do arrive."""
    async with (
        client(broker, "agent-2") as agent2,
        client(broker, "supervisor") as supervisor,
        client(broker, "dialer-engine") as engine,
    ):
        await agent2.subscribe("dialer/agents/#", qos=1)
        await supervisor.subscribe("dialer/#", qos=1)
        async with client(broker, "agent-1") as agent1:
            await agent1.publish("dialer/agents/1/cmd", b'{"token": "secret"}', qos=1)
        await engine.publish("dialer/agents/1/screenpop", b'{"record": "x"}', qos=1)
        await engine.publish("dialer/agents/1/state", b'{"phase": "ready"}', qos=1)
        async with asyncio.timeout(5):
            async for message in supervisor.messages:  # the first one it may read
                assert str(message.topic) == "dialer/agents/1/state"
                break
        await engine.publish("dialer/agents/2/state", b'{"phase": "paused"}', qos=1)
        async with asyncio.timeout(5):
            async for message in agent2.messages:
                assert str(message.topic) == "dialer/agents/2/state"
                break
