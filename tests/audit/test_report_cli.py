"""``ledgerpilot audit`` as a user runs it on a small synthetic company: files, JSON, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ledgerpilot.audit.report import CSV_COLUMNS
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
