"""MQTT events out and commands in, against a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import aiomqtt
import pytest

from dialer.runtime.mqtt import (
    MemorySink,
    MqttPublisher,
    agent_state_topic,
    call_topic,
    campaign_stats_topic,
    encode,
)


def test_encode_adds_timestamp_and_keeps_fields() -> None:
    """Payloads are compact JSON objects that always carry a ts field."""
    body = json.loads(encode({"agent": 3, "phase": "ready"}))
    assert body["agent"] == 3
    assert body["phase"] == "ready"
    assert body["ts"].endswith("+00:00")


def test_topic_scheme() -> None:
    """Topics follow the documented scheme."""
    assert call_topic(4, "c-1") == "calls/4/c-1"
    assert agent_state_topic(7) == "agents/7/state"
    assert campaign_stats_topic("x") == "campaigns/x/stats"


def test_memory_sink_keeps_events_by_topic() -> None:
    """The in-memory sink returns what was published under a topic."""
    sink = MemorySink()
    sink.publish("agents/1/state", {"phase": "ready"}, retain=True)
    sink.publish("agents/2/state", {"phase": "paused"})
    assert sink.on("agents/1/state") == [{"phase": "ready"}]


async def _collect(
    host: str, port: int, topic: str, into: list[tuple[str, dict[str, Any]]]
) -> None:
    async with aiomqtt.Client(host, port) as sub:
        await sub.subscribe(topic)
        async for message in sub.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            into.append((str(message.topic), json.loads(payload)))


@pytest.mark.mqtt
async def test_published_events_reach_a_subscriber(mqtt_addr: tuple[str, int]) -> None:
    """An event published by the engine arrives at a subscriber of its topic."""
    host, port = mqtt_addr
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    got: list[tuple[str, dict[str, Any]]] = []
    listener = asyncio.create_task(_collect(host, port, f"{prefix}/#", got))
    await asyncio.sleep(0.3)
    async with MqttPublisher(host=host, port=port, prefix=prefix) as bus:
        bus.publish(call_topic(1, "c1"), {"state": "dialing"})
        bus.publish(agent_state_topic(5), {"phase": "ready"}, retain=True)
        async with asyncio.timeout(5):
            await bus.flush()
            while len(got) < 2:
                await asyncio.sleep(0.02)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    assert (f"{prefix}/calls/1/c1", "dialing") in [(t, p.get("state")) for t, p in got]
    assert any(t == f"{prefix}/agents/5/state" and p["phase"] == "ready" for t, p in got)


async def test_publishing_with_no_broker_never_blocks_or_raises() -> None:
    """With the broker down, publish returns at once and events wait in a bounded queue."""
    with socket_port() as port:
        pass  # the port is now closed: nothing listens there
    async with MqttPublisher(host="127.0.0.1", port=port, queue_size=3) as bus:
        for i in range(5):
            bus.publish(call_topic(1, f"c{i}"), {"i": i})
        await asyncio.sleep(0.3)
        assert not bus.connected
        assert bus.pending() == 3
        assert bus.dropped == 2


@contextlib.contextmanager
def socket_port() -> Any:
    """A free loopback TCP port (closed again on exit)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class _Proxy:
    """A TCP proxy to the broker whose connections the test can cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def cut(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


@pytest.mark.mqtt
async def test_publisher_reconnects_after_the_connection_is_cut(
    mqtt_addr: tuple[str, int],
) -> None:
    """After the broker connection drops, the publisher reconnects and delivers again."""
    host, port = mqtt_addr
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    proxy = _Proxy(host, port)
    await proxy.start()
    got: list[tuple[str, dict[str, Any]]] = []
    listener = asyncio.create_task(_collect(host, port, f"{prefix}/#", got))
    await asyncio.sleep(0.3)
    try:
        async with MqttPublisher(
            host="127.0.0.1", port=proxy.port, prefix=prefix, backoff_s=(0.05, 0.2)
        ) as bus:
            async with asyncio.timeout(5):
                await bus.wait_connected()
            proxy.cut()
            await asyncio.sleep(0.2)
            bus.publish(call_topic(2, "after-cut"), {"state": "answered"})
            async with asyncio.timeout(10):
                while not any(t.endswith("after-cut") for t, _ in got):
                    await asyncio.sleep(0.05)
            assert bus.connects >= 2
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await proxy.close()


@pytest.mark.mqtt
async def test_commands_reach_the_handler_and_bad_ones_are_skipped(
    mqtt_addr: tuple[str, int],
) -> None:
    """A JSON command on an agent topic reaches the handler; a non-JSON one is skipped."""
    host, port = mqtt_addr
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    received: list[tuple[str, str, dict[str, Any]]] = []

    async def handler(kind: str, ident: str, payload: dict[str, Any]) -> None:
        received.append((kind, ident, payload))

    async with MqttPublisher(host=host, port=port, prefix=prefix, on_command=handler) as bus:
        async with asyncio.timeout(5):
            await bus.wait_connected()
        await asyncio.sleep(0.2)
        async with aiomqtt.Client(host, port) as client:
            await client.publish(f"{prefix}/agents/7/cmd", b"not json", qos=1)
            await client.publish(f"{prefix}/agents/7/cmd", b'{"action": "ready"}', qos=1)
        async with asyncio.timeout(5):
            while not received:
                await asyncio.sleep(0.02)
    assert received == [("agents", "7", {"action": "ready"})]
