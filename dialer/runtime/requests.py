"""Callback requests in the running engine: their states follow the engine's call facts.

:class:`RequestJournal` is the call journal (:class:`~dialer.runtime.store.SqlJournal`)
that, after writing each fact of a call whose record carries a callback request
(``fields["callback_request"]``), moves that request to its next state and publishes it
(topic ``requests/<id>``). Calls of other records cost nothing more. It runs on the
journal's worker thread, so events are handed to the sink through :class:`LoopSink`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
import structlog

from campaigns.enums import Outcome
from campaigns.requests import FIELD_REQUEST, CallFact, expire_overdue, on_call_fact
from dialer.engine import Call
from dialer.engine.clock import Clock
from dialer.engine.request_events import publish_request
from dialer.engine.sink import EventSink
from dialer.runtime.jobs import JobSpec
from dialer.runtime.store import SqlJournal

log = structlog.get_logger(__name__)


class LoopSink:
    """An event sink usable from any thread: events are handed to ``inner`` on the loop
    given by :meth:`bind` (or published at once while no loop is bound)."""

    def __init__(self, inner: EventSink) -> None:
        self.inner = inner
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Publish through ``loop`` from now on."""
        self.loop = loop

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Queue the event on the bound loop (never blocks, never raises)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            self.inner.publish(topic, payload, retain=retain)
            return
        try:
            loop.call_soon_threadsafe(lambda: self.inner.publish(topic, payload, retain=retain))
        except RuntimeError:  # the loop closed meanwhile
            log.warning("request_event_lost", topic=topic)


def _request_of(call: Call) -> int | None:
    value = call.lead.fields.get(FIELD_REQUEST)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class RequestJournal(SqlJournal):
    """The call journal, moving callback requests along with their calls' facts."""

    _BATCH_STATE = (*SqlJournal._BATCH_STATE, "_dialed")

    def __init__(
        self,
        db: sa.Engine,
        *,
        engine_id: str,
        clock: Clock,
        nonce: str | None = None,
        sink: EventSink,
    ) -> None:
        super().__init__(db, engine_id=engine_id, clock=clock, nonce=nonce)
        self.sink = sink
        self._dialed: list[Call] = []

    def _request_fact(
        self,
        call: Call,
        fact: CallFact,
        *,
        outcome: Outcome | None = None,
        detail: str = "",
        at: dt.datetime | None = None,
    ) -> None:
        request_id = _request_of(call)
        if request_id is None:
            return
        view = on_call_fact(
            self.db,
            request_id,
            fact,
            call_id=call.call_id,
            agent_id=call.agent_id or call.reserved_agent,
            now=at or self.clock.utcnow(),
            outcome=outcome,
            detail=detail,
        )
        if view is not None:
            log.info(
                "callback_request_state",
                request=view.id,
                state=view.state,
                call_id=call.call_id,
                agent=view.agent_id,
            )
            publish_request(self.sink, view)

    def flush(self) -> None:
        """Write the queued rows; requests among them are now being called."""
        calls = list(self._unwritten)
        super().flush()
        # Kept until written: a write retried after an outage still moves the request.
        self._dialed.extend(c for c in calls if _request_of(c) is not None)
        while self._dialed:
            self._request_fact(self._dialed[0], CallFact.DIALED, at=self._dialed[0].dial_at)
            del self._dialed[0]

    def connected(self, call: Call) -> None:
        """The person is talking with the reserved agent: in progress."""
        super().connected(call)
        self._request_fact(call, CallFact.CONNECTED, at=call.connect_at)

    def dropped(self, call: Call) -> None:
        """The person answered and no agent took them: missed by agent."""
        super().dropped(call)
        self._request_fact(call, CallFact.DROPPED, at=call.drop_at, detail="dropped")

    def refused(self, call: Call, message: str) -> None:
        """No call was placed: the request waits again."""
        super().refused(call, message)
        self._request_fact(call, CallFact.REFUSED, detail=message or "not placed")

    def finished(self, call: Call) -> None:
        """The call ended: answered, missed by customer or a carrier failure."""
        super().finished(call)
        cause = f" ({call.cause_txt})" if call.cause_txt else ""
        outcome = call.outcome or Outcome.FAILED
        self._request_fact(
            call,
            CallFact.FINISHED,
            outcome=outcome,
            detail=f"{outcome.value}{cause}",
            at=call.end_at,
        )


def expiry_job(db: sa.Engine, clock: Clock, sink: EventSink) -> JobSpec:
    """Every 10 s: waiting requests nobody took in time become missed by agent."""

    def expire() -> None:
        for view in expire_overdue(db, now=clock.utcnow()):
            log.info("callback_request_missed_by_agent", request=view.id)
            publish_request(sink, view)

    return JobSpec("request-expiry", expire, "end callback requests no agent took", every_s=10)
