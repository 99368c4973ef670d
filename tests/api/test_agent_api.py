"""Agent actions over the API: log in to a seat, ready, pause, log out, set a status with a
date, own callbacks and own calls, against the real engine core on the test database.

:class:`EngineHost` is the engine link the API drives in these tests: the real
:class:`~dialer.engine.Engine` with the SQL lead source and call journal on the fixture
database, publishing to the app's event hub; the test plays the telephony (seat up, answer,
hang-up). Other API tests import it from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from asterisk import events as ev
from campaigns.enums import CampaignState, SystemStatus
from campaigns.models import Agent, AuditLog, CallLog, Record, StatusDef
from campaigns.service import create_campaign, validate_rules
from campaigns.statuses import create_status
from dialer.api.app import create_app
from dialer.api.hub import EventHub
from dialer.config import DatabaseSettings, Settings
from dialer.engine import CampaignRun, Command, Engine, Originate, RunState, StartSeat
from dialer.engine.actions import agent_action
from dialer.engine.clock import WallClock
from dialer.runtime.commands import check_seat
from dialer.runtime.store import SqlJournal, SqlLeads
from pacing import types as pt
from tests.api.conftest import World, sign_in

# ---------------------------------------------------------------------------- engine host


@dataclass
class OnePacer:
    """Asks for ``n`` calls per tick."""

    n: int = 1

    def observe(self, event: pt.Event) -> None:
        """Ignore pacing events."""

    def decide(self, view: pt.View) -> int:
        """Always ``n``."""
        del view
        return self.n


@dataclass
class EngineHost:
    """The engine core on a database, as the API sees the runtime (an ``EngineLink``)."""

    db: sa.Engine
    hub: EventHub
    engine: Engine = field(init=False)
    journal: SqlJournal = field(init=False)
    leads: SqlLeads = field(init=False)
    commands: list[Command] = field(default_factory=list)
    syncs: int = 0

    def __post_init__(self) -> None:
        clock = WallClock()
        self.journal = SqlJournal(self.db, engine_id="api-test", clock=clock)
        self.leads = SqlLeads(self.db, engine_id="api-test", lease_s=60)
        self.engine = Engine(
            clock=clock,
            leads=self.leads,
            journal=self.journal,
            sink=self.hub,
            engine_id="api-test",
        )

    def load(self, campaign_id: int, name: str, *, running: bool = True) -> None:
        """Run a campaign (it dials one call per tick while an agent is ready)."""
        self.engine.add_campaign(CampaignRun(campaign_id, name, OnePacer()))
        if running:
            self.engine.set_state(campaign_id, RunState.RUNNING)

    def _run(self, commands: list[Command]) -> list[Command]:
        self.commands.extend(commands)
        self.journal.flush()
        return commands

    # EngineLink ---------------------------------------------------------------------------

    def agent_command(self, agent_id: int, action: str, payload: dict[str, Any]) -> None:
        """The runtime's own agent-action dispatcher, on the engine core."""

        def seat_of(agent: int, request: Mapping[str, Any]) -> str:
            return check_seat(self.db, agent, str(request.get("seat") or "") or None)

        self._run(
            agent_action(self.engine, agent_id, action, payload, seat_of=seat_of, leads=self.leads)
        )

    def agent_snapshot(self, agent_id: int) -> dict[str, Any] | None:
        """The engine's snapshot."""
        return self.engine.agent_snapshot(agent_id)

    def campaign_stats(self, campaign_id: int) -> dict[str, Any] | None:
        """The engine's figures of a loaded campaign."""
        if campaign_id not in self.engine.campaigns:
            return None
        return self.engine.stats(campaign_id)

    def campaign_calls(self, campaign_id: int) -> list[dict[str, Any]] | None:
        """The engine's calls up of a loaded campaign."""
        if campaign_id not in self.engine.campaigns:
            return None
        return self.engine.live_calls(campaign_id)

    def work_arrived(self, campaign_id: int) -> None:
        """The engine looks for the campaign's reserved work on its next tick."""
        self.engine.look_for_reserved(campaign_id)

    def sync_campaigns(self) -> None:
        """Counted only."""
        self.syncs += 1

    # the test's telephony -----------------------------------------------------------------

    def seat_up(self) -> None:
        """Every seat started so far answers."""
        for cmd in list(self.commands):
            if isinstance(cmd, StartSeat):
                self.commands.remove(cmd)
                self._run(self.engine.on_event(ev.SeatUp(agent_id=cmd.seat, channel="seat")))

    def dial(self) -> Originate:
        """One tick; the call it placed."""
        placed = [c for c in self._run(self.engine.tick()) if isinstance(c, Originate)]
        assert placed, "the engine placed no call"
        return placed[0]

    def answer(self, call_id: str) -> None:
        """The person answers (and is connected to a ready agent)."""
        self._run(self.engine.on_event(ev.CallAnswered(call_id, f"Local/{call_id}", call_id)))

    def hang_up(self, call_id: str) -> None:
        """The person hangs up: the agent wraps up."""
        self._run(self.engine.on_event(ev.CallHungUp(call_id, 16, "Normal Clearing")))


