"""A supervisor's record page and actions over HTTP: the record with every attempt and its
audit trail, edit, a status set by hand by the campaign's rules, reassign / release a
callback, call next, park / unpark, and the same in bulk on a filtered list — per role."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from campaigns.enums import Role, SystemStatus
from campaigns.models import AuditLog, CallLog, Record, StatusDef
from campaigns.selection import Tier, claim, forget_zone_keys
from campaigns.service import create_campaign, validate_rules
from tests.api.conftest import World

Clients = dict[Role, TestClient]
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def floor(api_db: sa.Engine, world: World) -> dict[str, int]:
    """A campaign open all day with a callback status, four records: two callbacks of
    agent A, one of agent B, one fresh record (with one earlier attempt logged)."""
    with Session(api_db) as session:
        campaign = create_campaign(
            session,
            validate_rules(
                name="Floor",
                window_start="00:00",
                window_end="23:59",
                window_days=list(range(1, 8)),
            ),
            actor="t",
        )
        assert campaign.id
        mine = StatusDef(
            name="Oddzwonić", system_status=SystemStatus.MY_RECORD, campaign_id=campaign.id
        )
        session.add(mine)
        later = NOW + dt.timedelta(hours=2)
        rows = [
            Record(
                campaign_id=campaign.id,
                phone=f"+4860000000{i}",
                name=f"Person {i}",
                system_status=SystemStatus.MY_RECORD,
                owner_agent_id=owner,
                next_call_at=later,
            )
            for i, owner in enumerate((world.agent_a, world.agent_a, world.agent_b))
        ]
        fresh = Record(
            campaign_id=campaign.id, phone="+48600000009", name="Fresh", fields={"city": "Łódź"}
        )
        session.add_all([*rows, fresh])
        session.flush()
        session.add(
            CallLog(
                campaign_id=campaign.id,
                record_id=fresh.id,
                phone=fresh.phone,
                agent_id=world.agent_a,
                dial_at=NOW - dt.timedelta(days=1),
                outcome="answered",
                note="asked to call later",
            )
        )
        session.commit()
        forget_zone_keys()
        return {
            "campaign": campaign.id,
            "mine": mine.id or 0,
            "a1": rows[0].id or 0,
            "a2": rows[1].id or 0,
            "b1": rows[2].id or 0,
            "fresh": fresh.id or 0,
        }


def _problems(response: object) -> dict[str, str]:
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    return {p["field"]: p["problem"] for p in response.json()["problems"]}  # type: ignore[attr-defined]


def test_record_page_data_has_fields_attempts_and_audit(clients: Clients, floor: dict[str, int]):
    """The record answers its fields, its earlier attempts (agent, note) and its changes."""
    admin = clients[Role.ADMIN]
    rid = floor["fresh"]
    assert admin.post(f"/api/records/{rid}/actions", json={"action": "park"}).status_code == 200
    got = admin.get(f"/api/records/{rid}").json()
    assert got["fields"] == {"city": "Łódź"}
    assert got["campaign"] == "Floor"
    assert [(a["agent"], a["note"]) for a in got["attempts_log"]] == [
        ("anna", "asked to call later")
    ]
    assert got["parked_at"] is not None
    assert got["not_callable"] == "parked"
    assert [(a["actor"], a["action"]) for a in got["audit"]] == [("user:admin", "record.park")]


def test_unknown_or_out_of_scope_record_is_404(clients: Clients, floor: dict[str, int]):
    """An unknown id and a record the group leader's agents do not own both answer 404;
    an agent may not open records at all."""
    assert clients[Role.ADMIN].get("/api/records/999999").status_code == 404
    leader = clients[Role.GROUP_LEADER]
    assert leader.get(f"/api/records/{floor['a1']}").status_code == 200
    assert leader.get(f"/api/records/{floor['b1']}").status_code == 404
    assert leader.get(f"/api/records/{floor['fresh']}").status_code == 404
    assert clients[Role.AGENT].get(f"/api/records/{floor['a1']}").status_code == 403


def test_edit_fields_is_audited_and_a_bad_zone_names_the_field(
    clients: Clients, floor: dict[str, int], api_db: sa.Engine
):
    """Editing name and fields stores them with a before/after audit row; a bad zone is a
    422 naming ``tz`` and changes nothing."""
    head = clients[Role.HEAD]
    rid = floor["fresh"]
    bad = head.patch(f"/api/records/{rid}", json={"name": "X", "tz": "Mars/Base"})
    assert "tz" in _problems(bad)
    ok = head.patch(f"/api/records/{rid}", json={"name": "Jan", "fields": {"city": "Kraków"}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"] == "Jan"
    with Session(api_db) as session:
        entry = session.exec(select(AuditLog).where(AuditLog.action == "record.edit")).one()
    assert entry.details["fields"] == {"from": {"city": "Łódź"}, "to": {"city": "Kraków"}}
    assert entry.details["name"] == {"from": "Fresh", "to": "Jan"}


def test_status_by_hand_follows_the_campaign_rules(clients: Clients, floor: dict[str, int]):
    """MY_RECORD by hand needs an owner and a future date; given them it books the
    callback; a supervisor may reopen a DO_NOT_CALL record."""
    admin = clients[Role.ADMIN]
    rid = floor["fresh"]
    url = f"/api/records/{rid}/status"
    assert "date" in _problems(admin.post(url, json={"status_id": floor["mine"]}))
    when = (NOW + dt.timedelta(days=1)).isoformat()
    no_owner = admin.post(url, json={"status_id": floor["mine"], "date": when})
    assert "owner_agent_id" in _problems(no_owner)
    # said by its code and the status's name, so the page says it in the user's language
    problem = no_owner.json()["problems"][0]
    assert (problem["type"], problem["ctx"]["code"]) == ("status_rule", "needs_owner")
    assert problem["ctx"]["status"]
    with Session(admin.app.state.ctx.db) as session:  # type: ignore[attr-defined]
        dnc = session.exec(select(StatusDef).where(StatusDef.name == "Nie dzwonić")).one()
        call = session.exec(select(StatusDef).where(StatusDef.name == "Dzwonić")).one()
    done = admin.post(url, json={"status_id": dnc.id})
    assert done.json()["system_status"] == "DO_NOT_CALL"
    reopened = admin.post(url, json={"status_id": call.id, "note": "customer asked"})
    assert reopened.json()["system_status"] == "TO_CALL"
    booked = admin.post(
        url, json={"status_id": floor["mine"], "date": when, "owner_agent_id": 1}
    ).json()
    assert (booked["system_status"], booked["owner_agent_id"]) == ("MY_RECORD", 1)
    assert [a["action"] for a in booked["audit"]] == ["record.status_by_hand"] * 3


def test_park_call_next_and_unpark_steer_the_dialer(
    clients: Clients, floor: dict[str, int], api_db: sa.Engine
):
    """A parked record is never claimed; "call next" puts a record before fresh ones."""
    admin = clients[Role.ADMIN]
    cid = floor["campaign"]
    with Session(api_db) as session:
        extra = Record(campaign_id=cid, phone="+48600000077", name="Early")
        session.add(extra)
        session.commit()
        early = extra.id or 0
    fresh = floor["fresh"]
    admin.post(f"/api/records/{early}/actions", json={"action": "park"})
    admin.post(f"/api/records/{fresh}/actions", json={"action": "call_next"})
    got = claim(api_db, cid, 5, NOW, engine_id="t", lease_s=60)
    assert [(r.id, r.tier) for r in got] == [(fresh, Tier.CALL_NEXT)]
    again = admin.post(f"/api/records/{early}/actions", json={"action": "park"}).json()
    assert again["skipped"] == {str(early): "parked"}
    admin.post(f"/api/records/{early}/actions", json={"action": "unpark"})
    assert [r.id for r in claim(api_db, cid, 5, NOW, engine_id="t", lease_s=60)] == [early]


def test_bulk_reassign_on_a_filter_moves_callbacks_and_skips_the_rest(
    clients: Clients, floor: dict[str, int], world: World, api_db: sa.Engine
):
    """Mass transfer: every callback of agent A goes to agent B, one audit row each;
    release frees a callback to anyone (NOT_BEFORE, same time)."""
    head = clients[Role.HEAD]
    url = f"/api/campaigns/{floor['campaign']}/records/actions"
    moved = head.post(
        url,
        json={
            "action": "reassign",
            "agent_id": world.agent_b,
            "filter": {"owner_agent_id": world.agent_a},
        },
    ).json()
    assert moved["changed"] == [floor["a1"], floor["a2"]]
    everyone = head.post(
        url, json={"action": "release", "ids": [floor["a1"], floor["fresh"]]}
    ).json()
    assert everyone["changed"] == [floor["a1"]]
    assert everyone["skipped"] == {str(floor["fresh"]): "not_a_callback"}
    with Session(api_db) as session:
        owners = dict(session.exec(select(Record.id, Record.owner_agent_id)).all())
        released = session.get(Record, floor["a1"])
        audits = session.exec(
            select(AuditLog.entity_id).where(col(AuditLog.action) == "record.reassign")
        ).all()
    assert owners[floor["a2"]] == world.agent_b
    assert released is not None
    assert (released.system_status, released.owner_agent_id) == (SystemStatus.NOT_BEFORE, None)
    assert sorted(audits) == sorted([str(floor["a1"]), str(floor["a2"])])
    assert "ids" in _problems(head.post(url, json={"action": "park"}))


def test_group_leader_acts_only_within_the_group(
    clients: Clients, floor: dict[str, int], world: World
):
    """A group leader may not give a callback to another group's agent, nor act on
    records its agents do not own."""
    leader = clients[Role.GROUP_LEADER]
    url = f"/api/campaigns/{floor['campaign']}/records/actions"
    refused = leader.post(
        url, json={"action": "reassign", "agent_id": world.agent_b, "ids": [floor["a1"]]}
    )
    assert "agent_id" in _problems(refused)
    assert leader.post(url, json={"action": "park", "ids": [floor["b1"]]}).status_code == 404
    parked = leader.post(url, json={"action": "park", "filter": {}}).json()
    assert parked["changed"] == [floor["a1"], floor["a2"]]


def test_an_action_on_a_campaign_that_does_not_exist_is_404(clients: Clients) -> None:
    """Found by schemathesis: a bulk action naming no campaign answered 500."""
    admin = clients[Role.ADMIN]
    response = admin.post(
        "/api/campaigns/999/records/actions", json={"action": "park", "filter": {}}
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "campaign_not_found"
