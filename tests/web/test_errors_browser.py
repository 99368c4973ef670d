"""Errors in the user's language, next to their field, never the validator's English; and
an edit typed while the session had ended is kept and saved after signing in again."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session, select

from campaigns.enums import SystemStatus
from campaigns.models import AuditLog, Record
from campaigns.service import create_campaign, validate_rules
from campaigns.statuses import create_status
from dialer.web.i18n import EN, PL
from tests.api.conftest import PASSWORD, World
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def record(api_db: sa.Engine, world: World) -> tuple[int, int]:
    """(campaign id, record id)."""
    del world
    with Session(api_db) as session:
        campaign = create_campaign(session, validate_rules(name="Błędy"), actor="t")
        assert campaign.id
        row = Record(campaign_id=campaign.id, phone="+48600300400", name="Stara nazwa")
        session.add(row)
        session.commit()
        return campaign.id, row.id or 0


async def test_validation_error_in_polish_next_to_its_field(
    app: FastAPI, record: tuple[int, int]
) -> None:
    """Max attempts of 1000 on the campaign page: "najwyżej 100" under that field, the
    general message points at the fields, and no validator wording shows anywhere."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url, locale="en-GB")).new_page()
        errors = page_errors(page)
        await sign_in(page, "admin", PASSWORD)
        await page.goto(f"/campaigns/{record[0]}?lang=pl")
        attempts = page.get_by_label(PL["campaign.max_attempts"])
        await expect(attempts).to_have_value("5")
        await attempts.fill("1000")
        await page.locator("#btn-save-campaign").click()
        slot = page.locator('[data-error-for="max_attempts"]')
        await expect(slot).to_have_text(PL["problem.at_most"].format(limit="100"))
        await expect(page.locator("#rules-error")).to_have_text(PL["error.see_fields"])
        body = await page.locator("main").inner_text()
        assert "Input should" not in body
        assert "max_attempts" not in body
        assert errors == []


async def test_edit_typed_after_the_session_ended_is_saved_after_signing_in(
    app: FastAPI, record: tuple[int, int], api_db: sa.Engine
) -> None:
    """The session ends while the record page is open; saving the typed name leads to the
    sign-in page, and after signing in the page says the change was saved, and it was."""
    async with serve(app) as url, chromium() as browser:
        context = await new_context(browser, url)
        page = await context.new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        await page.goto(f"/records/{record[1]}")
        name = page.locator("#e-name")
        await expect(name).to_have_value("Stara nazwa")
        await context.clear_cookies()  # the session has ended
        await name.fill("Nowa nazwa")
        await page.get_by_role("button", name=EN["app.save"]).click()
        await page.wait_for_url(re.compile(r"/login\?next="))
        await page.locator("#login").fill("head")
        await page.locator("#password").fill(PASSWORD)
        await page.locator("#login-form button[type=submit]").click()
        await page.wait_for_url(f"{url}/records/{record[1]}")
        await expect(page.locator("#replayed")).to_have_text(EN["app.replayed"])
        await expect(page.locator("#e-name")).to_have_value("Nowa nazwa")
        assert [e for e in errors if "401" not in e] == []
    with Session(api_db) as session:
        edits = session.exec(select(AuditLog).where(AuditLog.action == "record.edit")).all()
    assert [e.actor for e in edits] == ["user:head"]


async def test_status_rule_refusal_in_polish_next_to_its_field(
    app: FastAPI, record: tuple[int, int], api_db: sa.Engine
) -> None:
    """A MY_RECORD status set by hand without its owner: the refusal of the campaign's rules
    shows in Polish under the owner field, naming the status, not the service's English."""
    with Session(api_db) as session:
        mine = create_status(
            session,
            name="Oddzwonić później",
            system_status=SystemStatus.MY_RECORD,
            campaign_id=record[0],
            actor="t",
        )
        session.commit()
        session.refresh(mine)
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url, locale="en-GB")).new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        await page.goto(f"/records/{record[1]}?lang=pl")
        await expect(page.locator(f'#s-status option[value="{mine.id}"]')).to_have_count(1)
        await page.locator("#s-status").select_option(str(mine.id))
        await page.locator("#s-date").fill("2099-01-02T10:00")
        await page.locator("#status-form button[type=submit]").click()
        slot = page.locator('[data-error-for="owner_agent_id"]')
        await expect(slot).to_have_text(PL["rule.needs_owner"].format(status=mine.name))
        body = await page.locator("main").inner_text()
        assert "needs the agent" not in body
        assert errors == []
