"""Fixtures of the callback-request tests: the API fixtures (database, users of every
role, signed-in clients) and a migrated database template."""

from __future__ import annotations

from tests.api.conftest import (
    _cheap_hashing,
    _migrated_template,
    api_db,
    app,
    clients,
    world,
)

__all__ = ["_cheap_hashing", "_migrated_template", "api_db", "app", "clients", "world"]