@dataclass(frozen=True)
class Ops:
    """The engine-backed app and what the fixture made."""

    app: FastAPI
    host: EngineHost
    hub: EventHub
    campaign: int
    callback_status: int
    later_status: int
    plain_status: int
    world: World


def make_campaign(db: sa.Engine, name: str = "Jesień") -> tuple[int, dict[str, int]]:
    """A campaign open all day with MY_RECORD and NOT_BEFORE statuses and five records."""
    with Session(db) as session:
        ids = {}
        for status_name, system in (
            ("Oddzwonić", SystemStatus.MY_RECORD),
            ("Później", SystemStatus.NOT_BEFORE),
        ):
            existing = session.exec(select(StatusDef).where(StatusDef.name == status_name)).first()
            row = existing or create_status(
                session,
                name=status_name,
                system_status=system,
                add_to_new_campaigns=True,
                actor="test",
            )
            ids[system.value] = row.id or 0
        plain = session.exec(
            select(StatusDef).where(StatusDef.system_status == SystemStatus.DO_NOT_CALL)
        ).first()
        assert plain is not None
        ids["DO_NOT_CALL"] = plain.id or 0
        campaign = create_campaign(
            session,
            validate_rules(
                name=name,
                window_start="00:00",
                window_end="24:00",
                window_days=[1, 2, 3, 4, 5, 6, 7],
            ),
            actor="test",
        )
        campaign.state = CampaignState.RUNNING
        session.add(campaign)
        session.flush()
        cid = campaign.id or 0
        session.add_all(
            Record(
                campaign_id=cid,
                phone=f"+4850100{cid:02d}{k:02d}",
                name=f"Klient {k}",
                tz="UTC",
                fields={"segment": "A", "offer": f"O-{k}"},
            )
            for k in range(5)
        )
        session.commit()
    return cid, ids


@pytest.fixture
def ops(api_db: sa.Engine, world: World, tmp_path: Path) -> Ops:
    """The API with an engine in the process running one campaign."""
    cid, ids = make_campaign(api_db)
    hub = EventHub()
    host = EngineHost(api_db, hub)
    host.load(cid, "Jesień")
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"))
    app = create_app(settings, db=api_db, hub=hub, engine=host)
    return Ops(
        app=app,
        host=host,
        hub=hub,
        campaign=cid,
        callback_status=ids["MY_RECORD"],
        later_status=ids["NOT_BEFORE"],
        plain_status=ids["DO_NOT_CALL"],
        world=world,
    )


def audit_rows(db: sa.Engine, action: str) -> list[AuditLog]:
    """The audit rows of one action."""
    with Session(db) as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)))


def connected_call(ops: Ops, agent: TestClient) -> str:
    """Log the agent in, make it ready and connect a call to it; the call id."""
    assert agent.post("/api/agent/login", json={"campaign": ops.campaign}).status_code == 200
    ops.host.seat_up()
    call = ops.host.dial()
    ops.host.answer(call.call_id)
    return call.call_id


