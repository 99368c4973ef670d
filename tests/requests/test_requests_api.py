"""The callback-request API: sources and keys, making, reading and cancelling requests,
bad input and floods refused at no other cost, and what each role sees."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from campaigns import requests as rq
from campaigns.dnc import add_dnc
from campaigns.enums import CampaignState, Outcome, Role
from campaigns.models import Record
from tests.api.conftest import World
from tests.requests.helpers import NOW, count, make_campaign, make_source

URL = "/api/callback-requests"


def fixed_clock(app: FastAPI) -> None:
    """The API's clock stands at NOW."""
    app.state.ctx.clock = lambda: NOW


def post(client: TestClient, key: str | None, **body: object) -> dict[str, object]:
    """POST a request; the response's status and JSON body."""
    headers = {"X-API-Key": key} if key else {}
    response = client.post(URL, json=body, headers=headers)
    return {"status": response.status_code, **response.json(), "_headers": response.headers}


def test_administrator_creates_lists_and_revokes_a_source_key(
    app: FastAPI, api_db: sa.Engine, clients: dict[Role, TestClient]
) -> None:
    """The key is shown once and stored only hashed; other roles may not manage sources;
    a revoked key is refused."""
    admin = clients[Role.ADMIN]
    created = admin.post("/api/request-sources", json={"name": "Website widget"})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    assert key.startswith("cbr_")
    with api_db.connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash, key_prefix FROM request_source")).one()
    assert key not in stored.key_hash
    assert stored.key_hash == rq.key_hash(key)
    assert key.startswith(stored.key_prefix)
    listed = admin.get("/api/request-sources").json()
    assert [(s["name"], s["active"]) for s in listed] == [("Website widget", True)]
    assert "api_key" not in listed[0]
    for role in (Role.HEAD, Role.GROUP_LEADER, Role.AGENT):
        assert clients[role].get("/api/request-sources").status_code == 403
        assert clients[role].post("/api/request-sources", json={"name": "x"}).status_code == 403
    dup = admin.post("/api/request-sources", json={"name": "Website widget"})
    assert dup.status_code == 409
    assert dup.json()["problems"][0]["field"] == "name"
    campaign = make_campaign(api_db)
    client = TestClient(app)
    assert post(client, key, campaign=campaign, phone="+48500100300")["status"] == 201
    revoked = admin.delete(f"/api/request-sources/{created.json()['id']}")
    assert revoked.json()["active"] is False
    refused = post(client, key, campaign=campaign, phone="+48500100301")
    assert (refused["status"], refused["error"]) == (401, "bad_api_key")


def test_asap_request_makes_the_record_a_reserved_call(app: FastAPI, api_db: sa.Engine) -> None:
    """An accepted ASAP request answers 201 waiting; the campaign's record of the number is
    due now for a reserved agent only and names the source; the source reads its state."""
    fixed_clock(app)
    campaign = make_campaign(api_db)
    _, key = make_source(api_db)
    client = TestClient(app)
    made = post(client, key, campaign="web", phone="500 100 400", name="Jan Kowalski")
    assert made["status"] == 201, made
    assert (made["state"], made["kind"], made["phone"]) == ("waiting", "asap", "+48500100400")
    with Session(api_db) as session:
        record = session.exec(sa.select(Record)).scalars().one()  # type: ignore[call-overload]
    assert (record.campaign_id, record.system_status, record.next_call_at) == (
        campaign,
        "CALL_PROGRESSIVE",
        None,
    )
    assert record.fields == {"callback_request": made["id"], "request_source": "website"}
    got = client.get(f"{URL}/{made['id']}", headers={"X-API-Key": key}).json()
    assert got["state"] == "waiting"
    assert [h["state"] for h in got["history"]] == ["waiting"]
    again = post(client, key, campaign=campaign, phone="+48500100400")
    assert (again["status"], again["error"], again["request_id"]) == (
        409,
        "request_conflict",
        made["id"],
    )


