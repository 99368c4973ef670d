"""The queue tracker reads the real recordings i1–i4 into the right inbound facts."""

from __future__ import annotations

from asterisk.protocol import AmiParser, Message
from asterisk.queues import (
    InboundAbandoned,
    InboundAnswered,
    InboundCompleted,
    InboundJoined,
    InboundLeftUnanswered,
    InboundMissed,
    InboundRingNoAnswer,
    QueueTracker,
)
from tests.asterisk import transcripts


def _facts(name: str, tracker: QueueTracker | None = None) -> list[object]:
    tracker = tracker or QueueTracker(server="lab")
    msgs = [m for m in AmiParser().feed(transcripts.server_bytes(name)) if isinstance(m, Message)]
    return list(tracker.feed_all(msgs))


def test_i1_abandon_is_one_missed_call_with_hold_seconds() -> None:
    """i1: the caller joins sales and gives up after 6 s: joined, then abandoned, once."""
    facts = _facts("i1_queue_abandon")
    assert [type(f) for f in facts] == [InboundJoined, InboundAbandoned]
    ab = facts[1]
    assert isinstance(ab, InboundAbandoned)
    assert (ab.queue, ab.caller, ab.hold_s, ab.position, ab.original_position) == (
        "sales",
        "48601000001",
        6,
        1,
        1,
    )
    assert ab.uniqueid == facts[0].uniqueid  # type: ignore[attr-defined]


def test_i2_answered_is_never_missed_although_leave_comes_first() -> None:
    """i2: QueueCallerLeave precedes AgentConnect; the call is answered, then completed."""
    facts = _facts("i2_queue_answered")
    assert [type(f) for f in facts] == [InboundJoined, InboundAnswered, InboundCompleted]
    ans, done = facts[1], facts[2]
    assert isinstance(ans, InboundAnswered)
    assert isinstance(done, InboundCompleted)
    assert (ans.member, ans.hold_s, ans.ring_s) == ("Agent 2001", 2, 2)
    assert (done.talk_s, done.reason, done.caller) == (5, "caller", "48601000002")


def test_i3_ring_no_answer_counts_milliseconds_then_abandon() -> None:
    """i3: AgentRingNoAnswer's RingTime is 15000 ms; the caller then abandons after 18 s."""
    facts = _facts("i3_queue_ring_noanswer_then_abandon")
    assert [type(f) for f in facts] == [InboundJoined, InboundRingNoAnswer, InboundAbandoned]
    rna, ab = facts[1], facts[2]
    assert isinstance(rna, InboundRingNoAnswer)
    assert rna.ring_ms == 15000
    assert isinstance(ab, InboundAbandoned)
    assert ab.hold_s == 18


def test_i4_after_hours_user_event_is_a_miss_of_the_configured_queue() -> None:
    """i4: no Queue* event; the InboundMissed UserEvent makes the miss."""
    facts = _facts("i4_after_hours", QueueTracker(server="lab", missed_queue="after-hours"))
    assert len(facts) == 1
    miss = facts[0]
    assert isinstance(miss, InboundMissed)
    assert (miss.caller, miss.reason, miss.context, miss.queue) == (
        "48601000004",
        "after-hours",
        "after-hours",
        "after-hours",
    )


def test_other_queues_and_other_user_events_are_ignored() -> None:
    """A tracker for queue 'support' sees nothing of sales; a renamed event is not a miss."""
    assert _facts("i1_queue_abandon", QueueTracker(server="lab", queues=frozenset({"x"}))) == []
    assert _facts("i4_after_hours", QueueTracker(server="lab", missed_event="Other")) == []


def _ev(name: str, uid: str, **fields: str) -> Message:
    return Message.of([("Event", name), ("Uniqueid", uid), *fields.items()])


def test_leaving_without_abandon_or_agent_is_missed_at_hangup_only() -> None:
    """A caller who leaves (queue timeout) and hangs up unanswered is missed, once."""
    t = QueueTracker(server="s")
    t.feed(_ev("QueueCallerJoin", "u1", Queue="q", CallerIDNum="48601000009", Position="1"))
    assert t.feed(_ev("QueueCallerLeave", "u1", Queue="q")) == []
    out = t.feed(_ev("Hangup", "u1", Cause="16"))
    assert out == [InboundLeftUnanswered("s", "q", "48601000009", "u1")]
    assert t.feed(_ev("Hangup", "u1", Cause="16")) == []
    assert t.waiting == 0


def test_abandon_seen_twice_counts_once() -> None:
    """The same QueueCallerAbandon delivered twice gives one missed fact."""
    t = QueueTracker(server="s")
    t.feed(_ev("QueueCallerJoin", "u1", Queue="q", CallerIDNum="1"))
    ab = _ev("QueueCallerAbandon", "u1", Queue="q", HoldTime="3")
    assert len(t.feed(ab)) == 1
    assert t.feed(ab) == []