def future(hours: float = 2) -> str:
    """An ISO date-time ``hours`` from now, with its zone."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


# ---------------------------------------------------------------------------- tests


def test_without_engine_agent_actions_answer_503(app: FastAPI) -> None:
    """With no engine in the process, the state and every action answer 503 saying so."""
    agent = sign_in(app, "agent")
    for method, path, body in (
        ("GET", "/api/agent/state", None),
        ("POST", "/api/agent/login", {"campaign": 1}),
        ("POST", "/api/agent/ready", None),
        ("POST", "/api/agent/pause", {"reason": "lunch"}),
        ("POST", "/api/agent/logout", None),
        ("POST", "/api/agent/status", {"call_id": "c", "status": 1}),
    ):
        response = agent.request(method, path, json=body)
        assert response.status_code == 503, path
        assert response.json()["error"] == "engine_unavailable"
        assert "dialer run --http" in response.json()["detail"]


def test_login_seat_ready_pause_logout_cycle_is_audited(ops: Ops, api_db: sa.Engine) -> None:
    """An agent logs in (paused until its seat answers), goes ready, pauses with a reason and
    logs out; each answer is the new state and each action is audited with the user."""
    agent = sign_in(ops.app, "agent")
    assert agent.get("/api/agent/state").json()["phase"] == "logged_out"
    state = agent.post("/api/agent/login", json={"campaign": ops.campaign}).json()
    assert state["phase"] == "paused"
    assert state["pause_reason"] == "seat"
    assert state["seat"] == "agent1"  # the agent's extension
    assert state["campaign_name"] == "Jesień"
    ops.host.seat_up()
    state = agent.get("/api/agent/state").json()
    assert state["phase"] == "ready"
    by_name = {s["name"]: s for s in state["statuses"]}
    assert by_name["Oddzwonić"]["needs_date"] is True
    assert by_name["Nie dzwonić"]["needs_date"] is False
    state = agent.post("/api/agent/pause", json={"reason": "lunch"}).json()
    assert (state["phase"], state["pause_reason"]) == ("paused", "lunch")
    assert agent.post("/api/agent/ready").json()["phase"] == "ready"
    assert agent.post("/api/agent/logout").json()["phase"] == "logged_out"
    for action in ("login", "pause", "ready", "logout"):
        rows = audit_rows(api_db, f"agent.{action}")
        assert len(rows) == 1, action
        assert rows[0].actor == "user:agent"
        assert rows[0].entity_id == str(ops.world.agent_a)
    assert audit_rows(api_db, "agent.pause")[0].details["reason"] == "lunch"


def test_refusals_by_the_engine_are_409_with_its_message(ops: Ops, api_db: sa.Engine) -> None:
    """Going ready while logged out, logging in twice or to a campaign the engine does not
    run answer 409 with the engine's reason, and nothing is audited."""
    agent = sign_in(ops.app, "agent")
    response = agent.post("/api/agent/ready")
    assert response.status_code == 409
    assert "not logged in" in response.json()["detail"]
    response = agent.post("/api/agent/login", json={"campaign": 999})
    assert response.status_code == 409
    assert "not loaded" in response.json()["detail"]
    assert agent.post("/api/agent/login", json={"campaign": ops.campaign}).status_code == 200
    again = agent.post("/api/agent/login", json={"campaign": ops.campaign})
    assert again.status_code == 409
    assert again.json()["error"] == "engine_error"
    assert "already logged in" in again.json()["detail"]
    assert len(audit_rows(api_db, "agent.login")) == 1
    assert audit_rows(api_db, "agent.ready") == []


def test_a_seat_in_use_by_another_agent_is_refused(ops: Ops) -> None:
    """A second agent cannot log in to the seat another logged-in agent holds."""
    first, second = sign_in(ops.app, "agent"), sign_in(ops.app, "agent_b")
    with Session(ops.host.db) as session:  # hot-desking: agent_b may use these seats
        agent_b = session.get(Agent, ops.world.agent_b)
        assert agent_b is not None
        agent_b.seats = ["agent1", "desk-7"]
        session.add(agent_b)
        session.commit()
    assert first.post("/api/agent/login", json={"campaign": ops.campaign}).status_code == 200
    response = second.post("/api/agent/login", json={"campaign": ops.campaign, "seat": "agent1"})
    assert response.status_code == 409
    assert "seat 'agent1' is in use" in response.json()["detail"]
    ok = second.post("/api/agent/login", json={"campaign": ops.campaign, "seat": "desk-7"})
    assert ok.json()["seat"] == "desk-7"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/agent/login", {}, "campaign"),
        ("/api/agent/login", {"campaign": "x"}, "campaign"),
        ("/api/agent/login", {"campaign": 1, "seat": "a b;\r\nAction: Hangup"}, "seat"),
        ("/api/agent/login", {"campaign": 10**12}, "campaign"),
        ("/api/agent/pause", {}, "reason"),
        ("/api/agent/pause", {"reason": "   "}, "reason"),
        ("/api/agent/status", {"status": 1}, "call_id"),
        ("/api/agent/status", {"call_id": "c", "status": 1, "date": "tomorrow"}, "date"),
    ],
)
def test_bad_fields_answer_422_naming_them(
    ops: Ops, path: str, body: dict[str, object], field: str
) -> None:
    """A missing or malformed field answers 422 with a problem naming it."""
    response = sign_in(ops.app, "agent").post(path, json=body)
    assert response.status_code == 422
    assert field in [p["field"] for p in response.json()["problems"]]


