"""AMI messages -> call-lifecycle events. Pure: no I/O, no clock, no asyncio.

:class:`CallMapper` keeps per-call state keyed by the Originate ``ActionID`` and by the
Uniqueid of the controlled leg (``;1``; equal to the ``ChannelId`` the adapter presets).
It is fed the actions the client sent (``observe_action``) and every message the server
sent (``feed``) and returns lifecycle events. Facts it relies on (see the transcripts):

* outcomes of unanswered calls come from ``OriginateResponse`` ``Reason`` (3 no answer,
  5 busy, 8 congestion, 0 invalid/failed), never from the ``;1`` Hangup cause; Reason 0
  after this client's own Hangup of the call (h3) is ``CANCELLED``, never ``INVALID``;
* a synchronous ``Response: Error`` to the Originate (h1: ``Extension does not exist.``)
  means no call was placed: :class:`CallRefused` with the server's Message;
* the server sends every OriginateResponse and channel event to every session (h2), also
  to a new session after a reconnect (h6): results are matched by this client's own
  ActionIDs (kept across reconnects) and preset ChannelIds, anything else is ignored;
* ``Linkedid`` of the ``;2`` leg and of a leg inside a ConfBridge is the ``;1`` Uniqueid;
* OriginateResponse may come before or after the legs' Newstate/UserEvent/Hangup, so
  every transition is idempotent and order-independent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from asterisk.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallDropped,
    CallFailed,
    CallHungUp,
    CallMachine,
    CallRefused,
    FailOutcome,
    LifecycleEvent,
    SeatDown,
    SeatUp,
    SeatWrapupDone,
)
from asterisk.protocol import Message

REASON_OUTCOME: dict[int, FailOutcome] = {
    0: FailOutcome.INVALID,
    1: FailOutcome.FAILED,
    3: FailOutcome.NO_ANSWER,
    5: FailOutcome.BUSY,
    8: FailOutcome.CONGESTION,
}
#: the hangup cause of the dialed leg that goes with each Reason (when not observed)
REASON_CAUSE: dict[int, int] = {0: 0, 1: 16, 3: 19, 5: 17, 8: 34}
CAUSE_OUTCOME: dict[int, FailOutcome] = {
    17: FailOutcome.BUSY,
    34: FailOutcome.CONGESTION,
    19: FailOutcome.NO_ANSWER,
    18: FailOutcome.NO_ANSWER,
    1: FailOutcome.INVALID,
}


class Phase(Enum):
    """Where a call stands, from the adapter's point of view."""

    SENT = "sent"  # Originate written, no Response yet
    DIALING = "dialing"  # "Originate successfully queued"
    ANSWERED = "answered"
    CONNECTED = "connected"
    DROPPED = "dropped"


@dataclass(slots=True)
class CallState:
    """What the mapper knows about one call in flight."""

    call_id: str
    action_id: str
    uniqueid: str = ""  # ;1 Uniqueid (the preset ChannelId when the adapter sets one)
    other_id: str = ""  # ;2 Uniqueid when preset
    channel: str = ""
    phase: Phase = Phase.SENT
    rang: bool = False
    leg_causes: list[int] = field(default_factory=list)
    dial: str = ""  # the Originate Channel (dial string), to recognise Local legs by name
    unknown: bool = False  # connection lost since it was sent: outcome must be resynced
    orphaned: bool = False  # its OriginateResponse may have gone to a dead session
    cancelled: bool = False  # this client sent a Hangup for it before it was answered
    agent_id: str = ""  # the seat it is connected to (when connected)


@dataclass(slots=True)
class SeatState:
    """An agent seat originated by this client."""

    agent_id: str
    action_id: str = ""
    uniqueid: str = ""  # ;1 Uniqueid (the handset leg)
    up: bool = False
    members: set[str] = field(default_factory=set)  # Uniqueids of the seat's legs


def _int(value: str, default: int = -1) -> int:
    try:
        return int(value)
    except ValueError:
        return default


