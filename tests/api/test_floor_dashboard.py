"""The supervisor's floor on the dashboard: why a campaign does not dial (in codes the
pages put into words), agents in natural order with the time in their phase from its start,
long pauses highlighted, and a supervisor forcing an agent paused, ready or out (audited,
scoped)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.enums import CampaignState
from campaigns.models import AuditLog, Campaign, Record
from dialer.api.idle import RecordFacts, why_idle
from dialer.api.routes.dashboard import natural_key
from tests.api.conftest import World, sign_in
from tests.api.test_dashboard_api import Floor, floor  # noqa: F401  (fixture)

NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
ALL_DUE = RecordFacts(
    callable_total=5, due=5, due_in_open_window=5, next_due_at=None, hours_open=None
)


def _codes(reasons: list) -> list[str]:  # type: ignore[type-arg]
    return [r.code for r in reasons]


def test_why_idle_names_each_fact_that_stops_dialing() -> None:
    """Every reason comes from a fact: hours closed, nothing left, nothing due yet (with
    when), every due person outside the window, no agents, none ready, the guard, the
    circuit breaker; nothing when the campaign may dial."""
    stats = {"agents": {"ready": 1, "paused": 1, "logged_out": 0}, "pacer_reason": "ok"}
    assert why_idle("running", None, stats, ALL_DUE) == []
    later = NOW + dt.timedelta(hours=2)
    nothing_due = RecordFacts(5, 0, 0, later, True)
    got = why_idle("running", None, stats, nothing_due)
    assert _codes(got) == ["nothing_due"]
    assert got[0].params == {"next_due_at": later}
    closed = RecordFacts(5, 3, 0, None, False)
    assert _codes(why_idle("running", None, None, closed)) == [
        "outside_hours",
        "outside_every_window",
        "no_engine",
    ]
    empty = RecordFacts(0, 0, 0, None, None)
    paused_all = {"agents": {"paused": 2}, "pacer_reason": "compliance_guard"}
    assert _codes(why_idle("running", None, paused_all, empty)) == [
        "list_exhausted",
        "no_agent_ready",
        "compliance_guard",
    ]
    assert _codes(why_idle("running", None, {"agents": {}}, ALL_DUE)) == ["no_agents"]
    breaker = why_idle("paused", "the PBX refused 3 calls", None, ALL_DUE)
    assert _codes(breaker) == ["circuit_breaker"]
    assert _codes(why_idle("draft", None, None, ALL_DUE)) == ["not_running"]


def test_agents_sort_naturally() -> None:
    """ "Agent 2" comes before "Agent 10", whatever the case."""
    names = ["Agent 10", "agent 2", "Agent 1", "Bob"]
    assert sorted(names, key=natural_key) == ["Agent 1", "agent 2", "Agent 10", "Bob"]


def test_dashboard_says_why_and_times_the_phase_and_campaign_page_agrees(
    floor: Floor,  # noqa: F811  (the fixture imported above)
    api_db: sa.Engine,
) -> None:
    """A running campaign with an agent paused: the dashboard and the campaign page both say
    no agent is ready; the agent's line has its time in phase from login on; with every
    record parked the list is exhausted."""
    agent = sign_in(floor.app, "agent")
    assert agent.post("/api/agent/login", json={"campaign": floor.running}).status_code == 200
    floor.host.seat_up()
    assert agent.post("/api/agent/pause", json={"reason": "break"}).status_code == 200
    head = sign_in(floor.app, "head")
    board = head.get(f"/api/dashboard/{floor.running}").json()
    assert "no_agent_ready" in _codes_of(board["idle"])
    line = board["agents"][0]
    assert line["phase"] == "paused"
    assert line["in_state_s"] is not None
    assert line["since"] is not None
    assert line["overdue"] is None
    page = head.get(f"/api/campaigns/{floor.running}").json()
    assert "no_agent_ready" in _codes_of(page["idle"])
    with Session(api_db) as session:
        for record in session.exec(select(Record).where(Record.campaign_id == floor.running)):
            record.parked_at = NOW
            session.add(record)
        session.commit()
    board = head.get(f"/api/dashboard/{floor.running}").json()
    assert "list_exhausted" in _codes_of(board["idle"])


def _codes_of(items: list[dict[str, object]]) -> list[object]:
    return [item["code"] for item in items]


def test_supervisor_forces_ready_pause_and_logout_audited_within_scope(
    floor: Floor,  # noqa: F811  (the fixture imported above)
    world: World,
    api_db: sa.Engine,
) -> None:
    """A group leader pauses its agent, makes it ready and logs it out through the
    dashboard, each audited with the phase before and after; another group's agent is
    404 to it; an agent not logged in is a 409."""
    agent = sign_in(floor.app, "agent")
    assert agent.post("/api/agent/login", json={"campaign": floor.running}).status_code == 200
    floor.host.seat_up()
    leader = sign_in(floor.app, "leader")
    url = f"/api/dashboard/agents/{world.agent_a}"
    assert leader.post(f"{url}/pause", json={"reason": "meeting"}).json()["phase"] == "paused"
    assert leader.post(f"{url}/ready").json()["phase"] == "ready"
    assert leader.post(f"{url}/logout").json()["phase"] == "logged_out"
    assert leader.post(f"{url}/ready").status_code == 409
    assert leader.post(f"/api/dashboard/agents/{world.agent_b}/ready").status_code == 404
    with Session(api_db) as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.entity == "agent").order_by(AuditLog.id)
        ).all()
    forced = [(r.actor, r.action, r.details["phase"]) for r in rows if r.actor == "user:leader"]
    assert forced == [
        ("user:leader", "agent.supervisor_pause", {"from": "ready", "to": "paused"}),
        ("user:leader", "agent.supervisor_ready", {"from": "paused", "to": "ready"}),
        ("user:leader", "agent.supervisor_logout", {"from": "ready", "to": "logged_out"}),
    ]
    with Session(api_db) as session:
        campaign = session.get(Campaign, floor.running)
        assert campaign is not None
        assert campaign.state == CampaignState.RUNNING


def test_dashboard_lists_live_calls_with_agent_state_and_duration(
    floor: Floor,  # noqa: F811  (the fixture imported above)
    world: World,
) -> None:
    """A call connected to agent A and one still ringing are listed with the number, the
    agent, the state and the time since the dial; a group leader sees its agent's call."""
    agent = sign_in(floor.app, "agent")
    assert agent.post("/api/agent/login", json={"campaign": floor.running}).status_code == 200
    floor.host.seat_up()
    talking = floor.host.dial()
    floor.host.answer(talking.call_id)
    floor.host.dial()
    board = sign_in(floor.app, "head").get(f"/api/dashboard/{floor.running}").json()
    calls = {c["call_id"]: c for c in board["calls"]}
    assert len(calls) == 2
    mine = calls[talking.call_id]
    assert (mine["agent_id"], mine["agent"], mine["state"]) == (
        world.agent_a,
        "Anna Nowak",
        "talking",
    )
    assert mine["phone"].startswith("+")
    assert mine["duration_s"] >= 0
    assert mine["talk_s"] is not None
    leader = sign_in(floor.app, "leader").get(f"/api/dashboard/{floor.running}").json()
    assert [c["call_id"] for c in leader["calls"]] == [talking.call_id]