def test_screen_pop_then_callback_status_with_date(ops: Ops, api_db: sa.Engine) -> None:
    """A connected call shows the record on the agent's state; a MY_RECORD status with a
    future date makes the agent the record's owner with that next-contact time, is written
    to the call log with the note, is audited, and ends the wrap-up."""
    agent = sign_in(ops.app, "agent")
    call_id = connected_call(ops, agent)
    state = agent.get("/api/agent/state").json()
    assert state["phase"] == "talking"
    record = state["call"]["record"]
    assert record["name"].startswith("Klient")
    assert record["fields"]["segment"] == "A"
    assert state["call"]["call_id"] == call_id
    ops.host.hang_up(call_id)
    assert agent.get("/api/agent/state").json()["phase"] == "wrap_up"
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    response = agent.post(
        "/api/agent/status",
        json={
            "call_id": call_id,
            "status": ops.callback_status,
            "date": when.isoformat(),
            "note": "prosi o telefon jutro",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["phase"] == "ready"
    with Session(api_db) as session:
        row = session.get(Record, record["id"])
        assert row is not None
        assert row.system_status == SystemStatus.MY_RECORD
        assert row.owner_agent_id == ops.world.agent_a
        assert row.next_call_at == when
        log = session.exec(select(CallLog).where(CallLog.channel_id == call_id)).one()
        assert log.status_id == ops.callback_status
        assert log.note == "prosi o telefon jutro"
        assert log.agent_id == ops.world.agent_a
    (audited,) = audit_rows(api_db, "agent.status")
    assert audited.actor == "user:agent"
    assert audited.details["call_id"] == call_id
    callbacks = agent.get("/api/agent/callbacks").json()
    assert [c["record_id"] for c in callbacks] == [record["id"]]
    assert callbacks[0]["campaign_name"] == "Jesień"


@pytest.mark.parametrize(
    ("status", "date", "expected"),
    [
        ("callback", None, ("date", "needs the next contact date")),
        ("callback", -1.0, ("date", "must be in the future")),
        ("callback", 24 * 366 * 6.0, ("date", "days ahead")),
        ("callback", "9999-12-31T23:00:00-05:00", ("date", "days ahead")),
        ("callback", "naive", ("date", "timezone")),
        ("plain", 2.0, ("date", "takes no date")),
        ("unknown", None, ("status", "not offered")),
    ],
)
def test_status_is_checked_before_the_engine(
    ops: Ops, api_db: sa.Engine, status: str, date: float | str | None, expected: tuple[str, str]
) -> None:
    """A missing, past or zone-less date for a dated status, a date for an undated one, or a
    status the campaign does not offer answer 422 naming the field; the agent stays in
    wrap-up and the record is untouched."""
    agent = sign_in(ops.app, "agent")
    call_id = connected_call(ops, agent)
    ops.host.hang_up(call_id)
    ids = {"callback": ops.callback_status, "plain": ops.plain_status, "unknown": 999}
    body: dict[str, object] = {"call_id": call_id, "status": ids[status]}
    if date == "naive":
        body["date"] = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(tzinfo=None)
        body["date"] = str(body["date"]).replace(" ", "T")
    elif isinstance(date, float):
        body["date"] = future(date)
    elif isinstance(date, str):
        body["date"] = date
    response = agent.post("/api/agent/status", json=body)
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    field, words = expected
    assert [p["field"] for p in problems] == [field]
    assert words in problems[0]["problem"]
    assert agent.get("/api/agent/state").json()["phase"] == "wrap_up"
    assert audit_rows(api_db, "agent.status") == []


def test_status_for_another_call_is_refused_409(ops: Ops) -> None:
    """A status for a call that is not the agent's is the engine's refusal (409)."""
    agent = sign_in(ops.app, "agent")
    connected_call(ops, agent)
    response = agent.post(
        "/api/agent/status", json={"call_id": "someone-else", "status": ops.plain_status}
    )
    assert response.status_code == 409
    assert "no call 'someone-else'" in response.json()["detail"]


def test_callbacks_are_own_and_sorted_by_time(ops: Ops, api_db: sa.Engine) -> None:
    """The callbacks list holds only the agent's own MY_RECORD records, soonest first."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    w = ops.world
    with Session(api_db) as session:
        for k, (owner, hours) in enumerate(
            [(w.agent_a, 5), (w.agent_b, 1), (w.agent_a, 2), (w.agent_a, -1)]
        ):
            session.add(
                Record(
                    campaign_id=ops.campaign,
                    phone=f"+48601000{k:03d}",
                    name=f"Owner {owner} +{hours}",
                    system_status=SystemStatus.MY_RECORD,
                    owner_agent_id=owner,
                    next_call_at=now + dt.timedelta(hours=hours),
                )
            )
        session.commit()
    callbacks = sign_in(ops.app, "agent").get("/api/agent/callbacks").json()
    assert [c["name"] for c in callbacks] == [
        f"Owner {w.agent_a} +-1",
        f"Owner {w.agent_a} +2",
        f"Owner {w.agent_a} +5",
    ]
    other = sign_in(ops.app, "agent_b").get("/api/agent/callbacks").json()
    assert [c["name"] for c in other] == [f"Owner {w.agent_b} +1"]


def test_own_calls_are_paged_and_only_own(ops: Ops, api_db: sa.Engine) -> None:
    """The agent's call history lists its own calls only, newest first, a page at a time."""
    now = dt.datetime.now(dt.UTC)
    w = ops.world
    with Session(api_db) as session:
        for k in range(7):
            session.add(
                CallLog(
                    campaign_id=ops.campaign,
                    phone=f"+4850999{k:04d}",
                    agent_id=w.agent_a if k % 2 == 0 else w.agent_b,
                    dial_at=now - dt.timedelta(minutes=k),
                    outcome="answered",
                )
            )
        session.commit()
    agent = sign_in(ops.app, "agent")
    first = agent.get("/api/agent/calls", params={"page_size": 3}).json()
    assert first["total"] == 4
    assert [c["phone"] for c in first["items"]] == ["+48509990000", "+48509990002", "+48509990004"]
    second = agent.get("/api/agent/calls", params={"page_size": 3, "page": 2}).json()
    assert [c["phone"] for c in second["items"]] == ["+48509990006"]
    assert all(c["agent_id"] == w.agent_a for c in first["items"] + second["items"])


def test_a_status_the_record_refuses_is_422_naming_status(ops: Ops, api_db: sa.Engine) -> None:
    """When the record itself refuses the status (made DO_NOT_CALL by a supervisor during
    the call), the engine's check answers 422 naming ``status``; nothing is written."""
    agent = sign_in(ops.app, "agent")
    call_id = connected_call(ops, agent)
    record_id = agent.get("/api/agent/state").json()["call"]["record"]["id"]
    ops.host.hang_up(call_id)
    with Session(api_db) as session:
        record = session.get(Record, record_id)
        assert record is not None
        record.system_status = SystemStatus.DO_NOT_CALL
        session.add(record)
        to_call = session.exec(
            select(StatusDef).where(StatusDef.system_status == SystemStatus.TO_CALL)
        ).first()
        assert to_call is not None
        to_call_id = to_call.id
        session.commit()
    response = agent.post("/api/agent/status", json={"call_id": call_id, "status": to_call_id})
    assert response.status_code == 422, response.text
    problem = response.json()["problems"][0]
    assert problem["field"] == "status"
    assert "DO_NOT_CALL" in problem["problem"]
    # the pages say it in the user's language by its code (catalog key rule.record_dnc)
    assert problem["type"] == "status_rule"
    assert problem["ctx"]["code"] == "record_dnc"
    assert agent.get("/api/agent/state").json()["phase"] == "wrap_up"
    assert audit_rows(api_db, "agent.status") == []
