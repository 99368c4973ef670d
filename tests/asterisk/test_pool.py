"""Several servers behind one pool: capacity routing, a down server takes no calls."""

from __future__ import annotations

import pytest

from asterisk.adapter import DialRequest
from asterisk.errors import AmiNotConnectedError, AmiUnknownCallError
from asterisk.events import CallAnswered, CallConnected, SeatUp, ServerDown
from asterisk.pool import AmiPool
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from tests.asterisk.conftest import EventLog, settings_for


async def test_calls_go_to_free_capacity_and_avoid_a_down_server() -> None:
    """Calls spread by free capacity; when one server dies, new calls go to the other."""
    log = EventLog()
    async with (
        PbxSimulator(World(), port=0, time_scale=20) as sim_a,
        PbxSimulator(World(), port=0, time_scale=20) as sim_b,
    ):
        servers = [
            settings_for(sim_a, name="a", max_channels=3),
            settings_for(sim_b, name="b", max_channels=5, reconnect_min_s=5, reconnect_max_s=5),
        ]
        async with AmiPool(servers, on_event=log) as pool:
            await pool.wait_ready(5)
            while not all(a.connected for a in pool.adapters):
                await log.wait_for(lambda _: all(a.connected for a in pool.adapters))
            placed = []
            for i in range(4):
                await pool.originate(DialRequest(f"x{i}", f"3000000000{i}"))
                placed.append(pool.server_of_call(f"x{i}"))
            assert placed == ["b", "b", "a", "b"]
            sim_b.drop_connections()
            await log.wait_for(lambda e: isinstance(e, ServerDown) and e.server == "b")
            await pool.originate(DialRequest("y1", "30000000009"))
            assert pool.server_of_call("y1") == "a"
            sim_a.drop_connections()
            await log.wait_for(lambda e: isinstance(e, ServerDown) and e.server == "a")
            with pytest.raises(AmiNotConnectedError):
                await pool.originate(DialRequest("y2", "30000000008"))


async def test_connect_needs_the_seat_on_the_calls_server() -> None:
    """A call is connected only to a seat on its own server; the pool says where seats are."""
    log = EventLog()
    async with (
        PbxSimulator(World(), port=0, time_scale=20) as sim,
        AmiPool([settings_for(sim, name="a")], on_event=log) as pool,
    ):
        await pool.wait_ready(5)
        pool.start_seat("1001")
        await log.wait_for(lambda e: isinstance(e, SeatUp))
        assert pool.server_of_agent("1001") == "a"
        await pool.originate(DialRequest("c1", "10105000001"))
        await log.wait_for(lambda e: isinstance(e, CallAnswered))
        with pytest.raises(AmiUnknownCallError, match="seat is on no server"):
            pool.connect("c1", "2002")
        pool.connect("c1", "1001")
        await log.wait_for(lambda e: isinstance(e, CallConnected))


async def test_a_campaigns_seats_stay_together_while_their_server_has_room() -> None:
    """Seats of one campaign go where its other seats are (one pool of agents for its
    answered people); a campaign's first seat goes to its home server (a rotation from
    its number, the same in every engine); a server whose seats reach a third of its
    channels takes no more."""
    log = EventLog()
    async with (
        PbxSimulator(World(), port=0, time_scale=20) as sim_a,
        PbxSimulator(World(), port=0, time_scale=20) as sim_b,
        AmiPool(
            [
                settings_for(sim_a, name="a", max_channels=9),
                settings_for(sim_b, name="b", max_channels=9),
            ],
            on_event=log,
        ) as pool,
    ):
        await pool.wait_ready(5)
        while not all(a.connected for a in pool.adapters):
            await log.wait_for(lambda _: all(a.connected for a in pool.adapters))

        async def seat(agent: str, group: str) -> str | None:
            pool.start_seat(agent, group=group)
            await log.wait_for(lambda e: isinstance(e, SeatUp) and e.agent_id == agent)
            return pool.server_of_agent(agent)

        assert await seat("1001", "7") == "b"  # 7 mod 2 = 1: the second server
        assert await seat("2001", "8") == "a"
        assert await seat("1002", "7") == "b"
        assert await seat("1003", "7") == "b"
        # b has 3 seats, a third of its 9 channels: campaign 7 goes on on a
        assert await seat("1004", "7") == "a"
        assert await seat("2002", "8") == "a"
        # both full of seats: the one with the most free channels
        assert await seat("1005", "7") in {"a", "b"}
