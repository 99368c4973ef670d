"""Whose call is it: refused Originates, our own hang-ups, reconnects, other clients,
and a restarted process adopting what it finds on the server."""

from __future__ import annotations

import asyncio

from asterisk.adapter import AmiAdapter, DialRequest
from asterisk.errors import AmiError
from asterisk.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallFailed,
    CallHungUp,
    FailOutcome,
    LifecycleEvent,
    SeatDown,
    SeatUp,
    ServerDown,
    ServerUp,
)
from asterisk.mapping import CallMapper
from asterisk.pool import AmiPool
from asterisk.protocol import Message
from asterisk.settings import AmiServerSettings
from asterisk.simulator import PbxSimulator
from tests.asterisk.conftest import EventLog, settings_for


def msg(*pairs: tuple[str, str]) -> Message:
    """A server message from its pairs."""
    return Message.of(list(pairs))


def test_action_ids_carry_client_id_and_a_nonce_per_start() -> None:
    """Two starts of the same client on the same server never share an ActionID prefix."""
    settings = AmiServerSettings(name="pbx1")
    a = AmiAdapter(settings, client_id="engine-a")
    b = AmiAdapter(settings, client_id="engine-a")
    ida, idb = a._action_id("orig"), b._action_id("orig")
    assert ida.startswith(f"engine-a/{a.nonce}/")
    assert idb.startswith(f"engine-a/{b.nonce}/")
    assert a.nonce != b.nonce
    assert ida != idb


def test_result_with_the_old_action_id_after_a_reconnect_is_used() -> None:
    """After a session loss, the OriginateResponse the server sends to the new session
    (with the old session's ActionID) settles the call with its real Reason."""
    mapper = CallMapper(server="s")
    mapper.register_call(call_id="c1", action_id="me/n1/1/orig/1", channel_id="dialer-c1")
    mapper.connection_lost()
    out = mapper.feed(
        msg(
            ("Event", "OriginateResponse"),
            ("ActionID", "me/n1/1/orig/1"),
            ("Response", "Failure"),
            ("Reason", "5"),
            ("Uniqueid", "dialer-c1"),
        )
    )
    assert out == [CallFailed("c1", FailOutcome.BUSY, 5, 17, "", "s")]


def test_other_clients_channels_are_ignored() -> None:
    """Results and events of channels this client did not originate give nothing, even when
    the other client uses the same call id or agent ids."""
    mapper = CallMapper(server="s")
    mapper.register_call(call_id="c1", action_id="me/n1/1/orig/1", channel_id="dialer-c1")
    foreign = [
        msg(
            ("Event", "OriginateResponse"),
            ("ActionID", "other/n2/1/orig/1"),
            ("Response", "Success"),
            ("Reason", "4"),
            ("Uniqueid", "dialer-x1"),
        ),
        msg(
            ("Event", "UserEvent"),
            ("UserEvent", "CustomerAnswered"),
            ("CallID", "c1"),
            ("Uniqueid", "dialer-x1"),
            ("Linkedid", "dialer-x1"),
        ),
        msg(
            ("Event", "ConfbridgeJoin"),
            ("Conference", "agent-2002"),
            ("Channel", "Local/2002@agents-00000009;2"),
            ("Uniqueid", "seat-2002-x-2"),
            ("Linkedid", "seat-2002-x"),
        ),
    ]
    assert mapper.feed_all(foreign) == []
    assert set(mapper.calls) == {"c1"}
    assert mapper.seats == {}