class CallMapper:
    """Per-server translation of AMI traffic into lifecycle events (pure state machine)."""

    def __init__(
        self,
        *,
        server: str = "",
        seat_conference_prefix: str = "agent-",
        answered_context: str = "dialer-answered",
        drop_context: str = "drop",
        answered_user_event: str = "CustomerAnswered",
        amd_user_event: str = "AMDResult",
        drop_user_event: str = "SafeHarbor",
        call_id_variable: str = "DIALER_CALLID",
        agent_variable: str = "DIALER_AGENT",
    ) -> None:
        self.server = server
        self._conf_prefix = seat_conference_prefix
        self._answered_context = answered_context
        self._drop_context = drop_context
        self._ev_answered = answered_user_event
        self._ev_amd = amd_user_event
        self._ev_drop = drop_user_event
        self._var_call = call_id_variable + "="
        self._var_agent = agent_variable + "="
        self.calls: dict[str, CallState] = {}
        self._by_action: dict[str, CallState] = {}
        self._by_uid: dict[str, CallState] = {}
        self._by_dial: dict[str, CallState] = {}
        self.seats: dict[str, SeatState] = {}
        self._seat_by_action: dict[str, SeatState] = {}
        self._seat_by_uid: dict[str, SeatState] = {}
        self._handlers = {
            "OriginateResponse": self._on_originate_response,
            "UserEvent": self._on_user_event,
            "ConfbridgeJoin": self._on_confbridge_join,
            "ConfbridgeLeave": self._on_confbridge_leave,
            "Hangup": self._on_hangup,
            "Newstate": self._on_newstate,
            "DialEnd": self._on_dial_end,
        }

    # ------------------------------------------------------------------ registration
    def register_call(
        self,
        *,
        call_id: str,
        action_id: str,
        channel_id: str = "",
        other_channel_id: str = "",
        dial: str = "",
    ) -> None:
        """Start tracking a call whose Originate is about to be sent with ``action_id``."""
        st = CallState(call_id, action_id, uniqueid=channel_id, other_id=other_channel_id)
        st.dial = dial
        self.calls[call_id] = st
        self._by_action[action_id] = st
        if channel_id:
            self._by_uid.setdefault(channel_id, st)  # a duplicate is refused by the server
        elif dial:
            self._by_dial[dial] = st

    def register_seat(self, *, agent_id: str, action_id: str, channel_id: str = "") -> None:
        """Start tracking an agent seat whose Originate is about to be sent."""
        seat = SeatState(agent_id, action_id, uniqueid=channel_id)
        self.seats[agent_id] = seat
        self._seat_by_action[action_id] = seat
        if channel_id:
            self._seat_by_uid[channel_id] = seat

    def note_hangup(self, call_id: str) -> None:
        """This client is sending a Hangup for ``call_id``: if it ends unanswered, it was
        cancelled by us (Reason 0 then says nothing about the number)."""
        st = self.calls.get(call_id)
        if st is not None and st.phase in (Phase.SENT, Phase.DIALING):
            st.cancelled = True

    def adopt_call(
        self, call_id: str, *, channel_id: str, channel: str, agent: str | None = None
    ) -> None:
        """Track an answered call this client did not originate (found live after a restart).

        ``channel_id`` is the Uniqueid of its controlled ``;1`` leg, ``channel`` its name;
        ``agent`` the seat it is connected to, or None while it waits in the holding
        context. Its later Hangup gives :class:`CallHungUp`; nothing is emitted now.
        """
        old = self.calls.get(call_id)
        if old is not None:
            self._forget(old)
        st = CallState(call_id, "", uniqueid=channel_id, channel=channel)
        st.phase = Phase.CONNECTED if agent else Phase.ANSWERED
        st.agent_id = agent or ""
        self.calls[call_id] = st
        self._by_uid[channel_id] = st

    def adopt_seat(self, agent_id: str, *, uniqueid: str, members: set[str]) -> None:
        """Track a live seat this client did not originate (found after a restart).

        ``uniqueid`` is the seat's ``;1`` Uniqueid (the ``Linkedid`` of its legs),
        ``members`` the Uniqueids of the seat's own legs (e.g. its ``;2`` in the
        conference). Its later hangup gives :class:`SeatDown`; nothing is emitted now.
        """
        old = self.seats.get(agent_id)
        if old is not None:
            self._seat_down(old, 0)
        seat = SeatState(agent_id, "", uniqueid=uniqueid, up=True)
        seat.members = {uniqueid, *members}
        self.seats[agent_id] = seat
        for uid in seat.members:
            self._seat_by_uid[uid] = seat

    def observe_action(self, msg: Message) -> None:
        """Learn from an Originate or Hangup the client sent (when replaying recorded traffic)."""
        if msg.action == "Hangup":
            target = msg.get("Channel")
            for st in list(self.calls.values()):
                legs = (st.channel, st.uniqueid, st.other_id)
                if target and (target in legs or target.rpartition("-")[0] == st.dial):
                    self.note_hangup(st.call_id)
            return
        if msg.action != "Originate":
            return
        variables = msg.get_all("Variable")
        for var in variables:
            if var.startswith(self._var_agent):
                self.register_seat(
                    agent_id=var[len(self._var_agent) :],
                    action_id=msg.action_id,
                    channel_id=msg.get("ChannelId"),
                )
                return
        call_id = msg.action_id
        for var in variables:
            if var.startswith(self._var_call):
                call_id = var[len(self._var_call) :]
        self.register_call(
            call_id=call_id,
            action_id=msg.action_id,
            channel_id=msg.get("ChannelId"),
            other_channel_id=msg.get("OtherChannelId"),
            dial=msg.get("Channel"),
        )

    # ------------------------------------------------------------------ feeding
    def feed(self, msg: Message) -> list[LifecycleEvent]:
        """Translate one server message; unknown or irrelevant messages give ``[]``."""
        name = msg.headers.get("Event")
        if name is None:
            if msg.headers.get("Response") is not None:
                return self._on_response(msg)
            return []
        handler = self._handlers.get(name)
        return handler(msg) if handler is not None else []

    def feed_all(self, msgs: Iterable[Message]) -> list[LifecycleEvent]:
        """Translate several messages in order."""
        out: list[LifecycleEvent] = []
        for msg in msgs:
            out.extend(self.feed(msg))
        return out

    def _on_response(self, msg: Message) -> list[LifecycleEvent]:
        action_id = msg.headers.get("ActionID", "")
        st = self._by_action.get(action_id)
        if st is not None:
            if msg.response == "Success":
                if st.phase is Phase.SENT:
                    st.phase = Phase.DIALING
                    st.unknown = False
                    return [CallDialing(st.call_id, self.server)]
                return []
            # no call was placed (h1): not an outcome of the number
            self._forget(st)
            return [CallRefused(st.call_id, msg.get("Message") or msg.response, self.server)]
        seat = self._seat_by_action.get(action_id)
        if seat is not None and msg.response not in ("Success", ""):
            return self._seat_down(seat, 0)
        return []

    def _on_originate_response(self, msg: Message) -> list[LifecycleEvent]:
        action_id = msg.get("ActionID")
        uid = msg.get("Uniqueid")
        success = msg.get("Response") == "Success"
        seat = self._seat_by_action.pop(action_id, None)
        if seat is not None:
            if success:
                self._learn_seat_uid(seat, uid)
                return []
            return self._seat_down(seat, 0)
        st = self._by_action.get(action_id) if action_id else None
        if st is None:
            return []  # another client's call (every session sees every result), or ended
        if success and uid not in ("", "<unknown>") and st.uniqueid and uid != st.uniqueid:
            return []  # not the channel this client preset
        del self._by_action[action_id]
        st.unknown = False
        if success:
            self._learn_uid(st, uid, msg.get("Channel"))
            return self._answered(st)
        reason = _int(msg.get("Reason"), 0)
        outcome = REASON_OUTCOME.get(reason, FailOutcome.FAILED)
        if outcome is FailOutcome.INVALID and st.rang:
            outcome = FailOutcome.FAILED
        if st.cancelled and reason in (0, 1):
            outcome = FailOutcome.CANCELLED
        detail = ""
        if reason == 0 and uid and uid == st.uniqueid and self._by_uid.get(uid) is not st:
            # h4: the preset ChannelId belongs to another live channel; no call was made
            outcome, detail = FailOutcome.FAILED, f"ChannelId {uid} already in use"
        cause = next((c for c in st.leg_causes if c), REASON_CAUSE.get(reason, 0))
        return self._fail(st, reason, outcome, cause, detail)

    def _on_user_event(self, msg: Message) -> list[LifecycleEvent]:
        kind = msg.get("UserEvent")
        if kind == "AgentWrapup":
            return [SeatWrapupDone(msg.get("Agent"), self.server)]
        st = self._call_for_user_event(msg)
        if st is None:
            return []
        if kind == self._ev_answered:
            return self._answered(st)
        if kind == self._ev_amd:
            return [CallMachine(st.call_id, msg.get("AMDSTATUS"), msg.get("AMDCAUSE"), self.server)]
        if kind == self._ev_drop and msg.get("State") == "start" and st.phase is not Phase.DROPPED:
            st.phase = Phase.DROPPED
            return [CallDropped(st.call_id, self.server)]
        return []

    def _call_for_user_event(self, msg: Message) -> CallState | None:
        st = self._by_uid.get(msg.get("Linkedid")) or self._by_uid.get(msg.get("Uniqueid"))
        if st is None:
            # by call id only for a call without a preset ChannelId: a preset one is
            # recognised by its Uniqueid, anything else is another client's channel
            st = self.calls.get(msg.get("CallID"))
            if st is None or st.uniqueid:
                return None
        self._learn_uid(st, msg.get("Uniqueid"), msg.get("Channel"))
        return st

    def _on_confbridge_join(self, msg: Message) -> list[LifecycleEvent]:
        conference = msg.get("Conference")
        if not conference.startswith(self._conf_prefix):
            return []
        agent_id = conference[len(self._conf_prefix) :]
        uid = msg.get("Uniqueid")
        st = self._by_uid.get(msg.get("Linkedid")) or self._by_uid.get(uid)
        if st is not None:
            if st.phase is Phase.CONNECTED and st.agent_id == agent_id:
                return []
            st.phase = Phase.CONNECTED
            st.agent_id = agent_id
            return [CallConnected(st.call_id, agent_id, self.server)]
        linked = msg.get("Linkedid")
        seat = self._seat_by_uid.get(linked)
        if seat is None:
            # a seat originated without a preset ChannelId, whose OriginateResponse is late
            pending = self.seats.get(agent_id)
            if pending is not None and not pending.up and not pending.uniqueid:
                seat = pending
        if seat is None:
            return []  # another client's seat or customer: not ours
        self._learn_seat_uid(seat, linked)
        seat.members.add(uid)
        self._seat_by_uid[uid] = seat
        if seat.up:
            return []
        seat.up = True
        return [SeatUp(agent_id, msg.get("Channel"), self.server)]

    def _on_confbridge_leave(self, msg: Message) -> list[LifecycleEvent]:
        seat = self._seat_by_uid.get(msg.get("Uniqueid"))
        if seat is None or self._by_uid.get(msg.get("Linkedid")) is not None:
            return []
        if seat.uniqueid and msg.get("Linkedid") not in ("", seat.uniqueid):
            return []  # not one of the seat's own legs
        return self._seat_down(seat, 0)

    def _on_newstate(self, msg: Message) -> list[LifecycleEvent]:
        if msg.get("ChannelStateDesc") != "Ringing":
            return []
        st = self._by_uid.get(msg.get("Linkedid"))
        if st is None:
            # no preset ChannelId: a Local leg is named "<dial string>-<hex>;<n>"
            st = self._by_dial.get(msg.get("Channel").rpartition("-")[0])
        if st is not None:
            st.rang = True
        return []

    def _on_dial_end(self, msg: Message) -> list[LifecycleEvent]:
        st = self._by_uid.get(msg.get("DestUniqueid"))
        if st is not None and st.orphaned and msg.get("DialStatus") == "ANSWER":
            return self._answered(st)
        return []

    def _on_hangup(self, msg: Message) -> list[LifecycleEvent]:
        uid = msg.get("Uniqueid")
        cause = _int(msg.get("Cause"), 0)
        st = self._by_uid.get(uid)
        if st is None:
            other = self._by_uid.get(msg.get("Linkedid"))
            if other is not None and (uid == other.other_id or msg.get("Channel").endswith(";2")):
                other.leg_causes.append(cause)
                return self._orphan_end(other)
            seat = self._seat_by_uid.get(uid)
            if seat is None:
                return []
            if seat.uniqueid and msg.get("Linkedid") not in ("", seat.uniqueid):
                return []  # not one of the seat's own legs
            return self._seat_down(seat, cause)
        st.leg_causes.append(cause)
        if st.phase in (Phase.ANSWERED, Phase.CONNECTED, Phase.DROPPED):
            self._forget(st)
            return [CallHungUp(st.call_id, cause, msg.get("Cause-txt"), self.server)]
        return self._orphan_end(st)

    def _orphan_end(self, st: CallState) -> list[LifecycleEvent]:
        """A call whose OriginateResponse went to a dead session ends on its legs' Hangups."""
        if not st.orphaned or st.phase in (Phase.ANSWERED, Phase.CONNECTED, Phase.DROPPED):
            return []
        cause = next((c for c in st.leg_causes if c), 0)
        outcome = CAUSE_OUTCOME.get(cause, FailOutcome.FAILED)
        if st.cancelled and cause in (0, 16):
            outcome = FailOutcome.CANCELLED
        return self._fail(st, -1, outcome, cause, "ended while the AMI session was lost")

    # ------------------------------------------------------------------ transitions
    def _learn_uid(self, st: CallState, uid: str, channel: str) -> None:
        if uid and uid != "<unknown>" and not st.uniqueid:
            st.uniqueid = uid
            self._by_uid[uid] = st
            self._by_dial.pop(st.dial, None)
        if channel and not st.channel and channel.endswith(";1"):
            st.channel = channel

    def _learn_seat_uid(self, seat: SeatState, uid: str) -> None:
        if uid and uid != "<unknown>":
            if not seat.uniqueid:
                seat.uniqueid = uid
            seat.members.add(uid)
            self._seat_by_uid[uid] = seat

    def _answered(self, st: CallState, *, adopted: bool = False) -> list[LifecycleEvent]:
        if st.phase in (Phase.SENT, Phase.DIALING):
            st.phase = Phase.ANSWERED
            st.cancelled = False
            return [CallAnswered(st.call_id, st.channel, st.uniqueid, self.server, adopted)]
        return []

    def _fail(
        self, st: CallState, reason: int, outcome: FailOutcome, cause: int, detail: str
    ) -> list[LifecycleEvent]:
        if self.calls.get(st.call_id) is not st:
            return []
        self._forget(st)
        return [CallFailed(st.call_id, outcome, reason, cause, detail, self.server)]

    def _forget(self, st: CallState) -> None:
        self.calls.pop(st.call_id, None)
        self._by_action.pop(st.action_id, None)
        if self._by_dial.get(st.dial) is st:
            del self._by_dial[st.dial]
        if st.uniqueid and self._by_uid.get(st.uniqueid) is st:
            del self._by_uid[st.uniqueid]

    def _seat_down(self, seat: SeatState, cause: int) -> list[LifecycleEvent]:
        if self.seats.get(seat.agent_id) is not seat:
            return []
        del self.seats[seat.agent_id]
        self._seat_by_action.pop(seat.action_id, None)
        for uid in seat.members:
            self._seat_by_uid.pop(uid, None)
        return [SeatDown(seat.agent_id, cause, self.server)]

    # ------------------------------------------------------------------ reconnects
    def connection_lost(self) -> None:
        """The session died: every call in flight has an unknown outcome until resync.

        The ActionIDs are kept: the server sends a call's OriginateResponse to every
        session logged in when it comes, so a new session gets the old ActionID (h6).
        """
        for st in self.calls.values():
            st.unknown = True
            st.orphaned = True

    def resync(self, channels: Iterable[Message]) -> list[LifecycleEvent]:
        """Settle every call and seat against the server's live channels (CoreShowChannel).

        A call whose controlled leg is alive stays tracked (it ends later by its Hangup
        events); a call that is gone ends now: answered ones as hung up, others as failed.
        """
        live: set[str] = set()
        items: dict[str, Message] = {}
        for ch in channels:
            items[ch.get("Uniqueid")] = ch
            live.add(ch.get("Uniqueid"))
            live.add(ch.get("Linkedid"))
        out: list[LifecycleEvent] = []
        for st in list(self.calls.values()):
            if st.uniqueid and st.uniqueid in live:
                st.unknown = False
                item = items.get(st.uniqueid)
                if item is not None:
                    out.extend(self._settle_live(st, item))
                continue
            if st.phase in (Phase.ANSWERED, Phase.CONNECTED, Phase.DROPPED):
                self._forget(st)
                out.append(CallHungUp(st.call_id, 0, "Gone after AMI reconnect", self.server))
            else:
                out.extend(
                    self._fail(st, -1, FailOutcome.FAILED, 0, "not found after AMI reconnect")
                )
        for seat in list(self.seats.values()):
            if not (seat.members & live):
                out.extend(self._seat_down(seat, 0))
        return out

    def _settle_live(self, st: CallState, item: Message) -> list[LifecycleEvent]:
        """What a call's live ``;1`` leg (a CoreShowChannel item) says happened to it.

        Up in the holding context: answered while the session was down
        (``CallAnswered(adopted=True)``); in a seat's conference: connected; in the drop
        context: answered and dropped (the drop must be counted).
        """
        if item.get("ChannelStateDesc") != "Up" and item.get("ChannelState") != "6":
            return []
        self._learn_uid(st, st.uniqueid, item.get("Channel"))
        context = item.get("Context")
        conference = item.get("ApplicationData").partition(",")[0]
        out: list[LifecycleEvent] = []
        if item.get("Application") == "ConfBridge" and conference.startswith(self._conf_prefix):
            out.extend(self._answered(st, adopted=True))
            agent_id = conference[len(self._conf_prefix) :]
            if st.phase is not Phase.CONNECTED or st.agent_id != agent_id:
                st.phase = Phase.CONNECTED
                st.agent_id = agent_id
                out.append(CallConnected(st.call_id, agent_id, self.server))
        elif context == self._answered_context:
            out.extend(self._answered(st, adopted=True))
        elif context == self._drop_context:
            out.extend(self._answered(st, adopted=True))
            if st.phase is not Phase.DROPPED:
                st.phase = Phase.DROPPED
                out.append(CallDropped(st.call_id, self.server))
        return out
