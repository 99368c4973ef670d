"""Helpers for PART B's PostgreSQL tests: a private schema per test, dropped afterwards.

Imported explicitly by the tests that need it (pytest does not load this file by itself),
so it cannot clash with fixtures in ``tests/campaigns/conftest.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from campaigns.db import create_schema, make_engine


@contextmanager
def engine_in_private_schema(pg_url: str) -> Iterator[sa.Engine]:
    """An engine whose tables live in a fresh schema of the test database (dropped on exit).

    Other test sessions using the same database at the same time do not see these tables.
    """
    schema = f"b_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
