"""The call log page in a real browser: each role's scope, filters kept in the address,
paging, and the CSV export of the filtered list."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session

from campaigns.models import CallLog, Campaign
from dialer.web.i18n import EN, plural_translator
from tests.api.conftest import PASSWORD, World
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def calls(api_db: sa.Engine, world: World) -> int:
    """A campaign with 30 calls of agent A (group A), 5 of agent B and 3 nobody took."""
    with Session(api_db) as session:
        campaign = Campaign(name="Jesień")
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        rows = [
            CallLog(
                campaign_id=campaign.id,
                phone=f"+4850100{k:04d}",
                agent_id=agent,
                dial_at=NOW - dt.timedelta(minutes=k),
                outcome=outcome,
                talk_s=30.0 + k if agent else None,
            )
            for k, (agent, outcome) in enumerate(
                [(world.agent_a, "answered")] * 30
                + [(world.agent_b, "answered")] * 5
                + [(None, "no_answer")] * 3
            )
        ]
        session.add_all(rows)
        session.commit()
        return campaign.id


async def test_call_log_scope_filters_paging_and_export(
    app: FastAPI, calls: int, world: World
) -> None:
    """The group leader sees only its group's calls, pages through them, filters by
    outcome and exports exactly the filtered list; the administrator sees every call."""
    del calls
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "leader", PASSWORD)
        await page.goto("/calls")
        rows = page.locator("#calls tbody tr")
        await page.get_by_label(EN["calls.page_size"]).select_option("25")
        await page.get_by_role("button", name=EN["calls.apply"]).click()
        await expect(page.locator("#page-info")).to_have_text(
            plural_translator("en")("calls.page_of", 30, page=1, pages=2, total=30)
        )
        await expect(rows).to_have_count(25)
        await page.get_by_role("button", name=EN["calls.next"]).click()
        await expect(rows).to_have_count(5)
        await expect(page).to_have_url(f"{url}/calls?page_size=25&page=2")
        # The agent filter offers only the leader's group.
        agent_options = page.locator("#q-agent option")
        await expect(agent_options).to_have_text([EN["app.all"], "Anna Nowak"])
        await page.get_by_label(EN["col.outcome"]).select_option("no_answer")
        await page.get_by_role("button", name=EN["calls.apply"]).click()
        await expect(page.locator("#calls-empty")).to_be_visible()

        await page.goto("/calls?outcome=answered&page_size=50")
        await expect(rows).to_have_count(30)
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name=EN["calls.export_csv"]).click()
        download = await download_info.value
        path = await download.path()
        lines = path.read_text(encoding="utf-8-sig").strip().splitlines()
        assert len(lines) == 1 + 30
        assert errors == []

        admin = await (await new_context(browser, url)).new_page()
        await sign_in(admin, "admin", PASSWORD)
        await admin.goto("/calls?page_size=50")
        await expect(admin.locator("#calls tbody tr")).to_have_count(38)
        await expect(admin.locator("#calls tbody")).to_contain_text(EN["outcome.no_answer"])
        del world
