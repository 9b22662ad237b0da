"""SQL plumbing shared by the reference AIS schema and the proposal store.

Both keep points in time in UTC and carry their own Alembic migrations, run from code with
a version table of their own (so that they can share one database). The architecture keeps
``connectors`` and ``review`` apart; what they share lives here, below both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Dialect, Engine
from sqlalchemy.types import TypeDecorator


def to_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime (a naive one is taken to be UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A point in time, stored in UTC; naive values are taken to be UTC already.

    ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; SQLite keeps naive UTC text. Values come
    back timezone-aware, in UTC, from both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else to_utc(value)


@dataclass(frozen=True)
class Migrations:
    """Alembic migrations in ``directory``, run from code (no ``alembic.ini``)."""

    directory: Path
    """The Alembic script location, inside the installed package."""
    version_table: str
    """Alembic's version table: a name of its own, so that it cannot clash with another."""

    def config(self) -> Config:
        """An Alembic configuration built in code, pointing at these migrations."""
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        config.set_main_option("version_table", self.version_table)
        return config

    def head(self) -> str | None:
        """The newest revision the migrations know."""
        return ScriptDirectory.from_config(self.config()).get_current_head()

    def current(self, engine: Engine) -> str | None:
        """The revision the database is at, or ``None`` when these migrations never ran."""
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
            return context.get_current_revision()

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Run the migrations on the database up to ``revision`` (the newest by default)."""
        config = self.config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
