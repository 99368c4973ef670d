"""The engine core: campaigns, agents and calls in memory, driven by events and ticks.

The core does no I/O of its own. It reads time from a :class:`~dialer.engine.clock.Clock`, asks a
:class:`LeadSource` for records to dial, tells a :class:`CallJournal` what happened to each
attempt (call log and status engine), publishes live state to an
:class:`~dialer.engine.sink.EventSink`, and returns telephony *commands* for an adapter to carry
out (the AMI pool in ``dialer run``, the world model in ``dialer simulate``).

Per running campaign, every tick: build the pacer's view from live agent and call state,
ask the pacer, claim that many records, originate. Callbacks (MY_RECORD) and progressive
redials are dialed only with their agent reserved first. An answered person is connected
to the longest-idle ready agent (a reserved call only to its agent) or waits in a FIFO
queue; a person still waiting at the deadline is dropped to the legal message.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

import structlog

from asterisk import events as ev
from campaigns.enums import DialMode, Outcome, PreviewTimeout
from campaigns.windows import CallingWindow, is_open
from dialer.engine import agents as ag
from dialer.engine import calls as cl
from dialer.engine.calls import Call, CallPhase, ConnectCall, DropCall, HangupCall, Lead, Now
from dialer.engine.clock import Clock
from dialer.engine.sink import (
    EventSink,
    agent_state_topic,
    call_topic,
    campaign_stats_topic,
    preview_topic,
    screenpop_topic,
)
from dialer.errors import DialerError
from pacing import types as pt

__all__ = [
    "AgentRun",
    "Call",
    "CallJournal",
    "CallPhase",
    "CampaignRun",
    "Command",
    "ConnectCall",
    "DialMode",
    "DialRefusedError",
    "DropCall",
    "Engine",
    "EngineError",
    "HangupCall",
    "Lead",
    "LeadSource",
    "Originate",
    "PreviewTimeout",
    "RunState",
    "StartSeat",
    "StatusAlreadySetError",
    "StopSeat",
]

log = structlog.get_logger(__name__)


class EngineError(DialerError):
    """An engine request that names something unknown or not possible now."""

    error_id = "engine_error"

    def __init__(self, what: str) -> None:
        super().__init__(what)


class StatusAlreadySetError(EngineError):
    """The call already has its status: a second one is refused (the first one stands)."""

    error_id = "status_already_set"

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        super().__init__(
            f"call {call_id!r} already has a status: a status cannot be given twice "
            "(a supervisor can change the record's status)"
        )


class DialRefusedError(EngineError):
    """An agent's own dial (preview, call back now, manual) that may not be placed now;
    ``reason`` is a stable code (``outside_hours``, ``not_ready``, ``no_line``, …)."""

    error_id = "dial_refused"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


#: How many recent calls the engine remembers as having their status (refuse a second one).
_STATUS_MEMORY = 10_000


# ---- what the core needs from the outside ------------------------------------------------


class LeadSource(Protocol):
    """Records to dial (the campaign store's record selection)."""

    def claim(
        self,
        campaign_id: int,
        n: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> list[Lead]:
        """Up to ``n`` records any agent may take (due NOT_BEFORE, retries, fresh), none of
        ``exclude_records`` and none with a number in ``exclude_phones``."""

    def reserved_work(
        self, campaign_id: int, agent_ids: Sequence[int], now: dt.datetime
    ) -> tuple[set[int], int]:
        """Which of ``agent_ids`` have a due callback, and how many progressive redials
        (up to ``len(agent_ids)``) are due: a cheap look before any claim."""

    def claim_reserved(
        self,
        campaign_id: int,
        agent_id: int,
        now: dt.datetime,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead | None:
        """A record to dial with ``agent_id`` reserved: its due callback, else a progressive
        redial; ``None`` when there is none. Exclusions as for :meth:`claim`."""

    def release(self, record_ids: Sequence[int]) -> None:
        """Give back records claimed and not dialed."""

    def exhausted(self, campaign_id: int) -> bool:
        """After a claim that gave nothing: True when the campaign has no record to dial
        (False: records are on their way, e.g. claimed ahead off the event loop)."""


class CallJournal(Protocol):
    """Where attempts are written: the call log and the status engine."""

    def dialed(self, call: Call) -> None:
        """A call was placed (first call-log write)."""

    def answered(self, call: Call) -> None:
        """Someone picked up (``answer_at``); again with the AMD verdict (``amd_status``,
        ``person_at``) when it says a person is on the line."""

    def connected(self, call: Call) -> None:
        """The person was bridged to ``call.agent_id`` at ``call.connect_at``."""

    def dropped(self, call: Call) -> None:
        """The person was sent to the drop message at ``call.drop_at``."""

    def refused(self, call: Call, message: str) -> None:
        """No call was placed (``message`` says why): the record's lease is released and its
        attempt given back; the row is closed with outcome ``not_placed``."""

    def finished(self, call: Call) -> None:
        """The attempt ended; ``call.outcome`` says how. Answered calls wait for a status;
        ``cancelled`` gives the attempt back and changes no status."""

    def status_set(
        self,
        call: Call,
        agent_id: int,
        status_id: int,
        date: dt.datetime | None,
        note: str,
    ) -> None:
        """The agent set a status; raises a DialerError when it is not valid."""

    def default_status(self, call: Call) -> None:
        """Wrap-up timed out: apply the campaign's default status."""


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """An agent entered ``phase`` at ``at`` (wall time): a fact for the agents report."""

    agent_id: int
    campaign_id: int
    phase: str
    reason: str | None
    call_id: str | None
    at: dt.datetime


class PhaseLog(Protocol):
    """Where the agents' phase history is written (each change as it happens)."""

    def agent_phase(self, change: PhaseChange) -> None:
        """The agent left its phase and entered ``change.phase`` (``logged_out``: none)."""


# ---- commands for the telephony adapter --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Originate:
    """Place a call to ``phone``; its events carry ``call_id``."""

    call_id: str
    campaign_id: int
    phone: str
    variables: Mapping[str, str]
    server: str | None = None
    """The server whose agent seats will take the call (None: any)."""


@dataclass(frozen=True, slots=True)
class StartSeat:
    """Originate an agent's seat."""

    agent_id: int
    seat: str
    group: str | None = None
    """The agent's campaign: a pool of servers keeps a campaign's seats together."""


@dataclass(frozen=True, slots=True)
class StopSeat:
    """Hang up an agent's seat."""

    agent_id: int
    seat: str


Command = Originate | ConnectCall | DropCall | HangupCall | StartSeat | StopSeat


# ---- state ------------------------------------------------------------------------------


class RunState(StrEnum):
    """A campaign's state in the engine."""

    RUNNING = "running"
    PAUSED = "paused"
    """No new calls; calls up finish normally."""
    STOPPED = "stopped"


@dataclass
class CampaignRun:
    """A campaign as the engine runs it."""

    campaign_id: int
    name: str
    pacer: pt.Pacer
    max_wait_s: float = 2.0
    drop_margin_s: float = 0.2
    """Drop this much before ``max_wait_s``, for the time the drop itself takes."""
    wrapup_timeout_s: float = 120.0
    amd: bool = False
    caller_id: str | None = None
    hours: CallingWindow | None = None
    """The campaign's own operating hours (in ``hours_tz``); None = always."""
    hours_tz: str = "UTC"
    outside_hours: bool = False
    state: RunState = RunState.PAUSED
    dial_index: itertools.count[int] = field(default_factory=itertools.count)
    queue: deque[str] = field(default_factory=deque)
    exhausted: bool = False
    dials: int = 0
    answered: int = 0
    connected: int = 0
    dropped: int = 0
    talk_s: float = 0.0
    reserved_checked_t: float = float("-inf")
    paused_reason: str | None = None
    """Why the engine paused the campaign by itself (circuit breaker); None otherwise."""
    not_placed_in_row: int = 0
    """Originates refused one after the other, with no call placed in between."""
    alerts: dict[str, str] = field(default_factory=dict)
    """What an operator must look at now (code → message), shown in the stats."""
    handing_over: bool = False
    """Being handed to another engine (cluster rebalancing): no new call is placed; the
    calls up end as usual, then the campaign and its idle agents go."""
    dial_mode: DialMode = DialMode.PREDICTIVE
    preview_timeout_s: float = 0.0
    """Seconds a preview waits for the agent; 0 = no limit."""
    preview_timeout_action: PreviewTimeout = PreviewTimeout.SKIP

    def abandon_rate(self) -> float:
        """Drops / (connected + dropped) since the engine started."""
        settled = self.connected + self.dropped
        return self.dropped / settled if settled else 0.0


@dataclass
class AgentRun:
    """An agent as the engine runs it."""

    state: ag.AgentState
    seat: str
    campaign_id: int
    logged_in_t: float = 0.0
    logged_in_s: float = 0.0
    preview: Lead | None = None
    """The record shown to the agent of a preview campaign (claimed for it), if any."""
    preview_t: float = 0.0
    skipped: deque[int] = field(default_factory=lambda: deque(maxlen=50))
    """Records this agent skipped lately: not previewed to it again meanwhile."""


_FAIL_TO_OUTCOME = {
    ev.FailOutcome.BUSY: Outcome.BUSY,
    ev.FailOutcome.NO_ANSWER: Outcome.NO_ANSWER,
    ev.FailOutcome.CONGESTION: Outcome.CONGESTION,
    ev.FailOutcome.INVALID: Outcome.INVALID,
    ev.FailOutcome.FAILED: Outcome.FAILED,
    ev.FailOutcome.CANCELLED: Outcome.CANCELLED,
}
_SEAT_SETUP_S = 10.0
"""Seconds a seat may take to come up before "no seat left" is raised."""
_PACER_FAIL = {
    Outcome.BUSY: "busy",
    Outcome.NO_ANSWER: "no_answer",
    Outcome.CONGESTION: "congestion",
    Outcome.MACHINE: "machine",
}


class Engine:
    """The dialer's core: call :meth:`tick` often, feed it events, carry out its commands."""

    def __init__(
        self,
        *,
        clock: Clock,
        leads: LeadSource,
        journal: CallJournal,
        sink: EventSink,
        engine_id: str = "engine",
        lines: int = 100,
        reserved_check_s: float = 5.0,
        call_prefix: str | None = None,
        refused_pause_after: int = 3,
        overload_lag_s: float = 0.5,
        overload_hold_s: float = 30.0,
        seat_server: Callable[[str], str | None] | None = None,
        phases: PhaseLog | None = None,
        reseat_after_s: float | None = None,
    ) -> None:
        self.clock = clock
        #: A server down this long: its agents not on a call get a seat on another server
        #: (None: they wait for their server to come back).
        self.reseat_after_s = reseat_after_s
        self._down_since: dict[str, float] = {}
        #: Where an agent's seat is (server name; None: unknown). With several servers a
        #: call is placed where seats are, and connected only to a seat on its server.
        self.seat_server = seat_server
        #: Servers whose AMI session is down now: no call is placed for their seats.
        self.servers_down: set[str] = set()
        #: The agents' phase history (None: not kept, as in simulations).
        self.phases = phases
        self.leads = leads
        self.journal = journal
        self.sink = sink
        self.engine_id = engine_id
        self.call_prefix = call_prefix or engine_id
        self.lines = lines
        self.reserved_check_s = reserved_check_s
        self.refused_pause_after = refused_pause_after
        #: Graceful stop under way: no campaign dials any more.
        self.draining = False
        #: Overload back-off: a lag past ``overload_lag_s`` makes every campaign dial
        #: progressively (one call per ready agent) until ``overload_hold_s`` pass without one.
        self.overload_lag_s = overload_lag_s
        self.overload_hold_s = overload_hold_s
        self._overload: tuple[float, str] | None = None
        #: Campaigns the engine paused by itself, with the reason, for the runtime to persist.
        self.self_paused: list[tuple[int, str]] = []
        self.campaigns: dict[int, CampaignRun] = {}
        self.agents: dict[int, AgentRun] = {}
        self.calls: dict[str, Call] = {}
        self._seq = itertools.count(1)
        self._seats: dict[str, int] = {}
        #: Agents on a call when their seat's server came back: re-seated after the call.
        self._reseat_after_call: set[int] = set()
        #: Calls given a status lately (call id → agent), oldest first: never a second one.
        self._status_given: dict[str, int] = {}

    # ---- campaigns ----------------------------------------------------------------------

    def add_campaign(self, run: CampaignRun) -> None:
        """Make a campaign known to the engine (paused until started)."""
        self.campaigns[run.campaign_id] = run

    def campaign(self, campaign_id: int) -> CampaignRun:
        """The campaign, or EngineError naming the unknown id."""
        try:
            return self.campaigns[campaign_id]
        except KeyError:
            raise EngineError(f"campaign {campaign_id} is not loaded in the engine") from None

    def set_state(self, campaign_id: int, state: RunState) -> list[Command]:
        """Start, pause or stop a campaign. Stopping hangs up calls not yet answered."""
        run = self.campaign(campaign_id)
        run.state = state
        if state is RunState.RUNNING:
            run.paused_reason = None
            run.not_placed_in_row = 0
        log.info("campaign_state", campaign=campaign_id, state=state.value)
        if state is not RunState.STOPPED:
            return []
        return [
            HangupCall(c.call_id)
            for c in self.calls.values()
            if c.campaign_id == campaign_id and c.phase is CallPhase.DIALING
        ]

    def replace_pacer(self, campaign_id: int, pacer: pt.Pacer) -> None:
        """Swap a campaign's pacer (a changed pacing profile), from the next tick on."""
        self.campaign(campaign_id).pacer = pacer

    # ---- agents -------------------------------------------------------------------------

    def agent_login(self, agent_id: int, seat: str, campaign_id: int) -> list[Command]:
        """Log an agent in to a campaign: its seat is started."""
        self.campaign(campaign_id)
        current = self.agents.get(agent_id)
        if current is not None and current.state.phase is not ag.Phase.LOGGED_OUT:
            raise EngineError(f"agent {agent_id} is already logged in")
        holder = self.agents.get(self._seats.get(seat, agent_id))
        if (
            holder is not None
            and holder.state.agent_id != agent_id
            and holder.seat == seat
            and holder.state.phase is not ag.Phase.LOGGED_OUT
        ):
            raise EngineError(f"seat {seat!r} is in use by agent {holder.state.agent_id}")
        now = self.clock.now()
        state = current.state if current else ag.AgentState(agent_id=agent_id)
        self.agents[agent_id] = AgentRun(state, seat, campaign_id, logged_in_t=now)
        self._seats[seat] = agent_id
        self._pacer_event(campaign_id, pt.LOGIN, agent_id=agent_id)
        return self._agent(agent_id, ag.Login())

    def agent_ready(self, agent_id: int) -> list[Command]:
        """The agent takes calls again (end of a pause)."""
        return self._agent(agent_id, ag.GoReady())

    def agent_pause(self, agent_id: int, reason: str) -> list[Command]:
        """Pause now, or after the current call."""
        return self._agent(agent_id, ag.Pause(reason))

    def agent_logout(self, agent_id: int) -> list[Command]:
        """Log out now, or after the current call."""
        return self._agent(agent_id, ag.Logout())

    def agent_set_status(
        self,
        agent_id: int,
        call_id: str,
        status_id: int,
        *,
        date: dt.datetime | None = None,
        note: str = "",
    ) -> list[Command]:
        """The agent gives the call a status (validated by the journal) and ends wrap-up."""
        agent = self._agent_run(agent_id)
        if call_id in self._status_given or (
            agent.state.call_id == call_id and agent.state.status_set
        ):
            raise StatusAlreadySetError(call_id)
        call = self.calls.get(call_id)
        if call is None or agent.state.call_id != call_id:
            raise EngineError(f"agent {agent_id} has no call {call_id!r} to set a status for")
        self.journal.status_set(call, agent_id, status_id, date, note)
        self._remember_status(call_id, agent_id)
        commands = self._agent(agent_id, ag.StatusSet(call_id))
        self._forget_if_done(call)
        return commands

    def _remember_status(self, call_id: str, agent_id: int) -> None:
        self._status_given[call_id] = agent_id
        while len(self._status_given) > _STATUS_MEMORY:
            del self._status_given[next(iter(self._status_given))]

    def agent_hangup(self, agent_id: int) -> list[Command]:
        """The agent ends its call from the desk: the call is hung up on the PBX; its
        hang-up event (journaled as any other) ends the call and the agent wraps up."""
        agent = self._agent_run(agent_id)
        state = agent.state
        call = self.calls.get(state.call_id) if state.call_id else None
        if state.phase is not ag.Phase.TALKING or call is None or not call.up:
            raise EngineError(f"agent {agent_id} has no call up to hang up")
        log.info("agent_hangup", agent=agent_id, call_id=call.call_id)
        return [HangupCall(call.call_id)]

    # ---- an agent's own dials -------------------------------------------------------------

    def check_dial_for_agent(self, agent_id: int) -> int:
        """The campaign an agent's own dial goes to, or DialRefusedError saying why no dial
        can be placed for this agent now (not ready, campaign stopped or closed, no line)."""
        agent = self._agent_run(agent_id)
        state = agent.state
        if state.phase is not ag.Phase.READY or state.pending is not None:
            why = f"agent {agent_id} is {state.phase.value}: only a ready agent can dial"
            raise DialRefusedError("not_ready", why)
        run = self.campaign(agent.campaign_id)
        if run.state is RunState.STOPPED or self.draining:
            raise DialRefusedError("stopped", f"campaign {run.name!r} is stopped")
        wall = self.clock.utcnow()
        if run.hours is not None and not is_open(run.hours, run.hours_tz, wall):
            why = f"campaign {run.name!r} is outside its hours ({run.hours_tz})"
            raise DialRefusedError("outside_hours", why)
        if self.calls_up() >= self.lines:
            raise DialRefusedError("no_line", f"all {self.lines} lines are busy")
        return run.campaign_id

    def look_for_reserved(self, campaign_id: int) -> None:
        """Work with an agent reserved (an ASAP request, a callback due now) arrived in the
        campaign: look for it on the next tick rather than after ``reserved_check_s``."""
        run = self.campaigns.get(campaign_id)
        if run is not None:
            run.reserved_checked_t = float("-inf")

    def dial_for_agent(self, agent_id: int, lead: Lead) -> tuple[str, list[Command]]:
        """Dial ``lead`` now with ``agent_id`` reserved for it: the direct command behind
        the desk's own dials (preview, "call back now", a manual number) and any caller
        that already holds a record for one agent (e.g. an inbound callback).

        The caller has claimed ``lead`` (its lease is this engine's). The agent must be
        ready in the lead's campaign (:meth:`check_dial_for_agent`); it is reserved before
        the call is placed, so whoever answers is connected to it: nobody can be dropped.
        Returns the new call's id and the commands (the Originate). Raises
        DialRefusedError (the lead is then not dialed: the caller releases it).
        """
        campaign_id = self.check_dial_for_agent(agent_id)
        if lead.campaign_id != campaign_id:
            why = f"record {lead.record_id} is not in the agent's campaign {campaign_id}"
            raise DialRefusedError("other_campaign", why)
        records, phones = self._in_flight()
        if lead.record_id in records or lead.phone in phones:
            raise DialRefusedError("in_flight", f"{lead.phone} is being called already")
        run = self.campaigns[campaign_id]
        agent = self.agents[agent_id]
        if agent.preview is not None and agent.preview.record_id != lead.record_id:
            self._drop_preview(agent, skipped=False)
        agent.preview = None
        call = self._new_call(run, lead, reserved=agent_id)
        out = self._agent(agent_id, ag.Reserve(call.call_id))
        out.append(self._originate(run, call))
        log.info("dial_for_agent", agent=agent_id, call_id=call.call_id, record=lead.record_id)
        return call.call_id, out

    def preview_dial(self, agent_id: int) -> list[Command]:
        """The agent dials the record it is previewing."""
        agent = self._agent_run(agent_id)
        if agent.preview is None:
            raise DialRefusedError("no_preview", f"agent {agent_id} has no record to dial")
        lead = agent.preview
        try:
            return self.dial_for_agent(agent_id, lead)[1]
        except DialRefusedError:
            if agent.state.phase is not ag.Phase.READY:
                self._drop_preview(agent, skipped=False)
            raise

    def preview_skip(self, agent_id: int) -> list[Command]:
        """The agent skips the record it is previewing: given back undialed, not shown to
        this agent again for a while; the next one comes on the next tick."""
        agent = self._agent_run(agent_id)
        if agent.preview is None:
            raise DialRefusedError("no_preview", f"agent {agent_id} has no record to skip")
        self._drop_preview(agent, skipped=True)
        return []

    def _drop_preview(self, agent: AgentRun, *, skipped: bool) -> None:
        lead = agent.preview
        if lead is None:
            return
        agent.preview = None
        if skipped:
            agent.skipped.append(lead.record_id)
        self.leads.release([lead.record_id])
        log.info("preview_released", agent=agent.state.agent_id, record=lead.record_id)
        self._publish_preview(agent)

    def _publish_preview(self, agent: AgentRun) -> None:
        lead = agent.preview
        self.sink.publish(
            preview_topic(agent.state.agent_id),
            {
                "agent": agent.state.agent_id,
                "campaign": agent.campaign_id,
                "record": None if lead is None else _record(lead),
            },
        )

    def _offer_previews(self, run: CampaignRun) -> None:
        """A preview campaign: each ready agent with nothing shown gets its next record."""
        wall = self.clock.utcnow()
        now = self.clock.now()
        for agent in sorted(self._campaign_agents(run.campaign_id), key=lambda a: a.state.since):
            state = agent.state
            if agent.preview is not None or state.phase is not ag.Phase.READY or state.pending:
                continue
            records, phones = self._in_flight()
            records |= {a.preview.record_id for a in self.agents.values() if a.preview}
            got = self.leads.claim(
                run.campaign_id,
                1,
                wall,
                exclude_records=records | set(agent.skipped),
                exclude_phones=phones,
            )
            run.exhausted = not got and self.leads.exhausted(run.campaign_id)
            if not got:
                return
            agent.preview, agent.preview_t = got[0], now
            log.info("preview_offered", agent=state.agent_id, record=got[0].record_id)
            self._publish_preview(agent)

    def _preview_timeouts(self) -> list[Command]:
        out: list[Command] = []
        now = self.clock.now()
        for agent in list(self.agents.values()):
            run = self.campaigns.get(agent.campaign_id)
            if agent.preview is None or run is None or run.preview_timeout_s <= 0:
                continue
            if agent.preview_t + run.preview_timeout_s > now:
                continue
            if run.preview_timeout_action is PreviewTimeout.DIAL:
                try:
                    out.extend(self.preview_dial(agent.state.agent_id))
                except DialRefusedError as exc:
                    aid = agent.state.agent_id
                    log.warning("preview_autodial_refused", agent=aid, why=str(exc))
                    self._drop_preview(agent, skipped=True)
            else:
                self._drop_preview(agent, skipped=True)
        return out

    def agent_snapshot(self, agent_id: int) -> dict[str, Any] | None:
        """An agent's live state and its current call's record (None if never logged in)."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return None
        state = agent.state
        call = self.calls.get(state.call_id) if state.call_id else None
        current = None
        if call is not None:
            lead = call.lead
            current = {
                "call_id": call.call_id,
                "campaign": call.campaign_id,
                "phase": call.phase.value,
                "connected_at": call.connect_at.isoformat() if call.connect_at else None,
                "record": _record(lead),
            }
        return {
            "agent": agent_id,
            "campaign": agent.campaign_id,
            "seat": agent.seat,
            "phase": state.phase.value,
            "pause_reason": state.pause_reason,
            "pending": state.pending.value if state.pending else None,
            "in_state_s": round(max(0.0, self.clock.now() - state.since), 1),
            "call": current,
            "preview": None if agent.preview is None else _record(agent.preview),
            "preview_left_s": self._preview_left(agent),
            "preview_then": self.campaigns[agent.campaign_id].preview_timeout_action.value
            if agent.campaign_id in self.campaigns
            else None,
        }

    def _preview_left(self, agent: AgentRun) -> float | None:
        """Seconds until the agent's preview times out (None: no preview or no limit)."""
        run = self.campaigns.get(agent.campaign_id)
        if agent.preview is None or run is None or run.preview_timeout_s <= 0:
            return None
        return max(0.0, agent.preview_t + run.preview_timeout_s - self.clock.now())

    def _agent_run(self, agent_id: int) -> AgentRun:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise EngineError(f"agent {agent_id} is not logged in") from None

    def _agent(self, agent_id: int, event: ag.AgentEvent) -> list[Command]:
        """Apply an agent event, publish the change, and turn its commands into ours."""
        agent = self._agent_run(agent_id)
        now = self.clock.now()
        before = agent.state
        after, agent_commands = ag.transition(before, event, now)
        agent.state = after
        out: list[Command] = []
        if after.phase is not before.phase:
            self._on_phase_change(agent, before, now)
            if after.phase in {ag.Phase.PAUSED, ag.Phase.LOGGED_OUT}:
                self._drop_preview(agent, skipped=False)
        for cmd in agent_commands:
            out.extend(self._agent_command(agent, cmd))
        if (
            after.phase is ag.Phase.PAUSED
            and after.pause_reason == ag.SEAT_LOST
            and agent_id in self._reseat_after_call
        ):
            self._reseat_after_call.discard(agent_id)
            out.extend(self._agent(agent_id, ag.GoReady()))
        if after.phase is ag.Phase.READY and before.phase is not ag.Phase.READY:
            out.extend(self._serve_queue(agent.campaign_id))
        return out

    def _on_phase_change(self, agent: AgentRun, before: ag.AgentState, now: float) -> None:
        state = agent.state
        cid = agent.campaign_id
        if state.phase is ag.Phase.READY:
            self._pacer_event(cid, pt.READY, agent_id=state.agent_id)
        elif before.phase is ag.Phase.READY and state.phase in {
            ag.Phase.PAUSED,
            ag.Phase.LOGGED_OUT,
        }:
            self._pacer_event(cid, pt.UNREADY, agent_id=state.agent_id)
        if state.phase is ag.Phase.LOGGED_OUT:
            agent.logged_in_s += now - agent.logged_in_t
            self._pacer_event(cid, pt.LOGOUT, agent_id=state.agent_id)
        if self.phases is not None:
            self.phases.agent_phase(
                PhaseChange(
                    agent_id=state.agent_id,
                    campaign_id=cid,
                    phase=state.phase.value,
                    reason=state.pause_reason,
                    call_id=state.call_id,
                    at=self.clock.utcnow(),
                )
            )
        self.sink.publish(
            agent_state_topic(state.agent_id),
            {
                "agent": state.agent_id,
                "campaign": cid,
                "phase": state.phase.value,
                "pause_reason": state.pause_reason,
                "call_id": state.call_id,
                "pending": state.pending.value if state.pending else None,
            },
            retain=True,
        )

    def _agent_command(self, agent: AgentRun, cmd: ag.AgentCommand) -> list[Command]:
        match cmd:
            case ag.StartSeat():
                return [StartSeat(agent.state.agent_id, agent.seat, str(agent.campaign_id))]
            case ag.StopSeat():
                return [StopSeat(agent.state.agent_id, agent.seat)]
            case ag.HangupCall(call_id=call_id):
                return [HangupCall(call_id)]
            case ag.CancelReservation(call_id=call_id):
                call = self.calls.get(call_id)
                return [] if call is None else self._call_step(call, cl.Cancel())
            case ag.ApplyDefaultStatus(call_id=call_id):
                call = self.calls.get(call_id)
                if call is not None:
                    self.journal.default_status(call)
                    self._forget_if_done(call)
                return []
        return []  # pragma: no cover

    # ---- telephony events ---------------------------------------------------------------

    def on_event(self, event: ev.LifecycleEvent) -> list[Command]:
        """React to one event from the telephony edge."""
        match event:
            case ev.SeatUp(agent_id=seat):
                agent_id = self._seats.get(seat)
                return [] if agent_id is None else self._agent(agent_id, ag.SeatUp())
            case ev.SeatDown(agent_id=seat):
                agent_id = self._seats.get(seat)
                return [] if agent_id is None else self._agent(agent_id, ag.SeatDown())
            case ev.SeatWrapupDone(agent_id=seat):
                # A simulator's own agent finished wrap-up: the campaign's default status.
                agent_id = self._seats.get(seat)
                if agent_id is None:
                    return []
                state = self.agents[agent_id].state
                if state.phase is not ag.Phase.WRAP_UP or state.call_id is None:
                    return []
                return self._agent(agent_id, ag.WrapupTimeout(state.call_id))
            case ev.ServerUp(server=server):
                self.servers_down.discard(server)
                self._down_since.pop(server, None)
                return self._reseat(server)
            case ev.ServerDown(server=server):
                self.servers_down.add(server)
                self._down_since.setdefault(server, self.clock.now())
                return []
        call = self.calls.get(event.call_id)
        if call is None:
            log.debug("event_for_unknown_call", call_id=event.call_id, kind=type(event).__name__)
            return []
        if event.server and event.server != call.server:
            call = self.calls[call.call_id] = replace(call, server=event.server)
        if not isinstance(event, ev.CallRefused):
            self.campaigns[call.campaign_id].not_placed_in_row = 0  # a call was placed
        step: cl.CallEvent
        match event:
            case ev.CallAnswered(adopted=adopted):
                step = cl.Answered(amd=self.campaigns[call.campaign_id].amd, adopted=adopted)
            case ev.CallMachine(status=status, cause=cause):
                step = cl.Screened(status, cause)
            case ev.CallFailed(outcome=outcome, cause=cause, detail=detail):
                step = cl.Failed(_FAIL_TO_OUTCOME[outcome], cause, detail)
            case ev.CallRefused(message=message):
                step = cl.Refused(message)
            case ev.CallHungUp(cause=cause, cause_txt=cause_txt):
                step = cl.HungUp(cause, cause_txt)
            case _:
                return []  # dialing, connected, dropped: confirmations of what we did
        return self._call_step(call, step)

    def _now(self) -> Now:
        return Now(self.clock.now(), self.clock.utcnow())

    def _call_step(self, call: Call, event: cl.CallEvent) -> list[Command]:
        """Apply a call event; carry its facts into the journal, pacer, agents and views."""
        nxt, commands, facts = cl.transition(call, event, self._now())
        self.calls[call.call_id] = nxt
        out: list[Command] = list(commands)
        for fact in facts:
            out.extend(self._on_fact(nxt, fact))
        return out

    def _on_fact(self, call: Call, fact: cl.Fact) -> list[Command]:
        match fact:
            case cl.PickedUp() | cl.Verdict():
                self.journal.answered(call)
                return []
            case cl.PersonWaiting(adopted=adopted):
                return self._person(call, adopted=adopted)
            case cl.Connected(agent_id=agent_id, wait_s=wait):
                return self._connected(call, agent_id, wait)
            case cl.Dropped(wait_s=wait):
                run = self.campaigns[call.campaign_id]
                self._remove_from_queue(call)
                run.dropped += 1
                self._pacer_event(call.campaign_id, pt.DROP, call=call, value=wait)
                self.journal.dropped(call)
                self._publish_call(call, "dropped")
                log.warning(
                    "call_dropped",
                    call_id=call.call_id,
                    campaign=call.campaign_id,
                    server=call.server,
                    wait_s=round(wait, 3),
                    adopted=call.adopted,
                    **self._drop_context(call),
                )
                return []
            case cl.Ended(before=before):
                return self._ended(call, before)
            case cl.NotPlaced(message=message):
                return self._not_placed(call, message)
        return []  # pragma: no cover

    def _person(self, call: Call, *, adopted: bool) -> list[Command]:
        """A person is on the line: connect, or queue until the drop deadline. An adopted
        answer (its wait so far unknown) is connected at once or dropped at once."""
        run = self.campaigns[call.campaign_id]
        run.answered += 1
        self._pacer_event(call.campaign_id, pt.ANSWER, call=call, value=self._since_dial(call))
        self._publish_call(call, "answered")
        agent_id = call.reserved_agent
        if agent_id is None or self.agents[agent_id].state.call_id != call.call_id:
            agent_id = self._longest_idle(call.campaign_id, call.server)
        if agent_id is not None:
            return self._connect(call, agent_id)
        if adopted:
            log.warning("adopted_answer_without_agent", call_id=call.call_id)
            return self._call_step(call, cl.Drop())
        run.queue.append(call.call_id)
        return []

    def _connect(self, call: Call, agent_id: int) -> list[Command]:
        return self._call_step(call, cl.Connect(agent_id, self.agents[agent_id].seat))

    def _connected(self, call: Call, agent_id: int, wait: float) -> list[Command]:
        run = self.campaigns[call.campaign_id]
        run.connected += 1
        self._remove_from_queue(call)
        self.journal.connected(call)
        commands = self._agent(agent_id, ag.Connect(call.call_id))
        self._pacer_event(call.campaign_id, pt.CONNECT, call=call, agent_id=agent_id, value=wait)
        self._publish_call(call, "connected")
        self.sink.publish(
            screenpop_topic(agent_id),
            {
                "call_id": call.call_id,
                "campaign": call.campaign_id,
                "record": _record(call.lead),
            },
        )
        log.info("call_connected", call_id=call.call_id, agent=agent_id, wait_s=round(wait, 3))
        return commands

    def _drop_context(self, call: Call) -> dict[str, int]:
        """Why nobody took a dropped call: the campaign's agents by phase, and its ready
        agents on other servers or on a server whose session is down (for the log)."""
        phases: dict[str, int] = {}
        elsewhere = unreachable = 0
        for agent in self.agents.values():
            if agent.campaign_id != call.campaign_id:
                continue
            phase = agent.state.phase.value
            phases[phase] = phases.get(phase, 0) + 1
            if agent.state.phase is ag.Phase.READY:
                where = self._server_of(agent)
                if where in self.servers_down:
                    unreachable += 1
                elif where is not None and call.server and where != call.server:
                    elsewhere += 1
        calls: dict[str, int] = {}
        for c in self.calls.values():
            if c.campaign_id == call.campaign_id:
                calls[c.phase.value] = calls.get(c.phase.value, 0) + 1
        return {
            **{f"agents_{k}": v for k, v in sorted(phases.items())},
            **{f"calls_{k}": v for k, v in sorted(calls.items())},
            "ready_elsewhere": elsewhere,
            "ready_unreachable": unreachable,
        }

    def _server_of(self, agent: AgentRun) -> str | None:
        return None if self.seat_server is None else self.seat_server(agent.seat)

    def _seat_reachable(self, agent: AgentRun) -> bool:
        """The agent's seat is up on a server whose session is up (a call can reach it)."""
        return agent.state.seat_up and self._server_of(agent) not in self.servers_down

    def _longest_idle(self, campaign_id: int, server: str = "") -> int | None:
        """The ready agent idle longest; with ``server``, one whose seat is there (a
        Redirect cannot cross servers; a seat on an unknown server counts anywhere)."""
        best: AgentRun | None = None
        for agent in self.agents.values():
            if (
                agent.campaign_id == campaign_id
                and agent.state.phase is ag.Phase.READY
                and (best is None or agent.state.since < best.state.since)
            ):
                where = self._server_of(agent)
                if where in self.servers_down:
                    continue  # its server's session is down: no Redirect can reach it
                if not server or where is None or where == server:
                    best = agent
        return None if best is None else best.state.agent_id

    def _serve_queue(self, campaign_id: int) -> list[Command]:
        """Connect waiting persons, oldest first, each to a ready agent on its server."""
        run = self.campaigns.get(campaign_id)
        out: list[Command] = []
        if run is None:
            return out
        for call_id in list(run.queue):
            call = self.calls.get(call_id)
            if call is None or call.phase is not CallPhase.WAITING:
                if call_id in run.queue:
                    run.queue.remove(call_id)
                continue
            agent_id = self._longest_idle(campaign_id, call.server)
            if agent_id is None:
                if self._longest_idle(campaign_id) is None:
                    break  # nobody is ready anywhere
                continue
            out.extend(self._connect(call, agent_id))
        return out

    def _ended(self, call: Call, before: CallPhase) -> list[Command]:
        """The attempt is over: journal it, tell the pacer, free or wrap up its agent."""
        run = self.campaigns[call.campaign_id]
        out: list[Command] = []
        if before in {CallPhase.DIALING, CallPhase.SCREENING}:
            outcome = call.outcome or Outcome.FAILED
            self._pacer_event(
                call.campaign_id,
                pt.FAIL,
                call=call,
                value=self._since_dial(call),
                outcome=_PACER_FAIL.get(outcome, "congestion"),
            )
            if call.reserved_agent is not None:
                out = self._agent(call.reserved_agent, ag.Unreserve(call.call_id))
        elif before is CallPhase.TALKING:
            talk = (call.end_t or 0.0) - (call.connect_t or call.end_t or 0.0)
            run.talk_s += talk
            self._pacer_event(
                call.campaign_id, pt.HANGUP, call=call, agent_id=call.agent_id, value=talk
            )
        elif before is CallPhase.WAITING:
            self._remove_from_queue(call)
        self.journal.finished(call)
        self._publish_call(call, call.phase.value)
        if before is CallPhase.TALKING and call.agent_id is not None:
            out = self._agent(call.agent_id, ag.CallEnded(call.call_id))
        self._forget_if_done(call)
        return out

    def _not_placed(self, call: Call, message: str) -> list[Command]:
        """No call was placed: no attempt used, the pacer forgets the dial."""
        self._pacer_event(
            call.campaign_id, pt.FAIL, call=call, value=self._since_dial(call), outcome="congestion"
        )
        out: list[Command] = []
        if call.reserved_agent is not None:
            out = self._agent(call.reserved_agent, ag.Unreserve(call.call_id))
        log.warning(
            "call_not_placed",
            call_id=call.call_id,
            campaign=call.campaign_id,
            server=call.server,
            message=message,
        )
        self.journal.refused(call, message)
        self._publish_call(call, "not_placed")
        self._forget_if_done(call)
        # Only a server's refusal trips the breaker (a misconfiguration, the same for every
        # call); the edge's own (at capacity, not connected) passes with the moment.
        run = self.campaigns[call.campaign_id]
        if not call.server:
            return out
        run.not_placed_in_row += 1
        if run.state is RunState.RUNNING and run.not_placed_in_row >= self.refused_pause_after:
            reason = f"{run.not_placed_in_row} calls in a row were not placed: {message}"
            self._pause_itself(run, reason)
        return out

    def _pause_itself(self, run: CampaignRun, reason: str) -> None:
        """Circuit breaker: stop dialing a campaign that would only burn its list."""
        run.state = RunState.PAUSED
        run.paused_reason = reason
        self.self_paused.append((run.campaign_id, reason))
        log.error("campaign_paused_itself", campaign=run.campaign_id, reason=reason)
        self._publish_stats(run)

    def _reseat(self, server: str) -> list[Command]:
        """A server is (back) up: seats lost with it are started again, so agents who were
        ready are ready again without pressing anything."""
        out: list[Command] = []
        now = self.clock.now()
        for agent in list(self.agents.values()):
            state = agent.state
            # A seat still being set up is left to the edge, unless it has taken too long
            # (its Originate was refused while the server was away).
            stuck = state.pause_reason == ag.SEAT_PENDING and now - state.since > _SEAT_SETUP_S
            if (
                state.phase is ag.Phase.PAUSED
                and not state.seat_up
                and (state.pause_reason == ag.SEAT_LOST or stuck)
            ):
                log.info("seat_restarted", agent=state.agent_id, seat=agent.seat, server=server)
                out.extend(self._agent(state.agent_id, ag.GoReady()))
            elif state.phase is not ag.Phase.LOGGED_OUT and not state.seat_up:
                self._reseat_after_call.add(state.agent_id)
        return out

    def _remove_from_queue(self, call: Call) -> None:
        queue = self.campaigns[call.campaign_id].queue
        if call.call_id in queue:
            queue.remove(call.call_id)

    def _forget_if_done(self, call: Call) -> None:
        """Drop a call from memory once it is over and no agent still wraps it up."""
        if call.up:
            return
        if call.agent_id is not None:
            agent = self.agents.get(call.agent_id)
            if agent is not None and agent.state.call_id == call.call_id:
                return
        self.calls.pop(call.call_id, None)

    # ---- time ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must run next (a drop deadline or wrap-up timeout)."""
        times = [
            self._drop_at(call) for call in self.calls.values() if call.phase is CallPhase.WAITING
        ]
        for agent in self.agents.values():
            run = self.campaigns[agent.campaign_id]
            if agent.state.phase is ag.Phase.WRAP_UP:
                times.append(agent.state.since + run.wrapup_timeout_s)
            if agent.preview is not None and run.preview_timeout_s > 0:
                times.append(agent.preview_t + run.preview_timeout_s)
        return min(times, default=None)

    def _drop_at(self, call: Call) -> float:
        run = self.campaigns[call.campaign_id]
        return (call.answer_t or 0.0) + max(0.0, run.max_wait_s - run.drop_margin_s)

    def on_timer(self) -> list[Command]:
        """Drop persons at their deadline; end wrap-ups that timed out."""
        now = self.clock.now()
        out: list[Command] = []
        for call in list(self.calls.values()):
            if call.phase is CallPhase.WAITING and self._drop_at(call) <= now:
                out.extend(self._call_step(call, cl.Drop()))
        for agent in list(self.agents.values()):
            state = agent.state
            if state.phase is ag.Phase.WRAP_UP and state.call_id is not None:
                run = self.campaigns[agent.campaign_id]
                if state.since + run.wrapup_timeout_s <= now:
                    out.extend(self._agent(state.agent_id, ag.WrapupTimeout(state.call_id)))
        out.extend(self._preview_timeouts())
        return out

    def _reseat_elsewhere(self) -> list[Command]:
        """Agents whose seat is on a server down for ``reseat_after_s`` and who are not on
        a call (ready, reserved, or waiting for a seat) lose that seat and start one again,
        which the edge places on a server that is up; agents paused by choice, talking or
        wrapping up are left (a paused one is re-seated once ready)."""
        if self.reseat_after_s is None or self.seat_server is None or not self._down_since:
            return []
        now = self.clock.now()
        gone = {s for s, t in self._down_since.items() if now - t >= self.reseat_after_s}
        out: list[Command] = []
        for agent in list(self.agents.values()):
            state = agent.state
            if self.seat_server(agent.seat) not in gone:
                continue
            waiting_seat = state.phase is ag.Phase.PAUSED and (
                state.pause_reason == ag.SEAT_LOST
                or (state.pause_reason == ag.SEAT_PENDING and now - state.since > _SEAT_SETUP_S)
            )
            if not (state.phase in {ag.Phase.READY, ag.Phase.RESERVED} or waiting_seat):
                continue
            log.warning(
                "agent_reseated",
                agent=state.agent_id,
                seat=agent.seat,
                server=self.seat_server(agent.seat),
            )
            out.extend(self._agent(state.agent_id, ag.SeatDown()))
            after = self.agents[state.agent_id].state
            if after.phase is ag.Phase.PAUSED and after.pause_reason == ag.SEAT_LOST:
                out.extend(self._agent(state.agent_id, ag.GoReady()))
        return out

    def tick(self) -> list[Command]:
        """Dial for every running campaign; also runs due timers."""
        out = self.on_timer()
        out.extend(self._reseat_elsewhere())
        overloaded = self.overloaded
        for run in self.campaigns.values():
            self._check_seats(run)
            self._alert(run, "overload", overloaded)
            if run.state is RunState.RUNNING and not self.draining and not run.handing_over:
                out.extend(self._dial(run))
            self._publish_stats(run)
        return out

    def report_lag(self, what: str, seconds: float) -> None:
        """The loop carrying the engine lags (``what``: tick lateness, answer-to-connect, AMI
        round trip): past ``overload_lag_s`` the campaigns fall back to progressive."""
        if seconds <= self.overload_lag_s:
            return
        why = f"{what} {seconds:.2f} s > {self.overload_lag_s:.2f} s: dialing progressively"
        if self._overload is None:
            log.warning("engine_overloaded", lag=what, seconds=round(seconds, 3))
        self._overload = (self.clock.now(), why)

    @property
    def overloaded(self) -> str | None:
        """Why the engine dials progressively now (None: it is not overloaded)."""
        if self._overload is None:
            return None
        since, why = self._overload
        if self.clock.now() - since > self.overload_hold_s:
            self._overload = None
            log.info("engine_overload_over")
            return None
        return why

    def _check_seats(self, run: CampaignRun) -> None:
        """Alert when agents are logged in to the campaign but not one has a seat up."""
        agents = [
            a
            for a in self._campaign_agents(run.campaign_id)
            if a.state.phase is not ag.Phase.LOGGED_OUT
        ]
        # A seat being set up gets a few seconds before it counts as missing.
        now = self.clock.now()
        lost = (
            bool(agents)
            and not any(a.state.seat_up for a in agents)
            and any(
                a.state.pause_reason != ag.SEAT_PENDING or now - a.state.since > _SEAT_SETUP_S
                for a in agents
            )
        )
        self._alert(
            run,
            "no_seat",
            f"none of the {len(agents)} logged-in agents has a seat up: nothing is dialed"
            if lost
            else None,
        )

    def _alert(self, run: CampaignRun, code: str, message: str | None) -> None:
        """Raise (logged once) or clear an alert of a campaign."""
        if message is None:
            if run.alerts.pop(code, None) is not None:
                log.info("campaign_alert_cleared", campaign=run.campaign_id, alert=code)
            return
        if code not in run.alerts:
            log.warning("campaign_alert", campaign=run.campaign_id, alert=code, message=message)
        run.alerts[code] = message

    def in_flight(self) -> tuple[set[int], set[str]]:
        """Records and numbers of this engine's calls up or wrapped up, and of records shown
        in previews: a desk's own claim excludes them."""
        records, phones = self._in_flight()
        previews = [a.preview for a in self.agents.values() if a.preview is not None]
        return records | {p.record_id for p in previews}, phones | {p.phone for p in previews}

    def _in_flight(self) -> tuple[set[int], set[str]]:
        """Records and numbers of this engine's calls up or wrapped up: never claimed again
        meanwhile, whatever their leases say (a lease may lapse while the database is away)."""
        calls = self.calls.values()
        return {c.lead.record_id for c in calls}, {c.lead.phone for c in calls}

    # ---- restart adoption ---------------------------------------------------------------

    def adopt(self, call: Call, *, seat: str | None = None) -> list[Command]:
        """Take over a call an earlier start left live on Asterisk (restart adoption).

        ``call.phase`` says where it was found: TALKING (``call.agent_id`` on ``seat``: the
        agent is logged in on that seat, talking on it, and wraps up as usual when it ends),
        WAITING (a person on hold: connected to a ready agent, else dropped at once and
        counted) or DROPPED (hearing the message: followed until it ends). Its facts are
        journaled again, so its row has answer, connect and agent.
        """
        run = self.campaign(call.campaign_id)
        now = self._now()
        call = replace(
            call,
            index=next(run.dial_index),
            dial_t=now.t - max(0.0, (now.at - call.dial_at).total_seconds()),
            answer_t=now.t,
            answer_at=call.answer_at or now.at,
            person_at=call.person_at or call.answer_at or now.at,
            adopted=True,
        )
        self.calls[call.call_id] = call
        self._pacer_event(run.campaign_id, pt.DIAL, call=call)
        log.info(
            "call_adopted",
            call_id=call.call_id,
            campaign=run.campaign_id,
            phase=call.phase.value,
            agent=call.agent_id,
        )
        if call.phase is CallPhase.WAITING:
            self.journal.answered(call)
            return self._person(call, adopted=True)
        if call.phase is not CallPhase.TALKING:
            self.journal.answered(call)
            self.journal.dropped(call)
            return []
        agent_id, before = call.agent_id, ag.AgentState(agent_id=call.agent_id or 0)
        if agent_id is None or seat is None:
            raise EngineError(f"adopted call {call.call_id} talks with no agent or seat")
        current = self.agents.get(agent_id)
        if current is not None and current.state.phase is not ag.Phase.LOGGED_OUT:
            raise EngineError(f"agent {agent_id} is already logged in")
        state, _ = ag.transition(before, ag.Login(), now.t)  # its seat is up: not started
        state, _ = ag.transition(state, ag.SeatUp(), now.t)
        state, _ = ag.transition(state, ag.Connect(call.call_id), now.t)
        agent = AgentRun(state, seat, call.campaign_id, logged_in_t=now.t)
        self.agents[agent_id] = agent
        self._seats[seat] = agent_id
        call = self.calls[call.call_id] = replace(
            call, connect_t=now.t, connect_at=call.connect_at or now.at
        )
        self._pacer_event(run.campaign_id, pt.LOGIN, agent_id=agent_id)
        self._pacer_event(run.campaign_id, pt.ANSWER, call=call, value=0.0)
        self._pacer_event(run.campaign_id, pt.CONNECT, call=call, agent_id=agent_id, value=0.0)
        self._on_phase_change(agent, before, now.t)
        self.journal.answered(call)
        self.journal.connected(call)
        self._publish_call(call, "connected")
        self.sink.publish(
            screenpop_topic(agent_id),
            {"call_id": call.call_id, "campaign": call.campaign_id, "record": _record(call.lead)},
        )
        return []

    def adopt_agent(self, agent_id: int, seat: str, campaign_id: int) -> list[Command]:
        """Take over an agent whose seat is up and idle on Asterisk (a campaign taken over
        from another engine): logged in to ``campaign_id`` and ready, its seat kept."""
        self.campaign(campaign_id)
        current = self.agents.get(agent_id)
        if current is not None and current.state.phase is not ag.Phase.LOGGED_OUT:
            raise EngineError(f"agent {agent_id} is already logged in")
        now = self.clock.now()
        before = ag.AgentState(agent_id=agent_id)
        state, _ = ag.transition(before, ag.Login(), now)  # its seat is up: not started
        state, _ = ag.transition(state, ag.SeatUp(), now)
        agent = AgentRun(state, seat, campaign_id, logged_in_t=now)
        self.agents[agent_id] = agent
        self._seats[seat] = agent_id
        self._pacer_event(campaign_id, pt.LOGIN, agent_id=agent_id)
        self._on_phase_change(agent, before, now)
        log.info("agent_adopted", agent=agent_id, seat=seat, campaign=campaign_id)
        return self._serve_queue(campaign_id)

    def remove_campaign(self, campaign_id: int) -> list[str]:
        """Forget a campaign another engine now owns (its lease was lost): its calls and
        agents are dropped from memory without a command (the new owner adopts them on
        Asterisk); returns the call ids forgotten."""
        self.campaigns.pop(campaign_id, None)
        gone = [cid for cid, call in self.calls.items() if call.campaign_id == campaign_id]
        for call_id in gone:
            del self.calls[call_id]
        for agent_id, agent in list(self.agents.items()):
            if agent.campaign_id == campaign_id:
                del self.agents[agent_id]
                if self._seats.get(agent.seat) == agent_id:
                    del self._seats[agent.seat]
        log.warning("campaign_removed", campaign=campaign_id, calls=len(gone))
        return gone

    # ---- graceful stop ------------------------------------------------------------------

    def hang_up_all(self) -> list[Command]:
        """The drain time is over: hang up every call still up."""
        return [HangupCall(c.call_id) for c in self.calls.values() if c.up]

    def settle_left(self, why: str) -> list[Command]:
        """End the calls whose hang-up never came back (their server is gone): a ringing
        one as cancelled (no attempt used), an answered one as hung up."""
        out: list[Command] = []
        for call in [c for c in self.calls.values() if c.up]:
            if call.phase in {CallPhase.DIALING, CallPhase.SCREENING}:
                event: cl.CallEvent = cl.Failed(Outcome.CANCELLED, 0, why)
            else:
                event = cl.HungUp(0, why)
            out.extend(self._call_step(call, event))
        return out

    def close_agents(self) -> list[Command]:
        """Stopping: wrap-ups end with the campaign's default status; agents are logged out
        (their seats stopped)."""
        out: list[Command] = []
        for agent_id, agent in list(self.agents.items()):
            state = agent.state
            if state.phase is ag.Phase.WRAP_UP and state.call_id is not None:
                out.extend(self._agent(agent_id, ag.WrapupTimeout(state.call_id)))
            if agent.state.phase is not ag.Phase.LOGGED_OUT:
                out.extend(self._agent(agent_id, ag.Logout()))
        return out

    def live_record_ids(self) -> list[int]:
        """Records whose call is up or still being wrapped up, and records shown in
        previews (their leases must be kept)."""
        previews = {a.preview.record_id for a in self.agents.values() if a.preview is not None}
        return sorted({call.lead.record_id for call in self.calls.values()} | previews)

    def campaign_quiet(self, campaign_id: int) -> bool:
        """No call of the campaign is up and none of its agents is reserved, talking,
        wrapping up or shown a preview: it can move as it is."""
        if any(call.campaign_id == campaign_id and call.up for call in self.calls.values()):
            return False
        busy = {ag.Phase.RESERVED, ag.Phase.TALKING, ag.Phase.WRAP_UP}
        return not any(
            a.state.phase in busy or a.preview is not None
            for a in self._campaign_agents(campaign_id)
        )

    def calls_up(self) -> int:
        """Calls holding a line."""
        return sum(1 for call in self.calls.values() if call.up)

    def _campaign_agents(self, campaign_id: int) -> list[AgentRun]:
        return [a for a in self.agents.values() if a.campaign_id == campaign_id]

    def view(self, campaign_id: int) -> pt.View:
        """The pacer's view of a campaign now (reserved agents and their calls left out)."""
        now = self.clock.now()
        ready: list[float] = []
        talking: list[float] = []
        wrapup: list[float] = []
        logged_in = 0
        for agent in self._campaign_agents(campaign_id):
            state = agent.state
            if state.phase in {ag.Phase.LOGGED_OUT, ag.Phase.RESERVED}:
                continue
            logged_in += 1
            if state.phase is ag.Phase.READY:
                ready.append(now - state.since)
            elif state.phase is ag.Phase.TALKING:
                talking.append(now - state.since)
            elif state.phase is ag.Phase.WRAP_UP:
                wrapup.append(now - state.since)
        ringing = [
            now - call.dial_t
            for call in self.calls.values()
            if call.campaign_id == campaign_id
            and call.phase in {CallPhase.DIALING, CallPhase.SCREENING}
            and call.reserved_agent is None
        ]
        run = self.campaigns[campaign_id]
        return pt.View(
            t=now,
            agents_logged_in=logged_in,
            agents_ready=len(ready),
            ready_idle_s=tuple(sorted(ready, reverse=True)),
            talking_elapsed_s=tuple(sorted(talking, reverse=True)),
            wrapup_elapsed_s=tuple(sorted(wrapup, reverse=True)),
            ringing_elapsed_s=tuple(sorted(ringing, reverse=True)),
            calls_waiting=len(run.queue),
            lines_free=max(0, self.lines - self.calls_up()),
        )

    def _dial(self, run: CampaignRun) -> list[Command]:
        agents = self._campaign_agents(run.campaign_id)
        if not any(
            a.state.phase is not ag.Phase.LOGGED_OUT and self._seat_reachable(a) for a in agents
        ):
            return []  # nobody logged in, or no seat left to connect a person to
        now = self.clock.now()
        wall = self.clock.utcnow()
        run.outside_hours = run.hours is not None and not is_open(run.hours, run.hours_tz, wall)
        if run.outside_hours:
            return []
        out: list[Command] = []
        # Callbacks and progressive redials first, each with its agent reserved. One cheap
        # look every reserved_check_s says which ready agents have work waiting.
        if now - run.reserved_checked_t >= self.reserved_check_s:
            run.reserved_checked_t = now
            ready = [
                a.state.agent_id
                for a in sorted(agents, key=lambda a: a.state.since)
                if a.state.phase is ag.Phase.READY and a.preview is None
            ]
            owners, progressive = (
                self.leads.reserved_work(run.campaign_id, ready, wall) if ready else (set(), 0)
            )
            others = [a for a in ready if a not in owners][:progressive]
            for agent_id in [a for a in ready if a in owners] + others:
                if self.calls_up() >= self.lines:
                    break
                records, phones = self._in_flight()
                lead = self.leads.claim_reserved(
                    run.campaign_id,
                    agent_id,
                    wall,
                    exclude_records=records,
                    exclude_phones=phones,
                )
                if lead is not None:
                    call = self._new_call(run, lead, reserved=agent_id)
                    out.extend(self._agent(agent_id, ag.Reserve(call.call_id)))
                    out.append(self._originate(run, call))
        if run.dial_mode is DialMode.PREVIEW:
            # Never dialed predictively: each ready agent dials its own next record.
            self._offer_previews(run)
            return out
        view = self.view(run.campaign_id)
        n = run.pacer.decide(view)
        if self._overload is not None:
            # A starved engine may lose occupancy, never compliance: nobody is dialed for
            # whom no ready agent is already waiting.
            n = min(n, view.agents_ready - len(view.ringing_elapsed_s) - view.calls_waiting)
        n = max(0, min(int(n), self.lines - self.calls_up()))
        if n == 0:
            return out
        records, phones = self._in_flight()
        leads = self.leads.claim(
            run.campaign_id, n, wall, exclude_records=records, exclude_phones=phones
        )
        run.exhausted = not leads and self.leads.exhausted(run.campaign_id)
        plan = self._placement(run)  # one look at seats and calls for the whole batch
        out.extend(
            self._originate(run, self._new_call(run, lead, reserved=None), plan=plan)
            for lead in leads
        )
        return out

    def _new_call(self, run: CampaignRun, lead: Lead, *, reserved: int | None) -> Call:
        call_id = f"{self.call_prefix}-{next(self._seq)}"
        call = Call(
            call_id=call_id,
            index=next(run.dial_index),
            campaign_id=run.campaign_id,
            lead=lead,
            reserved_agent=reserved,
            dial_t=self.clock.now(),
            dial_at=self.clock.utcnow(),
        )
        self.calls[call_id] = call
        return call

    def _originate(
        self, run: CampaignRun, call: Call, *, plan: dict[str, list[int]] | None = None
    ) -> Originate:
        server = self._place(run, call, plan)
        if server is not None:
            call = self.calls[call.call_id] = replace(call, server=server)
        run.dials += 1
        self._pacer_event(run.campaign_id, pt.DIAL, call=call)
        self.journal.dialed(call)
        self._publish_call(call, "dialing")
        variables = {
            "DIALER_CALL": call.call_id,
            "DIALER_CAMPAIGN": str(run.campaign_id),
            "DIALER_RECORD": str(call.lead.record_id),
        }
        if run.amd:
            variables["DIALER_AMD"] = "1"
        return Originate(call.call_id, run.campaign_id, call.lead.phone, variables, server)

    def _place(
        self, run: CampaignRun, call: Call, plan: dict[str, list[int]] | None = None
    ) -> str | None:
        """The server for a new call: its reserved agent's, else the one where the
        campaign's seats have the fewest calls not yet connected per seat (None: seats'
        servers unknown, any server will do). ``plan``: :meth:`_placement`'s counts made
        for a batch of new calls (each call placed counts in it)."""
        if self.seat_server is None:
            return None
        if call.reserved_agent is not None:
            agent = self.agents.get(call.reserved_agent)
            return None if agent is None else self._server_of(agent)
        counts = self._placement(run, call.call_id) if plan is None else plan
        if not counts:
            return None
        server = min(counts, key=lambda s: (counts[s][1] / counts[s][0], -counts[s][0], s))
        counts[server][1] += 1
        return server

    def _placement(self, run: CampaignRun, skip_call: str | None = None) -> dict[str, list[int]]:
        """Per server with seats of the campaign: [seats, calls not yet connected] (none
        when servers are not told apart); ``skip_call`` is not counted."""
        if self.seat_server is None:
            return {}
        seats: dict[str, int] = {}
        for agent in self._campaign_agents(run.campaign_id):
            if agent.state.phase is ag.Phase.LOGGED_OUT or not self._seat_reachable(agent):
                continue
            where = self._server_of(agent)
            if where is not None:
                seats[where] = seats.get(where, 0) + 1
        counts = {server: [n, 0] for server, n in seats.items()}
        for other in self.calls.values():
            if (
                other.campaign_id == run.campaign_id
                and other.call_id != skip_call
                and other.server in counts
                and other.phase in {CallPhase.DIALING, CallPhase.SCREENING, CallPhase.WAITING}
            ):
                counts[other.server][1] += 1
        return counts

    # ---- outputs ------------------------------------------------------------------------

    def _since_dial(self, call: Call) -> float:
        return self.clock.now() - call.dial_t

    def _pacer_event(
        self,
        campaign_id: int,
        kind: str,
        *,
        call: Call | None = None,
        agent_id: int | None = None,
        value: float | None = None,
        outcome: str | None = None,
    ) -> None:
        run = self.campaigns.get(campaign_id)
        if run is None:
            return
        run.pacer.observe(
            pt.Event(
                t=self.clock.now(),
                kind=kind,
                call_id=None if call is None else call.index,
                agent_id=agent_id,
                value=value,
                outcome=outcome,
            )
        )

    def _publish_call(self, call: Call, state: str) -> None:
        self.sink.publish(
            call_topic(call.campaign_id, call.call_id),
            {
                "call_id": call.call_id,
                "campaign": call.campaign_id,
                "record_id": call.lead.record_id,
                "phone": call.lead.phone,
                "state": state,
                "outcome": call.outcome.value if call.outcome else None,
                "agent": call.agent_id,
            },
        )

    def stats(self, campaign_id: int) -> dict[str, Any]:
        """Live figures of a campaign (also published, retained, every tick)."""
        run = self.campaign(campaign_id)
        now = self.clock.now()
        by_phase = dict.fromkeys((p.value for p in ag.Phase), 0)
        logged_in_s = 0.0
        for agent in self._campaign_agents(campaign_id):
            by_phase[agent.state.phase.value] += 1
            logged_in_s += agent.logged_in_s
            if agent.state.phase is not ag.Phase.LOGGED_OUT:
                logged_in_s += now - agent.logged_in_t
        calls = [c for c in self.calls.values() if c.campaign_id == campaign_id]
        ringing = sum(1 for c in calls if c.phase in {CallPhase.DIALING, CallPhase.SCREENING})
        active_agents = sum(
            n for phase, n in by_phase.items() if phase not in {"logged_out", "paused"}
        )
        talking_now = sum(now - (c.connect_t or now) for c in calls if c.phase is CallPhase.TALKING)
        return {
            "campaign": campaign_id,
            "name": run.name,
            "state": run.state.value,
            "dial_level": round(ringing / active_agents, 3) if active_agents else 0.0,
            "calls": {
                "ringing": ringing,
                "waiting": sum(1 for c in calls if c.phase is CallPhase.WAITING),
                "talking": sum(1 for c in calls if c.phase is CallPhase.TALKING),
            },
            "agents": by_phase,
            "dials": run.dials,
            "answered": run.answered,
            "connected": run.connected,
            "dropped": run.dropped,
            "abandon_rate": round(run.abandon_rate(), 5),
            "occupancy": round((run.talk_s + talking_now) / logged_in_s, 4) if logged_in_s else 0.0,
            "list_exhausted": run.exhausted,
            "outside_hours": run.outside_hours,
            "paused_reason": run.paused_reason,
            "alerts": dict(run.alerts),
            "pacer_reason": pt.pacer_reason(run.pacer),
        }

    def live_calls(self, campaign_id: int) -> list[dict[str, Any]]:
        """The campaign's calls up now, oldest first: number, agent, phase, seconds since
        the dial and since the person was connected (for the supervisors' dashboard)."""
        now = self.clock.now()
        up = [
            c
            for c in self.calls.values()
            if c.campaign_id == campaign_id
            and c.phase not in {CallPhase.ENDED, CallPhase.FAILED, CallPhase.DROPPED}
        ]
        return [
            {
                "call_id": c.call_id,
                "record_id": c.lead.record_id,
                "phone": c.lead.phone,
                "agent": c.agent_id if c.agent_id is not None else c.reserved_agent,
                "state": c.phase.value,
                "duration_s": round(max(0.0, now - c.dial_t), 1),
                "talk_s": round(max(0.0, now - c.connect_t), 1) if c.connect_t else None,
            }
            for c in sorted(up, key=lambda c: c.dial_t)
        ]

    def _publish_stats(self, run: CampaignRun) -> None:
        self.sink.publish(
            campaign_stats_topic(run.campaign_id), self.stats(run.campaign_id), retain=True
        )


def _record(lead: Lead) -> dict[str, Any]:
    """The record as an agent's screen shows it."""
    return {
        "id": lead.record_id,
        "phone": lead.phone,
        "name": lead.name,
        "fields": dict(lead.fields),
        "system_status": lead.system_status,
        "attempt": lead.attempt,
    }
