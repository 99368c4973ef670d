"""``dialer simulate``: the real engine, in virtual time, against the PBX world model.

The engine, its pacer, the simulated agents and the AMI protocol mapping are the same code
that runs in production; only the clock is virtual and the records come from an endless
generated list (a dropped person is redialed progressively, with an agent reserved, as the
status engine does). A working day passes in seconds.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from asterisk import events as ev
from asterisk.memory import WorldTelephony
from asterisk.scenario import Scenario, ScenarioBehaviour
from asterisk.settings import AmiServerSettings
from asterisk.world import World
from campaigns.enums import Outcome
from dialer.clock import VirtualClock
from dialer.engine import Call, CampaignRun, Command, Engine, Lead, RunState
from dialer.mqtt import MemorySink
from dialer.simagents import Disposition, SimAgents
from dialer.telephony import execute_now
from pacing import types as pt

HOUR_S = 3600.0
DAY_S = 86400.0
MIN_ANSWERS_PER_HOUR = 20


class EndlessLeads:
    """Fresh generated records without end, plus the progressive redials of drops."""

    def __init__(self, campaign_id: int = 1) -> None:
        self.campaign_id = campaign_id
        self._ids = itertools.count(1)
        self.progressive: deque[Lead] = deque()

    def claim(
        self,
        campaign_id: int,
        n: int,
        now: object,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> list[Lead]:
        """``n`` new records (never in flight: exclusions have nothing to remove)."""
        return [self._fresh() for _ in range(n)]

    def reserved_work(
        self, campaign_id: int, agent_ids: Sequence[int], now: object
    ) -> tuple[set[int], int]:
        """No callbacks here; the dropped people waiting for a progressive redial."""
        return set(), min(len(self.progressive), len(agent_ids))

    def claim_reserved(
        self,
        campaign_id: int,
        agent_id: int,
        now: object,
        *,
        exclude_records: Collection[int] = (),
        exclude_phones: Collection[str] = (),
    ) -> Lead | None:
        """A dropped person to call back with this agent reserved (queued once the dropped
        call ended, so never in flight)."""
        return self.progressive.popleft() if self.progressive else None

    def release(self, record_ids: Sequence[int]) -> None:
        """Nothing to give back: records are generated."""

    def _fresh(self) -> Lead:
        rid = next(self._ids)
        return Lead(rid, self.campaign_id, f"1{rid:010d}", name=f"Customer {rid}")


@dataclass
class SimJournal:
    """Call log of a simulation: counts only; drops go back for a progressive redial."""

    leads: EndlessLeads
    dialed_n: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def dialed(self, call: Call) -> None:
        """Count the dial."""
        self.dialed_n += 1

    def answered(self, call: Call) -> None:
        """Nothing to write: the outcome is counted at the end."""

    def connected(self, call: Call) -> None:
        """Nothing to write: the outcome is counted at the end."""

    def dropped(self, call: Call) -> None:
        """Nothing to write: the outcome is counted at the end."""

    def refused(self, call: Call, message: str) -> None:
        """Count the call that was not placed."""
        key = Outcome.NOT_PLACED.value
        self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def finished(self, call: Call) -> None:
        """Count the outcome; a dropped person is queued for a progressive redial."""
        key = call.outcome.value if call.outcome else "unknown"
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
        if call.outcome is Outcome.DROPPED:
            lead = call.lead
            self.leads.progressive.append(
                Lead(
                    lead.record_id,
                    lead.campaign_id,
                    lead.phone,
                    lead.name,
                    lead.fields,
                    "CALL_PROGRESSIVE",
                    None,
                    lead.attempt + 1,
                )
            )

    def status_set(self, call: Call, agent_id: int, status_id: int, date: Any, note: str) -> None:
        """Agents' statuses are accepted as given."""

    def default_status(self, call: Call) -> None:
        """Nothing to do in a simulation."""


