"""The ``ledgerpilot`` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerpilot.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A small synthetic company (generic chart, 2 years) and its truth file."""
    tmp = tmp_path_factory.mktemp("company")
    url = f"sqlite:///{tmp / 'ais.sqlite'}"
    truth = tmp / "truth.jsonl"
    result = run(
        "synth",
        "--ais",
        url,
        "--chart",
        "generic",
        "--years",
        "2",
        "--inbox",
        "5",
        "--seed",
        "11",
        "--per-year",
        "150",
        "--truth",
        str(truth),
    )
    assert result.returncode == 0, result.stderr
    return url, truth


def first_truth(truth: Path) -> dict:
    return json.loads(truth.read_text().splitlines()[0])


def test_synth_writes_pending_inbox_and_truth(company: tuple[str, Path]) -> None:
    url, truth = company
    lines = truth.read_text().splitlines()
    assert len(lines) == 5
    assert all("entry" in json.loads(line) for line in lines)
    again = run("synth", "--ais", url, "--chart", "generic", "--years", "1", "--seed", "1")
    assert again.returncode == 2
    assert "already holds" in again.stderr


def test_validate_exit_codes_and_json_report(company: tuple[str, Path], tmp_path: Path) -> None:
    url, truth = company
    doc = first_truth(truth)
    scheme = {
        "document": doc["id"],
        "kind": doc["kind"],
        "explanation": "from the truth",
        "lines": doc["entry"]["lines"],
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps(scheme))
    result = run("validate", str(good), "--ais", url, "--document", doc["id"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"valid": True, "violations": []}

    scheme["lines"] = [*scheme["lines"], {"account": "NOPE", "debit": "1.00", "credit": "0.00"}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(scheme))
    result = run("validate", str(bad), "--ais", url, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    codes = [v["code"] for v in report["violations"]]
    assert codes == ["unknown_account", "unbalanced"]
    assert report["violations"][0]["line"] == len(scheme["lines"])

    result = run("validate", "-", "--ais", url, "--json", stdin="{not json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["violations"][0]["code"] == "malformed"

    result = run("validate", str(good), "--ais", url, "--document", "NO-SUCH-DOC", "--json")
    assert result.returncode == 2
    assert "NO-SUCH-DOC" in json.loads(result.stdout)["error"]

    missing_ais = f"sqlite:///{tmp_path / 'none.sqlite'}"
    result = run("validate", str(good), "--ais", missing_ais, "--json")
    assert result.returncode == 2
    assert not (tmp_path / "none.sqlite").exists()


def test_export_import_round_trip_through_the_cli(
    company: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = company
    first = tmp_path / "first"
    assert run("export", "--ais", url, "--out", str(first)).returncode == 0
    copy_url = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    result = run(
        "import",
        "--ais",
        copy_url,
        "--chart",
        str(first / "accounts.csv"),
        "--documents",
        str(first / "documents.jsonl"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    second = tmp_path / "second"
    assert run("export", "--ais", copy_url, "--out", str(second)).returncode == 0
    for name in ("accounts.csv", "documents.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    again = run(
        "import", "--ais", copy_url, "--documents", str(first / "documents.jsonl"), "--json"
    )
    assert again.returncode == 0
    assert json.loads(again.stdout)["inserted"] == 0


def test_import_reports_every_bad_line_and_writes_nothing(tmp_path: Path) -> None:
    chart = tmp_path / "chart.csv"
    chart.write_text("code,name,account_type\n1000,Bank,asset_cash\n6000,Expenses,expense\n")
    good = {
        "id": "D1",
        "kind": "other",
        "number": "1",
        "date": "2024-01-05",
        "partner": None,
        "currency": "EUR",
        "lines": [],
        "total_net": "10.00",
        "total_tax": "0.00",
        "total_gross": "10.00",
    }
    lines = [
        json.dumps(good),
        "{broken",
        json.dumps({**good, "id": "D2", "date": "2024-02-30"}),
        json.dumps({**good, "id": "D3"}),
    ]
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    result = run("import", "--ais", url, "--chart", str(chart), "--documents", str(docs), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [e["line"] for e in report["errors"]] == [2, 3]
    assert report["inserted"] == 0


def test_demo_builds_the_company_once(tmp_path: Path) -> None:
    env = {"LEDGERPILOT_DATA_DIR": str(tmp_path / "var")}
    result = run("demo", "--no-serve", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "demo" / "ais.sqlite").exists()
    assert "pending documents (inbox)" in result.stdout
    right = re.search(r"exactly right per the hidden truth\W+(\d+) of (\d+)", result.stdout)
    assert right is not None, result.stdout
    assert int(right.group(2)) == 60  # every inbox document was drafted (by the worker) and scored
    # The worker's log shows the drafts were its tasks, not done in the demo's own process.
    log = (tmp_path / "var" / "demo" / "worker.log").read_text()
    assert log.count("ledgerpilot.draft_document[") >= 60
    logins = dict(re.findall(r"demo user (\S+), password (\S+)", result.stdout))
    assert set(logins) == {"demo-clerk", "demo-approver"}
    again = run("demo", "--no-serve", env=env, cwd=tmp_path)
    assert again.returncode == 0
    assert "Building the demo company" not in again.stdout
    # A second run drafts nothing twice and gives the demo users new passwords.
    assert "exactly right per the hidden truth" in again.stdout
    relogins = dict(re.findall(r"demo user (\S+), password (\S+)", again.stdout))
    assert relogins["demo-approver"] != logins["demo-approver"]


def test_help_texts() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "validate",
        "import",
        "export",
        "synth",
        "demo",
        "worker",
        "beat",
        "web",
        "review",
        "post",
        "users",
        "migrate",
    ):
        assert command in result.stdout


def test_draft_stores_one_proposal_per_pending_document(
    company: tuple[str, Path], tmp_path: Path
) -> None:
    url, truth = company
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = run("draft", "--ais", url, "--store", store, "--json")
    assert result.returncode == 0, result.stderr
    outcomes = [json.loads(line) for line in result.stdout.splitlines()]
    inbox = [json.loads(line)["id"] for line in truth.read_text().splitlines()]
    assert sorted(o["document"] for o in outcomes) == sorted(inbox)
    for o in outcomes:
        assert o["status"] in ("proposed", "needs_review", "quarantined")
        assert 0.0 <= o["confidence"] <= 1.0
        if o["status"] == "proposed":
            assert o["violations"] == [] and o["scheme"]["lines"]
    again = run("draft", "--ais", url, "--store", store, "--json")
    assert again.returncode == 0
    assert again.stdout.strip() == ""  # every document already has its proposal
    no_model = run(
        "draft",
        "--ais",
        url,
        "--store",
        store,
        "--backend",
        "llm",
        env={"LEDGERPILOT_LLM_BASE_URL": ""},
    )
    assert no_model.returncode == 2
    assert "LEDGERPILOT_LLM_BASE_URL" in no_model.stderr


def test_eval_reports_metrics_and_the_baseline(company: tuple[str, Path], tmp_path: Path) -> None:
    url, truth = company
    inbox_year = int(first_truth(truth)["date"][:4])  # the history's last year is held out
    result = run(
        "eval",
        "--ais",
        url,
        "--holdout-from",
        f"{inbox_year - 1}-01-01",
        "--json",
        "--report",
        str(tmp_path / "report"),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backend"] == "memory" and report["documents"] > 50
    for name in (
        "parsed",
        "balanced",
        "valid",
        "accounts_correct",
        "exact_accounts",
        "exact_entry",
    ):
        assert 0.0 <= report["metrics"][name] <= 1.0
    assert report["metrics"]["proposed_valid"] == 1.0
    assert report["baseline"] is not None or report.get("baseline_error")
    assert (tmp_path / "report" / "report.html").exists()
    bad = run("eval", "--ais", url, "--holdout-from", "01/01/2024")
    assert bad.returncode == 2
