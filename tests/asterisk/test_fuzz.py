"""Garbage, truncated or unknown AMI input is survived all the way through the adapter."""

from __future__ import annotations

import asyncio

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from asterisk.adapter import AmiAdapter, _Protocol
from asterisk.bench import bench_parse
from asterisk.mapping import CallMapper
from asterisk.protocol import Message
from asterisk.settings import AmiServerSettings
from tests.asterisk.transcripts import server_bytes

KEYS = [
    "Event",
    "Response",
    "ActionID",
    "Uniqueid",
    "Linkedid",
    "Channel",
    "Cause",
    "Reason",
    "UserEvent",
    "Conference",
    "CallID",
    "State",
    "DestUniqueid",
    "DialStatus",
    "Junk",
]
EVENTS = [
    "OriginateResponse",
    "Hangup",
    "UserEvent",
    "ConfbridgeJoin",
    "ConfbridgeLeave",
    "Newstate",
    "DialEnd",
    "Shutdown",
    "Mystery",
]


class _Sink(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Discard."""

    def is_closing(self) -> bool:
        """Open."""
        return False


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(KEYS),
                st.one_of(st.sampled_from(EVENTS), st.text(max_size=12)),
            ),
            max_size=8,
        ),
        max_size=20,
    )
)
def test_mapper_survives_arbitrary_messages(messages: list[list[tuple[str, str]]]) -> None:
    """Any mix of fields and values, known or not, never raises in the mapper."""
    mapper = CallMapper()
    mapper.register_call(call_id="c", action_id="A", channel_id="u1")
    mapper.register_seat(agent_id="1", action_id="S")
    for pairs in messages:
        mapper.feed(Message.of(pairs))
    mapper.connection_lost()
    mapper.resync([Message.of(p) for p in messages])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=4000))
def test_adapter_read_path_survives_garbage_and_truncation(junk: bytes, cut: int) -> None:
    """Junk, then a transcript cut anywhere: the read path logs garbage and never raises."""
    adapter = AmiAdapter(AmiServerSettings(name="fuzz"), on_event=lambda _e: None)
    proto = _Protocol(adapter)
    proto.connection_made(_Sink())
    real = server_bytes("e_no_agent_drop")
    with structlog.testing.capture_logs():
        proto.data_received(real[:cut])
        proto.data_received(junk)
        proto.data_received(b"\r\n\r\n" + real[cut:])
    assert adapter.stats["messages"] > 0


def test_bench_parse_counts_and_dispatches() -> None:
    """The parse benchmark runs a generated stream through the adapter and reports a rate."""
    with structlog.testing.capture_logs():
        result = bench_parse(5_000)
    assert result["events"] >= 5_000
    assert result["events_per_s"] > 0
    assert result["lifecycle_events"] > 0
