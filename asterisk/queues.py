"""Inbound queue calls: app_queue AMI events -> inbound facts. Pure: no I/O, no clock.

The contact center's own queues bring callers in; the dialer does not place these calls,
it only follows them to learn who gave up. :class:`QueueTracker` is fed every AMI message
(``feed``) and returns :data:`InboundEvent` values; the adapter hands them to an
:data:`InboundSink`, the port the runtime implements (``asterisk/`` never imports the
runtime). Facts from the recordings (``shared/ami-transcripts`` i1–i4):

* the queue caller is the PBX side of the inbound call (``Channel`` of every Queue*/Agent*
  event); its ``Uniqueid`` keys the call, its ``CallerIDNum`` is the caller's number;
* outcomes come from ``QueueCallerAbandon`` (gave up) and ``AgentConnect`` /
  ``AgentComplete`` (answered), never from hangup causes: an abandoned caller's legs hang
  up with cause 0, an answered call ends with 16;
* ``QueueCallerLeave`` comes *before* ``AgentConnect`` of an answered call (i2), so leaving
  alone decides nothing; a caller who left without abandon or connect (queue timeout,
  exit key) is missed when its channel hangs up;
* ``AgentConnect`` counts ``HoldTime``/``RingTime`` in seconds, ``AgentRingNoAnswer``
  counts ``RingTime`` in **milliseconds** (i3: ``RingTime: 15000``);
* a call that reaches no queue (after hours, i4) says so with a ``UserEvent`` (default
  ``InboundMissed``, with ``Caller:`` and ``Reason:``); there is no Queue*/Agent* event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from asterisk.protocol import Message

QUEUE_EVENTS: frozenset[str] = frozenset(
    {
        "QueueCallerJoin",
        "QueueCallerAbandon",
        "QueueCallerLeave",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
    }
)


@dataclass(frozen=True, slots=True)
class InboundJoined:
    """A caller joined ``queue`` (``QueueCallerJoin``)."""

    server: str
    queue: str
    caller: str
    uniqueid: str
    position: int


@dataclass(frozen=True, slots=True)
class InboundAbandoned:
    """A caller gave up waiting in ``queue`` (``QueueCallerAbandon``): a missed call."""

    server: str
    queue: str
    caller: str
    uniqueid: str
    hold_s: int
    position: int
    original_position: int


@dataclass(frozen=True, slots=True)
class InboundLeftUnanswered:
    """A caller left ``queue`` without abandon or agent (timeout, exit key) and hung up."""

    server: str
    queue: str
    caller: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class InboundAnswered:
    """A queue member took the caller (``AgentConnect``; seconds)."""

    server: str
    queue: str
    caller: str
    uniqueid: str
    member: str
    hold_s: int
    ring_s: int


@dataclass(frozen=True, slots=True)
class InboundCompleted:
    """An answered queue call ended (``AgentComplete``; ``reason`` caller/agent/transfer)."""

    server: str
    queue: str
    caller: str
    uniqueid: str
    member: str
    hold_s: int
    talk_s: int
    reason: str


@dataclass(frozen=True, slots=True)
class InboundRingNoAnswer:
    """A member was rung and did not answer (``AgentRingNoAnswer``; ``ring_ms`` in ms)."""

    server: str
    queue: str
    caller: str
    uniqueid: str
    member: str
    ring_ms: int


@dataclass(frozen=True, slots=True)
class InboundMissed:
    """A call that reached no queue (the configured "missed" UserEvent, e.g. after hours).

    ``queue`` is the event's ``Queue:`` field when the dialplan gives one, else ``""``
    (the caller of :class:`QueueTracker` chooses a default queue name for these).
    """

    server: str
    caller: str
    reason: str
    context: str
    uniqueid: str
    queue: str = ""


InboundEvent = (
    InboundJoined
    | InboundAbandoned
    | InboundLeftUnanswered
    | InboundAnswered
    | InboundCompleted
    | InboundRingNoAnswer
    | InboundMissed
)
#: The port through which inbound facts leave ``asterisk/`` (the runtime implements it).
InboundSink = Callable[[InboundEvent], None]

MISSED = (InboundAbandoned, InboundLeftUnanswered, InboundMissed)
"""Facts that make a missed call (a worklist row)."""


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@dataclass(slots=True)
class _Waiting:
    queue: str
    caller: str
    left: bool = False
    settled: bool = False


@dataclass(slots=True)
class QueueTracker:
    """Follows queue callers of one server; ``feed`` returns inbound facts.

    ``queues``: the queues to follow (empty: every queue). ``missed_event``: the UserEvent
    name of a call that reached no queue; ``missed_queue``: the queue such a call counts
    for when the event names none.
    """

    server: str
    queues: frozenset[str] = frozenset()
    missed_event: str = "InboundMissed"
    missed_queue: str = ""
    _calls: dict[str, _Waiting] = field(default_factory=dict)

    @property
    def waiting(self) -> int:
        """Callers in followed queues now (joined, not yet ended)."""
        return len(self._calls)

    def feed_all(self, msgs: Iterable[Message]) -> list[InboundEvent]:
        """``feed`` over many messages."""
        out: list[InboundEvent] = []
        for msg in msgs:
            out.extend(self.feed(msg))
        return out

    def feed(self, msg: Message) -> list[InboundEvent]:
        """One AMI message in; the inbound facts it settles out (usually none)."""
        name = msg.headers.get("Event")
        if name is None:
            return []
        if name == "UserEvent":
            return self._user_event(msg)
        if name == "Hangup":
            return self._hangup(msg)
        if name not in QUEUE_EVENTS:
            return []
        queue = msg.get("Queue")
        if self.queues and queue not in self.queues:
            return []
        uid = msg.get("Uniqueid")
        if not uid:
            return []
        if name == "QueueCallerJoin":
            self._calls[uid] = _Waiting(queue, msg.get("CallerIDNum"))
            return [InboundJoined(self.server, queue, msg.get("CallerIDNum"), uid, _pos(msg))]
        st = self._calls.get(uid)
        caller = st.caller if st is not None else msg.get("CallerIDNum")
        if name == "QueueCallerLeave":
            if st is not None:
                st.left = True
            return []
        if name == "QueueCallerAbandon":
            if st is not None and st.settled:
                return []
            self._settle(uid, queue, caller)
            return [
                InboundAbandoned(
                    self.server,
                    queue,
                    caller,
                    uid,
                    hold_s=_int(msg.get("HoldTime")),
                    position=_pos(msg),
                    original_position=_int(msg.get("OriginalPosition")),
                )
            ]
        member = msg.get("MemberName") or msg.get("Interface")
        who = (self.server, queue, caller, uid, member)
        hold_s = _int(msg.get("HoldTime"))
        if name == "AgentRingNoAnswer":
            return [InboundRingNoAnswer(*who, ring_ms=_int(msg.get("RingTime")))]
        if name == "AgentConnect":
            self._settle(uid, queue, caller)
            return [InboundAnswered(*who, hold_s=hold_s, ring_s=_int(msg.get("RingTime")))]
        # AgentComplete: the answered call is over
        self._calls.pop(uid, None)
        talk_s = _int(msg.get("TalkTime"))
        return [InboundCompleted(*who, hold_s=hold_s, talk_s=talk_s, reason=msg.get("Reason"))]

    def _settle(self, uid: str, queue: str, caller: str) -> None:
        st = self._calls.get(uid)
        if st is None:
            st = self._calls[uid] = _Waiting(queue, caller)
        st.settled = True

    def _hangup(self, msg: Message) -> list[InboundEvent]:
        st = self._calls.pop(msg.get("Uniqueid"), None)
        if st is None or st.settled or not st.left:
            return []
        return [InboundLeftUnanswered(self.server, st.queue, st.caller, msg.get("Uniqueid"))]

    def _user_event(self, msg: Message) -> list[InboundEvent]:
        if msg.get("UserEvent") != self.missed_event:
            return []
        queue = msg.get("Queue") or self.missed_queue
        if self.queues and queue and queue not in self.queues:
            return []
        return [
            InboundMissed(
                self.server,
                caller=msg.get("Caller") or msg.get("CallerIDNum"),
                reason=msg.get("Reason") or "missed",
                context=msg.get("Context"),
                uniqueid=msg.get("Uniqueid"),
                queue=queue,
            )
        ]

    def connection_lost(self) -> None:
        """Forget callers in flight: their end may never be seen (no resync for queues)."""
        self._calls.clear()


def _pos(msg: Message) -> int:
    return _int(msg.get("Position"))
