"""Overload back-off: a starved engine loop makes the campaigns dial progressively."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlmodel import Session, select

from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.models import Agent
from dialer.runtime import Runtime
from tests.dialer.test_graceful_stop import long_talker, until
from tests.runtime_settings import sim_settings


async def test_a_blocked_loop_is_reported_and_dialing_turns_progressive(tmp_path: Path) -> None:
    """When the engine's loop is held up longer than engine.overload_lag_s, the next tick
    is late: the stats carry an overload alert saying why, and the campaign dials at most
    one call per ready agent."""
    db_path = tmp_path / "lag.db"
    db = make_engine(f"sqlite:///{db_path}")
    campaign_id = build_demo(
        db, records=40, now=dt.datetime.now(dt.UTC), agents=1, running=True, always_open=True
    )
    with Session(db) as session:
        agent = session.exec(select(Agent)).first()
        assert agent is not None
        agent_id = agent.id or 0
    db.dispose()
    async with PbxSimulator(World(behaviour=long_talker), port=0) as pbx:
        settings = sim_settings(
            db_path,
            pbx.port,
            engine={"id": "lag", "tick_s": 0.1, "overload_lag_s": 0.3, "drain_s": 0},
        )
        async with Runtime(settings) as runtime:
            engine = runtime.engine
            runtime.agent_command(agent_id, "login", {"campaign": campaign_id})
            await until("the agent ready", lambda: engine.agents[agent_id].state.seat_up)
            time.sleep(0.8)  # noqa: ASYNC251  (the point: the loop is starved)
            await until(
                "the overload alert", lambda: "overload" in engine.stats(campaign_id)["alerts"]
            )
            assert "tick lateness" in engine.stats(campaign_id)["alerts"]["overload"]
            await until("a call connected", lambda: engine.stats(campaign_id)["connected"] >= 1)
            assert engine.overloaded is not None
            up = [c for c in engine.calls.values() if c.up]
            assert len(up) == 1  # one agent: one call, whatever the predictive pacer wanted
            await runtime.drain()


async def test_the_latency_samples_keep_only_the_last_ones(tmp_path: Path) -> None:
    """An engine runs for weeks: its per-tick samples (the benches' and ``--metrics``'s)
    keep the last ``samples_kept`` of each kind, the oldest leaving as new ones come."""
    db_path = tmp_path / "samples.db"
    db = make_engine(f"sqlite:///{db_path}")
    build_demo(db, records=10, now=dt.datetime.now(dt.UTC), agents=1, running=True)
    db.dispose()
    async with PbxSimulator(World(behaviour=long_talker), port=0) as pbx:
        settings = sim_settings(
            db_path, pbx.port, engine={"id": "samples", "tick_s": 0.01, "drain_s": 0}
        )
        async with Runtime(settings, samples_kept=5) as runtime:
            ticks = runtime.tick_overloaded
            await until("five ticks", lambda: len(ticks) == 5)
            first = ticks[0]
            await until("a sixth tick", lambda: ticks[0] != first)
            assert len(ticks) == 5
            assert runtime.answer_to_connect.maxlen == runtime.tick_to_originate.maxlen == 5
            await runtime.drain()
