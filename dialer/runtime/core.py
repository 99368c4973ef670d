"""The running engine: the core wired to the database, Asterisk, MQTT and the scheduler.

``async with Runtime(settings) as runtime: await runtime.run()`` loads the campaigns that
are running in the database, reconciles what a previous run of this engine left behind,
and then, until stopped:

* reacts to every telephony event as it arrives (an answered person is connected, or
  queued, inside the AMI callback: no task switch between the event and the Redirect);
* ticks every ``engine.tick_s``: pacing profiles re-read, pacers asked, records claimed,
  calls originated (through a worker that respects each server's originate rate);
* drops waiting persons exactly at their deadline (a timer woken by every event);
* runs the scheduled jobs: lease renewal and sweep, campaign state sync, DNC parking;
* publishes live state to MQTT and takes agent and campaign commands from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import sqlalchemy as sa
import structlog
import uvicorn

from asterisk import events as ev
from asterisk.adapter import AmiAdapter
from asterisk.errors import AmiError
from asterisk.pool import AmiPool
from asterisk.protocol import Message
from campaigns import inbound as worklist
from campaigns import selection
from campaigns.db import make_engine
from campaigns.dispositions import CallDetails, record_outcome
from campaigns.enums import CampaignState, DialMode, Outcome, PreviewTimeout
from campaigns.migrate import current_revision, head_revision
from campaigns.models import Agent, CallLog, Campaign, Record
from campaigns.reports import rollup_due
from campaigns.rollups import rollup_day
from campaigns.service import campaign_hours
from campaigns.windows import WindowError
from dialer.api.app import create_app
from dialer.api.hub import EventHub, TeeSink
from dialer.config import Settings
from dialer.engine import (
    CampaignRun,
    Command,
    ConnectCall,
    Engine,
    Originate,
    PhaseChange,
    PhaseLog,
    RunState,
)
from dialer.engine.actions import agent_action
from dialer.engine.adoption import Found, FoundCall, FoundSeat, Plan, plan
from dialer.engine.calls import Call, CallPhase, Lead
from dialer.engine.clock import Clock, ScaledClock, WallClock
from dialer.errors import ROOT_ERRORS, DialerError
from dialer.runtime.claims import ClaimAhead
from dialer.runtime.cluster import Cluster, Handovers, Taken, owner_engine
from dialer.runtime.commands import CommandGate, check_seat
from dialer.runtime.inbound import InboundRecorder, Notifier, WorklistJournal
from dialer.runtime.jobs import Jobs, JobSpec
from dialer.runtime.mqtt import EventSink, MqttPublisher, NullSink, mqtt_tls
from dialer.runtime.profiles import PacerHost, ProfileWatcher
from dialer.runtime.requests import LoopSink, RequestJournal, expiry_job
from dialer.runtime.store import BackgroundJournal, SqlLeads, load_ledger
from dialer.runtime.telephony import dial_request, execute_now, refused
from pacing.accounting import AbandonmentLedger
from pacing.profile import PacingProfile, build_pacer, load_profile
from pacing.trace import TraceWriter

log = structlog.get_logger(__name__)

_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_RECORD = Record.__table__  # type: ignore[attr-defined]
_CALL_LOG = CallLog.__table__  # type: ignore[attr-defined]
_AGENT = Agent.__table__  # type: ignore[attr-defined]
_STATE = {
    CampaignState.RUNNING.value: RunState.RUNNING,
    CampaignState.PAUSED.value: RunState.PAUSED,
    CampaignState.STOPPED.value: RunState.STOPPED,
    CampaignState.DRAFT.value: RunState.STOPPED,
}


class AgentDriver(Protocol):
    """Agents driven from outside the engine's own inputs (the simulation's scripted agents
    plug in here from above: the runtime does not import the simulation)."""

    def next_time(self) -> float | None:
        """When :meth:`step` next has something to do (engine clock), or None."""

    def step(self, engine: Engine, now: float) -> list[Command]:
        """Act on the engine at ``now``; the commands to carry out."""

    def agent_phase(self, change: PhaseChange) -> None:
        """An agent changed phase (told as it happens, so that :meth:`step` need not look
        at every agent)."""


class _Phases:
    """The engine's phase changes to the journal, then to the driven agents."""

    def __init__(self, journal: PhaseLog, driver: AgentDriver) -> None:
        self.journal = journal
        self.driver = driver

    def agent_phase(self, change: PhaseChange) -> None:
        """Write the change, then tell the driver."""
        self.journal.agent_phase(change)
        self.driver.agent_phase(change)


