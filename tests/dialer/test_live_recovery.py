"""The engine on the AMI adapter against the PBX simulator: recovering from the PBX."""

from __future__ import annotations

from pathlib import Path

from asterisk import events as ev
from asterisk.dialplan import SHIPPED, Dialplan
from asterisk.simulator import PbxSimulator
from asterisk.world import Behaviour, World
from dialer.agents import Phase
from dialer.engine import RunState
from tests.dialer.live import LiveRig


def talker(exten: str, now: float) -> Behaviour:
    """Every dialed person answers within 0.3 s and talks for 0.5 s."""
    del exten, now
    return Behaviour("human", ring_s=0.3, talk_s=0.5)


PHONES = [f"+4822100{i:04d}" for i in range(1, 200)]


async def test_pbx_restart_mid_campaign_then_dialing_resumes_by_itself() -> None:
    """After the PBX restarts mid-campaign, the seats are started again and dialing resumes
    without anyone pressing Ready."""
    async with (
        PbxSimulator(World(behaviour=talker), port=0) as pbx,
        LiveRig(pbx.port, PHONES) as rig,
    ):
        engine = rig.engine
        rig.execute(engine.agent_login(1, "1001", 1))
        engine.set_state(1, RunState.RUNNING)
        await rig.until("a first call connected", lambda: engine.stats(1)["connected"] >= 1)
        pbx.restart()
        await rig.until(
            "the seat lost with the PBX",
            lambda: (
                engine.agents[1].state.pause_reason == "seat_lost"
                or engine.agents[1].state.phase is not Phase.READY
            ),
        )
        before = engine.stats(1)["connected"]
        await rig.until(
            "calls connected after the restart",
            lambda: engine.stats(1)["connected"] >= before + 2,
            within_s=15,
        )
        assert engine.agents[1].state.seat_up


def slow_ringer(exten: str, now: float) -> Behaviour:
    """Every dialed person answers after 1.5 s and talks for 1 s."""
    del exten, now
    return Behaviour("human", ring_s=1.5, talk_s=1.0)


async def test_person_answering_while_the_session_is_reestablished_is_connected() -> None:
    """h6 against the engine: the AMI session is cut while a call rings, the answer arrives
    on the new session, and the person is connected to the ready agent within max_wait_s
    (logged answered with its agent, not failed)."""
    async with (
        PbxSimulator(World(behaviour=slow_ringer), port=0) as pbx,
        LiveRig(pbx.port, PHONES[:1]) as rig,
    ):
        engine = rig.engine
        rig.execute(engine.agent_login(1, "1001", 1))
        await rig.until("the seat up", lambda: engine.agents[1].state.phase is Phase.READY)
        engine.set_state(1, RunState.RUNNING)
        await rig.until(
            "a call ringing", lambda: any(isinstance(e, ev.CallDialing) for e in rig.events)
        )
        (call_id,) = engine.calls
        assert pbx.drop_connections() == 1
        await rig.until(
            "the call connected",
            lambda: ("connected", call_id) in rig.journal.facts,
            within_s=10,
        )
        row = rig.journal.rows[call_id]
        assert row["agent"] == 1
        wait = (row["connect_at"] - row["answer_at"]).total_seconds()
        assert wait <= 2.0
        await rig.until("the call ended", lambda: "outcome" in row)
        assert row["outcome"] == "answered"


async def test_broken_dialplan_pauses_the_campaign_with_the_reason(tmp_path: Path) -> None:
    """With the shipped [dialer-answered] pattern put back to '_X.', the simulator refuses
    the engine's Originates and the campaign pauses itself after three, saying why; no
    attempt of any record is used."""
    copy = tmp_path / "extensions_dialer.conf"
    text = SHIPPED.read_text()
    assert "exten => _+X.,1," in text
    copy.write_text(text.replace("exten => _+X.,1,", "exten => _X.,1,", 1))
    world = World(behaviour=talker, dialplan=Dialplan.load(copy))
    async with PbxSimulator(world, port=0) as pbx, LiveRig(pbx.port, PHONES[:10]) as rig:
        engine = rig.engine
        for agent_id in (1, 2):
            rig.execute(engine.agent_login(agent_id, f"100{agent_id}", 1))
        await rig.until(
            "the seats up",
            lambda: all(a.state.phase is Phase.READY for a in engine.agents.values()),
        )
        engine.set_state(1, RunState.RUNNING)
        await rig.until("the campaign paused", lambda: engine.stats(1)["state"] == "paused")
        stats = engine.stats(1)
        assert "Extension does not exist." in stats["paused_reason"]
        assert rig.sink.on("campaigns/1/stats")[-1]["paused_reason"] == stats["paused_reason"]
        assert {r["outcome"] for r in rig.journal.rows.values()} == {"not_placed"}
        assert 3 <= len(rig.journal.rows) <= 4  # the breaker trips within the tick
        assert all(r.attempts == 0 and not r.leased for r in rig.leads.records.values())
        assert world.channels == {} or all(
            "agents" in name for name in (c.name for c in world.channels.values())
        )
