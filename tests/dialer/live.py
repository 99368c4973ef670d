"""A test rig: the engine core on the AMI adapter pool against the PBX simulator, with the
in-memory lead source and journal (no database), ticking on the wall clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from asterisk import events as ev
from asterisk.errors import AmiError
from asterisk.pool import AmiPool
from asterisk.settings import AmiServerSettings
from dialer.agents import Phase
from dialer.clock import WallClock
from dialer.engine import CampaignRun, Command, Engine, Originate
from dialer.memory import MemoryJournal, MemoryLeads, MemoryRecord
from dialer.mqtt import MemorySink
from dialer.telephony import dial_request, execute_now, refused
from pacing import types as pt


class Progressive:
    """One call per ready agent with nothing ringing for it (a pacer that never drops)."""

    def observe(self, event: pt.Event) -> None:
        """Nothing to learn."""

    def decide(self, view: pt.View) -> int:
        """Ready agents minus calls already ringing."""
        return max(0, view.agents_ready - len(view.ringing_elapsed_s) - view.calls_waiting)


class LiveRig:
    """``async with LiveRig(port, phones) as rig``: engine + pool, events handled as they
    arrive, a tick every ``tick_s``, drops at their deadline."""

    def __init__(
        self,
        port: int,
        phones: list[str],
        *,
        tick_s: float = 0.1,
        max_wait_s: float = 2.0,
        amd: bool = False,
        server: dict[str, object] | None = None,
        call_prefix: str = "live",
    ) -> None:
        self.settings = AmiServerSettings.model_validate(
            {
                "name": "sim",
                "port": port,
                "originates_per_second": 1000,
                "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.5,
                "amd": amd,
                **(server or {}),
            }
        )
        self.leads = MemoryLeads([MemoryRecord(i + 1, 1, p) for i, p in enumerate(phones)])
        self.journal = MemoryJournal(self.leads)
        self.sink = MemorySink()
        self.clock = WallClock()
        self.engine = Engine(
            clock=self.clock,
            leads=self.leads,
            journal=self.journal,
            sink=self.sink,
            lines=50,
            call_prefix=call_prefix,
        )
        self.engine.add_campaign(
            CampaignRun(1, "live", Progressive(), max_wait_s=max_wait_s, amd=amd)
        )
        self.pool = AmiPool([self.settings], on_event=self.on_event)
        self.events: list[ev.LifecycleEvent] = []
        self.tick_s = tick_s
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Self:
        await self.pool.__aenter__()
        await self.pool.wait_ready(5.0)
        self._tasks.append(asyncio.create_task(self._ticker()))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.__aexit__(exc_type, exc, tb)

    def on_event(self, event: ev.LifecycleEvent) -> None:
        """Feed one telephony event to the engine and carry out its commands."""
        self.events.append(event)
        self.execute(self.engine.on_event(event))
        self._changed.set()

    def execute(self, commands: list[Command]) -> None:
        """Carry out engine commands on the pool; refused Originates go back as events."""
        failures: list[ev.LifecycleEvent] = []
        for cmd in commands:
            if isinstance(cmd, Originate):
                try:
                    self.pool.originate_nowait(dial_request(cmd))
                except AmiError as exc:
                    failures.append(refused(cmd.call_id, exc))
        failures += execute_now(self.pool, commands, originate=False)  # type: ignore[arg-type]
        for failure in failures:
            self.on_event(failure)

    def wrap_up(self) -> None:
        """Agents in wrap-up set status 1 (TO_CALL), as a person at the screen would."""
        for agent in list(self.engine.agents.values()):
            state = agent.state
            if state.phase is Phase.WRAP_UP and state.call_id is not None:
                self.execute(self.engine.agent_set_status(state.agent_id, state.call_id, 1))

    async def _ticker(self) -> None:
        while True:
            self.wrap_up()
            self.execute(self.engine.tick())
            self._changed.set()
            await asyncio.sleep(self.tick_s)

    async def until(self, what: str, check: Callable[[], object], within_s: float = 10.0) -> None:
        """Wait until ``check()`` is truthy (re-checked after every event and tick)."""
        deadline = time.monotonic() + within_s
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                msg = f"timed out waiting for {what}"
                raise AssertionError(msg)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._changed.wait()
