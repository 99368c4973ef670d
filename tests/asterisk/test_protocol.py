"""The pure AMI framing layer, tested by bytes alone."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from asterisk.protocol import AmiParser, Garbage, Greeting, Message, encode
from tests.asterisk.transcripts import ALL, server_bytes

GREETING = b"Asterisk Call Manager/11.0.0\r\n"
PING = b"Response: Success\r\nActionID: 1\r\nPing: Pong\r\nTimestamp: 1.5\r\n\r\n"


def test_greeting_is_a_single_line_without_blank_line() -> None:
    """The banner is recognised though no blank line follows it."""
    out = AmiParser().feed(GREETING + PING)
    assert out[0] == Greeting("11.0.0")
    assert isinstance(out[1], Message)
    assert out[1].response == "Success"
    assert out[1].get("Ping") == "Pong"


def test_split_at_every_byte_gives_the_same_messages() -> None:
    """Feeding one byte at a time yields exactly what one big feed yields."""
    data = server_bytes("b_answered_to_agent")
    whole = AmiParser().feed(data)
    parser = AmiParser()
    pieces: list[object] = []
    for i in range(len(data)):
        pieces.extend(parser.feed(data[i : i + 1]))
    assert pieces == whole


def test_repeated_keys_are_kept_in_order() -> None:
    """``Variable:`` may repeat; every value is kept and the lookup gives the first."""
    msg = AmiParser(expect_greeting=False, direction="client").feed(
        b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    )[0]
    assert isinstance(msg, Message)
    assert msg.get_all("Variable") == ["A=1", "B=2"]
    assert msg.get("Variable") == "A=1"


def test_empty_values_are_values() -> None:
    """``AccountCode: `` (empty value) is a field with an empty value, not garbage."""
    msg = AmiParser(expect_greeting=False).feed(b"Event: X\r\nAccountCode: \r\nValue:\r\n\r\n")[0]
    assert isinstance(msg, Message)
    assert msg.pairs == [("Event", "X"), ("AccountCode", ""), ("Value", "")]


def test_noisy_events_are_skipped_by_first_line() -> None:
    """Skipped event names never become messages and are counted."""
    parser = AmiParser(expect_greeting=False, skip=("Newexten",))
    out = parser.feed(b"Event: Newexten\r\nA: 1\r\n\r\n" + PING)
    assert len(out) == 1
    assert parser.skipped == 1


def test_garbage_is_reported_and_parsing_goes_on() -> None:
    """A block that is not AMI becomes Garbage; the next good message still parses."""
    out = AmiParser(expect_greeting=False).feed(b"\x00\xffhello world\r\n\r\n" + PING)
    assert isinstance(out[0], Garbage)
    assert isinstance(out[1], Message)


def test_oversized_message_is_cut() -> None:
    """A never-ending message is reported instead of growing the buffer forever."""
    parser = AmiParser(expect_greeting=False)
    out = parser.feed(b"Event: X\r\n" + b"A: " + b"x" * 300_000 + b"\r\nB: y")
    assert any(isinstance(m, Garbage) for m in out)
    assert isinstance(parser.feed(b"\r\n\r\n" + PING)[-1], Message)


def test_encode_roundtrip() -> None:
    """Encoding a message and parsing it back gives the same pairs."""
    data = encode([("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2")])
    assert data.endswith(b"\r\n\r\n")
    msg = AmiParser(expect_greeting=False, direction="client").feed(data)[0]
    assert isinstance(msg, Message)
    assert msg.pairs == [("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2")]


def test_every_transcript_parses_without_garbage() -> None:
    """Every recorded server stream parses into messages with no garbage at all."""
    for name in ALL:
        out = AmiParser().feed(server_bytes(name))
        assert not [m for m in out if isinstance(m, Garbage)], name
        assert isinstance(out[0], Greeting), name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=30), st.integers(0, 2**32))
def test_fuzz_random_bytes_never_raise(chunks: list[bytes], seed: int) -> None:
    """Arbitrary bytes mixed into real traffic never raise and never lose later messages."""
    rng = random.Random(seed)
    real = server_bytes("c_no_answer_timeout")
    parser = AmiParser()
    parser.feed(GREETING)
    for chunk in chunks:
        parser.feed(chunk)
    # a clean message boundary, then real traffic: everything after it is understood
    parser.feed(b"\r\n\r\n")
    body = real[len(GREETING) :]
    cut = rng.randrange(1, len(body))
    out = parser.feed(body[:cut]) + parser.feed(body[cut:])
    messages = [m for m in out if isinstance(m, Message)]
    expected = [m for m in AmiParser().feed(real) if isinstance(m, Message)]
    assert messages[-len(expected) :] == expected
