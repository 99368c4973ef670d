"""Campaigns over HTTP: create and edit with the CLI's validation, the list by role, state
changes that the engine in the process follows at once, and the pacing profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from campaigns.enums import CampaignState, Role
from campaigns.models import AuditLog, Campaign, Record
from campaigns.statuses import create_status
from dialer.api.app import create_app
from dialer.config import DatabaseSettings, PacingSettings, Settings
from tests.api.conftest import LOGINS, World, sign_in

Clients = dict[Role, TestClient]


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Sales")
    response = client.post("/api/campaigns", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    fields = [p["field"] for p in body["problems"]]
    assert field in fields, body
    problem: str = body["problems"][fields.index(field)]["problem"]
    return problem


def _audit(db: sa.Engine, action: str) -> list[AuditLog]:
    with Session(db) as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)))


def _set_state(db: sa.Engine, campaign_id: int, state: CampaignState) -> None:
    with db.begin() as conn:
        conn.execute(sa.update(Campaign).where(Campaign.id == campaign_id).values(state=state))


# ------------------------------------------------------------------------------- create


def test_create_stores_rules_attaches_default_statuses_and_audits(
    clients: Clients, api_db: sa.Engine
) -> None:
    """An administrator's new campaign keeps every rule given, offers the default statuses
    and is written to the audit log under the administrator's name."""
    body = _create(
        clients[Role.ADMIN],
        name="  Spring   sale ",
        max_attempts=3,
        retry_delays_s={"busy": 300},
        window_start="08:30",
        window_end="19:00",
        window_days=[5, 1, 1],
        default_region="gb",
        hours_start="07:00",
        hours_end="21:00",
        hours_tz="Europe/Warsaw",
        caller_id="+48 22 123 45 67",
        pacing_profile="progressive",
    )
    assert body["name"] == "Spring sale"
    assert body["state"] == "draft"
    assert body["window_days"] == [1, 5]
    assert body["default_region"] == "GB"
    assert body["caller_id"] == "+48221234567"
    assert body["retry_delays_s"] == {"busy": 300}
    assert body["pacing_profile"] == "progressive"
    detail = clients[Role.ADMIN].get(f"/api/campaigns/{body['id']}").json()
    assert [s["name"] for s in detail["statuses"]] == ["Dzwonić", "Nie dzwonić"]
    [row] = _audit(api_db, "campaign.create")
    assert row.actor == "user:admin"
    assert row.entity_id == str(body["id"])


