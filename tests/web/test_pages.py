"""The pages render for the roles they are for, answer 403 (a friendly page) to the others,
send visitors to the sign-in page, and show each role only its own navigation."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlmodel import Session

from campaigns.enums import Role
from campaigns.models import Record, User
from campaigns.service import create_campaign, validate_rules
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, HttpSettings, Settings
from dialer.web.i18n import EN, PL
from tests.api.conftest import LOGINS, World
from tests.web.conftest import page_client

ALL = frozenset(Role)
LEADERS = frozenset({Role.ADMIN, Role.HEAD, Role.GROUP_LEADER})
SUPERVISORS = frozenset({Role.ADMIN, Role.HEAD})

#: Every page, the roles it is for, and the catalog key of its title.
PAGES: dict[str, tuple[frozenset[Role], str]] = {
    "/agent": (frozenset({Role.AGENT}), "agent.title"),
    "/dashboard": (LEADERS, "dashboard.title"),
    "/campaigns": (LEADERS, "campaigns.title"),
    "/campaigns/new": (frozenset({Role.ADMIN}), "campaign.new_title"),
    "/campaigns/1": (LEADERS, "campaign.title"),
    "/campaigns/1/records": (LEADERS, "records.title"),
    "/records/1": (LEADERS, "record.title"),
    "/statuses": (frozenset({Role.ADMIN}), "statuses.title"),
    "/calls": (ALL, "calls.title"),
    "/requests": (ALL, "requests.title"),
    "/reports": (ALL, "reports.title"),
    "/users": (frozenset({Role.ADMIN}), "users.title"),
    "/me": (ALL, "me.title"),
    "/dnc": (SUPERVISORS, "dnc.title"),
    "/audit": (frozenset({Role.ADMIN}), "audit.title"),
    "/worklist": (ALL, "worklist.title"),
}
NAV_PAGES = [
    "/agent",
    "/dashboard",
    "/campaigns",
    "/statuses",
    "/calls",
    "/worklist",
    "/requests",
    "/reports",
    "/dnc",
    "/users",
    "/audit",
]


@pytest.fixture(autouse=True)
def _campaign_and_record(api_db: sa.Engine, world: World) -> None:
    """Campaign 1 and its record 1, a callback of the group leader's agent (the pages of
    an unknown campaign or record are 404 pages)."""
    with Session(api_db) as session:
        campaign = create_campaign(session, validate_rules(name="Pages"), actor="t")
        session.flush()
        assert campaign.id == 1
        session.add(
            Record(campaign_id=1, phone="+48600100200", name="Jan", owner_agent_id=world.agent_a)
        )
        session.commit()


def _main(html: str) -> str:
    """The page's own content (without the head, navigation and the script catalog)."""
    return html.split("<main", 1)[1].split('<script type="application/json"', 1)[0]


def _nav_links(html: str) -> set[str]:
    nav = re.search(r"<nav aria-label=[^>]*>(.*?)</nav>", html, re.S)
    assert nav is not None
    return set(re.findall(r'href="([^"]+)"', nav.group(1)))


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_for_its_roles_and_is_403_for_the_others(app: FastAPI, path: str) -> None:
    """Each page answers 200 with its title to the roles it is for and 403 with the
    friendly page (and nothing of the page) to every other role."""
    allowed, title = PAGES[path]
    for role, login in LOGINS.items():
        response = page_client(app, login).get(path)
        if role in allowed:
            assert response.status_code == 200, (role, response.text[:300])
            assert f"<title>{EN[title]} · " in response.text
            assert response.headers["cache-control"] == "no-store"
            assert "script-src 'self'" in response.headers["content-security-policy"]
            assert response.headers["x-frame-options"] == "DENY"
        else:
            assert response.status_code == 403, role
            assert EN["forbidden.title"] in response.text
            assert EN[title] not in _main(response.text)


@pytest.mark.parametrize("path", [*PAGES, "/"])
def test_visitor_without_a_session_goes_to_sign_in(app: FastAPI, path: str) -> None:
    """A page asked for without a session redirects to /login, remembering where to go."""
    response = page_client(app, None).get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    if path != "/":
        assert response.headers["location"] == "/login?next=" + path


def test_home_sends_each_role_to_its_page(app: FastAPI) -> None:
    """/ sends an agent to its desk and everyone else to the dashboard."""
    for role, login in LOGINS.items():
        response = page_client(app, login).get("/")
        assert response.status_code == 303
        assert response.headers["location"] == ("/agent" if role is Role.AGENT else "/dashboard")


def test_navigation_shows_only_what_the_role_may_use(app: FastAPI) -> None:
    """The navigation of each role links exactly the pages that role may open."""
    for role, login in LOGINS.items():
        html = page_client(app, login).get("/calls").text
        expected = {p for p in NAV_PAGES if role in PAGES[p][0]}
        assert _nav_links(html) == expected, role


