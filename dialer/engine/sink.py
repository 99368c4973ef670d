"""The engine's event-sink port: where it sends live state (MQTT in ``dialer run``).

The protocol and its topic names live beside the engine, which does not import the MQTT
module; :mod:`dialer.runtime.mqtt` implements the port over a broker, :class:`MemorySink` and
:class:`NullSink` in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class EventSink(Protocol):
    """Where the engine sends its live events; publishing never blocks or raises."""

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Queue one event for delivery under ``topic`` (relative to the sink's prefix)."""


def call_topic(campaign: int | str, call_id: str) -> str:
    """Topic of a call's state changes."""
    return f"calls/{campaign}/{call_id}"


def agent_state_topic(agent: int | str) -> str:
    """Retained topic of an agent's state."""
    return f"agents/{agent}/state"


def screenpop_topic(agent: int | str) -> str:
    """Topic of the screen pop sent to the agent who got a call."""
    return f"agents/{agent}/screenpop"


def preview_topic(agent: int | str) -> str:
    """Topic of the record shown to an agent of a preview campaign (``record`` None: none)."""
    return f"agents/{agent}/preview"


def campaign_stats_topic(campaign: int | str) -> str:
    """Retained topic of a campaign's live figures."""
    return f"campaigns/{campaign}/stats"


@dataclass
class MemorySink:
    """An in-memory sink that keeps what was published (tests, ``dialer simulate``)."""

    messages: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Keep the event."""
        self.messages.append((topic, dict(payload), retain))

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The payloads published under exactly ``topic``."""
        return [payload for t, payload, _ in self.messages if t == topic]


class NullSink:
    """Publishes nowhere (no broker configured, or a simulation)."""

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Discard the event."""
