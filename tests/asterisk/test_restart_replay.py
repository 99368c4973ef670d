"""Real recordings of a lost AMI session (h6) and of a crashed client (h7), replayed into
the adapter: an answered person is never lost, and a restarted client adopts what lives."""

from __future__ import annotations

import asyncio
import dataclasses

from asterisk.adapter import AmiAdapter, _Protocol, call_id_of
from asterisk.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallHungUp,
    LifecycleEvent,
    SeatDown,
    SeatUp,
)
from asterisk.protocol import AmiParser, Message, encode
from asterisk.settings import AmiServerSettings
from tests.asterisk.transcripts import load


class _Recorder(asyncio.Transport):
    """A transport that keeps what the adapter writes (a replay must see it write nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keep."""
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        """Open."""
        return False

    def abort(self) -> None:
        """Nothing to abort."""


@dataclasses.dataclass
class Step:
    """One recorded message: who sent it, in which TCP session (1, 2, ...)."""

    session: int
    direction: str  # ">>" client, "<<" server
    msg: Message


def steps(name: str) -> list[Step]:
    """The transcript as messages in wire order, numbered by TCP session."""
    out: list[Step] = []
    session = 0
    server = AmiParser()
    client = AmiParser(expect_greeting=False, direction="client")
    for chunk in load(name):
        if chunk.direction == "##":
            if b"TCP connected" in chunk.data:
                session += 1
                server = AmiParser()
            continue
        parser = server if chunk.direction == "<<" else client
        out.extend(
            Step(session, chunk.direction, item)
            for item in parser.feed(chunk.data)
            if isinstance(item, Message)
        )
    return out


def new_adapter(events: list[LifecycleEvent]) -> tuple[AmiAdapter, _Protocol, _Recorder]:
    """An adapter with a live protocol on a recording transport."""
    adapter = AmiAdapter(AmiServerSettings(name="lab"), on_event=events.append)
    proto = _Protocol(adapter)
    wire = _Recorder()
    proto.connection_made(wire)
    return adapter, proto, wire


def test_h6_answer_while_no_session_is_adopted_at_resync() -> None:
    """A person who answered while the session was down (their CustomerAnswered and
    OriginateResponse were lost) is found Up in the holding context by the resync after
    the reconnect and reported as CallAnswered(adopted=True); the Redirect then connects
    them and their hangup ends the call."""
    events: list[LifecycleEvent] = []
    adapter, proto, _ = new_adapter(events)
    recorded = steps("h6_session_dropped_while_ringing")
    listing = next(
        s.msg.action_id
        for s in recorded
        if s.direction == ">>" and s.msg.action == "CoreShowChannels"
    )
    items: list[Message] = []
    in_gap = lost = False
    for step in recorded:
        if step.direction == ">>":
            adapter.mapper.observe_action(step.msg)
            continue
        if step.session == 2 and not lost:
            assert proto is not None
            proto.closed = True
            adapter.mapper.connection_lost()
            proto, in_gap, lost = None, True, True
        if in_gap and step.msg.get("ActionID") != listing:
            continue  # the gap: nothing reached the client until its CoreShowChannels
        if in_gap:
            if step.msg.event == "CoreShowChannel":
                items.append(step.msg)
                continue
            if step.msg.event != "CoreShowChannelsComplete":
                continue
            events.extend(adapter.mapper.resync(items))
            # what AmiAdapter.connect needs: the answered ;1 leg, known by name
            st = adapter._answered_call("h6-0001")
            assert st.channel == "Local/10301500001@customers-00000002;1"
            in_gap = False
            proto, _, _ = _attach(adapter)
            continue
        assert proto is not None
        proto.data_received(encode(step.msg.pairs))
    got = [dataclasses.replace(e, server="") for e in events]
    assert got == [
        SeatUp("1001", "Local/1001@agents-00000000;2"),
        CallDialing("h6-0001"),
        CallAnswered(
            "h6-0001", "Local/10301500001@customers-00000002;1", "dialer-h6-0001", adopted=True
        ),
        CallConnected("h6-0001", "1001"),
        CallHungUp("h6-0001", 16, "Normal Clearing"),
        SeatDown("1001"),
    ]


def _attach(adapter: AmiAdapter) -> tuple[_Protocol, AmiAdapter, _Recorder]:
    proto = _Protocol(adapter)
    wire = _Recorder()
    proto.connection_made(wire)
    return proto, adapter, wire


def test_h7_restarted_client_adopts_the_live_call_and_seat() -> None:
    """A new process (no memory of the crashed one) reads CoreShowChannels and
    ConfbridgeList, adopts the customer in agent 1001's seat and the seat itself; the
    later hangups end them as CallHungUp and SeatDown, and the adapter writes nothing."""
    events: list[LifecycleEvent] = []
    adapter, proto, wire = new_adapter(events)
    channels: list[Message] = []
    members: list[Message] = []
    adopted = False
    for step in steps("h7_adopt_after_client_crash"):
        if step.session != 2 or step.direction != "<<":
            continue  # the crashed process's session and the recorded client's actions
        proto.data_received(encode(step.msg.pairs))
        if step.msg.event == "CoreShowChannel":
            channels.append(step.msg)
        elif step.msg.event == "ConfbridgeList":
            members.append(step.msg)
        elif step.msg.event == "ConfbridgeListComplete" and not adopted:
            adopted = True
            assert events == []  # nothing of the past reaches a new session
            _adopt(adapter, channels, members)
    assert adopted
    got = [dataclasses.replace(e, server="") for e in events]
    assert got == [CallHungUp("h7-0001", 16, "Normal Clearing"), SeatDown("1001")]
    assert wire.written == []
    assert adapter.mapper.calls == {}
    assert adapter.mapper.seats == {}


def _adopt(adapter: AmiAdapter, channels: list[Message], members: list[Message]) -> None:
    """What the engine does at start-up with the lists (here from the recording)."""
    conference_of = {m.get("Uniqueid"): m.get("Conference") for m in members}
    for ch in channels:
        call_id = call_id_of(ch.get("Uniqueid"))
        if call_id is not None and ch.get("Context") in ("agent-bridge", "dialer-answered"):
            agent = conference_of.get(ch.get("Uniqueid"), "").removeprefix("agent-") or None
            adapter.adopt_call(
                call_id, channel_id=ch.get("Uniqueid"), channel=ch.get("Channel"), agent=agent
            )
    for m in members:
        linked = m.get("Linkedid")
        if m.get("Context") == "agents":  # a seat leg, not a customer
            agent = m.get("Conference").removeprefix("agent-")
            adapter.adopt_seat(agent, uniqueid=linked, members={m.get("Uniqueid")})