class HourlyPacer:
    """Wraps a pacer and counts answers and drops per hour of answer."""

    def __init__(self, inner: pt.Pacer) -> None:
        self.inner = inner
        self.answered: dict[int, int] = {}
        self.dropped: dict[int, int] = {}

    def observe(self, event: pt.Event) -> None:
        """Count settled answers (connect or drop) by the hour the person answered."""
        if event.kind in (pt.CONNECT, pt.DROP):
            hour = int((event.t - (event.value or 0.0)) // HOUR_S)
            self.answered[hour] = self.answered.get(hour, 0) + 1
            if event.kind == pt.DROP:
                self.dropped[hour] = self.dropped.get(hour, 0) + 1
        self.inner.observe(event)

    def decide(self, view: pt.View) -> int:
        """Ask the wrapped pacer."""
        return self.inner.decide(view)


@dataclass(frozen=True)
class SimulationResult:
    """What ``dialer simulate`` reports."""

    scenario: str
    seed: int
    simulated_s: float
    wall_s: float
    dials: int
    answered: int
    connected: int
    dropped: int
    occupancy: float
    talk_min_per_agent_hour: float
    abandon_rate: float
    abandon_per_day: list[float]
    worst_hour_abandon_rate: float | None
    dials_per_connect: float | None
    outcomes: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dictionary."""
        return dict(self.__dict__)


def simulate(
    scenario: Scenario,
    pacer: pt.Pacer,
    *,
    seed: int = 1,
    drop_margin_s: float = 0.2,
    duration_s: float | None = None,
    amd: bool = True,
) -> SimulationResult:
    """Run one campaign of ``scenario`` with ``pacer`` in virtual time."""
    started = time.perf_counter()
    duration = scenario.duration_s if duration_s is None else duration_s
    clock = VirtualClock()
    settings = AmiServerSettings(
        name="sim",
        ring_timeout_s=scenario.no_answer_timeout_s,
        max_channels=scenario.lines,
        amd=amd,
    )
    world = World(behaviour=ScenarioBehaviour(scenario, seed=seed), seed=seed, emit_dialplan=False)
    events: list[ev.LifecycleEvent] = []
    pbx = WorldTelephony(world, on_event=events.append, settings=settings)
    leads = EndlessLeads()
    journal = SimJournal(leads)
    hourly = HourlyPacer(pacer)
    engine = Engine(
        clock=clock, leads=leads, journal=journal, sink=_NullSink(), lines=scenario.lines
    )
    engine.add_campaign(
        CampaignRun(
            1,
            scenario.name,
            hourly,
            max_wait_s=scenario.max_wait_s,
            drop_margin_s=drop_margin_s,
            wrapup_timeout_s=math.inf,
            amd=amd,
        )
    )
    engine.set_state(1, RunState.RUNNING)
    agents = SimAgents(
        campaign_id=1,
        schedule=[(t, int(n)) for t, n in scenario.agents.steps],
        wrapup=scenario.wrapup,
        dispositions=[Disposition(1, 1.0)],
        pause_rate_per_hour=scenario.pause_rate_per_hour,
        pause_duration=scenario.pause_duration,
        seed=seed,
    )

    def pump(commands: list[Command]) -> None:
        pending = commands
        while pending or events:
            events.extend(execute_now(pbx, pending))
            pending = []
            while events:
                pending.extend(engine.on_event(events.pop(0)))
            pending.extend(agents.step(engine, clock.now()))

    next_tick = 0.0
    while True:
        times = [next_tick, pbx.next_time(), engine.next_deadline(), agents.next_time()]
        t = min(x for x in times if x is not None)
        if t > duration:
            break
        clock.set(max(t, clock.now()))
        now = clock.now()
        pbx.advance(now)
        pump([])
        pump(agents.step(engine, now))
        deadline = engine.next_deadline()
        if deadline is not None and deadline <= now:
            pump(engine.on_timer())
        if now >= next_tick:
            pump(engine.tick())
            next_tick += scenario.tick_s
    clock.set(duration)
    stats = engine.stats(1)
    answered = sum(hourly.answered.values())
    dropped = sum(hourly.dropped.values())
    worst = [
        hourly.dropped.get(h, 0) / n
        for h, n in hourly.answered.items()
        if n >= MIN_ANSWERS_PER_HOUR
    ]
    days: dict[int, list[int]] = {}
    for hour, n in hourly.answered.items():
        day = days.setdefault(int(hour * HOUR_S // DAY_S), [0, 0])
        day[0] += n
        day[1] += hourly.dropped.get(hour, 0)
    connected = int(stats["connected"])
    occupancy = float(stats["occupancy"])
    return SimulationResult(
        scenario=scenario.name,
        seed=seed,
        simulated_s=duration,
        wall_s=round(time.perf_counter() - started, 3),
        dials=int(stats["dials"]),
        answered=answered,
        connected=connected,
        dropped=dropped,
        occupancy=round(occupancy, 4),
        talk_min_per_agent_hour=round(60 * occupancy, 2),
        abandon_rate=round(dropped / answered, 5) if answered else 0.0,
        abandon_per_day=[round(d / a, 5) if a else 0.0 for _, (a, d) in sorted(days.items())],
        worst_hour_abandon_rate=round(max(worst), 5) if worst else None,
        dials_per_connect=round(int(stats["dials"]) / connected, 3) if connected else None,
        outcomes=dict(sorted(journal.outcomes.items())),
    )


class _NullSink(MemorySink):
    """Publishes nowhere (a simulation has no subscribers)."""

    def publish(self, topic: str, payload: Any, *, retain: bool = False) -> None:
        """Discard."""
