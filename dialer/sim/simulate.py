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
from dialer.engine import Call, CampaignRun, Command, Engine, Lead, RunState
from dialer.engine.clock import VirtualClock
from dialer.runtime.mqtt import MemorySink
from dialer.runtime.telephony import execute_now
from dialer.sim.simagents import Disposition, SimAgents
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

    def exhausted(self, campaign_id: int) -> bool:
        """Never: records are generated."""
        del campaign_id
        return False

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
    abandon_per_hour: list[float | None] = field(default_factory=list)
    timeline: list[tuple[float, float, float]] = field(default_factory=list)
    """``(t_s, abandonment so far, occupancy so far)`` every ``sample_s`` of the run."""

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
    sample_s: float = 600.0,
) -> SimulationResult:
    """Run one campaign of ``scenario`` with ``pacer`` in virtual time.

    Every ``sample_s`` of simulated time the abandonment and occupancy so far are
    sampled into :attr:`SimulationResult.timeline` (what ``--chart`` draws).
    """
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
    agents = SimAgents(
        campaign_id=1,
        schedule=[(t, int(n)) for t, n in scenario.agents.steps],
        wrapup=scenario.wrapup,
        dispositions=[Disposition(1, 1.0)],
        pause_rate_per_hour=scenario.pause_rate_per_hour,
        pause_duration=scenario.pause_duration,
        seed=seed,
    )
    engine = Engine(
        clock=clock,
        leads=leads,
        journal=journal,
        sink=_NullSink(),
        lines=scenario.lines,
        phases=agents,
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

    def pump(commands: list[Command]) -> None:
        pending = commands
        while pending or events:
            events.extend(execute_now(pbx, pending))
            pending = []
            while events:
                pending.extend(engine.on_event(events.pop(0)))
            pending.extend(agents.step(engine, clock.now()))

    timeline: list[tuple[float, float, float]] = []
    next_sample = sample_s

    def sample(at: float) -> None:
        answered = sum(hourly.answered.values())
        rate = sum(hourly.dropped.values()) / answered if answered else 0.0
        timeline.append((at, round(rate, 5), float(engine.stats(1)["occupancy"])))

    next_tick = 0.0
    while True:
        times = [next_tick, pbx.next_time(), engine.next_deadline(), agents.next_time()]
        t = min(x for x in times if x is not None)
        if t > duration:
            break
        while next_sample <= t and next_sample < duration:
            clock.set(max(next_sample, clock.now()))
            sample(next_sample)
            next_sample += sample_s
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
    sample(duration)
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
        abandon_per_hour=[
            round(hourly.dropped.get(h, 0) / hourly.answered[h], 5)
            if hourly.answered.get(h, 0) >= MIN_ANSWERS_PER_HOUR
            else None
            for h in range(math.ceil(duration / HOUR_S))
        ],
        timeline=timeline,
    )


