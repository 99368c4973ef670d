"""Every report in a real browser, for every role: the figures of the role's scope (an agent
only its own agent report, a group leader its group, head and administrator everything),
every countable cell's drill-down listing as many calls in the call log as the cell says
(one followed by a click, all of them through the call log's API from the page), and the
XLSX export, read back with openpyxl, holding the page's rows and counts."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import Page, expect
from sqlmodel import Session

from campaigns.models import CallLog, Campaign, ContactList, Record
from dialer.web.i18n import EN, plural_translator
from tests.api.conftest import PASSWORD, World
from tests.web.browser import chromium, new_context, page_errors, serve, sign_in

pytestmark = pytest.mark.browser

AT = dt.datetime(2026, 3, 29, 9, 15, tzinfo=dt.UTC)  # the EU DST change day
DAY = "from=2026-03-29&to=2026-03-29&tz=Europe%2FWarsaw"
#: Columns whose cells count calls (or records made of calls): their links must agree.
COUNTS = {
    "dials",
    "persons",
    "connected",
    "dropped",
    "no_answer",
    "busy",
    "machine",
    "failed",
    "calls",
    "reached",
}


@pytest.fixture
def plan(api_db: sa.Engine, world: World) -> dict[str, Any]:
    """One campaign, one list, four records (two owned by agent A, one by agent B, one by
    nobody) and the calls of 29 March: 3 by agent A, 2 by agent B, 2 nobody took; record 1
    was also called the day before (its history has 3 calls)."""
    with Session(api_db) as s:
        camp = Campaign(name="Wiosna", hours_tz="Europe/Warsaw")
        s.add(camp)
        s.flush()
        assert camp.id is not None
        lst = ContactList(campaign_id=camp.id, name="Marzec")
        s.add(lst)
        s.flush()
        owners = [world.agent_a, world.agent_a, world.agent_b, None]
        statuses = ["MY_RECORD", "TO_CALL", "DO_NOT_CALL", "TO_CALL"]
        records = [
            Record(
                campaign_id=camp.id,
                list_id=lst.id,
                phone=f"+4850030000{k}",
                name=f"Person {k}",
                owner_agent_id=owners[k],
                system_status=statuses[k],  # type: ignore[arg-type]
            )
            for k in range(4)
        ]
        s.add_all(records)
        s.flush()
        calls = [
            (0, world.agent_a, "answered", -24),
            (0, world.agent_a, "answered", 0),
            (1, world.agent_a, "answered", 1),
            (0, world.agent_a, "no_answer", 2),
            (2, world.agent_b, "answered", 3),
            (2, world.agent_b, "dropped", 4),
            (3, None, "dropped", 5),
            (3, None, "busy", 6),
        ]
        for rec, agent, outcome, hours in calls:
            s.add(
                CallLog(
                    campaign_id=camp.id,
                    record_id=records[rec].id,
                    phone=records[rec].phone,
                    agent_id=agent,
                    outcome=outcome,
                    dial_at=AT + dt.timedelta(hours=hours),
                    talk_s=60.0 if outcome == "answered" else None,
                )
            )
        s.commit()
        return {"campaign": camp.id}


async def _table(page: Page) -> list[list[dict[str, Any]]]:
    """The report table's rows: each cell's column, text and drill-down address."""
    rows: list[list[dict[str, Any]]] = await page.evaluate(
        """() => [...document.querySelectorAll('#report-table tbody tr')].map((tr) =>
            [...tr.cells].map((td) => ({
                col: td.dataset.col,
                text: td.innerText.trim(),
                link: td.querySelector('a') ? td.querySelector('a').getAttribute('href') : null,
            })))"""
    )
    return rows


async def _listed(page: Page, link: str) -> int:
    """How many calls the call log's API lists for a drill-down address (as the reader)."""
    assert link.startswith("/calls?"), link
    total: int = await page.evaluate(
        "async (u) => (await (await fetch(u)).json()).total", "/api" + link
    )
    return total


async def _drills_agree(page: Page, rows: list[list[dict[str, Any]]]) -> int:
    """Every countable linked cell lists as many calls as it shows; returns how many."""
    checked = 0
    for row in rows:
        for cell in row:
            if cell["link"] is None or cell["col"] not in COUNTS:
                continue
            assert await _listed(page, cell["link"]) == int(cell["text"]), cell
            checked += 1
    return checked


