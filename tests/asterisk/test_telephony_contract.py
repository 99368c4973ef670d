"""One suite, two implementations of the engine's Telephony interface.

``tcp``: the AMI adapter talking to the PBX simulator over a socket (world time 20x).
``memory``: :class:`WorldTelephony`, the same world and mapper in virtual time.
Both must give the engine the same lifecycle events for the same situations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from asterisk.adapter import AmiAdapter, DialRequest
from asterisk.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallDropped,
    CallFailed,
    CallHungUp,
    FailOutcome,
    LifecycleEvent,
    SeatDown,
    SeatUp,
)
from asterisk.memory import WorldTelephony
from asterisk.pool import Telephony
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from tests.asterisk.conftest import EventLog, settings_for

Match = Callable[[LifecycleEvent], bool]


@dataclass
class Harness:
    """A Telephony implementation, its event log and a way to let time pass."""

    tel: Telephony
    log: EventLog
    wait: Callable[[Match], object]


@pytest.fixture(params=["tcp", "memory"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """Each test runs once over TCP and once in memory."""
    log = EventLog()
    if request.param == "tcp":
        async with (
            PbxSimulator(World(), port=0, time_scale=20) as sim,
            AmiAdapter(settings_for(sim), on_event=log) as adapter,
        ):
            await adapter.wait_ready(5)

            async def wait_tcp(match: Match) -> LifecycleEvent:
                return await log.wait_for(match, within_s=10)

            yield Harness(adapter, log, wait_tcp)
        return
    tel = WorldTelephony(World(), on_event=log)

    async def wait_memory(match: Match) -> LifecycleEvent:
        for _ in range(100_000):
            for ev in log.events:
                if match(ev):
                    return ev
            nt = tel.next_time()
            assert nt is not None, "the world has nothing left to do"
            tel.advance(nt)
        raise AssertionError("no matching event")

    yield Harness(tel, log, wait_memory)


def calls(log: EventLog, call_id: str) -> list[LifecycleEvent]:
    """Events of one call, server name blanked (it differs between implementations)."""
    return [e for e in log.events if getattr(e, "call_id", None) == call_id]


def kinds(log: EventLog, call_id: str) -> list[type]:
    """Types of one call's events."""
    return [type(e) for e in calls(log, call_id)]


async def test_seat_call_connect_hangup(harness: Harness) -> None:
    """Seat up, answered call connected to it, customer hangs up, seat torn down."""
    tel, log = harness.tel, harness.log
    tel.start_seat("1001")
    await harness.wait(lambda e: isinstance(e, SeatUp))
    await tel.originate(DialRequest("c1", "10106000001"))  # 3 s real: time to connect
    await harness.wait(lambda e: isinstance(e, CallAnswered))
    tel.connect("c1", "1001")
    await harness.wait(lambda e: isinstance(e, CallHungUp))
    assert kinds(log, "c1") == [CallDialing, CallAnswered, CallConnected, CallHungUp]
    hup = calls(log, "c1")[-1]
    assert isinstance(hup, CallHungUp)
    assert hup.cause == 16
    tel.stop_seat("1001")
    await harness.wait(lambda e: isinstance(e, SeatDown))


async def test_busy_and_drop(harness: Harness) -> None:
    """Busy ends as CallFailed(busy, 17); an answered call sent to drop is CallDropped."""
    tel, log = harness.tel, harness.log
    await tel.originate(DialRequest("b1", "20100000001"))
    failed = await harness.wait(lambda e: isinstance(e, CallFailed))
    assert isinstance(failed, CallFailed)
    assert (failed.outcome, failed.reason, failed.cause) == (FailOutcome.BUSY, 5, 17)
    await tel.originate(DialRequest("d1", "10105000001"))
    await harness.wait(lambda e: isinstance(e, CallAnswered) and e.call_id == "d1")
    tel.drop("d1")
    await harness.wait(lambda e: isinstance(e, CallHungUp) and e.call_id == "d1")
    assert kinds(log, "d1") == [CallDialing, CallAnswered, CallDropped, CallHungUp]
