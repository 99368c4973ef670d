"""Events out (and agent/campaign commands in) over MQTT.

Topic scheme (``prefix`` defaults to ``dialer``); every payload is a JSON object with a
``ts`` field (ISO 8601, UTC):

====================================  ========  ===============================================
topic                                 retained  payload
====================================  ========  ===============================================
``{prefix}/calls/{campaign}/{call}``  no        call state change: ``call_id``, ``campaign``,
                                                ``record_id``, ``phone``, ``state`` (dialing,
                                                answered, connected, dropped, failed, ended),
                                                ``outcome``, ``agent``
``{prefix}/agents/{agent}/state``     yes       ``agent``, ``phase``, ``since``,
                                                ``pause_reason``, ``call_id``, ``campaign``
``{prefix}/agents/{agent}/screenpop`` no        ``call_id``, ``campaign``, ``record`` (the
                                                record's phone, name and custom fields)
``{prefix}/campaigns/{c}/stats``      yes       live figures: dial level, calls by state,
                                                agents by phase, abandonment today / 24 h /
                                                30 d, occupancy
``{prefix}/agents/{agent}/cmd``       in        ``{"action": "login" | "ready" | "logout"}``,
                                                ``{"action": "pause", "reason": ...}``,
                                                ``{"action": "status", "call_id", "status",
                                                "date"?, "note"?}``
``{prefix}/campaigns/{c}/cmd``        in        ``{"action": "start" | "pause" | "stop"}``
====================================  ========  ===============================================

The engine never waits for the broker: :meth:`MqttPublisher.publish` puts the message on a
bounded queue and returns; a background task owned by the publisher sends it, reconnecting
with backoff while the broker is down. When the queue is full the oldest message is dropped
(and counted): live state is worth more than history, which the database keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiomqtt
import structlog

from dialer.sink import (
    EventSink,
    MemorySink,
    NullSink,
    agent_state_topic,
    call_topic,
    campaign_stats_topic,
    screenpop_topic,
)

log = structlog.get_logger(__name__)

__all__ = [
    "CommandHandler",
    "EventSink",
    "MemorySink",
    "MqttPublisher",
    "NullSink",
    "agent_state_topic",
    "call_topic",
    "campaign_stats_topic",
    "encode",
    "screenpop_topic",
]

CommandHandler = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Called with (kind, id, payload) for a command: kind is "agents" or "campaigns"."""


def encode(payload: Mapping[str, Any], now: dt.datetime | None = None) -> bytes:
    """The JSON bytes of a payload, with ``ts`` added when missing."""
    body = dict(payload)
    if "ts" not in body:
        body["ts"] = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds")
    return json.dumps(body, default=str, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    body: bytes
    retain: bool


class MqttPublisher:
    """``async with MqttPublisher(host=..., port=...) as bus:`` — MQTT events out, commands in.

    The publisher owns one background task that connects, subscribes to the command
    topics (when ``on_command`` is given), sends queued events and reconnects with
    exponential backoff when the broker goes away. Leaving the ``async with`` block cancels
    the task.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        prefix: str = "dialer",
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        queue_size: int = 10_000,
        on_command: CommandHandler | None = None,
        backoff_s: tuple[float, float] = (0.2, 15.0),
    ) -> None:
        self._host = host
        self._port = port
        self._prefix = prefix.rstrip("/")
        self._username = username
        self._password = password
        self._client_id = client_id
        self._queue: deque[_Outgoing] = deque(maxlen=queue_size)
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._on_command = on_command
        self._backoff = backoff_s
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.connects = 0

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until a broker connection is up (wrap in ``asyncio.timeout``)."""
        await self._connected.wait()

    def pending(self) -> int:
        """Messages queued and not yet handed to the broker."""
        return len(self._queue)

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Queue an event for ``{prefix}/{topic}``; never blocks, never raises."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(_Outgoing(f"{self._prefix}/{topic}", encode(payload), retain))
        self._drained.clear()
        self._wakeup.set()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="mqtt-publisher")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._connected.clear()

    async def flush(self) -> None:
        """Wait until every queued event was handed to the broker (wrap in a timeout)."""
        await self._drained.wait()

    async def _run(self) -> None:
        delay = self._backoff[0]
        while True:
            try:
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    username=self._username,
                    password=self._password,
                    identifier=self._client_id,
                    timeout=5.0,
                ) as client:
                    self.connects += 1
                    self._connected.set()
                    delay = self._backoff[0]
                    log.info("mqtt_connected", host=self._host, port=self._port)
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                was_connected = self.connected
                self._connected.clear()
                if was_connected:
                    log.warning("mqtt_disconnected", error=str(exc))
                else:
                    log.debug("mqtt_connect_failed", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = [asyncio.create_task(self._send(client), name="mqtt-send")]
        if self._on_command is not None:
            await client.subscribe(f"{self._prefix}/agents/+/cmd", qos=1)
            await client.subscribe(f"{self._prefix}/campaigns/+/cmd", qos=1)
            commands = self._commands(client, self._on_command)
            tasks.append(asyncio.create_task(commands, name="mqtt-commands"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            while self._queue:
                item = self._queue[0]
                await client.publish(item.topic, item.body, qos=0, retain=item.retain)
                if self._queue and self._queue[0] is item:
                    self._queue.popleft()
                self.sent += 1
            self._drained.set()
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _commands(self, client: aiomqtt.Client, handler: CommandHandler) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            parts = topic.removeprefix(f"{self._prefix}/").split("/")
            raw = message.payload
            try:
                payload = json.loads(raw if isinstance(raw, bytes | str) else b"")
                if not isinstance(payload, dict):
                    msg = "a JSON object"
                    raise TypeError(msg)
            except (ValueError, TypeError):
                log.warning("mqtt_command_rejected", topic=topic, reason="not a JSON object")
                continue
            try:
                await handler(parts[0], parts[1], payload)
            except Exception as exc:  # a bad command never stops the engine
                log.warning("mqtt_command_failed", topic=topic, error=str(exc))
