"""Graceful stop (SIGTERM, Ctrl-C): the engine drains, hangs up what is left, writes all."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.models import Agent, Campaign
from dialer.runtime import Runtime
from tests.runtime_settings import sim_settings


def long_talker(exten: str, now: float) -> Behaviour:
    """Every dialed person answers within 0.3 s and talks for ten minutes."""
    del exten, now
    return Behaviour("human", ring_s=0.3, talk_s=600.0)


async def until(what: str, check: Callable[[], Any], within_s: float = 15.0) -> None:
    """Poll ``check`` until it is truthy; fail naming ``what``."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.05)


async def test_graceful_stop_hangs_up_after_the_drain_and_leaves_nothing_open(
    tmp_path: Path,
) -> None:
    """On stop no new call is placed; after engine.drain_s the calls still up are hung up,
    every call-log row is closed, no lease is left and no wrap-up stays open."""
    db_path = tmp_path / "stop.db"
    db = make_engine(f"sqlite:///{db_path}")
    campaign_id = build_demo(
        db, records=40, now=dt.datetime.now(dt.UTC), agents=2, running=True, always_open=True
    )
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.pacing_profile = "progressive"
        session.add(campaign)
        agents = [a.id or 0 for a in session.exec(select(Agent)).all()][:2]
        for n, agent_id in enumerate(agents):  # the seats below are the agents' own
            row = session.get(Agent, agent_id)
            assert row is not None
            row.extension = f"10{n:02d}"
            session.add(row)
        session.commit()
    world = World(behaviour=long_talker)
    async with PbxSimulator(world, port=0) as pbx:
        settings = sim_settings(
            db_path, pbx.port, engine={"id": "stop", "tick_s": 0.1, "drain_s": 1.0}
        )
        async with Runtime(settings) as runtime:
            for n, agent_id in enumerate(agents):
                runtime.agent_command(
                    agent_id, "login", {"campaign": campaign_id, "seat": f"10{n:02d}"}
                )
            stats = runtime.engine.stats
            await until("two calls connected", lambda: stats(campaign_id)["connected"] >= 2)
            dials = stats(campaign_id)["dials"]
            started = time.monotonic()
            await runtime.drain()
            assert 1.0 <= time.monotonic() - started < 6.0
            assert stats(campaign_id)["dials"] == dials
            assert runtime.engine.calls_up() == 0
        customers = [name for name in world.channels if "customers" in name]
        assert customers == []
    with db.connect() as conn:
        open_rows = conn.execute(
            sa.text("SELECT count(*) FROM call_log WHERE end_at IS NULL")
        ).scalar_one()
        leased = conn.execute(
            sa.text("SELECT count(*) FROM record WHERE lease_owner IS NOT NULL")
        ).scalar_one()
        talked = conn.execute(
            sa.text(
                "SELECT outcome, agent_id, connect_at IS NOT NULL FROM call_log "
                "WHERE answer_at IS NOT NULL"
            )
        ).all()
    db.dispose()
    assert (open_rows, leased) == (0, 0)
    assert talked
    assert all(row[0] == "answered" and row[1] is not None and row[2] for row in talked)


async def test_a_restarted_engine_starts_its_guard_from_the_call_log(tmp_path: Path) -> None:
    """Drops written before a restart are in the predictive pacer's ledger at start: its
    24 h window counts them, so the guard protects it across the restart."""
    db_path = tmp_path / "guard.db"
    db = make_engine(f"sqlite:///{db_path}")
    now = dt.datetime.now(dt.UTC)
    campaign_id = build_demo(db, records=40, now=now, agents=1, running=True, always_open=True)
    with db.begin() as conn:
        for n in range(10):
            at = now - dt.timedelta(hours=2, minutes=n)
            conn.execute(
                sa.text(
                    "INSERT INTO call_log (campaign_id, phone, attempt, dial_at, answer_at, "
                    "connect_at, drop_at, end_at, outcome, note) VALUES (:c, :p, 1, :d, :d, "
                    ":conn, :drop, :d, :o, '')"
                ),
                {
                    "c": campaign_id,
                    "p": f"+4822100{n:04d}",
                    "d": at,
                    "conn": at if n % 2 else None,
                    "drop": None if n % 2 else at,
                    "o": "answered" if n % 2 else "dropped",
                },
            )
    async with PbxSimulator(World(behaviour=long_talker), port=0) as pbx:
        settings = sim_settings(db_path, pbx.port, engine={"id": "guard", "tick_s": 0.1})
        async with Runtime(settings) as runtime:
            host = runtime.engine.campaigns[campaign_id].pacer
            ledger = host.pacer.ledger  # type: ignore[attr-defined]
            _today, rolling_24h, _days = ledger.windows(runtime.clock.now())
    db.dispose()
    assert (rolling_24h.drops, rolling_24h.answered) == (5, 10)
