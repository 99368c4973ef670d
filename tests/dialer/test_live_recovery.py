"""The engine on the AMI adapter against the PBX simulator: recovering from the PBX."""

from __future__ import annotations

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
