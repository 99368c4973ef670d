"""The HTML pages: one route per page, each a shell the page's script fills from the API.

A page checks the session cookie and the role itself (the API checks again on every call
the script makes): not signed in → ``303 /login?next=…``; signed in with a role the page
is not for → 403 with a friendly page naming nothing but the page. ``?lang=en|pl`` on any
page sets the ``dialer_lang`` cookie.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from campaigns import inbound as worklist
from campaigns.enums import AUTO_OUTCOMES, CampaignState, Outcome, Role, SystemStatus
from campaigns.importer import RejectReason
from campaigns.models import Campaign, Record
from campaigns.requests import RequestState
from campaigns.service import RETRY_KEYS
from dialer.api.routes import admin_common
from dialer.api.routes.admin_common import MAX_ID
from dialer.api.security import (
    ADMIN_ONLY,
    EVERYONE,
    LEADERS,
    SUPERVISORS,
    Principal,
    agent_ids_in_scope,
    get_ctx,
    principal_for,
    request_token,
)
from dialer.engine.agents import Phase
from dialer.web.i18n import (
    LANG_COOKIE,
    LANGUAGES,
    catalog,
    choose_language,
    formatters,
    load,
    msgkey,
    plural_translator,
    translator,
)

_HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


def _static_version() -> str:
    """A short digest of the static files: their URLs change when they do (no stale cache)."""
    digest = hashlib.sha256()
    for path in sorted((_HERE / "static").rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


STATIC_VERSION = _static_version()

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class NavItem:
    """A page in the navigation, shown to ``roles`` only."""

    key: str
    url: str
    label: str
    roles: tuple[Role, ...]


#: Every page behind a sign-in and the roles it is for (the navigation shows the same).
NAV: tuple[NavItem, ...] = (
    NavItem("agent", "/agent", msgkey("nav.agent"), (Role.AGENT,)),
    NavItem("dashboard", "/dashboard", msgkey("nav.dashboard"), LEADERS),
    NavItem("campaigns", "/campaigns", msgkey("nav.campaigns"), LEADERS),
    NavItem("statuses", "/statuses", msgkey("nav.statuses"), ADMIN_ONLY),
    NavItem("calls", "/calls", msgkey("nav.calls"), EVERYONE),
    NavItem("requests", "/requests", msgkey("nav.requests"), EVERYONE),
    NavItem("worklist", "/worklist", msgkey("nav.worklist"), EVERYONE),
    NavItem("reports", "/reports", msgkey("nav.reports"), EVERYONE),
    NavItem("dnc", "/dnc", msgkey("nav.dnc"), SUPERVISORS),
    NavItem("users", "/users", msgkey("nav.users"), ADMIN_ONLY),
    NavItem("audit", "/audit", msgkey("nav.audit"), ADMIN_ONLY),
)
PAGE_ROLES = {item.key: item.roles for item in NAV}


def home_for(role: Role) -> str:
    """Where ``/`` sends a user of ``role``."""
    return "/agent" if role is Role.AGENT else "/dashboard"


def _signed_in(request: Request) -> Principal | None:
    token, _ = request_token(request)
    return principal_for(get_ctx(request), token) if token else None


def _language(request: Request, user: Principal | None) -> str:
    return choose_language(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(LANG_COOKIE),
        user=user.language if user is not None else None,
        accept=request.headers.get("accept-language"),
    )


#: Pages load scripts, styles and data from this origin only, and are never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _finish(request: Request, response: Response) -> Response:
    """No caching of pages, strict security headers; remember a ``?lang=`` choice."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(SECURITY_HEADERS)
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="lax", path="/", httponly=True
        )
    return response


def _with_lang(request: Request, code: str) -> str:
    """This page's address in language ``code`` (its other parameters kept)."""
    query = dict(request.query_params)
    query["lang"] = code
    return f"{request.url.path}?{urlencode(query)}"


def _base_context(request: Request, user: Principal | None, lang: str) -> dict[str, Any]:
    ctx = get_ctx(request)
    may_export = user is not None and admin_common.may_export(ctx, user)
    return {
        "lang": lang,
        "languages": LANGUAGES,
        "lang_links": {code: _with_lang(request, code) for code in LANGUAGES},
        "t": translator(lang),
        "tn": plural_translator(lang),
        **formatters(lang),
        "catalog": catalog(lang),
        "plural_tags": " ".join(load(lang).plural_tags),
        "user": user,
        "nav": [item for item in NAV if user is not None and user.role in item.roles],
        # the header's counter of callers waiting in the missed-call worklist
        "worklist_open": worklist.open_count(ctx.db) if user is not None else 0,
        "static_version": STATIC_VERSION,
        "may_export": may_export,
        "path": request.url.path,
        "enums": {
            "phases": [p.value for p in Phase],
            "system_statuses": [s.value for s in SystemStatus],
            "outcomes": [o.value for o in Outcome],
            "auto_outcomes": [o.value for o in AUTO_OUTCOMES],
            "campaign_states": [s.value for s in CampaignState],
            "roles": [r.value for r in Role],
            "reject_reasons": [r.value for r in RejectReason],
            "retry_keys": list(RETRY_KEYS),
        },
    }


