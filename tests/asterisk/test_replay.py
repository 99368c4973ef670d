"""Each real-Asterisk transcript, replayed byte for byte, yields the right lifecycle events."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from asterisk.adapter import AmiAdapter, _Protocol
from asterisk.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallDropped,
    CallFailed,
    CallHungUp,
    CallMachine,
    CallRefused,
    FailOutcome,
    LifecycleEvent,
    SeatDown,
    SeatUp,
)
from asterisk.mapping import CallMapper
from asterisk.protocol import AmiParser, Message
from asterisk.settings import AmiServerSettings
from tests.asterisk.transcripts import load


class _NullTransport(asyncio.Transport):
    """Where the adapter's protocol would write: nowhere (replay only reads)."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Discard."""

    def is_closing(self) -> bool:
        """Open."""
        return False

    def abort(self) -> None:
        """Nothing to abort."""


def replay(name: str) -> list[LifecycleEvent]:
    """Feed the recorded bytes, in order, through the adapter's own read path.

    Server bytes go to the adapter's protocol ``data_received`` exactly as they were
    recorded; the client's actions are shown to the mapper (what ``originate`` would have
    registered). A reconnect in the recording starts a new protocol, as the adapter does.
    """
    events: list[LifecycleEvent] = []
    adapter = AmiAdapter(AmiServerSettings(name="lab"), on_event=events.append)
    client = AmiParser(expect_greeting=False, direction="client")
    proto = None
    for chunk in load(name):
        if chunk.direction == ">>":
            for msg in client.feed(chunk.data):
                assert isinstance(msg, Message)
                adapter.mapper.observe_action(msg)
        elif chunk.direction == "<<":
            assert proto is not None
            proto.data_received(chunk.data)
        elif b"TCP connected" in chunk.data:
            proto = _Protocol(adapter)
            proto.connection_made(_NullTransport())
        elif b"TCP connection lost" in chunk.data and proto is not None and not proto.closed:
            proto.closed = True
            adapter.mapper.connection_lost()
    assert adapter.stats["garbage"] == 0
    assert all(e.server == "lab" for e in events)
    return [dataclasses.replace(e, server="") for e in events]


def fail(call: str, outcome: FailOutcome, reason: int, cause: int) -> CallFailed:
    """Shorthand for an expected failure."""
    return CallFailed(call, outcome, reason, cause)


def answered(name: str, call: str) -> CallAnswered:
    """The CallAnswered of ``call`` as found in the replay (channel/uniqueid from the wire)."""
    return next(e for e in replay(name) if isinstance(e, CallAnswered) and e.call_id == call)


