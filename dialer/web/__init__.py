"""The web pages: server-rendered shells (Jinja2) whose small scripts call the JSON API.

Pages read the same session cookie as the API (``dialer_session``); a page outside the
signed-in user's role answers 403 with a friendly page, and a visitor who is not signed in
is sent to ``/login``. Every label is translated (English and Polish, :mod:`dialer.web.i18n`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dialer.web.pages import router

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    """Add the pages and their static files (``/static``) to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["STATIC_DIR", "mount_web", "router"]