def test_bad_input_gets_a_clear_error_and_writes_nothing(app: FastAPI, api_db: sa.Engine) -> None:
    """Invalid number, unknown campaign, a number on a DNC list, a naive time without a
    zone, a bad key: each refused naming the field, and no record or request is written."""
    fixed_clock(app)
    campaign = make_campaign(api_db)
    _, key = make_source(api_db)
    add_dnc(api_db, "+48500100999", reason="asked", actor="test")
    client = TestClient(app)
    records = count(api_db, "record")
    cases = [
        ({"campaign": campaign, "phone": "12"}, 422, "invalid_phone", "phone"),
        ({"campaign": "nope", "phone": "+48500100500"}, 422, "campaign_not_found", "campaign"),
        ({"campaign": campaign, "phone": "+48500100999"}, 422, "do_not_call", "phone"),
        (
            {"campaign": campaign, "phone": "+48500100500", "at": "2026-03-11T18:00:00"},
            422,
            "request_error",
            "at",
        ),
        (
            {"campaign": campaign, "phone": "+48500100500", "at": "2026-03-10T18:00:00Z"},
            422,
            "request_error",
            "at",
        ),
        (
            {"campaign": campaign, "phone": "+48500100500", "timezone": "Mars/Base"},
            422,
            "request_error",
            "timezone",
        ),
    ]
    for body, status, error, field in cases:
        got = post(client, key, **body)
        assert (got["status"], got["error"]) == (status, error), (body, got)
        assert got["problems"][0]["field"] == field  # type: ignore[index]
    for bad in (None, "cbr_wrong", "not-even-a-key"):
        got = post(client, bad, campaign=campaign, phone="+48500100500")
        assert (got["status"], got["error"]) == (401, "bad_api_key")
    assert (count(api_db, "record"), count(api_db, "callback_request")) == (records, 0)


