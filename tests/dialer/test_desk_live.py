"""Live over the PBX simulator: an agent's manual dial reaches that agent, reserved before
the call is placed, with the whole attempt journaled like any call."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.enums import CampaignState, DialMode
from campaigns.models import Agent, CallLog, Campaign
from dialer.engine.agents import Phase
from dialer.runtime import Runtime
from tests.dialer.test_graceful_stop import long_talker, until
from tests.runtime_settings import sim_settings


async def test_manual_dial_connects_to_the_reserved_agent(tmp_path: Path) -> None:
    """In a paused preview campaign (the engine dials nothing by itself) an agent dials a
    number: the agent is reserved before the Originate, the answered person is bridged to
    it, the call-log row names the agent with a connect time and no drop, and the new
    record is in the "Manual dials" list."""
    db_path = tmp_path / "desk.db"
    db = make_engine(f"sqlite:///{db_path}")
    campaign_id = build_demo(
        db, records=20, now=dt.datetime.now(dt.UTC), agents=2, running=True, always_open=True
    )
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.state = CampaignState.PAUSED
        campaign.dial_mode = DialMode.PREVIEW.value
        campaign.preview_timeout_s = 30
        session.add(campaign)
        agent_id = (session.exec(select(Agent)).first() or Agent()).id or 0
        session.commit()
    async with PbxSimulator(World(behaviour=long_talker), port=0) as pbx:
        settings = sim_settings(
            db_path, pbx.port, engine={"id": "desk", "tick_s": 0.1, "drain_s": 0}
        )
        async with Runtime(settings) as runtime:
            engine = runtime.engine
            run = engine.campaign(campaign_id)  # the runtime reads the campaign's dial mode
            assert (run.dial_mode, run.preview_timeout_s) == (DialMode.PREVIEW, 30.0)
            runtime.agent_command(agent_id, "login", {"campaign": campaign_id})
            await until("the agent ready", lambda: engine.agents[agent_id].state.seat_up)
            await until(
                "the agent ready",
                lambda: engine.agents[agent_id].state.phase is Phase.READY,
            )
            runtime.agent_command(agent_id, "dial_number", {"number": "+48 22 555 01 02"})
            state = engine.agents[agent_id].state
            assert state.phase is Phase.RESERVED  # reserved before anyone answers
            call_id = state.call_id
            await until(
                "the person bridged to the agent",
                lambda: engine.agents[agent_id].state.phase is Phase.TALKING,
            )
            assert engine.calls[call_id or ""].agent_id == agent_id
            assert engine.stats(campaign_id)["dropped"] == 0
            runtime.agent_command(agent_id, "hangup", {})
            await until(
                "the agent in wrap-up",
                lambda: engine.agents[agent_id].state.phase is Phase.WRAP_UP,
            )
            await runtime.drain()
    with db.connect() as conn:
        row = conn.execute(
            sa.select(CallLog.__table__).where(CallLog.__table__.c.channel_id == call_id)  # type: ignore[attr-defined]
        ).one()
        assert row.phone == "+48225550102"
        assert row.agent_id == agent_id
        assert row.connect_at is not None
        assert row.drop_at is None
        assert row.end_at is not None
        listed = conn.execute(
            sa.text(
                "SELECT l.name FROM record r JOIN contact_list l ON l.id = r.list_id "
                "WHERE r.phone = '+48225550102'"
            )
        ).scalar_one()
        assert listed == "Manual dials"
    db.dispose()
