"""In-memory telephony: the engine's interface over the world model, no sockets, no clock.

:class:`WorldTelephony` implements :class:`asterisk.pool.Telephony` by handing actions
straight to a :class:`~asterisk.world.World` and its messages straight to the same pure
:class:`~asterisk.mapping.CallMapper` the AMI adapter uses. Time is passed in: call
``advance(now)`` from a virtual clock (``dialer simulate``) or from tests. Lifecycle
events go to ``on_event`` synchronously, in the order the server would have sent them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from asterisk.adapter import DialRequest
from asterisk.errors import (
    AmiCapacityError,
    AmiDuplicateOriginateError,
    AmiUnknownCallError,
)
from asterisk.events import LifecycleEvent
from asterisk.mapping import CallMapper, Phase
from asterisk.pool import Telephony
from asterisk.protocol import Message
from asterisk.settings import AmiServerSettings
from asterisk.world import Out, World

_SESSION = 1


class WorldTelephony:
    """The Telephony interface over a pure World, advanced by ``now``."""

    def __init__(
        self,
        world: World,
        *,
        on_event: Callable[[LifecycleEvent], None],
        settings: AmiServerSettings | None = None,
    ) -> None:
        self.world = world
        self.settings = settings or AmiServerSettings(name="memory")
        self.mapper = CallMapper(
            server=self.settings.name,
            seat_conference_prefix=self.settings.seat_conference_prefix,
            answered_context=self.settings.answered_context,
            drop_context=self.settings.drop_context,
        )
        self._on_event = on_event
        self._seq = itertools.count(1)
        self._sent: set[str] = set()
        self.now = 0.0

    # ------------------------------------------------------------------ time
    def advance(self, now: float) -> None:
        """Let the world run until ``now`` and deliver the resulting events."""
        self.now = now
        self._deliver(self.world.advance(now))

    def next_time(self) -> float | None:
        """When the world next has something to do (for a virtual clock)."""
        return self.world.next_time()

    def _act(self, pairs: list[tuple[str, str]]) -> None:
        self._deliver(self.world.action(_SESSION, Message.of(pairs), self.now))

    def _deliver(self, outs: list[Out]) -> None:
        feed, sink = self.mapper.feed, self._on_event
        for out in outs:
            if out.session not in (None, _SESSION):
                continue
            for ev in feed(Message.of(out.pairs)):
                sink(ev)

    # ------------------------------------------------------------------ Telephony
    @property
    def in_use(self) -> int:
        """Calls in flight plus agent seats."""
        return len(self.mapper.calls) + len(self.mapper.seats)

    async def originate(self, req: DialRequest) -> str:
        """Place a call now (no rate limit in virtual time)."""
        return self.originate_now(req)

    def originate_now(self, req: DialRequest) -> str:
        """Place a call at the current virtual time; returns the ActionID."""
        s = self.settings
        if req.call_id in self._sent:
            raise AmiDuplicateOriginateError(req.call_id)
        if self.in_use >= s.max_channels:
            raise AmiCapacityError(s.name, s.max_channels)
        self._sent.add(req.call_id)
        action_id = f"mem/orig/{next(self._seq)}"
        channel_id = f"dialer-{req.call_id}"
        self.mapper.register_call(
            call_id=req.call_id,
            action_id=action_id,
            channel_id=channel_id,
            other_channel_id=f"{channel_id}-2",
        )
        variables = {"DIALER_CALLID": req.call_id, **req.variables}
        if req.amd if req.amd is not None else s.amd:
            variables["DIALER_AMD"] = "1"
        timeout_s = req.ring_timeout_s if req.ring_timeout_s is not None else s.ring_timeout_s
        self._act(
            [
                ("Action", "Originate"),
                ("ActionID", action_id),
                ("Async", "true"),
                ("Channel", s.channel_template.format(number=req.number)),
                ("ChannelId", channel_id),
                ("OtherChannelId", f"{channel_id}-2"),
                ("Context", s.answered_context),
                ("Exten", s.answered_exten.format(number=req.number)),
                ("Priority", "1"),
                ("Timeout", str(int(timeout_s * 1000))),
                ("CallerID", req.caller_id or s.caller_id),
                *(("Variable", f"{k}={v}") for k, v in variables.items()),
            ]
        )
        return action_id

    def _channel(self, call_id: str) -> str:
        st = self.mapper.calls.get(call_id)
        if st is None:
            raise AmiUnknownCallError("call", call_id, "ended or never originated here")
        if st.phase in (Phase.SENT, Phase.DIALING) or not st.channel:
            raise AmiUnknownCallError("answered call", call_id, "not answered yet")
        return st.channel

    def connect(self, call_id: str, agent_id: str) -> None:
        """Redirect an answered call into the agent's seat."""
        self._redirect(self._channel(call_id), self.settings.agent_bridge_context, agent_id)

    def drop(self, call_id: str) -> None:
        """Redirect an answered call to the drop context."""
        s = self.settings
        self._redirect(self._channel(call_id), s.drop_context, s.drop_exten)

    def _redirect(self, channel: str, context: str, exten: str) -> None:
        self._act(
            [
                ("Action", "Redirect"),
                ("ActionID", f"mem/redirect/{next(self._seq)}"),
                ("Channel", channel),
                ("Context", context),
                ("Exten", exten),
                ("Priority", "1"),
            ]
        )

    def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang up the call's controlled leg."""
        st = self.mapper.calls.get(call_id)
        if st is None:
            raise AmiUnknownCallError("call", call_id)
        self._act(
            [
                ("Action", "Hangup"),
                ("ActionID", f"mem/hangup/{next(self._seq)}"),
                ("Channel", st.channel or st.uniqueid),
                ("Cause", str(cause)),
            ]
        )
        self.mapper.note_hangup(call_id)

    def start_seat(self, agent_id: str, *, group: str | None = None) -> str:
        """Originate the agent's seat (one server: ``group`` changes nothing)."""
        del group
        s = self.settings
        if agent_id in self.mapper.seats:
            raise AmiDuplicateOriginateError(f"seat:{agent_id}")
        action_id = f"mem/seat/{next(self._seq)}"
        channel_id = f"seat-{agent_id}-{next(self._seq)}"
        self.mapper.register_seat(agent_id=agent_id, action_id=action_id, channel_id=channel_id)
        self._act(
            [
                ("Action", "Originate"),
                ("ActionID", action_id),
                ("Async", "true"),
                ("Channel", s.agent_seat_channel.format(agent=agent_id)),
                ("ChannelId", channel_id),
                ("OtherChannelId", f"{channel_id}-2"),
                ("Context", s.agent_seat_context),
                ("Exten", agent_id),
                ("Priority", "1"),
                ("CallerID", f'"Agent {agent_id}" <{agent_id}>'),
                ("Variable", f"DIALER_AGENT={agent_id}"),
            ]
        )
        return action_id

    def stop_seat(self, agent_id: str) -> None:
        """Hang the agent's seat up."""
        seat = self.mapper.seats.get(agent_id)
        if seat is None or not seat.uniqueid:
            raise AmiUnknownCallError("agent seat", agent_id)
        self._act(
            [
                ("Action", "Hangup"),
                ("ActionID", f"mem/hangup/{next(self._seq)}"),
                ("Channel", seat.uniqueid),
            ]
        )


def _conforms(tel: WorldTelephony) -> Telephony:
    """Static check (mypy): WorldTelephony implements the Telephony interface."""
    return tel
