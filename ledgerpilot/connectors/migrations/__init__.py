"""Alembic migrations of the reference AIS schema, run from code (no ``alembic.ini``).

``versions/`` holds the revisions, written by hand; :func:`upgrade` brings a database to
the newest one.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
"""The Alembic script location, inside the installed package."""

VERSION_TABLE = "ais_schema_version"
"""Alembic's version table; its own name, so that it cannot clash with a company's own."""


def alembic_config() -> Config:
    """An Alembic configuration built in code, pointing at these migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def head_revision() -> str | None:
    """The newest revision the migrations know."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when it has no reference schema."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Run the migrations on a database up to ``revision`` (the newest by default)."""
    engine = create_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()
