"""Engines for an AIS database: SQLite files and PostgreSQL, set up the way connectors need.

SQLite gets foreign keys, WAL, ``synchronous=NORMAL``, a busy timeout and real transactions
(Python's sqlite3 would otherwise begin them late and implicitly); a write transaction
takes the write lock at once (``BEGIN IMMEDIATE``) so that a read-then-write is safe.
Opening a SQLite file for reading never creates it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from .errors import AISNotFound

WRITE = {"ledgerpilot_write": True}
"""Execution options of a connection that will write: SQLite begins ``IMMEDIATE``."""

BULK = {"ledgerpilot_write": True, "ledgerpilot_bulk": True}
"""Execution options of the bulk path's writes: on SQLite, foreign keys go unchecked, as
the loader assigns every key and checks every account itself."""

SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_CACHE_KIB = 32_768
SQLITE_PAGE_SIZE = 16_384


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL; ``None`` for in-memory SQLite and for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def is_sqlite(url: str | URL) -> bool:
    """Whether ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str | URL, create: bool = False) -> Engine:
    """An engine for ``url``; a missing SQLite file is created only when ``create`` is true.

    Raises :class:`AISNotFound` for a SQLite file that does not exist (and is not to be
    created).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    path = sqlite_path(parsed)
    if path is None:
        if (parsed.database or "") in ("", ":memory:"):
            # One connection, shared: every new in-memory connection is a new empty database.
            engine = create_engine(
                parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            engine = create_engine(parsed)
    else:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise AISNotFound(f"no AIS database at {path} (the file does not exist)")
        engine = create_engine(parsed, creator=_sqlite_creator(path, "rwc" if create else "rw"))
    _set_up_sqlite(engine)
    return engine


def _sqlite_creator(path: Path, mode: str) -> Any:
    uri = f"file:{quote(str(path.absolute()))}?mode={mode}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            uri, uri=True, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_S
        )

    return connect


def _set_up_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, record: object) -> None:
        # Transactions are begun by on_begin below, not by the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Takes effect only in a new, empty file, before WAL fixes the page size; larger
        # pages make index-heavy bulk loads faster.
        cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        # The pragma is a no-op inside a transaction, so it is set before each begins.
        bulk = options.get("ledgerpilot_bulk")
        conn.exec_driver_sql(f"PRAGMA foreign_keys = {'OFF' if bulk else 'ON'}")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("ledgerpilot_write") else "BEGIN")