class EngineStartError(DialerError):
    """The engine cannot start: the message says what to do."""

    error_id = "runtime"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class _HttpServer(uvicorn.Server):
    """uvicorn inside the engine's loop: signals stay with the engine (Ctrl-C stops both)."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


class EngineJournal(WorklistJournal, RequestJournal):
    """The call journal with both follow-ups of a call's facts: worklist rows (inbound
    callbacks) and callback requests. Each part calls ``super()``, so both run."""


#: Latency samples a runtime keeps of each kind (the last ones): a 90-s bench at 2,000
#: agents records about 10,000 originates per engine.
SAMPLES_KEPT = 100_000


class Runtime:
    """The engine process: ``async with Runtime(settings) as rt: await rt.run()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        time_scale: float = 1.0,
        sink: EventSink | None = None,
        sim_agents: AgentDriver | None = None,
        ready_within_s: float = 15.0,
        http: tuple[str, int] | None = None,
        samples_kept: int = SAMPLES_KEPT,
    ) -> None:
        if not settings.asterisk.servers:
            msg = "no Asterisk server is configured ([[asterisk.servers]] in the settings)"
            raise EngineStartError(msg)
        self.settings = settings
        self.clock = clock or WallClock()
        self.time_scale = time_scale
        self.sim_agents = sim_agents
        self.ready_within_s = ready_within_s
        # A frozen engine's open transaction must not hold its lease rows for longer than
        # a failover takes (PostgreSQL ends the session; SQLite: one engine).
        self.db = make_engine(
            settings.database.url, idle_in_transaction_s=settings.cluster.failover_s
        )
        engine_id = settings.engine.id
        #: This start's nonce: leases and call-log writes are fenced by engine id + nonce.
        self.nonce = secrets.token_hex(4)
        self.leads = SqlLeads(
            self.db, engine_id=engine_id, lease_s=settings.engine.lease_s, nonce=self.nonce
        )
        #: Campaign ownership shared with the other engines on this database ([cluster]).
        self.cluster = _cluster_of(settings, self.db, self.leads.owner)
        if self.cluster is not None:
            self.leads.fence = self.cluster.fence
        self._cluster_ok_t = time.monotonic()
        #: Records claimed ahead on a worker thread ([engine] claim_ahead): the tick takes
        #: them without waiting for the database on the event loop.
        self.ahead: ClaimAhead | None = None
        if settings.engine.claim_ahead:
            cluster = self.cluster
            self.ahead = ClaimAhead(
                self.leads,
                utcnow=self.clock.utcnow,
                held=None if cluster is None else lambda c: c in cluster.held,
            )
        self._loop: asyncio.AbstractEventLoop | None = None  # the engine's, once started
        #: Campaigns just taken from another engine whose calls and seats are still being
        #: read from the servers: not loaded (so not dialed, nobody logs in to them) until
        #: adopted, whatever else syncs the campaigns meanwhile.
        self._adopting: set[int] = set()
        #: Campaigns being handed to another engine (rebalancing), on the monotonic clock.
        self._handovers = Handovers(
            wait_s=settings.cluster.handover_s,
            retry_s=settings.cluster.handover_retry_s,
            steady_s=settings.cluster.rebalance_after_s,
        )
        #: Events published from worker threads (the journal's callback requests, the inbound
        #: recorder), handed to the engine's sink on its loop (bound below).
        self.thread_sink = LoopSink(NullSink())
        inner = EngineJournal(
            self.db, engine_id=engine_id, clock=self.clock, nonce=self.nonce, sink=self.thread_sink
        )
        if self.cluster is not None:
            # Call facts are fenced by the lease token held when they happened.
            inner.fence = self.cluster.owns
            inner.token_of = self.cluster.held.get
        self.journal = BackgroundJournal(inner)
        self._own_sink = sink is None and settings.mqtt.enabled
        self.mqtt: MqttPublisher | None = None
        if self._own_sink:
            mqtt = settings.mqtt
            self.mqtt = MqttPublisher(
                host=mqtt.host,
                port=mqtt.port,
                prefix=mqtt.topic_prefix,
                username=mqtt.username,
                password=mqtt.password.get_secret_value() if mqtt.password else None,
                client_id=f"dialer-{engine_id}",
                on_command=self._on_command if mqtt.commands else None,
                tls=mqtt_tls(mqtt),
                max_payload_bytes=mqtt.max_payload_bytes,
                max_depth=mqtt.max_depth,
            )
        self.sink: EventSink = sink or self.mqtt or NullSink()
        #: Where the HTTP API and pages listen (None: not served by this process).
        self.http = http
        self.hub = EventHub()
        self.http_server: uvicorn.Server | None = None
        if http is not None:
            self.sink = TeeSink((self.sink, self.hub))
        #: Inbound queue facts -> the missed-call worklist (None: inbound switched off).
        self.inbound: InboundRecorder | None = None
        if settings.inbound.enabled:
            self.inbound = InboundRecorder(
                self.db,
                settings.inbound,
                utcnow=self.clock.utcnow,
                publish=self.thread_sink.publish,
                notifier=Notifier(settings.inbound) if settings.inbound.recipients else None,
            )
        self.thread_sink.inner = self.sink
        self.pool = AmiPool(
            settings.asterisk.servers, on_event=self._on_event, on_inbound=self.inbound
        )
        self.engine = Engine(
            clock=self.clock,
            leads=self.leads if self.ahead is None else self.ahead,
            journal=self.journal,
            sink=self.sink,
            engine_id=engine_id,
            lines=sum(s.max_channels for s in settings.asterisk.servers),
            # Unique per start (two starts within a second must not reuse call ids).
            call_prefix=f"{engine_id}-{_base36(int(time.time()))}{self.nonce[:4]}",
            refused_pause_after=settings.engine.refused_pause_after,
            overload_lag_s=settings.engine.overload_lag_s,
            # Several servers: calls go where the campaign's seats are, and connect only
            # to a seat on the same server.
            seat_server=self.pool.server_of_agent if len(settings.asterisk.servers) > 1 else None,
            phases=self.journal if sim_agents is None else _Phases(self.journal, sim_agents),
            reseat_after_s=settings.asterisk.reseat_after_s,
        )
        self.profiles: ProfileWatcher[PacingProfile] = ProfileWatcher(
            Path(settings.pacing.profiles_dir), load_profile
        )
        self._profile_of: dict[int, str] = {}
        self._originates: deque[tuple[Originate, float]] = deque()
        self._originates_waiting = asyncio.Event()
        self._tick_t0 = 0.0
        self._connects = 0
        # Latency samples for the benches and ``--metrics``, the last ``samples_kept`` of
        # each (an engine runs for weeks: a tick's sample each half second would grow
        # without end).
        #: (when, seconds) from the start of a tick to each of its Originates being written.
        self.tick_to_originate: deque[tuple[float, float]] = deque(maxlen=samples_kept)
        #: (when, seconds) from an answered (or AMD-human) event in to its Redirect written.
        self.answer_to_connect: deque[tuple[float, float]] = deque(maxlen=samples_kept)
        #: (when, overloaded) at each tick: whether the campaigns dialed progressively
        #: because the loop lagged (``engine.overload_lag_s``).
        self.tick_overloaded: deque[tuple[float, bool]] = deque(maxlen=samples_kept)
        self._wake = asyncio.Event()
        self._event_seen = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stack = contextlib.AsyncExitStack()
        self.errors = 0

    # ---- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        # The call journal writes on a worker thread; a short GIL switch interval keeps that
        # thread from holding the loop (answered people, Originates) for 5 ms at a time.
        sys.setswitchinterval(0.0005)
        self._check_schema()
        self._loop = asyncio.get_running_loop()
        if self.ahead is not None:
            self.ahead.start()
        self.thread_sink.bind(self._loop)
        if self.mqtt is not None:
            await self._stack.enter_async_context(self.mqtt)
        await self._stack.enter_async_context(self.pool)
        try:
            await self.pool.wait_ready(self.ready_within_s)
        except TimeoutError:
            await self._stack.aclose()
            names = ", ".join(s.name for s in self.settings.asterisk.servers)
            msg = f"no Asterisk server answered within {self.ready_within_s:.0f} s ({names})"
            raise EngineStartError(msg) from None
        self.profiles.poll()
        if self.cluster is not None:
            await self._take_over(await self._join_cluster())
        self.sync_campaigns()
        await self.adopt_after_restart()
        jobs = Jobs(self._job_specs(), time_scale=self.time_scale)
        await self._stack.enter_async_context(jobs)
        for name, loop in (
            ("ticker", self._ticker),
            ("timer", self._timer),
            ("originator", self._originator),
        ):
            self._tasks.append(asyncio.create_task(loop(), name=f"engine-{name}"))
        if self.sim_agents is not None:
            self._tasks.append(asyncio.create_task(self._sim_agents(), name="engine-sim-agents"))
        if self.cluster is not None:
            self._tasks.append(asyncio.create_task(self._cluster_loop(), name="engine-cluster"))
        if self.http is not None:
            await self._serve_http(*self.http)
        log.info(
            "engine_started", engine=self.settings.engine.id, campaigns=len(self.engine.campaigns)
        )
        return self

    async def _serve_http(self, host: str, port: int) -> None:
        """Serve the HTTP API and pages from this process (stopped with the engine)."""
        app = create_app(self.settings, db=self.db, hub=self.hub, engine=self)
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
        )
        server = _HttpServer(config)
        self.http_server = server
        task = asyncio.create_task(server.serve(), name="engine-http")
        self._tasks.append(task)
        while not server.started:
            if task.done():
                await self._stack.aclose()
                msg = f"the HTTP API could not listen on {host}:{port}"
                raise EngineStartError(msg)
            await asyncio.sleep(0.02)
        log.info("http_started", url=f"http://{host}:{port}/")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.http_server is not None:
            self.hub.close()  # open live streams end, so the server can stop
            self.http_server.should_exit = True
        for task in self._tasks:
            if task.get_name() != "engine-http":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.ahead is not None:
            await self.ahead.close()
        await self._stack.aclose()
        for run in self.engine.campaigns.values():
            if isinstance(run.pacer, PacerHost):
                run.pacer.close()
        await asyncio.to_thread(self.journal.close)
        if self.inbound is not None:
            await asyncio.to_thread(self.inbound.close)
        self.db.dispose()
        log.info("engine_stopped", engine=self.settings.engine.id)

    async def run(
        self, stop: asyncio.Event | None = None, *, duration_s: float | None = None
    ) -> None:
        """Run until ``stop`` is set, ``duration_s`` (engine-clock seconds) passed, or cancel."""
        stop = stop or asyncio.Event()
        end = None if duration_s is None else self.clock.now() + duration_s
        while not stop.is_set():
            if end is not None and self.clock.now() >= end:
                return
            for task in self._tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await stop.wait()

    async def drain(self) -> None:
        """Graceful stop: no new calls; ringing calls settle and connected calls may finish
        for ``engine.drain_s``; what is left is hung up, wrap-ups get the default status and
        agents are logged out, so that nothing is left open when the journal is closed."""
        drain_s = self.settings.engine.drain_s
        self.engine.draining = True
        log.info("engine_draining", calls=self.engine.calls_up(), within_s=drain_s)
        await self._until_no_call_up(self._real(drain_s))
        if self.engine.calls_up():
            log.warning("drain_hanging_up", calls=self.engine.calls_up())
            self._guard("drain", self.engine.hang_up_all)
            await self._until_no_call_up(3.0)
        if self.engine.calls_up():
            log.warning("drain_calls_without_end", calls=self.engine.calls_up())
            self._guard("drain", lambda: self.engine.settle_left("engine stopped"))
        self._guard("drain", self.engine.close_agents)
        await asyncio.sleep(0.1)  # the seats' hang-ups leave before the pool closes
        if self.ahead is not None:
            await self.ahead.close()  # records claimed ahead go back before the leases
        await self._leave_cluster()
        log.info("engine_drained")

    async def _until_no_call_up(self, within_s: float) -> None:
        """Wait (woken by every telephony event) until no call is up, or ``within_s``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                while self.engine.calls_up():
                    self._event_seen.clear()
                    await self._event_seen.wait()

    def _check_schema(self) -> None:
        try:
            current = current_revision(self.db)
        except sa.exc.SQLAlchemyError as exc:
            msg = f"database {self.settings.database.safe_url()}: {exc.__class__.__name__}"
            raise EngineStartError(msg) from exc
        if current != head_revision():
            msg = (
                f"database {self.settings.database.safe_url()} is at revision {current}, "
                f"the engine needs {head_revision()}: run `dialer db upgrade`"
            )
            raise EngineStartError(msg)

    # ---- carrying out commands ----------------------------------------------------------

    def _guard(self, what: str, fn: Callable[[], list[Command]]) -> None:
        """Run an engine step and carry out its commands; an error is logged, never fatal."""
        self._check_lapses()
        try:
            commands = fn()
        except DialerError as exc:
            self.errors += 1
            log.warning("engine_step_refused", step=what, error=str(exc))
            return
        except Exception:
            self.errors += 1
            log.exception("engine_step_failed", step=what)
            return
        self._execute(commands)
        try:
            self.journal.flush()
        except Exception:
            self.errors += 1
            log.exception("call_log_write_failed", step=what)
        if self.engine.self_paused:
            self._persist_self_pauses()

    def _persist_self_pauses(self) -> None:
        """Write the campaigns the engine paused by itself as paused in the database, so
        that neither the campaign sync nor a restart resumes them; retried until written."""
        pending, self.engine.self_paused = self.engine.self_paused, []
        for campaign_id, reason in pending:
            try:
                with self.db.begin() as conn:
                    conn.execute(
                        sa.update(_CAMPAIGN)
                        .where(
                            _CAMPAIGN.c.id == campaign_id,
                            _CAMPAIGN.c.state == CampaignState.RUNNING.value,
                        )
                        .values(state=CampaignState.PAUSED.value, paused_reason=reason[:500])
                    )
            except sa.exc.SQLAlchemyError as exc:
                log.warning("campaign_pause_not_written", campaign=campaign_id, error=str(exc))
                self.engine.self_paused.append((campaign_id, reason))
            else:
                log.info("campaign_pause_written", campaign=campaign_id, reason=reason)

    def _execute(self, commands: Iterable[Command]) -> None:
        commands = list(commands)
        if not commands:
            return
        failures: list[ev.LifecycleEvent] = []
        for cmd in commands:
            if isinstance(cmd, Originate):
                failures.extend(self._originate(cmd))
            elif isinstance(cmd, ConnectCall):
                self._connects += 1
        failures += execute_now(self.pool, commands, originate=False)  # type: ignore[arg-type]
        for failure in failures:
            self._on_event(failure)

    def _on_event(self, event: ev.LifecycleEvent) -> None:
        # The clock starts when the event's bytes arrived, not when its turn came.
        started, connects = self._rx_time(event), self._connects
        self._guard(type(event).__name__, lambda: self.engine.on_event(event))
        self._event_seen.set()
        if isinstance(event, ev.CallAnswered | ev.CallMachine):
            self._wake.set()  # a person may now wait: the drop timer must look again
            if self._connects > connects:
                latency = time.perf_counter() - started
                self.answer_to_connect.append((started, latency))
                self.engine.report_lag("answer-to-connect", latency)

    def _originate(self, cmd: Originate) -> list[ev.LifecycleEvent]:
        """Queue the call and send what the servers' rates allow right now."""
        self._originates.append((cmd, self._tick_t0))
        failures = self._send_originates()
        if self._originates:
            self._originates_waiting.set()
        return failures

    def _send_originates(self) -> list[ev.LifecycleEvent]:
        """Send queued Originates in order while a rate slot is free; refused ones become
        failed calls for the engine."""
        failures: list[ev.LifecycleEvent] = []
        self._check_lapses()
        while self._originates:
            cmd, tick_t0 = self._originates[0]
            try:
                sent = self.pool.originate_nowait(dial_request(cmd))
            except AmiError as exc:
                self._originates.popleft()
                log.warning("originate_refused", call_id=cmd.call_id, error=str(exc))
                failures.append(refused(cmd.call_id, exc))
                continue
            if sent is None:
                break
            self._originates.popleft()
            if tick_t0:
                self.tick_to_originate.append((tick_t0, time.perf_counter() - tick_t0))
        return failures

    def _rx_time(self, event: ev.LifecycleEvent) -> float:
        server = getattr(event, "server", "")
        for adapter in self.pool.adapters:
            if adapter.name == server and adapter.rx_t:
                return adapter.rx_t
        return time.perf_counter()

    async def _originator(self) -> None:
        """Sends the Originates that had to wait for a rate slot."""
        while True:
            if not self._originates:
                self._originates_waiting.clear()
                await self._originates_waiting.wait()
                continue
            for failure in self._send_originates():
                self._on_event(failure)
            if self._originates:
                await asyncio.sleep(0.002)

    async def _ticker(self) -> None:
        tick = self.settings.engine.tick_s
        due = time.perf_counter()
        while True:
            self._apply_profile_changes()
            self._tick_t0 = time.perf_counter()
            # How late this tick is against its schedule (the loop was busy elsewhere).
            self.engine.report_lag("tick lateness", self._tick_t0 - due)
            self._guard("tick", self.engine.tick)
            self.tick_overloaded.append((self._tick_t0, self.engine.overloaded is not None))
            if self.ahead is not None:
                self.ahead.expire()
            self._tick_t0 = 0.0
            due = time.perf_counter() + self._real(tick)
            await asyncio.sleep(self._real(tick))

    async def _timer(self) -> None:
        while True:
            deadline = self.engine.next_deadline()
            # At most a second: wrap-up time-outs need no wake-up of their own.
            timeout = 1.0
            if deadline is not None:
                timeout = min(timeout, max(0.0, self._real(deadline - self.clock.now())))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            deadline = self.engine.next_deadline()
            if deadline is not None and deadline <= self.clock.now():
                self._guard("timer", self.engine.on_timer)

    async def _sim_agents(self) -> None:
        sim = self.sim_agents
        if sim is None:
            return
        while True:
            self._guard("sim_agents", lambda: sim.step(self.engine, self.clock.now()))
            due = sim.next_time()
            timeout = 0.05  # notices a new wrap-up within 50 ms
            if due is not None:
                # Acts up to 10 ms (engine clock) late: hundreds of agents have something
                # due every few ms, and a wake-up for each took a fifth of the loop.
                timeout = min(timeout, self._real(max(0.01, due - self.clock.now())))
            await asyncio.sleep(timeout)

    def _real(self, seconds: float) -> float:
        return max(0.0, seconds) / self.time_scale

    # ---- campaigns and profiles ---------------------------------------------------------

    def sync_campaigns(self) -> None:
        """Load campaigns that are running or paused in the database; follow state changes."""
        if self.engine.self_paused:
            self._persist_self_pauses()
        unwritten = {campaign_id for campaign_id, _ in self.engine.self_paused}
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(_CAMPAIGN)).all()
        held = None if self.cluster is None else set(self.cluster.held)
        for row in rows:
            state = _STATE.get(row.state, RunState.STOPPED)
            run = self.engine.campaigns.get(row.id)
            if run is None:
                if (
                    state is RunState.STOPPED
                    or (held is not None and row.id not in held)
                    or row.id in self._adopting
                ):
                    continue
                try:
                    profile = self.profiles.get(row.pacing_profile)
                except DialerError as exc:
                    log.error("campaign_not_loaded", campaign=row.id, error=str(exc))
                    continue
                pacer = build_pacer(profile)
                trace = self._pacer_trace(row.id)
                self._seed_ledger(row.id, pacer, row.hours_tz, trace=trace)
                run = CampaignRun(
                    campaign_id=row.id,
                    name=row.name,
                    pacer=PacerHost(pacer, trace=trace),
                    max_wait_s=row.max_wait_s,
                    wrapup_timeout_s=float(row.wrapup_timeout_s),
                    amd=any(s.amd for s in self.settings.asterisk.servers),
                    caller_id=row.caller_id,
                )
                self.engine.add_campaign(run)
                self._profile_of[row.id] = row.pacing_profile
                log.info(
                    "campaign_loaded", campaign=row.id, name=row.name, profile=row.pacing_profile
                )
            run.dial_mode = DialMode(row.dial_mode or DialMode.PREDICTIVE.value)
            run.preview_timeout_s = float(row.preview_timeout_s or 0)
            run.preview_timeout_action = PreviewTimeout(row.preview_timeout_action or "skip")
            try:
                run.hours = campaign_hours(row.hours_start, row.hours_end, row.hours_days)
                run.hours_tz = row.hours_tz
            except WindowError as exc:
                log.error("campaign_hours_invalid", campaign=row.id, error=str(exc))
            if run.state is not state and row.id not in unwritten:
                self._execute(self.engine.set_state(row.id, state))
            if row.id not in unwritten and state is RunState.PAUSED:
                # the reason a previous start (or another engine) paused it, until a person
                # changes its state (which clears it)
                run.paused_reason = row.paused_reason

    def _pacer_trace(self, campaign_id: int) -> TraceWriter | None:
        """The campaign's pacer trace file, when ``[pacing] trace_dir`` is set."""
        path = self.settings.pacing.trace_path(self.settings.engine.id, campaign_id)
        return None if path is None else TraceWriter(path)

    def _seed_ledger(
        self,
        campaign_id: int,
        pacer: object,
        tz: str,
        *,
        before_t: float | None = None,
        trace: TraceWriter | None = None,
    ) -> None:
        """Start a pacer's abandonment ledger from the call log (every engine's connects
        and drops of the last 30 days, "today" in the campaign's zone), so that its guard
        protects the windows the dashboard shows, across restarts (``before_t``: only the
        facts before it, see :func:`load_ledger`)."""
        ledger = getattr(pacer, "ledger", None)
        if not isinstance(ledger, AbandonmentLedger):
            return
        try:
            facts = load_ledger(
                ledger,
                self.db,
                campaign_id,
                clock=self.clock,
                tz=tz,
                before_t=before_t,
                trace=trace,
            )
        except sa.exc.SQLAlchemyError as exc:
            log.error("abandonment_ledger_not_loaded", campaign=campaign_id, error=str(exc))
            return
        except ROOT_ERRORS as exc:
            log.error("abandonment_ledger_not_loaded", campaign=campaign_id, error=str(exc))
            return
        log.info("abandonment_ledger_loaded", campaign=campaign_id, facts=facts)

    def _apply_profile_changes(self) -> None:
        for change in self.profiles.poll():
            if change.profile is None:
                continue
            for campaign_id, name in self._profile_of.items():
                run = self.engine.campaigns.get(campaign_id)
                if name == change.name and run is not None and isinstance(run.pacer, PacerHost):
                    # The new pacer's ledger starts from the call log up to the first event
                    # the host remembers, the rest comes with the events it replays: without
                    # it, the drops before this engine's start were forgotten at a reload.
                    pacer = build_pacer(change.profile)
                    host = run.pacer
                    self._seed_ledger(
                        campaign_id,
                        pacer,
                        run.hours_tz,
                        before_t=host.first_event_t,
                    )
                    host.swap(pacer)
                    log.info("pacing_profile_applied", campaign=campaign_id, profile=name)

    # ---- crash safety -------------------------------------------------------------------

    async def adopt_after_restart(self) -> int:
        """Take over what earlier starts of this engine left: conversations still going on
        are re-attached to their agents and calls, people on hold are connected or dropped,
        ringing calls and legs of calls nobody knows are hung up (only those), the rows of
        calls that ended meanwhile are closed from their facts, and leases of records never
        dialed are given back. Returns how many calls were adopted.

        In a cluster only the campaigns this engine holds are adopted (another engine takes
        the others, with their calls), and idle seats are left to the owners of their
        campaigns (:meth:`_take_over` adopts those of the campaigns taken)."""
        engine_id = self.settings.engine.id
        if self.cluster is not None:
            return 0  # done per campaign taken, by _take_over
        return await self._adopt(engine_id, campaigns=None, seats=None)

    async def _take_over(self, taken: Sequence[Taken]) -> int:
        """Load and adopt campaigns this engine just took from another engine (or from an
        earlier start of its own): their live calls as a restart does, for those campaigns
        only; the seats their previous owner reported are adopted idle (agents logged in
        and ready), so the agents follow their campaign. What the servers have is read
        first; the campaigns are loaded and adopted after it in one step, so that no agent
        logs in to them in between."""
        renewing = None
        if self.cluster is not None and taken:
            renewing = asyncio.create_task(self._renew_while_adopting(taken))
        ids = {item.campaign_id for item in taken}
        self._adopting |= ids
        try:
            return await self._take_over_now(taken)
        finally:
            self._adopting -= ids
            if renewing is not None:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)

    async def _renew_while_adopting(self, taken: Sequence[Taken]) -> None:
        """Adopting reads every server (slow on a loaded machine): the leases held, and
        those just taken with the seats their previous owner reported, are renewed every
        failover_s / 3 meanwhile, so that they do not lapse while being adopted."""
        cluster = self.cluster
        if cluster is None:
            return
        while True:
            await asyncio.sleep(cluster.failover_s / 3)
            seats = self._seats_held(cluster)
            for item in taken:
                if item.campaign_id in seats and not seats[item.campaign_id]:
                    seats[item.campaign_id] = list(item.seats)
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                await asyncio.to_thread(cluster.renew, seats)

    async def _take_over_now(self, taken: Sequence[Taken]) -> int:
        by_engine: dict[str, dict[int, tuple[str, ...]]] = {}
        live: set[str] = set()
        for item in taken:
            if item.previous is None:
                continue
            engine_id = owner_engine(item.previous)
            by_engine.setdefault(engine_id, {})[item.campaign_id] = item.seats
            if item.previous_live:
                live.add(engine_id)
        found: list[_Found] = []
        for engine_id, campaigns in sorted(by_engine.items()):
            seats = {seat: c for c, names in campaigns.items() for seat in names}
            found.append(
                await self._gather(
                    engine_id,
                    campaigns=set(campaigns),
                    seats=seats,
                    only_known=engine_id in live,
                )
            )
        self._adopting -= {item.campaign_id for item in taken}
        self.sync_campaigns()
        adopted = sum(self._apply(item) for item in found)
        await self._wait_gone({channel for item in found for _, channel in item.hangups})
        return adopted

    async def _adopt(
        self,
        engine_id: str,
        *,
        campaigns: set[int] | None,
        seats: Mapping[str, int] | None,
    ) -> int:
        """Adopt what engine ``engine_id`` (this one's earlier starts, or another engine)
        left on the servers: for ``campaigns`` (None: all), adopting idle ``seats``
        (seat → campaign; None: idle seats are hung up, as after a restart)."""
        found = await self._gather(engine_id, campaigns=campaigns, seats=seats)
        adopted = self._apply(found)
        await self._wait_gone({channel for _, channel in found.hangups})
        return adopted

    async def _gather(
        self,
        engine_id: str,
        *,
        campaigns: set[int] | None,
        seats: Mapping[str, int] | None,
        only_known: bool = False,
    ) -> _Found:
        """Read the open calls ``engine_id`` left and what the servers still have of them.
        ``only_known``: that engine still runs (other campaigns): of its legs only those
        of the taken campaigns' open calls are hung up, never one no row knows yet."""
        prefix = f"{engine_id}-"
        with self.db.connect() as conn:
            known_rows = {
                str(row.channel_id): row
                for row in conn.execute(
                    sa.select(
                        _CALL_LOG,
                        _RECORD.c.name,
                        _RECORD.c.fields,
                        _RECORD.c.system_status.label("record_status"),
                        _RECORD.c.owner_agent_id,
                        _RECORD.c.lease_owner,
                    )
                    .join(_RECORD, _RECORD.c.id == _CALL_LOG.c.record_id)
                    .where(
                        _CALL_LOG.c.end_at.is_(None),
                        sa.or_(
                            _CALL_LOG.c.channel_id.like(f"{prefix}%"),
                            # calls that engine adopted from another (their records' leases
                            # are its own; their ids carry the other engine's prefix)
                            _RECORD.c.lease_owner.like(f"{engine_id}/%"),
                        ),
                    )
                )
            }
        found = _Found(engine_id, campaigns, dict(seats) if seats is not None else None)
        found.rows = {
            call_id: row
            for call_id, row in known_rows.items()
            if campaigns is None or int(row.campaign_id) in campaigns
        }
        found.earlier = await asyncio.to_thread(self._earlier_leases, engine_id, campaigns)
        for adapter in self.pool.adapters:
            # Every open call of that engine is known to the plan (legs of calls of
            # campaigns others take are not "unknown"); only ours are acted on.
            plan_ = await self._live_plan(adapter, set(known_rows), prefix)
            found.calls.extend(c for c in plan_.calls if c.call_id in found.rows)
            found.live_seats.update({(s.server, s.seat): s for s in plan_.seats})
            others = {c.channel for c in plan_.calls if c.call_id not in found.rows}
            idle_channels = {s.channel for s in plan_.idle}
            ours = {c.channel for c in plan_.calls if c.call_id in found.rows}
            found.hangups.extend(
                h
                for h in plan_.hangups
                if h[1] not in others
                and (seats is None or h[1] not in idle_channels)
                and (not only_known or h[1] in ours)
            )
            if seats is not None:
                found.idle.extend(s for s in plan_.idle if s.seat in seats)
        return found

    def _apply(self, found: _Found) -> int:
        """Adopt what :meth:`_gather` found (no await inside: nothing else runs between)."""
        now = self.clock.utcnow()
        rows, calls = found.rows, found.calls
        adopted: list[int] = []
        ended: set[str] = set()
        for item in calls:
            row = rows[item.call_id]
            if item.where is Found.RINGING:
                self._close_row(row, Outcome.CANCELLED, now, "engine restarted while ringing")
                ended.add(item.call_id)
            elif self._adopt_call(row, item, found.live_seats.get((item.server, item.seat or ""))):
                adopted.append(int(row.record_id))
                ended.add(item.call_id)
        seen = {c.call_id for c in calls}
        for call_id, row in rows.items():
            if call_id not in ended and call_id not in seen:
                self._close_row(row, _outcome_of(row), now, "engine restarted")
        if adopted:
            self.leads.adopt(adopted, now, engine_id=found.engine_id)
        dialed = {int(row.record_id) for row in rows.values()}
        released = [r for r in found.earlier if r not in dialed]
        self._release_undialed(released)
        for where in found.hangups:
            self._hangup_channel(where)
        agents = sum(self._adopt_seat(seat, (found.seats or {})[seat.seat]) for seat in found.idle)
        if rows or found.hangups or found.earlier or found.idle:
            log.warning(
                "adopted_after_restart"
                if found.engine_id == self.settings.engine.id
                else "adopted_campaigns",
                previous=found.engine_id,
                campaigns=sorted(found.campaigns or ()),
                open_calls=len(rows),
                adopted=len(adopted),
                agents=agents,
                hung_up=len(found.hangups),
                released=len(released),
            )
        return len(adopted)

    def _earlier_leases(self, engine_id: str, campaigns: set[int] | None) -> list[int]:
        """Records leased by ``engine_id``'s other starts (in ``campaigns``, if given)."""
        if campaigns is None and engine_id == self.settings.engine.id:
            return self.leads.earlier_leases()
        query = sa.select(_RECORD.c.id).where(
            _RECORD.c.lease_owner.like(f"{engine_id}/%"), _RECORD.c.lease_owner != self.leads.owner
        )
        if campaigns is not None:
            query = query.where(_RECORD.c.campaign_id.in_(sorted(campaigns)))
        with self.db.connect() as conn:
            return sorted(int(r[0]) for r in conn.execute(query))

    def _adopt_seat(self, seat: FoundSeat, campaign_id: int) -> int:
        """Adopt an idle agent seat of a campaign taken over: 1 when its agent is logged
        in and ready here, 0 when it is hung up instead (no such agent, or already here)."""
        agent_id = self._agent_of_seat(seat.seat)
        here = None if agent_id is None else self.engine.agents.get(agent_id)
        if (
            agent_id is None
            or campaign_id not in self.engine.campaigns
            or (here is not None and here.state.phase.value != "logged_out")
        ):
            # No such agent, or it has a seat here already: this one is left over.
            self._hangup_channel((seat.server, seat.channel))
            return 0
        try:
            self.pool.adopt_seat(
                seat.seat, server=seat.server, uniqueid=seat.uniqueid, members=set(seat.members)
            )
        except AmiError as exc:
            log.warning("seat_not_adopted", seat=seat.seat, error=str(exc))
            return 0
        self._guard("adopt_seat", lambda: self.engine.adopt_agent(agent_id, seat.seat, campaign_id))
        here = self.engine.agents.get(agent_id)
        return int(here is not None and here.seat == seat.seat)

    # ---- the cluster --------------------------------------------------------------------

    async def _join_cluster(self) -> list[Taken]:
        """Announce this engine, give the others ``settle_s`` to announce themselves, then
        take the campaigns the sharing rule gives it."""
        cluster = self.cluster
        if cluster is None:
            return []
        try:
            await asyncio.to_thread(cluster.step, {})
            await asyncio.sleep(cluster.settle_s)
            changes = await asyncio.to_thread(cluster.step, {})
        except sa.exc.SQLAlchemyError as exc:
            msg = f"database {self.settings.database.safe_url()}: {exc.__class__.__name__}"
            raise EngineStartError(msg) from exc
        self._cluster_ok_t = time.monotonic()
        log.info("cluster_joined", owner=cluster.owner, campaigns=sorted(cluster.held))
        return changes.taken

    async def _cluster_loop(self) -> None:
        """Every ``failover_s / 3``: heartbeat, renew, take what the rule gives; follow
        what was lost (fenced: another engine owns it now) and what was taken."""
        cluster = self.cluster
        if cluster is None:
            return
        # Each round starts failover_s / 3 after the previous one started (a long round,
        # e.g. one adopting calls, does not push the next renewal later).
        next_t = time.monotonic() + cluster.failover_s / 3
        while True:
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            next_t = time.monotonic() + cluster.failover_s / 3
            await self.cluster_round()

    async def cluster_round(self) -> None:
        """One round of the cluster loop (tests call it to skip the wait)."""
        cluster = self.cluster
        if cluster is None:
            return
        seats = self._seats_held(cluster)
        try:
            # While draining the leases are kept (the calls up are still this engine's)
            # and nothing new is taken.
            stats = {c: self.engine.stats(c) for c in cluster.held if c in self.engine.campaigns}
            changes = await asyncio.to_thread(
                cluster.step, seats, not self.engine.draining, stats=stats
            )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("cluster_round_failed", error=str(exc).splitlines()[0])
            if time.monotonic() - self._cluster_ok_t > cluster.failover_s:
                for campaign_id in list(cluster.held):
                    del cluster.held[campaign_id]
                for campaign_id in list(self.engine.campaigns):
                    self._lose_campaign(campaign_id)
            return
        self._cluster_ok_t = time.monotonic()
        for campaign_id in changes.lost:
            self._lose_campaign(campaign_id)
        if changes.taken:
            started = time.monotonic()
            await self._take_over(changes.taken)
            if time.monotonic() - started > cluster.failover_s / 6:
                # Adopting took a while: renew now rather than let the leases lapse.
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    held_seats = self._seats_held(cluster)
                    for campaign_id in await asyncio.to_thread(cluster.renew, held_seats):
                        self._lose_campaign(campaign_id)
        self._hand_over(changes.hand_over if self.settings.cluster.rebalance else None)

    def _seats_held(self, cluster: Cluster) -> dict[int, list[str]]:
        """The seats of the agents logged in, per campaign held."""
        return {
            c: [
                a.seat
                for a in self.engine.agents.values()
                if a.campaign_id == c and a.state.phase.value != "logged_out"
            ]
            for c in cluster.held
        }

    def _hand_over(self, proposed: int | None) -> None:
        """Rebalancing: a campaign the rule moves to a less loaded engine stops placing
        calls; once quiet (its calls ended, its agents idle) its lease is released with its
        agents' seats, so that engine takes it and adopts the agents in its next round
        (nothing is hung up or dropped). Not quiet within ``cluster.handover_s``: it dials
        on, and the next proposal waits (:class:`~dialer.runtime.cluster.Handovers`)."""
        cluster = self.cluster
        if cluster is None:
            return
        now = time.monotonic()
        handovers = self._handovers
        if proposed not in self.engine.campaigns or self.engine.draining:
            proposed = None
        if handovers.start(proposed, now) and proposed is not None:
            self.engine.campaigns[proposed].handing_over = True
            log.info("campaign_handover_started", campaign=proposed)
        for campaign_id in list(handovers.pending):
            run = self.engine.campaigns.get(campaign_id)
            if run is None or campaign_id not in cluster.held:
                handovers.forget(campaign_id)
                continue
            if (
                self.engine.campaign_quiet(campaign_id)
                and not self._queued_for(campaign_id)
                and not self.journal.facts_queued(campaign_id)
            ):
                # On the loop, with nothing awaited in between: nothing can start meanwhile.
                try:
                    cluster.hand_over(campaign_id, self._seats_held(cluster).get(campaign_id, []))
                except sa.exc.SQLAlchemyError as exc:
                    log.warning("campaign_handover_failed", campaign=campaign_id, error=str(exc))
                    continue
                handovers.done(campaign_id)
                self._lose_campaign(campaign_id)
                log.info("campaign_handed_over", campaign=campaign_id)
            elif handovers.overdue(campaign_id, now):
                run.handing_over = False
                retry_in_s = handovers.give_up(campaign_id, now)
                log.warning(
                    "campaign_handover_abandoned",
                    campaign=campaign_id,
                    retry_in_s=retry_in_s,
                    calls_up=sorted(
                        f"{c.call_id}:{c.phase.value}"
                        for c in self.engine.calls.values()
                        if c.campaign_id == campaign_id and c.up
                    ),
                    agents_busy=sorted(
                        a.state.phase.value
                        for a in self.engine.agents.values()
                        if a.campaign_id == campaign_id
                        and a.state.phase.value in {"reserved", "talking", "wrap_up"}
                    ),
                    facts_queued=self.journal.facts_queued(campaign_id),
                )

    def _queued_for(self, campaign_id: int) -> bool:
        """Originates of the campaign still waiting for a rate slot."""
        return any(cmd.campaign_id == campaign_id for cmd, _ in self._originates)

    def _live_record_ids(self) -> list[int]:
        """Records of the calls up (their leases are renewed), after giving up the
        campaigns whose lease may have run out (their calls are no longer this engine's)."""
        self._check_lapses()
        return self.engine.live_record_ids()

    def _check_lapses(self) -> None:
        """Give up at once the campaigns whose lease may have run out (this engine stalled
        or could not renew): before it acts on any event, tick or Originate of theirs."""
        cluster = self.cluster
        if cluster is None:
            return
        for campaign_id in cluster.lapsed():
            self._lose_campaign(campaign_id)
        for campaign_id in [c for c in self.engine.campaigns if c not in cluster.held]:
            self._lose_campaign(campaign_id)  # its lease was lost (e.g. in a renewal)

    def _lose_campaign(self, campaign_id: int) -> None:
        """Another engine owns the campaign now (or will: its lease ran out): stop dialing
        it and forget its calls and agents; the new owner adopts them on Asterisk.
        Originates still waiting for a rate slot are not sent; their records are given
        back (the new owner closes their call-log rows, found with no channel)."""
        waiting = [cmd for cmd, _ in self._originates if cmd.campaign_id == campaign_id]
        if waiting:
            self._originates = deque(
                item for item in self._originates if item[0].campaign_id != campaign_id
            )
            records = [
                call.lead.record_id
                for cmd in waiting
                if (call := self.engine.calls.get(cmd.call_id)) is not None
            ]
            log.warning("originates_dropped", campaign=campaign_id, calls=len(waiting))
            try:
                self.leads.release(records)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("records_not_released", records=records, error=str(exc))
        if self.ahead is not None:
            self.ahead.forget(campaign_id)
        run = self.engine.campaigns.get(campaign_id)
        if run is None:
            return
        if isinstance(run.pacer, PacerHost):
            run.pacer.close()
        self.engine.remove_campaign(campaign_id)
        self._profile_of.pop(campaign_id, None)

    async def _leave_cluster(self) -> None:
        """Graceful stop: give the leases back so that the others take the campaigns in
        their next round."""
        if self.cluster is None:
            return
        # The facts of the calls ended in the drain are written while the leases (and
        # so their fence) are still this engine's, renewed meanwhile.
        if not await asyncio.to_thread(self.journal.wait_idle, 30.0):
            log.warning("cluster_leave_journal_busy", writes=self.journal.pending)
        for task in self._tasks:
            if task.get_name() == "engine-cluster":
                task.cancel()
        try:
            await asyncio.to_thread(self.cluster.leave)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("cluster_leave_failed", error=str(exc).splitlines()[0])

    async def _live_plan(self, adapter: AmiAdapter, known: set[str], prefix: str) -> Plan:
        """What one connected server still has, sorted against the open calls."""
        if not adapter.connected:
            return Plan()
        s = adapter.settings
        try:
            channels = await adapter.live_channels()
            rooms = await adapter.confbridge_rooms()
            members: list[Message] = []
            for room in rooms:
                name = room.get("Conference")
                if name.startswith(s.seat_conference_prefix):
                    members.extend(await adapter.confbridge_list(name))
        except (AmiError, TimeoutError) as exc:
            log.warning("live_channels_unavailable", server=adapter.name, error=str(exc))
            return Plan()
        return plan(
            known,
            {adapter.name: channels},
            {adapter.name: members},
            own_prefix=prefix,
            seat_prefix=s.seat_conference_prefix,
            holding_context=s.answered_context,
            bridge_context=s.agent_bridge_context,
            drop_context=s.drop_context,
        )

    def _adopt_call(self, row: Any, item: FoundCall, seat: FoundSeat | None) -> bool:
        """Re-attach one live call to the engine and the pool; False when it cannot be."""
        phase = {
            Found.TALKING: CallPhase.TALKING,
            Found.WAITING: CallPhase.WAITING,
            Found.DROPPING: CallPhase.DROPPED,
        }[item.where]
        agent_id = None
        if phase is CallPhase.TALKING:
            agent_id = self._agent_of_seat(item.seat or "")
            if agent_id is None or seat is None:
                log.warning("adopt_no_agent", call_id=item.call_id, seat=item.seat)
                return False
        if row.campaign_id not in self.engine.campaigns:
            log.warning(
                "adopt_campaign_not_running", call_id=item.call_id, campaign=row.campaign_id
            )
            return False
        lead = Lead(
            record_id=int(row.record_id),
            campaign_id=int(row.campaign_id),
            phone=str(row.phone),
            name=str(row.name or ""),
            fields=dict(row.fields or {}),
            system_status=str(row.record_status),
            owner_agent_id=row.owner_agent_id,
            attempt=int(row.attempt),
        )
        call = Call(
            call_id=item.call_id,
            index=0,
            campaign_id=int(row.campaign_id),
            lead=lead,
            reserved_agent=None,
            dial_t=0.0,
            dial_at=_aware(row.dial_at),
            phase=phase,
            answer_at=_aware(row.answer_at) if row.answer_at else None,
            connect_at=_aware(row.connect_at) if row.connect_at else None,
            drop_at=_aware(row.drop_at) if row.drop_at else None,
            agent_id=agent_id,
            amd_status=row.amd_result,
            amd_cause=row.amd_cause,
            server=item.server,
        )
        self.pool.adopt_call(
            item.call_id,
            server=item.server,
            channel_id=item.channel_id,
            channel=item.channel,
            agent=item.seat if phase is CallPhase.TALKING else None,
        )
        if seat is not None and phase is CallPhase.TALKING:
            self.pool.adopt_seat(
                seat.seat, server=seat.server, uniqueid=seat.uniqueid, members=set(seat.members)
            )
        self._guard("adopt", lambda: self.engine.adopt(call, seat=item.seat))
        return True

    def _agent_of_seat(self, seat: str) -> int | None:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(_AGENT.c.id).where(
                    sa.or_(_AGENT.c.extension == seat, _AGENT.c.login == seat)
                )
            ).first()
        return None if row is None else int(row[0])

    def _close_row(self, row: Any, outcome: Outcome, now: dt.datetime, why: str) -> None:
        """Close a row of an earlier start whose call is over, with what its facts say."""
        record_outcome(
            self.db,
            int(row.record_id),
            outcome,
            now=now,
            call=closing_details(row, outcome, now, why, max_wait_s=self._max_wait_of(row)),
            call_log_id=int(row.id),
            lease_owner=row.lease_owner,
        )

    def _max_wait_of(self, row: Any) -> float:
        run = self.engine.campaigns.get(int(row.campaign_id))
        return float(run.max_wait_s) if run is not None else 2.0

    def _release_undialed(self, record_ids: list[int]) -> None:
        """Give back records an earlier start claimed and never dialed."""
        if not record_ids:
            return
        with self.db.connect() as conn:
            owners = conn.execute(
                sa.select(_RECORD.c.id, _RECORD.c.lease_owner).where(_RECORD.c.id.in_(record_ids))
            ).all()
        for record_id, owner in owners:
            if owner:
                selection.release(self.db, [int(record_id)], engine_id=str(owner))

    async def _wait_gone(self, channels: set[str], within_s: float = 5.0) -> None:
        """Wait until the channels hung up at start are gone (their hang-up events must not
        reach the agents and calls of this run)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while channels and loop.time() < deadline:
            await asyncio.sleep(0.1)
            channels &= {channel for _, channel in (await self._live_channels()).values()}
        if channels:
            log.warning("restart_channels_still_up", channels=len(channels))

    async def _live_channels(self) -> dict[str, tuple[str, str]]:
        """Uniqueid → (server, channel) of every live channel on every connected server."""
        found: dict[str, tuple[str, str]] = {}
        for adapter in self.pool.adapters:
            if not adapter.connected:
                continue
            try:
                items = await adapter.live_channels()
            except (AmiError, TimeoutError) as exc:
                log.warning("live_channels_unavailable", server=adapter.name, error=str(exc))
                continue
            for item in items:
                found[item.get("Uniqueid")] = (adapter.name, item.get("Channel"))
        return found

    def _hangup_channel(self, where: tuple[str, str]) -> None:
        server, channel = where
        for adapter in self.pool.adapters:
            if adapter.name == server:
                with contextlib.suppress(AmiError):
                    adapter.hangup_channel(channel)

    # ---- jobs ---------------------------------------------------------------------------

    def _job_specs(self) -> list[JobSpec]:
        async def campaigns() -> None:
            self.sync_campaigns()

        def sweep() -> None:
            expired = selection.sweep_expired(self.db, self.clock.utcnow())
            if expired:
                log.warning("leases_expired", records=len(expired))

        def rollups() -> None:
            now = self.clock.utcnow()
            for day in (now.date() - dt.timedelta(days=1), now.date()):
                rollup_day(self.db, day, now=now)
            rollup_due(self.db, now=now)  # the reports' hourly rollups (campaigns/reports.py)

        def park() -> None:
            now = self.clock.utcnow()
            for campaign_id in list(self.engine.campaigns):
                selection.park_dnc_hits(self.db, campaign_id, now)

        inbound = self.settings.inbound

        def worklist_retention() -> None:
            closed = worklist.expire(self.db, self.clock.utcnow(), inbound.retention_days)
            if closed:
                log.info("worklist_rows_expired", rows=closed)

        def worklist_digest() -> None:
            if self.inbound is not None and self.inbound.notifier is not None:
                self.inbound.notifier.digest(self.db)

        inbound_jobs = (
            [
                JobSpec("worklist-retention", worklist_retention, "expire old misses", every_s=600),
                JobSpec(
                    "worklist-digest",
                    worklist_digest,
                    "mail digests of new misses",
                    every_s=inbound.digest_minutes * 60,
                ),
            ]
            if inbound.enabled
            else []
        )
        return [
            *inbound_jobs,
            self.leads.renew_job(self._live_record_ids, self.clock),
            JobSpec("campaign-sync", campaigns, "follow campaign starts/pauses/stops", every_s=2),
            JobSpec("lease-sweep", sweep, "free leases of crashed engines", every_s=30),
            JobSpec("dnc-park", park, "move DNC hits out of the claim path", at="03:00"),
            JobSpec("rollups", rollups, "daily and hourly figures", every_s=900),
            expiry_job(self.db, self.clock, self.thread_sink),
        ]

    # ---- commands from MQTT -------------------------------------------------------------

    async def _on_command(self, kind: str, ident: str, payload: dict[str, Any]) -> None:
        # The sender's session token is checked against its role, and every accepted
        # command audited with that user, by the gate (dialer/runtime/commands.py).
        gate = CommandGate(
            db=self.db,
            sink=self.sink,
            agent_command=self.agent_command,
            campaign_command=self._campaign_command,
            errors=(*ROOT_ERRORS, KeyError, ValueError, TypeError),
        )
        await gate(kind, ident, payload)

    def agent_command(self, agent_id: int, action: str, payload: dict[str, Any]) -> None:
        """Carry out an agent's action (login, ready, pause, logout, status) now.

        Raises DialerError (refused by the agent's state), KeyError or ValueError (a payload
        field missing or wrong), with a message naming it.
        """
        self._execute(
            agent_action(
                self.engine, agent_id, action, payload, seat_of=self._seat_of, leads=self.leads
            )
        )

    def work_arrived(self, campaign_id: int) -> None:
        """Work with an agent reserved arrived (an ASAP request): the engine looks for it on
        its next tick. Called from the API's threads: handed to the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self.engine.look_for_reserved, campaign_id)

    def agent_snapshot(self, agent_id: int) -> dict[str, Any] | None:
        """The agent's live state and current call (None when it never logged in)."""
        return self.engine.agent_snapshot(agent_id)

    def campaign_stats(self, campaign_id: int) -> dict[str, Any] | None:
        """Live figures of a campaign this engine runs; in a cluster, of one another engine
        runs, as that engine last reported them (with ``engine`` and ``figures_age_s``);
        None when no engine runs it."""
        if campaign_id in self.engine.campaigns:
            return self.engine.stats(campaign_id)
        if self.cluster is None:
            return None
        try:
            figures = self.cluster.figures(campaign_id)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("campaign_figures_unavailable", campaign=campaign_id, error=str(exc))
            return None
        return None if figures is None else figures.payload()

    def campaign_calls(self, campaign_id: int) -> list[dict[str, Any]] | None:
        """The campaign's calls up now (None when not loaded)."""
        if campaign_id not in self.engine.campaigns:
            return None
        return self.engine.live_calls(campaign_id)

    def _seat_of(self, agent_id: int, payload: Mapping[str, Any]) -> str:
        # The agent's own extension or a seat an administrator allowed it (SeatRefusedError).
        seat = payload.get("seat")
        return check_seat(self.db, agent_id, str(seat) if seat else None)

    def _campaign_command(self, campaign_id: int, action: str) -> None:
        states = {
            "start": CampaignState.RUNNING,
            "pause": CampaignState.PAUSED,
            "stop": CampaignState.STOPPED,
        }
        state = states.get(action)
        if state is None:
            return
        with self.db.begin() as conn:
            conn.execute(
                sa.update(_CAMPAIGN).where(_CAMPAIGN.c.id == campaign_id).values(state=state.value)
            )
        self.sync_campaigns()


