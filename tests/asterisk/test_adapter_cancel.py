"""A cancelled adapter task ends, even when the cancellation arrives in the same turn of
the loop as the PBX's answer to what it awaited (Python 3.11's ``asyncio.wait_for`` lost
such a cancellation: an engine's stop then waited for ever on a supervisor that pinged on).
"""

from __future__ import annotations

import asyncio
from typing import Any

from asterisk.adapter import AmiAdapter
from asterisk.settings import AmiServerSettings


class AnsweringProtocol:
    """Answers each action at once and, on the first answer, has the task cancelled in the
    same turn of the loop (a stop arriving just as the PBX answers a Ping)."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.sent = 0

    def send(self, action: dict[str, Any]) -> asyncio.Future[Any]:
        del action
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self.sent += 1

        def answer() -> None:
            fut.set_result({"Response": "Success"})
            if self.sent == 1 and self.task is not None:
                self.task.cancel()

        loop.call_soon(answer)
        return fut


async def test_a_stop_that_meets_the_ping_answer_ends_the_pinger() -> None:
    settings = AmiServerSettings.model_validate(
        {"name": "sim", "port": 1, "ping_interval_s": 0.01, "ping_timeout_s": 1.0}
    )
    adapter = AmiAdapter(settings)
    proto = AnsweringProtocol()
    task = asyncio.create_task(adapter._ping_until_lost(proto))  # type: ignore[arg-type]
    proto.task = task
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert task in done, f"the pinger ran on after its cancellation ({proto.sent} pings)"
    assert task.cancelled()
