"""The AMI adapter: one logged-in session to one Asterisk server, on panoramisk.

``async with AmiAdapter(settings) as ami:`` owns a supervisor task that connects, logs in,
resyncs with the server's live channels, pings, and reconnects with backoff. Lifecycle
events (:mod:`asterisk.events`) arrive through ``on_event`` (called synchronously, in the
order the wire delivered them) or, when no callback is given, through ``ami.events()``.

Never dial twice. panoramisk 1.4 keeps every action that had no response when the
socket died and re-sends it after the next login; for an Originate that rings a person
twice. Here panoramisk's :class:`~panoramisk.ami_protocol.AMIProtocol` is used for
action ids, futures and response matching, but:

* there is no ``Manager``, hence no ``awaiting_actions`` replay list and no reconnect
  timer outside our task; ``close()`` fails pending futures instead of queueing them;
* :meth:`AmiAdapter.originate` writes once, only while logged in, and refuses a call id
  it has already sent; on connection loss every unfinished call is marked unknown and
  settled after the next login by ``CoreShowChannels`` (by its preset ``ChannelId``).

Several clients on one server. Asterisk sends every OriginateResponse and channel event
to every logged-in session (transcript h2), and to a new session after a reconnect (h6).
Every ActionID this adapter writes starts with ``<client id>/<nonce>/`` (the nonce is new
at each start of the process), every call's ``;1`` leg gets the preset ChannelId
``dialer-<call id>``; results are matched by those, and any other channel's events are
ignored, so two engines on one Asterisk, or an engine and its own previous run, never take
each other's calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message as PanoramiskMessage

from asterisk.errors import (
    AmiCapacityError,
    AmiDuplicateOriginateError,
    AmiLoginError,
    AmiNotConnectedError,
    AmiUnknownCallError,
)
from asterisk.events import CallRefused, LifecycleEvent, ServerDown, ServerUp
from asterisk.mapping import CallMapper, CallState, Phase
from asterisk.protocol import NOISY_EVENTS, AmiParser, Garbage, Greeting, Message
from asterisk.queues import QUEUE_EVENTS, InboundEvent, InboundSink, QueueTracker
from asterisk.settings import AmiServerSettings

log = structlog.get_logger("asterisk.adapter")
T = TypeVar("T")

EventSink = Callable[[LifecycleEvent], None]


def channel_id_of(call_id: str) -> str:
    """The preset Uniqueid (``ChannelId``) of a call's controlled ``;1`` leg."""
    return f"dialer-{call_id}"


def call_id_of(uniqueid: str) -> str | None:
    """The call id whose ``;1`` leg has ``uniqueid`` (None: not a call leg of ours)."""
    if not uniqueid.startswith("dialer-") or uniqueid.endswith("-2"):
        return None
    return uniqueid.removeprefix("dialer-")


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One call to place: who to dial and what to hand to the dialplan."""

    call_id: str
    number: str
    variables: Mapping[str, str] = field(default_factory=dict)
    caller_id: str | None = None
    ring_timeout_s: float | None = None
    amd: bool | None = None
    server: str | None = None
    """With several servers (:class:`asterisk.pool.AmiPool`): the one to place it on, where
    the agent seats that will take it are (None: the one with the most free channels)."""


class TokenBucket:
    """Originates-per-second limiter; time comes from ``clock`` (seconds)."""

    def __init__(
        self, rate: float, *, burst: float | None = None, clock: Callable[[], float]
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else 1.0
        self._tokens = self.capacity
        self._clock = clock
        self._t = clock()

    def reserve(self) -> float:
        """Take one token now; return how long to wait until it is really available.

        Tokens may go negative: concurrent callers queue up behind each other instead of
        all waking at once after the same short sleep.
        """
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._t) * self.rate)
        self._t = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0.0 else -self._tokens / self.rate

    def ready(self) -> bool:
        """True when a token can be taken now without waiting."""
        now = self._clock()
        return min(self.capacity, self._tokens + (now - self._t) * self.rate) >= 1.0


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with our pure parser on the read side and no replay on close."""

    closed: bool
    transport: asyncio.Transport

    def __init__(self, adapter: AmiAdapter) -> None:
        self._adapter = adapter
        self._parser = AmiParser(skip=NOISY_EVENTS)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = None
        # panoramisk logs whole actions (%r) on some paths: a Login would show its secret
        self.log = _RedactedLog()

    def data_received(self, data: bytes) -> None:
        self._adapter.rx_t = time.perf_counter()
        on_item = self._adapter._on_item
        responses = self.responses
        for item in self._parser.feed(data):
            if isinstance(item, Message) and responses:
                aid = item.headers.get("ActionID")
                if aid is not None and aid in responses:
                    self._resolve(item)
            on_item(item)

    def _resolve(self, item: Message) -> None:
        headers: dict[str, Any] = {}
        for key, value in item.pairs:
            old = headers.get(key)
            if old is None:
                headers[key] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                headers[key] = [old, value]
        AMIProtocol.handle_message(self, PanoramiskMessage(headers))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.close()
            self._adapter._on_connection_lost(exc)

    def close(self) -> None:
        # panoramisk would move unanswered actions to Manager.awaiting_actions and send
        # them again after the next login. We fail them instead: nothing is ever re-sent.
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(AmiNotConnectedError(self._adapter.name))
                action.future.exception()  # mark retrieved: nobody may be awaiting it
        self.responses.clear()
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True