@dataclass
class _Found:
    """What an engine (``engine_id``) left on the servers, for :meth:`Runtime._apply`."""

    engine_id: str
    campaigns: set[int] | None
    seats: dict[str, int] | None
    rows: dict[str, Any] = field(default_factory=dict)
    earlier: list[int] = field(default_factory=list)
    calls: list[FoundCall] = field(default_factory=list)
    live_seats: dict[tuple[str, str], FoundSeat] = field(default_factory=dict)
    hangups: list[tuple[str, str]] = field(default_factory=list)
    idle: list[FoundSeat] = field(default_factory=list)


def _cluster_of(settings: Settings, db: sa.Engine, owner: str) -> Cluster | None:
    """The engine's cluster membership: on PostgreSQL unless ``[cluster] enabled = false``;
    never on SQLite (one engine)."""
    enabled = settings.cluster.enabled
    if enabled is None:
        enabled = db.dialect.name == "postgresql"
    if not enabled:
        return None
    if db.dialect.name != "postgresql":
        msg = (
            f"[cluster] enabled = true needs PostgreSQL; {settings.database.safe_url()} is "
            f"{db.dialect.name}: set enabled = false or use a postgresql+psycopg:// URL"
        )
        raise EngineStartError(msg)
    return Cluster(
        db,
        engine_id=settings.engine.id,
        owner=owner,
        failover_s=settings.cluster.failover_s,
        settle_s=settings.cluster.settle_s,
    )


