"""Settings an administrator changes in the pages (over the config file's defaults)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from campaigns.app_settings import EXPORT_ADMIN_ONLY, Setting, write_setting
from dialer.api.routes.admin_common import export_setting
from dialer.api.security import Admin, Ctx

router = APIRouter(prefix="/api", tags=["settings"])


class SettingsOut(BaseModel):
    """The settings now: each value, and who set it in the pages when (None: the config
    file's default is in force)."""

    export_admin_only: bool
    """Only administrators may export (call log, reports, requests, lists, DNC)."""
    export_admin_only_default: bool
    """The config file's value (``http.export_admin_only``)."""
    export_admin_only_set_by: str | None
    export_admin_only_set_at: dt.datetime | None


class SettingsIn(BaseModel):
    """The settings to change."""

    model_config = ConfigDict(extra="forbid")

    export_admin_only: bool


def _out(setting: Setting, default: bool) -> SettingsOut:
    return SettingsOut(
        export_admin_only=bool(setting.value),
        export_admin_only_default=default,
        export_admin_only_set_by=setting.updated_by,
        export_admin_only_set_at=setting.updated_at,
    )


@router.get("/settings")
def settings_read(user: Admin, ctx: Ctx) -> SettingsOut:
    """The settings an administrator may change here, with the config file's defaults."""
    del user
    return _out(export_setting(ctx), ctx.settings.http.export_admin_only)


@router.put("/settings")
def settings_write(user: Admin, ctx: Ctx, body: SettingsIn) -> SettingsOut:
    """Change the settings (each change goes to the audit log with the value before)."""
    default = ctx.settings.http.export_admin_only
    with ctx.session() as session:
        saved = write_setting(
            session,
            EXPORT_ADMIN_ONLY,
            body.export_admin_only,
            default=default,
            actor=user.actor,
            now=dt.datetime.now(dt.UTC),
        )
    return _out(saved, default)
