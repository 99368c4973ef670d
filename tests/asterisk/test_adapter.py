"""The AMI adapter against the PBX simulator over real TCP."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from asterisk.adapter import AmiAdapter, DialRequest
from asterisk.errors import (
    AmiCapacityError,
    AmiDuplicateOriginateError,
    AmiNotConnectedError,
    AmiUnknownCallError,
)
from asterisk.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallDropped,
    CallFailed,
    CallHungUp,
    CallMachine,
    FailOutcome,
    SeatDown,
    SeatUp,
    ServerDown,
    ServerUp,
)
from asterisk.simulator import PbxSimulator
from tests.asterisk.conftest import EventLog, settings_for


def call_events(log: EventLog, call_id: str) -> list[type]:
    """The types of the lifecycle events of one call, in order."""
    return [type(e) for e in log.events if getattr(e, "call_id", None) == call_id]


async def test_answered_call_is_connected_to_a_seat(ami: tuple[AmiAdapter, EventLog]) -> None:
    """Seat up, dial, answer, Redirect into the seat, customer hangs up: each step is an event."""
    adapter, log = ami
    adapter.start_seat("1001")
    await log.wait_for(lambda e: isinstance(e, SeatUp))
    await adapter.originate(DialRequest("c1", "10106000001"))  # 3 s real: time to connect
    await log.wait_for(lambda e: isinstance(e, CallAnswered))
    adapter.connect("c1", "1001")
    await log.wait_for(lambda e: isinstance(e, CallHungUp))
    assert call_events(log, "c1") == [CallDialing, CallAnswered, CallConnected, CallHungUp]
    assert CallConnected("c1", "1001", "sim") in log.events
    adapter.stop_seat("1001")
    await log.wait_for(lambda e: isinstance(e, SeatDown))


@pytest.mark.parametrize(
    ("number", "outcome", "cause"),
    [
        ("20100000001", FailOutcome.BUSY, 17),
        ("40100000001", FailOutcome.CONGESTION, 34),
        ("90000000001", FailOutcome.INVALID, 0),
        ("30000000001", FailOutcome.NO_ANSWER, 19),
    ],
)
async def test_unanswered_outcomes(
    ami: tuple[AmiAdapter, EventLog], number: str, outcome: FailOutcome, cause: int
) -> None:
    """Busy, congestion, invalid and ring timeout end as CallFailed with outcome and cause."""
    adapter, log = ami
    await adapter.originate(DialRequest("c1", number, ring_timeout_s=2))
    ev = await log.wait_for(lambda e: isinstance(e, CallFailed))
    assert isinstance(ev, CallFailed)
    assert (ev.outcome, ev.cause) == (outcome, cause)
    assert adapter.in_use == 0


async def test_drop_and_machine(ami: tuple[AmiAdapter, EventLog]) -> None:
    """AMD reports a machine; a person with no agent is dropped and then hangs up."""
    adapter, log = ami
    await adapter.originate(DialRequest("m1", "50100000001", amd=True))
    machine = await log.wait_for(lambda e: isinstance(e, CallMachine))
    assert isinstance(machine, CallMachine)
    assert machine.machine
    adapter.hangup("m1", cause=16)
    await log.wait_for(lambda e: isinstance(e, CallHungUp) and e.call_id == "m1")
    # a person who would talk ten minutes: at time scale 20 a 30-s talk ended in 1.5 s,
    # before a loaded machine got to drop() (a flaky CI run)
    await adapter.originate(DialRequest("d1", "10160000001"))
    await log.wait_for(lambda e: isinstance(e, CallAnswered) and e.call_id == "d1")
    adapter.drop("d1")
    await log.wait_for(lambda e: isinstance(e, CallHungUp) and e.call_id == "d1")
    assert call_events(log, "d1") == [CallDialing, CallAnswered, CallDropped, CallHungUp]


async def test_never_dials_twice_across_a_connection_drop(sim: PbxSimulator) -> None:
    """An Originate pending when the connection drops reaches the server exactly once.

    panoramisk 1.4 would re-send it after the next login (same ActionID): here it is not,
    an Originate attempted while disconnected is refused, and the pending call is settled
    from the server's live channels after the reconnect.
    """
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        sim.controls.response_delay_s = 30.0  # the Originate will have no response at all
        action_id = await adapter.originate(DialRequest("p1", "25000000001", ring_timeout_s=90))
        for _ in range(100):
            if action_id in sim.originate_ids():
                break
            await asyncio.sleep(0.01)
        assert sim.drop_connections() == 1
        await log.wait_for(lambda e: isinstance(e, ServerDown))
        with pytest.raises(AmiNotConnectedError):
            await adapter.originate(DialRequest("p2", "20100000002"))
        sim.controls.response_delay_s = 0.0
        await log.wait_for(lambda _: len(log.of(ServerUp)) >= 2)
        # the pending call was alive on the server: it stays tracked and ends by its Hangups
        failed = await log.wait_for(lambda e: isinstance(e, CallFailed) and e.call_id == "p1")
        assert isinstance(failed, CallFailed)
        assert failed.outcome is FailOutcome.BUSY
        with pytest.raises(AmiDuplicateOriginateError):
            await adapter.originate(DialRequest("p1", "25000000001"))
        await asyncio.sleep(0.3)  # give any replay a chance to show up
    assert sim.originate_ids() == [action_id]
    assert adapter.sent_originate_ids == [action_id]
    sessions = {sid for sid, m in sim.received if m.action == "Login"}
    assert len(sessions) == 2


async def test_pending_call_lost_in_a_restart_fails_once(sim: PbxSimulator) -> None:
    """A call whose channels vanish with a server restart ends as failed, exactly once."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        sim.controls.response_delay_s = 30.0
        await adapter.originate(DialRequest("r1", "30000000001"))
        await asyncio.sleep(0.05)
        sim.restart()
        await log.wait_for(lambda e: isinstance(e, ServerDown))
        sim.controls.response_delay_s = 0.0
        ev = await log.wait_for(lambda e: isinstance(e, CallFailed))
        assert isinstance(ev, CallFailed)
        assert ev.call_id == "r1"
        await log.wait_for(lambda _: len(log.of(ServerUp)) >= 2)
        await asyncio.sleep(0.2)
    assert len(log.of(CallFailed)) == 1
    assert len(sim.originate_ids()) == 1


