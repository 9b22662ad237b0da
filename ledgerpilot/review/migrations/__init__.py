"""Alembic migrations of the proposal store, run from code (no ``alembic.ini``).

``versions/`` holds the revisions, written by hand; :func:`upgrade` brings a database to
the newest one. The store may share its database with the LangGraph checkpoints (and even
with a reference AIS): its version table has a name of its own, and the migrations touch
only the store's tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
"""The Alembic script location, inside the installed package."""

VERSION_TABLE = "store_schema_version"
"""Alembic's version table of the store."""

TABLES = frozenset({"proposals", "decisions"})
"""The tables the store owns; everything else in the database is someone else's."""


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
    """The revision the database is at, or ``None`` when it has no store."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations on the database up to ``revision`` (the newest by default)."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
