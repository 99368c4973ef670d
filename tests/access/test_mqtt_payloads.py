"""No command message, however big, deep or broken, stops the MQTT listener."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiomqtt
import pytest
from structlog.testing import capture_logs

from dialer.runtime.mqtt import (
    CommandRejectedError,
    MqttPublisher,
    decode_command,
    json_depth_exceeds,
)

NESTED_200K = b"[" * 100_000 + b"]" * 100_000


def test_deep_nesting_is_refused_before_parsing() -> None:
    """A 200 KB nested array is refused by size, and by depth when the size limit allows it."""
    with pytest.raises(CommandRejectedError, match="limit is 16384"):
        decode_command("dialer", "dialer/agents/1/cmd", NESTED_200K)
    with pytest.raises(CommandRejectedError, match="nested deeper than 8"):
        decode_command("dialer", "dialer/agents/1/cmd", NESTED_200K, max_bytes=1 << 20)


def test_depth_scan_skips_brackets_inside_strings() -> None:
    """Brackets inside JSON strings (and escaped quotes) do not count as nesting."""
    assert not json_depth_exceeds('{"note": "[[[[[[[[[[ \\" [[[[[["}', 2)
    assert json_depth_exceeds('{"a": [[[1]]]}', 3)


@pytest.mark.parametrize(
    ("topic", "raw", "reason"),
    [
        ("dialer/agents/x/cmd", b"{}", "not a number"),
        ("dialer/agents/1/state", b"{}", "not a command topic"),
        ("dialer/agents/1/cmd", b"\xff\xfe", "not UTF-8"),
        ("dialer/agents/1/cmd", b"[1]", "not a JSON object"),
        ("dialer/agents/1/cmd", b"{", "not JSON"),
        ("dialer/agents/1/cmd", None, "no payload"),
    ],
)
def test_malformed_commands_are_refused_with_the_reason(
    topic: str, raw: bytes | None, reason: str
) -> None:
    """Each kind of malformed command message is refused with a reason naming it."""
    with pytest.raises(CommandRejectedError, match=reason):
        decode_command("dialer", topic, raw)


async def test_a_failing_handler_is_logged_and_the_next_message_is_handled() -> None:
    """An exception of any type in the handler is logged with its topic; the next command
    still reaches the handler."""
    seen: list[dict[str, Any]] = []

    async def handler(kind: str, ident: str, payload: dict[str, Any]) -> None:
        del kind, ident
        if payload.get("action") == "boom":
            raise RecursionError("deep")
        seen.append(payload)

    bus = MqttPublisher(prefix="dialer", on_command=handler)
    with capture_logs() as logs:
        await bus.handle_message("dialer/agents/1/cmd", b'{"action":"boom"}', handler)
        await bus.handle_message("dialer/agents/1/cmd", NESTED_200K, handler)
        await bus.handle_message("dialer/agents/1/cmd", b'{"action":"ready"}', handler)
    assert seen == [{"action": "ready"}]
    events = [entry["event"] for entry in logs]
    assert events == ["mqtt_command_failed", "mqtt_command_refused"]
    assert bus.refused == 1


@pytest.mark.mqtt
async def test_nested_json_of_200_kb_does_not_stop_commands_or_events(
    mqtt_addr: tuple[str, int],
) -> None:
    """After a 200 KB ``[[[…]]]`` command the listener still takes commands and publishes
    events (today's RecursionError ended both for the rest of the run)."""
    host, port = mqtt_addr
    prefix = f"t{uuid.uuid4().hex[:8]}"
    got_command = asyncio.Event()

    async def handler(kind: str, ident: str, payload: dict[str, Any]) -> None:
        if (kind, ident, payload.get("action")) == ("agents", "7", "ready"):
            got_command.set()

    async with (
        MqttPublisher(
            host=host, port=port, prefix=prefix, on_command=handler, max_payload_bytes=1 << 20
        ) as bus,
        aiomqtt.Client(host, port) as client,
    ):
        async with asyncio.timeout(5):
            await bus.wait_connected()
        await client.subscribe(f"{prefix}/calls/#", qos=1)
        await client.publish(f"{prefix}/agents/7/cmd", NESTED_200K, qos=1)
        await client.publish(f"{prefix}/agents/7/cmd", b'{"action": "ready"}', qos=1)
        async with asyncio.timeout(5):
            await got_command.wait()
        bus.publish("calls/1/after", {"state": "ended"})
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert str(message.topic) == f"{prefix}/calls/1/after"
                break
    assert bus.refused == 1
