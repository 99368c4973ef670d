"""``make demo``: the engine running a predictive campaign against the PBX simulator.

Nothing but Python is needed: a fresh SQLite database with a generated list, the PBX
simulator on a free loopback port speaking AMI, ten simulated agents, an hour of
call-center time in about two minutes, a live view, and a closing summary read back from
the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.live import Live
from sqlmodel import Session

from asterisk.scenario import Scenario, ScenarioBehaviour, ScenarioInbound, load_scenario
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.enums import Role
from campaigns.inbound import open_count
from campaigns.models import Agent, AgentGroup, Campaign
from dialer.config import Settings
from dialer.engine.clock import ScaledClock
from dialer.runtime import Runtime
from dialer.services.accounts import create_user
from dialer.sim.live import AgentLine, render, summary_table
from dialer.sim.simagents import Disposition, SimAgents

DEMO_STATUS_WEIGHTS = (
    ("Nie dzwonić", 0.45, None),
    ("Dzwonić", 0.25, None),
    ("Wstępnie zainteresowany", 0.18, 20 * 60.0),
    ("Kontakt później", 0.12, 30 * 60.0),
)


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured, read back from the engine and the database."""

    stats: dict[str, object]
    call_log_rows: int
    records_by_status: dict[str, int]
    wall_s: float
    worklist_open: int = 0
    """Inbound callers who gave up in a queue and wait on the worklist for a call back."""


