"""``ledgerpilot ais check``: what a database or a mapping lacks, named, before any work starts.

A small company in the made-up legacy schema (:mod:`.test_mapping_legacy`) is checked
through its mapping, then through mappings broken one way each: a missing table, a
missing column, an expression that fails, a pending condition that matches nothing, an
account class without a type; and a database with no posting history. The reference
schema is checked too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from ledgerpilot.cli import app
from ledgerpilot.connectors import AISNotFound, CheckReport, ReferenceAIS, check_ais, open_ais
from ledgerpilot.synth import SyntheticCompany, generate

from .test_mapping_legacy import LEGACY_MAPPING, load_legacy, write_mapping


@pytest.fixture(scope="module")
def tiny() -> SyntheticCompany:
    return generate("generic", years=1, inbox=3, seed=2, per_year=100)


@pytest.fixture(scope="module")
def legacy_url(tmp_path_factory: pytest.TempPathFactory, tiny: SyntheticCompany) -> str:
    """The tiny company in the legacy schema; the checks only read it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('legacy') / 'legacy.sqlite'}"
    engine = create_engine(url)
    try:
        load_legacy(engine, tiny.chart, [*tiny.history(), *tiny.inbox])
    finally:
        engine.dispose()
    return url


def _check(url: str, tmp_path: Path, text: str = LEGACY_MAPPING) -> CheckReport:
    return check_ais(url, write_mapping(tmp_path, text))


def _broken(old: str, new: str) -> str:
    assert old in LEGACY_MAPPING
    return LEGACY_MAPPING.replace(old, new, 1)


def _errors(report: CheckReport) -> list[str]:
    return [f"{i.subject}: {i.message}" for i in report.items if i.severity == "error"]


def _warnings(report: CheckReport) -> list[str]:
    return [f"{i.subject}: {i.message}" for i in report.items if i.severity == "warning"]


def test_a_sound_mapping_passes_with_its_counts(
    legacy_url: str, tmp_path: Path, tiny: SyntheticCompany
) -> None:
    report = _check(legacy_url, tmp_path)
    assert report.ok, _errors(report)
    assert report.kind == "mapping"
    facts = " ".join(i.message for i in report.items if i.severity == "info")
    assert f"{len(list(tiny.history()))} posted documents" in facts
    assert f"{len(tiny.inbox)} pending documents" in facts
    assert f"{len(tiny.chart)} accounts" in facts
    assert _warnings(report) == []


def test_a_missing_table_is_named(legacy_url: str, tmp_path: Path) -> None:
    text = _broken('table = "gl_posting"', 'table = "gl_postings"')
    report = _check(legacy_url, tmp_path, text)
    assert not report.ok
    assert any("table 'gl_postings'" in e and "journal lines" in e for e in _errors(report))
    with pytest.raises(AISNotFound, match="gl_postings"):
        open_ais(legacy_url, write_mapping(tmp_path, text))


def test_a_missing_column_is_named(legacy_url: str, tmp_path: Path) -> None:
    report = _check(
        legacy_url, tmp_path, _broken('total_gross = "gross_cents"', 'total_gross = "gros_cents"')
    )
    assert not report.ok
    assert any(
        e.startswith("voucher.gros_cents") and "columns.total_gross" in e for e in _errors(report)
    )


def test_a_missing_column_of_the_write_side_is_named(legacy_url: str, tmp_path: Path) -> None:
    report = _check(
        legacy_url, tmp_path, _broken('ext_ref = ":posting_key"', 'ext_reference = ":posting_key"')
    )
    assert any(
        e.startswith("gl_batch.ext_reference") and "write.journal_entry" in e
        for e in _errors(report)
    )


def test_a_bad_expression_is_named_with_the_database_message(
    legacy_url: str, tmp_path: Path
) -> None:
    report = _check(
        legacy_url, tmp_path, _broken('tax_rate = "vat_bp / 100.0"', 'tax_rate = "vat_bp / / 100"')
    )
    errors = _errors(report)
    assert any("document_lines.columns.tax_rate" in e and "vat_bp / / 100" in e for e in errors)
    report = _check(
        legacy_url,
        tmp_path,
        _broken("pending = \"status = 'OPEN'\"", "pending = \"state = 'OPEN'\""),
    )
    assert any("documents.pending" in e and "state" in e for e in _errors(report))
    report = _check(
        legacy_url,
        tmp_path,
        _broken('amount_cents = ":amount_minor"', 'amount_cents = "round(:amount_minor"'),
    )
    assert any("write.journal_line.values.amount_cents" in e for e in _errors(report))


def test_a_pending_condition_matching_nothing_is_a_warning(legacy_url: str, tmp_path: Path) -> None:
    report = _check(
        legacy_url,
        tmp_path,
        _broken("pending = \"status = 'OPEN'\"", "pending = \"status = 'open'\""),
    )
    assert report.ok
    assert any("status = 'open'" in w and "matches no document" in w for w in _warnings(report))


def test_accounts_without_a_known_type_are_a_warning(legacy_url: str, tmp_path: Path) -> None:
    report = _check(legacy_url, tmp_path, _broken('"BANK" = "asset_cash"\n', ""))
    assert report.ok
    assert any("without a type" in w and "'BANK'" in w for w in _warnings(report))


def test_no_posting_history_is_a_warning(tmp_path: Path, tiny: SyntheticCompany) -> None:
    url = f"sqlite:///{tmp_path / 'inbox-only.sqlite'}"
    engine = create_engine(url)
    try:
        load_legacy(engine, tiny.chart, tiny.inbox)
    finally:
        engine.dispose()
    report = _check(url, tmp_path)
    assert report.ok
    assert any(w.startswith("history: no posting history") for w in _warnings(report))
    with ReferenceAIS.create(f"sqlite:///{tmp_path / 'reference.sqlite'}") as ais:
        ais.load(tiny.inbox, chart=tiny.chart)
        report = ais.check()
    assert report.ok and report.kind == "reference"
    assert any(w.startswith("history: no posting history") for w in _warnings(report))


def test_a_database_without_the_reference_schema_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    create_engine(f"sqlite:///{path}").connect().close()
    report = check_ais(f"sqlite:///{path}")
    assert not report.ok
    assert any("no reference AIS schema" in e for e in _errors(report))
    report = check_ais(f"sqlite:///{tmp_path / 'missing.sqlite'}")
    assert any("does not exist" in e for e in _errors(report))


def test_the_command_exits_1_on_errors_and_0_on_warnings(legacy_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = write_mapping(tmp_path, _broken('table = "gl_posting"', 'table = "gl_postings"'))
    result = runner.invoke(app, ["ais", "check", "--ais", legacy_url, "--mapping", str(bad)])
    assert result.exit_code == 1
    assert "gl_postings" in result.output and "fix the errors first" in result.output
    warned = write_mapping(tmp_path, _broken('"BANK" = "asset_cash"\n', ""))
    result = runner.invoke(
        app, ["ais", "check", "--ais", legacy_url, "--mapping", str(warned), "--json"]
    )
    assert result.exit_code == 0
    body = json.loads(result.output)
    assert body["ok"] is True
    assert any(i["severity"] == "warning" for i in body["items"])
    unknown = write_mapping(tmp_path, LEGACY_MAPPING.replace("[mapping]", "[mapping]\ncolour = 1"))
    result = runner.invoke(app, ["ais", "check", "--ais", legacy_url, "--mapping", str(unknown)])
    assert result.exit_code == 1
    assert "unknown key 'mapping.colour'" in result.output