def test_create_defaults_to_the_settings_pacing_profile(clients: Clients) -> None:
    """A campaign created without a profile gets settings.pacing.default_profile."""
    assert _create(clients[Role.ADMIN])["pacing_profile"] == "predictive"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "max_attempts": 0}, "max_attempts"),
        ({"name": "x", "max_attempts": 10**30}, "max_attempts"),
        ({"name": "x", "window_start": "25:00"}, "window_start"),
        ({"name": "x", "window_start": "20:00", "window_end": "24:15"}, "window_end"),
        ({"name": "x", "window_days": [0]}, "window_days.0"),
        ({"name": "x", "window_days": []}, "window_days"),
        ({"name": "x", "retry_delays_s": {"sometimes": 5}}, "retry_delays_s"),
        ({"name": "x", "retry_delays_s": {"busy": 10**12}}, "retry_delays_s.busy"),
        ({"name": "x", "default_region": "XX"}, "default_region"),
        ({"name": "x", "default_tz": "Mars/Olympus"}, "default_tz"),
        ({"name": "x", "caller_id": "12"}, "caller_id"),
        ({"name": "x", "hours_start": "08:00"}, "hours_end"),
        ({"name": "x", "max_wait_s": "NaN"}, "max_wait_s"),
        ({"name": "x", "owner_absent_policy": "forget"}, "owner_absent_policy"),
        ({"name": "x", "pacing_profile": "turbo"}, "pacing_profile"),
        ({"name": "x", "pacing_profile": "../secret"}, "pacing_profile"),
        ({"name": "x", "max_attempts": None}, "max_attempts"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_create_refuses_bad_rules_naming_the_field(
    clients: Clients, api_db: sa.Engine, body: dict[str, Any], field: str
) -> None:
    """A bad rule gets 422 naming its field, and no campaign is created."""
    _problem(clients[Role.ADMIN].post("/api/campaigns", json=body), field)
    with Session(api_db) as session:
        assert session.exec(select(Campaign)).all() == []


def test_create_refuses_a_taken_name_in_any_case(clients: Clients) -> None:
    """Two campaigns cannot share a name, whatever its case."""
    _create(clients[Role.ADMIN], name="Sales")
    problem = _problem(clients[Role.ADMIN].post("/api/campaigns", json={"name": "SALES"}), "name")
    assert "no other campaign" in problem


def test_create_with_a_wrapup_status_not_offered_is_refused_whole(
    clients: Clients, api_db: sa.Engine
) -> None:
    """A wrap-up default status the campaign would not offer is refused and nothing stays."""
    response = clients[Role.ADMIN].post(
        "/api/campaigns", json={"name": "x", "wrapup_default_status_id": 999}
    )
    assert "999" in _problem(response, "wrapup_default_status_id")
    with Session(api_db) as session:
        assert session.exec(select(Campaign)).all() == []
    assert _audit(api_db, "campaign.create") == []


def test_create_with_an_offered_wrapup_status(clients: Clients) -> None:
    """The wrap-up default may be one of the statuses attached to the new campaign."""
    body = _create(clients[Role.ADMIN], wrapup_default_status_id=1)
    assert body["wrapup_default_status_id"] == 1


# --------------------------------------------------------------------------------- list


def test_agents_see_only_running_or_paused_campaigns_by_name(
    clients: Clients, api_db: sa.Engine
) -> None:
    """The agent list holds id, name and state of running and paused campaigns only."""
    ids = {
        state: _create(clients[Role.ADMIN], name=f"C {state.value}")["id"]
        for state in CampaignState
    }
    for state, cid in ids.items():
        _set_state(api_db, cid, state)
    seen = clients[Role.AGENT].get("/api/campaigns").json()
    assert seen == [
        {"id": ids[CampaignState.PAUSED], "name": "C paused", "state": "paused"},
        {"id": ids[CampaignState.RUNNING], "name": "C running", "state": "running"},
    ]


def test_supervisors_see_every_campaign_with_record_counts(
    clients: Clients, api_db: sa.Engine
) -> None:
    """Heads and leaders see every campaign with its rules and records per system status."""
    cid = _create(clients[Role.ADMIN])["id"]
    _create(clients[Role.ADMIN], name="Empty")
    with Session(api_db) as session:
        session.add_all(
            [
                Record(campaign_id=cid, phone="+48601000001"),
                Record(campaign_id=cid, phone="+48601000002", system_status="DO_NOT_CALL"),
            ]
        )
        session.commit()
    for role in (Role.HEAD, Role.GROUP_LEADER):
        rows = clients[role].get("/api/campaigns").json()
        assert [r["name"] for r in rows] == ["Empty", "Sales"]
        assert rows[1]["records"] == {
            "total": 2,
            "by_system_status": {"TO_CALL": 1, "DO_NOT_CALL": 1},
        }
        assert rows[0]["records"]["total"] == 0
        assert rows[1]["max_attempts"] == 5


def test_detail_summarizes_records_and_unknown_id_is_404(
    clients: Clients, api_db: sa.Engine
) -> None:
    """A campaign's detail counts its records; an id that does not exist is 404 for a head."""
    cid = _create(clients[Role.ADMIN])["id"]
    with Session(api_db) as session:
        session.add(Record(campaign_id=cid, phone="+48601000001", tz="Europe/Warsaw"))
        session.commit()
    detail = clients[Role.HEAD].get(f"/api/campaigns/{cid}").json()
    assert detail["records"]["total"] == 1
    assert detail["live"] is None
    missing = clients[Role.HEAD].get("/api/campaigns/4242")
    assert missing.status_code == 404
    assert missing.json()["error"] == "campaign_not_found"


@pytest.mark.parametrize("path", ["/api/campaigns/0", "/api/campaigns/99999999999999999999999"])
def test_odd_ids_are_422_not_500(clients: Clients, path: str) -> None:
    """Ids out of range are refused as bad input."""
    assert clients[Role.ADMIN].get(path).status_code == 422


# --------------------------------------------------------------------------------- edit


def test_patch_changes_only_given_fields_and_audits_the_difference(
    clients: Clients, api_db: sa.Engine
) -> None:
    """A partial edit changes the fields given, keeps the others, and audits before/after."""
    created = _create(clients[Role.ADMIN], caller_id="+48221234567")
    response = clients[Role.ADMIN].patch(
        f"/api/campaigns/{created['id']}", json={"max_attempts": 9, "caller_id": None}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["max_attempts"] == 9
    assert body["caller_id"] is None
    assert body["window_start"] == created["window_start"]
    [row] = _audit(api_db, "campaign.edit")
    assert row.details["changed"] == {"max_attempts": [5, 9], "caller_id": ["+48221234567", None]}


def test_patch_validates_like_create(clients: Clients, api_db: sa.Engine) -> None:
    """An edit is refused with the field named, and nothing changes."""
    cid = _create(clients[Role.ADMIN])["id"]
    _create(clients[Role.ADMIN], name="Other")
    admin = clients[Role.ADMIN]
    _problem(admin.patch(f"/api/campaigns/{cid}", json={"window_end": "7 pm"}), "window_end")
    _problem(
        admin.patch(f"/api/campaigns/{cid}", json={"pacing_profile": "nope"}), "pacing_profile"
    )
    _problem(admin.patch(f"/api/campaigns/{cid}", json={"name": "other"}), "name")
    _problem(admin.patch(f"/api/campaigns/{cid}", json={"max_wait_s": None}), "max_wait_s")
    assert _audit(api_db, "campaign.edit") == []
    assert admin.get(f"/api/campaigns/{cid}").json()["name"] == "Sales"


def test_patch_may_rename_in_another_case_and_set_the_wrapup_status(
    clients: Clients, api_db: sa.Engine
) -> None:
    """Renaming to the same name in another case is allowed; the wrap-up default must be an
    active status of the campaign."""
    cid = _create(clients[Role.ADMIN])["id"]
    with Session(api_db) as session:
        other = create_status(session, name="Elsewhere", system_status="TO_CALL", actor="t").id
        session.commit()
    admin = clients[Role.ADMIN]
    assert admin.patch(f"/api/campaigns/{cid}", json={"name": "SALES"}).json()["name"] == "SALES"
    _problem(
        admin.patch(f"/api/campaigns/{cid}", json={"wrapup_default_status_id": other}),
        "wrapup_default_status_id",
    )
    ok = admin.patch(f"/api/campaigns/{cid}", json={"wrapup_default_status_id": 2})
    assert ok.json()["wrapup_default_status_id"] == 2


def test_patch_of_a_missing_campaign_is_404(clients: Clients) -> None:
    """Editing a campaign that does not exist answers 404."""
    response = clients[Role.ADMIN].patch("/api/campaigns/77", json={"max_attempts": 2})
    assert response.status_code == 404


# -------------------------------------------------------------------------------- state


class FakeEngine:
    """An in-memory EngineLink that records what the database said at each sync."""

    def __init__(self, db: sa.Engine) -> None:
        self.db = db
        self.synced: list[dict[int, str]] = []

    def agent_command(self, agent_id: int, action: str, payload: dict[str, Any]) -> None:
        """Not used here."""

    def agent_snapshot(self, agent_id: int) -> dict[str, Any] | None:
        """Not used here."""
        return None

    def campaign_stats(self, campaign_id: int) -> dict[str, Any] | None:
        """Live figures of every campaign: a fixed dial level."""
        return {"campaign_id": campaign_id, "dial_level": 1.5}

    def campaign_calls(self, campaign_id: int) -> list[dict[str, Any]] | None:
        """No calls up."""
        del campaign_id
        return []

    def work_arrived(self, campaign_id: int) -> None:
        """Not used here."""

    def sync_campaigns(self) -> None:
        """Remember the states the database holds now."""
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(Campaign.id, Campaign.state)).all()
        self.synced.append({int(cid): str(state) for cid, state in rows})


@pytest.fixture
def engine_app(api_db: sa.Engine, world: World, tmp_path: Path) -> tuple[FastAPI, FakeEngine]:
    """The API with an engine attached, as ``dialer run --http`` serves it."""
    del world
    fake = FakeEngine(api_db)
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"))
    return create_app(settings, db=api_db, engine=fake), fake


def test_start_pause_stop_write_audit_and_sync_the_engine_after_commit(
    engine_app: tuple[FastAPI, FakeEngine], api_db: sa.Engine
) -> None:
    """Each state change is committed and audited before the engine re-reads campaigns, so
    the engine sees the new state at once."""
    app, fake = engine_app
    head = sign_in(app, LOGINS[Role.HEAD])
    cid = _create(sign_in(app, LOGINS[Role.ADMIN]))["id"]
    for verb, state in (("start", "running"), ("pause", "paused"), ("stop", "stopped")):
        body = head.post(f"/api/campaigns/{cid}/{verb}").json()
        assert body["state"] == state
        assert body["changed"] is True
        assert body["engine_synced"] is True
        assert fake.synced[-1][cid] == state
    again = head.post(f"/api/campaigns/{cid}/stop").json()
    assert (again["changed"], again["engine_synced"], len(fake.synced)) == (False, False, 3)
    actions = [(r.action, r.details["to"], r.actor) for r in _audit_all(api_db, "campaign.")]
    assert actions == [
        ("campaign.start", "running", "user:head"),
        ("campaign.pause", "paused", "user:head"),
        ("campaign.stop", "stopped", "user:head"),
    ]
    assert head.get(f"/api/campaigns/{cid}").json()["live"] == {
        "campaign_id": cid,
        "dial_level": 1.5,
    }


def _audit_all(db: sa.Engine, prefix: str) -> list[AuditLog]:
    with Session(db) as session:
        rows = session.exec(select(AuditLog).order_by(col(AuditLog.id)))
        return [r for r in rows if r.action.startswith(prefix) and "from" in r.details]


def test_same_state_is_no_change_and_pausing_a_draft_is_refused(
    clients: Clients, api_db: sa.Engine
) -> None:
    """Starting a running campaign changes nothing (no audit row); pausing a draft is refused
    with the reason."""
    cid = _create(clients[Role.ADMIN])["id"]
    refused = clients[Role.HEAD].post(f"/api/campaigns/{cid}/pause")
    assert refused.status_code == 400
    assert "draft" in refused.json()["detail"]
    assert clients[Role.HEAD].post(f"/api/campaigns/{cid}/start").json()["changed"] is True
    again = clients[Role.HEAD].post(f"/api/campaigns/{cid}/start").json()
    assert again["changed"] is False
    assert again["engine_synced"] is False
    assert len(_audit(api_db, "campaign.start")) == 1
    assert clients[Role.HEAD].post("/api/campaigns/999/stop").status_code == 404


def test_patch_syncs_the_engine(engine_app: tuple[FastAPI, FakeEngine]) -> None:
    """An edit reaches the engine in the process at once (it re-reads rules on sync)."""
    app, fake = engine_app
    admin = sign_in(app, LOGINS[Role.ADMIN])
    cid = _create(admin)["id"]
    admin.patch(f"/api/campaigns/{cid}", json={"max_attempts": 2})
    assert len(fake.synced) == 1


# ------------------------------------------------------------------------------ profiles


def test_pacing_profiles_list_names_kinds_and_broken_files(
    api_db: sa.Engine, world: World, tmp_path: Path
) -> None:
    """The profiles folder is listed with each profile's kind; a broken file shows its error
    and a campaign cannot be set to it."""
    del world
    folder = tmp_path / "pacing"
    folder.mkdir()
    (folder / "calm.toml").write_text('mode = "progressive"\n')
    (folder / "busy.toml").write_text('mode = "ratio"\nratio = 3.0\n')
    (folder / "broken.toml").write_text('mode = "warp"\n')
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'api.db'}"),
        pacing=PacingSettings(profiles_dir=folder, default_profile="calm"),
    )
    app = create_app(settings, db=api_db)
    admin = sign_in(app, LOGINS[Role.ADMIN])
    profiles = {p["name"]: p for p in admin.get("/api/pacing/profiles").json()}
    assert profiles["calm"] == {"name": "calm", "kind": "progressive", "error": None}
    assert profiles["busy"]["kind"] == "ratio"
    assert profiles["broken"]["kind"] is None
    assert "mode" in profiles["broken"]["error"]
    cid = _create(admin)["id"]
    problem = _problem(
        admin.patch(f"/api/campaigns/{cid}", json={"pacing_profile": "broken"}), "pacing_profile"
    )
    assert "does not load" in problem
    assert admin.patch(f"/api/campaigns/{cid}", json={"pacing_profile": "busy"}).status_code == 200


def test_non_ascii_names_are_unique_too(clients: Clients) -> None:
    """A name with Polish capitals taken twice is refused as 422, not a server error; a
    rename to another campaign's name in other case is refused the same way."""
    admin = clients[Role.ADMIN]
    _create(admin, name="Łódź Śródmieście")
    _problem(admin.post("/api/campaigns", json={"name": "Łódź Śródmieście"}), "name")
    other = _create(admin, name="Kraków")["id"]
    _problem(admin.patch(f"/api/campaigns/{other}", json={"name": "ŁÓDŹ ŚRÓDMIEŚCIE"}), "name")
