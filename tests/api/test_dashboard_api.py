"""Dashboards: live figures from the engine, abandonment today / 24 h / 30 d from the call
log's connect and drop facts against the profile's cap, agents by scope, the last hour."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from asterisk import events as ev
from campaigns.abandonment import day_start
from campaigns.enums import CampaignState, Role
from campaigns.models import Agent, Campaign
from dialer.api.app import create_app
from dialer.api.hub import EventHub
from dialer.config import DatabaseSettings, PacingSettings, Settings
from tests.api.conftest import World, sign_in
from tests.api.test_agent_api import EngineHost, make_campaign
from tests.api.test_calls_api import NOW, add_call


def add_settled(db: sa.Engine, campaign: int, *, ago_min: float, phone: str, outcome: str) -> int:
    """A call dialed ``ago_min`` minutes ago, with the fact the journal writes when a person
    is connected (``connect_at``) or dropped (``drop_at``) 10 s after the dial."""
    at = NOW - dt.timedelta(minutes=ago_min) + dt.timedelta(seconds=10)
    facts: dict[str, object] = {}
    if outcome == "answered":
        facts["connect_at"] = at
    elif outcome == "dropped":
        facts["drop_at"] = at
    return add_call(db, campaign, ago_min=ago_min, phone=phone, outcome=outcome, **facts)


@dataclass(frozen=True)
class Floor:
    """An app whose engine runs campaign ``running``; ``idle`` exists but is not loaded."""

    app: FastAPI
    host: EngineHost
    running: int
    idle: int


@pytest.fixture
def floor(api_db: sa.Engine, world: World, tmp_path: Path) -> Floor:
    """The API with an engine running one of two campaigns; pacing profile ``strict`` (cap
    5 %) for the running one."""
    del world
    profiles = tmp_path / "pacing"
    profiles.mkdir()
    (profiles / "strict.toml").write_text('mode = "predictive"\ntarget_abandon = 0.05\n')
    running, _ = make_campaign(api_db, "Jesień")
    idle, _ = make_campaign(api_db, "Zima")
    with Session(api_db) as session:
        row = session.get(Campaign, running)
        assert row is not None
        row.pacing_profile = "strict"
        session.add(row)
        session.commit()
    hub = EventHub()
    host = EngineHost(api_db, hub)
    host.load(running, "Jesień")
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"),
        pacing=PacingSettings(profiles_dir=profiles),
    )
    return Floor(create_app(settings, db=api_db, hub=hub, engine=host), host, running, idle)


def test_overview_lists_campaigns_with_live_figures_where_the_engine_runs_them(
    floor: Floor,
) -> None:
    """The overview has a line per campaign; live figures only for the one the engine runs."""
    lines = sign_in(floor.app, "head").get("/api/dashboard").json()
    by_name = {line["campaign"]["name"]: line for line in lines}
    assert set(by_name) == {"Jesień", "Zima"}
    assert by_name["Jesień"]["live"]["state"] == "running"
    assert by_name["Jesień"]["campaign"]["pacing_profile"] == "strict"
    assert by_name["Zima"]["live"] is None


def test_dashboard_shows_live_calls_and_agents_by_scope(floor: Floor, world: World) -> None:
    """With a call connected to agent A and agent B ready, the dashboard counts one talking
    call and the agents by phase; an administrator sees both agents, A's group leader only A."""
    agent_a, agent_b = sign_in(floor.app, "agent"), sign_in(floor.app, "agent_b")
    assert agent_a.post("/api/agent/login", json={"campaign": floor.running}).status_code == 200
    floor.host.seat_up()
    call = floor.host.dial()
    floor.host.answer(call.call_id)
    with Session(floor.host.db) as session:  # hot-desking: agent B may sit at desk-2
        row = session.get(Agent, world.agent_b)
        assert row is not None
        row.seats = ["desk-2"]
        session.add(row)
        session.commit()
    agent_b.post("/api/agent/login", json={"campaign": floor.running, "seat": "desk-2"})
    floor.host.seat_up()
    board = sign_in(floor.app, "admin").get(f"/api/dashboard/{floor.running}").json()
    live = board["live"]
    assert live["calls"] == {"ringing": 0, "waiting": 0, "talking": 1}
    assert live["agents"]["talking"] == 1
    assert live["agents"]["ready"] == 1
    assert live["connected"] == 1
    agents = {a["agent_id"]: a for a in board["agents"]}
    assert agents[world.agent_a]["phase"] == "talking"
    assert agents[world.agent_a]["call_id"] == call.call_id
    assert agents[world.agent_a]["name"] == "Anna Nowak"
    assert agents[world.agent_b]["phase"] == "ready"
    assert agents[world.agent_b]["seat"] == "desk-2"
    leader = sign_in(floor.app, "leader").get(f"/api/dashboard/{floor.running}").json()
    assert [a["agent_id"] for a in leader["agents"]] == [world.agent_a]


