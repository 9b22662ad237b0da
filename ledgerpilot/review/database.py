"""The store's connection to its database: engines, and transactions that write safely.

SQLite gets WAL, a busy timeout, and ``BEGIN IMMEDIATE`` for writing transactions, so that
a read-then-write (a decision checking the status it changes) cannot be overtaken;
PostgreSQL gets the same from ``SELECT ... FOR UPDATE`` on the rows a transaction changes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 30.0


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


class Database:
    """A SQLAlchemy URL (``sqlite:///PATH`` or PostgreSQL) and its engines."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self._write_engine = self.engine.execution_options(store_write=True)

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A session whose transaction commits on success (SQLite: a write lock at once)."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session


def make_engine(url: str) -> Engine:
    """An engine for the store; SQLite gets WAL, a busy timeout and real transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )

    @event.listens_for(engine, "connect")
    def on_connect(connection: sqlite3.Connection, record: object) -> None:
        # Transactions are begun by on_begin, not implicitly by the driver.
        connection.isolation_level = None
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # A write takes the lock at once, so that its read-then-write cannot be overtaken.
        write = conn.get_execution_options().get("store_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
