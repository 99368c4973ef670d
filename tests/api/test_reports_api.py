"""The reports API: role scopes exactly as the call log's, drill-down links that list the
same calls, exports gated like the call log's and written to the audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from campaigns.enums import Role
from campaigns.models import AuditLog, CallLog, Campaign
from campaigns.reports import fill_rollups
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, HttpSettings, Settings
from tests.api.conftest import LOGINS, World, sign_in

DAY = dt.date(2026, 3, 29)  # the EU DST change
AT = dt.datetime(2026, 3, 29, 9, 15, tzinfo=dt.UTC)


@pytest.fixture
def calls(api_db: sa.Engine, world: World) -> dict[str, int]:
    """One campaign; calls taken by agent A (group A), agent B (group B) and by nobody."""
    with Session(api_db) as s:
        camp = Campaign(name="Spring", hours_tz="Europe/Warsaw")
        s.add(camp)
        s.flush()
        assert camp.id is not None
        plan = [
            (world.agent_a, "answered", 0),
            (world.agent_a, "answered", 1),
            (world.agent_a, "no_answer", 2),
            (world.agent_b, "answered", 3),
            (world.agent_b, "dropped", 4),
            (None, "dropped", 5),
            (None, "busy", 6),
            (None, "no_answer", 26),  # the next day
        ]
        for agent, outcome, hours in plan:
            s.add(
                CallLog(
                    campaign_id=camp.id,
                    phone="+48500100200",
                    agent_id=agent,
                    outcome=outcome,
                    dial_at=AT + dt.timedelta(hours=hours),
                    talk_s=60.0 if outcome == "answered" else None,
                )
            )
        s.commit()
        return {"campaign": camp.id}


def _get(client: TestClient, path: str, **params: Any) -> Any:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _total(report: dict[str, Any], column: str = "dials") -> Any:
    table = report["table"]
    return table["rows"][-1][table["columns"].index(column)]


def _period(client: TestClient, **params: Any) -> dict[str, Any]:
    base = {"from": DAY.isoformat(), "to": DAY.isoformat(), "tz": "Europe/Warsaw"}
    return _get(client, "/api/reports/period", **(base | params))  # type: ignore[no-any-return]


def test_each_role_sees_its_scope(clients: dict[Role, TestClient], calls: dict[str, int]) -> None:
    """Administrators and heads count every call of the day (unanswered ones too); the
    group leader its group's agent's; an agent gets 403 but the agent report of itself."""
    del calls
    assert _total(_period(clients[Role.ADMIN])) == 7
    assert _total(_period(clients[Role.HEAD])) == 7
    assert _total(_period(clients[Role.GROUP_LEADER])) == 3
    assert clients[Role.AGENT].get("/api/reports/period").status_code == 403
    mine = _get(clients[Role.AGENT], "/api/reports/agents", **{"from": DAY.isoformat()})
    assert [row[0] for row in mine["table"]["rows"]] == ["Anna Nowak"]
    everyone = _get(clients[Role.ADMIN], "/api/reports/agents", **{"from": DAY.isoformat()})
    assert [row[0] for row in everyone["table"]["rows"]] == ["Anna Nowak", "Bartek Zieliński"]


def test_filters_outside_the_scope_are_refused(
    clients: dict[Role, TestClient], world: World, calls: dict[str, int]
) -> None:
    """A leader naming another group's agent or group gets 403, as in the call log."""
    del calls
    leader = clients[Role.GROUP_LEADER]
    for params in ({"agent": world.agent_b}, {"group": world.group_b}):
        assert leader.get("/api/reports/period", params=params).status_code == 403
        assert leader.get("/api/calls", params=params).status_code == 403
    assert leader.get("/api/reports/period", params={"group": world.group_a}).status_code == 200


