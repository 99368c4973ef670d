"""Callback-request events: their topic and payload, shared by the API and the runtime."""

from __future__ import annotations

from typing import Any

from campaigns.requests import RequestView
from dialer.engine.sink import EventSink


def request_topic(request_id: int | str) -> str:
    """Retained topic of a callback request's state."""
    return f"requests/{request_id}"


def request_event(view: RequestView) -> dict[str, Any]:
    """The MQTT / live-stream payload of a request's state."""
    return {
        "request_id": view.id,
        "state": view.state,
        "kind": view.kind,
        "source": view.source,
        "campaign": view.campaign_id,
        "record_id": view.record_id,
        "agent": view.agent_id,
        "call_id": view.call_id,
        "due_at": view.due_at.isoformat(),
        "reason": view.reason,
    }


def publish_request(sink: EventSink, view: RequestView) -> None:
    """Publish a request's state (retained: a subscriber sees where each request is)."""
    sink.publish(request_topic(view.id), request_event(view), retain=True)