def test_resync_reports_legs_answered_or_connected_while_the_session_was_down() -> None:
    """A leg found Up in the holding context is answered (adopted, once); one found in a
    seat's conference is connected to that agent."""
    mapper = CallMapper(server="s")
    mapper.register_call(call_id="c1", action_id="A1", channel_id="dialer-c1")
    mapper.register_call(call_id="c2", action_id="A2", channel_id="dialer-c2")
    mapper.connection_lost()
    items = [
        msg(
            ("Event", "CoreShowChannel"),
            ("Channel", "Local/1@customers-00000001;1"),
            ("ChannelState", "6"),
            ("ChannelStateDesc", "Up"),
            ("Context", "dialer-answered"),
            ("Uniqueid", "dialer-c1"),
            ("Linkedid", "dialer-c1"),
            ("Application", "MusicOnHold"),
            ("ApplicationData", "default"),
        ),
        msg(
            ("Event", "CoreShowChannel"),
            ("Channel", "Local/2@customers-00000002;1"),
            ("ChannelState", "6"),
            ("ChannelStateDesc", "Up"),
            ("Context", "agent-bridge"),
            ("Uniqueid", "dialer-c2"),
            ("Linkedid", "dialer-c2"),
            ("Application", "ConfBridge"),
            ("ApplicationData", "agent-1001,dialer_bridge,customer_user"),
        ),
    ]
    out = mapper.resync(items)
    assert out == [
        CallAnswered("c1", "Local/1@customers-00000001;1", "dialer-c1", "s", adopted=True),
        CallAnswered("c2", "Local/2@customers-00000002;1", "dialer-c2", "s", adopted=True),
        CallConnected("c2", "1001", "s"),
    ]
    assert mapper.resync(items) == []


async def test_hangup_before_answer_is_cancelled(sim: PbxSimulator) -> None:
    """A ringing call this client hangs up ends CANCELLED (says nothing about the number)."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        await adapter.originate(DialRequest("r1", "30000000001", ring_timeout_s=60))
        await log.wait_for(lambda e: isinstance(e, CallDialing))
        adapter.hangup("r1")
        failed = await log.wait_for(lambda e: isinstance(e, CallFailed))
        assert isinstance(failed, CallFailed)
        assert failed.outcome is FailOutcome.CANCELLED


async def test_restarted_pool_adopts_a_live_call_and_seat(sim: PbxSimulator) -> None:
    """A client crashes with a customer talking to agent 1001; a new pool lists the rooms
    and members, adopts both, and their hangups end them as CallHungUp and SeatDown."""
    first = EventLog()
    old = AmiAdapter(settings_for(sim), client_id="crashed", on_event=first)
    async with old:
        await old.wait_ready(5)
        old.start_seat("1001")
        await first.wait_for(lambda e: isinstance(e, SeatUp))
        await old.originate(DialRequest("k1", "10109900001"))
        answered = await first.wait_for(lambda e: isinstance(e, CallAnswered))
        old.connect("k1", "1001")
        await first.wait_for(lambda e: isinstance(e, CallConnected))
    log = EventLog()
    async with AmiPool([settings_for(sim)], client_id="restarted", on_event=log) as pool:
        await pool.wait_ready(5)
        rooms = await pool.confbridge_rooms(server="sim")
        assert [r.get("Conference") for r in rooms] == ["agent-1001"]
        members = await pool.confbridge_list("agent-1001", server="sim")
        assert len(members) == 2
        for m in members:
            if m.get("Context") == "agents":
                pool.adopt_seat("1001", server="sim", uniqueid=m.get("Linkedid"), members=set())
            else:
                assert isinstance(answered, CallAnswered)
                assert m.get("Uniqueid") == answered.uniqueid
                pool.adopt_call(
                    "k1",
                    server="sim",
                    channel_id=m.get("Uniqueid"),
                    channel=m.get("Channel"),
                    agent="1001",
                )
        assert pool.server_of_agent("1001") == "sim"
        pool.hangup("k1")
        await log.wait_for(lambda e: isinstance(e, CallHungUp) and e.call_id == "k1")
        pool.stop_seat("1001")
        await log.wait_for(lambda e: isinstance(e, SeatDown))
        await asyncio.sleep(0)
        assert [type(e) for e in log.events if not e.__class__.__name__.startswith("Server")] == [
            CallHungUp,
            SeatDown,
        ]


async def test_two_engines_on_one_asterisk_keep_their_own_calls(sim: PbxSimulator) -> None:
    """Two clients on one server see every OriginateResponse and event (as on Asterisk);
    each takes only its own calls and seats: A's busy call and B's answered call end with
    the right outcome on the right client, and nothing of the other's reaches either."""
    log_a, log_b = EventLog(), EventLog()
    async with (
        AmiAdapter(settings_for(sim), client_id="engine-a", on_event=log_a) as a,
        AmiAdapter(settings_for(sim), client_id="engine-b", on_event=log_b) as b,
    ):
        await a.wait_ready(5)
        await b.wait_ready(5)
        a.start_seat("1001")
        b.start_seat("2001")
        await log_a.wait_for(lambda e: isinstance(e, SeatUp))
        await log_b.wait_for(lambda e: isinstance(e, SeatUp))
        await a.originate(DialRequest("a-1", "20100000001"))
        await b.originate(DialRequest("b-1", "10106000001"))  # 3 s real: time to connect
        answered = await log_b.wait_for(lambda e: isinstance(e, CallAnswered))
        assert isinstance(answered, CallAnswered)
        b.connect("b-1", "2001")
        await log_b.wait_for(lambda e: isinstance(e, CallConnected))
        busy = await log_a.wait_for(lambda e: isinstance(e, CallFailed))
        assert isinstance(busy, CallFailed)
        assert busy.outcome is FailOutcome.BUSY
        await log_b.wait_for(lambda e: isinstance(e, CallHungUp))
        mine_a = {getattr(e, "call_id", getattr(e, "agent_id", "")) for e in log_a.events}
        mine_b = {getattr(e, "call_id", getattr(e, "agent_id", "")) for e in log_b.events}
        assert mine_a - {""} == {"a-1", "1001"}
        assert mine_b - {""} == {"b-1", "2001"}
        assert a.in_use == 1  # its seat
        assert b.in_use == 1


