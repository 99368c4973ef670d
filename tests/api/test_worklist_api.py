"""The missed-call worklist over HTTP: scopes per role, actions audited, bad input named."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from campaigns import inbound as wl
from campaigns.enums import Role, SystemStatus
from campaigns.models import AuditLog, Record
from campaigns.service import create_campaign, validate_rules
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, Settings
from dialer.errors import DialerError
from tests.api.conftest import LOGINS, World, sign_in

Clients = dict[Role, TestClient]
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def rows(api_db: sa.Engine) -> dict[str, int]:
    """Three rows: caller 1 missed twice in sales, caller 2 in sales, caller 3 in support."""
    a = wl.record_miss(api_db, caller="48601000001", queue="sales", at=NOW - dt.timedelta(hours=3))
    wl.record_miss(api_db, caller="48601000001", queue="sales", at=NOW - dt.timedelta(hours=1))
    b = wl.record_miss(api_db, caller="48601000002", queue="sales", at=NOW - dt.timedelta(hours=2))
    c = wl.record_miss(api_db, caller="48601000003", queue="support", at=NOW - dt.timedelta(days=3))
    return {"a": a.row_id, "b": b.row_id, "c": c.row_id}


@pytest.fixture
def callback_campaign(api_db: sa.Engine) -> int:
    """A campaign for callbacks."""
    with Session(api_db) as session:
        row = create_campaign(session, validate_rules(name="Oddzwonienia"), actor="t")
        session.commit()
        return row.id or 0


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert field in problems, problems
    return problems[field]


def test_everyone_sees_open_rows_oldest_first_with_the_header_count(
    clients: Clients, rows: dict[str, int]
) -> None:
    """Every role lists the open rows (the longest waiting first) and reads the counter;
    a repeat miss shows as one row with its count."""
    for client in clients.values():
        page = client.get("/api/worklist").json()
        assert [r["id"] for r in page["items"]] == [rows["c"], rows["b"], rows["a"]]
        assert page["total"] == 3
        assert client.get("/api/worklist/count").json() == {"open": 3}
    first = clients[Role.AGENT].get(f"/api/worklist/{rows['a']}").json()
    assert (first["phone"], first["miss_count"]) == ("+48601000001", 2)
    assert [h["kind"] for h in first["history"]] == ["missed", "missed"]


def test_filters_by_queue_age_and_phone_and_refuse_bad_values(
    clients: Clients, rows: dict[str, int]
) -> None:
    """Queue, age and phone filters select; an unknown queue or an invalid number is a 422
    naming the field (and the known queues)."""
    sup = clients[Role.HEAD]
    only = sup.get("/api/worklist", params={"queue": "support"}).json()["items"]
    assert [r["id"] for r in only] == [rows["c"]]
    young = sup.get("/api/worklist", params={"max_age_h": 24}).json()["items"]
    assert {r["id"] for r in young} == {rows["a"], rows["b"]}
    by_phone = sup.get("/api/worklist", params={"phone": "601 000 002"}).json()["items"]
    assert [r["id"] for r in by_phone] == [rows["b"]]
    problem = _problem(sup.get("/api/worklist", params={"queue": "slaes"}), "query.queue")
    assert "unknown queue 'slaes'" in problem
    assert "sales" in problem
    assert "support" in problem
    assert "'12'" in _problem(sup.get("/api/worklist", params={"phone": "12"}), "query.phone")


def test_hide_restore_delete_by_role_are_audited(
    clients: Clients, rows: dict[str, int], api_db: sa.Engine
) -> None:
    """An agent may not hide; a group leader hides and restores (agents then do not see the
    hidden row); only administrators and heads delete; each action is audited with who."""
    r = rows["b"]
    assert clients[Role.AGENT].post(f"/api/worklist/{r}/hide").status_code == 403
    leader = clients[Role.GROUP_LEADER]
    assert leader.post(f"/api/worklist/{r}/hide").json()["state"] == "hidden"
    assert clients[Role.AGENT].get(f"/api/worklist/{r}").status_code == 404
    assert clients[Role.AGENT].get("/api/worklist", params={"state": "hidden"}).status_code == 403
    hidden = leader.get("/api/worklist", params={"state": "hidden"}).json()["items"]
    assert [h["id"] for h in hidden] == [r]
    again = leader.post(f"/api/worklist/{r}/hide")
    assert again.status_code == 400
    assert again.json()["error"] == "worklist_row_state"
    assert leader.post(f"/api/worklist/{r}/restore").json()["state"] == "open"
    assert leader.delete(f"/api/worklist/{r}").status_code == 403
    gone = clients[Role.HEAD].delete(f"/api/worklist/{r}").json()
    assert (gone["state"], gone["closed_by"], gone["closed_reason"]) == (
        "closed",
        "user:head",
        "deleted",
    )
    assert clients[Role.HEAD].delete("/api/worklist/99999").status_code == 404
    with Session(api_db) as session:
        audit = session.exec(
            select(AuditLog).where(AuditLog.entity == "missed_call").order_by(col(AuditLog.id))
        ).all()
    assert [(a.action, a.actor) for a in audit] == [
        ("worklist_hide", "user:leader"),
        ("worklist_restore", "user:leader"),
        ("worklist_delete", "user:head"),
    ]


def test_agent_calls_back_for_itself_and_notes_go_to_history(
    clients: Clients,
    rows: dict[str, int],
    world: World,
    api_db: sa.Engine,
    callback_campaign: int,
) -> None:
    """'Call back' by an agent makes the row's record that agent's own callback, due now, in
    the queue's campaign; an agent cannot call back for another agent; a note is history."""
    agent = clients[Role.AGENT]
    r = rows["a"]
    refused = agent.post(f"/api/worklist/{r}/callback", json={})
    assert refused.status_code == 400
    assert refused.json()["error"] == "no_callback_campaign"
    head = clients[Role.HEAD]
    attach = head.put("/api/inbound/queues/sales", json={"campaign_id": callback_campaign})
    assert attach.status_code == 200, attach.text
    other = agent.post(f"/api/worklist/{r}/callback", json={"agent_id": world.agent_b})
    assert other.status_code == 403
    done = agent.post(f"/api/worklist/{r}/callback", json={}).json()
    assert done["agent_id"] == world.agent_a
    with Session(api_db) as session:
        rec = session.get(Record, done["record_id"])
    assert rec is not None
    assert (rec.campaign_id, rec.system_status, rec.owner_agent_id) == (
        callback_campaign,
        SystemStatus.MY_RECORD,
        world.agent_a,
    )
    noted = agent.post(f"/api/worklist/{r}/notes", json={"text": "Klient prosi po 16:00"}).json()
    assert [h["kind"] for h in noted["history"]][-2:] == ["callback_requested", "note"]
    assert noted["history"][-1]["detail"] == "Klient prosi po 16:00"