def test_dashboard_and_campaign_say_why_the_engine_paused_the_campaign(
    floor: Floor, api_db: sa.Engine
) -> None:
    """Three Originates refused by the PBX in a row pause the campaign: the dashboard's live
    figures carry the reason and the server's message; once stored (as the runtime does),
    the campaign's page reads it too, and a person starting the campaign clears it."""
    agent = sign_in(floor.app, "agent")
    assert agent.post("/api/agent/login", json={"campaign": floor.running}).status_code == 200
    floor.host.seat_up()
    for _ in range(3):
        call = floor.host.dial()
        floor.host._run(
            floor.host.engine.on_event(
                ev.CallRefused(call.call_id, "Extension does not exist.", server="pbx")
            )
        )
    head = sign_in(floor.app, "head")
    live = head.get(f"/api/dashboard/{floor.running}").json()["live"]
    assert live["state"] == "paused"
    assert "Extension does not exist." in live["paused_reason"]
    assert live["alerts"] == {}
    reason = floor.host.engine.self_paused[-1][1]
    with Session(api_db) as session:
        row = session.get(Campaign, floor.running)
        assert row is not None
        row.state, row.paused_reason = CampaignState.PAUSED, reason
        session.add(row)
        session.commit()
    assert head.get(f"/api/campaigns/{floor.running}").json()["paused_reason"] == reason
    assert head.post(f"/api/campaigns/{floor.running}/start").status_code == 200
    assert head.get(f"/api/campaigns/{floor.running}").json()["paused_reason"] is None


