"""The missed-call worklist in a real browser, per role: an agent expands a row's history,
adds a note and calls the row back; a group leader hides and restores a row (the header's
counter follows); a head deletes one, and the deletion is audited with who and when."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session, col, select

from campaigns import inbound as wl
from campaigns.models import AuditLog
from campaigns.service import create_campaign, validate_rules
from dialer.web.i18n import EN
from tests.api.conftest import PASSWORD
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def rows(api_db: sa.Engine) -> dict[str, int]:
    """Two open rows in 'sales' (the first caller missed twice), linked to a campaign."""
    with Session(api_db) as session:
        campaign = create_campaign(session, validate_rules(name="Oddzwonienia"), actor="t")
        session.commit()
        campaign_id = campaign.id or 0
    wl.attach_queue(api_db, "sales", campaign_id, actor="test")
    a = wl.record_miss(api_db, caller="48601000001", queue="sales", at=NOW - dt.timedelta(hours=2))
    wl.record_miss(api_db, caller="48601000001", queue="sales", at=NOW - dt.timedelta(hours=1))
    b = wl.record_miss(
        api_db, caller="48601000002", queue="sales", at=NOW - dt.timedelta(minutes=30)
    )
    return {"a": a.row_id, "b": b.row_id}


async def test_agent_expands_history_adds_a_note_and_calls_back(
    app: FastAPI, rows: dict[str, int]
) -> None:
    """The agent sees both rows and the counter 2; the first row's history shows its two
    missed calls; a note appears in it; 'Call back' says the agent is reserved, and the
    history then shows the callback request. No hide or delete button for an agent."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "agent", PASSWORD)
        await page.goto("/worklist")
        table = page.locator("#worklist tbody tr[data-row]")
        await expect(table).to_have_count(2)
        await expect(page.locator("#worklist-count")).to_have_text("2")
        await expect(page.get_by_role("button", name=EN["worklist.hide"])).to_have_count(0)
        await expect(page.get_by_role("button", name=EN["worklist.delete"])).to_have_count(0)
        phone = "+48601000001"
        expand = page.get_by_role("button", name=f"{EN['worklist.history']}: {phone}")
        await expand.click()
        history = page.locator(f"#history-{rows['a']} ol li")
        await expect(history).to_have_count(2)
        await expect(history.first).to_contain_text(EN["wl_kind.missed"])
        await expect(expand).to_have_attribute("aria-expanded", "true")
        await page.get_by_label(EN["worklist.note"]).fill("Oddzwonić po 16:00")
        await page.get_by_role("button", name=EN["worklist.add_note"]).click()
        await expect(page.locator("#wl-ok")).to_have_text(EN["worklist.noted"])
        await expect(history).to_have_count(3)
        await expect(history.last).to_contain_text("Oddzwonić po 16:00")
        await page.get_by_role("button", name=f"{EN['worklist.call_back']}: {phone}").click()
        await expect(page.locator("#wl-ok")).to_have_text(
            EN["worklist.calling"].format(phone=phone)
        )
        await expect(history.last).to_contain_text(EN["wl_kind.callback_requested"])
        assert errors == []


async def test_group_leader_hides_and_restores_a_row(app: FastAPI, rows: dict[str, int]) -> None:
    """Hidden, the row leaves the open list and the counter drops to 1; with the 'hidden'
    filter it is there and 'Restore' brings it back (counter 2 again)."""
    del rows
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "leader", PASSWORD)
        await page.goto("/worklist")
        phone = "+48601000002"
        open_rows = page.locator("#worklist tbody tr[data-row]")
        await expect(open_rows).to_have_count(2)
        await page.get_by_role("button", name=f"{EN['worklist.hide']}: {phone}").click()
        await expect(page.locator("#wl-ok")).to_have_text(EN["worklist.hidden"].format(phone=phone))
        await expect(open_rows).to_have_count(1)
        await expect(page.locator("#worklist-count")).to_have_text("1")
        await page.get_by_label(EN["worklist.state"]).select_option("hidden")
        await page.get_by_role("button", name=EN["calls.apply"]).click()
        await expect(open_rows).to_have_count(1)
        await expect(open_rows.first.locator("td").first).to_have_text(phone)
        await page.get_by_role("button", name=f"{EN['worklist.restore']}: {phone}").click()
        await expect(page.locator("#wl-ok")).to_have_text(
            EN["worklist.restored"].format(phone=phone)
        )
        await expect(open_rows).to_have_count(0)
        await expect(page.locator("#worklist-count")).to_have_text("2")
        await expect(page.get_by_role("button", name=EN["worklist.delete"])).to_have_count(0)
        assert errors == []


async def test_head_deletes_a_row_and_it_is_audited(
    app: FastAPI, rows: dict[str, int], api_db: sa.Engine
) -> None:
    """The head confirms the deletion: the row leaves the list, shows as closed by the head
    with the 'deleted' history line, and the audit log names the head."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        await page.goto("/worklist")
        phone = "+48601000001"
        open_rows = page.locator("#worklist tbody tr[data-row]")
        await expect(open_rows).to_have_count(2)
        page.on("dialog", lambda dialog: dialog.accept())
        await page.get_by_role("button", name=f"{EN['worklist.delete']}: {phone}").click()
        await expect(page.locator("#wl-ok")).to_have_text(
            EN["worklist.deleted"].format(phone=phone)
        )
        await expect(open_rows).to_have_count(1)
        await page.get_by_label(EN["worklist.state"]).select_option("closed")
        await page.get_by_role("button", name=EN["calls.apply"]).click()
        await expect(open_rows).to_have_count(1)
        await expect(open_rows.first).to_contain_text(EN["wl_closed.deleted"])
        await page.get_by_role("button", name=f"{EN['worklist.history']}: {phone}").click()
        await expect(page.locator(f"#history-{rows['a']} ol li").last).to_contain_text("user:head")
        await expect(page.locator("#stats [data-stat=removed_by_person]")).to_have_text("1")
        assert errors == []
    with Session(api_db) as session:
        audit = session.exec(
            select(AuditLog).where(AuditLog.entity == "missed_call").order_by(col(AuditLog.id))
        ).all()
    assert [(a.action, a.actor, a.entity_id) for a in audit] == [
        ("worklist_delete", "user:head", str(rows["a"]))
    ]