def _outcome_of(row: Any) -> Outcome:
    """The outcome of a call that ended while no engine followed it, from its facts: a
    connected call was answered, a person never connected was dropped by the dialplan's
    hold timer; for the rest nothing is known."""
    if row.connect_at is not None:
        return Outcome.ANSWERED
    if row.drop_at is not None or row.answer_at is not None:
        return Outcome.DROPPED
    return Outcome.FAILED


def closing_details(
    row: Any, outcome: Outcome, now: dt.datetime, why: str, *, max_wait_s: float
) -> CallDetails:
    """What closes a row whose call ended while no engine followed it. A person answered
    and never connected was dropped by the dialplan's hold timer: the drop is a fact of the
    abandonment windows, so it gets its time (``max_wait_s`` after the answer, at the
    latest now) and its wait, as a drop seen live would."""
    details = CallDetails(end_at=now, hangup_cause_txt=why)
    if outcome is Outcome.DROPPED and row.drop_at is None and row.answer_at is not None:
        answer_at = _aware(row.answer_at)
        drop_at = min(now, answer_at + dt.timedelta(seconds=max_wait_s))
        wait_s = round((drop_at - answer_at).total_seconds(), 3)
        details = replace(details, drop_at=drop_at, wait_s=wait_s)
    return details


def _aware(value: object) -> dt.datetime:
    """An ISO date-time; one without a zone is taken as UTC."""
    when = dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _scaled_start(settings: Settings) -> dt.datetime:
    """Where a sped-up clock starts: now, or the latest time the call log already holds
    when that is later (a restarted ``--time-scale`` engine would otherwise stamp its calls
    before the previous run's, as if a record were dialed while its last call was up)."""
    now = dt.datetime.now(dt.UTC)
    db = make_engine(settings.database.url)
    try:
        with db.connect() as conn:
            latest = conn.execute(
                sa.select(
                    sa.func.max(CallLog.dial_at),
                    sa.func.max(CallLog.end_at),
                )
            ).one()
    except sa.exc.SQLAlchemyError:
        return now  # no call log yet (or unreachable): the runtime reports it
    finally:
        db.dispose()
    return max([now, *(_aware(t.isoformat()) for t in latest if t is not None)])


