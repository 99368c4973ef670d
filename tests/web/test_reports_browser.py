"""The reports page in a real browser: the period report in each role's scope, the agent
limited to its own agent report, a drill-down from a cell to the call log listing as many
calls as the cell says, and the export holding the table's rows."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import expect
from sqlmodel import Session

from campaigns.models import AgentPhase, CallLog, Campaign
from dialer.web.i18n import EN, PL, plural_translator
from tests.api.conftest import PASSWORD, World
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser

AT = dt.datetime(2026, 3, 29, 9, 15, tzinfo=dt.UTC)  # the EU DST change day
PERIOD = "/reports?report=period&from=2026-03-29&to=2026-03-29&tz=Europe%2FWarsaw"


@pytest.fixture
def calls(api_db: sa.Engine, world: World) -> int:
    """Calls of 29 March: 3 by agent A (group A), 2 by agent B, 2 nobody took."""
    with Session(api_db) as s:
        camp = Campaign(name="Wiosna", hours_tz="Europe/Warsaw")
        s.add(camp)
        s.flush()
        assert camp.id is not None
        plan = [
            (world.agent_a, "answered"),
            (world.agent_a, "answered"),
            (world.agent_a, "no_answer"),
            (world.agent_b, "answered"),
            (world.agent_b, "dropped"),
            (None, "dropped"),
            (None, "busy"),
        ]
        for k, (agent, outcome) in enumerate(plan):
            s.add(
                CallLog(
                    campaign_id=camp.id,
                    phone=f"+4850020{k:04d}",
                    agent_id=agent,
                    outcome=outcome,
                    dial_at=AT + dt.timedelta(hours=k),
                    talk_s=60.0 if outcome == "answered" else None,
                )
            )
        s.commit()
        return camp.id


async def test_period_report_per_role_drill_down_and_export(app: FastAPI, calls: int) -> None:
    """Admin and head count all 7 calls of the day, the leader its group's 3, the agent has
    only the agent report (itself); the leader's total cell opens the call log with 3 calls;
    the admin's CSV holds the table's rows; the Polish page shows Polish headings."""
    del calls
    async with serve(app) as url, chromium() as browser:
        for login, dials in (("admin", 7), ("head", 7), ("leader", 3)):
            page = await (await new_context(browser, url)).new_page()
            errors = page_errors(page)
            await sign_in(page, login, PASSWORD)
            await page.goto(PERIOD)
            total = page.locator("#report-table tbody tr.total td[data-col=dials]")
            await expect(total).to_have_text(str(dials))
            await expect(page.locator("#report-chart svg")).to_have_count(1)
            assert errors == [], login
            if login == "leader":
                await total.locator("a").click()
                await page.wait_for_url(f"{url}/calls?**")
                await expect(page.locator("#page-info")).to_have_text(
                    plural_translator("en")("calls.page_of", 3, page=1, pages=1, total=3)
                )
                await expect(page.locator("#calls tbody tr")).to_have_count(3)
            if login == "admin":
                await page.goto(PERIOD + "&by=agent")
                # A row per agent (and calls nobody took), a total per agent, the total.
                await expect(page.locator("#report-table tbody tr")).to_have_count(7)
                body = await page.locator("#report-table tbody").inner_text()
                assert "Anna Nowak" in body
                assert "Bartek" in body
                async with page.expect_download() as info:
                    await page.get_by_role("link", name=EN["calls.export_csv"]).click()
                path = await (await info.value).path()
                lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
                assert len(lines) == 1 + 7
                assert lines[-1][0] == "total"
                assert lines[-1][lines[0].index("dials")] == "7"
                await page.goto(PERIOD + "&lang=pl")
                await expect(page.locator("#report-table thead")).to_contain_text(
                    PL["report.col.dials"]
                )

        agent = await (await new_context(browser, url)).new_page()
        errors = page_errors(agent)
        await sign_in(agent, "agent", PASSWORD)
        await agent.goto(PERIOD)
        await expect(agent.locator("#report-tabs a")).to_have_text([EN["reports.tab_agents"]])
        rows = agent.locator("#report-table tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Anna Nowak")
        await expect(rows.first.locator("td[data-col=connected]")).to_have_text("2")
        assert errors == []


async def test_dashboard_recent_days(app: FastAPI, api_db: sa.Engine, world: World) -> None:
    """The dashboard's recent days show the leader's group only: its agent's answered calls
    in the last-20 list, none of the other group's, and today's calls in the chart."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Session(api_db) as s:
        camp = Campaign(name="Dziś")
        s.add(camp)
        s.flush()
        for k, agent in enumerate([world.agent_a] * 4 + [world.agent_b] * 3):
            s.add(
                CallLog(
                    campaign_id=camp.id or 0,
                    phone=f"+4850090{k:04d}",
                    agent_id=agent,
                    outcome="answered",
                    dial_at=now - dt.timedelta(seconds=30 + k),
                )
            )
        s.commit()
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "leader", PASSWORD)
        await page.goto("/dashboard")
        answered = page.locator("#recent-answered tbody tr")
        await expect(answered).to_have_count(4)
        await expect(page.locator("#recent-answered tbody")).not_to_contain_text("Bartek")
        await page.locator("#recent-days").select_option("7")
        await expect(page.locator("#recent-chart g.bar")).to_have_count(7)
        await expect(answered).to_have_count(4)
        assert errors == []