class _NullSink(MemorySink):
    """Publishes nowhere (a simulation has no subscribers)."""

    def publish(self, topic: str, payload: Any, *, retain: bool = False) -> None:
        """Discard."""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def comparison_rows(
    runs: dict[str, list[SimulationResult]],
) -> list[tuple[str, list[str]]]:
    """Figures of several profiles side by side: ``(figure, [one cell per profile])``.

    Occupancy and talk minutes are means over the seeds; abandonment shows the mean and
    the worst seed (the cap binds every day), the worst hour is the worst of all seeds.
    """

    def cells(fmt: Any) -> list[str]:
        return [fmt(rs) for rs in runs.values()]

    def worst_hour(rs: list[SimulationResult]) -> str:
        hours = [r.worst_hour_abandon_rate for r in rs if r.worst_hour_abandon_rate is not None]
        return f"{100 * max(hours):.2f} %" if hours else "-"

    return [
        ("seeds", cells(lambda rs: str(len(rs)))),
        ("occupancy", cells(lambda rs: f"{100 * _mean([r.occupancy for r in rs]):.1f} %")),
        (
            "talk min / agent hour",
            cells(lambda rs: f"{_mean([r.talk_min_per_agent_hour for r in rs]):.1f}"),
        ),
        (
            "abandonment mean",
            cells(lambda rs: f"{100 * _mean([r.abandon_rate for r in rs]):.2f} %"),
        ),
        (
            "abandonment worst seed",
            cells(lambda rs: f"{100 * max(r.abandon_rate for r in rs):.2f} %"),
        ),
        ("worst hour", cells(worst_hour)),
        (
            "dials per connect",
            cells(lambda rs: f"{_mean([r.dials_per_connect or 0.0 for r in rs]):.2f}"),
        ),
        ("dropped / answered", cells(lambda rs: "+".join(f"{r.dropped}/{r.answered}" for r in rs))),
    ]


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def chart_svg(
    runs: dict[str, list[SimulationResult]], *, title: str, target_abandon: float = 0.03
) -> str:
    """A two-panel SVG: abandonment so far and occupancy so far against time, one line
    per profile (the mean over its seeds at each sample), with the legal cap dashed.

    Written by hand (no plotting library): the numbers are the simulation's own.
    """
    width, height, left, right, top, panel, gap = 760, 520, 70, 180, 40, 190, 50
    plot_w = width - left - right
    t_max = max((r.timeline[-1][0] for rs in runs.values() for r in rs if r.timeline), default=1.0)

    def series(rs: list[SimulationResult], column: int) -> list[tuple[float, float]]:
        n = min(len(r.timeline) for r in rs)
        return [
            (rs[0].timeline[i][0], _mean([r.timeline[i][column] for r in rs])) for i in range(n)
        ]

    abandon_top = max(
        [target_abandon * 1.5] + [v for rs in runs.values() for _, v in series(rs, 1)]
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold">{_xml(title)}</text>',
    ]

    def panel_at(y0: float, label: str, column: int, y_top: float, cap: float | None) -> None:
        def xy(t: float, v: float) -> str:
            x = left + plot_w * t / t_max
            y = y0 + panel - panel * min(v, y_top) / y_top
            return f"{x:.1f},{y:.1f}"

        out.append(
            f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel}" fill="none" '
            'stroke="#999"/>'
        )
        out.append(
            f'<text x="{left - 55}" y="{y0 + panel / 2}" transform="rotate(-90 {left - 55} '
            f'{y0 + panel / 2})" text-anchor="middle">{_xml(label)}</text>'
        )
        for i in range(5):
            v = y_top * i / 4
            y = y0 + panel - panel * i / 4
            out.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{100 * v:.1f} %</text>'
            )
        if cap is not None:
            y = y0 + panel - panel * cap / y_top
            out.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="black" stroke-dasharray="6 4"/>'
            )
            out.append(
                f'<text x="{left + plot_w - 4}" y="{y - 4:.1f}" text-anchor="end">'
                f"cap {100 * cap:.0f} %</text>"
            )
        for (name, rs), colour in zip(runs.items(), itertools.cycle(_COLOURS), strict=False):
            points = " ".join(xy(t, v) for t, v in series(rs, column))
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            del name

    panel_at(top, "abandonment so far", 1, abandon_top, target_abandon)
    occ_top = 1.0
    panel_at(top + panel + gap, "occupancy so far", 2, occ_top, None)
    base = top + 2 * panel + gap
    for h in range(int(t_max // HOUR_S) + 1):
        x = left + plot_w * h * HOUR_S / t_max
        out.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{h} h</text>')
    for i, ((name, rs), colour) in enumerate(
        zip(runs.items(), itertools.cycle(_COLOURS), strict=False)
    ):
        y = top + 14 + 34 * i
        x = left + plot_w + 10
        occ = 100 * _mean([r.occupancy for r in rs])
        worst = 100 * max(r.abandon_rate for r in rs)
        out.append(
            f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"/>'
        )
        out.append(f'<text x="{x + 24}" y="{y + 4}">{_xml(name)}</text>')
        out.append(
            f'<text x="{x + 24}" y="{y + 18}" font-size="10">occ {occ:.1f} %, '
            f"aband. ≤ {worst:.2f} %</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
