"""The reference schema: migrations equal the models, money is exact, opening is safe."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from ledgerpilot.connectors import (
    AISNotFound,
    ConnectorUnavailable,
    ReferenceAIS,
    import_files,
    open_ais,
)
from ledgerpilot.connectors.migrations import VERSION_TABLE, current_revision, head_revision
from ledgerpilot.connectors.schema import Money, UTCDateTime, metadata

from .conftest import SMALL_COMPANY


def _differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrations_create_exactly_the_models(ais_url: str) -> None:
    ReferenceAIS.create(ais_url).close()
    assert _differences(ais_url) == []


def test_the_comparison_would_see_a_missing_index(ais_url: str) -> None:
    ReferenceAIS.create(ais_url).close()
    engine = create_engine(ais_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_journal_lines_account_code")
    engine.dispose()
    diffs = _differences(ais_url)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "ix_journal_lines_account_code")]


def test_create_is_at_head_and_idempotent(ais_url: str) -> None:
    ReferenceAIS.create(ais_url).close()
    with ReferenceAIS.create(ais_url) as ais:
        assert current_revision(ais.engine) == head_revision() == "0001"


MONEY_VALUES = [
    "1250.00",
    "0.01",
    "-17.50",
    "0",
    "120000",
    "999999999999999.9999",
    "-0.0001",
    "12345678901234.5678",
]


def test_money_round_trips_exactly(ais_url: str) -> None:
    table = Table(
        "money_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", Money()),
        Column("at", UTCDateTime()),
    )
    engine = create_engine(ais_url)
    table.create(engine)
    stamp = dt.datetime(2024, 1, 6, 10, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [{"id": n, "amount": Decimal(v), "at": stamp} for n, v in enumerate(MONEY_VALUES)],
        )
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.amount, table.c.at).order_by(table.c.id)).all()
    engine.dispose()
    assert [r.amount for r in rows] == [Decimal(v) for v in MONEY_VALUES]
    assert all(isinstance(r.amount, Decimal) for r in rows)
    assert [str(r.amount) for r in rows] == [
        "1250.0000",
        "0.0100",
        "-17.5000",
        "0.0000",
        "120000.0000",
        "999999999999999.9999",
        "-0.0001",
        "12345678901234.5678",
    ]
    assert {r.at for r in rows} == {dt.datetime(2024, 1, 6, 8, 15, tzinfo=dt.UTC)}


def test_money_refuses_floats(sqlite_url: str) -> None:
    with pytest.raises(TypeError, match="not a float"):
        Money().process_bind_param(1.1, create_engine(sqlite_url).dialect)  # type: ignore[arg-type]


def test_sqlite_stores_money_as_canonical_text(sqlite_url: str, chart_path: Path) -> None:
    with ReferenceAIS.create(sqlite_url) as ais:
        assert import_files(ais, chart_path, SMALL_COMPANY).ok
        with ais.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT typeof(total_gross), total_gross FROM documents "
                "WHERE external_id IN ('SI-2024-001', 'SI-2024-004') ORDER BY external_id"
            ).all()
    assert [tuple(r) for r in rows] == [("text", "1250.0000"), ("text", "120000.0000")]


def test_amounts_come_back_with_the_currency_decimals(company: ReferenceAIS) -> None:
    eur = company.get_document("SI-2024-001")
    jpy = company.get_document("SI-2024-004")
    assert eur is not None and jpy is not None
    assert eur.to_json()["total_gross"] == "1250.00"
    assert str(eur.total_gross) == "1250.00"
    assert jpy.to_json()["total_gross"] == "120000"
    assert str(jpy.lines[0].net) == "120000"
    assert jpy.entry is not None
    assert [str(ln.amount) for ln in jpy.entry.lines] == ["120000", "120000"]


def test_open_ais_never_creates_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "ais.sqlite"
    with pytest.raises(AISNotFound, match="does not exist"):
        open_ais(f"sqlite:///{path}")
    with pytest.raises(AISNotFound):
        ReferenceAIS(f"sqlite:///{path}")
    assert not path.exists()
    assert not path.parent.exists()


def test_open_ais_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).close()
    with pytest.raises(AISNotFound, match="no reference AIS schema"):
        open_ais(f"sqlite:///{path}")


def test_open_ais_opens_what_create_made(sqlite_url: str, chart_path: Path) -> None:
    ReferenceAIS.create(sqlite_url).close()
    with open_ais(sqlite_url) as ais:
        assert ais.summary().documents == 0


def test_create_makes_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ais.sqlite"
    ReferenceAIS.create(f"sqlite:///{path}").close()
    assert path.is_file()


@pytest.mark.postgres
def test_open_ais_reports_a_missing_postgres_database(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/lp_no_such_database"
    with pytest.raises(AISNotFound, match="does not exist"):
        open_ais(missing)


def test_an_unreachable_server_is_transient() -> None:
    # Port 9 (discard) has no PostgreSQL listening: the connection is refused.
    with pytest.raises(ConnectorUnavailable) as caught:
        open_ais("postgresql+psycopg://postgres@127.0.0.1:9/ais?connect_timeout=3")
    assert caught.value.original is not None
    assert "unavailable" in str(caught.value)


@pytest.mark.postgres
def test_open_ais_refuses_a_postgres_database_without_the_schema(fresh_postgres_url: str) -> None:
    with pytest.raises(AISNotFound, match="no reference AIS schema"):
        open_ais(fresh_postgres_url)
    with ReferenceAIS.create(fresh_postgres_url):
        pass
    with open_ais(fresh_postgres_url) as ais:
        assert ais.summary().accounts == 0
