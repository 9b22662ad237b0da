"""Checkpointers that keep paused drafts: SQLite on the embedded default, PostgreSQL in production.

The checkpoints live in the ledgerpilot store's database (its URL is the store's
SQLAlchemy URL), beside the proposals, in LangGraph's own tables. The drafting state holds
only JSON values, so the serializer is locked down to LangGraph's safe types: a checkpoint
can never revive an arbitrary Python object.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite checkpoint write waits for another writer (the store, a worker)."""


SETUP_LOCK = 0x6C70_6370  # "lpcp"
"""The PostgreSQL advisory lock held while the checkpoint tables are set up."""
_SET_UP: set[str] = set()
"""Databases whose checkpoint tables this process has set up already."""


class CheckpointerError(ValueError):
    """A store URL that no checkpointer handles."""


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says that the checkpoints' database is unreachable or busy right
    now (worth a retry), as the drivers raise it through LangGraph's savers."""
    if isinstance(error, psycopg.OperationalError):
        return True
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return "locked" in text or "busy" in text
    return False


def serializer() -> JsonPlusSerializer:
    """LangGraph's serializer, reviving only its own safe types (no arbitrary classes)."""
    return JsonPlusSerializer(allowed_msgpack_modules=None)


@contextmanager
def open_checkpointer(store_url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """A checkpointer on the store's database, closed on exit.

    ``sqlite:///PATH``: a :class:`~langgraph.checkpoint.sqlite.SqliteSaver` on that file
    (created if missing; ``sqlite://`` alone is an in-memory database for one process).
    ``postgresql[+driver]://...``: a :class:`~langgraph.checkpoint.postgres.PostgresSaver`
    over psycopg 3, its tables set up (idempotently, one process at a time, once per
    process) before use.
    """
    url = make_url(store_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        with _sqlite_saver(url.database or "") as saver:
            yield saver
    elif backend == "postgresql":
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        # The settings PostgresSaver.from_conn_string uses, with our serializer.
        with Connection.connect(
            conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
        ) as connection:
            saver = PostgresSaver(connection, serde=serializer())
            if conninfo not in _SET_UP:
                # Workers starting together on a new store would race to create the tables.
                connection.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
                try:
                    saver.setup()
                finally:
                    connection.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
                _SET_UP.add(conninfo)
            yield saver
    else:
        raise CheckpointerError(
            f"no checkpointer for {backend!r} URLs; use sqlite:///PATH or postgresql://..."
        )


@contextmanager
def _sqlite_saver(database: str) -> Iterator[BaseCheckpointSaver[Any]]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False is safe: the saver serializes its use of the connection.
    connection = sqlite3.connect(
        database or ":memory:", check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_S
    )
    with closing(connection):
        # WAL with NORMAL sync, as the store's own engine: a commit survives a crash of the
        # process without waiting for the disk on every checkpoint.
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        yield SqliteSaver(connection, serde=serializer())