def _forbidden(request: Request, user: Principal, lang: str) -> Response:
    context = _base_context(request, user, lang)
    context.update(page="forbidden", title=msgkey("forbidden.title"), home=home_for(user.role))
    response = templates.TemplateResponse(request, "forbidden.html", context, status_code=403)
    return _finish(request, response)


def _not_found(request: Request, user: Principal, lang: str, *, what: str) -> Response:
    """A 404 page saying what (``campaign``, ``record``) was not found, naming nothing
    else, with a way back."""
    context = _base_context(request, user, lang)
    context.update(page="not_found", title=msgkey("not_found.title"), what=what)
    response = templates.TemplateResponse(request, "not_found.html", context, status_code=404)
    return _finish(request, response)


def _exists(request: Request, model: type[Any], key: int) -> bool:
    """Whether a row of ``model`` has id ``key`` (ids beyond the column's range do not)."""
    if not 1 <= key <= MAX_ID:
        return False
    with get_ctx(request).session() as session:
        return session.get(model, key) is not None


def _page(
    request: Request,
    template: str,
    *,
    page: str,
    title: str,
    roles: Sequence[Role],
    **extra: Any,
) -> Response:
    """Render ``template`` for a signed-in user of ``roles`` (else redirect or 403)."""
    user = _signed_in(request)
    if user is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return _finish(request, RedirectResponse(f"/login?next={quote(target)}", 303))
    lang = _language(request, user)
    if user.role not in roles:
        return _forbidden(request, user, lang)
    missing = extra.pop("missing", None)
    if missing is not None and missing(user):
        return _not_found(request, user, lang, what=extra.pop("missing_page"))
    extra.pop("missing_page", None)
    context = _base_context(request, user, lang)
    context.update(page=page, title=title, **extra)
    return _finish(request, templates.TemplateResponse(request, template, context))


def _safe_next(target: str | None) -> str | None:
    """A local path to go to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Send each role to its page (a visitor to the sign-in page)."""
    user = _signed_in(request)
    target = "/login" if user is None else home_for(user.role)
    return _finish(request, RedirectResponse(target, 303))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (a signed-in user goes on at once)."""
    user = _signed_in(request)
    if user is not None:
        return _finish(request, RedirectResponse(_safe_next(next) or home_for(user.role), 303))
    lang = _language(request, None)
    context = _base_context(request, None, lang)
    context.update(page="login", title=msgkey("login.title"), next=_safe_next(next) or "/")
    return _finish(request, templates.TemplateResponse(request, "login.html", context))


@router.get("/agent", response_class=HTMLResponse)
def agent_page(request: Request) -> Response:
    """The agent's desk: seat, ready/pause, screen pop, status form, callbacks, history."""
    return _page(
        request, "agent.html", page="agent", title=msgkey("agent.title"), roles=PAGE_ROLES["agent"]
    )


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request) -> Response:
    """The live dashboard of one campaign (and a line per campaign)."""
    http = get_ctx(request).settings.http
    return _page(
        request,
        "dashboard.html",
        page="dashboard",
        title=msgkey("dashboard.title"),
        roles=PAGE_ROLES["dashboard"],
        long_pause_s=http.dashboard_long_pause_s,
        stuck_wrapup_s=http.dashboard_stuck_wrapup_s,
    )


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request) -> Response:
    """The campaign list, with start/pause/stop for administrators and heads."""
    return _page(
        request,
        "campaigns.html",
        page="campaigns",
        title=msgkey("campaigns.title"),
        roles=PAGE_ROLES["campaigns"],
    )


@router.get("/campaigns/new", response_class=HTMLResponse)
def campaign_new_page(request: Request) -> Response:
    """The editor for a new campaign (administrators)."""
    return _page(
        request,
        "campaign.html",
        page="campaigns",
        title=msgkey("campaign.new_title"),
        roles=ADMIN_ONLY,
        campaign_id=None,
    )


