"""The supervisor's floor in a real browser, in Polish: agents in natural order with their
time in phase from the start, a supervisor pausing agents from the dashboard, and the
dashboard and the campaign page saying in words why the campaign does not dial."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import Dialog, expect
from sqlmodel import Session

from campaigns.models import Agent
from campaigns.service import create_campaign, validate_rules
from dialer.web.i18n import EN, PL
from tests.api.conftest import PASSWORD, World
from tests.api.conftest import sign_in as api_sign_in
from tests.api.test_dashboard_api import Floor, floor  # noqa: F401  (fixture)
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser


async def test_head_in_polish_pauses_agents_and_reads_why_nothing_is_dialed(
    floor: Floor,  # noqa: F811  (the fixture imported above)
    world: World,
    api_db: sa.Engine,
) -> None:
    """ "Agent 2" is listed before "Agent 10", each with a time in phase; the head pauses
    both from the dashboard; the dashboard and the campaign page then say no agent is
    ready, in Polish."""
    with Session(api_db) as session:
        for agent_id, name, seats in (
            (world.agent_a, "Agent 10", []),
            (world.agent_b, "Agent 2", ["desk-2"]),
        ):
            row = session.get(Agent, agent_id)
            assert row is not None
            row.name, row.seats = name, seats
            session.add(row)
        session.commit()
    first, second = api_sign_in(floor.app, "agent"), api_sign_in(floor.app, "agent_b")
    assert first.post("/api/agent/login", json={"campaign": floor.running}).status_code == 200
    floor.host.seat_up()
    second.post("/api/agent/login", json={"campaign": floor.running, "seat": "desk-2"})
    floor.host.seat_up()
    call = floor.host.dial()
    floor.host.answer(call.call_id)
    async with serve(floor.app) as url, chromium() as browser:
        page = await (await new_context(browser, url, locale="pl-PL")).new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        await page.goto(f"/dashboard?campaign={floor.running}&lang=pl")
        rows = page.locator("#dash-agents tbody tr")
        await expect(rows.locator("td:first-child")).to_have_text(["Agent 2", "Agent 10"])
        await expect(rows.locator("td:nth-child(3)")).to_have_text([re.compile(r"^\d+:\d\d$")] * 2)
        await expect(page.locator("#dash-idle-box")).to_be_hidden()
        calls = page.locator("#dash-calls tbody tr")
        await expect(calls).to_have_count(1)
        await expect(calls.locator("td:nth-child(3)")).to_have_text(PL["call_phase.talking"])
        await expect(calls.locator("td:nth-child(4)")).to_have_text(re.compile(r"^\d+:\d\d$"))
        # The talking agent has no pause button; the ready one is paused by the head.
        pause = page.locator("#dash-agents button[data-agent-action=pause]")
        await expect(pause).to_have_count(1)
        await pause.click()
        await expect(page.locator("#dash-agents tr[data-phase=paused]")).to_have_count(1)
        idle = page.locator("#dash-idle [data-idle=no_agent_ready]")
        await expect(idle).to_have_text(PL["idle.no_agent_ready"].format(logged_in=2))
        await page.goto(f"/campaigns/{floor.running}")
        await expect(page.locator("#campaign-idle [data-idle=no_agent_ready]")).to_have_text(
            PL["idle.no_agent_ready"].format(logged_in=2)
        )
        assert errors == []


async def test_starting_outside_the_campaigns_hours_asks_first(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """A campaign whose hours are closed today: Start on the campaign list and on the
    campaign page asks first, naming the hours; "cancel" leaves it as it was, "OK" starts
    it, and the page then says it is outside its hours."""
    today = dt.datetime.now(dt.UTC).isoweekday()
    with Session(api_db) as session:
        rules = validate_rules(
            name="Nocna",
            hours_start="09:00",
            hours_end="17:00",
            hours_days=[d for d in range(1, 8) if d != today],
            hours_tz="UTC",
        )
        campaign_id = create_campaign(session, rules, actor="t").id
        session.commit()
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        asked: list[str] = []

        async def cancel(dialog: Dialog) -> None:
            asked.append(dialog.message)
            await dialog.dismiss()

        page.once("dialog", cancel)
        await page.goto("/campaigns")
        await page.get_by_role("button", name=f"{EN['campaigns.start']}: Nocna").click()
        await expect(page.locator(f"#campaigns tr[data-campaign='{campaign_id}']")).to_contain_text(
            EN["campaign_state.draft"]
        )
        assert asked == [EN["campaign.start_closed_confirm"].format(hours="09:00–17:00 (UTC)")]
        page.once("dialog", lambda dialog: dialog.accept())
        await page.goto(f"/campaigns/{campaign_id}")
        await page.locator("#state-actions [data-action=start]").click()
        await expect(page.locator("#campaign-state")).to_have_text(EN["campaign_state.running"])
        await expect(page.locator("#campaign-idle [data-idle=outside_hours]")).to_have_text(
            EN["idle.outside_hours"]
        )
        assert errors == []