def test_dashboard_without_engine_has_figures_from_the_call_log(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """Without an engine, live figures are null and the agents list empty, while
    abandonment and the chart still come from the call log."""
    cid, _ = make_campaign(api_db)
    add_settled(api_db, cid, ago_min=1, phone="+48500000001", outcome="dropped")
    board = sign_in(app, "leader").get(f"/api/dashboard/{cid}").json()
    assert board["live"] is None
    assert board["agents"] == []
    assert board["abandonment"]["today"]["dropped"] == 1
    assert sum(minute["dropped"] for minute in board["series"]) == 1


def test_abandonment_windows_against_the_profile_cap(floor: Floor, api_db: sa.Engine) -> None:
    """Abandonment counts dropped / (connected + dropped) since midnight, over 24 h, over
    30 days and over the last hour, flags each window over the pacing profile's cap, and
    ignores older calls, other outcomes and other campaigns."""
    cid = floor.running
    # The figures are read at a fixed noon, whatever the time of day the test runs at.
    now = NOW.replace(hour=12, minute=0, second=0)
    floor.app.state.ctx.clock = lambda: now
    shift = (NOW - now).total_seconds() / 60  # add_settled counts minutes back from NOW
    minutes_today = (now - day_start(now, "UTC")).total_seconds() / 60
    recent = 1.0
    plan = [
        (recent, "answered"),
        (recent, "answered"),
        (recent, "dropped"),
        (recent, "no_answer"),
        (90.0, "answered"),  # today, not in the last hour
        ((minutes_today + 24 * 60) / 2, "answered"),  # yesterday, within 24 h
        (60 * 24 * 5, "dropped"),
        (60 * 24 * 5, "dropped"),
        (60 * 24 * 45, "dropped"),
    ]
    for ago, outcome in plan:
        add_settled(api_db, cid, ago_min=ago + shift, phone="+48500000000", outcome=outcome)
    add_settled(api_db, floor.idle, ago_min=recent + shift, phone="+48500000009", outcome="dropped")
    board = sign_in(floor.app, "head").get(f"/api/dashboard/{cid}").json()
    figures = board["abandonment"]
    assert figures["cap"] == 0.05
    today, day, month = figures["today"], figures["rolling_24h"], figures["rolling_30d"]
    assert (today["connected"], today["dropped"]) == (3, 1)
    assert today["rate"] == pytest.approx(1 / 4, abs=1e-4)
    assert today["over_cap"] is True
    assert (day["connected"], day["dropped"]) == (4, 1)
    assert (month["connected"], month["dropped"]) == (4, 3)
    assert month["rate"] == pytest.approx(3 / 7, abs=1e-4)
    hour = figures["last_hour"]  # no law's window: what supervisors watch
    assert (hour["connected"], hour["dropped"], hour["over_cap"]) == (2, 1, True)
    assert dt.datetime.fromisoformat(hour["since"]) == now - dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(month["since"]) < now - dt.timedelta(days=29)


def test_campaign_without_readable_profile_uses_the_default_cap(
    floor: Floor, api_db: sa.Engine
) -> None:
    """A campaign whose pacing profile file is missing is measured against 3 %; a window
    under the cap is not flagged."""
    for _ in range(40):
        add_settled(api_db, floor.idle, ago_min=0.5, phone="+48500000000", outcome="answered")
    add_settled(api_db, floor.idle, ago_min=0.5, phone="+48500000000", outcome="dropped")
    figures = sign_in(floor.app, "admin").get(f"/api/dashboard/{floor.idle}").json()
    assert figures["abandonment"]["cap"] == 0.03
    assert figures["abandonment"]["rolling_24h"]["over_cap"] is False


def test_connected_calls_count_while_they_are_up(floor: Floor, api_db: sa.Engine) -> None:
    """Five people connected and still talking (no outcome, no end yet) count as five
    connected at once (the reported dashboard showed 0 dropped / 0 connected)."""
    for k in range(5):
        add_call(
            api_db,
            floor.idle,
            ago_min=1,
            phone=f"+4850000000{k}",
            answer_at=NOW - dt.timedelta(seconds=50),
            connect_at=NOW - dt.timedelta(seconds=49),
        )
    figures = sign_in(floor.app, "admin").get(f"/api/dashboard/{floor.idle}").json()
    for window in ("today", "rolling_24h", "rolling_30d"):
        counts = figures["abandonment"][window]
        assert (counts["connected"], counts["dropped"]) == (5, 0)


def test_day_starts_at_midnight_in_the_campaign_zone() -> None:
    """ "Today" begins at local midnight of the campaign's zone (UTC for an unknown zone)."""
    now = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    assert day_start(now, "Europe/Warsaw") == dt.datetime(2026, 3, 10, 23, 0, tzinfo=dt.UTC)
    assert day_start(now, "America/New_York") == dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
    assert day_start(now, "Nowhere/Atlantis") == dt.datetime(2026, 3, 10, 0, 0, tzinfo=dt.UTC)


def test_last_hour_series_counts_calls_per_minute(floor: Floor, api_db: sa.Engine) -> None:
    """The chart has 60 minutes, oldest first; each call counts in the minute it was dialed
    by outcome, and calls older than an hour are left out."""
    cid = floor.running
    for ago, outcome in [
        (5.0, "answered"),
        (5.0, "dropped"),
        (5.0, "no_answer"),
        (30.0, "machine"),
        (125.0, "answered"),
    ]:
        add_settled(api_db, cid, ago_min=ago, phone="+48500000000", outcome=outcome)
    series = sign_in(floor.app, "leader").get(f"/api/dashboard/{cid}").json()["series"]
    assert len(series) == 60
    times = [dt.datetime.fromisoformat(m["at"]) for m in series]
    assert all(b - a == dt.timedelta(minutes=1) for a, b in itertools.pairwise(times))
    totals = {key: sum(m[key] for m in series) for key in series[0] if key != "at"}
    assert totals == {"dials": 4, "answered": 2, "connected": 1, "dropped": 1, "machines": 1}
    busy = [m for m in series if m["dials"] == 3]
    assert len(busy) == 1


def test_unknown_campaign_is_404_and_agents_are_refused(
    floor: Floor, clients: dict[Role, TestClient]
) -> None:
    """A campaign that does not exist answers 404 to supervisors; agents get 403."""
    del clients
    assert sign_in(floor.app, "admin").get("/api/dashboard/9999").status_code == 404
    assert sign_in(floor.app, "leader").get("/api/dashboard/9999").status_code == 404
    refused = sign_in(floor.app, "agent").get(f"/api/dashboard/{floor.running}")
    assert refused.status_code == 403
    assert "Jesień" not in refused.text
