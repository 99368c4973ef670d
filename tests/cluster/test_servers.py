"""Several Asterisk servers: calls are placed where the campaign's agent seats are, and an
answered person is connected only to an agent whose seat is on the same server."""

from __future__ import annotations

from contextlib import AsyncExitStack

from asterisk import events as ev
from asterisk.adapter import DialRequest
from asterisk.pool import AmiPool
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from dialer.engine import CampaignRun, ConnectCall, Engine, Originate, RunState, StartSeat
from dialer.engine import agents as ag
from dialer.engine.clock import VirtualClock
from dialer.runtime.mqtt import MemorySink
from dialer.runtime.telephony import execute_now
from dialer.sim.memory import MemoryJournal, MemoryLeads, MemoryRecord
from tests.asterisk.conftest import EventLog, settings_for
from tests.dialer.test_engine import FixedPacer

SERVER_OF_SEAT = {"1001": "pbx1", "1002": "pbx2", "1003": "pbx2"}


def _engine(pacer_n: int) -> tuple[Engine, VirtualClock]:
    clock = VirtualClock()
    leads = MemoryLeads([MemoryRecord(i, 1, f"+4822100{i:04d}") for i in range(1, 60)])
    engine = Engine(
        clock=clock,
        leads=leads,
        journal=MemoryJournal(leads),
        sink=MemorySink(),
        lines=30,
        seat_server=SERVER_OF_SEAT.get,
    )
    engine.add_campaign(CampaignRun(1, "two servers", FixedPacer(pacer_n), max_wait_s=2.0))
    engine.set_state(1, RunState.RUNNING)
    return engine, clock


def _login(engine: Engine, clock: VirtualClock, *agents: int) -> None:
    for agent_id in agents:
        seat = str(1000 + agent_id)
        assert engine.agent_login(agent_id, seat, 1) == [StartSeat(agent_id, seat, "1")]
        engine.on_event(ev.SeatUp(agent_id=seat, channel="x"))
        clock.advance(1.0)


def test_calls_are_placed_in_proportion_to_the_seats_on_each_server() -> None:
    """One seat on pbx1 and two on pbx2: of six calls, two go to pbx1 and four to pbx2."""
    engine, clock = _engine(pacer_n=6)
    _login(engine, clock, 1, 2, 3)
    calls = [c for c in engine.tick() if isinstance(c, Originate)]
    assert len(calls) == 6
    servers = sorted(c.server or "" for c in calls)
    assert servers == ["pbx1", "pbx1", "pbx2", "pbx2", "pbx2", "pbx2"]


def test_an_answered_person_goes_to_an_agent_on_the_same_server() -> None:
    """The longest idle agent is on pbx1, but a person answering on pbx2 is connected to the
    agent whose seat is on pbx2; one answering on a server with no ready seat waits."""
    engine, clock = _engine(pacer_n=4)
    _login(engine, clock, 1, 2)
    calls = [c for c in engine.tick() if isinstance(c, Originate)]
    on_pbx2 = next(c for c in calls if c.server == "pbx2")
    out = engine.on_event(ev.CallAnswered(on_pbx2.call_id, "Local/x;1", "u2", server="pbx2"))
    assert [c.seat for c in out if isinstance(c, ConnectCall)] == ["1002"]
    other_pbx2 = next(c for c in calls if c.server == "pbx2" and c is not on_pbx2)
    out = engine.on_event(ev.CallAnswered(other_pbx2.call_id, "Local/y;1", "u3", server="pbx2"))
    assert [c for c in out if isinstance(c, ConnectCall)] == [], "agent 1's seat is on pbx1"


def test_a_server_whose_session_is_down_gets_no_calls_for_its_seats() -> None:
    """pbx2's AMI session drops: new calls go only where seats are reachable (pbx1), and
    none at all once no reachable seat is left; pbx2 back up, it gets calls again."""
    engine, clock = _engine(pacer_n=3)
    _login(engine, clock, 1, 2, 3)
    engine.on_event(ev.ServerDown("pbx2", "connection lost"))
    placed = [c for c in engine.tick() if isinstance(c, Originate)]
    assert placed
    assert {c.server for c in placed} == {"pbx1"}
    engine.on_event(ev.ServerDown("pbx1", "connection lost"))
    assert [c for c in engine.tick() if isinstance(c, Originate)] == []
    engine.on_event(ev.ServerUp("pbx2"))
    clock.advance(1.0)
    assert {c.server for c in engine.tick() if isinstance(c, Originate)} == {"pbx2"}


