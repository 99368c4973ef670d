"""The pages in a real browser (headless Chromium): signing in, errors shown in place,
Polish labels, navigation by role."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session

from campaigns.enums import CampaignState
from campaigns.models import CallLog, Campaign
from dialer.api.throttle import SignInThrottle
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
            [
                PL["nav.dashboard"],
                PL["nav.campaigns"],
                PL["nav.calls"],
                PL["nav.requests"],
                f"{PL['nav.worklist']} 0",  # with the count of open rows
                PL["nav.reports"],
            ]
        )
        await page.get_by_role("button", name=PL["app.sign_out"]).click()
        await page.wait_for_url(f"{url}/login")
        assert errors == []


async def test_sign_in_says_when_a_login_is_slowed_down(app: FastAPI) -> None:
    """After too many wrong passwords the page says how long to wait (in Polish), not
    "wrong"."""
    app.state.ctx.throttle = SignInThrottle(max_failures=1, clock=lambda: 0.0)
    async with serve(app) as url, chromium() as browser:
        context = await new_context(browser, url, locale="pl-PL")
        page = await context.new_page()
        await page.goto("/login?lang=pl")
        await page.locator("#login").fill("head")
        await page.locator("#password").fill("not-the-password")
        await page.keyboard.press("Enter")
        await expect(page.locator("#login-error")).to_have_text(PL["login.wrong"])
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        wait = PL["login.wait_min"].format(min=5)
        await expect(page.locator("#login-error")).to_have_text(
            PL["login.too_many"].format(wait=wait)
        )


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


async def test_administrator_edits_statuses_users_and_sees_errors_in_place(app: FastAPI) -> None:
    """The status dictionary and the users page work with the keyboard and the API: a
    refused form shows the API's reason next to the field it names; saved rows appear."""
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        page.on("dialog", lambda dialog: dialog.accept())
        await sign_in(page, "admin", PASSWORD)

        # Status dictionary: an empty name is refused next to the name field.
        await page.goto("/statuses")
        form = page.locator("#status-form")
        await form.get_by_role("button", name=EN["app.save"]).click()
        await expect(form.locator("[data-error-for=name]")).not_to_be_empty()
        await expect(form.get_by_label(EN["col.name"], exact=True)).to_have_attribute(
            "aria-invalid", "true"
        )
        await form.get_by_label(EN["col.name"], exact=True).fill("Call back tomorrow")
        await form.get_by_label(EN["col.system_status"]).select_option("MY_RECORD")
        await expect(page.locator("#s-system-hint")).to_have_text(
            EN["system_status_help.MY_RECORD"]
        )
        await form.get_by_label(EN["statuses.add_to_new"]).check()
        await form.get_by_role("button", name=EN["app.save"]).click()
        await expect(page.locator("#status-ok")).to_have_text(EN["app.saved"])
        row = page.locator("#statuses tbody tr", has_text="Call back tomorrow")
        await expect(row).to_contain_text(EN["system_status.MY_RECORD"])
        await row.get_by_role("button", name=EN["statuses.deactivate"]).click()
        await expect(row).to_have_class("inactive")

        # People: a group, an agent in it, and its user (a short password refused first).
        await page.goto("/users")
        groups = page.locator("#group-form")
        await groups.get_by_label(EN["col.name"], exact=True).fill("Team C")
        await groups.get_by_role("button", name=EN["app.save"]).click()
        await expect(page.locator("#groups tbody")).to_contain_text("Team C")
        agents = page.locator("#agent-form")
        await agents.get_by_label(EN["users.login"]).fill("cezary")
        await agents.get_by_label(EN["col.person"]).fill("Cezary Wrona")
        await agents.get_by_label(EN["users.extension"]).fill("agent7")
        await agents.get_by_label(EN["col.group"]).select_option(label="Team C")
        await agents.get_by_role("button", name=EN["app.save"]).click()
        await expect(page.locator("#agents tbody")).to_contain_text("Cezary Wrona")
        users = page.locator("#user-form")
        await users.get_by_label(EN["users.login"]).fill("cezary")
        await users.get_by_label(EN["users.role"]).select_option("agent")
        await users.get_by_label(EN["col.agent"]).select_option(label="Cezary Wrona (cezary)")
        await users.get_by_label(EN["users.password"]).fill("short")
        await users.get_by_role("button", name=EN["app.save"]).click()
        await expect(users.locator("[data-error-for=password]")).not_to_be_empty()
        await users.get_by_label(EN["users.password"]).fill("long-enough-9")
        await users.get_by_role("button", name=EN["app.save"]).click()
        await expect(page.locator("#users tbody")).to_contain_text("cezary")

        # Campaign rules: a bad caller ID is named next to its field.
        await page.goto("/campaigns/new")
        rules = page.locator("#rules-form")
        await rules.get_by_label(EN["campaign.name"], exact=True).fill("Winter")
        await rules.get_by_label(EN["campaign.caller_id"]).fill("12")
        await rules.get_by_role("button", name=EN["app.save"]).click()
        await expect(rules.locator("[data-error-for=caller_id]")).to_contain_text("E.164")
        assert errors == []


