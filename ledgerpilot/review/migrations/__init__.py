"""Alembic migrations of the proposal store, run from code (no ``alembic.ini``).

``versions/`` holds the revisions, written by hand; :func:`upgrade` brings a database to
the newest one. The store may share its database with the LangGraph checkpoints (and even
with a reference AIS): its version table has a name of its own, and the migrations touch
only the store's tables.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ledgerpilot.sqlplumbing import Migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent
"""The Alembic script location, inside the installed package."""

VERSION_TABLE = "store_schema_version"
"""Alembic's version table of the store."""

TABLES = frozenset(
    {"proposals", "decisions", "users", "sessions", "api_tokens", "access_log", "claims"}
    | {"audit_runs", "audit_findings", "audit_reasons", "audit_follow_ups"}
)
"""The tables the store owns; everything else in the database is someone else's."""

MIGRATIONS = Migrations(MIGRATIONS_DIR, VERSION_TABLE)


def head_revision() -> str | None:
    """The newest revision the migrations know."""
    return MIGRATIONS.head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when it has no store."""
    return MIGRATIONS.current(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations on the database up to ``revision`` (the newest by default)."""
    MIGRATIONS.upgrade(engine, revision)
