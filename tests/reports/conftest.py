"""The API fixtures (database, users of every role, the app) for the reports' browser tests."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401  (fixtures shared with the API tests)
    _cheap_hashing,
    _migrated_template,
    api_db,
    app,
    world,
)
