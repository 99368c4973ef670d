"""List actions (CoreShowChannels, ConfbridgeListRooms, ConfbridgeList) return every item.

Asterisk answers a list action with "Response: Success / EventList: start" and writes the
items after it, one by one, up to a ``...Complete`` event. The adapter once took the first
response for the whole list (panoramisk resolves an action's future on it): a restart or a
takeover then read whatever items happened to share that TCP read, and adopted 2 or 3 of
4 idle seats. The simulator writes the items after the response, as Asterisk does."""

from __future__ import annotations

from asterisk.adapter import AmiAdapter
from asterisk.events import SeatUp
from asterisk.simulator import PbxSimulator
from tests.asterisk.conftest import EventLog, settings_for


async def test_every_item_of_a_list_is_returned(sim: PbxSimulator) -> None:
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as seats:
        await seats.wait_ready(5)
        for k in range(1, 9):
            seats.start_seat(f"10{k:02d}")
        await log.wait_for(lambda _: sum(isinstance(e, SeatUp) for e in log.events) == 8)
        async with AmiAdapter(settings_for(sim, name="reader"), on_event=EventLog()) as reader:
            await reader.wait_ready(5)
            for _ in range(5):
                channels = await reader.live_channels()
                rooms = await reader.confbridge_rooms()
                assert len(channels) == 16, "both legs of every seat"
                assert sorted(r.get("Conference") for r in rooms) == [
                    f"agent-10{k:02d}" for k in range(1, 9)
                ]
                for room in rooms:
                    members = await reader.confbridge_list(room.get("Conference"))
                    assert len(members) == 1, room.get("Conference")


async def test_a_refused_list_is_empty(sim: PbxSimulator) -> None:
    """No such conference: Asterisk answers "Response: Error"; that is no item, at once."""
    async with AmiAdapter(settings_for(sim), on_event=EventLog()) as adapter:
        await adapter.wait_ready(5)
        assert await adapter.confbridge_list("agent-nobody") == []
        assert await adapter.confbridge_rooms() == []
