"""Simulated agents for the demo and ``dialer simulate``: they act by themselves.

They follow a scenario's agent model: a head-count schedule (log in, log out), wrap-up
after each call drawn from a distribution and ended by setting a status, and breaks at a
rate per agent-hour with a drawn length. They act through the same engine calls a person's
CLI, MQTT or web actions use, so the engine cannot tell them from people.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
import structlog

from asterisk.scenario import load_scenario
from campaigns.db import make_engine
from campaigns.dispositions import campaign_statuses
from campaigns.enums import SystemStatus
from campaigns.models import Campaign
from dialer.config import Settings
from dialer.engine import Command, Engine, PhaseChange
from dialer.engine import agents as ag
from dialer.errors import ROOT_ERRORS, DialerError

log = structlog.get_logger(__name__)

BREAK = "break"
#: Every this many seconds (engine clock) simulated agents look at all their agents, not
#: only those the engine said changed phase.
SWEEP_S = 1.0


class Sampler(Protocol):
    """A random duration in seconds."""

    def sample(self, rng: random.Random) -> float:
        """One draw."""


@dataclass(frozen=True, slots=True)
class Disposition:
    """A status a simulated agent gives, how often, and for dated statuses how far ahead."""

    status_id: int
    weight: float
    date_in_s: float | None = None


class SimAgents:
    """Agents driven by a head-count schedule, wrap-up and pause draws."""

    def __init__(
        self,
        *,
        campaign_id: int,
        schedule: Sequence[tuple[float, int]],
        wrapup: Sampler,
        dispositions: Sequence[Disposition],
        pause_rate_per_hour: float = 0.0,
        pause_duration: Sampler | None = None,
        seed: int = 1,
        seat_of: Callable[[int], str] = lambda agent_id: str(1000 + agent_id),
        agent_ids: Sequence[int] | None = None,
    ) -> None:
        if not dispositions:
            msg = "simulated agents need at least one status to give"
            raise ValueError(msg)
        self.campaign_id = campaign_id
        self.wrapup = wrapup
        self.dispositions = list(dispositions)
        self.pause_rate = pause_rate_per_hour
        self.pause_duration = pause_duration
        self.rng = random.Random(seed)
        self.seat_of = seat_of
        self.max_agents = max(n for _, n in schedule)
        #: The agents this schedule logs in, in order (default 1..max).
        self.agent_ids = list(agent_ids or range(1, self.max_agents + 1))
        self._heap: list[tuple[float, int, Callable[[Engine, float], list[Command]]]] = []
        self._seq = itertools.count()
        self._seen: dict[int, tuple[ag.Phase, str | None, str | None]] = {}
        self._logged: set[int] = set()
        #: Agents whose phase changed since the last step (told by :meth:`agent_phase`);
        #: every ``sweep_s`` all agents are looked at anyway (a change nobody told).
        self._changed: set[int] = set()
        self._swept = -math.inf
        self._known = set(self.agent_ids)
        for t, n in schedule:
            self._at(t, self._headcount(n))

    def _at(self, t: float, action: Callable[[Engine, float], list[Command]]) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), action))

    def next_time(self) -> float | None:
        """When :meth:`step` has something to do next."""
        return self._heap[0][0] if self._heap else None

    def step(self, engine: Engine, now: float) -> list[Command]:
        """Carry out what is due, and notice new wrap-ups and breaks."""
        out: list[Command] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, action = heapq.heappop(self._heap)
            try:
                out.extend(action(engine, now))
            except ROOT_ERRORS as exc:  # one agent's refusal must not lose the others' steps
                log.warning("sim_agent_action_refused", error=str(exc))
        out.extend(self._observe(engine, now))
        return out

    # ---- behaviours ---------------------------------------------------------------------

    def _headcount(self, n: int) -> Callable[[Engine, float], list[Command]]:
        def apply(engine: Engine, now: float) -> list[Command]:
            out: list[Command] = []
            wanted = set(self.agent_ids[:n])
            for agent_id in sorted(wanted - self._logged):
                run = engine.agents.get(agent_id)
                if run is not None and run.state.phase is not ag.Phase.LOGGED_OUT:
                    continue  # still finishing a call before a logout we now cancel
                out.extend(engine.agent_login(agent_id, self.seat_of(agent_id), self.campaign_id))
                self._logged.add(agent_id)
                self._schedule_break(agent_id, now)
            for agent_id in sorted(self._logged - wanted, reverse=True):
                out.extend(engine.agent_logout(agent_id))
                self._logged.discard(agent_id)
            return out

        return apply

    def _schedule_break(self, agent_id: int, now: float) -> None:
        if self.pause_rate <= 0 or self.pause_duration is None:
            return
        gap = self.rng.expovariate(self.pause_rate / 3600.0)

        def request(engine: Engine, t: float) -> list[Command]:
            if agent_id not in self._logged:
                return []
            try:
                return engine.agent_pause(agent_id, BREAK)
            except ROOT_ERRORS:  # logged out meanwhile, or not pausable now
                return []

        self._at(now + gap, request)

    def agent_phase(self, change: PhaseChange) -> None:
        """The engine says an agent changed phase: look at it at the next step (instead of
        looking at every agent every step: hundreds of agents per engine in the bench)."""
        if change.agent_id in self._known:
            self._changed.add(change.agent_id)

    def _observe(self, engine: Engine, now: float) -> list[Command]:
        out: list[Command] = []
        if now - self._swept >= SWEEP_S:
            self._swept = now
            ids: Iterable[int] = self.agent_ids
        else:
            ids = sorted(self._changed)
        self._changed.clear()
        for agent_id in ids:
            run = engine.agents.get(agent_id)
            if run is None:
                continue
            state = run.state
            key = (state.phase, state.call_id, state.pause_reason)
            if self._seen.get(agent_id) == key:
                continue
            self._seen[agent_id] = key
            if state.phase is ag.Phase.WRAP_UP and state.call_id is not None:
                self._at(now + self.wrapup.sample(self.rng), self._finish(agent_id, state.call_id))
            elif (
                state.phase is ag.Phase.PAUSED
                and state.pause_reason == BREAK
                and self.pause_duration is not None
            ):
                self._at(now + self.pause_duration.sample(self.rng), self._back(agent_id))
        return out

    def _finish(self, agent_id: int, call_id: str) -> Callable[[Engine, float], list[Command]]:
        def apply(engine: Engine, now: float) -> list[Command]:
            run = engine.agents.get(agent_id)
            if run is None or run.state.call_id != call_id:
                return []
            choice = self.rng.choices(
                self.dispositions, weights=[d.weight for d in self.dispositions]
            )[0]
            date = None
            if choice.date_in_s is not None:
                date = engine.clock.utcnow() + dt.timedelta(seconds=choice.date_in_s)
            try:
                return engine.agent_set_status(agent_id, call_id, choice.status_id, date=date)
            except ROOT_ERRORS:
                # Refused (e.g. a callback on the record's last attempt): like a person, pick
                # a status that takes no date instead.
                undated = [d for d in self.dispositions if d.date_in_s is None]
                if not undated:
                    raise
                return engine.agent_set_status(agent_id, call_id, undated[0].status_id)

        return apply

    def _back(self, agent_id: int) -> Callable[[Engine, float], list[Command]]:
        def apply(engine: Engine, now: float) -> list[Command]:
            run = engine.agents.get(agent_id)
            if run is None or run.state.phase is not ag.Phase.PAUSED:
                return []
            if run.state.pause_reason != BREAK:
                return []
            self._schedule_break(agent_id, now)
            return engine.agent_ready(agent_id)

        return apply


_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]


class SimAgentsError(DialerError):
    """Simulated agents cannot be set up for the campaign named: the message says why."""

    error_id = "sim_agents"


def scenario_agents(
    settings: Settings, scenario_path: Path, campaign: str, *, seed: int = 1
) -> SimAgents:
    """Simulated agents of a scenario working ``campaign``: they close each call with one of
    the campaign's TO_CALL or DO_NOT_CALL statuses (for demos, soak and crash tests)."""

    scenario = load_scenario(scenario_path)
    db = make_engine(settings.database.url)
    try:
        with db.connect() as conn:
            row = conn.execute(
                sa.select(_CAMPAIGN.c.id).where(
                    sa.or_(
                        _CAMPAIGN.c.name == campaign, sa.cast(_CAMPAIGN.c.id, sa.String) == campaign
                    )
                )
            ).first()
            if row is None:
                msg = f"--campaign {campaign!r}: no such campaign"
                raise SimAgentsError(msg)
            options = campaign_statuses(conn, int(row[0]))
    finally:
        db.dispose()
    weights = {SystemStatus.DO_NOT_CALL: 0.6, SystemStatus.TO_CALL: 0.4}
    dispositions = [
        Disposition(o.id, weights[o.system_status])
        for o in options
        if o.system_status in weights and o.active
    ]
    if not dispositions:
        msg = f"--campaign {campaign!r} offers no TO_CALL or DO_NOT_CALL status"
        raise SimAgentsError(msg)
    return SimAgents(
        campaign_id=int(row[0]),
        schedule=[(t, int(n)) for t, n in scenario.agents.steps],
        wrapup=scenario.wrapup,
        dispositions=dispositions,
        pause_rate_per_hour=scenario.pause_rate_per_hour,
        pause_duration=scenario.pause_duration,
        seed=seed,
        seat_of=lambda agent_id: f"agent{agent_id}",
    )