def test_sign_in_page_keeps_next_local(app: FastAPI) -> None:
    """The page to go to after signing in is kept only when it is a local path."""
    client = page_client(app, None)
    assert 'data-next="/calls?x=1"' in client.get("/login", params={"next": "/calls?x=1"}).text
    for outside in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        html = client.get("/login", params={"next": outside}).text
        assert 'data-next="/"' in html, outside


def test_signed_in_user_skips_the_sign_in_page(app: FastAPI) -> None:
    """A signed-in user asking for /login goes on to its page."""
    response = page_client(app, "head").get("/login")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"


def test_pages_carry_the_csrf_token_of_the_session(app: FastAPI) -> None:
    """The page holds the session's CSRF token, the one GET /api/me gives, for changes."""
    client = page_client(app, "admin")
    csrf = client.get("/api/me").json()["csrf"]
    assert f'<meta name="csrf-token" content="{csrf}">' in client.get("/statuses").text


def test_user_text_is_escaped(app: FastAPI, api_db: sa.Engine) -> None:
    """A user's name is shown as text, never as markup."""
    with api_db.begin() as conn:
        conn.execute(
            sa.update(User).where(User.login == "head").values(name="<script>alert(1)</script>")
        )
    html = page_client(app, "head").get("/dashboard").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_export_buttons_follow_the_export_setting(api_db: sa.Engine, world: object) -> None:
    """With export limited to administrators only the administrator's call log shows the
    export buttons; without the limit every role's does."""
    del world
    for admin_only in (True, False):
        settings = Settings(
            database=DatabaseSettings(url="sqlite://"),
            http=HttpSettings(export_admin_only=admin_only),
        )
        app = create_app(settings, db=api_db)
        for role, login in LOGINS.items():
            html = page_client(app, login).get("/calls").text
            shown = 'id="export-csv"' in html and 'id="export-xlsx"' in html
            assert shown == (role is Role.ADMIN or not admin_only), (admin_only, role)


def test_dnc_export_buttons_follow_the_export_setting(api_db: sa.Engine, world: object) -> None:
    """The DNC page shows the export buttons to the head only when export is not limited
    to administrators; the administrator always has them."""
    del world
    for admin_only in (True, False):
        settings = Settings(
            database=DatabaseSettings(url="sqlite://"),
            http=HttpSettings(export_admin_only=admin_only),
        )
        app = create_app(settings, db=api_db)
        for login, expected in (("admin", True), ("head", not admin_only)):
            html = page_client(app, login).get("/dnc").text
            shown = 'id="export-csv"' in html and 'id="export-xlsx"' in html
            assert shown == expected, (admin_only, login)


def test_dnc_changes_are_for_the_administrator_only(app: FastAPI) -> None:
    """The administrator's DNC page has the add form, the import upload and the remove
    column; the head's has the list and filters only."""
    admin = _main(page_client(app, "admin").get("/dnc").text)
    head = _main(page_client(app, "head").get("/dnc").text)
    for marker in ('id="add-form"', 'id="import-form"', 'id="import-report"', EN["col.actions"]):
        assert marker in admin, marker
        assert marker not in head, marker
    for marker in ('id="filters"', 'id="dnc"', EN["dnc.list"], EN["dnc.reason"]):
        assert marker in head, marker


@pytest.mark.parametrize("path", ["/dnc", "/audit"])
def test_dnc_and_audit_pages_in_both_languages(app: FastAPI, path: str) -> None:
    """The DNC and audit pages show their headings and column labels in English, and in
    Polish with ?lang=pl."""
    client = page_client(app, "admin")
    keys = (
        ["dnc.title", "dnc.list", "dnc.reason", "dnc.added_by", "dnc.expires", "dnc.add"]
        if path == "/dnc"
        else ["audit.title", "audit.actor", "audit.entity", "audit.action", "audit.details"]
    )
    for lang, texts in (("en", EN), ("pl", PL)):
        html = client.get(path, params={"lang": lang}).text
        assert f'<html lang="{lang}">' in html
        for key in keys:
            assert texts[key] in html, (lang, key)


def test_filters_match_the_role(app: FastAPI) -> None:
    """The call log offers the agent and group filters only to roles that see other agents
    (the group filter to administrators and heads)."""
    for role, login in LOGINS.items():
        html = page_client(app, login).get("/calls").text
        assert ('id="q-agent"' in html) == (role is not Role.AGENT)
        assert ('id="q-group"' in html) == (role in {Role.ADMIN, Role.HEAD})


def test_campaign_editor_is_read_only_below_administrator(app: FastAPI) -> None:
    """Heads and group leaders see a campaign's rules disabled and no upload; the
    administrator gets the form, the statuses editor and the upload."""
    admin = page_client(app, "admin").get("/campaigns/1").text
    assert 'id="upload-form"' in admin
    assert 'id="btn-save-campaign"' in admin
    for login in ("head", "leader"):
        html = page_client(app, login).get("/campaigns/1").text
        assert 'id="upload-form"' not in html
        assert 'id="btn-save-campaign"' not in html
        assert "<fieldset disabled>" in html
    assert 'id="state-actions"' in page_client(app, "head").get("/campaigns/1").text
    assert 'id="state-actions"' not in page_client(app, "leader").get("/campaigns/1").text