def test_bad_parameters_are_named(clients: dict[Role, TestClient]) -> None:
    """An unknown zone, a half-hour zone and a reversed range get 422 naming the field."""
    admin = clients[Role.ADMIN]
    for params, field in (
        ({"tz": "Mars/Base"}, "tz"),
        ({"tz": "Asia/Kolkata"}, "tz"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"tz": "campaign"}, "tz"),
    ):
        answer = admin.get("/api/reports/period", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["problems"][0]["field"].endswith(field)


@pytest.mark.parametrize("state", ["raw", "rolled up"])
def test_drill_down_lists_the_same_calls(
    clients: dict[Role, TestClient], api_db: sa.Engine, calls: dict[str, int], state: str
) -> None:
    """Every linked cell of the period report (per agent) leads to a call-log query whose
    count is the cell's value, for the admin and the leader."""
    del calls
    if state == "rolled up":
        fill_rollups(api_db, now=AT + dt.timedelta(days=3))
    for role in (Role.ADMIN, Role.GROUP_LEADER):
        client = clients[role]
        report = _period(client, by="agent")
        table = report["table"]
        checked = 0
        for row, links in zip(table["rows"], table["links"], strict=True):
            for value, link in zip(row, links, strict=True):
                if link is None:
                    continue
                url = urlsplit(link)
                assert url.path == "/calls"
                listed = _get(client, "/api/calls", **dict(parse_qsl(url.query)))
                if isinstance(value, int):
                    assert listed["total"] == value, (role, link)
                    checked += 1
        assert checked > 10


def test_export_is_the_table_and_is_audited(
    clients: dict[Role, TestClient], api_db: sa.Engine, calls: dict[str, int]
) -> None:
    """CSV and XLSX exports hold the page's table; each export is an audit row."""
    del calls
    admin = clients[Role.ADMIN]
    report = _period(admin, by="campaign")
    params = {
        "from": DAY.isoformat(),
        "to": DAY.isoformat(),
        "tz": "Europe/Warsaw",
        "by": "campaign",
    }
    got = admin.get("/api/reports/period/export", params=params | {"format": "csv"})
    assert got.status_code == 200, got.text
    lines = list(csv.reader(io.StringIO(got.text)))
    assert lines[0] == report["table"]["columns"]
    assert [[str(v) for v in r] for r in report["table"]["rows"]] == lines[1:]
    got = admin.get("/api/reports/period/export", params=params | {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(got.content)).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[1:] == [[v if v != "" else None for v in r] for r in report["table"]["rows"]]
    with Session(api_db) as s:
        rows = s.exec(sa.select(AuditLog).where(AuditLog.action == "report_exported")).all()  # type: ignore[call-overload, arg-type]
    assert [(r[0].entity_id, r[0].details["format"]) for r in rows] == [
        ("period", "csv"),
        ("period", "xlsx"),
    ]


def test_export_is_for_administrators_when_configured(
    api_db: sa.Engine, calls: dict[str, int], tmp_path: Path
) -> None:
    """With ``export_admin_only``, every other role's report export gets 403 (as the call
    log's) while administrators get the file; the reports stay open."""
    del calls
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"),
        http=HttpSettings(export_admin_only=True),
    )
    app = create_app(settings, db=api_db)
    for role, login in LOGINS.items():
        client = sign_in(app, login)
        for name in ("period", "agents"):
            answer = client.get(f"/api/reports/{name}/export")
            assert answer.status_code == (200 if role is Role.ADMIN else 403), (role, name)
        assert client.get("/api/reports/agents").status_code == 200
    assert sign_in(app, "admin").get("/api/reports/nothing/export").status_code == 422


def test_recent_days_for_the_dashboard(
    clients: dict[Role, TestClient], api_db: sa.Engine, world: World
) -> None:
    """Today / 3 / 7 days: calls per local day, per agent, the last 20 answered and the last
    20 missed calls, newest first, each role in its scope; agents get 403."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Session(api_db) as s:
        camp = Campaign(name="Now")
        s.add(camp)
        s.flush()
        for k in range(30):
            agent = world.agent_a if k % 3 else world.agent_b
            outcome = "answered" if k % 2 else "no_answer"
            s.add(
                CallLog(
                    campaign_id=camp.id or 0,
                    phone=f"+4850070{k:04d}",
                    agent_id=agent if outcome == "answered" or k % 4 == 0 else None,
                    outcome=outcome,
                    dial_at=now - dt.timedelta(minutes=1 + k),
                )
            )
        s.add(CallLog(campaign_id=camp.id or 0, phone="+48500799999", outcome="busy",
                      dial_at=now - dt.timedelta(days=5)))  # fmt: skip
        s.commit()
    week = _get(clients[Role.ADMIN], "/api/reports/recent", days=7)
    assert len(week["per_day"]) == 7
    assert sum(d["dials"] for d in week["per_day"]) == 31
    today = _get(clients[Role.ADMIN], "/api/reports/recent", days=1)
    midnight = now.replace(hour=0, minute=0, second=0)
    dialed_today = sum(now - dt.timedelta(minutes=1 + k) >= midnight for k in range(30))
    assert [d["dials"] for d in today["per_day"]] == [dialed_today]
    if dialed_today == 30:
        assert len(today["last_answered"]) == 15
        assert len(today["last_missed"]) == 15
    stamps = [c["dial_at"] for c in today["last_missed"]]
    assert stamps == sorted(stamps, reverse=True)
    leader = _get(clients[Role.GROUP_LEADER], "/api/reports/recent", days=3)
    assert {c["agent_id"] for c in leader["last_answered"] + leader["last_missed"]} == {
        world.agent_a
    }
    assert [a["agent_id"] for a in leader["per_agent"]] == [world.agent_a]
    assert clients[Role.AGENT].get("/api/reports/recent").status_code == 403
