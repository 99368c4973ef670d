"""The FastAPI application: the HTTP API under ``/api`` and the web pages.

``create_app(settings)`` gives an app on the configured database; the runtime passes itself
(``engine=``) and its live event hub so agent actions and the live stream reach the engine
in this process. Without an engine the API still manages campaigns, lists, statuses, users
and reports, and agent actions answer 503.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaigns.db import make_engine
from dialer.api.context import ApiContext, EngineLink
from dialer.api.hub import EventHub
from dialer.api.routes import register_routes
from dialer.api.throttle import SignInThrottle
from dialer.config import Settings
from dialer.errors import ROOT_ERRORS, error_id_of
from dialer.web import mount_web

log = structlog.get_logger(__name__)

#: Error ids (of any room) that mean "the thing asked for does not exist".
_NOT_FOUND_IDS = frozenset(
    {
        "campaign_not_found",
        "status_not_found",
        "record_not_found",
        "dnc_not_found",
        "worklist_row_not_found",
        "user_not_found",
        "agent_not_found",
        "group_not_found",
    }
)


def _plain(value: Any) -> Any:
    """A JSON-safe value of a validation error's context (limits are numbers or text)."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _problem(err: Any) -> dict[str, Any]:
    """One validation problem: the field (without "body"), the message, and pydantic's error
    type and context, so a page can say it in the user's language."""
    return {
        "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
        "problem": err.get("msg", ""),
        "type": err.get("type", ""),
        "ctx": {
            key: _plain(value)
            for key, value in (err.get("ctx") or {}).items()
            if key != "error"  # an exception object: its text is in "problem"
        },
    }


def _error(status: int, error: str, detail: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def create_app(
    settings: Settings,
    *,
    db: sa.Engine | None = None,
    hub: EventHub | None = None,
    engine: EngineLink | None = None,
) -> FastAPI:
    """The API and pages on ``settings``' database (or ``db``)."""
    app = FastAPI(
        title="dialer",
        summary="Predictive dialer campaign engine: campaigns, lists, agents, live state",
        version="0.1.0",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.ctx = ApiContext(
        settings=settings,
        db=db or make_engine(settings.database.url),
        hub=hub or EventHub(),
        engine=engine,
        throttle=SignInThrottle(
            max_failures=settings.http.signin_max_failures,
            max_failures_per_address=settings.http.signin_max_failures_per_address,
            window_s=settings.http.signin_window_s,
        ),
    )

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        error_id = error_id_of(exc)
        status = 404 if error_id in _NOT_FOUND_IDS else 400
        log.info("api_refused", path=request.url.path, error=error_id, detail=str(exc))
        return _error(status, error_id, str(exc))

    for root in ROOT_ERRORS:  # every room's root error: refused on purpose
        app.add_exception_handler(root, refused)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        del request
        names = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method",
            429: "too_many_attempts",
        }
        response = _error(exc.status_code, names.get(exc.status_code, "http_error"), exc.detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        del request
        problems = [_problem(err) for err in exc.errors()]
        detail = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return JSONResponse(
            {"error": "invalid_request", "detail": detail, "problems": problems},
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("api_error", path=request.url.path, method=request.method, exc_info=exc)
        return _error(500, "internal_error", "the server failed on this request; see its log")

    register_routes(app)
    mount_web(app)  # the web pages and /static
    return app
