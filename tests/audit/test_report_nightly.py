"""The nightly audit: beat's schedule names it, and it writes a day's report under data_dir.

With a local model configured it also runs ``lm_surprise`` over the day, with the tiny model
of tests/training/test_train_decode.py (untrained: scoring needs no fine-tuning); a model
that cannot be loaded costs that check only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path

import pytest

from ledgerpilot.config import Settings
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.audit_store import AuditBook
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.synth import generate
from ledgerpilot.workers.app import create_app
from ledgerpilot.workers.audit_task import NIGHTLY_AUDIT, audit_day, report_dir

from ..training.test_train_decode import (
    base_model,
    one_thread,  # noqa: F401  (autouse: one torch thread)
)
from .isolated import run_script

__all__ = ["base_model"]  # a fixture used by the tests below


def company(tmp_path: Path) -> tuple[Settings, dt.date, int]:
    """A one-year company; its busiest day and how many entries are dated on it."""
    made = generate("generic", years=1, inbox=0, seed=7, per_year=150)
    url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    with ReferenceAIS.create(url) as ais:
        ais.load(made.history(), chart=made.chart)
        days = Counter(doc.date for doc in ais.history())
    day, count = days.most_common(1)[0]
    return Settings(data_dir=tmp_path / "var", ais_url=url), day, count


def test_nightly_audit_writes_the_days_report(tmp_path: Path) -> None:
    settings, day, count = company(tmp_path)
    summary = audit_day(settings, day)
    out = report_dir(settings, day)
    assert out == tmp_path / "var" / "audit" / day.isoformat()
    assert summary["day"] == day.isoformat()
    assert summary["entries_scanned"] == count
    assert summary["report"] == str(out / "report.html")
    assert (out / "report.html").is_file() and (out / "findings.csv").is_file()
    # beat runs it every night; run here in this process as the worker would
    app = create_app(settings)
    assert app.conf.beat_schedule["nightly-audit"]["task"] == NIGHTLY_AUDIT
    assert {"poll-ais", "post-approved"} <= set(app.conf.beat_schedule)
    again = app.tasks[NIGHTLY_AUDIT].apply(args=(day.isoformat(),)).get()
    assert again == {**summary, "run": summary["run"] + 1}
    # both runs are in the store, for the auditors' page
    with ProposalStore(settings.default_store_url()) as store:
        book = AuditBook(store)
        assert [r.id for r in book.runs()] == [again["run"], summary["run"]]
        stored = book.latest_run()
        assert stored is not None
        assert (stored.source, stored.period_from, stored.period_to) == ("nightly", day, day)
        assert stored.finding_count == summary["findings"]
        assert all(f.entry for f in book.findings(stored.id, per_page=1000).items)


def stored_checks(settings: Settings, run: int) -> set[str]:
    """The checks the stored run ``run`` summarises."""
    with ProposalStore(settings.default_store_url()) as store:
        stored = AuditBook(store).latest_run()
    assert stored is not None and stored.id == run
    return set(stored.checks)


def test_with_a_local_model_the_nightly_audit_scores_the_day(
    tmp_path: Path, base_model: Path
) -> None:
    plain, day, count = company(tmp_path)
    assert count >= 2
    settings = plain.model_copy(update={"local_model_dir": base_model, "local_adapters": []})
    summary = audit_day(settings, day)
    assert summary["entries_scanned"] == count
    # the day holds fewer entries than the limit (100): the model scores every one
    assert summary["lm_surprise"]["scored"] == count
    assert summary["lm_surprise"]["model"] == base_model.name
    assert summary["lm_surprise"]["fired"] >= 0
    assert "lm_surprise" in stored_checks(settings, summary["run"])
    html = (report_dir(settings, day) / "report.html").read_text(encoding="utf-8")
    assert "<code>lm_surprise</code>" in html
    # the limit comes from the settings; 0 turns the check off
    one = audit_day(settings.model_copy(update={"audit_lm_limit": 1}), day)
    assert one["lm_surprise"]["scored"] == 1
    off = audit_day(settings.model_copy(update={"audit_lm_limit": 0}), day)
    assert off["lm_surprise"] == {
        "scored": 0,
        "skipped": "turned off (LEDGERPILOT_AUDIT_LM_LIMIT=0)",
    }
    assert "lm_surprise" not in stored_checks(settings, off["run"])


@pytest.mark.parametrize("broken", ["missing model", "unreadable model", "missing adapter"])
def test_a_model_that_cannot_be_loaded_costs_only_lm_surprise(
    tmp_path: Path, base_model: Path, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    plain, day, count = company(tmp_path)
    expected = audit_day(plain, day)
    assert expected["lm_surprise"] == {
        "scored": 0,
        "skipped": "no local model (LEDGERPILOT_LOCAL_MODEL_DIR)",
    }
    csv = report_dir(plain, day) / "findings.csv"
    findings = csv.read_text(encoding="utf-8")
    plain_checks = stored_checks(plain, expected["run"])
    model, adapters = tmp_path / "no-model", []
    if broken == "unreadable model":
        model.mkdir()
        (model / "config.json").write_text("{not json", encoding="utf-8")
        (model / "tokenizer.json").write_text("{not json", encoding="utf-8")
    elif broken == "missing adapter":
        model, adapters = base_model, [tmp_path / "no-adapter"]
    settings = plain.model_copy(update={"local_model_dir": model, "local_adapters": adapters})
    with caplog.at_level(logging.WARNING):
        summary = audit_day(settings, day)
    reason = summary["lm_surprise"]["skipped"]
    assert summary["lm_surprise"] == {"scored": 0, "skipped": reason}
    assert reason.startswith(f"cannot load the model {model}: ")
    if broken == "missing model":
        assert reason.endswith(": the directory does not exist")
    elif broken == "missing adapter":
        assert reason.endswith(f": the adapter directory {adapters[0]} does not exist")
    assert any(reason in r.getMessage() and r.exc_info for r in caplog.records)
    # the plain checks are all there: the same findings, written and stored
    assert summary["entries_scanned"] == count
    assert summary["findings"] == expected["findings"]
    assert csv.read_text(encoding="utf-8") == findings
    assert stored_checks(settings, summary["run"]) == plain_checks
    assert "lm_surprise" not in plain_checks


def test_without_a_loadable_model_torch_is_never_imported(tmp_path: Path) -> None:
    """Not configured, or configured but missing: the worker process stays light."""
    settings, day, _ = company(tmp_path)
    script = (
        "import datetime as dt, json, sys\n"
        "from pathlib import Path\n"
        "from ledgerpilot.config import Settings\n"
        "from ledgerpilot.workers.audit_task import audit_day\n"
        "day = dt.date.fromisoformat(sys.argv[3])\n"
        "runs = [audit_day(Settings(data_dir=Path(sys.argv[1]), ais_url=sys.argv[2],"
        " local_model_dir=model), day)['lm_surprise'] for model in (None, sys.argv[4])]\n"
        "print(json.dumps({'runs': runs,"
        " 'heavy': sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules)}))\n"
    )
    args = [str(settings.data_dir), settings.default_ais_url(), day.isoformat()]
    seen = run_script(
        script, *args, str(tmp_path / "no-model"), cwd=tmp_path, drop_env="LEDGERPILOT_"
    )
    assert [run["scored"] for run in seen["runs"]] == [0, 0]
    assert seen["runs"][0]["skipped"] == "no local model (LEDGERPILOT_LOCAL_MODEL_DIR)"
    assert seen["runs"][1]["skipped"].endswith("no-model: the directory does not exist")
    assert seen["heavy"] == []
