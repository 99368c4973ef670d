"""Settings an administrator changes in the pages, over the config file's defaults.

A setting read here is the administrator's value when one was saved (``app_setting``),
else the default the caller passes (the config file's). Saving writes the audit log in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from campaigns.models import AppSetting
from campaigns.statuses import audit

_SETTING = AppSetting.__table__  # type: ignore[attr-defined]

#: Only administrators may export (call log, reports, callback requests, lists).
EXPORT_ADMIN_ONLY = "export_admin_only"


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting's value now, and who set it when (None: the config file's default)."""

    key: str
    value: Any
    updated_at: dt.datetime | None = None
    updated_by: str | None = None


def read_setting(conn: sa.Connection, key: str, default: Any) -> Setting:
    """The administrator's value of ``key``, else ``default``. One primary-key probe."""
    row = conn.execute(sa.select(_SETTING).where(_SETTING.c.key == key)).first()
    if row is None:
        return Setting(key, default)
    return Setting(key, row.value, row.updated_at, row.updated_by)


def write_setting(
    session: Session, key: str, value: Any, *, default: Any, actor: str, now: dt.datetime
) -> Setting:
    """Save ``value`` for ``key`` as set by ``actor`` (audited with the value before)."""
    before = read_setting(session.connection(), key, default)
    row = session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value, updated_at=now, updated_by=actor))
    else:
        row.value, row.updated_at, row.updated_by = value, now, actor
    audit(
        session,
        actor=actor,
        action="setting_changed",
        entity="setting",
        entity_id=key,
        details={"from": before.value, "to": value},
    )
    return Setting(key, value, now, actor)