def _no_campaign(request: Request, campaign_id: int) -> dict[str, Any]:
    return {
        "missing": lambda user: not _exists(request, Campaign, campaign_id),
        "missing_page": "campaign",
    }


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: int) -> Response:
    """One campaign: its rules and statuses (editable by administrators) and its lists;
    an unknown id: a 404 page (no editor)."""
    return _page(
        request,
        "campaign.html",
        page="campaigns",
        title=msgkey("campaign.title"),
        roles=PAGE_ROLES["campaigns"],
        campaign_id=campaign_id,
        **_no_campaign(request, campaign_id),
    )


@router.get("/campaigns/{campaign_id}/records", response_class=HTMLResponse)
def records_page(request: Request, campaign_id: int) -> Response:
    """A campaign's records with filters, bulk actions, paging and export (a group
    leader: its agents')."""
    return _page(
        request,
        "records.html",
        page="campaigns",
        title=msgkey("records.title"),
        roles=PAGE_ROLES["campaigns"],
        campaign_id=campaign_id,
        **_no_campaign(request, campaign_id),
    )


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: int) -> Response:
    """One record: where it stands, actions, a status by hand, edit, attempts, audit; a
    record unknown or out of the user's scope: a 404 page."""

    def missing(user: Principal) -> bool:
        if not _exists(request, Record, record_id):
            return True
        scope = agent_ids_in_scope(get_ctx(request), user)
        if scope is None:
            return False
        with get_ctx(request).session() as session:
            row = session.get(Record, record_id)
            return row is None or row.owner_agent_id not in scope

    return _page(
        request,
        "record.html",
        page="campaigns",
        title=msgkey("record.title"),
        roles=PAGE_ROLES["campaigns"],
        record_id=record_id,
        missing=missing,
        missing_page="record",
    )


@router.get("/statuses", response_class=HTMLResponse)
def statuses_page(request: Request) -> Response:
    """The status dictionary editor (administrators)."""
    return _page(
        request,
        "statuses.html",
        page="statuses",
        title=msgkey("statuses.title"),
        roles=PAGE_ROLES["statuses"],
    )


@router.get("/calls", response_class=HTMLResponse)
def calls_page(request: Request) -> Response:
    """The call log with filters, paging and export (each role sees its scope)."""
    return _page(
        request,
        "calls.html",
        page="calls",
        title=msgkey("calls.title"),
        roles=PAGE_ROLES["calls"],
        recording_url=get_ctx(request).settings.http.recording_url or "",
    )


@router.get("/requests", response_class=HTMLResponse)
def requests_page(request: Request) -> Response:
    """Callback requests with filters, statistics per source and export (each role its
    scope); administrators manage the sources and their API keys."""
    return _page(
        request,
        "requests.html",
        page="requests",
        title=msgkey("requests.title"),
        roles=PAGE_ROLES["requests"],
        request_states=[s.value for s in RequestState],
    )


@router.get("/me", response_class=HTMLResponse)
def me_page(request: Request) -> Response:
    """My account: own name, language and password (every role)."""
    return _page(request, "me.html", page="me", title=msgkey("me.title"), roles=EVERYONE)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> Response:
    """Users, agents and groups (administrators)."""
    return _page(
        request, "users.html", page="users", title=msgkey("users.title"), roles=PAGE_ROLES["users"]
    )


@router.get("/dnc", response_class=HTMLResponse)
def dnc_page(request: Request) -> Response:
    """The do-not-call lists with filters, paging and export; administrators add, remove
    and import numbers."""
    return _page(
        request, "dnc.html", page="dnc", title=msgkey("dnc.title"), roles=PAGE_ROLES["dnc"]
    )


@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request) -> Response:
    """The missed-call worklist: filters, expandable history, call back, notes; leaders
    hide and restore, supervisors delete, link queues to campaigns and read statistics."""
    return _page(
        request,
        "worklist.html",
        page="worklist",
        title=msgkey("worklist.title"),
        roles=PAGE_ROLES["worklist"],
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    """The audit log: who changed what and when (administrators)."""
    return _page(
        request, "audit.html", page="audit", title=msgkey("audit.title"), roles=PAGE_ROLES["audit"]
    )


#: The reports' tabs, and which roles have each (an agent: the agent report of itself).
REPORT_TABS: tuple[tuple[str, tuple[Role, ...]], ...] = (
    ("period", LEADERS),
    ("time_of_day", LEADERS),
    ("agents", EVERYONE),
    ("customers", LEADERS),
    ("statuses", LEADERS),
)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request) -> Response:
    """The reports: calls by period, time of day, agents, customers, statuses (tabs per
    role), each with a chart, a table linking to the call log, and exports."""
    user = _signed_in(request)
    tabs = [name for name, roles in REPORT_TABS if user is not None and user.role in roles]
    return _page(
        request,
        "reports.html",
        page="reports",
        title=msgkey("reports.title"),
        roles=PAGE_ROLES["reports"],
        report_tabs=tabs,
    )
