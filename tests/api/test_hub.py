"""The live event hub: retained state, fan-out, bounded queues, and the tee sink."""

from __future__ import annotations

from dialer.api.hub import EventHub, TeeSink
from dialer.runtime.mqtt import MemorySink


async def test_retained_events_form_the_snapshot_and_latest_wins() -> None:
    """A page opening a stream late sees the present state of each retained topic."""
    hub = EventHub()
    hub.publish("campaigns/1/stats", {"dials": 1}, retain=True)
    hub.publish("campaigns/1/stats", {"dials": 2}, retain=True)
    hub.publish("calls/1/x", {"state": "dialing"})
    snapshot = hub.snapshot()
    assert [(e.topic, e.payload["dials"]) for e in snapshot] == [("campaigns/1/stats", 2)]
    assert "ts" in snapshot[0].payload


async def test_every_reader_gets_every_event_after_subscribing() -> None:
    """Two open streams each receive the events published after they subscribed."""
    hub = EventHub()
    hub.publish("calls/1/early", {})
    first, second = hub.subscribe(), hub.subscribe()
    hub.publish("calls/1/a", {"n": 1})
    hub.publish("agents/2/state", {"phase": "ready"}, retain=True)
    for sub in (first, second):
        assert [e.topic for e in hub.pending(sub)] == ["calls/1/a", "agents/2/state"]
    hub.unsubscribe(first)
    hub.publish("calls/1/b", {})
    assert list(hub.pending(first)) == []
    assert [e.topic for e in hub.pending(second)] == ["calls/1/b"]
    assert hub.readers == 1


async def test_a_slow_reader_loses_its_oldest_events_not_the_engine_time() -> None:
    """Publishing never blocks: a full queue drops its oldest event and counts it."""
    hub = EventHub(max_queue=3)
    sub = hub.subscribe()
    for n in range(5):
        hub.publish("calls/1/x", {"n": n})
    assert [e.payload["n"] for e in hub.pending(sub)] == [2, 3, 4]
    assert sub.dropped == 2


def test_tee_sink_publishes_to_every_sink() -> None:
    """The runtime's sink reaches both MQTT (here a memory sink) and the hub."""
    memory, hub = MemorySink(), EventHub()
    TeeSink((memory, hub)).publish("campaigns/3/stats", {"dials": 7}, retain=True)
    assert memory.messages == [("campaigns/3/stats", {"dials": 7}, True)]
    assert hub.retained["campaigns/3/stats"].payload["dials"] == 7