AGENTS = "/reports?report=agents&from=2026-03-29&to=2026-03-29&tz=Europe%2FWarsaw"


async def test_agents_report_phases_per_role_and_xlsx_equal_to_the_page(
    app: FastAPI, api_db: sa.Engine, world: World, calls: int
) -> None:
    """Agent A's phase history of 29 March (ready 1 h, lunch 30 min, talking 20 min) shows as
    its logged-in and pause time to itself and the leader (the pause reason in the heading,
    in Polish too); the admin's XLSX, read back, holds the page's rows and figures."""
    stretches = [
        ("ready", None, 0, 3600),
        ("paused", "lunch", 3600, 5400),
        ("talking", None, 5400, 6600),
    ]
    with Session(api_db) as s:
        for phase, reason, a, b in stretches:
            s.add(
                AgentPhase(
                    agent_id=world.agent_a,
                    campaign_id=calls,
                    phase=phase,
                    reason=reason,
                    start_at=AT + dt.timedelta(seconds=a),
                    end_at=AT + dt.timedelta(seconds=b),
                )
            )
        s.commit()
    async with serve(app) as url, chromium() as browser:
        for login in ("agent", "leader"):
            page = await (await new_context(browser, url)).new_page()
            errors = page_errors(page)
            await sign_in(page, login, PASSWORD)
            await page.goto(AGENTS + ("&lang=pl" if login == "leader" else ""))
            row = page.locator("#report-table tbody tr", has_text="Anna Nowak").first
            await expect(row.locator("td[data-col=logged_in_s]")).to_have_text("1:50:00")
            await expect(row.locator("td[data-col=paused_s]")).to_have_text("30:00")
            await expect(row.locator("td[data-col='pause:lunch']")).to_have_text("30:00")
            lang = PL if login == "leader" else EN
            await expect(page.locator("#report-table thead")).to_contain_text(
                f"{lang['report.col.pause_reason']} {lang['pause_reason.lunch']}"
            )
            assert errors == [], login
        page = await (await new_context(browser, url)).new_page()
        await sign_in(page, "admin", PASSWORD)
        await page.goto(AGENTS)
        await expect(page.locator("#report-table tbody tr").first).to_be_visible()
        shown = await page.locator("#report-table tbody tr").all_inner_texts()
        async with page.expect_download() as info:
            await page.get_by_role("link", name=EN["calls.export_xlsx"]).click()
        saved = await (await info.value).path()
        book = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()), read_only=True)
        rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
        head, body = list(rows[0]), rows[1:]
        assert len(body) == len(shown)
        assert [r[0] for r in body] == [t.split("\t")[0].strip() for t in shown]
        anna = next(r for r in body if r[0] == "Anna Nowak")
        assert anna[head.index("logged_in_s")] == 6600
        assert anna[head.index("pause:lunch")] == 1800
        assert anna[head.index("connected")] == 2