async def test_after_a_pbx_restart_seats_are_down_and_can_come_back(sim: PbxSimulator) -> None:
    """A PBX restart ends every seat (SeatDown), the session comes back (ServerUp), and the
    same seat can be originated again and takes calls (re-originating is the engine's job)."""
    log = EventLog()
    async with AmiAdapter(settings_for(sim), on_event=log) as adapter:
        await adapter.wait_ready(5)
        adapter.start_seat("1001")
        await log.wait_for(lambda e: isinstance(e, SeatUp))
        sim.restart()
        await log.wait_for(lambda e: isinstance(e, SeatDown) and e.agent_id == "1001")
        await log.wait_for(lambda e: isinstance(e, ServerDown))
        await log.wait_for(lambda _: len(log.of(ServerUp)) >= 2)
        adapter.start_seat("1001")
        await log.wait_for(lambda _: len(log.of(SeatUp)) >= 2)
        await adapter.originate(DialRequest("r1", "10160000001"))
        await log.wait_for(lambda e: isinstance(e, CallAnswered) and e.call_id == "r1")
        adapter.connect("r1", "1001")
        await log.wait_for(lambda e: isinstance(e, CallConnected) and e.call_id == "r1")


async def test_an_answer_adopted_at_resync_can_be_connected_at_once(sim: PbxSimulator) -> None:
    """A person who answered while the session was down is reported at the resync once the
    session is ready: the engine's immediate Redirect into a seat is sent, not refused as
    "not connected" (which left the person in silence, recorded as connected)."""
    refused: list[AmiError] = []
    log = EventLog()
    adapter: AmiAdapter

    def sink(event: LifecycleEvent) -> None:
        log(event)
        if isinstance(event, CallAnswered) and event.adopted:
            try:
                adapter.connect(event.call_id, "1001")
            except AmiError as exc:  # what the engine meets (it skips the action)
                refused.append(exc)

    adapter = AmiAdapter(settings_for(sim, reconnect_min_s=0.5), on_event=sink)
    async with adapter:
        await adapter.wait_ready(5)
        adapter.start_seat("1001")
        await log.wait_for(lambda e: isinstance(e, SeatUp))
        await adapter.originate(DialRequest("k1", "10509900001"))
        await log.wait_for(lambda e: isinstance(e, CallDialing))
        sim.drop_connections()  # the answer (after 5 simulated seconds) falls in the gap
        await log.wait_for(lambda e: isinstance(e, CallAnswered) and e.adopted)
        assert refused == []
        await log.wait_for(lambda e: isinstance(e, CallConnected) and e.call_id == "k1")
