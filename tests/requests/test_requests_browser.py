"""The callback-requests page in a real browser, per role: what each role sees, the
history of a request, cancelling, and the sources and their keys (administrators)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect

from campaigns import requests as rq
from campaigns.enums import Outcome
from dialer.web.i18n import EN, PL
from tests.api.conftest import PASSWORD, World
from tests.requests.helpers import NOW, make_campaign, make_source
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser


def seed(db: sa.Engine, world: World) -> list[int]:
    """Three requests: answered by agent A (website), by agent B (CRM), one waiting."""
    campaign = make_campaign(db)
    web, _ = make_source(db)
    crm, _ = make_source(db, "crm")
    ids = []
    for source, phone in ((web, "+48500102000"), (crm, "+48500102001"), (web, "+48500102002")):
        asked = rq.Asked(campaign=campaign, phone=phone, name="Jan")
        ids.append(rq.create_request(db, source, asked, now=NOW).id)
    for request_id, agent in ((ids[0], world.agent_a), (ids[1], world.agent_b)):
        call = f"c{request_id}"
        for fact in (rq.CallFact.DIALED, rq.CallFact.CONNECTED):
            rq.on_call_fact(db, request_id, fact, call_id=call, agent_id=agent, now=NOW)
        rq.on_call_fact(
            db,
            request_id,
            rq.CallFact.FINISHED,
            call_id=call,
            agent_id=agent,
            now=NOW,
            outcome=Outcome.ANSWERED,
        )
    return ids


async def test_requests_page_per_role(app: FastAPI, api_db: sa.Engine, world: World) -> None:
    """The administrator sees every request and both sources' figures, filters by state,
    opens a request's history, cancels the waiting one, creates a source (its key shown
    once) and revokes it; a head sees all but no sources; a group leader and an agent see
    only their agents' requests, in Polish for the agent, with no cancel button."""
    ids = seed(api_db, world)
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        page.on("dialog", lambda dialog: dialog.accept())
        await sign_in(page, "admin", PASSWORD)
        await page.goto("/requests")
        rows = page.locator("#requests tbody tr")
        await expect(rows).to_have_count(3)
        await expect(page.locator("#request-stats tbody th")).to_have_text(["crm", "website"])
        await page.get_by_label(EN["requests.state"]).select_option("waiting")
        await page.get_by_role("button", name=EN["calls.apply"]).click()
        await expect(rows).to_have_count(1)
        waiting = page.locator(f"tr[data-request='{ids[2]}']")
        await waiting.get_by_role("button", name=EN["requests.history"]).click()
        await expect(page.locator(".history-row li")).to_have_count(1)
        await expect(page.locator(".history-row")).to_contain_text(EN["request_state.waiting"])
        await page.get_by_role("button", name=f"{EN['requests.cancel']}: +48500102002").click()
        await expect(page.locator("#requests-ok")).to_have_text(
            EN["requests.cancelled"].format(phone="+48500102002")
        )
        await expect(rows).to_have_count(0)  # the filter still shows only waiting ones
        assert rq.get_request(api_db, ids[2]).state == "cancelled"

        form = page.locator("#source-form")
        await form.get_by_label(EN["requests.source_name"]).fill("Landing page")
        await form.get_by_role("button", name=EN["requests.create_source"]).click()
        await expect(page.locator("#new-key-value")).to_have_text(re.compile(r"^cbr_.{20,}"))
        key = await page.locator("#new-key-value").text_content()
        assert key is not None
        assert rq.source_for_key(api_db, key) is not None
        await expect(page.locator("#sources tbody tr")).to_have_count(3)
        await page.get_by_role("button", name=f"{EN['requests.revoke']}: Landing page").click()
        await expect(page.locator("#requests-ok")).to_have_text(
            EN["requests.revoked"].format(source="Landing page")
        )
        assert rq.source_for_key(api_db, key) is None
        assert errors == []

        expected = {
            "head": ({ids[0], ids[1], ids[2]}, False, "en"),
            "leader": ({ids[0]}, False, "en"),
            "agent": ({ids[0]}, False, "pl"),
        }
        for login, (seen, sources, lang) in expected.items():
            context = await new_context(browser, url, locale="pl-PL" if lang == "pl" else "en-GB")
            other = await context.new_page()
            other_errors = page_errors(other)
            await sign_in(other, login, PASSWORD)
            await other.goto(f"/requests?lang={lang}")
            texts = PL if lang == "pl" else EN
            await expect(other.locator("h1")).to_have_text(texts["requests.title"])
            listed = other.locator("#requests tbody tr")
            await expect(listed).to_have_count(len(seen))
            got = {int(await r.get_attribute("data-request") or 0) for r in await listed.all()}
            assert got == seen, login
            await expect(other.locator("#sources")).to_have_count(1 if sources else 0)
            await expect(
                other.get_by_role("button", name=texts["requests.cancel"], exact=False)
            ).to_have_count(0)
            assert other_errors == [], login
            await context.close()
