"""The call log over the API: filters, paging, names, role scope, bad input, index use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from campaigns.enums import Role
from campaigns.models import Agent, CallLog, Record, User
from dialer.api.queries import CallFilter, call_page
from tests.api.conftest import World, sign_in
from tests.api.test_agent_api import make_campaign

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Log:
    """The fixture call log: ids by name."""

    c1: int
    c2: int
    ids: dict[str, int]
    statuses: dict[str, int]


def add_call(db: sa.Engine, campaign: int, *, ago_min: float, phone: str, **values: object) -> int:
    """Insert one call-log row dialed ``ago_min`` minutes ago; its id."""
    with Session(db) as session:
        row = CallLog(
            campaign_id=campaign, phone=phone, dial_at=NOW - dt.timedelta(minutes=ago_min)
        )
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        session.commit()
        return row.id or 0


@pytest.fixture
def log(api_db: sa.Engine, world: World) -> Log:
    """Two campaigns; calls of agent A, agent B and calls nobody answered."""
    c1, statuses = make_campaign(api_db, "Jesień")
    c2, _ = make_campaign(api_db, "Zima")
    with Session(api_db) as session:
        record = session.exec(select(Record).where(Record.campaign_id == c1)).first()
        assert record is not None
        record_id = record.id
    a, b = world.agent_a, world.agent_b
    ids = {
        "a_callback": add_call(
            api_db,
            c1,
            ago_min=10,
            phone="+48501000001",
            agent_id=a,
            outcome="answered",
            status_id=statuses["MY_RECORD"],
            system_status="MY_RECORD",
            note="jutro",
            record_id=record_id,
            talk_s=61.5,
            hangup_cause=16,
            hangup_cause_txt="Normal Clearing",
        ),
        "b_dnc": add_call(
            api_db,
            c1,
            ago_min=20,
            phone="+48501000002",
            agent_id=b,
            outcome="answered",
            status_id=statuses["DO_NOT_CALL"],
            system_status="DO_NOT_CALL",
        ),
        "no_answer": add_call(api_db, c1, ago_min=30, phone="+48502000003", outcome="no_answer"),
        "dropped": add_call(api_db, c2, ago_min=60 * 48, phone="+447700000004", outcome="dropped"),
        "a_old": add_call(
            api_db,
            c2,
            ago_min=60 * 24 * 40,
            phone="+48501000005",
            agent_id=a,
            outcome="answered",
            status_id=statuses["NOT_BEFORE"],
            system_status="NOT_BEFORE",
        ),
    }
    return Log(c1, c2, ids, statuses)


def ids_of(response_json: dict[str, object], log: Log) -> list[str]:
    """The fixture names of the listed calls, in order."""
    by_id = {v: k for k, v in log.ids.items()}
    items = response_json["items"]
    assert isinstance(items, list)
    return [by_id[item["id"]] for item in items]


def test_admin_and_head_see_every_call_newest_first(
    clients: dict[Role, TestClient], log: Log
) -> None:
    """Administrators and heads see every call, unanswered and dropped ones included."""
    for role in (Role.ADMIN, Role.HEAD):
        body = clients[role].get("/api/calls").json()
        assert ids_of(body, log) == ["a_callback", "b_dnc", "no_answer", "dropped", "a_old"]
        assert (body["total"], body["total_capped"]) == (5, False)


def test_group_leader_sees_its_agents_calls_and_agent_its_own(
    clients: dict[Role, TestClient], log: Log, app: FastAPI
) -> None:
    """A group leader sees the calls of its group's agents (no unanswered ones); an agent
    sees its own calls only."""
    leader = clients[Role.GROUP_LEADER].get("/api/calls").json()
    assert ids_of(leader, log) == ["a_callback", "a_old"]
    assert ids_of(clients[Role.AGENT].get("/api/calls").json(), log) == ["a_callback", "a_old"]
    assert ids_of(sign_in(app, "agent_b").get("/api/calls").json(), log) == ["b_dnc"]


def test_a_leader_without_a_group_sees_no_calls(
    clients: dict[Role, TestClient], log: Log, api_db: sa.Engine
) -> None:
    """A group leader whose group was taken away leads no one: not the ungrouped agents."""
    with api_db.begin() as conn:
        conn.execute(sa.update(Agent).values(group_id=None))
        conn.execute(sa.update(User).where(User.login == "leader").values(group_id=None))
    assert ids_of(clients[Role.GROUP_LEADER].get("/api/calls").json(), log) == []


def test_items_carry_names_times_and_outcomes(
    clients: dict[Role, TestClient], log: Log, world: World
) -> None:
    """A call-log item names its campaign, agent, status and person, with times and causes."""
    item = clients[Role.ADMIN].get("/api/calls").json()["items"][0]
    assert item["campaign_name"] == "Jesień"
    assert item["agent_id"] == world.agent_a
    assert item["agent_name"] == "Anna Nowak"
    assert item["status_name"] == "Oddzwonić"
    assert item["system_status"] == "MY_RECORD"
    assert item["record_name"] == "Klient 0"
    assert item["outcome"] == "answered"
    assert item["talk_s"] == 61.5
    assert (item["hangup_cause"], item["hangup_cause_txt"]) == (16, "Normal Clearing")
    assert item["note"] == "jutro"
    assert dt.datetime.fromisoformat(item["dial_at"]) == NOW - dt.timedelta(minutes=10)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"campaign": "c2"}, ["dropped", "a_old"]),
        ({"agent": "a"}, ["a_callback", "a_old"]),
        ({"group": "b"}, ["b_dnc"]),
        ({"status": "st:DO_NOT_CALL"}, ["b_dnc"]),
        ({"system_status": "NOT_BEFORE"}, ["a_old"]),
        ({"outcome": "dropped"}, ["dropped"]),
        ({"phone": "501 000"}, ["a_callback", "b_dnc", "a_old"]),
        ({"phone": "+44"}, ["dropped"]),
        ({"phone": "%"}, None),
        ({"from": "ago:60"}, ["a_callback", "b_dnc", "no_answer"]),
        ({"from": "ago:4000", "to": "ago:60"}, ["dropped"]),
        ({"to": "ago:60", "campaign": "c1"}, []),
    ],
)
def test_each_filter_narrows_the_list(
    clients: dict[Role, TestClient],
    log: Log,
    world: World,
    params: dict[str, str],
    expected: list[str] | None,
) -> None:
    """Period, campaign, agent, group, status, system status, outcome and phone filters each
    keep only the matching calls (a phone term without digits is refused)."""
    values = {
        "c1": log.c1,
        "c2": log.c2,
        "a": world.agent_a,
        "b": world.group_b if "group" in params else world.agent_b,
        **{f"st:{name}": status_id for name, status_id in log.statuses.items()},
    }
    query: dict[str, object] = {}
    for key, raw in params.items():
        if raw.startswith("ago:"):
            query[key] = (NOW - dt.timedelta(minutes=int(raw[4:]))).isoformat()
        else:
            query[key] = values.get(raw, raw)
    response = clients[Role.ADMIN].get("/api/calls", params=query)
    if expected is None:
        assert response.status_code == 422
        assert response.json()["problems"][0]["field"] == "query.phone"
        return
    assert response.status_code == 200, response.text
    assert ids_of(response.json(), log) == expected


def test_paging_keeps_the_order_and_total(clients: dict[Role, TestClient], log: Log) -> None:
    """Pages follow one another in dial order; each says how many calls match."""
    admin = clients[Role.ADMIN]
    pages = [admin.get("/api/calls", params={"page_size": 2, "page": p}).json() for p in (1, 2, 3)]
    assert [ids_of(p, log) for p in pages] == [
        ["a_callback", "b_dnc"],
        ["no_answer", "dropped"],
        ["a_old"],
    ]
    assert {p["total"] for p in pages} == {5}


def test_filters_outside_scope_are_403_like_ids_that_do_not_exist(
    clients: dict[Role, TestClient], log: Log, world: World, app: FastAPI
) -> None:
    """A leader naming another group's agent or group, or an agent naming another agent, gets
    the same 403 as for ids that do not exist; the answer names no data."""
    del log
    leader, agent = clients[Role.GROUP_LEADER], clients[Role.AGENT]
    answers = [
        leader.get("/api/calls", params={"agent": world.agent_b}),
        leader.get("/api/calls", params={"agent": 9999}),
        leader.get("/api/calls", params={"group": world.group_b}),
        leader.get("/api/calls", params={"group": 9999}),
        agent.get("/api/calls", params={"agent": world.agent_b}),
        agent.get("/api/calls", params={"group": world.group_b}),
        sign_in(app, "agent_b").get("/api/calls", params={"agent": 9999}),
    ]
    assert {r.status_code for r in answers} == {403}
    assert len({r.text for r in answers}) == 1
    for r in answers:
        assert "Bartek" not in r.text
        assert "+48" not in r.text
    assert leader.get("/api/calls", params={"group": world.group_a}).status_code == 200
    assert agent.get("/api/calls", params={"group": world.group_a}).status_code == 200
    assert agent.get("/api/calls", params={"agent": world.agent_a}).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 501}, "query.page_size"),
        ({"page": 0}, "query.page"),
        ({"outcome": "exploded"}, "query.outcome"),
        ({"system_status": "MAYBE"}, "query.system_status"),
        ({"campaign": 2**40}, "query.campaign"),
        ({"from": "yesterday"}, "query.from"),
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "query.to"),
        ({"phone": "x" * 33}, "query.phone"),
        ({"to": "9999-12-31T23:00:00-05:00"}, "query.to"),
        ({"from": "0001-01-01T00:00:00+05:00"}, "query.from"),
    ],
)
def test_bad_filters_answer_422_naming_them(
    clients: dict[Role, TestClient], params: dict[str, object], field: str
) -> None:
    """A malformed filter answers 422 with a problem naming its parameter."""
    response = clients[Role.ADMIN].get("/api/calls", params=params)
    assert response.status_code == 422
    assert field in [p["field"] for p in response.json()["problems"]]


def test_count_stops_at_the_cap(api_db: sa.Engine, world: World) -> None:
    """The count of matching calls stops at the cap and says it did."""
    del world
    campaign, _ = make_campaign(api_db)
    for k in range(5):
        add_call(api_db, campaign, ago_min=k, phone=f"+4850000000{k}")
    with api_db.connect() as conn:
        capped = call_page(conn, CallFilter(), page=1, page_size=2, count_cap=3)
        exact = call_page(conn, CallFilter(), page=1, page_size=2, count_cap=5)
    assert (capped.total, capped.total_capped, len(capped.items)) == (3, True, 2)
    assert (exact.total, exact.total_capped) == (5, False)


@pytest.mark.parametrize(
    ("f", "index"),
    [
        (CallFilter(campaign_id=1), "ix_call_log_campaign_dial"),
        (CallFilter(agent_id=1), "ix_call_log_agent_dial"),
        (CallFilter(scope=frozenset({1, 2, 3})), "ix_call_log_agent_dial"),
    ],
)
def test_scoped_and_filtered_lists_use_the_call_log_indexes(
    api_db: sa.Engine, f: CallFilter, index: str
) -> None:
    """The campaign and agent filters (and a role's agent scope) are served by the call log's
    (campaign, dial time) and (agent, dial time) indexes, not a table scan."""
    executed: list[tuple[str, object]] = []

    def keep(*args: object) -> None:
        _conn, _cursor, statement, parameters = args[:4]
        executed.append((str(statement), parameters))

    sa.event.listen(api_db, "before_cursor_execute", keep)
    try:
        with api_db.connect() as conn:
            call_page(conn, f, page=1, page_size=50)
    finally:
        sa.event.remove(api_db, "before_cursor_execute", keep)
    statement, parameters = executed[0]  # the page; then the capped count
    with api_db.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()  # type: ignore[arg-type]
    plan = " | ".join(str(row[-1]) for row in rows)
    assert index in plan, plan
    assert "SCAN call_log" not in plan, plan
