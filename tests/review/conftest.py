"""Fixtures of the store tests: an empty database on SQLite and on PostgreSQL, a store.

On PostgreSQL each test gets a schema of its own in the xdist worker's database
(``postgres_url``), found first on the search path: a fresh store per test for a third of
the price of a fresh database.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from ledgerpilot.review.store import ProposalStore

from .store_kit import CHEAP_HASHER


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, then a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    database = make_url(str(request.getfixturevalue("postgres_url")))
    schema = f"store_{secrets.token_hex(6)}"
    conninfo = database.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield database.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def store(url: str) -> Iterator[ProposalStore]:
    """A new store, hashing passwords with argon2id at small costs."""
    with ProposalStore.create(url) as created:
        created.password_hasher = CHEAP_HASHER
        yield created
