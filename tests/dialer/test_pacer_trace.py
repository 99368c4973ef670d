"""``[pacing] trace_dir``: the engine writes each campaign's pacer inputs and decisions,
and ``dialer pacing replay`` reproduces them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.models import Agent
from dialer.cli import app
from dialer.runtime import Runtime
from tests.dialer.test_graceful_stop import until
from tests.runtime_settings import sim_settings

ROOT = Path(__file__).parents[2]


def _short_talks(exten: str, now: float) -> Behaviour:
    """Every other number answers after 0.3 s and talks for a second; the rest are busy."""
    del now
    if int(exten[-1]) % 2:
        return Behaviour("busy", ring_s=0.2)
    return Behaviour("human", ring_s=0.3, talk_s=1.0)


def _decisions(trace: Path) -> int:
    return trace.read_text().count('"v":') if trace.exists() else 0


async def test_the_engine_traces_its_pacer_and_the_replay_reproduces_it(
    tmp_path: Path,
) -> None:
    """With trace_dir set, a running campaign's trace holds its ledger's start, every event
    and every decision: replayed through the campaign's profile, no decision differs; the
    progressive profile would have dialed differently at some of them."""
    db_path = tmp_path / "trace.db"
    db = make_engine(f"sqlite:///{db_path}")
    campaign_id = build_demo(
        db, records=60, now=dt.datetime.now(dt.UTC), agents=3, running=True, always_open=True
    )
    with Session(db) as session:
        agent_ids = [a.id or 0 for a in session.exec(select(Agent)).all()]
    db.dispose()
    traces = tmp_path / "traces"
    trace = traces / f"tr-campaign-{campaign_id}.jsonl"
    async with PbxSimulator(World(behaviour=_short_talks), port=0) as pbx:
        settings = sim_settings(
            db_path,
            pbx.port,
            engine={"id": "tr", "tick_s": 0.1, "drain_s": 0},
            pacing={"trace_dir": str(traces)},
        )
        async with Runtime(settings) as runtime:
            engine = runtime.engine
            for agent_id in agent_ids:
                runtime.agent_command(agent_id, "login", {"campaign": campaign_id})
            await until(
                "three calls connected", lambda: engine.stats(campaign_id)["connected"] >= 3
            )
            await until("twenty decisions traced", lambda: _decisions(trace) >= 20)
            await runtime.drain()
    lines = trace.read_text().splitlines()
    assert "seed" in json.loads(lines[0])
    kinds = {json.loads(line).get("e", [None, None])[1] for line in lines}
    assert {"login", "dial", "answer", "connect", "fail"} <= kinds
    result = CliRunner().invoke(
        app,
        [
            "pacing",
            "replay",
            str(trace),
            "--pacing",
            str(ROOT / "config/pacing/predictive.toml"),
            "--pacing",
            str(ROOT / "config/pacing/ratio.toml"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    same, ratio = out["profiles"]
    assert out["skipped_lines"] == 0
    assert same["decisions"] >= 20
    assert same["differing_decisions"] == 0
    assert same["replayed_dials"] == same["recorded_dials"] >= 3
    assert ratio["differing_decisions"] > 0
    # the engine's reason comes from the trace; the ratio pacer gives none of its own
    first = ratio["first_differences"][0]
    assert isinstance(first["recorded_reason"], str)
    assert first["recorded_reason"]
    assert first["replayed_reason"] is None
    text = CliRunner().invoke(
        app,
        ["pacing", "replay", str(trace), "--pacing", str(ROOT / "config/pacing/ratio.toml")],
    )
    assert text.exit_code == 0, text.output
    assert f"dialed {first['recorded']} ({first['recorded_reason']}), would dial" in text.output
    assert "not what that profile's dials would have brought" in text.output