async def _xlsx_equals_page(page: Page, rows: list[list[dict[str, Any]]]) -> None:
    """The XLSX export, read back, has the page's rows: the same first column and, in every
    countable column, the same numbers."""
    async with page.expect_download() as info:
        await page.get_by_role("link", name=EN["calls.export_xlsx"]).click()
    saved = await (await info.value).path()
    book = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()), read_only=True)
    sheet = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    head, body = list(sheet[0]), sheet[1:]
    assert len(body) == len(rows)
    for got, shown in zip(body, rows, strict=True):
        first = got[0]
        text = first.isoformat()[:10] if isinstance(first, dt.date | dt.datetime) else first
        if shown[0]["text"] != EN["report.col.total"]:
            assert str(text or "") == shown[0]["text"], (got, shown)
        for cell in shown:
            if cell["col"] in COUNTS:
                assert got[head.index(cell["col"])] == int(cell["text"]), (cell, got)


async def _open(page: Page, report: str, rows: int) -> list[list[dict[str, Any]]]:
    await page.goto(f"/reports?report={report}&{DAY}")
    await expect(page.locator("#report-table tbody tr")).to_have_count(rows)
    return await _table(page)


def _column(rows: list[list[dict[str, Any]]], col: str) -> list[str]:
    return [cell["text"] for row in rows for cell in row if cell["col"] == col]


#: Per role: calls of the day, agents-report rows, customers-report records, records by
#: status (in how many status rows).
SCOPES = {
    "admin": (7, ["Anna Nowak", "Bartek Zieliński"], 4, (4, 3)),
    "head": (7, ["Anna Nowak", "Bartek Zieliński"], 4, (4, 3)),
    "leader": (3, ["Anna Nowak"], 2, (2, 2)),
}


@pytest.mark.parametrize("login", list(SCOPES))
async def test_each_report_in_the_roles_scope_with_drill_downs_and_xlsx(
    app: FastAPI, plan: dict[str, Any], login: str
) -> None:
    """Period, time of day, agents, customers and statuses show the role's scope; every
    countable cell's drill-down lists as many calls as it says; the XLSX equals the page;
    the leader's click on a customer's calls (3: one of them the day before) opens the
    call log with those 3 calls."""
    del plan
    dials, agents, records, by_status = SCOPES[login]
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, login, PASSWORD)

        period = await _open(page, "period", 2)  # the day and the total
        assert _column(period, "dials") == [str(dials)] * 2
        assert await _drills_agree(page, period) >= 3
        await _xlsx_equals_page(page, period)

        hours = await _open(page, "time_of_day", 24)
        assert sum(int(t) for t in _column(hours, "dials")) == dials
        assert await _drills_agree(page, hours) >= dials
        await _xlsx_equals_page(page, hours)

        people = await _open(page, "agents", len(agents))
        assert [row[0]["text"] for row in people] == agents
        assert _column(people, "dials")[0] == "3"
        assert await _drills_agree(page, people) >= 2 * len(agents)
        await _xlsx_equals_page(page, people)

        customers = await _open(page, "customers", records)
        assert await _drills_agree(page, customers) == 2 * records
        assert "3" in _column(customers, "calls")
        await _xlsx_equals_page(page, customers)

        statuses = await _open(page, "statuses", by_status[1])
        assert sum(int(t) for t in _column(statuses, "records")) == by_status[0]
        await _xlsx_equals_page(page, statuses)

        if login == "leader":
            await _open(page, "customers", records)
            row = page.locator("#report-table tbody tr", has_text="Person 0")
            await row.locator("td[data-col=calls] a").click()
            await page.wait_for_url(f"{url}/calls?**")
            await expect(page.locator("#page-info")).to_have_text(
                plural_translator("en")("calls.page_of", 3, page=1, pages=1, total=3)
            )
            await expect(page.locator("#calls tbody tr")).to_have_count(3)
        assert errors == [], login


async def test_an_agent_has_only_its_own_agent_report(app: FastAPI, plan: dict[str, Any]) -> None:
    """Whatever report the address names, an agent gets the agents tab alone, with its own
    row; its cells' drill-downs list its own calls, as many as they say."""
    del plan
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        await sign_in(page, "agent", PASSWORD)
        for report in ("period", "time_of_day", "customers", "statuses", "agents"):
            rows = await _open(page, report, 1)
            await expect(page.locator("#report-tabs a")).to_have_text([EN["reports.tab_agents"]])
            assert rows[0][0]["text"] == "Anna Nowak"
            assert _column(rows, "dials") == ["3"]
            assert await _drills_agree(page, rows) >= 2
        await _xlsx_equals_page(page, rows)
        assert errors == []
