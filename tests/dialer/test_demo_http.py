"""``dialer demo --http``: the demo serves the pages and API with its users, and a person
can work the spare seat on the agent page while the simulated agents work theirs."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx2 as httpx
from rich.console import Console

from dialer.sim.demo import DEMO_PASSWORD, run_demo

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_demo_serves_its_users_and_a_seat_for_a_person(tmp_path: Path) -> None:
    """Every demo user signs in; the agent logs in to the spare seat and goes ready; the
    head's dashboard shows the running campaign with the simulated agents."""
    port = _free_port()
    console = Console(quiet=True)
    demo = asyncio.create_task(
        run_demo(
            db_path=tmp_path / "demo.db",
            scenario_path=ROOT / "config/scenarios/demo.toml",
            profiles_dir=ROOT / "config/pacing",
            minutes=2,  # 12 s: long enough to be served while the machine is busy
            time_scale=10,
            records=500,
            live=False,
            console=console,
            http=("127.0.0.1", port),
        )
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # until the demo serves (it must not have ended first)
            assert not demo.done(), f"the demo ended before it served: {demo.result()!r}"
            try:
                await client.get("/api/openapi.json")
                break
            except httpx.TransportError:
                assert asyncio.get_running_loop().time() < deadline, "the demo never served"
                await asyncio.sleep(0.05)
        tokens = {}
        for login in ("admin", "head", "leader", "agent"):
            answer = await client.post(
                "/api/auth/login", json={"login": login, "password": DEMO_PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            tokens[login] = {"Authorization": f"Bearer {answer.json()['token']}"}
        agent = tokens["agent"]
        login = await client.post("/api/agent/login", json={"campaign": 1}, headers=agent)
        assert login.status_code == 200, login.text
        ready = await client.post("/api/agent/ready", headers=agent)
        assert ready.json()["phase"] in {"ready", "reserved", "talking"}
        dashboard = (await client.get("/api/dashboard/1", headers=tokens["head"])).json()
        assert dashboard["campaign"]["state"] == "running"
        assert dashboard["live"] is not None
        assert len(dashboard["agents"]) >= 2
    result = await asyncio.wait_for(demo, 60)
    assert int(result.stats["dials"]) > 0  # type: ignore[call-overload]
