"""Simulated agents log in by schedule, wrap up, set statuses and take breaks."""

from __future__ import annotations

import random
from dataclasses import dataclass

from asterisk import events as ev
from dialer.engine import CampaignRun, Engine, Originate, RunState
from dialer.engine.clock import VirtualClock
from dialer.runtime.mqtt import MemorySink
from dialer.sim.memory import MemoryJournal, MemoryLeads, MemoryRecord
from dialer.sim.simagents import Disposition, SimAgents
from pacing import types as pt


@dataclass(frozen=True)
class Const:
    """A constant duration."""

    value: float

    def sample(self, rng: random.Random) -> float:
        return self.value


class OnePerReady:
    """Progressive pacing: one call per ready agent not already covered by a ringing call."""

    def observe(self, event: pt.Event) -> None:
        pass

    def decide(self, view: pt.View) -> int:
        return view.agents_ready - len(view.ringing_elapsed_s)


def test_agents_work_calls_and_follow_the_schedule() -> None:
    """Over a simulated hour, agents take calls, set statuses, and leave on schedule."""
    clock = VirtualClock()
    leads = MemoryLeads([MemoryRecord(i, 1, f"+4822{i:07d}") for i in range(1, 400)])
    journal = MemoryJournal(leads)
    engine = Engine(clock=clock, leads=leads, journal=journal, sink=MemorySink(), lines=20)
    engine.add_campaign(CampaignRun(1, "sim", OnePerReady()))
    engine.set_state(1, RunState.RUNNING)
    sim = SimAgents(
        campaign_id=1,
        schedule=[(0.0, 3), (1800.0, 1)],
        wrapup=Const(5.0),
        dispositions=[Disposition(1, 1.0)],
        pause_rate_per_hour=2.0,
        pause_duration=Const(60.0),
    )
    pending: list[tuple[float, object]] = []

    def carry_out(commands: list[object]) -> None:
        for cmd in commands:
            if isinstance(cmd, Originate):
                pending.append((clock.now() + 3.0, ev.CallAnswered(cmd.call_id, "c", "u")))
                pending.append((clock.now() + 33.0, ev.CallHungUp(cmd.call_id, 16, "ok")))
            elif type(cmd).__name__ == "StartSeat":
                seat = cmd.seat  # type: ignore[attr-defined]
                pending.append((clock.now() + 0.5, ev.SeatUp(agent_id=seat, channel="s")))

    for step in range(3600 * 2):
        clock.set(step * 0.5)
        carry_out(sim.step(engine, clock.now()))
        due = sorted((p for p in pending if p[0] <= clock.now()), key=lambda p: p[0])
        for item in due:
            pending.remove(item)
            carry_out(engine.on_event(item[1]))  # type: ignore[arg-type]
        carry_out(sim.step(engine, clock.now()))
        carry_out(engine.tick())
    stats = engine.stats(1)
    assert stats["connected"] > 60
    statuses = [row.get("status") for row in journal.rows.values() if row.get("outcome")]
    assert statuses.count(1) > 50
    logged_in = [a for a in engine.agents.values() if a.state.phase.value != "logged_out"]
    assert len(logged_in) == 1


def test_a_refused_callback_falls_back_to_an_undated_status() -> None:
    """When the engine refuses the agent's dated status (say the record's last attempt), the
    simulated agent sets an undated one instead of staying in wrap-up."""
    clock = VirtualClock()
    leads = MemoryLeads([MemoryRecord(i, 1, f"+4822{i:07d}") for i in range(1, 100)])
    journal = MemoryJournal(leads)
    del journal.statuses[3]  # the dated status: every use of it is refused
    engine = Engine(clock=clock, leads=leads, journal=journal, sink=MemorySink(), lines=10)
    engine.add_campaign(CampaignRun(1, "sim", OnePerReady()))
    engine.set_state(1, RunState.RUNNING)
    sim = SimAgents(
        campaign_id=1,
        schedule=[(0.0, 2)],
        wrapup=Const(5.0),
        dispositions=[Disposition(3, 1.0, 600.0), Disposition(1, 0.0)],
    )
    pending: list[tuple[float, object]] = []

    def carry_out(commands: list[object]) -> None:
        for cmd in commands:
            if isinstance(cmd, Originate):
                pending.append((clock.now() + 3.0, ev.CallAnswered(cmd.call_id, "c", "u")))
                pending.append((clock.now() + 20.0, ev.CallHungUp(cmd.call_id, 16, "ok")))
            elif type(cmd).__name__ == "StartSeat":
                seat = cmd.seat  # type: ignore[attr-defined]
                pending.append((clock.now() + 0.5, ev.SeatUp(agent_id=seat, channel="s")))

    for step in range(2 * 600):
        clock.set(step * 0.5)
        due = sorted((p for p in pending if p[0] <= clock.now()), key=lambda p: p[0])
        for item in due:
            pending.remove(item)
            carry_out(engine.on_event(item[1]))  # type: ignore[arg-type]
        carry_out(sim.step(engine, clock.now()))
        carry_out(engine.tick())
    statuses = [row.get("status") for row in journal.rows.values() if row.get("status")]
    assert len(statuses) >= 10
    assert set(statuses) == {1}
