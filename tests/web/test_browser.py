"""The pages in a real browser (headless Chromium): signing in, errors shown in place,
Polish labels, navigation by role."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from dialer.web.i18n import EN, PL
from tests.api.conftest import PASSWORD
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser


async def test_sign_in_in_polish_shows_the_error_then_the_dashboard(app: FastAPI) -> None:
    """In Polish, a wrong password shows the Polish error next to the form; the right one
    lands on the dashboard with Polish labels and the role's navigation; signing out
    returns to the sign-in page."""
    async with serve(app) as url, chromium() as browser:
        context = await new_context(browser, url, locale="pl-PL")
        page = await context.new_page()
        errors = page_errors(page)
        await page.goto("/dashboard?lang=pl")
        await expect(page).to_have_url(f"{url}/login?next=/dashboard%3Flang%3Dpl")
        await expect(page.locator("h1")).to_have_text(PL["login.title"])
        await page.locator("#login-form button[type=submit]").click()
        await expect(page.locator("#login-error")).to_have_text(PL["login.missing"])
        await page.locator("#login").fill("leader")
        await page.locator("#password").fill("not-the-password")
        await page.keyboard.press("Enter")
        await expect(page.locator("#login-error")).to_have_text(PL["login.wrong"])
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{url}/dashboard?lang=pl")
        await expect(page.locator("h1")).to_have_text(PL["dashboard.title"])
        nav = page.get_by_role("navigation")
        await expect(nav.get_by_role("link")).to_have_text(
            [PL["nav.dashboard"], PL["nav.campaigns"], PL["nav.calls"]]
        )
        await page.get_by_role("button", name=PL["app.sign_out"]).click()
        await page.wait_for_url(f"{url}/login")
        assert errors == []


async def test_agent_is_refused_a_supervisor_page_with_a_friendly_page(app: FastAPI) -> None:
    """An agent opening the dashboard gets the friendly 403 page with a way to its desk."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        await sign_in(page, "agent", PASSWORD)
        response = await page.goto("/dashboard")
        assert response is not None
        assert response.status == 403
        await expect(page.locator("h1")).to_have_text(EN["forbidden.title"])
        await page.get_by_role("link", name=EN["forbidden.home"]).click()
        await page.wait_for_url(f"{url}/agent")