async def test_dead_connection_is_detected_by_ping_timeout(sim: PbxSimulator) -> None:
    """A server that stops answering Pings is declared dead and reconnected to."""
    log = EventLog()
    settings = settings_for(sim, ping_interval_s=0.1, ping_timeout_s=0.2)
    async with AmiAdapter(settings, on_event=log) as adapter:
        await adapter.wait_ready(5)
        sim.controls.ignore_pings = True
        down = await log.wait_for(lambda e: isinstance(e, ServerDown), within_s=3)
        assert isinstance(down, ServerDown)
        sim.controls.ignore_pings = False
        await log.wait_for(lambda _: len(log.of(ServerUp)) >= 2)
        assert adapter.connected


async def test_garbage_from_the_server_is_logged_and_survived(
    ami: tuple[AmiAdapter, EventLog], sim: PbxSimulator
) -> None:
    """Garbage lines are logged as ami_garbage_received; the session and calls go on."""
    adapter, log = ami
    with structlog.testing.capture_logs() as logs:
        sim.inject_garbage()
        sim.inject_garbage(b"Event: Bogus\r\nno colon here\r\n\r\n\xff\xfe\r\n\r\n")
        await adapter.originate(DialRequest("g1", "20100000001"))
        await log.wait_for(lambda e: isinstance(e, CallFailed))
    assert any(e["event"] == "ami_garbage_received" for e in logs)
    assert any(e["event"] == "ami_bad_lines_skipped" for e in logs)
    assert adapter.connected


async def test_login_failure_then_success(sim: PbxSimulator) -> None:
    """A refused login is logged without the secret and retried with backoff."""
    sim.controls.refuse_logins = True
    with structlog.testing.capture_logs() as logs:
        async with AmiAdapter(settings_for(sim, secret="s3cr3t-value")) as adapter:
            await asyncio.sleep(0.3)
            assert not adapter.connected
            sim.controls.refuse_logins = False
            await adapter.wait_ready(5)
    assert any(e["event"] == "ami_login_failed" for e in logs)
    assert "s3cr3t-value" not in repr(logs)


