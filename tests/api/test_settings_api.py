"""Settings an administrator changes in the pages: whether only administrators may export.

The config file's ``http.export_admin_only`` is the default; once an administrator saves a
value it wins, for every export (call log, reports, requests, lists, DNC) and for the
pages' export buttons; each change is in the audit log with the value before."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from sqlmodel import Session, select

from campaigns.enums import Role
from campaigns.models import AuditLog
from tests.api.conftest import LOGINS, sign_in

EXPORTS = (
    "/api/calls/export",
    "/api/reports/period/export",
    "/api/reports/agents/export",
    "/api/requests/export",
)


def _export_codes(app: FastAPI) -> dict[Role, set[int]]:
    out = {}
    for role, login in LOGINS.items():
        client = sign_in(app, login)
        out[role] = {client.get(path).status_code for path in EXPORTS}
    return out


def test_an_administrator_limits_exports_in_the_pages_and_lets_them_again(
    app: FastAPI, api_db: sa.Engine
) -> None:
    admin = sign_in(app, "admin")
    first = admin.get("/api/settings").json()
    assert first == {
        "export_admin_only": False,
        "export_admin_only_default": False,
        "export_admin_only_set_by": None,
        "export_admin_only_set_at": None,
    }
    assert _export_codes(app)[Role.HEAD] == {200}
    saved = admin.put("/api/settings", json={"export_admin_only": True})
    assert saved.status_code == 200, saved.text
    assert saved.json()["export_admin_only"] is True
    assert saved.json()["export_admin_only_set_by"] == "user:admin"
    codes = _export_codes(app)
    assert codes[Role.ADMIN] == {200}
    assert all(codes[role] == {403} for role in LOGINS if role is not Role.ADMIN), codes
    assert admin.put("/api/settings", json={"export_admin_only": False}).status_code == 200
    assert _export_codes(app)[Role.GROUP_LEADER] == {200}
    with Session(api_db) as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.action == "setting_changed")  # type: ignore[arg-type]
        ).all()
    assert [(r.actor, r.entity_id, r.details) for r in rows] == [
        ("user:admin", "export_admin_only", {"from": False, "to": True}),
        ("user:admin", "export_admin_only", {"from": True, "to": False}),
    ]


def test_only_an_administrator_reads_or_changes_settings_and_bad_input_is_named(
    app: FastAPI,
) -> None:
    for role, login in LOGINS.items():
        if role is Role.ADMIN:
            continue
        client = sign_in(app, login)
        assert client.get("/api/settings").status_code == 403, role
        assert client.put("/api/settings", json={"export_admin_only": True}).status_code == 403
    admin = sign_in(app, "admin")
    for body in ({"export_admin_only": "sometimes"}, {"export_everything": True}, {}):
        answer = admin.put("/api/settings", json=body)
        assert answer.status_code == 422, body
        assert "export_" in answer.text, answer.text
    assert admin.get("/api/settings").json()["export_admin_only"] is False, "nothing saved"
