"""The records list and the record page in a real browser: bulk park on selected rows,
the record page's state, actions, a status by hand with its error next to the field,
edited fields and the change list — as a head in English and a group leader in Polish."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session

from campaigns.enums import SystemStatus
from campaigns.models import CallLog, CampaignStatus, Record, StatusDef
from campaigns.service import create_campaign, validate_rules
from dialer.web.i18n import EN, PL
from tests.api.conftest import PASSWORD, World
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def floor(api_db: sa.Engine, world: World) -> dict[str, int]:
    """A campaign with a callback status and three records: two fresh, one callback of the
    group leader's agent with one earlier call."""
    now = dt.datetime.now(dt.UTC)
    with Session(api_db) as session:
        rules = validate_rules(
            name="Floor", window_start="00:00", window_end="23:59", window_days=list(range(1, 8))
        )
        campaign = create_campaign(session, rules, actor="t")
        assert campaign.id
        mine = StatusDef(
            name="Oddzwonić", system_status=SystemStatus.MY_RECORD, campaign_id=campaign.id
        )
        session.add(mine)
        session.flush()
        session.add(CampaignStatus(campaign_id=campaign.id, status_id=mine.id or 0, position=9))
        first = Record(
            campaign_id=campaign.id, phone="+48600000001", name="Ewa", fields={"city": "Łódź"}
        )
        second = Record(campaign_id=campaign.id, phone="+48600000002", name="Olek")
        callback = Record(
            campaign_id=campaign.id,
            phone="+48600000003",
            name="Zofia",
            system_status=SystemStatus.MY_RECORD,
            owner_agent_id=world.agent_a,
            next_call_at=now + dt.timedelta(hours=3),
            attempts=1,
        )
        session.add_all([first, second, callback])
        session.flush()
        session.add(
            CallLog(
                campaign_id=campaign.id,
                record_id=callback.id,
                phone=callback.phone,
                agent_id=world.agent_a,
                dial_at=now - dt.timedelta(hours=1),
                outcome="answered",
                note="prosi o telefon po 15",
            )
        )
        session.commit()
        return {"campaign": campaign.id, "first": first.id or 0, "callback": callback.id or 0}


async def test_head_parks_in_bulk_then_works_one_record(
    app: FastAPI, floor: dict[str, int], world: World
) -> None:
    """The head selects two rows and parks them; the list marks them; on the first
    record's page it reads why it is not dialed, types a field's new value, unparks it, is
    told next to the date field that a callback needs a date, books the callback for an
    agent, finds the typed value still there and saves it, and reads each change as
    before → after."""
    del world
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        await page.goto(f"/campaigns/{floor['campaign']}/records")
        rows = page.locator("#records tbody tr")
        await expect(rows).to_have_count(3)
        await page.get_by_label(EN["records.select"].format(phone="+48600000001")).check()
        await page.get_by_label(EN["records.select"].format(phone="+48600000002")).check()
        await page.get_by_label(EN["records.bulk_action"]).select_option("park")
        await page.get_by_role("button", name=EN["records.bulk_selected"]).click()
        await expect(page.locator("#bulk-result")).to_have_text(
            EN["records.bulk_done"].format(changed=2, skipped="0")
        )
        await expect(page.locator("#records [data-parked]")).to_have_count(2)
        await expect(page.locator("#page-info")).to_contain_text("records)")

        await page.get_by_role("link", name="+48600000001").click()
        await page.wait_for_url(f"{url}/records/{floor['first']}")
        await expect(page.locator("#fact-dialable")).to_contain_text(EN["not_callable.parked"])
        # a field typed first stays while other actions show the record again
        edit = page.locator("#edit-form")
        city = edit.get_by_label(EN["record.field_value"] + " city")
        await city.fill("Kraków")
        await page.get_by_role("button", name=EN["record_action.unpark"]).click()
        await expect(page.locator("#fact-dialable")).to_contain_text(EN["record.dialable_now"])

        status = page.locator("#status-form")
        await status.get_by_label(EN["col.status"]).select_option(label="Oddzwonić (My record)")
        await status.get_by_role("button", name=EN["record.set_status_button"]).click()
        await expect(status.locator('[data-error-for="date"]')).not_to_be_empty()
        await expect(status.locator('[data-error-for="date"]')).not_to_contain_text("date:")
        await status.get_by_label(EN["records.owner"]).select_option(label="Anna Nowak")
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        await status.get_by_label(EN["record.date"]).fill(later)
        await status.get_by_role("button", name=EN["record.set_status_button"]).click()
        await expect(page.locator("#record-system")).to_have_text(EN["system_status.MY_RECORD"])
        await expect(page.locator("#fact-owner")).to_have_text("anna")

        await expect(city).to_have_value("Kraków")
        await edit.get_by_role("button", name=EN["app.save"]).click()
        await expect(page.locator("#edit-ok")).to_have_text(EN["app.saved"])
        audit = page.locator("#record-audit tbody tr")
        await expect(audit).to_have_count(4)
        await expect(audit.locator("td:nth-child(3)")).to_have_text(
            [
                EN["audit_action.record_edit"],
                EN["audit_action.record_status_by_hand"],
                EN["audit_action.record_unpark"],
                EN["audit_action.record_park"],
            ]
        )
        await expect(audit.first.locator("td:nth-child(4)")).to_contain_text("Łódź")
        await expect(audit.first.locator("td:nth-child(4) ins")).to_contain_text("Kraków")
        shot = os.environ.get("DIALER_RECORD_SCREENSHOT")
        if shot:
            await page.set_viewport_size({"width": 1280, "height": 1100})
            await page.screenshot(path=Path(shot), full_page=True)
        assert errors == []


async def test_group_leader_in_polish_sees_the_callbacks_history_and_calls_it_next(
    app: FastAPI, floor: dict[str, int]
) -> None:
    """A group leader, in Polish, opens a callback of its agent: the earlier call with its
    note, Polish labels; "call next" is done and listed as a change; another campaign's
    record unknown to the leader is a 404 page."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url, locale="en-GB")).new_page()
        errors = page_errors(page)
        await sign_in(page, "leader", PASSWORD)
        await page.goto(f"/records/{floor['callback']}?lang=pl")
        await expect(page.locator("#state-h")).to_have_text(PL["record.state"])
        attempts = page.locator("#attempts tbody tr")
        await expect(attempts).to_have_count(1)
        await expect(attempts.first).to_contain_text("prosi o telefon po 15")
        await expect(attempts.first).to_contain_text(PL["outcome.answered"])
        await expect(page.locator("#fact-dialable")).to_contain_text(PL["not_callable.not_due"])
        await page.get_by_role("button", name=PL["record_action.call_next"]).click()
        await expect(page.locator("#action-result")).to_have_text(PL["record.action_done"])
        await expect(page.locator("#record-audit tbody tr td:nth-child(3)")).to_have_text(
            [PL["audit_action.record_call_next"]]
        )
        # Dates follow the user's language, not the browser's (an English browser here).
        when = await page.locator("#fact-next time").text_content()
        assert when
        assert "." in when, when
        response = await page.goto(f"/records/{floor['first']}")
        assert response is not None
        assert response.status == 404
        await expect(page.locator("#not-found h1")).to_have_text(PL["not_found.title"])
        assert errors == []
