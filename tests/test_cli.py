"""The ``ledgerpilot`` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledgerpilot.connectors import ReferenceAIS

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


def test_review_from_the_command_line_then_post(company: tuple[str, Path], tmp_path: Path) -> None:
    source, _ = company
    ais_file = tmp_path / "ais.sqlite"
    shutil.copy(source.removeprefix("sqlite:///"), ais_file)  # posting changes the AIS
    ais = f"sqlite:///{ais_file}"
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    env = {"LEDGERPILOT_DATA_DIR": str(tmp_path / "var")}  # the queue's SQLite broker
    assert run("draft", "--ais", ais, "--store", store, "--json").returncode == 0
    for name, role in (("ana", "approver"), ("cleo", "clerk")):
        added = run(
            "users", "add", name, "--role", role, "--password-stdin", "--store", store,
            stdin="a long enough password\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    users = json.loads(run("users", "list", "--store", store, "--json").stdout)
    assert {(u["name"], u["role"]) for u in users} == {("ana", "approver"), ("cleo", "clerk")}

    queue = json.loads(run("review", "list", "--store", store, "--json").stdout)
    assert queue["total"] == 5
    proposed = [p for p in queue["proposals"] if p["status"] == "proposed"]
    assert len(proposed) >= 2
    first, second = proposed[0]["id"], proposed[1]["id"]
    shown = json.loads(run("review", "show", first, "--store", store, "--json").stdout)
    assert shown["id"] == first and shown["decisions"] == []

    by_clerk = run("review", "approve", first, "--user", "cleo", "--store", store, env=env)
    assert by_clerk.returncode == 1  # a clerk may edit, not approve
    approved = run("review", "approve", first, "--user", "ana", "--store", store, env=env)
    assert approved.returncode == 0, approved.stderr
    assert f"proposal {first} is approved, by ana" in approved.stdout
    again = run("review", "approve", first, "--user", "ana", "--store", store, env=env)
    assert "nothing to do" in again.stdout
    rejected = run(
        "review", "reject", second, "--user", "ana", "--reason", "not ours", "--store", store,
    )  # fmt: skip
    assert rejected.returncode == 0, rejected.stderr

    posted = run("post", "--ais", ais, "--store", store, "--json")
    assert posted.returncode == 0, posted.stderr
    (line,) = [json.loads(text) for text in posted.stdout.splitlines()]
    assert line["proposal"] == first and line["status"] == "posted" and line["ais_entry"]
    assert "nothing approved waits" in run("post", "--ais", ais, "--store", store).stdout
    log = json.loads(run("review", "show", first, "--store", store, "--json").stdout)
    assert [(d["user"], d["action"]) for d in log["decisions"]] == [
        ("ana", "approve"),
        ("ana", "post"),
    ]
    with ReferenceAIS(ais) as connector:
        document = connector.get_document(shown["document"])
    assert document is not None and document.entry is not None
    assert document.entry.id == line["ais_entry"]


def test_a_placeholder_secret_stops_every_command_with_a_clear_error(tmp_path: Path) -> None:
    env = {"LEDGERPILOT_DATA_DIR": str(tmp_path), "LEDGERPILOT_LLM_API_KEY": "change-me"}
    result = run("review", "list", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "llm_api_key: still the placeholder" in result.stderr
    assert "change-me" not in result.stderr  # the refused value is not echoed