def test_queue_links_need_a_supervisor_and_name_unknown_queues(
    clients: Clients, rows: dict[str, int], callback_campaign: int
) -> None:
    """Attaching a queue is for supervisors; with servers that follow named queues only, an
    unknown queue is refused naming the known ones; a missing campaign is a 404."""
    del rows
    body = {"campaign_id": callback_campaign}
    assert clients[Role.GROUP_LEADER].put("/api/inbound/queues/sales", json=body).status_code == 403
    head = clients[Role.HEAD]
    assert head.put("/api/inbound/queues/sales", json={"campaign_id": 9999}).status_code == 404
    bad_mode = head.put("/api/inbound/queues/sales", json={**body, "mode": "FAST"})
    assert bad_mode.status_code == 422
    unknown = head.put("/api/inbound/queues/salse", json=body)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_queue"
    assert "'sales'" in unknown.json()["detail"]
    ok = head.put("/api/inbound/queues/sales", json=body).json()
    assert ok == {"queue": "sales", "campaign_id": callback_campaign, "mode": "CALL_PROGRESSIVE"}
    listed = {q["queue"]: q["campaign_id"] for q in head.get("/api/inbound/queues").json()}
    assert listed["sales"] == callback_campaign
    assert listed["support"] is None
    assert head.delete("/api/inbound/queues/sales").status_code == 200
    assert head.delete("/api/inbound/queues/sales").status_code == 422


def test_stats_and_export(clients: Clients, rows: dict[str, int]) -> None:
    """Statistics are for supervisors; the export gives the filtered rows as CSV."""
    del rows
    assert clients[Role.AGENT].get("/api/worklist/stats").status_code == 403
    stats = clients[Role.HEAD].get("/api/worklist/stats").json()
    assert (stats["missed"], stats["rows_new"], stats["still_open"]) == (4, 3, 3)
    # an end too early for the default week before it: a clear refusal, not a server error
    early = clients[Role.HEAD].get("/api/worklist/stats", params={"end": "0001-01-01T00:00:00Z"})
    assert early.status_code == 422
    assert "end" in early.json()["detail"]
    assert clients[Role.AGENT].get("/api/worklist/export").status_code == 403
    res = clients[Role.GROUP_LEADER].get("/api/worklist/export", params={"queue": "sales"})
    assert res.status_code == 200
    lines = list(csv.reader(io.StringIO(res.text)))
    assert lines[0][:3] == ["id", "phone", "queue"]
    assert sorted(line[1] for line in lines[1:]) == ["+48601000001", "+48601000002"]


class _DeskEngine:
    """An engine link that records the desk actions it is given and refuses them while
    ``ready`` is False (as the engine does for an agent not ready in the campaign)."""

    def __init__(self) -> None:
        self.ready = False
        self.commands: list[tuple[int, str, dict[str, Any]]] = []

    def agent_command(self, agent_id: int, action: str, payload: dict[str, Any]) -> None:
        if not self.ready:
            raise DialerError(f"agent {agent_id} is not ready")
        self.commands.append((agent_id, action, payload))

    def __getattr__(self, name: str) -> Any:  # the rest of the link: not used here
        raise AttributeError(name)


def test_a_callback_dials_at_once_when_the_agent_is_ready_else_waits(
    api_db: sa.Engine, world: World, rows: dict[str, int], callback_campaign: int, tmp_path: Path
) -> None:
    """With the engine in the process, 'call back' hands the record to the engine's desk
    dial (the agent reserved, then the person dialed) at once when the agent is ready; an
    agent who is not ready gets the callback due now, dialed when it is ready."""
    engine = _DeskEngine()
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"))
    app = create_app(settings, db=api_db, engine=engine)  # type: ignore[arg-type]
    wl.attach_queue(api_db, "sales", callback_campaign, actor="t")
    agent = sign_in(app, LOGINS[Role.AGENT])
    waits = agent.post(f"/api/worklist/{rows['a']}/callback", json={})
    assert waits.status_code == 200, waits.text
    assert waits.json()["dialing"] is False
    assert engine.commands == []
    engine.ready = True
    now = agent.post(f"/api/worklist/{rows['b']}/callback", json={}).json()
    assert now["dialing"] is True
    assert engine.commands == [(world.agent_a, "dial_record", {"record": now["record_id"]})]
