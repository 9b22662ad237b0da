"""Fixtures of the worker tests: one deployment per test, its workers killed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _temporary_database
from tests.workers.kit import Deployment


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Deployment]:
    """The embedded default: SQLite AIS and store, kombu's SQLAlchemy broker on SQLite."""
    deployment = Deployment(
        tmp_path, f"sqlite:///{tmp_path / 'ais.sqlite'}", f"sqlite:///{tmp_path / 'store.sqlite'}"
    ).create()
    try:
        yield deployment
    finally:
        deployment.stop_workers()


@pytest.fixture
def production(tmp_path: Path, redis_url: str) -> Iterator[Deployment]:
    """Production's servers: the AIS and the store in PostgreSQL databases of their own,
    broker and results in this xdist worker's Redis database."""
    with _temporary_database() as ais_url, _temporary_database() as store_url:
        deployment = Deployment(tmp_path, ais_url, store_url, redis_url, redis_url).create()
        try:
            yield deployment
        finally:
            deployment.stop_workers()
