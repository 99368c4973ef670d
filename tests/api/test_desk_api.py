"""The agent desk over the API: a status given once, hang-up, the screen pop's history,
"call back now", a manual dial (refused with its reason) and preview campaigns, per role,
against the real engine core on the test database."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.dnc import add_dnc
from campaigns.enums import DialMode, PreviewTimeout, Role, SystemStatus
from campaigns.models import CallLog, Campaign, ContactList, Record
from campaigns.service import campaign_hours
from dialer.engine import HangupCall, Originate
from tests.api.conftest import LOGINS, sign_in
from tests.api.test_agent_api import Ops, audit_rows, connected_call, future, ops

__all__ = ["ops"]

SUPERVISOR_ROLES = [Role.ADMIN, Role.HEAD, Role.GROUP_LEADER]


def _placed(ops: Ops) -> Originate:
    placed = [c for c in ops.host.commands if isinstance(c, Originate)]
    assert placed, "no call was placed"
    return placed[-1]


def test_a_status_cannot_be_given_twice(ops: Ops, api_db: sa.Engine) -> None:
    """A status set during the call, then again (during or after the call), is refused
    with 409 status_already_set saying so; the first status and note stand."""
    agent = sign_in(ops.app, "agent")
    call_id = connected_call(ops, agent)
    first = {"call_id": call_id, "status": ops.plain_status, "note": "first"}
    assert agent.post("/api/agent/status", json=first).status_code == 200
    again = agent.post("/api/agent/status", json={**first, "note": "second"})
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "status_already_set"
    assert "cannot be given twice" in again.json()["detail"]
    ops.host.hang_up(call_id)
    after = agent.post("/api/agent/status", json={**first, "note": "third"})
    assert after.status_code == 409
    assert after.json()["error"] == "status_already_set"
    with Session(api_db) as session:
        log = session.exec(select(CallLog).where(CallLog.channel_id == call_id)).one()
        assert log.note == "first"
    assert len(audit_rows(api_db, "agent.status")) == 1


def test_agent_hangs_up_from_the_desk(ops: Ops, api_db: sa.Engine) -> None:
    """Hang-up ends the call on the PBX (the engine's HangupCall), is audited, and the
    PBX's hang-up puts the agent in wrap-up; with no call it is refused 409."""
    agent = sign_in(ops.app, "agent")
    call_id = connected_call(ops, agent)
    response = agent.post("/api/agent/hangup")
    assert response.status_code == 200, response.text
    assert HangupCall(call_id) in ops.host.commands
    ops.host.hang_up(call_id)
    assert agent.get("/api/agent/state").json()["phase"] == "wrap_up"
    assert audit_rows(api_db, "agent.hangup")[0].actor == "user:agent"
    refused = agent.post("/api/agent/hangup")
    assert refused.status_code == 409
    assert "no call up" in refused.json()["detail"]


@pytest.mark.parametrize("role", SUPERVISOR_ROLES)
def test_desk_actions_are_for_agents_only(ops: Ops, role: Role) -> None:
    """Supervisors cannot act as an agent: every desk action answers 403."""
    client = sign_in(ops.app, LOGINS[role])
    for path, body in (
        ("/api/agent/hangup", None),
        ("/api/agent/preview/dial", None),
        ("/api/agent/preview/skip", None),
        ("/api/agent/dial", {"number": "+48221234567"}),
        ("/api/agent/callbacks/1/dial", None),
    ):
        assert client.post(path, json=body).status_code == 403, path


def test_call_back_now_shows_the_history_in_the_screen_pop(ops: Ops, api_db: sa.Engine) -> None:
    """An agent books a callback with a note; "call back now" dials it at once with the
    agent reserved; when it is answered the screen pop shows the record's list, custom
    fields, the callback's owner and note and the previous call (agent, status, note)."""
    agent = sign_in(ops.app, "agent")
    call_id = connected_call(ops, agent)
    record_id = agent.get("/api/agent/state").json()["call"]["record"]["id"]
    with Session(api_db) as session:
        listed = ContactList(campaign_id=ops.campaign, name="Wrzesień.xlsx")
        session.add(listed)
        session.flush()
        row = session.get(Record, record_id)
        assert row is not None
        row.list_id = listed.id
        session.add(row)
        session.commit()
    ops.host.hang_up(call_id)
    booked = {
        "call_id": call_id,
        "status": ops.callback_status,
        "date": future(48),
        "note": "oddzwonić po 17",
    }
    assert agent.post("/api/agent/status", json=booked).status_code == 200
    other = sign_in(ops.app, "agent_b")
    assert other.post(f"/api/agent/callbacks/{record_id}/dial").status_code == 404
    response = agent.post(f"/api/agent/callbacks/{record_id}/dial")
    assert response.status_code == 200, response.text
    assert response.json()["phase"] == "reserved"
    placed = _placed(ops)
    assert placed.variables["DIALER_RECORD"] == str(record_id)
    ops.host.answer(placed.call_id)
    state = agent.get("/api/agent/state").json()
    assert state["phase"] == "talking"
    assert state["call"]["record"]["fields"]["segment"] == "A"
    card = state["call"]["card"]
    assert card["list_name"] == "Wrzesień.xlsx"
    assert card["owner"] == "Anna Nowak"
    assert card["callback_note"] == "oddzwonić po 17"
    assert card["next_call_at"] is not None
    (earlier,) = card["history"]  # the call on the line is not history yet
    assert (earlier["agent"], earlier["status"], earlier["note"]) == (
        "Anna Nowak",
        "Oddzwonić",
        "oddzwonić po 17",
    )
    assert audit_rows(api_db, "agent.dial_record")[0].details["record"] == record_id


def test_manual_dial_finds_or_creates_the_record(ops: Ops, api_db: sa.Engine) -> None:
    """A typed number is dialed in the agent's campaign with the agent reserved; a new
    number becomes a record of the "Manual dials" list, journaled like any call."""
    agent = sign_in(ops.app, "agent")
    assert agent.post("/api/agent/login", json={"campaign": ops.campaign}).status_code == 200
    ops.host.seat_up()
    response = agent.post("/api/agent/dial", json={"number": "22 123 45 67"})
    assert response.status_code == 200, response.text
    assert response.json()["phase"] == "reserved"
    placed = _placed(ops)
    assert placed.phone == "+48221234567"
    with Session(api_db) as session:
        row = session.exec(select(Record).where(Record.phone == "+48221234567")).one()
        listed = session.get(ContactList, row.list_id)
        assert listed is not None
        assert listed.name == "Manual dials"
        assert row.attempts == 1
        assert row.lease_owner is not None
        log = session.exec(select(CallLog).where(CallLog.channel_id == placed.call_id)).one()
        assert log.record_id == row.id


@pytest.mark.parametrize(
    ("number", "reason", "words"),
    [
        ("+48221234568", "dnc", "do-not-call"),
        ("123", "invalid_number", "not a valid number"),
        ("+48221234569", "outside_window", "calling window"),
        ("+48221234570", "outside_hours", "outside its hours"),
    ],
)
def test_manual_dial_is_refused_with_the_reason(
    ops: Ops, api_db: sa.Engine, number: str, reason: str, words: str
) -> None:
    """A number on a DNC list, not a number, outside the person's calling window, or a
    campaign outside its hours is refused 409 with a reason code and words; no call is
    placed and the agent stays ready."""
    add_dnc(api_db, "+48221234568", actor="test")
    now = dt.datetime.now(dt.UTC)
    closed = ((now + dt.timedelta(hours=2)).strftime("%H:%M"), (now + dt.timedelta(hours=3)))
    if reason in {"outside_window", "outside_hours"}:
        start, end = closed[0], closed[1].strftime("%H:%M")
        if start > end:
            pytest.skip("the closed hour wraps midnight now")
        with Session(api_db) as session:
            campaign = session.get(Campaign, ops.campaign)
            assert campaign is not None
            if reason == "outside_window":
                campaign.window_start, campaign.window_end = start, end
                campaign.default_tz = "UTC"
            session.add(campaign)
            session.commit()
        if reason == "outside_hours":
            ops.host.engine.campaign(ops.campaign).hours = campaign_hours(
                start, end, [1, 2, 3, 4, 5, 6, 7]
            )
    agent = sign_in(ops.app, "agent")
    assert agent.post("/api/agent/login", json={"campaign": ops.campaign}).status_code == 200
    ops.host.seat_up()
    response = agent.post("/api/agent/dial", json={"number": number})
    assert response.status_code == 409, response.text
    body = response.json()
    assert (body["error"], body["reason"]) == ("dial_refused", reason)
    assert words in body["detail"]
    assert not [c for c in ops.host.commands if isinstance(c, Originate)]
    assert agent.get("/api/agent/state").json()["phase"] == "ready"


def test_preview_campaign_on_the_desk(ops: Ops, api_db: sa.Engine) -> None:
    """An administrator makes the campaign a preview one (an agent may not); the agent is
    shown a record (never dialed by the engine), skips it, is shown another, dials it."""
    admin = sign_in(ops.app, "admin")
    patch = {"dial_mode": "preview", "preview_timeout_s": 45, "preview_timeout_action": "dial"}
    agent = sign_in(ops.app, "agent")
    assert agent.patch(f"/api/campaigns/{ops.campaign}", json=patch).status_code == 403
    edited = admin.patch(f"/api/campaigns/{ops.campaign}", json=patch)
    assert edited.status_code == 200, edited.text
    assert edited.json()["dial_mode"] == "preview"
    assert edited.json()["preview_timeout_s"] == 45
    run = ops.host.engine.campaign(ops.campaign)
    run.dial_mode = DialMode(edited.json()["dial_mode"])  # what the runtime's sync does
    run.preview_timeout_s = 45
    run.preview_timeout_action = PreviewTimeout.DIAL
    assert agent.post("/api/agent/login", json={"campaign": ops.campaign}).status_code == 200
    ops.host.seat_up()
    ops.host._run(ops.host.engine.tick())
    state = agent.get("/api/agent/state").json()
    assert state["dial_mode"] == "preview"
    assert state["preview_then"] == "dial"
    assert 0 < state["preview_left_s"] <= 45
    first = state["preview"]
    assert first is not None
    assert state["preview_card"]["history"] == []
    assert not [c for c in ops.host.commands if isinstance(c, Originate)]
    assert agent.post("/api/agent/preview/skip").json()["preview"] is None
    ops.host._run(ops.host.engine.tick())
    second = agent.get("/api/agent/state").json()["preview"]
    assert second["id"] != first["id"]
    dialed = agent.post("/api/agent/preview/dial")
    assert dialed.status_code == 200, dialed.text
    assert dialed.json()["phase"] == "reserved"
    assert _placed(ops).phone == second["phone"]
    again = agent.post("/api/agent/preview/dial")
    assert again.status_code == 409
    assert again.json()["reason"] == "no_preview"
    with Session(api_db) as session:
        skipped = session.get(Record, first["id"])
        assert skipped is not None
        assert skipped.lease_owner is None
        assert skipped.system_status == SystemStatus.TO_CALL
