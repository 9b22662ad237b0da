"""Tests of the project scaffolding: shipped charts and the shared service fixtures."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa

import ledgerpilot
from ledgerpilot.charts import AVAILABLE_CHARTS, CHARTS_DIR, chart_path, taxes_path
from tests.conftest import worker_index

SOURCE_MD = CHARTS_DIR / "SOURCE.md"


def _recorded_sha256() -> dict[str, str]:
    """Map ``<chart>/<file>.csv`` to the SHA-256 recorded in SOURCE.md."""
    text = SOURCE_MD.read_text(encoding="utf-8")
    pairs = re.findall(r"^([0-9a-f]{64})  (\S+\.csv)$", text, flags=re.MULTILINE)
    return {name: digest for digest, name in pairs}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_version_is_set() -> None:
    assert ledgerpilot.__version__ == "0.1.0"


def test_source_md_records_every_shipped_csv() -> None:
    shipped = {p.relative_to(CHARTS_DIR).as_posix() for p in CHARTS_DIR.glob("*/*.csv")}
    assert shipped == set(_recorded_sha256())
    assert shipped == {
        "hr/accounts.csv",
        "hr/taxes.csv",
        "generic/accounts.csv",
        "de_skr03/accounts.csv",
    }
    assert "LGPL-3" in SOURCE_MD.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", AVAILABLE_CHARTS)
def test_chart_path_exists_and_matches_recorded_sha256(name: str) -> None:
    path = chart_path(name)
    assert path == CHARTS_DIR / name / "accounts.csv"
    assert path.is_file()
    assert _sha256(path) == _recorded_sha256()[f"{name}/accounts.csv"]


@pytest.mark.parametrize(("name", "rows"), [("hr", 554), ("generic", 45), ("de_skr03", 1305)])
def test_chart_parses_with_id_code_and_type_columns(name: str, rows: int) -> None:
    with chart_path(name).open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == rows
    assert {"id", "code", "name", "account_type"} <= set(records[0])
    assert all(r["code"] for r in records if r["id"])


def test_taxes_path_only_for_charts_that_have_taxes() -> None:
    path = taxes_path("hr")
    assert path is not None
    assert _sha256(path) == _recorded_sha256()["hr/taxes.csv"]
    with path.open(encoding="utf-8", newline="") as handle:
        amounts = {r["amount"] for r in csv.DictReader(handle) if r["amount"]}
    assert Decimal("25") in {Decimal(a) for a in amounts}  # Croatian standard VAT rate
    assert taxes_path("generic") is None
    assert taxes_path("de_skr03") is None


@pytest.mark.parametrize("function", [chart_path, taxes_path])
def test_unknown_chart_raises_value_error_naming_the_choices(
    function: Callable[[str], object],
) -> None:
    with pytest.raises(ValueError, match="'fr_pcg'") as excinfo:
        function("fr_pcg")
    message = str(excinfo.value)
    for name in AVAILABLE_CHARTS:
        assert name in message


def test_sqlite_url_is_a_file_in_tmp_path(sqlite_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert (tmp_path / "ais.sqlite").is_file()


@pytest.mark.postgres
def test_postgres_url_gives_a_writable_database(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/lp_test_")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("CREATE TABLE scaffold_entry (id SERIAL PRIMARY KEY, amount NUMERIC(12,2))")
            )
            conn.execute(
                sa.text("INSERT INTO scaffold_entry (amount) VALUES (:a)"), {"a": Decimal("123.45")}
            )
        with engine.connect() as conn:
            amount = conn.execute(sa.text("SELECT amount FROM scaffold_entry")).scalar_one()
            server = conn.execute(sa.text("SHOW server_version")).scalar_one()
            name = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert amount == Decimal("123.45")
    assert int(server.split(".")[0]) >= 13  # DROP DATABASE ... WITH (FORCE)
    assert postgres_url.endswith("/" + name)


@pytest.mark.postgres
def test_fresh_postgres_url_is_empty_and_distinct(
    postgres_url: str, fresh_postgres_url: str
) -> None:
    assert fresh_postgres_url != postgres_url
    dbname = fresh_postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)


@pytest.mark.redis
def test_redis_url_round_trips_a_key_in_this_workers_db(redis_url: str) -> None:
    assert redis_url == f"redis://127.0.0.1:6379/{1 + worker_index() % 15}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert client.dbsize() == 0  # flushed before the test
        client.set("ledgerpilot:scaffold", "42.00")
        assert client.get("ledgerpilot:scaffold") == "42.00"
    finally:
        client.close()
