"""The PBX world model in virtual time, spoken to with AMI messages but without a socket.

:class:`VirtualPbx` has the adapter's command surface (originate, connect, drop, hang up,
seats) and turns each command into the same AMI action the adapter would send, hands it to
:class:`~asterisk.world.World`, and runs the world's AMI output through the same
:class:`~asterisk.mapping.CallMapper` as the adapter. ``dialer simulate`` drives the real
engine against it: a day of calls in seconds, through the real protocol mapping.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from asterisk.events import LifecycleEvent
from asterisk.mapping import CallMapper
from asterisk.protocol import Message
from asterisk.settings import AmiServerSettings
from asterisk.world import Out, World

_SESSION = 1


class VirtualPbx:
    """One simulated server in virtual time: commands in, lifecycle events out."""

    def __init__(self, world: World, settings: AmiServerSettings | None = None) -> None:
        self.world = world
        self.settings = settings or AmiServerSettings()
        self.mapper = CallMapper(
            server=self.settings.name, seat_conference_prefix=self.settings.seat_conference_prefix
        )
        self._seq = itertools.count(1)
        self._events: list[LifecycleEvent] = []
        self.actions_sent = 0

    @property
    def name(self) -> str:
        """The server's name."""
        return self.settings.name

    def next_time(self) -> float | None:
        """When the world has something to do next."""
        return self.world.next_time()

    def advance(self, now: float) -> list[LifecycleEvent]:
        """Run the world up to ``now``; return the lifecycle events it produced."""
        self._feed(self.world.advance(now))
        return self.take_events()

    def take_events(self) -> list[LifecycleEvent]:
        """The lifecycle events produced since the last call."""
        out, self._events = self._events, []
        return out

    def _feed(self, outs: list[Out]) -> None:
        for out in outs:
            if out.session not in (None, _SESSION):
                continue
            self._events.extend(self.mapper.feed(Message.of(out.pairs)))

    def _send(self, pairs: list[tuple[str, str]]) -> None:
        self.actions_sent += 1
        self._feed(self.world.action(_SESSION, Message.of(pairs), self.world.now))

    def _action_id(self, kind: str) -> str:
        return f"{self.name}/virtual/{kind}/{next(self._seq)}"

    def originate(
        self, call_id: str, number: str, variables: Mapping[str, str], *, amd: bool = False
    ) -> None:
        """Place a call, as the adapter does (Async Originate with a preset ChannelId)."""
        s = self.settings
        action_id = self._action_id("orig")
        channel_id = f"dialer-{call_id}"
        values = {"DIALER_CALLID": call_id, **variables}
        if amd or s.amd:
            values["DIALER_AMD"] = "1"
        self.mapper.register_call(
            call_id=call_id,
            action_id=action_id,
            channel_id=channel_id,
            other_channel_id=f"{channel_id}-2",
        )
        pairs = [
            ("Action", "Originate"),
            ("ActionID", action_id),
            ("Async", "true"),
            ("Channel", s.channel_template.format(number=number)),
            ("ChannelId", channel_id),
            ("OtherChannelId", f"{channel_id}-2"),
            ("Context", s.answered_context),
            ("Exten", s.answered_exten.format(number=number)),
            ("Priority", "1"),
            ("Timeout", str(int(s.ring_timeout_s * 1000))),
            ("CallerID", s.caller_id),
        ]
        pairs.extend(("Variable", f"{k}={v}") for k, v in values.items())
        self._send(pairs)

    def _redirect(self, call_id: str, context: str, exten: str) -> None:
        state = self.mapper.calls.get(call_id)
        if state is None or not state.channel:
            return
        self._send(
            [
                ("Action", "Redirect"),
                ("ActionID", self._action_id("redirect")),
                ("Channel", state.channel),
                ("Context", context),
                ("Exten", exten),
                ("Priority", "1"),
            ]
        )

    def connect(self, call_id: str, agent_id: str) -> None:
        """Move the answered leg into the agent's seat."""
        self._redirect(call_id, self.settings.agent_bridge_context, agent_id)

    def drop(self, call_id: str) -> None:
        """Move the answered leg to the drop context."""
        self._redirect(call_id, self.settings.drop_context, self.settings.drop_exten)

    def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang up the call's controlled leg."""
        state = self.mapper.calls.get(call_id)
        if state is None:
            return
        target = state.channel or state.uniqueid
        self._send(
            [
                ("Action", "Hangup"),
                ("ActionID", self._action_id("hangup")),
                ("Channel", target),
                ("Cause", str(cause)),
            ]
        )

    def start_seat(self, agent_id: str) -> None:
        """Originate the agent's seat into its conference."""
        s = self.settings
        action_id = self._action_id("seat")
        channel_id = f"seat-{agent_id}-{next(self._seq)}"
        self.mapper.register_seat(agent_id=agent_id, action_id=action_id, channel_id=channel_id)
        self._send(
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
                ("Timeout", "30000"),
                ("CallerID", f'"Agent {agent_id}" <{agent_id}>'),
                ("Variable", f"DIALER_AGENT={agent_id}"),
            ]
        )

    def stop_seat(self, agent_id: str) -> None:
        """Hang up the agent's seat."""
        seat = self.mapper.seats.get(agent_id)
        if seat is None or not seat.uniqueid:
            return
        self._send(
            [
                ("Action", "Hangup"),
                ("ActionID", self._action_id("hangup")),
                ("Channel", seat.uniqueid),
            ]
        )