async def test_the_pool_places_a_call_on_the_server_it_names_while_it_can() -> None:
    """A request naming a server goes there (even with more free channels elsewhere); when
    that server is full it goes to the one with the most free channels."""
    log = EventLog()
    async with (
        PbxSimulator(World(), port=0, time_scale=20) as sim_a,
        PbxSimulator(World(), port=0, time_scale=20) as sim_b,
    ):
        servers = [
            settings_for(sim_a, name="a", max_channels=2),
            settings_for(sim_b, name="b", max_channels=9),
        ]
        async with AmiPool(servers, on_event=log) as pool:
            await pool.wait_ready(5)
            while not all(a.connected for a in pool.adapters):
                await log.wait_for(lambda _: all(a.connected for a in pool.adapters))
            for i in range(3):
                assert (
                    pool.originate_nowait(DialRequest(f"x{i}", f"3000000000{i}", server="a"))
                    is not None
                )
            assert [pool.server_of_call(f"x{i}") for i in range(3)] == ["a", "a", "b"]


async def test_agents_of_a_server_that_went_away_are_reseated_on_another() -> None:
    """Two simulators, agents seated on both; one is stopped. Before ``reseat_after_s`` its
    agents wait (no call for them); after it, the ready ones get a seat on the server that
    is up, are ready there, and every call goes to that server."""
    log = EventLog()
    clock = VirtualClock()
    leads = MemoryLeads([MemoryRecord(i, 1, f"+4822100{i:04d}") for i in range(1, 60)])
    async with AsyncExitStack() as stack:
        sim_a = await stack.enter_async_context(PbxSimulator(World(), port=0, time_scale=20))
        sim_b = PbxSimulator(World(), port=0, time_scale=20)
        await sim_b.__aenter__()
        b_up = True
        try:
            servers = [
                settings_for(sim_a, name="a", max_channels=20),
                settings_for(sim_b, name="b", max_channels=20, reconnect_min_s=60),
            ]
            pool = await stack.enter_async_context(AmiPool(servers, on_event=log))
            engine = Engine(
                clock=clock,
                leads=leads,
                journal=MemoryJournal(leads),
                sink=MemorySink(),
                lines=30,
                seat_server=pool.server_of_agent,
                reseat_after_s=5.0,
            )
            engine.add_campaign(CampaignRun(1, "two servers", FixedPacer(4), max_wait_s=2.0))
            engine.set_state(1, RunState.RUNNING)
            while not all(a.connected for a in pool.adapters):
                await log.wait_for(lambda _: all(a.connected for a in pool.adapters))
            seen = 0

            async def feed(until: object) -> None:
                """Hand the pool's events to the engine (carrying out its commands) until
                ``until`` holds."""
                nonlocal seen
                while True:
                    while seen < len(log.events):
                        event = log.events[seen]
                        seen += 1
                        execute_now(pool, engine.on_event(event), originate=False)
                    if until():  # type: ignore[operator]
                        return
                    await log.wait_for(lambda _, fed=seen: fed < len(log.events))

            for agent_id in (1, 2, 3, 4):
                seat = str(1000 + agent_id)
                cmds = engine.agent_login(agent_id, seat, 1)
                # Seats spread over both servers: 1 and 3 on a, 2 and 4 on b.
                execute_now(pool, [c for c in cmds if not isinstance(c, StartSeat)])
                pool.start_seat(seat, server="a" if agent_id % 2 else "b")
            await feed(lambda: all(a.state.seat_up for a in engine.agents.values()))
            assert {pool.server_of_agent(str(1000 + i)) for i in (2, 4)} == {"b"}

            await sim_b.__aexit__(None, None, None)  # pbx b goes away
            b_up = False
            await feed(lambda: "b" in engine.servers_down)
            clock.advance(1.0)
            early = engine.tick()
            assert not [c for c in early if isinstance(c, StartSeat)], "too early to move"
            assert {c.server for c in early if isinstance(c, Originate)} <= {"a"}

            clock.advance(5.0)
            moved = engine.tick()
            assert sorted(c.agent_id for c in moved if isinstance(c, StartSeat)) == [2, 4]
            execute_now(pool, moved, originate=False)
            await feed(
                lambda: all(
                    engine.agents[i].state.seat_up and pool.server_of_agent(str(1000 + i)) == "a"
                    for i in (2, 4)
                )
            )
            assert all(a.state.phase is ag.Phase.READY for a in engine.agents.values())
            clock.advance(1.0)
            placed = [c for c in engine.tick() if isinstance(c, Originate)]
            assert placed
            assert {c.server for c in placed} == {"a"}
        finally:
            if b_up:
                await sim_b.__aexit__(None, None, None)