class AmiAdapter:
    """One Asterisk server behind AMI, as an ``async with`` object owning its tasks."""

    def __init__(
        self,
        settings: AmiServerSettings,
        *,
        client_id: str = "",
        on_event: EventSink | None = None,
        on_inbound: InboundSink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        #: Who this client is (the engine id); with a per-start nonce it prefixes every
        #: ActionID, so that results meant for another client are never taken.
        self.client_id = client_id or "dialer"
        self.nonce = secrets.token_hex(4)
        self.mapper = CallMapper(
            server=settings.name,
            seat_conference_prefix=settings.seat_conference_prefix,
            answered_context=settings.answered_context,
            drop_context=settings.drop_context,
        )
        self._on_event = on_event
        #: Inbound queue callers (missed/answered) go to ``on_inbound``; None: not followed.
        self._on_inbound = on_inbound
        self.queues = QueueTracker(
            server=settings.name,
            queues=frozenset(settings.inbound_queues),
            missed_event=settings.inbound_missed_event,
            missed_queue=settings.inbound_missed_queue,
        )
        self._queue: asyncio.Queue[LifecycleEvent] = asyncio.Queue()
        rate = settings.originates_per_second  # a tenth of a second of calls may go at once
        self._bucket = TokenBucket(rate, burst=max(1.0, rate / 10), clock=clock)
        self._proto: _Protocol | None = None
        #: When the last bytes from the server arrived (perf_counter), for latency figures.
        self.rx_t = 0.0
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._seq = itertools.count(1)
        self._session = 0
        self._sent_calls: set[str] = set()  # claimed by an originate() in progress or done
        self._written_calls: set[str] = set()  # their Originate was written to a socket
        self._sent_originate_ids: list[str] = []
        #: List actions in progress: ActionID → their items so far, and the future that
        #: the list's end (its ``...Complete`` event, or a refusal) resolves.
        self._lists: dict[str, tuple[list[Message], asyncio.Future[None]]] = {}
        self.stats = {"messages": 0, "garbage": 0, "events": 0, "originates": 0, "logins": 0}
        self._log = log.bind(server=settings.name)
        self._rng = random.Random()

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> AmiAdapter:
        self._task = asyncio.create_task(self._supervise(), name=f"ami-{self.name}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._proto is not None:
            self._proto.close()
            self._proto = None

    @property
    def connected(self) -> bool:
        """True while logged in and resynced: new calls may go here."""
        return self._ready.is_set()

    async def wait_ready(self, within_s: float | None = None) -> None:
        """Wait until the session is logged in and resynced."""
        async with asyncio.timeout(within_s):
            await self._ready.wait()

    @property
    def in_use(self) -> int:
        """Channels this adapter accounts for: calls in flight and agent seats."""
        return len(self.mapper.calls) + len(self.mapper.seats)

    @property
    def free_capacity(self) -> int:
        """How many more calls ``max_channels`` allows now (0 when disconnected)."""
        if not self.connected:
            return 0
        return max(0, self.settings.max_channels - self.in_use)

    @property
    def sent_originate_ids(self) -> list[str]:
        """Every Originate ActionID written to a socket, in order (each exactly once)."""
        return list(self._sent_originate_ids)

    async def events(self) -> AsyncIterator[LifecycleEvent]:
        """Lifecycle events, when no ``on_event`` callback was given."""
        while True:
            yield await self._queue.get()

    # ------------------------------------------------------------------ actions
    async def originate(self, req: DialRequest) -> str:
        """Place one call (Async Originate, preset ChannelId). Returns the ActionID.

        Waits for the per-server originate rate; raises :class:`AmiNotConnectedError` when the
        session is down (nothing is sent, nothing queued), :class:`AmiCapacityError`
        at ``max_channels`` and :class:`AmiDuplicateOriginateError` for a call id already sent.
        """
        self._claim(req.call_id)
        try:
            wait = self._bucket.reserve()
            if wait > 0:
                await asyncio.sleep(wait)
            return self._send_originate(req)
        except BaseException:
            self._unclaim(req.call_id)
            raise

    def originate_now(self, req: DialRequest) -> str:
        """Like :meth:`originate` but without waiting for the rate limiter (it still counts)."""
        self._claim(req.call_id)
        try:
            self._bucket.reserve()
            return self._send_originate(req)
        except BaseException:
            self._unclaim(req.call_id)
            raise

    def originate_nowait(self, req: DialRequest) -> str | None:
        """Send the Originate at once if the rate allows it now; ``None`` when it would have
        to wait (then use :meth:`originate`). Same errors as :meth:`originate`."""
        if not self._bucket.ready():
            return None
        self._claim(req.call_id)
        try:
            self._bucket.reserve()
            return self._send_originate(req)
        except BaseException:
            self._unclaim(req.call_id)
            raise

    def _claim(self, call_id: str) -> None:
        # claimed before any await: two concurrent originates of one call cannot both pass
        if call_id in self._sent_calls:
            raise AmiDuplicateOriginateError(call_id)
        self._sent_calls.add(call_id)

    def _unclaim(self, call_id: str) -> None:
        # nothing was written (not connected, at capacity, cancelled): the call may be retried
        if call_id not in self._written_calls:
            self._sent_calls.discard(call_id)

    def _send_originate(self, req: DialRequest) -> str:
        s = self.settings
        proto = self._live_protocol()
        if self.in_use >= s.max_channels:
            raise AmiCapacityError(self.name, s.max_channels)
        action_id = self._action_id("orig")
        channel_id = channel_id_of(req.call_id)
        variables = {"DIALER_CALLID": req.call_id, **req.variables}
        if req.amd if req.amd is not None else s.amd:
            variables["DIALER_AMD"] = "1"
        timeout_s = req.ring_timeout_s if req.ring_timeout_s is not None else s.ring_timeout_s
        action = {
            "Action": "Originate",
            "ActionID": action_id,
            "Async": "true",
            "Channel": s.channel_template.format(number=req.number),
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id}-2",
            "Context": s.answered_context,
            "Exten": s.answered_exten.format(number=req.number),
            "Priority": "1",
            "Timeout": str(int(timeout_s * 1000)),
            "CallerID": req.caller_id or s.caller_id,
            "Variable": [f"{k}={v}" for k, v in variables.items()],
        }
        self.mapper.register_call(
            call_id=req.call_id,
            action_id=action_id,
            channel_id=channel_id,
            other_channel_id=f"{channel_id}-2",
        )
        self._written_calls.add(req.call_id)
        self._sent_originate_ids.append(action_id)
        self.stats["originates"] += 1
        fut = proto.send(action)
        fut.add_done_callback(_quiet)
        self._log.debug("ami_originate_sent", call_id=req.call_id, action_id=action_id)
        return action_id

    def connect(self, call_id: str, agent_id: str) -> None:
        """Move an answered call's leg into ``agent_id``'s seat (Redirect, sent at once)."""
        st = self._answered_call(call_id)
        self._redirect(st.channel, self.settings.agent_bridge_context, agent_id, call_id)

    def drop(self, call_id: str) -> None:
        """Move an answered call's leg to the drop context (legal message, then hangup)."""
        st = self._answered_call(call_id)
        self._redirect(st.channel, self.settings.drop_context, self.settings.drop_exten, call_id)

    def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang up a call's controlled leg (e.g. an answering machine, or a call that is
        no longer wanted: if it was not answered yet it ends ``CANCELLED``)."""
        st = self.mapper.calls.get(call_id)
        if st is None:
            raise AmiUnknownCallError("call", call_id)
        target = st.channel or st.uniqueid
        self._send_simple(
            {"Action": "Hangup", "Channel": target, "Cause": str(cause)},
            call_id,
            action_id=self._action_id("hangup"),
        )
        self.mapper.note_hangup(call_id)

    def start_seat(self, agent_id: str, *, group: str | None = None) -> str:
        """Originate the agent's nailed-up seat (ConfBridge ``<prefix><agent>``); ``group``
        (the agent's campaign) matters only to a pool of servers."""
        del group
        s = self.settings
        if agent_id in self.mapper.seats:
            raise AmiDuplicateOriginateError(f"seat:{agent_id}")
        proto = self._live_protocol()
        action_id = self._action_id("seat")
        channel_id = f"seat-{agent_id}-{self.nonce}-{next(self._seq)}"
        self.mapper.register_seat(agent_id=agent_id, action_id=action_id, channel_id=channel_id)
        action = {
            "Action": "Originate",
            "ActionID": action_id,
            "Async": "true",
            "Channel": s.agent_seat_channel.format(agent=agent_id),
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id}-2",
            "Context": s.agent_seat_context,
            "Exten": agent_id,
            "Priority": "1",
            "Timeout": "30000",
            "CallerID": f'"Agent {agent_id}" <{agent_id}>',
            "Variable": f"DIALER_AGENT={agent_id}",
        }
        self._sent_originate_ids.append(action_id)
        proto.send(action).add_done_callback(_quiet)
        self._log.info("ami_seat_originated", agent_id=agent_id)
        return action_id

    def stop_seat(self, agent_id: str) -> None:
        """Hang up an agent's seat (end of shift)."""
        seat = self.mapper.seats.get(agent_id)
        if seat is None or not seat.uniqueid:
            raise AmiUnknownCallError("agent seat", agent_id)
        self._send_simple({"Action": "Hangup", "Channel": seat.uniqueid}, agent_id)

    async def request(self, action: Mapping[str, Any], within_s: float = 5.0) -> Any:
        """Send an idempotent action (Ping, Status, CoreShowChannels ...) and await its result."""
        proto = self._live_protocol()
        return await _within(proto.send(dict(action)), within_s)

    async def live_channels(self) -> list[Message]:
        """Every channel up on the server now (``CoreShowChannel`` items)."""
        proto = self._live_protocol()
        return await self._collect(proto, {"Action": "CoreShowChannels"})

    async def confbridge_rooms(self) -> list[Message]:
        """Every conference on the server now (``ConfbridgeListRooms`` items)."""
        proto = self._live_protocol()
        return await self._collect(proto, {"Action": "ConfbridgeListRooms"})

    async def confbridge_list(self, conference: str) -> list[Message]:
        """The channels in ``conference`` now (``ConfbridgeList`` items; none if it is gone)."""
        proto = self._live_protocol()
        return await self._collect(proto, {"Action": "ConfbridgeList", "Conference": conference})

    def adopt_call(
        self, call_id: str, *, channel_id: str, channel: str, agent: str | None = None
    ) -> None:
        """Track an answered call that this process did not originate (restart adoption).

        ``channel_id`` is its ``;1`` Uniqueid, ``channel`` its name, ``agent`` the seat it is
        in (None: waiting in the holding context; :meth:`connect` and :meth:`drop` work).
        Its later Hangup gives ``CallHungUp``. The call id can never be originated here.
        """
        self._sent_calls.add(call_id)
        self._written_calls.add(call_id)
        self.mapper.adopt_call(call_id, channel_id=channel_id, channel=channel, agent=agent)
        self._log.info("ami_call_adopted", call_id=call_id, channel=channel, agent_id=agent)

    def adopt_seat(self, agent_id: str, *, uniqueid: str, members: set[str]) -> None:
        """Track a live agent seat found on the server (restart adoption).

        ``uniqueid`` is the seat's ``;1`` Uniqueid (the ``Linkedid`` of its legs),
        ``members`` the Uniqueids of its own legs in the conference (not the customers').
        Its later hangup gives ``SeatDown``; :meth:`stop_seat` works.
        """
        self.mapper.adopt_seat(agent_id, uniqueid=uniqueid, members=members)
        self._log.info("ami_seat_adopted", agent_id=agent_id, uniqueid=uniqueid)

    def hangup_channel(self, channel: str, cause: int = 16) -> None:
        """Hang up a channel by name or Uniqueid (one this adapter does not track)."""
        self._send_simple({"Action": "Hangup", "Channel": channel, "Cause": str(cause)}, channel)

    async def _collect(self, proto: _Protocol, action: dict[str, str]) -> list[Message]:
        """Send a list action and gather its items until the list's ``...Complete`` event
        (the first response only says that the list starts: Asterisk writes the items
        after it, one by one). A refusal (``Response: Error``, e.g. no such conference)
        is an empty list."""
        action_id = self._action_id("list")
        items: list[Message] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lists[action_id] = (items, done)

        def failed(sent: asyncio.Future[Any]) -> None:  # the session closed meanwhile
            if not sent.cancelled() and sent.exception() is not None and not done.done():
                done.set_exception(sent.exception())  # type: ignore[arg-type]

        try:
            proto.send({**action, "ActionID": action_id}).add_done_callback(failed)
            await _within(done, self.settings.login_timeout_s)
        finally:
            self._lists.pop(action_id, None)
        return items

    def _list_item(self, item: Message) -> bool:
        """File a message of a list in progress; True when it was one."""
        entry = self._lists.get(item.headers.get("ActionID", ""))
        if entry is None:
            return False
        items, done = entry
        name = item.headers.get("Event")
        if name is None:  # the response: a list follows, or nothing will
            if item.headers.get("EventList", "").lower() != "start" and not done.done():
                done.set_result(None)
        elif name.endswith("Complete"):
            if not done.done():
                done.set_result(None)
        else:
            items.append(item)
        return True

    # ------------------------------------------------------------------ internals
    def _action_id(self, kind: str) -> str:
        """``<client>/<nonce>/<session>/<kind>/<n>``: unique to this client and this start."""
        return f"{self.client_id}/{self.nonce}/{self._session}/{kind}/{next(self._seq)}"

    def _answered_call(self, call_id: str) -> CallState:
        st = self.mapper.calls.get(call_id)
        if st is None:
            raise AmiUnknownCallError("call", call_id, "ended or never originated here")
        if st.phase is Phase.SENT or st.phase is Phase.DIALING or not st.channel:
            raise AmiUnknownCallError("answered call", call_id, "not answered yet")
        return st

    def _redirect(self, channel: str, context: str, exten: str, call_id: str) -> None:
        self._send_simple(
            {
                "Action": "Redirect",
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": "1",
            },
            call_id,
        )

    def _send_simple(self, action: dict[str, str], ident: str, *, action_id: str = "") -> None:
        proto = self._live_protocol()
        fut = proto.send({**action, "ActionID": action_id or self._action_id("act")})
        bound = self._log.bind(action=action["Action"], ident=ident)

        def done(f: asyncio.Future[Any]) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            res = f.result()
            if getattr(res, "response", "") not in ("Success", ""):
                bound.warning("ami_action_failed", message=res.get("Message", ""))

        fut.add_done_callback(done)

    def _live_protocol(self) -> _Protocol:
        proto = self._proto
        if not self._ready.is_set() or proto is None or proto.closed:
            raise AmiNotConnectedError(self.name)
        if proto.transport.is_closing():
            raise AmiNotConnectedError(self.name)
        return proto

    def _emit(self, events: list[LifecycleEvent]) -> None:
        sink = self._on_event
        for ev in events:
            self.stats["events"] += 1
            if sink is None:
                self._queue.put_nowait(ev)
                continue
            try:
                sink(ev)
            except Exception:  # the engine's bug must not kill the AMI session
                self._log.exception("ami_event_handler_failed", lifecycle_event=repr(ev))

    def _on_item(self, item: Message | Greeting | Garbage) -> None:
        if isinstance(item, Message):
            self.stats["messages"] += 1
            if "X-Bad-Lines" in item.headers:
                self.stats["garbage"] += 1
                self._log.warning(
                    "ami_bad_lines_skipped",
                    lines=item.headers["X-Bad-Lines"],
                    message=item.pairs[:2],
                )
            name = item.headers.get("Event")
            if self._lists and self._list_item(item):
                return
            if name == "Shutdown":
                self._log.warning("ami_server_shutdown", restart=item.get("Restart"))
                if self._proto is not None:
                    self._proto.transport.abort()
                return
            if self._on_inbound is not None and (
                name in QUEUE_EVENTS or name in {"UserEvent", "Hangup"}
            ):
                self._feed_inbound(item)
            try:
                events = self.mapper.feed(item)
            except Exception:  # pragma: no cover - the mapper is fuzzed; never lose the session
                self._log.exception("ami_message_unhandled", message=item.pairs[:3])
                return
            if events:
                for ev in events:
                    if isinstance(ev, CallRefused):
                        self._log.warning(
                            "ami_originate_refused", call_id=ev.call_id, message=ev.message
                        )
                self._emit(events)
        elif isinstance(item, Garbage):
            self.stats["garbage"] += 1
            self._log.warning("ami_garbage_received", reason=item.reason, raw=item.raw[:80])
        else:
            self._log.info("ami_greeting", version=item.version)

    def _feed_inbound(self, item: Message) -> None:
        sink = self._on_inbound
        assert sink is not None  # noqa: S101 - only called with a sink
        try:
            facts: list[InboundEvent] = self.queues.feed(item)
        except Exception:  # pragma: no cover - never lose the session over one message
            self._log.exception("ami_queue_message_unhandled", message=item.pairs[:3])
            return
        for fact in facts:
            self.stats["events"] += 1
            try:
                sink(fact)
            except Exception:  # the runtime's bug must not kill the AMI session
                self._log.exception("ami_inbound_handler_failed", inbound_event=repr(fact))

    def _jitter(self, seconds: float) -> float:
        """Backoff with +-20 % jitter, so that many engines do not reconnect in lockstep."""
        return seconds * (0.8 + 0.4 * self._rng.random())

    def _protocol_factory(self) -> _Protocol:
        return _Protocol(self)

    def _on_connection_lost(self, exc: Exception | None) -> None:
        self._lost.set()

    async def _supervise(self) -> None:
        s = self.settings
        backoff = s.reconnect_min_s
        loop = asyncio.get_running_loop()
        while True:
            self._lost.clear()
            try:
                _, proto = await _within(
                    loop.create_connection(self._protocol_factory, s.host, s.port),
                    s.login_timeout_s,
                )
            except (OSError, TimeoutError) as exc:
                self._log.warning("ami_connect_failed", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(self._jitter(backoff))
                backoff = min(backoff * 2, s.reconnect_max_s)
                continue
            self._proto = proto
            self._session += 1
            try:
                await self._login(proto)
                settled = await self._resync(proto)
                # Ready before the settled events go out: what the engine does about them
                # (connect an adopted answer, hang up a lost seat's call) must be sent, not
                # refused as "not connected".
                self._ready.set()
                self.stats["logins"] += 1
                backoff = s.reconnect_min_s
                self._log.info("ami_ready", session=self._session)
                self._emit([*settled, ServerUp(self.name)])
                await self._ping_until_lost(proto)
                reason = "connection lost"
            except AmiLoginError as exc:
                reason = str(exc)
                self._log.error("ami_login_failed", error=reason)
            except (TimeoutError, AmiNotConnectedError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self._log.warning("ami_session_failed", error=reason)
            finally:
                was_ready = self._ready.is_set()
                self._ready.clear()
                proto.close()
                self._proto = None
                self.mapper.connection_lost()
                self.queues.connection_lost()
            if was_ready:
                self._log.warning("ami_disconnected", reason=reason)
                self._emit([ServerDown(self.name, reason)])
            await asyncio.sleep(self._jitter(backoff))
            backoff = min(backoff * 2, s.reconnect_max_s)

    async def _login(self, proto: _Protocol) -> None:
        s = self.settings
        fut = proto.send(
            {
                "Action": "Login",
                "ActionID": self._action_id("login"),
                "Username": s.username,
                "Secret": s.secret.get_secret_value(),
                "Events": "on",
            }
        )
        res = await _within(fut, s.login_timeout_s)
        if getattr(res, "response", "") != "Success":
            raise AmiLoginError(self.name, s.username, str(res.get("Message", "")))

    async def _resync(self, proto: _Protocol) -> list[LifecycleEvent]:
        """Settle every tracked call and seat against the live channels; returns the events
        (emitted by the caller once the session is ready)."""
        items = await self._collect(proto, {"Action": "CoreShowChannels"})
        events = self.mapper.resync(items)
        if events:
            self._log.info("ami_resynced", live_channels=len(items), settled=len(events))
        return events

    async def _ping_until_lost(self, proto: _Protocol) -> None:
        s = self.settings
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(s.ping_interval_s):
                    await self._lost.wait()
            if self._lost.is_set():
                return
            ping = {"Action": "Ping", "ActionID": self._action_id("ping")}
            sent_t = time.perf_counter()
            answer = proto.send(ping)
            answer.add_done_callback(_quiet)
            # A timeout while bytes came in since the ping was sent, or one whose timer ran
            # late, may be this loop's own lateness (stalled past the timer: the Pong read
            # in the same turn, or not read yet), not the server's: its answer gets one
            # more timeout before the session is given up.
            for last in (False, True):
                started = time.perf_counter()
                try:
                    await _within(asyncio.shield(answer), s.ping_timeout_s)
                    break
                except TimeoutError:
                    late = time.perf_counter() - started - s.ping_timeout_s
                    if last or (self.rx_t <= sent_t and late < _LOOP_STALL_S):
                        self._log.warning("ami_ping_timeout", timeout_s=s.ping_timeout_s)
                        proto.transport.abort()
                        return
                    self._log.info("ami_ping_late", timeout_s=s.ping_timeout_s)


class _RedactedLog:
    """What panoramisk's protocol may log through: the event, never the action's fields."""

    def _log(self, level: str, *_args: object, **_kw: object) -> None:
        getattr(log, level)("panoramisk_log", detail="redacted")

    def debug(self, *args: object, **kw: object) -> None:
        """Dropped: panoramisk's debug lines are per message."""

    def info(self, *args: object, **kw: object) -> None:
        """Dropped."""

    def warning(self, *args: object, **kw: object) -> None:
        """Logged without arguments."""
        self._log("warning")

    def error(self, *args: object, **kw: object) -> None:
        """Logged without arguments."""
        self._log("error")

    def exception(self, *args: object, **kw: object) -> None:
        """Logged without arguments."""
        self._log("error")


#: A timer that runs this late ran on a stalled loop (its wait measured the loop, not the
#: server).
_LOOP_STALL_S = 0.25


async def _within(step: Awaitable[T], seconds: float) -> T:
    """``await step``, or TimeoutError after ``seconds``. Not ``asyncio.wait_for``: on
    Python 3.11 it loses a cancellation that arrives as the awaited step completes (the
    task then runs on, e.g. a supervisor that pings for ever after its adapter closed)."""
    async with asyncio.timeout(seconds):
        return await step


def _quiet(fut: asyncio.Future[Any]) -> None:
    """Retrieve a future's exception so that asyncio does not log it as never retrieved."""
    if not fut.cancelled():
        fut.exception()
