"""Fixtures: a simulator on a free port and adapters pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from asterisk.adapter import AmiAdapter
from asterisk.events import LifecycleEvent
from asterisk.settings import AmiServerSettings
from asterisk.simulator import PbxSimulator
from asterisk.world import World


class EventLog:
    """Collects lifecycle events and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[LifecycleEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, ev: LifecycleEvent) -> None:
        self.events.append(ev)
        self._changed.set()

    async def wait_for(
        self, match: Callable[[LifecycleEvent], bool], within_s: float = 5.0
    ) -> LifecycleEvent:
        """The first event (already seen or future) for which ``match`` is true."""

        async def scan() -> LifecycleEvent:
            i = 0
            while True:
                while i < len(self.events):
                    if match(self.events[i]):
                        return self.events[i]
                    i += 1
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within_s)

    def of(self, kind: type) -> list[LifecycleEvent]:
        """Every event of one type."""
        return [e for e in self.events if isinstance(e, kind)]


def settings_for(sim: PbxSimulator, **overrides: object) -> AmiServerSettings:
    """Adapter settings for the simulator, with fast pings and reconnects."""
    base: dict[str, object] = {
        "name": "sim",
        "port": sim.port,
        "secret": "dialer-secret",
        "ping_interval_s": 0.5,
        "ping_timeout_s": 1.0,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "login_timeout_s": 2.0,
    }
    base.update(overrides)
    return AmiServerSettings.model_validate(base)


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    """A lab-dialplan simulator at 20x speed on a free port."""
    async with PbxSimulator(World(), port=0, time_scale=20.0) as s:
        yield s


@pytest.fixture
async def ami(sim: PbxSimulator) -> AsyncIterator[tuple[AmiAdapter, EventLog]]:
    """A connected adapter and the log of its lifecycle events."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        yield adapter, log
