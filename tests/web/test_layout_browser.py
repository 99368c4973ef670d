"""Layout at a full-HD screen: the call log's every column is on screen (long Polish
names wrap instead of pushing the last columns off), in both languages."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session

from campaigns.enums import SystemStatus
from campaigns.models import Agent, CallLog, Record
from campaigns.service import create_campaign, validate_rules
from tests.api.conftest import PASSWORD, World
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser


async def test_call_log_fits_a_1920_screen_in_polish_and_english(
    app: FastAPI, api_db: sa.Engine, world: World
) -> None:
    """With long campaign, person, agent, status and hang-up texts, the call log's table
    is no wider than its box at 1920×1080: nothing is off-screen."""
    now = dt.datetime.now(dt.UTC)
    with Session(api_db) as session:
        campaign = create_campaign(
            session, validate_rules(name="Demo: jesienna sprzedaż ubezpieczeń"), actor="t"
        )
        agent = session.get(Agent, world.agent_b)
        assert agent is not None
        agent.name = "Bartłomiej Zielińskiwiczowski"
        session.add(agent)
        record = Record(
            campaign_id=campaign.id or 0,
            phone="+48600500600",
            name="Małgorzata Wiśniewska-Przybyszewska",
        )
        session.add(record)
        session.flush()
        for i in range(10):
            session.add(
                CallLog(
                    campaign_id=campaign.id or 0,
                    record_id=record.id,
                    phone="+48600500600",
                    agent_id=world.agent_b,
                    dial_at=now - dt.timedelta(minutes=i),
                    outcome="answered",
                    system_status=SystemStatus.NOT_BEFORE.value,
                    ring_s=12.0,
                    wait_s=0.4,
                    talk_s=125.0,
                    hangup_cause=16,
                    hangup_cause_txt="Normal Clearing",
                    note="Klient prosi o kontakt w przyszłym tygodniu po godzinie szesnastej",
                )
            )
        session.commit()
    async with serve(app) as url, chromium() as browser:
        context = await new_context(browser, url, locale="pl-PL")
        page = await context.new_page()
        await page.set_viewport_size({"width": 1920, "height": 1080})
        errors = page_errors(page)
        await sign_in(page, "admin", PASSWORD)
        for lang in ("pl", "en"):
            await page.goto(f"/calls?lang={lang}")
            await expect(page.locator("#calls tbody tr")).to_have_count(10)
            widths = await page.eval_on_selector(
                ".table-wrap",
                "w => [w.scrollWidth, w.clientWidth, w.getBoundingClientRect().right]",
            )
            assert widths[0] <= widths[1], (lang, widths)
            assert widths[2] <= 1920, (lang, widths)
        assert errors == []
