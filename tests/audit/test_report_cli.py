"""``ledgerpilot audit`` as a user runs it on a small synthetic company: files, JSON, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ledgerpilot.audit.report import CSV_COLUMNS
from ledgerpilot.review.audit_store import AuditBook
from ledgerpilot.review.store import ProposalStore
from tests.test_cli import run


@pytest.fixture(scope="module")
def ais(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small synthetic company: generic chart, 2 years of about 150 documents."""
    tmp = tmp_path_factory.mktemp("audit_company")
    url = f"sqlite:///{tmp / 'ais.sqlite'}"
    made = run(
        "synth",
        "--ais",
        url,
        "--chart",
        "generic",
        "--years",
        "2",
        "--inbox",
        "0",
        "--seed",
        "5",
        "--per-year",
        "150",
    )
    assert made.returncode == 0, made.stderr
    return url


def test_audit_json_and_report(ais: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    done = run(
        "audit", "--ais", ais, "--from", "2025-01-01", "--out", str(out_dir), "--json", "--top", "5"
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert {"entries_scanned", "findings", "checks"} <= set(body)
    assert body["entries_scanned"] > 100
    assert 0 < len(body["findings"]) <= 5
    scores = [f["score"] for f in body["findings"]]
    assert scores == sorted(scores, reverse=True)
    for found in body["findings"]:
        assert {"entry", "document", "score", "reasons"} <= set(found)
        assert found["date"] >= "2025-01-01"
        assert found["reasons"] and all({"check", "detail"} <= set(r) for r in found["reasons"])
    assert "benford" in body["checks"]
    assert (out_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with (out_dir / "findings.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) >= len(body["findings"])  # --top limits the listing, not the CSV
    assert [r["entry"] for r in rows[:5]] == [f["entry"] for f in body["findings"]]
    assert (out_dir / "weekday.png").read_bytes()[:4] == b"\x89PNG"


def test_audit_table_output(ais: str, tmp_path: Path) -> None:
    done = run("audit", "--ais", ais, "--to", "2024-06-30", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "findings in" in done.stdout
    assert "report written to" in done.stdout


def test_audit_refuses_bad_input(ais: str, tmp_path: Path) -> None:
    bad_date = run("audit", "--ais", ais, "--from", "2025-13-01", "--out", str(tmp_path))
    assert bad_date.returncode == 2
    assert "--from" in bad_date.stderr
    missing = run("audit", "--ais", f"sqlite:///{tmp_path / 'none.sqlite'}", "--out", str(tmp_path))
    assert missing.returncode == 2
    assert not (tmp_path / "report.html").exists()


def test_audit_stores_the_run_for_the_auditors_page(ais: str, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    done = run(
        "audit", "--ais", ais, "--from", "2025-01-01", "--out", str(tmp_path / "r"), "--json",
        "--top", "3", "--store", store,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    with ProposalStore(store) as opened:
        book = AuditBook(opened)
        stored = book.latest_run()
        assert stored is not None and stored.id == body["run"]
        assert (stored.source, stored.entries_scanned) == ("command", body["entries_scanned"])
        assert stored.report_dir == str((tmp_path / "r").resolve())
        page = book.findings(stored.id, per_page=1000)
    # every finding is stored (--top limits the listing only), in the same order, with lines
    with (tmp_path / "r" / "findings.csv").open(encoding="utf-8", newline="") as handle:
        assert [f.entry_id for f in page.items] == [r["entry"] for r in csv.DictReader(handle)]
    assert [f.entry_id for f in page.items[:3]] == [f["entry"] for f in body["findings"]]
    assert all(f.entry and f.entry["lines"] for f in page.items)
    table = run("audit", "--ais", ais, "--out", str(tmp_path / "t"), "--store", store)
    assert table.returncode == 0, table.stderr
    assert f"stored as audit run {stored.id + 1}" in table.stdout
