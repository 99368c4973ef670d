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

Commands are JSON objects of at most ``max_payload_bytes`` bytes nested at most
``max_depth`` deep; anything else is refused with a log line (``mqtt_command_refused``) and
the listener goes on. Who sent a command is proved inside it (``"token"``: the sender's API
session token) and checked by :mod:`dialer.runtime.commands`, never taken from the topic.

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
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import aiomqtt
import structlog

from dialer.engine.sink import (
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
    "CommandRejectedError",
    "EventSink",
    "MemorySink",
    "MqttPublisher",
    "NullSink",
    "agent_state_topic",
    "call_topic",
    "campaign_stats_topic",
    "decode_command",
    "encode",
    "json_depth_exceeds",
    "mqtt_tls",
    "screenpop_topic",
]

#: Defaults of the command limits (``[mqtt] max_payload_bytes`` and ``max_depth``).
MAX_PAYLOAD_BYTES = 16_384
MAX_DEPTH = 8

CommandHandler = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Called with (kind, id, payload) for a command: kind is "agents" or "campaigns"."""


class CommandRejectedError(ValueError):
    """An incoming command message that is not a command: the reason says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets in the JSON ``text`` nest deeper than ``limit`` (strings skipped).

    A scan without recursion, run before parsing, so no nesting can exhaust the stack.
    """
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def decode_command(
    prefix: str,
    topic: str,
    raw: object,
    *,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    max_depth: int = MAX_DEPTH,
) -> tuple[str, str, dict[str, Any]]:
    """(kind, id, payload) of a command message, or :class:`CommandRejectedError` saying why.

    ``topic`` must be ``{prefix}/agents/{id}/cmd`` or ``{prefix}/campaigns/{id}/cmd`` with
    a decimal id; the payload a UTF-8 JSON object within the size and depth limits.
    """
    parts = topic.removeprefix(f"{prefix}/").split("/")
    if (
        not topic.startswith(f"{prefix}/")
        or len(parts) != 3
        or parts[0] not in {"agents", "campaigns"}
        or parts[2] != "cmd"
    ):
        msg = "not a command topic"
        raise CommandRejectedError(msg)
    ident = parts[1]
    if not (ident.isascii() and ident.isdigit() and 0 < len(ident) <= 10):
        msg = "the id in the topic is not a number"
        raise CommandRejectedError(msg)
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes | bytearray):
        msg = "no payload"
        raise CommandRejectedError(msg)
    if len(raw) > max_bytes:
        msg = f"payload of {len(raw)} bytes; the limit is {max_bytes}"
        raise CommandRejectedError(msg)
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 (byte {exc.start})"
        raise CommandRejectedError(msg) from None
    if json_depth_exceeds(text, max_depth):
        msg = f"JSON nested deeper than {max_depth}"
        raise CommandRejectedError(msg)
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = f"not JSON ({str(exc)[:80]})"
        raise CommandRejectedError(msg) from None
    if not isinstance(payload, dict):
        msg = "not a JSON object"
        raise CommandRejectedError(msg)
    return parts[0], ident, payload


class _TlsSettings(Protocol):
    @property
    def tls(self) -> bool: ...
    @property
    def ca_file(self) -> Path | None: ...
    @property
    def cert_file(self) -> Path | None: ...
    @property
    def key_file(self) -> Path | None: ...
    @property
    def tls_insecure(self) -> bool: ...


def mqtt_tls(settings: _TlsSettings) -> aiomqtt.TLSParameters | None:
    """The TLS parameters of ``[mqtt]`` settings (None: plain TCP)."""
    if not settings.tls:
        return None
    return aiomqtt.TLSParameters(
        ca_certs=str(settings.ca_file) if settings.ca_file else None,
        certfile=str(settings.cert_file) if settings.cert_file else None,
        keyfile=str(settings.key_file) if settings.key_file else None,
        cert_reqs=ssl.CERT_NONE if settings.tls_insecure else ssl.CERT_REQUIRED,
    )


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
        tls: aiomqtt.TLSParameters | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        max_depth: int = MAX_DEPTH,
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
        self._tls = tls
        self._max_bytes = max_payload_bytes
        self._max_depth = max_depth
        #: Command messages refused before reaching the handler (not a command, too big …).
        self.refused = 0
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.connects = 0

    @property
    def takes_commands(self) -> bool:
        """True when this publisher subscribes to the command topics."""
        return self._on_command is not None

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until a broker connection is up and the command topics are subscribed
        (wrap in ``asyncio.timeout``)."""
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
                    tls_params=self._tls,
                ) as client:
                    self.connects += 1
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
            except Exception:  # a bug here must not end events and commands for the run
                self._connected.clear()
                log.exception("mqtt_listener_failed", retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = [asyncio.create_task(self._send(client), name="mqtt-send")]
        if self._on_command is not None:
            await client.subscribe(f"{self._prefix}/agents/+/cmd", qos=1)
            await client.subscribe(f"{self._prefix}/campaigns/+/cmd", qos=1)
            commands = self._commands(client, self._on_command)
            tasks.append(asyncio.create_task(commands, name="mqtt-commands"))
        self._connected.set()  # connected, and subscribed to the commands
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
            await self.handle_message(str(message.topic), message.payload, handler)

    async def handle_message(self, topic: str, raw: object, handler: CommandHandler) -> None:
        """Decode one command message and hand it to ``handler``; never raises (any failure
        is logged with the topic, and the listener takes the next message)."""
        size = len(raw) if isinstance(raw, bytes | bytearray | str) else 0
        try:
            kind, ident, payload = decode_command(
                self._prefix, topic, raw, max_bytes=self._max_bytes, max_depth=self._max_depth
            )
        except CommandRejectedError as exc:
            self.refused += 1
            log.warning("mqtt_command_refused", topic=topic[:200], bytes=size, reason=exc.reason)
            return
        try:
            await handler(kind, ident, payload)
        except Exception:  # a bad command never stops the listener
            log.exception("mqtt_command_failed", topic=topic[:200], bytes=size)
