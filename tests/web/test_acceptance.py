"""Acceptance, in a real browser against a real engine: a supervisor creates a campaign in
the pages, uploads a list and starts it; an agent logs in to a seat, goes ready, receives
a call from the PBX simulator, sees the screen pop and sets a MY_RECORD status with a
date; the supervisor's dashboard follows it live, without a reload."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect
from sqlmodel import Session

from asterisk.scenario import ScenarioBehaviour, scenario_from_dict
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from campaigns.db import make_engine
from campaigns.enums import Role, SystemStatus
from campaigns.migrate import initialize
from campaigns.models import Agent, CallLog, Record
from campaigns.statuses import create_status
from dialer.runtime import Runtime
from dialer.services.accounts import create_user
from dialer.web.i18n import EN
from tests.api.conftest import PASSWORD
from tests.runtime_settings import sim_settings
from tests.web.browser import chromium, new_context, page_errors, sign_in

pytestmark = pytest.mark.browser

#: Every person answers after 4 s and talks for 8 s; the simulator's own wrap-up never
#: ends first (the agent in the browser sets the status during the wrap-up).
SCENARIO = {
    "name": "web-acceptance",
    "duration_s": 600,
    "lines": 10,
    "agents": {"count": 1, "wrapup": {"dist": "constant", "value": 3600}},
    "calls": {
        "answer_prob": 1.0,
        "ring": {"dist": "constant", "value": 4},
        "talk": {"dist": "constant", "value": 8},
    },
}
PEOPLE = [
    ("+48 22 123 45 67", "Anna Kowalska", "A"),
    ("+48 22 123 45 68", "Piotr Nowak", "B"),
    ("+48 22 123 45 69", "Ewa Wiśniewska", "A"),
]
CALLBACK = "Interested, call back"
BROWSER_TZ = "Europe/Warsaw"


@dataclass(frozen=True)
class Floor:
    """The database of the test: who works there."""

    url: str
    agent_id: int


@pytest.fixture
def floor(tmp_path: Path) -> Floor:
    """An empty call center: an administrator, one agent with a seat and its user, and a
    MY_RECORD status added to every new campaign."""
    url = f"sqlite:///{tmp_path / 'floor.db'}"
    db = make_engine(url)
    initialize(db)
    with Session(db) as session:
        create_status(
            session,
            name=CALLBACK,
            system_status=SystemStatus.MY_RECORD,
            add_to_new_campaigns=True,
            actor="test",
        )
        agent = Agent(login="anna", name="Anna Agent", extension="agent1")
        session.add(agent)
        session.flush()
        assert agent.id is not None
        create_user(session, login="admin", password=PASSWORD, role=Role.ADMIN, actor="test")
        create_user(
            session,
            login="agent",
            password=PASSWORD,
            role=Role.AGENT,
            actor="test",
            name="Anna Agent",
            agent_id=agent.id,
        )
        session.commit()
        agent_id = agent.id
    db.dispose()
    return Floor(url, agent_id)


def _list_csv(path: Path) -> Path:
    """The list the supervisor uploads: three good rows, a bad number and a duplicate."""
    lines = ["phone;name;segment"]
    lines += [f"{phone};{name};{segment}" for phone, name, segment in PEOPLE]
    lines += ["12;Too Short;C", f"{PEOPLE[0][0]};Anna Again;A"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _create_campaign(page: Page, csv: Path) -> int:
    """The supervisor's part up to the upload; returns the new campaign's id."""
    await page.goto("/campaigns")
    await page.get_by_role("link", name=EN["campaigns.new"]).click()
    await page.wait_for_url("**/campaigns/new")
    await page.get_by_label(EN["campaign.name"], exact=True).fill("Autumn sales")
    await expect(page.locator("#f-pacing_profile option[value=progressive]")).to_be_attached()
    await page.get_by_label(EN["campaign.pacing_profile"], exact=True).select_option("progressive")
    await page.get_by_label(EN["campaign.window_start"], exact=True).fill("00:00")
    await page.get_by_label(EN["campaign.window_end"], exact=True).fill("00:00")  # = all day
    days = page.locator("fieldset[data-days=window_days]")
    for day in range(1, 8):
        await days.get_by_label(EN[f"day.{day}"], exact=True).check()
    await page.get_by_role("button", name=EN["app.save"]).click()
    await page.wait_for_url(re.compile(r"/campaigns/\d+\?created=1$"))
    campaign_id = int(re.findall(r"/campaigns/(\d+)", page.url)[0])
    await expect(page.locator("#rules-ok")).to_have_text(EN["campaign.created"])
    # The MY_RECORD status is offered (added to every new campaign).
    await expect(page.locator("#offered")).to_contain_text(CALLBACK)

    await page.get_by_label(EN["campaign.list_file"], exact=True).set_input_files(csv)
    await page.get_by_role("button", name=EN["campaign.upload"]).click()
    report = page.locator("#import-report")
    await expect(report.locator("[data-report=imported]")).to_have_text("3")
    await expect(report.locator("[data-report=rejected]")).to_have_text("2")
    rejects = page.locator("#rejects tbody tr")
    await expect(rejects).to_have_count(2)
    await expect(rejects.nth(0)).to_contain_text(EN["reject.invalid_number"])
    await expect(rejects.nth(1)).to_contain_text(EN["reject.duplicate_in_file"])
    await expect(page.locator("#lists tbody tr")).to_have_count(1)
    return campaign_id


async def test_supervisor_and_agent_run_a_campaign_in_the_browser(
    floor: Floor, tmp_path: Path
) -> None:
    """The whole path through the pages, with the engine, the API and the PBX simulator."""
    scenario = scenario_from_dict(SCENARIO, name="web-acceptance")
    csv = _list_csv(tmp_path / "autumn.csv")
    async with PbxSimulator(World(behaviour=ScenarioBehaviour(scenario)), port=0) as pbx:
        settings = sim_settings(floor.url, pbx.port, engine={"id": "web-test", "tick_s": 0.2})
        async with (
            Runtime(settings, http=("127.0.0.1", 0)) as runtime,
            chromium() as browser,
        ):
            assert runtime.http_server is not None
            host, port = runtime.http_server.servers[0].sockets[0].getsockname()[:2]
            url = f"http://{host}:{port}"

            # The supervisor creates the campaign, uploads the list, starts it and (until
            # the agent is at the desk) pauses it.
            boss_context = await new_context(browser, url)
            boss = await boss_context.new_page()
            boss_errors = page_errors(boss)
            await sign_in(boss, "admin", PASSWORD)
            campaign_id = await _create_campaign(boss, csv)
            state = boss.locator("#campaign-state")
            await boss.locator("#state-actions [data-action=start]").click()
            await expect(state).to_have_text(EN["campaign_state.running"])
            await boss.locator("#state-actions [data-action=pause]").click()
            await expect(state).to_have_text(EN["campaign_state.paused"])

            # The agent logs in to its seat, pauses for a moment, then goes ready.
            desk = await (await new_context(browser, url, locale="en-GB")).new_page()
            desk_errors = page_errors(desk)
            await sign_in(desk, "agent", PASSWORD)
            await desk.wait_for_url("**/agent")
            campaign_select = desk.get_by_label(EN["agent.campaign"], exact=True)
            await campaign_select.select_option(str(campaign_id))
            await desk.get_by_role("button", name=EN["agent.login"]).click()
            phase = desk.locator("#phase")
            await expect(phase).to_have_text(EN["phase.ready"])
            await expect(desk.locator("#live-seat")).to_have_text("agent1")
            await desk.get_by_label(EN["agent.pause_reason"], exact=True).select_option("lunch")
            await desk.get_by_role("button", name=EN["agent.pause"], exact=True).click()
            await expect(phase).to_have_text(EN["phase.paused"])
            await expect(desk.locator("#pause-reason")).to_have_text(EN["pause_reason.lunch"])
            await desk.get_by_role("button", name=EN["agent.ready"], exact=True).click()
            await expect(phase).to_have_text(EN["phase.ready"])

            # The supervisor opens the dashboard in a second tab: the agent is ready, no call
            # connected yet. Then, in the first tab, the campaign starts again.
            dash = await boss_context.new_page()
            dash_errors = page_errors(dash)
            await dash.goto(f"/dashboard?campaign={campaign_id}")
            await expect(dash.locator("#live-dot")).to_have_attribute("data-live", "on")
            agent_row = dash.locator("#dash-agents tbody tr[data-agent]")
            await expect(agent_row).to_have_count(1)
            await expect(agent_row).to_contain_text(EN["phase.ready"])
            await expect(dash.locator("[data-total=connected]")).to_have_text("0")
            await dash.evaluate("window.__noReload = true")
            await boss.locator("#state-actions [data-action=start]").click()
            await expect(state).to_have_text(EN["campaign_state.running"])

            # A person answers: the agent sees the screen pop with the record's fields.
            await expect(phase).to_have_text(EN["phase.talking"])
            pop_name = desk.locator("#pop-name")
            await expect(pop_name).to_have_text(re.compile("|".join(n for _, n, _ in PEOPLE)))
            name = await pop_name.inner_text()
            phone = next(p for p, n, _ in PEOPLE if n == name).replace(" ", "")
            await expect(desk.locator("#pop-phone")).to_have_text(phone)
            await expect(desk.locator("#pop-fields")).to_contain_text("segment")

            # The dashboard shows it live: the agent talking, a call connected.
            await expect(agent_row).to_contain_text(EN["phase.talking"])
            await expect(dash.locator("[data-total=connected]")).to_have_text("1")
            await expect(dash.locator("[data-calls=talking]")).to_have_text("1")
            assert await dash.evaluate("window.__noReload === true")

            # The person hangs up; in the wrap-up the agent still sees the record and sets
            # MY_RECORD with a date tomorrow at 10:30 (the browser's time zone).
            await expect(phase).to_have_text(EN["phase.wrap_up"])
            await expect(pop_name).to_have_text(name)
            await expect(agent_row).to_contain_text(EN["phase.wrap_up"])
            await desk.get_by_label(re.compile(CALLBACK)).check()
            date = desk.get_by_label(EN["agent.date"], exact=True)
            await expect(date).to_be_visible()
            when = dt.datetime.now(ZoneInfo(BROWSER_TZ)).replace(
                hour=10, minute=30, second=0, microsecond=0
            ) + dt.timedelta(days=1)
            await date.fill(when.strftime("%Y-%m-%dT%H:%M"))
            await desk.get_by_label(EN["agent.note"], exact=True).fill("Call after lunch")
            await desk.get_by_role("button", name=EN["agent.save_status"]).click()
            await expect(desk.locator("#call-ok")).to_have_text(EN["agent.status_saved"])
            await expect(desk.locator("#status-card")).to_be_hidden()
            callbacks = desk.locator("#callbacks tbody tr")
            await expect(callbacks).to_have_count(1)
            await expect(callbacks).to_contain_text(name)
            await expect(desk.locator("#history tbody tr").last).to_contain_text(CALLBACK)

            # The campaign's records, filtered to callbacks: the agent owns this one.
            await boss.goto(f"/campaigns/{campaign_id}/records?system_status=MY_RECORD")
            records = boss.locator("#records tbody tr")
            await expect(records).to_have_count(1)
            await expect(records).to_contain_text(name)
            await expect(records).to_contain_text("anna")

            assert boss_errors == []
            assert dash_errors == []
            assert desk_errors == []

    db = make_engine(floor.url)
    with Session(db) as session:
        record = session.exec(sa.select(Record).where(Record.phone == phone)).scalar_one()
        assert record.system_status == SystemStatus.MY_RECORD
        assert record.owner_agent_id == floor.agent_id
        assert record.next_call_at == when.astimezone(dt.UTC)
        call = session.exec(sa.select(CallLog).where(CallLog.record_id == record.id)).scalar_one()
        assert call.agent_id == floor.agent_id
        assert call.system_status == SystemStatus.MY_RECORD.value
        assert call.note == "Call after lunch"
    db.dispose()