EXPECTED: dict[str, list[object]] = {
    "a_login_agent_seat": [SeatUp, SeatDown("1001")],
    "b_answered_to_agent": [
        SeatUp,
        CallDialing("b-0001"),
        CallAnswered,
        CallConnected("b-0001", "1001"),
        CallHungUp("b-0001", 16, "Normal Clearing"),
        SeatDown("1001"),
    ],
    "c_no_answer_timeout": [CallDialing("c-0001"), fail("c-0001", FailOutcome.NO_ANSWER, 3, 19)],
    "d1_busy": [
        CallDialing("d1-0001"),
        fail("d1-0001", FailOutcome.BUSY, 5, 17),
        CallDialing("d1-0002"),
        fail("d1-0002", FailOutcome.BUSY, 5, 17),
    ],
    "d2_congestion": [CallDialing("d2-0001"), fail("d2-0001", FailOutcome.CONGESTION, 8, 34)],
    "d3_invalid_extension": [
        CallDialing("d3-0001"),
        fail("d3-0001", FailOutcome.INVALID, 0, 0),
        CallDialing,
        CallFailed,
    ],
    "e_no_agent_drop": [
        CallDialing("e-0001"),
        CallAnswered("e-0001", "Local/10103000001@customers-0000000a;1", "dialer-e-0001"),
        CallDropped("e-0001"),
        CallHungUp("e-0001", 16, "Normal Clearing"),
    ],
    "f1_amd_machine": [
        CallDialing("f1-0001"),
        CallAnswered,
        CallMachine("f1-0001", "MACHINE", "LONGGREETING-1500-1500"),
        CallHungUp("f1-0001", 0, "Unknown"),
    ],
    "f2_amd_human": [
        SeatUp,
        CallDialing("f2-0001"),
        CallAnswered,
        CallMachine("f2-0001", "HUMAN", "HUMAN-800-800"),
        CallConnected("f2-0001", "1001"),
        CallHungUp("f2-0001", 16, "Normal Clearing"),
        SeatDown("1001"),
    ],
    "g1_agent_hangs_up_first": [
        SeatUp,
        CallDialing("g1-0001"),
        CallAnswered,
        CallConnected("g1-0001", "1001"),
        SeatDown("1001"),
        CallHungUp("g1-0001", 16, "Normal Clearing"),
    ],
    "g2_ami_reconnect": [
        SeatUp,
        CallDialing("g2-0001"),
        fail("g2-0001", FailOutcome.FAILED, 0, 0),
        SeatDown("1001"),
        CallDialing("g2-0002"),
        fail("g2-0002", FailOutcome.BUSY, 5, 17),
    ],
    "g3_restart_via_ami_command": [],
    # (a) (b) refused synchronously: no call placed; (c) the Application form is placed
    "h1_originate_unknown_exten": [
        CallRefused("h1-a", "Extension does not exist."),
        CallRefused("h1-b", "Extension does not exist."),
        CallRefused("h1-b2", "Extension does not exist."),
        CallDialing("h1-c"),
        fail("h1-c", FailOutcome.INVALID, 0, 0),
    ],
    "h2_two_sessions_see_results": [
        CallDialing("h2-0001"),
        fail("h2-0001", FailOutcome.BUSY, 5, 17),
        CallDialing("h2-0002"),
        CallAnswered,
        CallHungUp("h2-0002", 0, "Unknown"),
    ],
    # session B sent nothing: A's results and channels are not its calls
    "h2b_two_sessions_see_results": [],
    # Reason 0 after this client's own Hangup: cancelled, never invalid
    "h3_hangup_while_ringing": [
        CallDialing("h3-0001"),
        fail("h3-0001", FailOutcome.CANCELLED, 0, 0),
        CallDialing("h3-0002"),
        fail("h3-0002", FailOutcome.CANCELLED, 0, 0),
        CallDialing("h3-0003"),
        fail("h3-0003", FailOutcome.CANCELLED, 0, 0),
    ],
    "h4_duplicate_channelid": [
        CallDialing("h4-0001"),
        CallDialing("h4-0002"),
        CallFailed("h4-0002", FailOutcome.FAILED, 0, 0, "ChannelId dialer-h4-0001 already in use"),
        fail("h4-0001", FailOutcome.NO_ANSWER, 3, 19),
    ],
    "h5_hold_timeout_drop": [
        CallDialing("h5-0001"),
        CallAnswered,
        CallDropped("h5-0001"),
        CallHungUp("h5-0001", 16, "Normal Clearing"),
    ],
    "h6_session_dropped_while_ringing": [
        SeatUp,
        CallDialing("h6-0001"),
        CallAnswered(
            "h6-0001", "Local/10301500001@customers-00000002;1", "dialer-h6-0001", adopted=False
        ),
        CallConnected("h6-0001", "1001"),
        CallHungUp("h6-0001", 16, "Normal Clearing"),
        SeatDown("1001"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transcript_yields_lifecycle_events(name: str) -> None:
    """The replayed transcript produces exactly the expected lifecycle events, in order."""
    got = replay(name)
    want = EXPECTED[name]
    assert len(got) == len(want), got
    for g, w in zip(got, want, strict=True):
        if isinstance(w, type):
            assert isinstance(g, w), (g, w)
        else:
            assert g == w


def test_answered_event_names_the_controlled_leg() -> None:
    """CallAnswered carries the ;1 channel and its Uniqueid, which Redirect and resync use."""
    ev = answered("b_answered_to_agent", "b-0001")
    assert ev.channel == "Local/10201200001@customers-00000004;1"
    assert ev.uniqueid == "1795446037.8"


def test_seat_up_names_the_seat_leg() -> None:
    """SeatUp names the agent and the channel sitting in the conference."""
    ev = replay("a_login_agent_seat")[0]
    assert ev == SeatUp("1001", "Local/1001@agents-00000000;2")


def test_resync_settles_unknown_calls() -> None:
    """After a connection loss, calls absent from CoreShowChannels end; present ones stay."""
    mapper = CallMapper(server="s1")
    mapper.register_call(call_id="gone", action_id="A1", channel_id="u-gone")
    mapper.register_call(call_id="alive", action_id="A2", channel_id="u-alive")
    mapper.register_call(call_id="talking", action_id="A3", channel_id="u-talk")
    mapper.feed(Message.of([("Response", "Success"), ("ActionID", "A3")]))
    mapper.feed(
        Message.of(
            [("Event", "UserEvent"), ("UserEvent", "CustomerAnswered"), ("Uniqueid", "u-talk")]
        )
    )
    mapper.connection_lost()
    out = mapper.resync([Message.of([("Event", "CoreShowChannel"), ("Uniqueid", "u-alive")])])
    assert out == [
        CallFailed("gone", FailOutcome.FAILED, -1, 0, "not found after AMI reconnect", "s1"),
        CallHungUp("talking", 0, "Gone after AMI reconnect", "s1"),
    ]
    assert set(mapper.calls) == {"alive"}
    # the survivor ends on its own Hangup events: its OriginateResponse went to the old session
    late = mapper.feed_all(
        [
            Message.of(
                [
                    ("Event", "Hangup"),
                    ("Uniqueid", "u-alive-2"),
                    ("Linkedid", "u-alive"),
                    ("Channel", "Local/1@c-1;2"),
                    ("Cause", "17"),
                ]
            ),
            Message.of([("Event", "Hangup"), ("Uniqueid", "u-alive"), ("Cause", "0")]),
        ]
    )
    assert late == [
        CallFailed("alive", FailOutcome.BUSY, -1, 17, "ended while the AMI session was lost", "s1")
    ]


def test_unrelated_and_malformed_messages_give_nothing() -> None:
    """Events about channels the mapper does not track, or missing fields, are ignored."""
    mapper = CallMapper()
    for pairs in (
        [("Event", "Hangup")],
        [("Event", "OriginateResponse"), ("ActionID", "nope"), ("Reason", "x")],
        [("Event", "ConfbridgeJoin"), ("Conference", "other")],
        [("Event", "UserEvent"), ("UserEvent", "CustomerAnswered")],
        [("Response", "Error"), ("ActionID", "zzz")],
        [("Event", "Whatever"), ("Foo", "bar")],
    ):
        assert mapper.feed(Message.of(pairs)) == []
