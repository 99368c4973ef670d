"""PBX simulator: an asyncio TCP server speaking AMI around the pure :class:`World`.

``async with PbxSimulator(world, port=0, time_scale=60) as sim:`` listens (``sim.port``
is the bound port) and owns its clock task; world time is wall time since start times
``time_scale``. Every wall-clock value the server shows (``Timestamp``, ``EventTV``,
``Uptime``, the dialplan's ``${EPOCH}``) comes from one clock: ``wall_clock`` read once at
start, then advanced with world time; a test may set it to any date. Sessions get the
banner, must ``Login`` (``FullyBooted`` follows, and ``SuccessfulAuth`` to every
logged-in session), then see every event. As on Asterisk (transcripts h2, h6), only
responses and list items go to the session that sent the action; ``OriginateResponse``
and every channel event go to every logged-in session, including one that logged in
after the Originate was sent.

Test controls (Python API, and the ``SimControl`` AMI action for other processes):
drop every connection, delay responses (slow server), write garbage lines, restart
(every channel hangs up, ``Event: Shutdown``, sockets close).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from asterisk.protocol import AmiParser, Garbage, Message, encode
from asterisk.world import Out, World

log = structlog.get_logger("asterisk.simulator")

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


@dataclass
class SimControls:
    """Knobs tests turn to make the simulated server misbehave."""

    response_delay_s: float = 0.0  # responses to actions are written this late
    # The items of a list (CoreShowChannels, ConfbridgeList, ...) reach the client this
    # long after the list's first response, as Asterisk writes them one by one: a client
    # that takes the response for the whole list gets none of them.
    list_items_gap_s: float = 0.002
    refuse_logins: bool = False  # answer Login with an error (bad secret)
    ignore_pings: bool = False  # never answer Ping: the client must notice a dead peer


@dataclass(eq=False)
class _Session(asyncio.Protocol):
    sim: PbxSimulator
    sid: int
    transport: asyncio.Transport | None = None
    logged_in: bool = False
    events_on: bool = True
    parser: AmiParser = field(
        default_factory=lambda: AmiParser(expect_greeting=False, direction="client")
    )
    remote: str = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - TCP server
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.remote = f"{peer[0]}/{peer[1]}"
        self.sim._sessions[self.sid] = self
        transport.write(GREETING)
        log.debug("sim_session_opened", session=self.sid, remote=self.remote)

    def data_received(self, data: bytes) -> None:
        for item in self.parser.feed(data):
            if isinstance(item, Garbage):
                log.warning("sim_garbage_received", session=self.sid, reason=item.reason)
                continue
            if isinstance(item, Message):
                self.sim._on_action(self, item)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sim._sessions.pop(self.sid, None)
        log.debug("sim_session_closed", session=self.sid)

    later: list[bytes] = field(default_factory=list)
    """Bytes held back (a list's items) and everything written after them, in order."""

    def write(self, data: bytes) -> None:
        if self.later:
            self.later.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def write_after(self, delay: float, data: bytes) -> None:
        """Write ``data`` ``delay`` seconds from now; what is written meanwhile follows it."""
        self.later.append(data)
        if len(self.later) == 1:
            self.sim._later(delay, self._flush, b"")

    def _flush(self, _: bytes) -> None:
        data, self.later = b"".join(self.later), []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class PbxSimulator:
    """An AMI server over TCP with a world model, owned by ``async with``."""

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 5038,
        time_scale: float = 1.0,
        username: str | None = None,
        secret: str | None = None,
        latency_probe: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = world or World()
        self._wall_clock = wall_clock
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.username = username
        self._secret = secret
        self.controls = SimControls()
        self.received: list[tuple[int, Message]] = []  # every action, for tests
        self._sessions: dict[int, _Session] = {}
        self._sid = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._t0 = 0.0
        self._epoch0 = wall_clock()
        self._handles: set[asyncio.TimerHandle] = set()
        self.latency_probe = latency_probe
        self._answered_at: dict[str, float] = {}
        self.roundtrips: list[float] = []  # CustomerAnswered written -> Redirect read (s)

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> PbxSimulator:
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._epoch0 = self._wall_clock()
        self.world.start_epoch = int(self._epoch0)
        self.world.start_frac = self._epoch0 - int(self._epoch0)
        self._server = await loop.create_server(
            lambda: _Session(self, next(self._sid)), self.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._task = asyncio.create_task(self._clock(), name="pbx-sim-clock")
        log.info("sim_listening", host=self.host, port=self.port, time_scale=self.time_scale)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Run until cancelled (the CLI's ``pbx-sim``)."""
        await asyncio.Event().wait()

    def now(self) -> float:
        """World time: wall seconds since start times ``time_scale``."""
        return (asyncio.get_running_loop().time() - self._t0) * self.time_scale

    def epoch(self) -> float:
        """The server's wall clock (Unix seconds): the start time plus world time."""
        return self._epoch0 + self.now()

    # ------------------------------------------------------------------ controls
    def inbound_call(
        self, caller: str, *, patience_s: float, context: str = "dialer-inbound"
    ) -> str:
        """A caller from outside calls in now (see :meth:`World.inbound_call`); returns the
        Uniqueid of the queue caller's channel."""
        self._dispatch(self.world.advance(self.now()))
        uid = self.world.inbound_call(caller, patience_s=patience_s, context=context)
        self._wake.set()
        return uid

    def drop_connections(self) -> int:
        """Abort every client connection at once (no Shutdown event). Returns how many."""
        sessions = list(self._sessions.values())
        for s in sessions:
            if s.transport is not None:
                s.transport.abort()
        return len(sessions)

    def inject_garbage(self, data: bytes = b"\x00garbage \xff line\r\nnot: amiX\r\n\r\n") -> None:
        """Write bytes that are not AMI to every session."""
        for s in self._sessions.values():
            s.write(data)

    def restart(self) -> None:
        """Like ``core restart now``: channels hang up, Shutdown event, sockets close."""
        self._dispatch(self.world.hangup_everything())
        shutdown = encode(
            [
                ("Event", "Shutdown"),
                ("Privilege", "system,all"),
                ("Shutdown", "Cleanly"),
                ("Restart", "True"),
            ]
        )
        for s in list(self._sessions.values()):
            if s.logged_in and s.events_on:
                s.write(shutdown)
            if s.transport is not None:
                s.transport.close()

    @property
    def sessions(self) -> int:
        """Open client connections."""
        return len(self._sessions)

    def originate_ids(self) -> list[str]:
        """ActionIDs of every Originate received, in arrival order (duplicates kept)."""
        return [m.action_id for _, m in self.received if m.action.lower() == "originate"]

    # ------------------------------------------------------------------ protocol
    def _on_action(self, session: _Session, msg: Message) -> None:
        self.received.append((session.sid, msg))
        name = msg.action.lower()
        aid = msg.action_id
        if name == "login":
            self._login(session, msg)
            return
        if name == "logoff":
            session.write(encode(self._resp(aid, "Goodbye", "Thanks for all the fish.")))
            if session.transport is not None:
                session.transport.close()
            return
        if not session.logged_in:
            self._reply(session, self._resp(aid, "Error", "Permission denied"))
            return
        if name == "ping":
            if self.controls.ignore_pings:
                return
            pairs = [("Response", "Success"), ("ActionID", aid), ("Ping", "Pong")]
            pairs.append(("Timestamp", f"{self.epoch():.6f}"))
            self._reply(session, [p for p in pairs if p != ("ActionID", "")])
            return
        if name == "command":
            command = " ".join(msg.get("Command").split()).lower()
            if command in ("core restart now", "core stop now"):
                # as on Asterisk: the asking session gets no response and no Shutdown event
                session.events_on = False
                asyncio.get_running_loop().call_soon(self.restart)
                return
            self._reply(
                session, self._resp(aid, "Success", "Command output follows", ("Output", ""))
            )
            return
        if name == "redirect" and self.latency_probe:
            sent = self._answered_at.pop(msg.get("Channel"), None)
            if sent is not None:
                self.roundtrips.append(asyncio.get_running_loop().time() - sent)
        if name == "simcontrol":
            self._sim_control(session, msg)
            return
        self._dispatch(self.world.action(session.sid, msg, self.now()))
        self._wake.set()

    def _sim_control(self, session: _Session, msg: Message) -> None:
        op = msg.get("Op").lower()
        extra: list[tuple[str, str]] = []
        if op == "drop":
            asyncio.get_running_loop().call_soon(self.drop_connections)
        elif op == "garbage":
            self.inject_garbage()
        elif op == "slow":
            self.controls.response_delay_s = float(msg.get("Seconds") or 0)
        elif op == "restart":
            asyncio.get_running_loop().call_soon(self.restart)
        elif op == "stats":
            ms = sorted(x * 1000 for x in self.roundtrips)
            p50 = ms[len(ms) // 2] if ms else 0.0
            p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))] if ms else 0.0
            extra = [
                ("Samples", str(len(ms))),
                ("RoundtripP50Ms", f"{p50:.3f}"),
                ("RoundtripP99Ms", f"{p99:.3f}"),
                ("Originates", str(self.world.stats["originates"])),
                ("Events", str(self.world.stats["events"])),
            ]
        else:
            self._reply(session, self._resp(msg.action_id, "Error", f"unknown SimControl {op!r}"))
            return
        self._reply(session, self._resp(msg.action_id, "Success", f"SimControl {op}", *extra))

    @staticmethod
    def _resp(
        aid: str, response: str, message: str, *extra: tuple[str, str]
    ) -> list[tuple[str, str]]:
        pairs = [("Response", response)]
        if aid:
            pairs.append(("ActionID", aid))
        pairs.append(("Message", message))
        pairs.extend(extra)
        return pairs

    def _login(self, session: _Session, msg: Message) -> None:
        aid = msg.action_id
        ok = not self.controls.refuse_logins
        if self.username is not None and msg.get("Username") != self.username:
            ok = False
        if self._secret is not None and msg.get("Secret") != self._secret:
            ok = False
        if not ok:
            self._reply(session, self._resp(aid, "Error", "Authentication failed"))
            return
        session.logged_in = True
        session.events_on = msg.get("Events", "on").lower() != "off"
        self._reply(session, self._resp(aid, "Success", "Authentication accepted"))
        up = str(int(self.now()))
        when = datetime.fromtimestamp(self.epoch(), UTC)
        tv = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        session.write(
            encode(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", up),
                    ("LastReload", up),
                    ("Status", "Fully Booted"),
                ]
            )
        )
        # a security event: every logged-in session sees every login (h2)
        auth = encode(
            [
                ("Event", "SuccessfulAuth"),
                ("Privilege", "security,all"),
                ("EventTV", tv),
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", msg.get("Username")),
                ("SessionID", f"0x{id(session):x}"),
                ("LocalAddress", f"IPV4/TCP/{self.host}/{self.port}"),
                ("RemoteAddress", f"IPV4/TCP/{session.remote}"),
                ("UsingPassword", "0"),
                ("SessionTV", tv),
            ]
        )
        for other in self._sessions.values():
            if other.logged_in and other.events_on:
                other.write(auth)

    def _reply(self, session: _Session, pairs: list[tuple[str, str]]) -> None:
        data = encode(pairs)
        delay = self.controls.response_delay_s
        if delay > 0:
            self._later(delay, session.write, data)
        else:
            session.write(data)

    def _later(self, delay: float, fn: object, data: bytes) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._handles.discard(handle)
            fn(data)  # type: ignore[operator]

        handle = loop.call_later(delay, run)
        self._handles.add(handle)

    def _dispatch(self, outs: list[Out]) -> None:
        if not outs:
            return
        broadcast: list[bytes] = []
        probe = self.latency_probe
        listing: set[int] = set()  # sessions whose list items follow a "list starts" answer
        for out in outs:
            data = encode(out.pairs)
            if out.session is None:
                broadcast.append(data)
                if probe and out.pairs[0][1] == "UserEvent" and b"CustomerAnswered" in data:
                    self._answered_at[out.pairs[2][1]] = asyncio.get_running_loop().time()
                continue
            session = self._sessions.get(out.session)
            if session is None:
                continue  # the session that asked is gone: its answer is lost, as on Asterisk
            delay = self.controls.response_delay_s
            if out.session in listing:
                session.write_after(delay + self.controls.list_items_gap_s, data)
            elif delay > 0:
                self._later(delay, session.write, data)
            else:
                session.write(data)
            if ("EventList", "start") in out.pairs:
                listing.add(out.session)
        if broadcast:
            blob = b"".join(broadcast)
            for s in self._sessions.values():
                if s.logged_in and s.events_on:
                    s.write(blob)

    async def _clock(self) -> None:
        while True:
            nt = self.world.next_time()
            timeout = None if nt is None else max(0.0, (nt - self.now()) / self.time_scale)
            self._wake.clear()
            if timeout is None or timeout > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            # small batches, so that client actions (a Redirect) are read between them
            self._dispatch(self.world.advance(self.now(), max_steps=64))
            await asyncio.sleep(0)
