"""The PBX world model behind the simulator. Pure: no asyncio, no wall clock.

A :class:`World` is a heap of timed steps plus the state of channels, bridges and calls.
Callers pass ``now`` (seconds, any origin) to :meth:`World.action` and
:meth:`World.advance` and get back :class:`Out` items: AMI messages for one session
(responses, OriginateResponse, list items) or for every session (events). The same model
runs under the asyncio simulator (wall clock x time_scale) and in virtual time.

It reproduces what the lab Asterisk of ``shared/ami-transcripts`` emits for the lab
dialplan (``conf/extensions.conf``): Local channel pairs, customer classes encoded in
the number (or drawn from a scenario), the holding context with its UserEvents, AMD and
hold timeout, ``agent-bridge`` ConfBridges, the ``drop`` context, and agent seats.

Which contexts and extensions exist comes from a :class:`~asterisk.dialplan.Dialplan`
(by default the shipped ``config/asterisk/extensions_dialer.conf``), as strictly as
Asterisk: an Originate into a context/extension that does not match is refused at once
(``Response: Error``, ``Extension does not exist.``, no channel); a Local channel whose
own context/extension does not exist fails with Reason 0. The ``customers`` context is
the lab's (or the scenario's) customers unless the dialplan defines it. The answered
``;1`` leg runs the holding context's steps as written (NoOp, UserEvent, GotoIf, AMD,
``MusicOnHold(class,seconds)``, Goto, Hangup), so a hold timeout followed by
``Goto(drop,s,1)`` plays the drop message as on the real server (h5).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from asterisk.dialplan import Dialplan, Extension, expand
from asterisk.protocol import Message
from asterisk.queue_model import QueueCaller, QueueMember, SimQueue, lab_queues

Pairs = list[tuple[str, str]]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    34: "Circuit/channel congestion",
}
HELLO_S = 0.8  # Playback(hello) of a human
MACHINE_GREETING_S = 5.7  # Playback(vm-intro&beep) of an answering machine
DROP_MESSAGE_S = 2.5  # Playback(queue-thankyou&vm-goodbye)
# Answer() of the customer leg waits for media before its next step: a CoreShowChannels
# right after the answer still finds ;2 in Answer (h6), yet 1 s after the answer it is
# already in the talk loop (h2, h6): the wait is short; 0.1 s fits both.
ANSWER_MEDIA_S = 0.1
AMD_HUMAN_S = 2.0
AMD_MACHINE_S = 2.2
STEP_S = 0.001  # dialplan steps that Asterisk runs "at once" are 1 ms apart
# Answer() on the PBX side of an inbound call waits 500 ms for media (i1-i4: QueueCallerJoin
# and the after-hours UserEvent come ~0.5 s after OriginateResponse).
INBOUND_ANSWER_MEDIA_S = 0.5
#: How long Playback() of a PBX-side leg plays (the lab's sound files).
PLAYBACK_S = {"im-sorry&vm-goodbye": 1.92}
CALLING_PRES = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")


class Out(NamedTuple):
    """One message to write: to ``session`` only, or to every session when None."""

    session: int | None
    pairs: Pairs


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the dialed party behaves (classes of the lab's customer-number encoding)."""

    kind: str  # human | machine | busy | congestion | no_answer | invalid
    ring_s: float = 0.0
    talk_s: float = 0.0
    amd_s: float = 0.0  # answer -> AMD verdict (0: the lab's ~2 s)


def lab_behaviour(exten: str) -> Behaviour:
    """Decode the lab's customer number ``D RR TTT N...`` (see conf/extensions.conf)."""
    if len(exten) < 7 or not exten.isdigit():
        return Behaviour("invalid")
    cls, ring, talk = exten[0], float(exten[1:3]), float(exten[3:6])
    kinds = {"1": "human", "2": "busy", "3": "no_answer", "4": "congestion", "5": "machine"}
    kind = kinds.get(cls)
    if kind is None:
        return Behaviour("invalid")
    return Behaviour(kind, ring, talk)


BehaviourSource = Callable[[str, float], Behaviour]


class InboundSource(Protocol):
    """Where callers from outside come from (a scenario's ``[inbound]`` rates)."""

    def next_arrival(self, now: float) -> tuple[float, str, float]:
        """``(gap_s, caller, patience_s)``: the next caller arrives ``gap_s`` after ``now``
        and gives up after ``patience_s``; an empty caller means "nobody, ask again"."""
        ...