class CampaignsSimAgents:
    """Simulated agents of several campaigns (a cluster's engine): each campaign's agents
    act only while this engine runs the campaign, so they follow it to another engine."""

    def __init__(self, by_campaign: Mapping[int, SimAgents]) -> None:
        self.by_campaign = dict(by_campaign)

    def next_time(self) -> float | None:
        """When :meth:`step` has something to do next."""
        times = [t for sim in self.by_campaign.values() if (t := sim.next_time()) is not None]
        return min(times, default=None)

    def agent_phase(self, change: PhaseChange) -> None:
        """The engine says an agent changed phase (see :meth:`SimAgents.agent_phase`)."""
        sim = self.by_campaign.get(change.campaign_id)
        if sim is not None:
            sim.agent_phase(change)

    def step(self, engine: Engine, now: float) -> list[Command]:
        """Step the agents of every campaign the engine runs now."""
        out: list[Command] = []
        for campaign_id, sim in self.by_campaign.items():
            if campaign_id in engine.campaigns:
                out.extend(sim.step(engine, now))
        return out


def all_campaigns_agents(
    settings: Settings, scenario_path: Path, *, seed: int = 1
) -> CampaignsSimAgents:
    """``--campaign all``: the scenario's agents for every campaign in the database, the
    agents of the k-th campaign (in id order) being agent ids k*n+1 .. k*n+n (n: the
    scenario's largest head count; seats ``agent<id>``)."""
    scenario = load_scenario(scenario_path)
    db = make_engine(settings.database.url)
    try:
        with db.connect() as conn:
            ids = [
                int(c)
                for c in conn.execute(sa.select(_CAMPAIGN.c.id).order_by(_CAMPAIGN.c.id)).scalars()
            ]
    finally:
        db.dispose()
    if not ids:
        msg = "--campaign all: the database has no campaign"
        raise SimAgentsError(msg)
    per = max(int(n) for _, n in scenario.agents.steps)
    out: dict[int, SimAgents] = {}
    for k, campaign_id in enumerate(ids):
        one = scenario_agents(settings, scenario_path, str(campaign_id), seed=seed + k)
        out[campaign_id] = SimAgents(
            campaign_id=campaign_id,
            schedule=[(t, int(n)) for t, n in scenario.agents.steps],
            wrapup=scenario.wrapup,
            dispositions=one.dispositions,
            pause_rate_per_hour=scenario.pause_rate_per_hour,
            pause_duration=scenario.pause_duration,
            seed=seed + k,
            seat_of=lambda agent_id: f"agent{agent_id}",
            agent_ids=range(k * per + 1, k * per + per + 1),
        )
    return CampaignsSimAgents(out)
