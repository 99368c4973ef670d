"""The API's routers, one module per area, mounted by :func:`register_routes`."""

from __future__ import annotations

from fastapi import FastAPI

from dialer.api.routes import (
    agent,
    audit,
    auth,
    calls,
    campaigns,
    dashboard,
    dnc,
    inbound,
    lists,
    live,
    people,
    records,
    reports,
    requests,
    settings,
    statuses,
)


def register_routes(app: FastAPI) -> None:
    """Mount every router on ``app``."""
    app.include_router(auth.router)
    for router in (
        campaigns.router,
        statuses.router,
        lists.router,
        records.router,
        dnc.router,
        people.router,
        audit.router,
        settings.router,
    ):
        app.include_router(router)
    app.include_router(agent.router)
    app.include_router(calls.router)
    app.include_router(dashboard.router)
    app.include_router(live.router)
    app.include_router(reports.router)
    app.include_router(inbound.router)
    app.include_router(requests.router)
