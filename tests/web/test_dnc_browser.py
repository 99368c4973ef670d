"""The do-not-call page and the audit log in a real browser: the administrator adds a
number, sees it listed, removes it, and finds both changes in the audit log."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from dialer.web.i18n import EN
from tests.api.conftest import PASSWORD
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser

PHONE = "+48501234567"
REASON = "Asked not to be called"


async def test_admin_adds_and_removes_a_dnc_number_and_the_audit_log_shows_both(
    app: FastAPI,
) -> None:
    """A number added on /dnc with a reason is listed on the global list with that reason
    and its author; removed, the list is empty again; /audit filtered to DNC entries shows
    the removal then the addition, by the administrator, for that number."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "admin", PASSWORD)
        await page.goto("/dnc")
        await expect(page.locator("#dnc-empty")).to_be_visible()
        add = page.locator("#add-form")
        await add.get_by_label(EN["col.phone"]).fill(PHONE)
        await add.get_by_label(EN["dnc.reason"]).fill(REASON)
        await add.get_by_role("button", name=EN["dnc.add_submit"]).click()
        await expect(page.locator("#dnc-ok")).to_have_text(EN["dnc.added"].format(phone=PHONE))
        rows = page.locator("#dnc tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first.locator("td")).to_have_text(
            [
                PHONE,
                EN["dnc.global"],
                REASON,
                "user:admin",
                EN["dnc.never"],
                *[re.compile(r".+")] * 2,
            ]
        )

        page.on("dialog", lambda dialog: dialog.accept())
        await page.get_by_role("button", name=f"{EN['dnc.remove']}: {PHONE}").click()
        await expect(page.locator("#dnc-ok")).to_have_text(EN["dnc.removed"].format(phone=PHONE))
        await expect(rows).to_have_count(0)
        await expect(page.locator("#dnc-empty")).to_be_visible()

        await page.get_by_role("navigation").get_by_role("link", name=EN["nav.audit"]).click()
        # The page writes its filters into the address as it loads (…/audit?page_size=50).
        await page.wait_for_url(re.compile(rf"{re.escape(url)}/audit(\?.*)?$"))
        await page.get_by_label(EN["audit.entity"], exact=True).fill("dnc_entry")
        await page.get_by_role("button", name=EN["calls.apply"]).click()
        audit = page.locator("#audit tbody tr")
        await expect(audit).to_have_count(2)
        await expect(audit.locator("td:nth-child(3)")).to_have_text(["dnc_remove", "dnc_add"])
        await expect(audit.locator("td:nth-child(2)")).to_have_text(["user:admin"] * 2)
        await expect(audit.locator("td:nth-child(5)")).to_have_text([PHONE] * 2)
        await expect(audit.nth(1).locator("td:nth-child(6)")).to_contain_text(REASON)
        await expect(page).to_have_url(f"{url}/audit?entity=dnc_entry&page_size=50")
        assert errors == []


async def test_dnc_import_shows_its_report_with_the_rejected_line(app: FastAPI) -> None:
    """A DNC file with two good numbers and a bad one: the page reports two added and the
    bad row by its line number, and lists the two numbers."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "admin", PASSWORD)
        await page.goto("/dnc")
        await page.locator("#i-file").set_input_files(
            {
                "name": "dnc.csv",
                "mimeType": "text/csv",
                "buffer": b"phone\n+48501000001\nnot a number\n+48501000002\n",
            }
        )
        await page.locator("#btn-import").click()
        report = page.locator("#import-report")
        await expect(report.locator("[data-report=added]")).to_have_text("2")
        await expect(report.locator("[data-report=rejected]")).to_have_text("1")
        await expect(page.locator("#rejects tbody tr td").first).to_have_text("3")
        await expect(page.locator("#dnc tbody tr")).to_have_count(2)
        assert errors == []
