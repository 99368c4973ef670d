"""Helpers of the browser tests: headless Chromium through Python Playwright, and the app
served over real HTTP in the test's event loop.

Debian's Chromium at ``/usr/bin/chromium`` is used (``playwright install`` is never run).
When it is missing the test is skipped with a message naming it, except under ``CI=true``
where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
    expect,
)

from tests.conftest import in_ci

CHROMIUM = Path(os.environ.get("DIALER_TEST_CHROMIUM", "/usr/bin/chromium"))
#: Browser window of the tests and the screenshots.
VIEWPORT = {"width": 1280, "height": 800}
#: Longest wait for something to show on a page (ms); the engine and CPU may be busy.
WAIT_MS = 15_000
DOCS = Path(__file__).parents[2] / "docs"
expect.set_options(timeout=WAIT_MS)


def require_chromium() -> Path:
    """The Chromium executable (skip, or fail under CI, when it is missing)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"Chromium is not installed at {CHROMIUM}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: browser tests must run; apt-get install chromium)")
    pytest.skip(f"{message}: install Debian's chromium to run the browser tests")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for one test."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_context(browser: Browser, base_url: str, *, locale: str = "en-GB") -> BrowserContext:
    """A fresh browser profile (its own cookies) at 1280×800 in ``locale``."""
    context = await browser.new_context(
        base_url=base_url, viewport=VIEWPORT, locale=locale, timezone_id="Europe/Warsaw"
    )
    context.set_default_timeout(WAIT_MS)
    return context


async def sign_in(page: Page, login: str, password: str) -> None:
    """Sign in through the sign-in page."""
    await page.goto("/login")
    await page.locator("#login").fill(login)
    await page.locator("#password").fill(password)
    await page.locator("#login-form button[type=submit]").click()
    await page.wait_for_url(lambda url: "/login" not in url)


def page_errors(page: Page) -> list[str]:
    """Collect the page's script errors (a test asserts there are none); answers with an
    error status are not script errors (the pages show them in place)."""
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", on_console)
    return errors


class _Server(uvicorn.Server):
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port in this event loop; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield base_url(server)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(5):
                await task


def base_url(server: uvicorn.Server) -> str:
    """The address a started uvicorn server listens on."""
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"