async def test_agent_page_in_polish_shows_the_apis_refusal_next_to_the_login(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """Without an engine in the process the agent page (in Polish) offers the running
    campaign, and the API's refusal to log in shows next to the login button."""
    with Session(api_db) as session:
        session.add(Campaign(name="Jesień", state=CampaignState.RUNNING))
        session.commit()
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url, locale="pl-PL")).new_page()
        errors = page_errors(page)
        await sign_in(page, "agent", PASSWORD)
        await page.goto("/agent?lang=pl")
        await expect(page.locator("h2#call-h")).to_have_text(PL["agent.call"])
        campaign = page.get_by_label(PL["agent.campaign"], exact=True)
        await expect(campaign.locator("option")).to_have_text(
            [f"Jesień ({PL['campaign_state.running']})"]
        )
        await page.get_by_role("button", name=PL["agent.login"]).click()
        refusal = page.locator("#login-seat-error")
        await expect(refusal).to_contain_text(PL["error.unavailable"])
        await expect(refusal).to_contain_text("dialer run --http")
        assert errors == []


async def test_dashboard_colours_abandonment_near_and_over_the_cap(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """Abandonment below 80 % of the cap stays calm, near the cap turns amber, past it red;
    each window says so in words too, and the chart shows the last hour's dials."""
    now = dt.datetime.now(dt.UTC)
    with Session(api_db) as session:
        campaign = Campaign(name="Jesień", state=CampaignState.RUNNING)
        session.add(campaign)
        session.flush()
        assert campaign.id is not None

        def calls(when: dt.datetime, outcome: str, count: int) -> list[CallLog]:
            return [
                CallLog(
                    campaign_id=campaign.id or 0,
                    phone="+48221234567",
                    dial_at=when,
                    outcome=outcome,
                    # the facts the journal writes when a person is connected or dropped
                    connect_at=when if outcome == "answered" else None,
                    drop_at=when if outcome == "dropped" else None,
                )
                for _ in range(count)
            ]

        # Today (and the last 24 h, and the last hour): 1 dropped of 40 = 2.5 % (cap 3 %:
        # near it).
        # Ten days ago: 5 dropped of 50, so the last 30 days: 6 of 90 = 6.7 % (over).
        recent = now - dt.timedelta(seconds=1)
        older = now - dt.timedelta(days=10)
        session.add_all(calls(recent, "answered", 39) + calls(recent, "dropped", 1))
        session.add_all(calls(older, "answered", 45) + calls(older, "dropped", 5))
        session.commit()
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "head", PASSWORD)
        today = page.locator(".gauge[data-window=today]")
        await expect(today).to_have_attribute("data-level", "warn")
        await expect(today).to_contain_text(EN["dashboard.level_warn"])
        await expect(page.locator(".gauge[data-window=rolling_24h]")).to_have_attribute(
            "data-level", "warn"
        )
        hour = page.locator(".gauge[data-window=last_hour]")
        await expect(hour).to_have_attribute("data-level", "warn")
        await expect(hour).to_contain_text(EN["dashboard.window_last_hour"])
        month = page.locator(".gauge[data-window=rolling_30d]")
        await expect(month).to_have_attribute("data-level", "over")
        await expect(month.locator(".gauge-value")).to_have_text("6.67%")
        await expect(page.locator("#abandon-cap")).to_have_text("cap 3.0%")
        colours = await page.eval_on_selector_all(
            ".gauge", "els => els.map(e => getComputedStyle(e).borderLeftColor)"
        )
        assert len(colours) == 4
        assert len(set(colours)) == 2  # amber three times, red once
        await expect(page.locator("#chart svg")).to_have_attribute(
            "aria-label", EN["chart.summary"].format(dials=40, answered=40, connected=39, dropped=1)
        )
        assert errors == []