async def run_forever(
    settings: Settings,
    *,
    time_scale: float = 1.0,
    sim_agents: AgentDriver | None = None,
    http: tuple[str, int] | None = None,
    metrics: Path | None = None,
) -> None:
    """``dialer run``: the engine until interrupted (``metrics``: a JSON file written at
    the end with the latency samples, for ``dialer bench cluster``)."""

    clock = ScaledClock(time_scale, _scaled_start(settings)) if time_scale != 1.0 else None
    stop = asyncio.Event()
    main = asyncio.current_task()

    def on_signal() -> None:
        # The first SIGTERM/Ctrl-C drains (engine.drain_s); a second one stops at once.
        if stop.is_set() and main is not None:
            main.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    async with Runtime(
        settings, clock=clock, time_scale=time_scale, sim_agents=sim_agents, http=http
    ) as runtime:
        await runtime.run(stop)
        await runtime.drain()
        if metrics is not None:
            await asyncio.to_thread(
                metrics.write_text,
                json.dumps(
                    {
                        "engine": settings.engine.id,
                        "answer_to_connect": list(runtime.answer_to_connect),
                        "tick_to_originate": list(runtime.tick_to_originate),
                        "tick_overloaded": list(runtime.tick_overloaded),
                        "errors": runtime.errors,
                        "overloaded": runtime.engine.overloaded,
                    }
                ),
            )
