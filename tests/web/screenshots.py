"""Screenshots of the pages with real data, for the README: ``docs/dashboard.png``,
``docs/agent.png``, ``docs/campaign.png`` and ``docs/calls.png`` (1280×800).

    .venv/bin/python -m tests.web.screenshots [--minutes 3] [--out docs] [--lang en]

Builds the demo database, runs the engine against the PBX simulator with nine simulated
agents and one agent signed in to the agent page in headless Chromium, lets the call
center work for ``--minutes``, then photographs the pages as a supervisor and as the agent
(in the middle of a call, with the callback status chosen). Takes about as long as
``--minutes`` plus half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from argon2 import PasswordHasher
from playwright.async_api import Page, expect
from sqlmodel import Session

from asterisk.scenario import Dist, ScenarioBehaviour, scenario_from_dict
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.demo import build_demo
from campaigns.dispositions import campaign_statuses
from campaigns.enums import Role, SystemStatus
from campaigns.models import Agent
from dialer.runtime import Runtime
from dialer.services import accounts as security
from dialer.sim.simagents import Disposition, SimAgents
from dialer.web.i18n import LANGUAGES, catalog
from tests.runtime_settings import sim_settings
from tests.web.browser import chromium, new_context, sign_in

ROOT = Path(__file__).parents[2]
PASSWORD = "screenshot-pass-1"
#: People answer a third of the calls and talk about half a minute; the simulator's own
#: seats never end a wrap-up (the simulated agents and the person in the browser do).
SCENARIO = {
    "name": "screenshots",
    "duration_s": 3600,
    "lines": 60,
    "agents": {"count": 10, "wrapup": {"dist": "constant", "value": 3600}},
    "calls": {
        "answer_prob": 0.35,
        "machine_prob": 0.1,
        "busy_prob": 0.08,
        "congestion_prob": 0.02,
        "ring": {"dist": "lognormal", "mean": 8, "sd": 4, "min": 2},
        "talk": {"dist": "lognormal", "mean": 35, "sd": 15, "min": 12},
    },
}
NAMES = [
    "Anna Nowak",
    "Piotr Kowalski",
    "Maria Wiśniewska",
    "Jan Wójcik",
    "Ewa Kamińska",
    "Tomasz Lewandowski",
    "Olivia Smith",
    "James Brown",
    "Emma Jones",
    "Zofia Zielińska",
]
BROWSER_AGENT = 10


def _prepare(url: str) -> int:
    """The demo database, agents with names, a supervisor and the browser agent's user."""
    db = make_engine(url)
    campaign_id = build_demo(
        db, records=3000, now=dt.datetime.now(dt.UTC), agents=10, running=True, always_open=True
    )
    with Session(db) as session:
        for agent_id, name in enumerate(NAMES, start=1):
            agent = session.get(Agent, agent_id)
            assert agent is not None
            agent.name = name
            session.add(agent)
        security.create_user(
            session, login="admin", password=PASSWORD, role=Role.ADMIN, actor="demo", name="Ada"
        )
        security.create_user(
            session,
            login="agent",
            password=PASSWORD,
            role=Role.AGENT,
            actor="demo",
            name=NAMES[BROWSER_AGENT - 1],
            agent_id=BROWSER_AGENT,
        )
        session.commit()
    db.dispose()
    return campaign_id


def _sim_agents(url: str, campaign_id: int) -> SimAgents:
    """Agents 1–9 work by themselves: short wrap-ups, a status each, a break now and then."""
    db = make_engine(url)
    with db.connect() as conn:
        options = campaign_statuses(conn, campaign_id)
    db.dispose()
    weights = {
        SystemStatus.TO_CALL: (0.35, None),
        SystemStatus.DO_NOT_CALL: (0.35, None),
        SystemStatus.MY_RECORD: (0.15, 86_400.0),
        SystemStatus.NOT_BEFORE: (0.15, 7_200.0),
    }
    dispositions = [
        Disposition(o.id, weights[o.system_status][0], weights[o.system_status][1])
        for o in options
        if o.system_status in weights and o.active and o.auto_outcome is None
    ]
    return SimAgents(
        campaign_id=campaign_id,
        schedule=[(0.0, BROWSER_AGENT - 1)],
        wrapup=Dist("lognormal", (("mean", 6.0), ("sd", 3.0))),
        dispositions=dispositions,
        pause_rate_per_hour=3.0,
        pause_duration=Dist("uniform", (("lo", 30.0), ("hi", 90.0))),
        seed=7,
        seat_of=lambda agent_id: f"agent{agent_id}",
    )


