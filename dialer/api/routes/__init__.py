"""The API's routers, one module per area, mounted by :func:`register_routes`."""

from __future__ import annotations

from fastapi import FastAPI

from dialer.api.routes import auth


def register_routes(app: FastAPI) -> None:
    """Mount every router on ``app``."""
    app.include_router(auth.router)
