"""Alembic migrations of the reference AIS schema, run from code (no ``alembic.ini``).

``versions/`` holds the revisions, written by hand; :func:`upgrade` brings a database to
the newest one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine

from ledgerpilot.sqlplumbing import Migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent
"""The Alembic script location, inside the installed package."""

VERSION_TABLE = "ais_schema_version"
"""Alembic's version table; its own name, so that it cannot clash with a company's own."""

MIGRATIONS = Migrations(MIGRATIONS_DIR, VERSION_TABLE)


def head_revision() -> str | None:
    """The newest revision the migrations know."""
    return MIGRATIONS.head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when it has no reference schema."""
    return MIGRATIONS.current(engine)


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Run the migrations on a database up to ``revision`` (the newest by default)."""
    if not isinstance(engine_or_url, str):
        MIGRATIONS.upgrade(engine_or_url, revision)
        return
    engine = create_engine(engine_or_url)
    try:
        MIGRATIONS.upgrade(engine, revision)
    finally:
        engine.dispose()
