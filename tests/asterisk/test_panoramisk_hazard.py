"""The hazard the adapter exists to avoid, shown with stock panoramisk 1.4.

This proves the never-dial-twice test can fail: the same simulator and the same drop, with
panoramisk's own ``Manager``, receive the Originate twice (replayed after re-login).
"""

from __future__ import annotations

import asyncio
import logging

from panoramisk import Manager

from asterisk.simulator import PbxSimulator
from asterisk.world import World


async def test_stock_panoramisk_replays_an_unanswered_originate() -> None:
    """panoramisk re-sends an Originate that had no response when the connection dropped."""
    pan_log = logging.getLogger("panoramisk")
    level = pan_log.level
    pan_log.setLevel(logging.CRITICAL)  # it logs the drop as an error; expected here
    try:
        await _replay_hazard()
    finally:
        pan_log.setLevel(level)


async def _replay_hazard() -> None:
    async with PbxSimulator(World(), port=0, time_scale=20) as sim:
        logins = asyncio.Event()
        count = 0

        def on_login(_mgr: object) -> None:
            nonlocal count
            count += 1
            if count == 2:
                logins.set()

        manager = Manager(
            loop=asyncio.get_running_loop(),
            host="127.0.0.1",
            port=sim.port,
            username="dialer",
            secret="x",
            reconnect_timeout=0,
            on_login=on_login,
        )
        await manager.connect()
        for _ in range(100):
            if count:
                break
            await asyncio.sleep(0.01)
        sim.controls.response_delay_s = 30.0  # no response before the drop
        manager.send_action(
            {
                "Action": "Originate",
                "Channel": "Local/22000000001@customers",
                "Async": "true",
                "Context": "dialer-answered",
                "Exten": "22000000001",
                "Priority": "1",
            }
        )
        for _ in range(100):
            if sim.originate_ids():
                break
            await asyncio.sleep(0.01)
        sim.drop_connections()
        sim.controls.response_delay_s = 0.0
        await asyncio.wait_for(logins.wait(), 5)
        await asyncio.sleep(0.2)
        manager.connect = lambda *a, **k: None  # no more reconnects while closing
        manager.close()
        await asyncio.sleep(0.05)
    ids = sim.originate_ids()
    assert len(ids) == 2, ids
    assert ids[0] == ids[1]  # the same ActionID: a second real call to the same person
