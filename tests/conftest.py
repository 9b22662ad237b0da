"""Shared fixtures: real PostgreSQL and Redis servers, and SQLite files in tmp_path.

Tests run in parallel (pytest-xdist), so every fixture hands each worker, or each test,
resources of its own: a uniquely named PostgreSQL database, a Redis database number per
worker, a SQLite file under the test's tmp_path.

A server that cannot be reached skips the tests that need it, with the reason, on a
developer's machine; under CI (``CI`` set to a true value) it fails them instead, because
``.ci/run`` starts both servers and a silent skip would hide a broken setup.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DB = "postgres"
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_DATABASES = 16  # Redis' default `databases`; db 0 is left to the developer.


def _in_ci() -> bool:
    """True when running under CI, where a missing service is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    """Skip the current test (fail it under CI) because a service is unavailable."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run should have started it)", pytrace=False)
    pytest.skip(reason)


def worker_id() -> str:
    """The xdist worker name (``gw0``, ``gw1``, ...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_index() -> int:
    """The xdist worker number (0 for ``gw0`` and for a run without xdist)."""
    match = re.fullmatch(r"gw(\d+)", worker_id())
    return int(match.group(1)) if match else 0


# ---------------------------------------------------------------- PostgreSQL


def _admin_connect() -> psycopg.Connection:
    """Open an autocommit connection to the admin database (CREATE/DROP DATABASE need it)."""
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname=PG_ADMIN_DB,
        autocommit=True,
        connect_timeout=5,
    )


def _require_postgres() -> None:
    """Skip (or fail under CI) unless PostgreSQL accepts connections."""
    try:
        with _admin_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable: {exc}".strip())


@contextmanager
def _temporary_database() -> Iterator[str]:
    """Create a uniquely named database, yield its SQLAlchemy URL, drop it afterwards."""
    _require_postgres()
    name = f"lp_test_{worker_id()}_{secrets.token_hex(6)}"
    with _admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        # FORCE ends sessions a test left open (pools, LangGraph savers).
        with _admin_connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database shared by the tests of one xdist worker.

    Yields a SQLAlchemy URL (``postgresql+psycopg://postgres@127.0.0.1:5432/<name>``).
    Tests sharing it must not depend on each other's rows; use ``fresh_postgres_url`` for
    an empty database per test.
    """
    with _temporary_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped after it."""
    with _temporary_database() as url:
        yield url


# ---------------------------------------------------------------- Redis


def _redis_reachable() -> str | None:
    """Return None if Redis answers PING, else the reason it does not."""
    try:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable: {exc}"
    return None


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL with a database number of this xdist worker's own, flushed around the test.

    ``gw0`` gets db 1, ``gw1`` db 2, and so on (db 0 is left alone).
    """
    reason = _redis_reachable()
    if reason is not None:
        _unavailable(reason)
    db = 1 + worker_index() % (REDIS_DATABASES - 1)
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        yield url
        client.flushdb()
    finally:
        client.close()


# ---------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a SQLite file (``ais.sqlite``) in the test's tmp_path."""
    return f"sqlite:///{tmp_path / 'ais.sqlite'}"


# ---------------------------------------------------------------- markers


def _cuda_available() -> bool:
    """True if torch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu``-marked tests where no CUDA device is available."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items or _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (marked gpu); none available here")
    for item in gpu_items:
        item.add_marker(skip_gpu)
