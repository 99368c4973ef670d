"""The API's routers, one module per area, mounted by :func:`register_routes`."""

from __future__ import annotations

from fastapi import FastAPI

from dialer.api.routes import agent, auth, calls, dashboard, live


def register_routes(app: FastAPI) -> None:
    """Mount every router on ``app``."""
    app.include_router(auth.router)
    app.include_router(agent.router)
    app.include_router(calls.router)
    app.include_router(dashboard.router)
    app.include_router(live.router)