async def test_limits_per_server(sim: PbxSimulator) -> None:
    """max_channels refuses extra calls; originates_per_second spaces Originates out."""
    log = EventLog()
    settings = settings_for(sim, max_channels=2, originates_per_second=20)
    async with AmiAdapter(settings, on_event=log) as adapter:
        await adapter.wait_ready(5)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await adapter.originate(DialRequest("l1", "30000000001"))
        await adapter.originate(DialRequest("l2", "30000000002"))
        with pytest.raises(AmiCapacityError):
            await adapter.originate(DialRequest("l3", "30000000003"))
        assert adapter.free_capacity == 0
    # no burst: one Originate per 1/20 s
    assert loop.time() - t0 >= 0.045


async def test_actions_on_unknown_calls_are_refused(ami: tuple[AmiAdapter, EventLog]) -> None:
    """connect/drop/hangup of a call that is not (yet) answered raise a clear error."""
    adapter, _ = ami
    with pytest.raises(AmiUnknownCallError, match="nope"):
        adapter.connect("nope", "1001")
    await adapter.originate(DialRequest("slow", "30000000001"))
    with pytest.raises(AmiUnknownCallError, match="not answered yet"):
        adapter.drop("slow")


async def test_a_failing_event_handler_does_not_kill_the_session(sim: PbxSimulator) -> None:
    """An exception in the engine's on_event is logged; the session and later events go on."""
    seen: list[object] = []

    def handler(ev: object) -> None:
        seen.append(ev)
        if isinstance(ev, CallDialing):
            raise RuntimeError("engine bug")

    with structlog.testing.capture_logs() as logs:
        async with AmiAdapter(settings_for(sim), on_event=handler) as adapter:
            await adapter.wait_ready(5)
            await adapter.originate(DialRequest("h1", "20100000001"))
            for _ in range(200):
                if any(isinstance(e, CallFailed) for e in seen):
                    break
                await asyncio.sleep(0.01)
            assert adapter.connected
    assert any(isinstance(e, CallFailed) for e in seen)
    assert any(e["event"] == "ami_event_handler_failed" for e in logs)


async def test_events_async_iterator_without_callback(sim: PbxSimulator) -> None:
    """Without on_event, lifecycle events are read in order from ``events()``."""
    async with AmiAdapter(settings_for(sim)) as adapter:
        await adapter.wait_ready(5)
        await adapter.originate(DialRequest("it1", "20100000001"))
        got: list[object] = []

        async def collect() -> None:
            async for ev in adapter.events():
                got.append(ev)
                if isinstance(ev, CallFailed):
                    return

        await asyncio.wait_for(collect(), 5)
    assert [type(e) for e in got] == [ServerUp, CallDialing, CallFailed]


async def test_concurrent_originates_are_spaced_and_never_duplicated(sim: PbxSimulator) -> None:
    """Concurrent callers queue behind the rate limit; one call id is sent once at most."""
    settings = settings_for(sim, originates_per_second=20)
    async with AmiAdapter(settings, on_event=EventLog()) as adapter:
        await adapter.wait_ready(5)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        reqs = [DialRequest(f"k{i}", f"3000000001{i}") for i in range(6)]
        await asyncio.gather(*(adapter.originate(r) for r in reqs))
        elapsed = loop.time() - t0
        same = await asyncio.gather(
            *(adapter.originate(DialRequest("twin", "30000000099")) for _ in range(3)),
            return_exceptions=True,
        )
        await asyncio.sleep(0.1)
    assert elapsed >= 4 / 20 - 0.01  # a burst of 2 (a tenth of a second) at once, then 50 ms each
    assert sum(isinstance(r, str) for r in same) == 1
    assert sum(isinstance(r, AmiDuplicateOriginateError) for r in same) == 2
    assert len(sim.originate_ids()) == 7 == len(set(sim.originate_ids()))


async def test_a_refused_originate_can_be_retried(sim: PbxSimulator) -> None:
    """An Originate refused before anything was written (not connected) may be tried again."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        with pytest.raises(AmiNotConnectedError):
            adapter.originate_now(DialRequest("retry", "20100000001"))
        await adapter.wait_ready(5)
        await adapter.originate(DialRequest("retry", "20100000001"))
        await log.wait_for(lambda e: isinstance(e, CallFailed))
    assert len(sim.originate_ids()) == 1