@dataclass(slots=True, eq=False)
class Bridge:
    """A ConfBridge conference (``agent-<id>``)."""

    name: str
    uid: str
    members: list[Channel] = field(default_factory=list)

    def head(self, count: int) -> Pairs:
        """The bridge snapshot fields with ``count`` channels (the announcer counts)."""
        return [
            ("BridgeUniqueid", self.uid),
            ("BridgeType", "base"),
            ("BridgeTechnology", "softmix"),
            ("BridgeCreator", "ConfBridge"),
            ("BridgeName", self.name),
            ("BridgeNumChannels", str(count)),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass(slots=True, eq=False)
class Channel:
    """One channel (half of a Local pair) and its snapshot fields."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    created: float
    state: int = 0
    priority: int = 1
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    cl_num: str = "<unknown>"
    cl_name: str = "<unknown>"
    app: str = "AppDial2"
    appdata: str = "(Outgoing Line)"
    bridge: Bridge | None = None
    on_hold: bool = False
    alive: bool = True
    call: Call | None = None

    def snap(self, prefix: str = "") -> Pairs:
        """The channel snapshot, as every channel event carries it."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.cid_num),
            (f"{p}CallerIDName", self.cid_name),
            (f"{p}ConnectedLineNum", self.cl_num),
            (f"{p}ConnectedLineName", self.cl_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]


@dataclass(slots=True, eq=False)
class Call:
    """An Originate: its session, ActionID, the two legs and the dialed party's behaviour."""

    session: int
    action_id: str
    dial: str
    context: str  # Originate Context/Exten: where ;1 goes after answer
    exten: str
    cid_num: str
    cid_name: str
    variables: dict[str, str]
    behaviour: Behaviour
    one: Channel
    two: Channel
    kind: str = "customer"  # customer | seat
    agent: str = ""
    application: tuple[str, str] | None = None  # Originate Application/Data (no Context)
    answered: bool = False
    done: bool = False  # OriginateResponse sent
    generation: int = 0  # bumps when a pending step must be ignored (redirect, hangup)
    #: a queue member's call: the queue, the member and the caller's channel it rings for
    member_of: tuple[SimQueue, QueueMember, Channel] | None = None


def _parse_callerid(value: str) -> tuple[str, str]:
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, num = value[:-1].partition("<")
        return num.strip(), name.strip().strip('"') or num.strip()
    return value, value


class World:
    """Channels, bridges and calls of one simulated Asterisk, advanced by ``now``."""

    def __init__(
        self,
        *,
        behaviour: BehaviourSource | None = None,
        seed: int = 1,
        start_epoch: int = 1795446000,
        emit_dialplan: bool = True,
        wrapup: Callable[[], float] | None = None,
        dialplan: Dialplan | None = None,
        queues: dict[str, SimQueue] | None = None,
    ) -> None:
        self._behaviour = behaviour or (lambda exten, now: lab_behaviour(exten))
        #: What exists on this server (default: the shipped dialplan).
        self.dialplan = dialplan if dialplan is not None else Dialplan.shipped()
        self._rng = random.Random(seed)
        self.start_epoch = start_epoch
        #: the fraction of a second the server's clock was past ``start_epoch`` at world
        #: time 0 (app_queue's HoldTime/TalkTime are differences of whole-second clocks)
        self.start_frac = 0.0
        self.emit_dialplan = emit_dialplan
        # scenario mode: after a customer leaves an agent's conference, the simulated agent
        # wraps up for a drawn time, then the seat says so (UserEvent AgentWrapup done)
        self._wrapup = wrapup
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._uid_seq = itertools.count()
        self._local_seq = itertools.count(1)
        self.channels: dict[str, Channel] = {}  # by name
        self._by_uid: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self._out: list[Out] = []
        self.stats = {"originates": 0, "events": 0}
        #: app_queue's queues (default: the lab's ``sales``) and the global variables
        #: (``Setvar`` without Channel, ``${GLOBAL(NAME)}``).
        self.queues: dict[str, SimQueue] = queues if queues is not None else lab_queues()
        self.globals: dict[str, str] = {}
        self._queued: dict[str, SimQueue] = {}  # caller Uniqueid -> the queue it waits in
        #: caller Uniqueid -> the member call connected to it, its bridge id, connect time
        self._connected: dict[str, tuple[Call, str, float, float]] = {}
        self._ringing: dict[str, Call] = {}  # caller Uniqueid -> the member call ringing

    # ------------------------------------------------------------------ clock
    def next_time(self) -> float | None:
        """When the next step is due (None when nothing is scheduled)."""
        return self._heap[0][0] if self._heap else None

    def advance(self, now: float, *, max_steps: int | None = None) -> list[Out]:
        """Run the steps due at or before ``now`` (at most ``max_steps``); return the output.

        With ``max_steps`` the world may stay behind ``now``; call again until
        ``next_time()`` is later than ``now``.
        """
        self._run_due(now, max_steps)
        return self._flush()

    def _run_due(self, now: float, max_steps: int | None = None) -> None:
        heap = self._heap
        budget = -1 if max_steps is None else max_steps
        while heap and heap[0][0] <= now and budget != 0:
            t, _, fn = heapq.heappop(heap)
            self.now = t
            fn()
            budget -= 1
        if not heap or heap[0][0] > now:
            self.now = max(self.now, now)

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), fn))

    def _later(self, delay: float, call: Call, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``delay`` unless the call moved on meanwhile (generation bump)."""
        gen = call.generation

        def run() -> None:
            if call.generation == gen:
                fn()

        self._at(delay, run)

    def _flush(self) -> list[Out]:
        out, self._out = self._out, []
        self.stats["events"] += len(out)
        return out

    def _emit(self, pairs: Pairs, session: int | None = None) -> None:
        self._out.append(Out(session, pairs))

    def _ev(self, name: str, ch: Channel, *extra: tuple[str, str], priv: str = "call,all") -> None:
        self._out.append(Out(None, [("Event", name), ("Privilege", priv), *ch.snap(), *extra]))

    def _newexten(self, ch: Channel, app: str, data: str) -> None:
        ch.app, ch.appdata = app, data
        if self.emit_dialplan:
            self._ev(
                "Newexten",
                ch,
                ("Extension", ch.exten),
                ("Application", app),
                ("AppData", data),
                priv="dialplan,all",
            )

    def _varset(self, ch: Channel, name: str, value: str) -> None:
        if self.emit_dialplan:
            self._ev("VarSet", ch, ("Variable", name), ("Value", value), priv="dialplan,all")

    # ------------------------------------------------------------------ ids
    def _uid(self, preset: str = "") -> str:
        n = next(self._uid_seq)
        return preset or f"{self.start_epoch}.{n}"

    def _bridge_uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # ------------------------------------------------------------------ actions
    def action(self, session: int, msg: Message, now: float) -> list[Out]:
        """Carry out one client action at ``now``; returns responses and immediate events."""
        self._run_due(now)
        name = msg.action.lower()
        aid = msg.action_id
        handler = {
            "originate": self._a_originate,
            "redirect": self._a_redirect,
            "hangup": self._a_hangup,
            "coreshowchannels": self._a_core_show_channels,
            "confbridgelist": self._a_confbridge_list,
            "confbridgelistrooms": self._a_confbridge_list_rooms,
            "status": self._a_status,
            "setvar": self._a_setvar,
            "queuereset": self._a_queue_reset,
            "queuepause": self._a_queue_pause,
        }.get(name)
        if handler is None:
            self._respond(session, aid, "Error", "Invalid/unknown command")
        else:
            handler(session, msg)
        return self._flush()

    def _respond(
        self, session: int, aid: str, response: str, message: str, *extra: tuple[str, str]
    ) -> None:
        pairs: Pairs = [("Response", response)]
        if aid:
            pairs.append(("ActionID", aid))
        pairs.extend(extra)
        if message:
            pairs.append(("Message", message))
        self._emit(pairs, session)

    def _a_originate(self, session: int, msg: Message) -> None:
        aid = msg.action_id
        dial = msg.get("Channel")
        tech, _, rest = dial.partition("/")
        exten, _, dctx = rest.partition("@")
        if not tech or not exten:
            self._respond(session, aid, "Error", "Channel not specified")
            return
        if msg.get("Async").lower() not in ("true", "yes", "1"):
            self._respond(session, aid, "Error", "The simulator only supports Async: true")
            return
        application = msg.get("Application")
        if not application:
            priority = msg.get("Priority") or "1"
            if not priority.isdigit() or not self.dialplan.exists(
                msg.get("Context"), msg.get("Exten"), int(priority)
            ):
                # checked before anything is created (h1): no channel, no event
                self._respond(session, aid, "Error", "Extension does not exist.")
                return
        self.stats["originates"] += 1
        self._respond(session, aid, "Success", "Originate successfully queued")
        preset = msg.get("ChannelId")
        if preset and (preset in self._by_uid or msg.get("OtherChannelId") in self._by_uid):
            # h4: queued, then refused by the channel driver; no channel, no event
            self._at(0.003, lambda: self._duplicate_channel_id(msg, preset))
            return
        variables: dict[str, str] = {}
        for var in msg.get_all("Variable"):
            for part in var.split(","):
                k, _, v = part.partition("=")
                variables[k] = v
        cid_num, cid_name = _parse_callerid(msg.get("CallerID"))
        n = next(self._local_seq)
        base = f"{dial}-{n:08x}"
        uid1 = self._uid(msg.get("ChannelId"))
        uid2 = self._uid(msg.get("OtherChannelId"))
        dctx = dctx or "default"
        one = Channel(f"{base};1", uid1, uid1, dctx, exten, self.now, state=0)
        two = Channel(f"{base};2", uid2, uid1, dctx, exten, self.now, state=4)
        if self.dialplan.has_context(dctx) and not self.dialplan.exists(dctx, exten):
            behaviour = Behaviour("invalid")  # ;2 finds no extension (d3, h1 c)
        elif dctx == "agents":
            behaviour = Behaviour("seat")
        elif dctx == "customers":
            behaviour = self._behaviour(exten, self.now)
        elif self.dialplan.exists(dctx, exten):
            behaviour = Behaviour("dialplan")  # ;2 runs the dialplan (inbound: [inbound])
        else:
            behaviour = Behaviour("invalid")
        call = Call(
            session,
            aid,
            dial,
            msg.get("Context"),
            msg.get("Exten"),
            cid_num,
            cid_name,
            variables,
            behaviour,
            one,
            two,
            kind="seat" if behaviour.kind == "seat" else "customer",
            agent=exten if behaviour.kind == "seat" else "",
            application=(application, msg.get("Data")) if application else None,
        )
        one.call = two.call = call
        for ch in (one, two):
            self.channels[ch.name] = ch
            self._by_uid[ch.uniqueid] = ch
        timeout_ms = msg.get("Timeout") or "30000"
        try:
            timeout_s = max(0.001, int(timeout_ms) / 1000)
        except ValueError:
            timeout_s = 30.0
        self._at(0.002, lambda: self._start(call, timeout_s))

    def _start(self, call: Call, timeout_s: float) -> None:
        one, two = call.one, call.two
        self._ev("Newchannel", one)
        self._ev("Newchannel", two)
        self._newexten(one, "AppDial2", "(Outgoing Line)")
        if call.behaviour.kind == "dialplan":
            self._start_dialplan_leg(call)
            return
        for k, v in call.variables.items():
            self._varset(one, k, v)
        one.cid_num, one.cid_name = call.cid_num, call.cid_name
        self._ev("NewCallerid", one, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))
        one.cl_num, one.cl_name = call.cid_num, call.cid_name
        self._ev("NewConnectedLine", one)
        for k, v in call.variables.items():
            self._varset(two, k, v)
        two.cid_num, two.cid_name = call.cid_num, call.cid_name
        two.cl_num, two.cl_name = call.cid_num, call.cid_name
        self._ev("NewCallerid", two, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))
        self._ev("NewConnectedLine", two)
        kind = call.behaviour.kind
        if kind == "invalid":
            self._hangup_leg(one, 0)
            self._hangup_leg(two, 0)
            self._originate_failed(call, 0)
            return
        self._local_bridge(one, two, one.context, one.exten)
        self._ev_dial("DialBegin", one, ("DialString", f"{one.exten}@{one.context}"))
        if kind == "seat":
            self._newexten(two, "NoOp", f"AGENT {call.agent}: seat up")
            self._at(STEP_S, lambda: self._seat_answer(call))
            return
        b = call.behaviour
        rr, ttt = f"{int(b.ring_s):02d}", f"{math.ceil(b.talk_s):03d}"
        answers = kind in ("human", "machine")
        text = {
            "human": f"human ring={rr}s talk={ttt}s",
            "machine": f"answering machine ring={rr}s record={ttt}s",
            "busy": f"busy after {rr}s",
            "congestion": f"congestion after {rr}s",
            "no_answer": "rings forever",
        }[kind]
        self._newexten(two, "NoOp", f"CUSTOMER {call.exten}: {text}")
        rings = not (answers and b.ring_s == 0)
        if answers:
            two.priority = 2
            self._newexten(two, "Set", f"TALK={math.ceil(b.talk_s)}")
            two.priority = 3
            self._newexten(two, "GotoIf", f"{0 if rings else 1}?answer")
        if rings:
            two.priority = 4 if answers else 2
            self._newexten(two, "Ringing", "")
            self._set_state(one, 5)
            self._ev_dial("DialState", one, ("DialStatus", "RINGING"))
            two.priority += 1
            self._newexten(two, "Wait", "86400" if kind == "no_answer" else rr)
        self._later(timeout_s, call, lambda: self._ring_timeout(call))
        if kind == "no_answer":
            return
        outcomes: dict[str, Callable[[Call], None]] = {
            "human": self._answer,
            "machine": self._answer,
            "busy": lambda c: self._busy(c, 17),
            "congestion": lambda c: self._busy(c, 34),
        }
        outcome = outcomes[kind]
        self._later(call.behaviour.ring_s, call, lambda: outcome(call))

    def _local_bridge(self, one: Channel, two: Channel, context: str, exten: str) -> None:
        """The two halves of a Local channel are bridged (optimisation allowed)."""
        self._emit(
            [
                ("Event", "LocalBridge"),
                ("Privilege", "call,all"),
                *one.snap("LocalOne"),
                *two.snap("LocalTwo"),
                ("Context", context),
                ("Exten", exten),
                ("LocalOptimization", "Yes"),
            ]
        )

    def _ev_dial(self, name: str, one: Channel, *extra: tuple[str, str]) -> None:
        self._out.append(
            Out(None, [("Event", name), ("Privilege", "call,all"), *one.snap("Dest"), *extra])
        )

    def _set_state(self, ch: Channel, state: int) -> None:
        ch.state = state
        self._ev("Newstate", ch)
        if state == 6:
            self._device(ch.call.dial if ch.call else ch.name, "INUSE")

    def _device(self, device: str, state: str) -> None:
        """DeviceStateChange noise, as Asterisk sends (racy there, so only roughly alike)."""
        if self.emit_dialplan:
            self._emit(
                [
                    ("Event", "DeviceStateChange"),
                    ("Privilege", "call,all"),
                    ("Device", device),
                    ("State", state),
                ]
            )

    # ------------------------------------------------------------------ outcomes
    def _ring_timeout(self, call: Call) -> None:
        if call.answered or not call.one.alive:
            return
        call.generation += 1
        one, two = call.one, call.two
        self._ev("HangupRequest", two, ("Cause", "19"))
        self._ev("SoftHangupRequest", two, ("Cause", "16"))
        self._hangup_leg(two, 19)
        self._hangup_leg(one, 19)
        self._originate_failed(call, 3)

    def _busy(self, call: Call, cause: int) -> None:
        one, two = call.one, call.two
        call.generation += 1
        two.priority = 4
        self._newexten(two, "Busy" if cause == 17 else "Congestion", "")
        self._set_state(two, 7)
        self._ev("HangupRequest", two, ("Cause", "0"))
        self._ev_dial("DialEnd", one, ("DialStatus", "BUSY" if cause == 17 else "CONGESTION"))
        self._ev("SoftHangupRequest", two, ("Cause", "16"))
        self._hangup_leg(two, cause)
        self._hangup_leg(one, 0)
        self._originate_failed(call, 5 if cause == 17 else 8)

    def _answer(self, call: Call) -> None:
        one, two = call.one, call.two
        human = call.behaviour.kind == "human"
        call.answered = True
        two.priority = 6
        self._newexten(two, "Answer", "")
        self._set_state(two, 6)
        self._set_state(one, 6)
        self._ev_dial("DialEnd", one, ("DialStatus", "ANSWER"))
        greeting = HELLO_S if human else MACHINE_GREETING_S

        def greet() -> None:
            if not two.alive:
                return
            two.priority = 7
            self._newexten(two, "Playback", "hello" if human else "vm-intro&beep")
            if self.emit_dialplan:
                self._at(greeting, lambda: self._talk(call))
            else:
                self._at(greeting + call.behaviour.talk_s, lambda: self._customer_hangs_up(call))

        # the fast mode (no dialplan events: ``dialer simulate``) keeps the scenario's own
        # timing from the answer; the lab mode waits for media as Asterisk does
        self._at(ANSWER_MEDIA_S if self.emit_dialplan else 0.0, greet)
        if call.application is not None:
            self._originate_success(call)
            self._run_application(call)
            return
        # ;1 runs the Originate's context (the holding context), as the dialplan says
        one.context, one.exten = call.context, call.exten
        self._run(call, one, 1)

    # ------------------------------------------------------------------ dialplan steps
    def _lookup(self, call: Call, ch: Channel) -> Callable[[str], str]:
        def lookup(name: str) -> str:
            if name == "EXTEN":
                return ch.exten
            if name == "CHANNEL":
                return ch.name
            if name == "EPOCH":
                return str(int(self.start_epoch + self.now))
            if name.startswith("GLOBAL(") and name.endswith(")"):
                return self.globals.get(name[7:-1], "")
            return call.variables.get(name, "")

        return lookup

    def _run(self, call: Call, ch: Channel, priority: int) -> None:
        """Run ``ch``'s dialplan from ``priority`` until a step that waits (or the end)."""
        ext = self.dialplan.find(ch.context, ch.exten)
        for _ in range(100):  # a Goto loop in a dialplan must not hang the world
            step = ext.step(priority) if ext is not None else None
            if step is None or not ch.alive:
                if ch.alive:  # ran off the end of the extension: Asterisk hangs up
                    self._dialplan_hangup(call, ch, 16)
                return
            ch.priority = priority
            data = expand(step.data, self._lookup(call, ch))
            app = step.app
            self._newexten(ch, app, data)
            nxt = self._step(call, ch, ext, app, data)
            if nxt is None:
                return
            if isinstance(nxt, tuple):  # Goto another context
                ch.context, ch.exten = nxt[0], nxt[1]
                if ch.context == "drop":
                    self._drop_steps(ch)
                    return
                ext = self.dialplan.find(ch.context, ch.exten)
                priority = nxt[2]
                continue
            priority = nxt

    def _step(
        self, call: Call, ch: Channel, ext: Extension | None, app: str, data: str
    ) -> int | tuple[str, str, int] | None:
        """Carry out one application; the next priority, a (context, exten, priority) to go
        to, or None when the channel now waits (a timer continues it) or is gone."""
        here = ch.priority
        if app == "UserEvent":
            name, *fields = data.split(",")
            pairs = [(k.strip(), v.strip()) for k, _, v in (f.partition(":") for f in fields)]
            self._ev("UserEvent", ch, ("UserEvent", name), *pairs, priv="user,all")
            if name == "CustomerAnswered":
                self._originate_success(call)
            return here + 1
        if ch is call.two and call.behaviour.kind == "dialplan":
            pbx = self._pbx_step(call, ch, app, data, here)
            if pbx != -1:
                return pbx
        if app in ("GotoIf", "Goto", "AMD", "MusicOnHold", "Hangup") and ch is call.one:
            self._originate_success(call)  # (no-op once sent) before the leg moves on
        if app == "GotoIf":
            cond, _, dests = data.partition("?")
            yes, _, no = dests.partition(":")
            target = yes if cond.strip() not in ("", "0") else no
            return self._target(ch, ext, target) if target else here + 1
        if app == "Goto":
            return self._target(ch, ext, data)
        if app == "AMD":
            human = call.behaviour.kind == "human"
            delay = call.behaviour.amd_s or (AMD_HUMAN_S if human else AMD_MACHINE_S)
            self._later(delay, call, lambda: self._amd_result(call, ch, here + 1))
            return None
        if app == "MusicOnHold":
            klass, _, seconds = data.partition(",")
            ch.on_hold = True
            self._ev("MusicOnHoldStart", ch, ("Class", klass or "default"))
            try:
                duration = float(seconds) if seconds.strip() else 0.0
            except ValueError:
                duration = 0.0
            if duration > 0:
                self._later(duration, call, lambda: self._hold_over(call, ch, here + 1))
            return None
        if app == "Hangup":
            self._dialplan_hangup(call, ch, int(data) if data.isdigit() else 16)
            return None
        return here + 1  # NoOp, Set, Answer ...: nothing the model needs

    def _target(
        self, ch: Channel, ext: Extension | None, target: str
    ) -> int | tuple[str, str, int] | None:
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 3:
            return (parts[0], parts[1], int(parts[2]) if parts[2].isdigit() else 1)
        if len(parts) == 2:
            return (ch.context, parts[0], int(parts[1]) if parts[1].isdigit() else 1)
        if parts[0].isdigit():
            return int(parts[0])
        step = ext.label(parts[0]) if ext is not None else None
        return step.priority if step is not None else None

    def _hold_over(self, call: Call, ch: Channel, priority: int) -> None:
        """``MusicOnHold(class,seconds)`` ran out: the dialplan continues (h5)."""
        if not ch.alive:
            return
        self._moh_stop(ch)
        self._run(call, ch, priority)

    def _dialplan_hangup(self, call: Call, ch: Channel, cause: int) -> None:
        """``Hangup()`` in ``ch``'s dialplan: it hangs up, its Local partner follows."""
        call.generation += 1
        if ch.on_hold:
            self._moh_stop(ch)
        self._leave_bridge(ch)
        self._ev("SoftHangupRequest", ch, ("Cause", str(cause)))
        self._hangup_leg(ch, cause)
        other = call.two if ch is call.one else call.one
        if other.alive:
            self._ev("HangupRequest", other, ("Cause", str(cause)))
            self._ev("SoftHangupRequest", other, ("Cause", "16"))
            self._hangup_leg(other, cause)

    def _run_application(self, call: Call) -> None:
        """Application-form Originate: ``;1`` runs the application (``Wait(n)``), then ends."""
        assert call.application is not None  # noqa: S101 - only called for that form
        app, data = call.application
        wait_s = float(data) if app.lower() == "wait" and data.replace(".", "").isdigit() else 0
        self._later(wait_s, call, lambda: self._dialplan_hangup(call, call.one, 16))

    def _talk(self, call: Call) -> None:
        """After the greeting: Set(END=...) and the While/Playback(silence/1) loop."""
        two = call.two
        if not two.alive:
            return
        talk = math.ceil(call.behaviour.talk_s)
        two.priority = 8
        self._newexten(two, "Set", f"END={int(self.start_epoch + self.now) + talk}")
        self._talk_loop(call, 0, talk)

    def _talk_loop(self, call: Call, k: int, rounds: int) -> None:
        two = call.two
        if not two.alive:
            return
        if k:
            two.priority = 11
            self._newexten(two, "EndWhile", "")
        two.priority = 9
        if k >= rounds:
            self._newexten(two, "While", "0")
            self._customer_hangs_up(call)
            return
        self._newexten(two, "While", "1")
        two.priority = 10
        self._newexten(two, "Playback", "silence/1")
        self._at(1.0, lambda: self._talk_loop(call, k + 1, rounds))

    def _amd_result(self, call: Call, ch: Channel, priority: int) -> None:
        """``AMD()`` decided: AMDSTATUS/AMDCAUSE are set and the dialplan continues."""
        human = call.behaviour.kind == "human"
        status, cause = (
            ("HUMAN", "HUMAN-800-800") if human else ("MACHINE", "LONGGREETING-1500-1500")
        )
        call.variables["AMDSTATUS"] = status
        call.variables["AMDCAUSE"] = cause
        self._varset(ch, "AMDSTATUS", status)
        self._varset(ch, "AMDCAUSE", cause)
        self._run(call, ch, priority)

    def _customer_hangs_up(self, call: Call) -> None:
        one, two = call.one, call.two
        if not two.alive:
            return
        two.priority = 12
        self._newexten(two, "Hangup", "16")
        self._ev("SoftHangupRequest", two, ("Cause", "16"))
        self._hangup_leg(two, 16)
        if one.alive:
            call.generation += 1
            if one.on_hold:
                self._moh_stop(one)
            self._ev("HangupRequest", one, ("Cause", "16"))
            self._leave_bridge(one)
            self._ev("SoftHangupRequest", one, ("Cause", "16"))
            self._hangup_leg(one, 16)

    def _where(self, call: Call) -> Pairs:
        """``Context``/``Exten`` of an OriginateResponse, or ``Application``/``Data``."""
        if call.application is not None:
            return [("Application", call.application[0]), ("Data", call.application[1])]
        return [("Context", call.context), ("Exten", call.exten)]

    def _originate_response(
        self,
        action_id: str,
        response: str,
        *,
        channel: str,
        where: Pairs,
        reason: int,
        uid: str,
        cid: tuple[str, str],
    ) -> None:
        """The async Originate's answer, sent to every session (h2, h6)."""
        self._emit(
            [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                ("ActionID", action_id),
                ("Response", response),
                ("Channel", channel),
                *where,
                ("Reason", str(reason)),
                ("Uniqueid", uid),
                ("CallerIDNum", cid[0]),
                ("CallerIDName", cid[1]),
            ]
        )

    def _originate_success(self, call: Call) -> None:
        # every session gets it, not only the one that asked (h2, h6)
        if call.done:
            return
        call.done = True
        one = call.one
        self._originate_response(
            call.action_id,
            "Success",
            channel=one.name,
            where=self._where(call),
            reason=4,
            uid=one.uniqueid,
            cid=(call.cid_num, call.cid_name),
        )

    def _originate_failed(self, call: Call, reason: int) -> None:
        if call.done:
            return
        call.done = True
        preset = (
            call.one.uniqueid if not call.one.uniqueid.startswith(f"{self.start_epoch}.") else ""
        )
        self._originate_response(
            call.action_id,
            "Failure",
            channel=call.dial,
            where=self._where(call),
            reason=reason,
            uid=preset or "<unknown>",
            cid=(call.cid_num, call.cid_name),
        )

    def _duplicate_channel_id(self, msg: Message, preset: str) -> None:
        """h4: the ChannelId is taken by a live channel: Failure, Reason 0, no channel."""
        where = [("Context", msg.get("Context")), ("Exten", msg.get("Exten"))]
        cid = _parse_callerid(msg.get("CallerID"))
        self._originate_response(
            msg.action_id,
            "Failure",
            channel=msg.get("Channel"),
            where=where,
            reason=0,
            uid=preset,
            cid=cid,
        )

    # ------------------------------------------------------------------ inbound callers
    def inbound_call(
        self, caller: str, *, patience_s: float, context: str = "dialer-inbound"
    ) -> str:
        """A caller from outside reaches the PBX: the PBX side (``;2``) runs ``context``
        (e.g. answers and queues), the caller's side hangs up after ``patience_s`` unless the
        dialplan ends the call first. No OriginateResponse (nobody originated it). Returns
        the Uniqueid of the PBX side, the queue caller."""
        if not self.dialplan.exists(context, caller):
            msg = f"no extension {caller!r} in context {context!r} of the simulated dialplan"
            raise ValueError(msg)
        n = next(self._local_seq)
        base = f"Local/{caller}@{context}-{n:08x}"
        uid1, uid2 = self._uid(), self._uid()
        one = Channel(f"{base};1", uid1, uid1, context, caller, self.now, state=0)
        two = Channel(f"{base};2", uid2, uid1, context, caller, self.now, state=4)
        call = Call(
            0,
            "",
            f"Local/{caller}@{context}",
            "",
            "",
            "",
            "",
            {},
            Behaviour("dialplan"),
            one,
            two,
            application=("Wait", f"{patience_s:g}"),
        )
        call.done = True  # an outside call: no OriginateResponse
        one.call = two.call = call
        for ch in (one, two):
            self.channels[ch.name] = ch
            self._by_uid[ch.uniqueid] = ch
        self._at(STEP_S, lambda: self._start(call, 30.0))
        return uid2

    def start_inbound(self, source: InboundSource, *, context: str = "dialer-inbound") -> None:
        """Callers arrive from ``source`` from now on (one timed step per arrival)."""

        def arrive(caller: str, patience: float) -> None:
            if caller:
                self.inbound_call(caller, patience_s=patience, context=context)
            gap, nxt, wait = source.next_arrival(self.now)
            self._at(max(gap, STEP_S), lambda: arrive(nxt, wait))

        gap, first, wait = source.next_arrival(self.now)
        self._at(max(gap, STEP_S), lambda: arrive(first, wait))

    # ------------------------------------------------------------------ PBX-side legs
    def _start_dialplan_leg(self, call: Call) -> None:
        """``Local/<exten>@<context>`` into a context of the dialplan (an inbound call:
        ``Local/<caller>@inbound``): the pair is bridged and ``;2`` runs the extension."""
        one, two = call.one, call.two
        if call.cid_num:  # an Originate CallerID shows on both legs (none for i1-i4)
            for ch in (one, two):
                ch.cid_num, ch.cid_name = call.cid_num, call.cid_name
                ch.cl_num, ch.cl_name = call.cid_num, call.cid_name
                self._ev("NewCallerid", ch, CALLING_PRES)
                self._ev("NewConnectedLine", ch)
        else:  # no CallerID: OriginateResponse says <unknown> (i1-i4)
            call.cid_num = call.cid_name = "<unknown>"
        self._local_bridge(one, two, one.context, one.exten)
        self._ev_dial("DialBegin", one, ("DialString", f"{one.exten}@{one.context}"))
        self._run(call, two, 1)

    def _pbx_step(
        self, call: Call, ch: Channel, app: str, data: str, here: int
    ) -> int | tuple[str, str, int] | None:
        """Applications of a PBX-side ``;2`` leg; -1 when the common handling applies."""
        if app == "Set":
            name, _, value = data.partition("=")
            if name in {"CALLERID(num)", "CALLERID(name)"}:
                before = (ch.cid_num, ch.cid_name)
                if name == "CALLERID(num)":
                    ch.cid_num = value
                else:
                    ch.cid_name = value
                if (ch.cid_num, ch.cid_name) != before:  # only a change is announced
                    self._ev("NewCallerid", ch, CALLING_PRES)
            else:
                call.variables[name] = value
            return here + 1
        if app == "Ringing":
            if call.member_of is not None:
                self._member_ringing(call)
            return here + 1
        if app == "Answer":
            if call.answered:
                return here + 1
            if call.member_of is not None:
                self._member_answer(call)
                self._at(INBOUND_ANSWER_MEDIA_S, lambda: self._continue(call, ch, here + 1))
                return None
            self._pbx_answer(call)
            self._at(INBOUND_ANSWER_MEDIA_S, lambda: self._continue(call, ch, here + 1))
            return None
        if app == "Queue":
            return self._queue_join(call, ch, data, here)
        if app in {"Playback", "Wait"}:
            if app == "Playback":
                seconds = PLAYBACK_S.get(data, 1.0)
            else:
                try:
                    seconds = float(data or 0)
                except ValueError:
                    seconds = 0.0

            def done() -> None:
                if app == "Playback" and ch.alive:
                    self._varset(ch, "PLAYBACKSTATUS", "SUCCESS")
                self._continue(call, ch, here + 1)

            self._at(seconds, done)
            return None
        if app == "Hangup":
            self._pbx_hangup(call, int(data) if data.isdigit() else 16)
            return None
        return -1

    def _continue(self, call: Call, ch: Channel, priority: int) -> None:
        if ch.alive:
            self._run(call, ch, priority)

    def _pbx_answer(self, call: Call) -> None:
        """``Answer()`` on ``;2``: both legs up, the Originate succeeds, ``;1`` (the caller's
        phone) runs the Originate's application (``Wait(N)``, then it hangs up)."""
        one, two = call.one, call.two
        call.answered = True
        self._set_state(two, 6)
        self._set_state(one, 6)
        self._ev_dial("DialEnd", one, ("DialStatus", "ANSWER"))
        self._originate_success(call)
        if call.application is None:
            one.context, one.exten = call.context, call.exten
            self._run(call, one, 1)
            return
        app, data = call.application
        if app.lower() == "wait":
            try:
                seconds = float(data)
            except ValueError:
                seconds = 0.0
            self._at(seconds, lambda: self._caller_hangs_up(call))

    def _caller_hangs_up(self, call: Call) -> None:
        """The caller's phone (``;1``) hangs up: a caller waiting in a queue abandons (i1)."""
        one, two = call.one, call.two
        if not one.alive:
            return
        call.generation += 1
        if two.alive:
            self._ev("HangupRequest", two, ("Cause", "0"))
        self._hangup_leg(one, 0)
        if not two.alive:
            return
        if two.uniqueid in self._connected:
            self._member_call_ends(two)
            return
        self._cancel_ringing(two)
        if two.on_hold:
            self._moh_stop(two)
        self._queue_leave(two, abandon=True)
        self._ev("SoftHangupRequest", two, ("Cause", "16"))
        self._hangup_leg(two, 0)

    def _pbx_hangup(self, call: Call, cause: int) -> None:
        """``Hangup(cause)`` in ``;2``'s dialplan; the caller's leg follows (i4)."""
        one, two = call.one, call.two
        call.generation += 1
        if two.on_hold:
            self._moh_stop(two)
        self._queue_leave(two, abandon=False)
        self._ev("SoftHangupRequest", two, ("Cause", str(cause)))
        if one.alive:
            self._ev("HangupRequest", one, ("Cause", str(cause)))
        self._hangup_leg(two, cause)
        self._hangup_leg(one, cause)

    def _queue_join(
        self, call: Call, ch: Channel, data: str, here: int
    ) -> int | tuple[str, str, int] | None:
        """``Queue(name,,,,timeout)``: the caller waits with music on hold."""
        args = data.split(",")
        q = self.queues.get(args[0].strip())
        if q is None:  # app_queue: "Unable to join queue", the dialplan continues
            return here + 1
        entry = QueueCaller(ch.uniqueid, self.now, len(q.callers) + 1)
        q.callers.append(entry)
        self._queued[ch.uniqueid] = q
        self._emit(
            [
                ("Event", "QueueCallerJoin"),
                ("Privilege", "agent,all"),
                *ch.snap(),
                ("Queue", q.name),
                ("Position", str(len(q.callers))),
                ("Count", str(len(q.callers))),
            ]
        )
        ch.on_hold = True
        self._ev("MusicOnHoldStart", ch, ("Class", "default"))
        self._ring_members(q)
        timeout = args[4].strip() if len(args) > 4 else ""
        if timeout.isdigit() and int(timeout) > 0:

            def give_up() -> None:
                if ch.alive and self._queued.get(ch.uniqueid) is q:
                    self._moh_stop(ch)
                    self._queue_leave(ch, abandon=False)
                    self._run(call, ch, here + 1)

            self._at(float(timeout), give_up)
        return None

    def _queue_leave(self, ch: Channel, *, abandon: bool) -> None:
        q = self._queued.pop(ch.uniqueid, None)
        if q is None:
            return
        pos = q.position(ch.uniqueid)
        entry = q.callers.pop(pos - 1)
        if abandon:
            hold = self._clock_s(self.now) - self._clock_s(entry.joined)
            self._emit(
                [
                    ("Event", "QueueCallerAbandon"),
                    ("Privilege", "agent,all"),
                    *ch.snap(),
                    ("Queue", q.name),
                    ("Position", str(pos)),
                    ("OriginalPosition", str(entry.original_position)),
                    ("HoldTime", str(hold)),
                ]
            )
        self._emit(
            [
                ("Event", "QueueCallerLeave"),
                ("Privilege", "agent,all"),
                *ch.snap(),
                ("Queue", q.name),
                ("Position", str(pos)),
                ("Count", str(len(q.callers))),
            ]
        )

    # ------------------------------------------------------------------ queue members
    def _clock_s(self, t: float) -> int:
        """The server's ``time()`` (whole seconds) at world time ``t``."""
        return int(self.start_epoch + self.start_frac + t)

    def _member_status(self, q: SimQueue, m: QueueMember) -> None:
        self._member_event("QueueMemberStatus", q, m)

    def _member_event(self, name: str, q: SimQueue, m: QueueMember) -> None:
        """QueueMemberStatus and QueueMemberPause carry the same picture of the member."""
        self._emit(
            [
                ("Event", name),
                ("Privilege", "agent,all"),
                ("Queue", q.name),
                ("MemberName", m.name),
                ("Interface", m.interface),
                ("StateInterface", m.interface),
                ("Membership", "static"),
                ("Penalty", str(m.penalty)),
                ("CallsTaken", str(m.calls_taken)),
                ("LastCall", str(m.last_call)),
                ("LastPause", str(m.last_pause)),
                ("LoginTime", str(m.login_time or self.start_epoch)),
                ("InCall", "1" if m.in_call else "0"),
                ("Status", str(m.status)),
                ("Paused", "1" if m.paused else "0"),
                ("PausedReason", m.paused_reason),
                ("Ringinuse", "0"),
                ("Wrapuptime", "0"),
            ]
        )

    def _member_dial(
        self, name: str, caller: Channel, dest: Channel, *extra: tuple[str, str]
    ) -> None:
        """DialBegin/DialState/DialEnd of the queue dialing a member: the caller's channel,
        then the member leg as ``Dest``."""
        self._emit(
            [("Event", name), ("Privilege", "call,all"), *caller.snap(), *dest.snap("Dest"), *extra]
        )

    def _agent_event(
        self,
        name: str,
        q: SimQueue,
        member: QueueMember,
        caller: Channel,
        dest: Channel,
        *extra: tuple[str, str],
    ) -> None:
        """AgentCalled/AgentConnect/AgentRingNoAnswer/AgentComplete: caller, member leg as
        ``Dest``, queue and member, then the event's own fields."""
        self._emit(
            [
                ("Event", name),
                ("Privilege", "agent,all"),
                *caller.snap(),
                *dest.snap("Dest"),
                ("Queue", q.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                *extra,
            ]
        )

    def _ring_members(self, q: SimQueue) -> None:
        """ringall: the caller at the head of the queue rings every available member."""
        if not q.callers:
            return
        head = q.callers[0]
        caller = self._by_uid.get(head.uniqueid)
        if caller is None or head.ringing or head.retry_at > self.now:
            return
        members = [m for m in q.members if m.available and self._reachable(m)]
        if not members:
            return
        head.ringing = True
        for member in members[:1]:  # one static member per call in this model
            self._call_member(q, member, caller)

    def _reachable(self, member: QueueMember) -> bool:
        """A member app_queue can ring: a Local interface whose extension the dialplan has
        (any other device is unavailable here, as an unregistered phone is to Asterisk)."""
        tech, _, rest = member.interface.partition("/")
        exten, _, context = rest.partition("@")
        return tech == "Local" and self.dialplan.exists(context, exten)

    def _call_member(self, q: SimQueue, member: QueueMember, caller: Channel) -> None:
        """app_queue dials the member's interface (a Local pair, ``;2`` runs its context)."""
        tech, _, rest = member.interface.partition("/")
        exten, _, context = rest.partition("@")
        n = next(self._local_seq)
        base = f"{member.interface}-{n:08x}"
        uid1, uid2 = self._uid(), self._uid()
        m1 = Channel(f"{base};1", uid1, caller.linkedid, context, exten, self.now, state=0)
        m2 = Channel(f"{base};2", uid2, caller.linkedid, context, exten, self.now, state=4)
        ccall = caller.call
        inherited = {
            k.lstrip("_"): v for k, v in (ccall.variables if ccall else {}).items() if k[:1] == "_"
        }
        mcall = Call(
            0,
            "",
            member.interface,
            "",
            "",
            caller.cid_num,
            caller.cid_name,
            inherited,
            Behaviour("dialplan"),
            m1,
            m2,
            kind="member",
            member_of=(q, member, caller),
        )
        mcall.done = True
        m1.call = m2.call = mcall
        for leg in (m1, m2):
            self.channels[leg.name] = leg
            self._by_uid[leg.uniqueid] = leg
        member.ringing = True
        self._ringing[caller.uniqueid] = mcall
        del tech
        self._ev("Newchannel", m1)
        self._ev("Newchannel", m2)
        m1.cid_num = caller.cid_num
        self._newexten(m1, "AppQueue", "(Outgoing Line)")
        self._ev("NewCallerid", m1, CALLING_PRES)
        self._varset(m1, "DIALEDPEERNUMBER", f"{exten}@{context}")
        self._varset(m2, "DIALEDPEERNUMBER", f"{exten}@{context}")
        m2.cid_num = m2.cl_num = caller.cid_num
        self._ev("NewCallerid", m2, CALLING_PRES)
        self._ev("NewConnectedLine", m2)
        self._local_bridge(m1, m2, context, exten)
        # AgentCalled carries the member leg as it is once ringing (exten, connected line)
        ringing_view = Channel(
            m1.name, m1.uniqueid, m1.linkedid, context, caller.exten, self.now, state=0
        )
        ringing_view.cid_num = ringing_view.cl_num = caller.cid_num
        self._agent_event("AgentCalled", q, member, caller, ringing_view)
        self._member_dial("DialBegin", caller, m1, ("DialString", member.interface))
        self._run(mcall, m2, 1)
        self._later(q.timeout_s, mcall, lambda: self._member_no_answer(mcall))

    def _member_ringing(self, mcall: Call) -> None:
        """The member's phone rings (``Ringing()`` on its ``;2``)."""
        assert mcall.member_of is not None  # noqa: S101 - member calls only
        q, member, caller = mcall.member_of
        m1 = mcall.one
        m1.exten, m1.cl_num = caller.exten, caller.cid_num
        self._set_state(m1, 5)
        self._newexten(m1, "AppQueue", "(Outgoing Line)")
        self._ev("NewConnectedLine", m1)
        self._member_status(q, member)
        self._member_dial("DialState", caller, m1, ("DialStatus", "RINGING"))

    def _member_answer(self, mcall: Call) -> None:
        """The member answers: the caller leaves the queue and is bridged to the member."""
        assert mcall.member_of is not None  # noqa: S101 - member calls only
        q, member, caller = mcall.member_of
        m1, m2 = mcall.one, mcall.two
        mcall.answered = True
        mcall.generation += 1  # no ring timeout any more
        member.ringing, member.in_call = False, True
        self._ringing.pop(caller.uniqueid, None)
        self._set_state(m2, 6)
        self._set_state(m1, 6)
        self._member_dial("DialEnd", caller, m1, ("DialStatus", "ANSWER"))
        entry = next((c for c in q.callers if c.uniqueid == caller.uniqueid), None)
        joined = entry.joined if entry is not None else self.now
        if caller.on_hold:
            self._moh_stop(caller)
        self._queue_leave(caller, abandon=False)
        wait = self._clock_s(self.now) - self._clock_s(joined)
        self._agent_event(
            "AgentConnect",
            q,
            member,
            caller,
            m1,
            ("HoldTime", str(wait)),
            ("RingTime", str(wait)),
        )
        bridge = self._bridge_uid()
        self._connected[caller.uniqueid] = (mcall, bridge, self.now, joined)
        self._emit([("Event", "BridgeCreate"), ("Privilege", "call,all"), *_basic(bridge, 0)])
        self._emit(
            [("Event", "BridgeEnter"), ("Privilege", "call,all"), *_basic(bridge, 1), *m1.snap()]
        )
        self._emit(
            [
                ("Event", "BridgeEnter"),
                ("Privilege", "call,all"),
                *_basic(bridge, 2),
                *caller.snap(),
            ]
        )

    def _member_call_ends(self, caller: Channel) -> None:
        """The caller hung up after talking to a member (i2): AgentComplete, both leave the
        bridge, all four legs hang up, the member is free again."""
        mcall, bridge, connected_at, joined = self._connected.pop(caller.uniqueid)
        assert mcall.member_of is not None  # noqa: S101 - member calls only
        q, member, _ = mcall.member_of
        m1, m2 = mcall.one, mcall.two
        self._agent_event(
            "AgentComplete",
            q,
            member,
            caller,
            m1,
            ("HoldTime", str(self._clock_s(connected_at) - self._clock_s(joined))),
            ("TalkTime", str(self._clock_s(self.now) - self._clock_s(connected_at))),
            ("Reason", "caller"),
        )
        self._emit(
            [
                ("Event", "BridgeLeave"),
                ("Privilege", "call,all"),
                *_basic(bridge, 1),
                *caller.snap(),
            ]
        )
        self._ev("SoftHangupRequest", caller, ("Cause", "16"))
        self._hangup_leg(caller, 16)
        mcall.generation += 1
        self._emit(
            [("Event", "BridgeLeave"), ("Privilege", "call,all"), *_basic(bridge, 0), *m1.snap()]
        )
        self._ev("HangupRequest", m2, ("Cause", "16"))
        self._ev("SoftHangupRequest", m2, ("Cause", "16"))
        self._hangup_leg(m1, 16)
        self._emit([("Event", "BridgeDestroy"), ("Privilege", "call,all"), *_basic(bridge, 0)])
        self._hangup_leg(m2, 16)
        member.in_call = False
        member.calls_taken += 1
        member.last_call = self._clock_s(self.now)
        self._member_status(q, member)
        self._at(STEP_S, lambda: self._ring_members(q))

    def _member_no_answer(self, mcall: Call) -> None:
        """The queue's ring timeout passed (i3): AgentRingNoAnswer (in ms), the dial ends,
        the member's legs hang up; the caller waits ``retry`` before the next ring."""
        if mcall.answered or mcall.member_of is None or not mcall.one.alive:
            return
        q, member, caller = mcall.member_of
        m1, m2 = mcall.one, mcall.two
        self._ringing.pop(caller.uniqueid, None)
        mcall.generation += 1
        self._agent_event(
            "AgentRingNoAnswer",
            q,
            member,
            caller,
            m1,
            ("RingTime", str(round(q.timeout_s * 1000))),
        )
        for status in ("NOANSWER", "CANCEL"):
            self._member_dial("DialEnd", caller, m1, ("DialStatus", status))
        self._hangup_leg(m1, 0)
        self._ev("HangupRequest", m2, ("Cause", "0"))
        self._ev("SoftHangupRequest", m2, ("Cause", "16"))
        self._hangup_leg(m2, 0)
        member.ringing = False
        self._member_status(q, member)
        entry = next((c for c in q.callers if c.uniqueid == caller.uniqueid), None)
        if entry is not None:
            entry.ringing = False
            entry.retry_at = self.now + q.retry_s
            self._at(q.retry_s, lambda: self._ring_members(q))

    def _cancel_ringing(self, caller: Channel) -> None:
        """The caller left while a member's phone rang: that dial is cancelled."""
        mcall = self._ringing.pop(caller.uniqueid, None)
        if mcall is None or mcall.member_of is None:
            return
        q, member, _ = mcall.member_of
        mcall.generation += 1
        self._member_dial("DialEnd", caller, mcall.one, ("DialStatus", "CANCEL"))
        self._hangup_leg(mcall.one, 0)
        self._ev("HangupRequest", mcall.two, ("Cause", "0"))
        self._ev("SoftHangupRequest", mcall.two, ("Cause", "16"))
        self._hangup_leg(mcall.two, 0)
        member.ringing = False
        self._member_status(q, member)

    def _a_setvar(self, session: int, msg: Message) -> None:
        name, value = msg.get("Variable"), msg.get("Value")
        if not name:
            self._respond(session, msg.action_id, "Error", "No variable specified")
            return
        target = msg.get("Channel")
        if target:
            ch = self._find(target)
            if ch is None or ch.call is None:
                self._respond(session, msg.action_id, "Error", "Channel not found")
                return
            ch.call.variables[name] = value
            self._respond(session, msg.action_id, "Success", "Variable Set")
            self._varset(ch, name, value)
            return
        self.globals[name] = value
        self._respond(session, msg.action_id, "Success", "Variable Set")
        if self.emit_dialplan:
            self._emit(
                [
                    ("Event", "VarSet"),
                    ("Privilege", "dialplan,all"),
                    ("Channel", "none"),
                    ("Uniqueid", "none"),
                    ("Variable", name),
                    ("Value", value),
                ]
            )

    def _a_queue_reset(self, session: int, msg: Message) -> None:
        name = msg.get("Queue")
        queues = [self.queues[name]] if name in self.queues else []
        if name and not queues:
            self._respond(session, msg.action_id, "Error", "Invalid queue")
            return
        for q in queues or list(self.queues.values()):
            for m in q.members:
                m.calls_taken, m.last_call = 0, 0
        self._respond(session, msg.action_id, "Success", "Queue stats reset successfully")

    def _a_queue_pause(self, session: int, msg: Message) -> None:
        interface = msg.get("Interface")
        paused = msg.get("Paused").lower() in {"true", "yes", "1", "on"}
        wanted = msg.get("Queue")
        found = [
            (q, m)
            for q in self.queues.values()
            if not wanted or q.name == wanted
            for m in q.members
            if m.interface == interface
        ]
        if not interface or not found:
            self._respond(session, msg.action_id, "Error", "Interface not found")
            return
        word = "paused" if paused else "unpaused"
        self._respond(session, msg.action_id, "Success", f"Interface {word} successfully")
        for q, m in found:
            m.paused = paused
            m.paused_reason = msg.get("Reason") if paused else ""
            if paused:
                m.last_pause = self._clock_s(self.now)
            else:
                self._at(STEP_S, functools.partial(self._ring_members, q))
            self._member_event("QueueMemberPause", q, m)

    # ------------------------------------------------------------------ seats
    def _seat_answer(self, call: Call) -> None:
        one, two = call.one, call.two
        call.answered = True
        two.priority = 2
        self._newexten(two, "Answer", "")
        self._set_state(two, 6)
        self._set_state(one, 6)
        self._ev_dial("DialEnd", one, ("DialStatus", "ANSWER"))
        self._originate_success(call)
        one.context, one.exten, one.priority = call.context, call.exten, 1
        self._newexten(one, "NoOp", f"AGENT {call.agent}: handset off-hook")
        one.priority = 2
        self._newexten(one, "Wait", "28800")
        two.priority = 3
        self._newexten(two, "UserEvent", f"AgentSeat,Agent: {call.agent},State: joining")
        self._ev(
            "UserEvent",
            two,
            ("UserEvent", "AgentSeat"),
            ("Agent", call.agent),
            ("State", "joining"),
            priv="user,all",
        )
        two.priority = 4
        self._newexten(two, "ConfBridge", f"agent-{call.agent},dialer_bridge,agent_user")
        self._join_bridge(two, f"agent-{call.agent}")

    # ------------------------------------------------------------------ bridges
    def _join_bridge(self, ch: Channel, name: str, user: str = "agent_user") -> None:
        bridge = self.bridges.get(name)
        if bridge is None:
            bridge = Bridge(name, self._bridge_uid())
            self.bridges[name] = bridge
            next(self._local_seq)  # the CBAnn announcer takes a Local number ...
            next(self._uid_seq)  # ... and a Uniqueid, without any AMI event
            self._emit([("Event", "BridgeCreate"), ("Privilege", "call,all"), *bridge.head(0)])
            self._device(f"confbridge:{name}", "INUSE")
            self._emit(
                [
                    ("Event", "ConfbridgeStart"),
                    ("Privilege", "call,all"),
                    ("Conference", name),
                    *bridge.head(1),
                ]
            )
        bridge.members.append(ch)
        ch.bridge = bridge
        ch.app, ch.appdata = "ConfBridge", f"{name},dialer_bridge,{user}"
        count = len(bridge.members) + 1
        self._emit(
            [("Event", "BridgeEnter"), ("Privilege", "call,all"), *bridge.head(count), *ch.snap()]
        )
        self._emit(
            [
                ("Event", "ConfbridgeJoin"),
                ("Privilege", "call,all"),
                ("Conference", name),
                *bridge.head(count),
                *ch.snap(),
                ("Admin", "No"),
                ("Muted", "No"),
            ]
        )

    def _leave_bridge(self, ch: Channel, *, request_cause: int | None = None) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        count = len(bridge.members) + 1
        confbridge_leave = [
            ("Event", "ConfbridgeLeave"),
            ("Privilege", "call,all"),
            ("Conference", bridge.name),
            *bridge.head(count),
            *ch.snap(),
            ("Admin", "No"),
        ]
        if request_cause is None:
            self._emit(confbridge_leave)
        else:  # a seat whose partner hung up: HangupRequest, BridgeLeave, then ConfbridgeLeave
            self._ev("HangupRequest", ch, ("Cause", str(request_cause)))
        bridge.members.remove(ch)
        ch.bridge = None
        if self._wrapup is not None and ch.call is not None and ch.call.kind == "customer":
            seat = next((m for m in bridge.members if m.call and m.call.kind == "seat"), None)
            if seat is not None:
                self._at(self._wrapup(), lambda: self._wrapup_done(seat))
        self._emit(
            [
                ("Event", "BridgeLeave"),
                ("Privilege", "call,all"),
                *bridge.head(count - 1),
                *ch.snap(),
            ]
        )
        if request_cause is not None:
            self._emit(confbridge_leave)
        if not bridge.members:
            self._emit(
                [
                    ("Event", "ConfbridgeEnd"),
                    ("Privilege", "call,all"),
                    ("Conference", bridge.name),
                    *bridge.head(1),
                ]
            )
            self._emit([("Event", "BridgeDestroy"), ("Privilege", "call,all"), *bridge.head(0)])
            self._device(f"confbridge:{bridge.name}", "NOT_INUSE")
            del self.bridges[bridge.name]

    def _wrapup_done(self, seat: Channel) -> None:
        if seat.alive and seat.call is not None:
            self._ev(
                "UserEvent",
                seat,
                ("UserEvent", "AgentWrapup"),
                ("Agent", seat.call.agent),
                ("State", "done"),
                priv="user,all",
            )

    # ------------------------------------------------------------------ hangups
    def _hangup_leg(self, ch: Channel, cause: int) -> None:
        if not ch.alive:
            return
        ch.alive = False
        self._ev(
            "Hangup", ch, ("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))
        )
        self.channels.pop(ch.name, None)
        self._by_uid.pop(ch.uniqueid, None)
        self._device(ch.call.dial if ch.call else ch.name, "NOT_INUSE")

    def _moh_stop(self, ch: Channel) -> None:
        ch.on_hold = False
        self._ev("MusicOnHoldStop", ch)

    def _find(self, ident: str) -> Channel | None:
        return self.channels.get(ident) or self._by_uid.get(ident)

    def _a_hangup(self, session: int, msg: Message) -> None:
        ch = self._find(msg.get("Channel"))
        if ch is None or ch.call is None:
            self._respond(session, msg.action_id, "Error", "No such channel")
            return
        self._respond(session, msg.action_id, "Success", "Channel Hungup")
        cause_s = msg.get("Cause")
        cause = int(cause_s) if cause_s.isdigit() else 0
        self._kill(ch, cause)

    def _kill(self, ch: Channel, cause: int) -> None:
        """Hang up ``ch`` from outside (AMI Hangup); its Local partner follows."""
        call = ch.call
        assert call is not None  # noqa: S101 - every simulated channel belongs to a call
        if not call.answered and call.kind == "customer":
            self._kill_unanswered(call, ch, cause)
            return
        call.generation += 1
        other = call.two if ch is call.one else call.one
        if ch.on_hold:
            self._moh_stop(ch)
        self._leave_bridge(ch)
        self._ev("SoftHangupRequest", ch, ("Cause", "16"))
        self._hangup_leg(ch, cause)
        if other.alive:
            if other.bridge is not None:
                # a seat leg: ConfBridge ends, then its dialplan hangs up normally
                self._leave_bridge(other, request_cause=cause)
                self._ev("SoftHangupRequest", other, ("Cause", "16"))
                self._hangup_leg(other, 16)
            else:
                if other.on_hold:
                    self._moh_stop(other)
                self._ev("HangupRequest", other, ("Cause", str(cause)))
                self._ev("SoftHangupRequest", other, ("Cause", "16"))
                self._hangup_leg(other, cause)
        if not call.answered:
            self._originate_failed(call, 1)

    def _kill_unanswered(self, call: Call, ch: Channel, cause: int) -> None:
        """AMI Hangup of a call not answered yet (h3): the dial ends NOANSWER, both legs hang
        up with the given cause (0 when none), and the Originate fails with Reason 0."""
        call.generation += 1
        one, two = call.one, call.two
        if ch is one:
            self._ev_dial("DialEnd", one, ("DialStatus", "NOANSWER"))
            if two.alive:
                self._ev("HangupRequest", two, ("Cause", str(cause)))
                self._ev("SoftHangupRequest", two, ("Cause", "16"))
                self._hangup_leg(two, cause)
            self._originate_failed(call, 0)
            self._hangup_leg(one, cause)
            return
        self._ev("SoftHangupRequest", two, ("Cause", "16"))
        if one.alive:
            self._ev("HangupRequest", one, ("Cause", str(cause)))
        self._hangup_leg(two, cause)
        if one.alive:
            self._ev_dial("DialEnd", one, ("DialStatus", "NOANSWER"))
            self._hangup_leg(one, cause)
        self._originate_failed(call, 0)

    # ------------------------------------------------------------------ redirect
    def _a_redirect(self, session: int, msg: Message) -> None:
        ch = self._find(msg.get("Channel"))
        context, exten = msg.get("Context"), msg.get("Exten")
        if ch is None or ch.call is None:
            self._respond(session, msg.action_id, "Error", "No such channel")
            return
        priority_s = msg.get("Priority") or "1"
        priority = int(priority_s) if priority_s.isdigit() else 1
        if not self.dialplan.exists(context, exten, priority):
            self._respond(session, msg.action_id, "Error", "Context or extension does not exist")
            return
        self._respond(session, msg.action_id, "Success", "Redirect successful")
        call = ch.call
        call.generation += 1  # a pending AMD result is abandoned
        if ch.on_hold:
            self._moh_stop(ch)
        self._leave_bridge(ch)
        ch.context, ch.exten, ch.priority = context, exten, 1
        if context == "agent-bridge":
            self._newexten(ch, "NoOp", f"DIALER: {ch.name} joins agent {exten}")
            ch.priority = 2
            self._newexten(ch, "ConfBridge", f"agent-{exten},dialer_bridge,customer_user")
            self._join_bridge(ch, f"agent-{exten}", "customer_user")
            return
        if context == "drop":
            self._drop_steps(ch)
            return
        self._run(call, ch, priority)

    def _drop_steps(self, ch: Channel) -> None:
        """The ``drop`` context: the legal message, then hang up (Redirect or Goto)."""
        call = ch.call
        assert call is not None  # noqa: S101 - every simulated channel belongs to a call
        ch.context, ch.exten, ch.priority = "drop", "s", 1
        self._newexten(ch, "NoOp", f"DROP: safe-harbor message to {ch.name}")
        ch.priority = 2
        self._newexten(ch, "Answer", "")
        ch.priority = 3
        self._newexten(ch, "UserEvent", "SafeHarbor,State: start")
        self._ev("UserEvent", ch, ("UserEvent", "SafeHarbor"), ("State", "start"), priv="user,all")
        ch.priority = 4
        self._newexten(ch, "Playback", "queue-thankyou&vm-goodbye")
        self._later(DROP_MESSAGE_S, call, lambda: self._drop_done(ch))

    def _drop_done(self, ch: Channel) -> None:
        if not ch.alive:
            return
        ch.priority = 5
        self._newexten(ch, "UserEvent", "SafeHarbor,State: done")
        self._ev("UserEvent", ch, ("UserEvent", "SafeHarbor"), ("State", "done"), priv="user,all")
        ch.priority = 6
        self._newexten(ch, "Hangup", "16")
        call = ch.call
        assert call is not None  # noqa: S101
        call.generation += 1
        self._ev("SoftHangupRequest", ch, ("Cause", "16"))
        self._hangup_leg(ch, 16)
        two = call.two
        if two.alive:
            self._ev("HangupRequest", two, ("Cause", "16"))
            self._ev("SoftHangupRequest", two, ("Cause", "16"))
            self._hangup_leg(two, 16)

    # ------------------------------------------------------------------ lists
    def _a_core_show_channels(self, session: int, msg: Message) -> None:
        aid = msg.action_id
        self._respond(session, aid, "Success", "Channels will follow", ("EventList", "start"))
        n = 0
        for ch in list(self.channels.values()):
            secs = int(self.now - ch.created)
            head: Pairs = [("Event", "CoreShowChannel")]
            if aid:
                head.append(("ActionID", aid))
            self._emit(
                [
                    *head,
                    *ch.snap(),
                    ("Application", ch.app),
                    ("ApplicationData", ch.appdata),
                    ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                    ("BridgeId", ch.bridge.uid if ch.bridge else ""),
                ],
                session,
            )
            n += 1
        tail: Pairs = [("Event", "CoreShowChannelsComplete")]
        if aid:
            tail.append(("ActionID", aid))
        self._emit([*tail, ("EventList", "Complete"), ("ListItems", str(n))], session)

    def _list_complete(self, session: int, name: str, aid: str, items: int) -> None:
        """The event that ends an action's event list, with how many items it had."""
        self._emit(
            [
                ("Event", name),
                ("ActionID", aid),
                ("EventList", "Complete"),
                ("ListItems", str(items)),
            ],
            session,
        )

    def _a_confbridge_list(self, session: int, msg: Message) -> None:
        aid = msg.action_id
        bridge = self.bridges.get(msg.get("Conference"))
        if bridge is None:
            self._respond(session, aid, "Error", "No active conferences.")
            return
        self._respond(
            session, aid, "Success", "Confbridge user list will follow", ("EventList", "start")
        )
        for ch in bridge.members:
            flags = [(k, "No") for k in ("Admin", "MarkedUser", "WaitMarked", "EndMarked")]
            flags += [(k, "No") for k in ("EndMarkedAny", "Waiting", "Muted", "Talking")]
            self._emit(
                [
                    ("Event", "ConfbridgeList"),
                    ("ActionID", aid),
                    ("Conference", bridge.name),
                    *flags,
                    ("AnsweredTime", str(int(self.now - ch.created))),
                    *ch.snap(),
                ],
                session,
            )
        self._list_complete(session, "ConfbridgeListComplete", aid, len(bridge.members))

    def _a_confbridge_list_rooms(self, session: int, msg: Message) -> None:
        aid = msg.action_id
        if not self.bridges:
            self._respond(session, aid, "Error", "No active conferences.")
            return
        self._respond(
            session, aid, "Success", "Confbridge conferences will follow", ("EventList", "start")
        )
        for bridge in self.bridges.values():
            self._emit(
                [
                    ("Event", "ConfbridgeListRooms"),
                    ("ActionID", aid),
                    ("Conference", bridge.name),
                    ("Parties", str(len(bridge.members))),
                    ("Marked", "0"),
                    ("Locked", "No"),
                    ("Muted", "No"),
                ],
                session,
            )
        self._list_complete(session, "ConfbridgeListRoomsComplete", aid, len(self.bridges))

    def _a_status(self, session: int, msg: Message) -> None:
        aid = msg.action_id
        self._respond(session, aid, "Success", "Channel status will follow", ("EventList", "start"))
        n = 0
        for ch in self.channels.values():
            self._emit(
                [
                    ("Event", "Status"),
                    ("ActionID", aid),
                    *ch.snap(),
                    ("Application", ch.app),
                    ("Data", ch.appdata),
                    ("BridgeID", ch.bridge.uid if ch.bridge else ""),
                ],
                session,
            )
            n += 1
        self._list_complete(session, "StatusComplete", aid, n)

    # ------------------------------------------------------------------ restart
    def hangup_everything(self) -> list[Out]:
        """Every channel hangs up (cause 0) as on a restart; pending Originates fail (Reason 0)."""
        for ch in list(self.channels.values()):
            if ch.alive and ch.call is not None:
                call = ch.call
                call.generation += 1
                if ch.on_hold:
                    self._moh_stop(ch)
                self._leave_bridge(ch)
                self._ev("SoftHangupRequest", ch, ("Cause", "0"))
                self._hangup_leg(ch, 0)
                if not call.done and not call.one.alive and not call.two.alive:
                    self._originate_failed(call, 0)
        return self._flush()


def _basic(bridge: str, count: int) -> Pairs:
    """The snapshot of app_queue's two-party bridge with ``count`` channels."""
    return [
        ("BridgeUniqueid", bridge),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    ]