async def _agent_in_a_call(desk: Page, texts: dict[str, str]) -> None:
    """Wait for the browser agent's next call and fill in a callback for tomorrow."""
    await expect(desk.locator("#phase")).to_have_text(texts["phase.talking"], timeout=300_000)
    await expect(desk.locator("#status-card")).to_be_visible()
    choice = desk.locator("#status-options input[data-system=MY_RECORD]").first
    await choice.check()
    when = dt.datetime.now(ZoneInfo("Europe/Warsaw")) + dt.timedelta(days=1)
    await desk.locator("#status-date").fill(when.strftime("%Y-%m-%dT10:30"))
    await desk.locator("#status-note").fill("Interested in the autumn offer; call after 10.")
    await desk.locator("#status-note").blur()
    await desk.wait_for_timeout(4000)  # the phase timer runs a little


async def shoot(out: Path, minutes: float, lang: str) -> None:
    """Run the call center for ``minutes`` and save the screenshots into ``out``."""
    texts = catalog(lang)
    security.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'screens.db'}"
        campaign_id = _prepare(url)
        scenario = scenario_from_dict(SCENARIO, name="screenshots")
        async with PbxSimulator(World(behaviour=ScenarioBehaviour(scenario)), port=0) as pbx:
            settings = sim_settings(url, pbx.port, engine={"id": "screens", "tick_s": 0.5})
            sim = _sim_agents(url, campaign_id)
            async with (
                Runtime(settings, sim_agents=sim, http=("127.0.0.1", 0)) as runtime,
                chromium() as browser,
            ):
                assert runtime.http_server is not None
                host, port = runtime.http_server.servers[0].sockets[0].getsockname()[:2]
                base = f"http://{host}:{port}"
                locale = "pl-PL" if lang == "pl" else "en-GB"
                desk = await (await new_context(browser, base, locale=locale)).new_page()
                await sign_in(desk, "agent", PASSWORD)
                await desk.goto(f"/agent?lang={lang}")
                await desk.locator("#seat-campaign").select_option(str(campaign_id))
                await desk.locator("#btn-login").click()
                boss = await (await new_context(browser, base, locale=locale)).new_page()
                await sign_in(boss, "admin", PASSWORD)
                await boss.goto(f"/dashboard?campaign={campaign_id}&lang={lang}")
                print(f"the call center works for {minutes:g} min at {base} …")
                await asyncio.sleep(minutes * 60)

                await _agent_in_a_call(desk, texts)
                await desk.screenshot(path=out / "agent.png")
                await boss.goto(f"/dashboard?campaign={campaign_id}")
                await expect(boss.locator("#live-dot")).to_have_attribute("data-live", "on")
                await asyncio.sleep(2)
                await boss.screenshot(path=out / "dashboard.png")
                await boss.goto(f"/campaigns/{campaign_id}")
                await expect(boss.locator("#offered tbody tr").first).to_be_visible()
                await boss.screenshot(path=out / "campaign.png")
                await boss.goto("/calls?page_size=25")
                await expect(boss.locator("#calls tbody tr").first).to_be_visible()
                await boss.screenshot(path=out / "calls.png")
                with runtime.db.connect() as conn:
                    dials = conn.execute(sa.text("SELECT count(*) FROM call_log")).scalar()
                print(f"{dials} calls dialed; screenshots in {out}")


def main() -> None:
    """Parse the options and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="how long the floor works")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where to save")
    parser.add_argument("--lang", choices=sorted(LANGUAGES), default="en")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(args.out, args.minutes, args.lang))


if __name__ == "__main__":
    main()
