"""Fixtures of the connector tests: the small company on SQLite and on PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from ledgerpilot.connectors import ReferenceAIS, builtin_chart, import_files
from ledgerpilot.ledger import Account, AccountType, ChartOfAccounts

DATA = Path(__file__).parent / "data"
SMALL_COMPANY = DATA / "small_company.jsonl"

BANK = Account("1014", "Bank", AccountType.ASSET_CASH, role="liquidity")


@pytest.fixture
def chart() -> ChartOfAccounts:
    """Odoo's generic chart, with the bank account it lacks."""
    return builtin_chart("generic").extended([BANK])


@pytest.fixture
def chart_path(tmp_path: Path, chart: ChartOfAccounts) -> Path:
    """The small company's chart as an interchange CSV file."""
    path = tmp_path / "accounts.csv"
    path.write_text(chart.to_csv(), encoding="utf-8")
    return path


BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

_TABLES = "accounts, partners, documents, document_lines, journal_entries, journal_lines"


@pytest.fixture(params=BOTH)
def ais_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture(scope="session")
def reference_postgres_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database with the reference schema, one per xdist worker.

    Migrated once; :func:`empty_ais` empties it before each test (much faster than a new
    database per test). ``postgres_url`` skips when the server is down.
    """
    server = make_url(postgres_url)
    name = f"lp_connectors_{secrets.token_hex(6)}"
    admin = {
        "host": server.host,
        "port": server.port,
        "user": server.username,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        ReferenceAIS.create(url).close()
        yield url
    finally:
        with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=BOTH)
def empty_ais(request: pytest.FixtureRequest) -> Iterator[ReferenceAIS]:
    """An AIS with the reference schema and nothing in it: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        with ReferenceAIS.create(str(request.getfixturevalue("sqlite_url"))) as ais:
            yield ais
        return
    with ReferenceAIS(str(request.getfixturevalue("reference_postgres_url"))) as ais:
        with ais.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
            conn.exec_driver_sql(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
        yield ais


@pytest.fixture
def company(empty_ais: ReferenceAIS, chart_path: Path) -> ReferenceAIS:
    """The small company: 12 documents (9 posted, 3 pending) and its chart."""
    report = import_files(empty_ais, chart_path, SMALL_COMPANY)
    assert report.ok, report.errors
    return empty_ais
