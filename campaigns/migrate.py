"""Schema migrations run from the installed package (``dialer db upgrade``).

No ``alembic.ini`` is needed: the Alembic configuration is built here, pointing at the
migration scripts shipped in ``campaigns/migrations``.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

from campaigns.db import make_engine
from campaigns.errors import CampaignError
from campaigns.statuses import ensure_defaults

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class MigrationError(CampaignError):
    """The database could not be brought to the wanted schema revision."""

    error_id = "migration_failed"

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        super().__init__(f"database {url}: {problem}")


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` using the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        msg = "no migration scripts found"
        raise RuntimeError(msg)
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url_or_engine: str | sa.Engine, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; returns the revision the database is now at."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    safe = engine.url.render_as_string(hide_password=True)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except sa.exc.SQLAlchemyError as exc:
        raise MigrationError(safe, f"migration failed: {exc.__class__.__name__}: {exc}") from exc
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
    return current_revision(engine)


def initialize(url_or_engine: str | sa.Engine, *, actor: str = "system") -> str | None:
    """Upgrade the schema to head and create the default statuses; returns the revision."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        revision = upgrade(engine)
        with Session(engine) as session:
            ensure_defaults(session, actor=actor)
            session.commit()
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
    return revision
