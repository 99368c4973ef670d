"""A late loop is not a dead server.

An engine whose event loop stalls (CPU-saturated, a long GC) reads the Pong late: the
timer of the ping's timeout and the bytes of its answer become ready in the same turn of
the loop. The adapter once dropped the session there, and the reconnect's adoption sent
people already answered to the drop message (the cluster bench on 2 cores: 10 drops in
one second, each after 0 s of wait). A server that really stopped answering is still
found out (tests/asterisk/test_adapter.py, ignore_pings). The simulator runs on a thread
of its own here: a server does not stall with its client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from asterisk.adapter import AmiAdapter
from asterisk.events import ServerDown
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from tests.asterisk.conftest import EventLog, settings_for


@pytest.fixture
def sim_apart() -> Iterator[PbxSimulator]:
    """A simulator serving from another thread's event loop; its answers come 0.2 s late."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    box: list[PbxSimulator] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        async with PbxSimulator(World(), port=0, time_scale=20.0) as sim:
            sim.controls.response_delay_s = 0.2
            box.append(sim)
            stop.append(asyncio.Event())
            loops.append(asyncio.get_running_loop())
            ready.set()
            await stop[0].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    sim = box[0]
    yield sim
    loops[0].call_soon_threadsafe(stop[0].set)
    thread.join(10)


async def test_stalls_of_the_clients_loop_longer_than_the_ping_timeout_keep_the_session(
    sim_apart: PbxSimulator,
) -> None:
    log = EventLog()
    settings = settings_for(sim_apart, ping_interval_s=0.05, ping_timeout_s=0.6)
    async with AmiAdapter(settings, on_event=log) as adapter:
        await adapter.wait_ready(5)
        for _ in range(6):
            await asyncio.sleep(0.07)  # a ping goes out; its Pong is 0.2 s away
            time.sleep(1.2)  # noqa: ASYNC251 - the stall itself: the loop does nothing
        await asyncio.sleep(0.5)
        assert not any(isinstance(e, ServerDown) for e in log.events), log.events
        assert adapter.connected


async def test_a_stall_past_the_timer_before_a_slow_pong_keeps_the_session(
    sim_apart: PbxSimulator,
) -> None:
    """The loop stalls past the ping's timeout and the Pong comes only after the stall:
    nothing was read, but the timer ran late, so it measured the loop, not the server; the
    answer gets one more timeout (the cluster bench: an engine starved of CPU lost all four
    servers at once and dropped the people answered meanwhile)."""
    log = EventLog()
    settings = settings_for(sim_apart, ping_interval_s=0.05, ping_timeout_s=0.6)
    async with AmiAdapter(settings, on_event=log) as adapter:
        await adapter.wait_ready(5)
        for _ in range(3):
            sim_apart.controls.response_delay_s = 1.1
            await asyncio.sleep(0.07)  # a ping goes out; its Pong is 1.1 s away
            time.sleep(0.9)  # noqa: ASYNC251 - the stall: past the timer, before the Pong
            sim_apart.controls.response_delay_s = 0.2
            await asyncio.sleep(1.0)
        assert not any(isinstance(e, ServerDown) for e in log.events), log.events
        assert adapter.connected
