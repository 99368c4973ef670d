"""Live events for the HTTP stream: the engine publishes, each open stream gets a copy.

:class:`EventHub` is an :class:`~dialer.engine.sink.EventSink`: the runtime publishes to it beside
MQTT (:class:`TeeSink`). It keeps the last payload of retained topics (campaign figures,
agent states), so a page that opens a stream sees the present at once, then each change.
A slow reader loses its oldest events rather than holding the engine back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialer.engine.sink import EventSink


@dataclass(frozen=True)
class LiveEvent:
    """One event: its topic (``campaigns/3/stats``, ``agents/7/state`` …) and payload."""

    topic: str
    payload: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """One reader's queue; iterate with :meth:`EventHub.listen`."""

    queue: asyncio.Queue[LiveEvent]
    dropped: int = 0


@dataclass
class EventHub:
    """Fan-out of engine events to the open live streams (same event loop as the engine)."""

    max_queue: int = 1000
    retained: dict[str, LiveEvent] = field(default_factory=dict)
    closed: bool = False
    """Set by :meth:`close`: open streams end (within a second) so the server can stop."""
    _subs: set[Subscription] = field(default_factory=set)

    def close(self) -> None:
        """The engine is stopping: open live streams end."""
        self.closed = True

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Hand an event to every reader (never blocks: a full queue loses its oldest)."""
        body = dict(payload)
        body.setdefault("ts", dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"))
        event = LiveEvent(topic, body)
        if retain:
            self.retained[topic] = event
        for sub in self._subs:
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(event)

    def snapshot(self) -> list[LiveEvent]:
        """The retained events: the present state of campaigns and agents."""
        return list(self.retained.values())

    def subscribe(self) -> Subscription:
        """Start receiving events (call :meth:`unsubscribe` when done)."""
        sub = Subscription(asyncio.Queue(self.max_queue))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop receiving events."""
        self._subs.discard(sub)

    @property
    def readers(self) -> int:
        """How many streams are open."""
        return len(self._subs)

    def pending(self, sub: Subscription) -> Iterator[LiveEvent]:
        """The events queued for ``sub`` right now."""
        while not sub.queue.empty():
            yield sub.queue.get_nowait()


@dataclass
class TeeSink:
    """Publishes each event to several sinks (MQTT and the live hub)."""

    sinks: tuple[EventSink, ...]

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Publish to every sink."""
        for sink in self.sinks:
            sink.publish(topic, payload, retain=retain)