async def test_every_page_loads_without_script_errors(app: FastAPI, api_db: sa.Engine) -> None:
    """Each page of each role runs its script without an error and fills its main table or
    form from the API; changing one's language on /me switches the pages to it."""
    with Session(api_db) as session:
        campaign = Campaign(name="Jesień", state=CampaignState.PAUSED)
        session.add(campaign)
        session.commit()
        campaign_id = campaign.id
    pages = {
        "admin": [
            ("/dashboard", "#all-campaigns tbody tr"),
            ("/campaigns", "#campaigns tbody tr"),
            ("/campaigns/new", "#f-pacing_profile option"),
            (f"/campaigns/{campaign_id}", "#offered tbody tr"),
            (f"/campaigns/{campaign_id}/records", "#records-empty:not([hidden])"),
            ("/statuses", "#statuses tbody tr"),
            ("/calls", "#calls-empty:not([hidden])"),
            ("/users", "#users tbody tr"),
            ("/me", "#me-form"),
        ],
        "leader": [
            ("/dashboard", "#all-campaigns tbody tr"),
            ("/campaigns", "#campaigns tbody tr"),
            (f"/campaigns/{campaign_id}", "#offered tbody tr"),
            ("/calls", "#q-agent option:nth-child(2)"),
        ],
        "agent": [("/calls", "#q-campaign option:nth-child(2)"), ("/me", "#me-form")],
    }
    async with serve(app) as url, chromium() as browser:
        for login, paths in pages.items():
            page = await (await new_context(browser, url)).new_page()
            errors = page_errors(page)
            await sign_in(page, login, PASSWORD)
            for path, filled in paths:
                await page.goto(path)
                await expect(page.locator(filled).first).to_be_attached()
                assert errors == [], (login, path)
        await page.locator("#me-form").get_by_label(EN["users.language"]).select_option("pl")
        await page.get_by_role("button", name=EN["app.save"]).click()
        await expect(page.locator("h1")).to_have_text(PL["me.title"])
        await page.goto("/calls")
        await expect(page.locator("h1")).to_have_text(PL["calls.title"])


async def test_administrator_in_polish_limits_exports_and_a_head_loses_the_buttons(
    app: FastAPI,
) -> None:
    """The exports setting is in the pages (it was only a config key): the administrator
    ticks it on the users page, in Polish; a head's call log and reports then offer no
    export and the API refuses one; unticked, both come back."""
    async with serve(app) as url, chromium() as browser:
        admin = await (await new_context(browser, url, locale="pl-PL")).new_page()
        errors = page_errors(admin)
        await sign_in(admin, "admin", PASSWORD)
        await admin.goto("/users?lang=pl")
        form = admin.locator("#settings-form")
        await expect(admin.locator("#s-export-source")).to_contain_text(
            PL["settings.from_config"].split("(")[0].strip()
        )
        await form.get_by_label(PL["settings.export_admin_only"]).check()
        await form.get_by_role("button", name=PL["app.save"]).click()
        await expect(form.locator("[data-ok]")).to_have_text(PL["app.saved"])
        await expect(admin.locator("#s-export-source")).to_contain_text("user:admin")

        head = await (await new_context(browser, url)).new_page()
        await sign_in(head, "head", PASSWORD)
        for path in ("/calls", "/reports"):
            await head.goto(path)
            await expect(head.locator("h1")).to_be_visible()
            await expect(head.locator("#export-csv")).to_have_count(0)
        refused = await head.request.get(f"{url}/api/calls/export")
        assert refused.status == 403

        await admin.reload()
        await expect(form.get_by_label(PL["settings.export_admin_only"])).to_be_checked()
        await form.get_by_label(PL["settings.export_admin_only"]).uncheck()
        await form.get_by_role("button", name=PL["app.save"]).click()
        await expect(form.locator("[data-ok]")).to_have_text(PL["app.saved"])
        for path in ("/calls", "/reports"):
            await head.goto(path)
            await expect(head.locator("#export-csv")).to_have_count(1)
        assert (await head.request.get(f"{url}/api/calls/export")).status == 200
        assert errors == []