def test_static_files_are_served_with_a_version(app: FastAPI) -> None:
    """Every script and the stylesheet a page links are served; their URLs carry a version."""
    client = page_client(app, "admin")
    for path in ("/dashboard", "/campaigns/1", "/calls", "/users", "/statuses", "/dnc", "/audit"):
        html = client.get(path).text
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert any(a.startswith("/static/app.css?v=") for a in assets)
        for asset in assets:
            assert "?v=" in asset
            assert client.get(asset).status_code == 200, asset


def test_page_in_polish_by_query_then_cookie(app: FastAPI) -> None:
    """?lang=pl gives the Polish page and remembers it in a cookie; ?lang=en switches back."""
    client = page_client(app, "admin")
    first = client.get("/dashboard", params={"lang": "pl"})
    assert '<html lang="pl">' in first.text
    assert PL["dashboard.title"] in first.text
    assert first.cookies.get("dialer_lang") == "pl"
    again = client.get("/campaigns")
    assert '<html lang="pl">' in again.text
    assert PL["campaigns.new"] in again.text
    english = client.get("/campaigns", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert EN["campaigns.new"] in english.text


def test_language_links_keep_the_page_parameters(app: FastAPI) -> None:
    """The language switch links to the same page with its parameters."""
    html = page_client(app, "admin").get("/dashboard", params={"campaign": "3"}).text
    assert 'href="/dashboard?campaign=3&amp;lang=pl"' in html


def test_language_defaults_to_the_users_then_the_browsers(app: FastAPI, api_db: sa.Engine) -> None:
    """Without ?lang or cookie a signed-in user gets its own language; the sign-in page
    follows the browser's Accept-Language."""
    with api_db.begin() as conn:
        conn.execute(sa.update(User).where(User.login == "leader").values(language="pl"))
    assert PL["dashboard.title"] in page_client(app, "leader").get("/dashboard").text
    assert EN["dashboard.title"] in page_client(app, "head").get("/dashboard").text
    polish = page_client(app, None, **{"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert PL["login.title"] in polish.get("/login").text
    german = page_client(app, None, **{"Accept-Language": "de-DE,de;q=0.9"})
    assert EN["login.title"] in german.get("/login").text


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_in_polish_has_no_english_label(app: FastAPI, path: str) -> None:
    """Each page in Polish shows the Polish labels: no English-only text of the catalog
    appears in its body (texts that are the same in both languages aside)."""
    allowed, title = PAGES[path]
    role = next(r for r in (Role.ADMIN, Role.AGENT) if r in allowed)
    html = page_client(app, LOGINS[role]).get(path, params={"lang": "pl"}).text
    body = _main(html)
    assert PL[title] in html
    leaks = [
        key for key, text in EN.items() if text != PL[key] and len(text) > 3 and f">{text}<" in body
    ]
    assert leaks == []


class _Controls(HTMLParser):
    """The form controls of a page and the ids its labels point to."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if attr.get("for"):
                self.label_for.add(str(attr["for"]))
        elif tag in {"input", "select", "textarea"} and attr.get("type") != "hidden":
            self.controls.append({**attr, "_in_label": "1" if self.label_depth else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1


@pytest.mark.parametrize("path", list(PAGES))
def test_every_control_has_a_label(app: FastAPI, path: str) -> None:
    """Every input, select and text area of a page has a label (for screen readers and
    for clicking), and every label points at a control that exists."""
    allowed, _ = PAGES[path]
    role = next(r for r in (Role.ADMIN, Role.AGENT) if r in allowed)
    parser = _Controls()
    parser.feed(page_client(app, LOGINS[role]).get(path).text)
    ids = {c.get("id") for c in parser.controls}
    for control in parser.controls:
        labelled = (
            control["_in_label"]
            or control.get("aria-label")
            or control.get("id") in parser.label_for
        )
        assert labelled, control
    assert parser.label_for <= ids


def test_unknown_campaign_or_record_is_a_404_page_naming_nothing_else(app: FastAPI) -> None:
    """An unknown campaign or record id answers a 404 page with a way back: no editor, no
    buttons, no other campaign's name; a record of another group is unknown to a group
    leader; in Polish too."""
    admin = page_client(app, "admin")
    for path in ("/campaigns/999", "/campaigns/999/records", "/records/999"):
        response = admin.get(path)
        assert response.status_code == 404, path
        main = _main(response.text)
        assert EN["not_found.title"] in main
        assert "Pages" not in main
        assert "<button" not in main
        assert 'href="/campaigns"' in main
    assert EN["not_found.record"] in _main(admin.get("/records/999").text)
    polish = admin.get("/records/999", params={"lang": "pl"})
    assert PL["not_found.record"] in _main(polish.text)
    assert page_client(app, "leader").get("/records/1").status_code == 200