def prepare_database(path: Path, scenario: Scenario, *, records: int) -> tuple[int, list[int]]:
    """A fresh demo database: campaign running all day with the predictive profile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    try:
        cid = build_demo(
            engine,
            records=records,
            now=dt.datetime.now(dt.UTC),
            agents=int(max(n for _, n in scenario.agents.steps)),
            running=True,
            always_open=True,
        )
        with engine.begin() as conn:
            conn.execute(
                sa.update(Campaign.__table__)  # type: ignore[attr-defined]
                .where(Campaign.__table__.c.id == cid)  # type: ignore[attr-defined]
                .values(max_wait_s=scenario.max_wait_s)
            )
        with engine.connect() as conn:
            agent_ids = [
                int(i) for i in conn.execute(sa.text("SELECT id FROM agent ORDER BY id")).scalars()
            ]
        return cid, agent_ids
    finally:
        engine.dispose()


def _status_ids(db_url: str) -> list[Disposition]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ids: dict[str, int] = dict(
                conn.execute(sa.text("SELECT name, id FROM status_def")).all()
            )
    finally:
        engine.dispose()
    return [
        Disposition(int(ids[name]), weight, date_in)
        for name, weight, date_in in DEMO_STATUS_WEIGHTS
        if name in ids
    ]


#: Password of the demo's users (a local demo database only).
DEMO_PASSWORD = "demo-pass"  # noqa: S105  (the demo database's users, printed at start)


def add_demo_users(db_url: str) -> list[tuple[str, str]]:
    """Users for the demo's pages and one more agent, for the person in the browser.

    Returns (login, what it is) pairs; every password is :data:`DEMO_PASSWORD`.
    """
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            team = AgentGroup(name="Demo team")
            session.add(team)
            session.flush()
            session.execute(sa.update(Agent).values(group_id=team.id))
            you = Agent(login="you", name="You (agent page)", extension="agent-you")
            you.group_id = team.id
            session.add(you)
            session.flush()
            people = [
                ("admin", Role.ADMIN, None, None, "administrator: everything"),
                ("head", Role.HEAD, None, None, "head: all campaigns and calls, no settings"),
                ("leader", Role.GROUP_LEADER, team.id, None, "group leader of the demo team"),
                ("agent", Role.AGENT, None, you.id, "agent: the agent page, one seat"),
            ]
            for login, role, group_id, agent_id, _ in people:
                create_user(
                    session,
                    login=login,
                    password=DEMO_PASSWORD,
                    role=role,
                    actor="demo",
                    name=login.title(),
                    group_id=group_id,
                    agent_id=agent_id,
                )
            session.commit()
    finally:
        engine.dispose()
    return [(login, what) for login, _, _, _, what in people]


async def run_demo(
    *,
    db_path: Path = Path("var/demo.db"),
    scenario_path: Path = Path("config/scenarios/demo.toml"),
    profiles_dir: Path = Path("config/pacing"),
    minutes: float = 60.0,
    time_scale: float = 30.0,
    records: int = 6000,
    seed: int = 1,
    console: Console | None = None,
    live: bool = True,
    http: tuple[str, int] | None = None,
    trace_dir: Path | None = None,
) -> DemoResult:
    """Run the demo; returns its figures. With ``http`` the pages and API are served too,
    with demo users and one agent seat left for a person in the browser. With ``trace_dir``
    the campaign's pacer is traced there (``[pacing] trace_dir``: ``demo-campaign-1.jsonl``,
    for ``dialer pacing replay``)."""
    console = console or Console()
    scenario = load_scenario(scenario_path)
    campaign_id, agent_ids = prepare_database(db_path, scenario, records=records)
    db_url = f"sqlite:///{db_path}"
    if http is not None:
        users = add_demo_users(db_url)
        agent_ids = [*agent_ids, 0]  # one seat more: the person on the agent page
        console.print(f"[bold]Pages:[/] http://{http[0]}:{http[1]}/  (password: {DEMO_PASSWORD})")
        for login, what in users:
            console.print(f"  {login:8} {what}")
    world = World(behaviour=ScenarioBehaviour(scenario, seed=seed), seed=seed)
    if scenario.inbound is not None:  # callers from outside into the PBX's queues
        world.start_inbound(
            ScenarioInbound(scenario.inbound, seed=seed), context=scenario.inbound.context
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with PbxSimulator(world, port=0, time_scale=time_scale) as pbx:
        settings = Settings.model_validate(
            {
                "database": {"url": db_url},
                "engine": {"id": "demo", "tick_s": 0.5},
                "pacing": {
                    "profiles_dir": str(profiles_dir),
                    "trace_dir": str(trace_dir) if trace_dir is not None else None,
                },
                "asterisk": {
                    "servers": [
                        {
                            "name": "sim",
                            "port": pbx.port,
                            "max_channels": scenario.lines + len(agent_ids),
                            "originates_per_second": 200,
                            "ring_timeout_s": scenario.no_answer_timeout_s,
                            "amd": scenario.machine_prob.at(0) > 0,
                        }
                    ]
                },
            }
        )
        trace = settings.pacing.trace_path(settings.engine.id, campaign_id)
        if trace is not None:  # the trace of a database just replaced would mislead a replay
            trace.unlink(missing_ok=True)
        sim_agents = SimAgents(
            campaign_id=campaign_id,
            schedule=[(t, int(n)) for t, n in scenario.agents.steps],
            wrapup=scenario.wrapup,
            dispositions=_status_ids(db_url),
            pause_rate_per_hour=scenario.pause_rate_per_hour,
            pause_duration=scenario.pause_duration,
            seed=seed,
            seat_of=lambda agent_id: f"agent{agent_id}",
        )
        clock = ScaledClock(time_scale)
        async with Runtime(
            settings, clock=clock, time_scale=time_scale, sim_agents=sim_agents, http=http
        ) as runtime:
            engine = runtime.engine
            duration = minutes * 60.0

            def frame() -> object:
                run = engine.campaigns[campaign_id]
                lines = [
                    AgentLine(
                        a.state.agent_id,
                        f"agent{a.state.agent_id}",
                        a.state.phase.value,
                        clock.now() - a.state.since,
                        a.state.call_id,
                        a.state.pause_reason,
                    )
                    for a in sorted(engine.agents.values(), key=lambda a: a.state.agent_id)
                ]
                return render(
                    engine.stats(campaign_id),
                    lines,
                    elapsed_s=clock.now(),
                    target_abandon=0.03,
                    title=f"dialer demo — {run.name} (x{time_scale:g})",
                )

            if live:
                with Live(frame(), console=console, refresh_per_second=4) as view:  # type: ignore[arg-type]
                    while clock.now() < duration:
                        await asyncio.sleep(0.25)
                        view.update(frame())  # type: ignore[arg-type]
            else:
                await runtime.run(duration_s=duration)
            stats = engine.stats(campaign_id)
    wall = loop.time() - started
    engine_db = make_engine(db_url)
    try:
        with engine_db.connect() as conn:
            rows = int(conn.execute(sa.text("SELECT count(*) FROM call_log")).scalar_one())
            by_status: dict[str, int] = dict(
                conn.execute(
                    sa.text("SELECT system_status, count(*) FROM record GROUP BY system_status")
                ).all()
            )
        worklist = open_count(engine_db)
    finally:
        engine_db.dispose()
    statuses = {str(k): int(v) for k, v in by_status.items()}
    return DemoResult(stats, rows, statuses, wall, worklist_open=worklist)


def print_summary(result: DemoResult, console: Console) -> None:
    """The closing summary of the demo."""
    s = result.stats
    calls = s["calls"]
    rows = [
        ("campaign", str(s["name"])),
        ("dials", str(s["dials"])),
        ("answered by a person", str(s["answered"])),
        ("connected to an agent", str(s["connected"])),
        ("dropped (abandoned)", str(s["dropped"])),
        ("abandonment", f"{100 * float(s['abandon_rate']):.2f} % (cap 3 %)"),  # type: ignore[arg-type]
        ("occupancy", f"{100 * float(s['occupancy']):.1f} %"),  # type: ignore[arg-type]
        (
            "calls still up at the end",
            ", ".join(f"{k} {v}" for k, v in calls.items())
            if isinstance(calls, dict)
            else str(calls),
        ),
        ("call-log rows written", str(result.call_log_rows)),
        (
            "records by system status",
            ", ".join(f"{k} {v}" for k, v in sorted(result.records_by_status.items())),
        ),
        ("inbound misses on the worklist", str(result.worklist_open)),
        ("wall time", f"{result.wall_s:.0f} s"),
    ]
    console.print(summary_table(rows, title="demo summary"))
