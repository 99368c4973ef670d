"""`dialer db upgrade` migrations build exactly the schema the models describe."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from campaigns.db import make_engine
from campaigns.migrate import current_revision, head_revision, upgrade


def _diff(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _index_names(engine: sa.Engine) -> set[str]:
    return {index["name"] for index in sa.inspect(engine).get_indexes("record") if index["name"]}


EXPRESSION_INDEXES = {"ix_record_pick", "ix_record_due_now"}


def _is_expression_index_diff(diff: Any) -> bool:
    return (
        isinstance(diff, tuple)
        and diff[0] in {"add_index", "remove_index"}
        and diff[1].name in EXPRESSION_INDEXES
    )


# SQLite reflection drops the DESC of an index column, so Alembic cannot compare the two
# selection indexes there; the test compares everything else and reads their SQL instead.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_upgrade_empty_sqlite_matches_models(tmp_path: Path) -> None:
    """Upgrading an empty SQLite file to head leaves no difference from the models."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert upgrade(engine) == head_revision()
    assert [diff for diff in _diff(engine) if not _is_expression_index_diff(diff)] == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type='index'"))
        sql: dict[str, str] = {row[0]: row[1] for row in rows}
    assert "(campaign_id, system_status, next_call_at, attempts DESC, id)" in sql["ix_record_pick"]
    assert sql["ix_record_due_now"].endswith(
        "(campaign_id, attempts DESC, id) WHERE system_status = 'TO_CALL' AND next_call_at IS NULL"
    )
    assert upgrade(engine) == head_revision()  # a second run is a no-op


@pytest.mark.postgres
def test_upgrade_empty_postgres_schema_matches_models(pg_url: str) -> None:
    """Upgrading an empty PostgreSQL schema to head leaves no difference from the models."""
    schema = f"core_mig_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine = sa.create_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        assert _diff(engine) == []
        assert {"ix_record_pick", "ix_record_due_now"} <= _index_names(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