def test_a_flood_from_one_source_gets_429_and_costs_nothing_else(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """Past its rate a source gets 429 with Retry-After and nothing is written; another
    source is not held up by it."""
    fixed_clock(app)
    campaign = make_campaign(api_db)
    _, key = make_source(api_db, rate_per_min=3)
    _, other = make_source(api_db, "crm")
    client = TestClient(app)
    for i in range(3):
        assert post(client, key, campaign=campaign, phone=f"+4850010060{i}")["status"] == 201
    for i in range(20):
        flood = post(client, key, campaign=campaign, phone=f"+4850010070{i % 10}")
        assert (flood["status"], flood["error"]) == (429, "too_many_requests")
        assert 1 <= int(flood["_headers"]["retry-after"]) <= 60  # type: ignore[index]
    assert count(api_db, "callback_request") == 3
    assert post(client, other, campaign=campaign, phone="+48500100800")["status"] == 201


def test_wrong_keys_from_one_address_are_throttled(app: FastAPI, api_db: sa.Engine) -> None:
    """Guessing keys from one address ends in 429 before any key is looked up."""
    campaign = make_campaign(api_db)
    client = TestClient(app)
    statuses = [
        post(client, f"cbr_guess{i}", campaign=campaign, phone="+48500100900")["status"]
        for i in range(25)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429] * 5


def test_scheduled_time_outside_hours_is_refused_with_the_next_open_time(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """A time after the campaign's hours (requester's zone) is refused, naming the hours
    and the next time both the hours and the person's window are open."""
    fixed_clock(app)
    campaign = make_campaign(
        api_db, hours_start="09:00", hours_end="17:00", hours_tz="Europe/Warsaw"
    )
    _, key = make_source(api_db)
    client = TestClient(app)
    late = post(
        client,
        key,
        campaign=campaign,
        phone="+48500101000",
        at="2026-03-11T19:30:00",
        timezone="Europe/Warsaw",
    )
    assert (late["status"], late["error"]) == (422, "outside_hours")
    assert "campaign's hours" in str(late["detail"])
    assert late["next_open_at"] == "2026-03-12T08:00:00+00:00"  # 09:00 in Warsaw
    ok = post(
        client,
        key,
        campaign=campaign,
        phone="+48500101000",
        at="2026-03-11T15:30:00",
        timezone="Europe/Warsaw",
    )
    assert (ok["status"], ok["kind"]) == (201, "scheduled")
    assert ok["due_at"] == "2026-03-11T14:30:00+00:00"
    assert ok["due_local"] == "2026-03-11T15:30:00+01:00"


def test_asap_needs_a_running_campaign(app: FastAPI, api_db: sa.Engine) -> None:
    """ASAP into a paused campaign is refused (409) with what to do instead."""
    fixed_clock(app)
    campaign = make_campaign(api_db, state=CampaignState.PAUSED)
    _, key = make_source(api_db)
    got = post(TestClient(app), key, campaign=campaign, phone="+48500101100")
    assert got["status"] == 409
    assert "ask for a time" in str(got["detail"])


def test_requester_cancels_and_the_record_gets_its_state_back(
    app: FastAPI, api_db: sa.Engine
) -> None:
    """DELETE cancels a waiting request of this source (another source gets 404); the
    record is as before; a request being dialed can no longer be cancelled."""
    fixed_clock(app)
    campaign = make_campaign(api_db)
    with Session(api_db) as session:
        session.add(Record(campaign_id=campaign, phone="+48500101200", tz="UTC", attempts=1))
        session.commit()
    _, key = make_source(api_db)
    _, other = make_source(api_db, "crm")
    client = TestClient(app)
    made = post(client, key, campaign=campaign, phone="+48500101200")
    assert client.delete(f"{URL}/{made['id']}", headers={"X-API-Key": other}).status_code == 404
    done = client.delete(f"{URL}/{made['id']}", headers={"X-API-Key": key})
    assert done.json()["state"] == "cancelled"
    with Session(api_db) as session:
        record = session.exec(sa.select(Record)).scalars().one()  # type: ignore[call-overload]
    assert (record.system_status, record.attempts, record.fields) == ("TO_CALL", 1, {})
    second = post(client, key, campaign=campaign, phone="+48500101200")
    with api_db.begin() as conn:  # the engine leases the record to dial it
        conn.execute(
            sa.text("UPDATE record SET lease_owner = 'e1', lease_expires_at = :t"),
            {"t": (NOW + dt.timedelta(minutes=5)).replace(tzinfo=None)},
        )
    late = client.post(f"{URL}/{second['id']}/cancel", headers={"X-API-Key": key})
    assert late.status_code == 409
    assert rq.get_request(api_db, int(second["id"])).state == "waiting"  # type: ignore[call-overload]


def test_staff_see_requests_in_their_scope_with_stats_and_export(
    app: FastAPI, api_db: sa.Engine, world: World, clients: dict[Role, TestClient]
) -> None:
    """Administrators see every request; a group leader those its group's agents took; an
    agent its own; statistics count per source; the export has the same rows."""
    fixed_clock(app)
    campaign = make_campaign(api_db)
    web, _ = make_source(api_db)
    crm, _ = make_source(api_db, "crm")
    ids = []
    for source, phone in ((web, "+48500101300"), (web, "+48500101301"), (crm, "+48500101302")):
        asked = rq.Asked(campaign=campaign, phone=phone)
        ids.append(rq.create_request(api_db, source, asked, now=NOW).id)
    for request_id, agent in ((ids[0], world.agent_a), (ids[2], world.agent_b)):
        call = f"c{request_id}"
        rq.on_call_fact(
            api_db, request_id, rq.CallFact.DIALED, call_id=call, agent_id=agent, now=NOW
        )
        rq.on_call_fact(
            api_db, request_id, rq.CallFact.CONNECTED, call_id=call, agent_id=agent, now=NOW
        )
        rq.on_call_fact(
            api_db,
            request_id,
            rq.CallFact.FINISHED,
            call_id=call,
            agent_id=agent,
            now=NOW,
            outcome=Outcome.ANSWERED,
        )

    def seen(role: Role, query: str = "") -> list[int]:
        response = clients[role].get(f"/api/requests{query}")
        assert response.status_code == 200, response.text
        return sorted(item["id"] for item in response.json()["items"])

    assert seen(Role.ADMIN) == sorted(ids)
    assert seen(Role.HEAD, "?state=waiting") == [ids[1]]
    assert seen(Role.ADMIN, f"?source={crm.id}") == [ids[2]]
    assert seen(Role.GROUP_LEADER) == [ids[0]]
    assert seen(Role.AGENT) == [ids[0]]
    assert clients[Role.AGENT].get(f"/api/requests/{ids[2]}").status_code == 404
    one = clients[Role.AGENT].get(f"/api/requests/{ids[0]}").json()
    assert (one["source"], one["state"], one["agent"]) == ("website", "answered", "Anna Nowak")
    stats = clients[Role.ADMIN].get("/api/requests/stats").json()
    assert [(s["source"], s["total"], s["answered"], s["waiting"]) for s in stats] == [
        ("crm", 1, 1, 0),
        ("website", 2, 1, 1),
    ]
    csv = clients[Role.ADMIN].get("/api/requests/export?format=csv")
    assert csv.status_code == 200
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,created_at,source")
    assert len(lines) == 4
    xlsx = clients[Role.AGENT].get("/api/requests/export?format=xlsx")
    assert xlsx.content[:2] == b"PK"
