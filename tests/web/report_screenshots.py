"""Screenshots of the five reports for the README: ``docs/report-<name>.png`` (1280×800).

    .venv/bin/python -m tests.web.report_screenshots [--out docs] [--lang en]

Writes the generated call log of the report tests (three campaigns in three zones, five
agents with their phase history, four weeks of March 2026), fills the rollups, and
photographs each report's tab as an administrator in headless Chromium. Takes about half a
minute.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path

from argon2 import PasswordHasher
from playwright.async_api import expect
from sqlmodel import Session

from campaigns.db import make_engine
from campaigns.enums import Role
from campaigns.migrate import initialize
from campaigns.reports import fill_rollups
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, Settings
from dialer.services import accounts as security
from tests.reports.data import LAST, generate, generate_phases
from tests.web.browser import chromium, new_context, serve, sign_in

ROOT = Path(__file__).parents[2]
PASSWORD = "screenshot-pass-1"
RANGE = "from=2026-03-06&to=2026-04-01&tz=Europe%2FWarsaw"
SHOTS = {
    "period": f"report=period&{RANGE}&period=week&by=campaign",
    "time_of_day": f"report=time_of_day&{RANGE}",
    "agents": f"report=agents&{RANGE}",
    "customers": f"report=customers&{RANGE}&view=last_not_answered",
    "statuses": f"report=statuses&{RANGE}&period=week",
}


async def shoot(out: Path, lang: str) -> None:
    """Build the database, serve the app and photograph each report."""
    security.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with tempfile.TemporaryDirectory(prefix="dialer-shots-") as tmp:
        url = f"sqlite:///{tmp}/reports.db"
        db = make_engine(url)
        initialize(db)
        generate_phases(db, generate(db, calls=3000))
        fill_rollups(db, now=LAST + dt.timedelta(days=1))
        with Session(db) as session:
            security.create_user(
                session, login="boss", password=PASSWORD, role=Role.ADMIN, actor="shots"
            )
            session.commit()
        app = create_app(Settings(database=DatabaseSettings(url=url)), db=db)
        async with serve(app) as base, chromium() as browser:
            page = await (await new_context(browser, base)).new_page()
            await sign_in(page, "boss", PASSWORD)
            for name, query in SHOTS.items():
                await page.goto(f"/reports?{query}&lang={lang}")
                await expect(page.locator("#report-table tbody tr").first).to_be_visible()
                await page.screenshot(path=out / f"report-{name}.png")
        db.dispose()


def main() -> None:
    """Command line: ``--out`` folder and ``--lang``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--lang", default="en", choices=["en", "pl"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(args.out, args.lang))


if __name__ == "__main__":
    main()