def test_one_connected_figure_on_the_dashboard_and_the_campaign_list(
    floor: Floor,  # noqa: F811  (the fixture imported above)
    api_db: sa.Engine,
) -> None:
    """Today's connected people are one number: the figures tile, the abandonment gauge
    and the campaign list all read the call log's connected facts of today."""
    from tests.api.test_calls_api import NOW as WRITTEN_AT
    from tests.api.test_dashboard_api import add_settled

    # Read at a fixed noon: run just after midnight, calls placed minutes ago were yesterday's.
    floor.app.state.ctx.clock = lambda: NOW
    shift = (WRITTEN_AT - NOW).total_seconds() / 60  # add_settled counts back from WRITTEN_AT
    for i in range(3):
        add_settled(
            api_db,
            floor.running,
            ago_min=2 + i + shift,
            phone=f"+4850100000{i}",
            outcome="answered",
        )
    add_settled(api_db, floor.running, ago_min=9 + shift, phone="+48501000009", outcome="dropped")
    head = sign_in(floor.app, "head")
    board = head.get(f"/api/dashboard/{floor.running}").json()
    today = board["today"]
    assert (today["connected"], today["dropped"], today["answered"]) == (3, 1, 4)
    assert today["dials"] >= 4
    assert board["abandonment"]["today"]["connected"] == today["connected"]
    overview = {line["campaign"]["id"]: line for line in head.get("/api/dashboard").json()}
    assert overview[floor.running]["connected_today"] == today["connected"]
