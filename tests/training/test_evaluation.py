"""The benchmark engine on a small synthetic company in a real SQLite AIS, and its report."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.agent.backends.base import DraftRequest, Proposal
from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.ledger import ChartOfAccounts
from ledgerpilot.synth import generate
from ledgerpilot.training.evaluation import run_eval
from ledgerpilot.training.report import CHARTS, write_report

needs_smart_importer = pytest.mark.skipif(
    importlib.util.find_spec("smart_importer") is None,
    reason="smart_importer is not installed (pip install 'smart-importer>=1.2')",
)

RATES = (
    "parsed",
    "balanced",
    "valid",
    "accounts_correct",
    "accounts_score",
    "exact_accounts",
    "exact_entry",
)
HOLDOUT = dt.date(2025, 1, 1)


@pytest.fixture
def ais(sqlite_url: str) -> Any:
    company = generate("generic", years=2, inbox=0, seed=5, per_year=300)
    with ReferenceAIS.create(sqlite_url) as opened:
        opened.load(company.history(), chart=company.chart)
        yield opened


def assert_rates(metrics: dict[str, Any]) -> None:
    for name in RATES:
        value = metrics[name]
        assert value is None or 0.0 <= value <= 1.0, (name, value)


@needs_smart_importer
def test_run_eval_returns_the_documented_shape(ais: ReferenceAIS) -> None:
    progress: list[tuple[int, int]] = []
    result = run_eval(
        ais, HOLDOUT, "memory", None, on_progress=lambda n, total: progress.append((n, total))
    )
    assert set(result) == {"backend", "holdout_from", "documents", "metrics", "by_kind", "baseline"}
    assert (result["backend"], result["holdout_from"]) == ("memory", "2025-01-01")
    held_out = ais.count_history(since=HOLDOUT)
    assert result["documents"] == held_out and progress[-1] == (held_out, held_out)
    metrics = result["metrics"]
    assert_rates(metrics)
    assert_rates(metrics["seen_partner"])
    assert_rates(metrics["unseen_partner"])
    assert metrics["seen_partner"]["documents"] + metrics["unseen_partner"]["documents"] == held_out
    assert metrics["proposed_valid"] == 1.0
    assert metrics["exact_entry"] >= 0.85
    routing = metrics["routing"]
    assert {"threshold", "coverage", "precision", "threshold_for_99_5"} <= set(routing)
    assert 0.0 <= routing["coverage"] <= 1.0
    assert sum(b["count"] for b in routing["calibration"]) == held_out
    assert metrics["seconds_per_document"] > 0
    assert sum(metrics["statuses"].values()) == held_out
    assert sum(k["documents"] for k in result["by_kind"].values()) == held_out
    for kind in result["by_kind"].values():
        assert_rates(kind)
    baseline = result["baseline"]
    assert set(baseline) == {"metrics", "by_kind", "note"}
    assert "settling" in baseline["note"]
    assert set(baseline["metrics"]) >= {"parsed", "accounts_correct", "exact_accounts"}
    assert 0.0 <= baseline["metrics"]["exact_accounts"] <= 1.0
    assert "exact_entry" not in baseline["metrics"]
    json.dumps(result, allow_nan=False)


def test_run_eval_without_baseline_and_with_a_factory(ais: ReferenceAIS) -> None:
    made: list[HistoryIndex] = []

    def factory(index: HistoryIndex, chart: ChartOfAccounts) -> MemoryBackend:
        made.append(index)
        return MemoryBackend(index, chart, calibrate=False)

    result = run_eval(ais, HOLDOUT, "memory", factory, baseline=False, limit=25)
    assert result["documents"] == 25
    assert result["baseline"] is None and "baseline_error" not in result
    # No leakage: the index holds only the history before the hold-out date.
    assert made[0].last_date is not None and made[0].last_date < HOLDOUT
    assert made[0].indexed == ais.count_history(until=HOLDOUT)


class Asked:
    """A memory backend that notes which documents it was asked, and from which thread."""

    name = "memory"

    def __init__(self, index: HistoryIndex, chart: ChartOfAccounts) -> None:
        self.memory = MemoryBackend(index, chart, calibrate=False)
        self.index = index
        self.documents: list[str] = []
        self.threads: set[str] = set()

    def propose(self, request: DraftRequest) -> Proposal:
        self.documents.append(request.document.id)
        self.threads.add(threading.current_thread().name)
        return self.memory.propose(request)


def test_run_eval_drafts_a_given_sample_in_the_hold_out_order(ais: ReferenceAIS) -> None:
    held = [d.id for d in ais.history(since=HOLDOUT) if d.entry is not None]
    made: list[Asked] = []

    def factory(index: HistoryIndex, chart: ChartOfAccounts) -> Asked:
        made.append(Asked(index, chart))
        return made[-1]

    sample = [held[40], held[3], held[17], held[3]]
    result = run_eval(ais, HOLDOUT, "memory", factory, baseline=False, documents=sample)
    assert result["documents"] == 3
    assert made[0].documents == [held[3], held[17], held[40]]
    assert made[0].index.indexed == ais.count_history(until=HOLDOUT)  # the history is whole
    earlier = next(d.id for d in ais.history(until=HOLDOUT))
    for wrong in ("no-such-document", earlier):
        with pytest.raises(ValueError, match="not posted documents of the hold-out") as caught:
            run_eval(ais, HOLDOUT, "memory", factory, baseline=False, documents=[held[0], wrong])
        assert wrong in str(caught.value) and held[0] not in str(caught.value)


def test_workers_draft_in_threads_with_the_same_figures(ais: ReferenceAIS) -> None:
    made: list[Asked] = []

    def factory(index: HistoryIndex, chart: ChartOfAccounts) -> Asked:
        made.append(Asked(index, chart))
        return made[-1]

    alone = run_eval(ais, HOLDOUT, "memory", factory, baseline=False, limit=60)
    progress: list[tuple[int, int]] = []
    together = run_eval(
        ais,
        HOLDOUT,
        "memory",
        factory,
        baseline=False,
        limit=60,
        workers=4,
        on_progress=lambda n, total: progress.append((n, total)),
    )
    assert made[0].threads == {threading.current_thread().name}
    assert made[1].threads and all(t.startswith("eval-draft") for t in made[1].threads)
    assert sorted(made[1].documents) == sorted(made[0].documents)
    assert progress == [(n, 60) for n in range(1, 61)]
    for result in (alone, together):
        for key in ("seconds_per_document", "index_seconds"):
            result["metrics"].pop(key)
    assert together == alone


def test_backends_other_than_memory_need_a_factory(ais: ReferenceAIS) -> None:
    with pytest.raises(ValueError, match="needs a factory"):
        run_eval(ais, HOLDOUT, "llm", None, baseline=False, limit=1)
    with pytest.raises(ValueError, match="unknown backend"):
        run_eval(ais, HOLDOUT, "oracle", None)


@needs_smart_importer
def test_smart_importer_can_be_the_backend_under_test(ais: ReferenceAIS) -> None:
    result = run_eval(ais, HOLDOUT, "smart_importer", None, limit=40)
    assert result["baseline"] is None
    assert result["documents"] == 40
    assert 0.0 <= result["metrics"]["exact_accounts"] <= 1.0


def test_write_report_writes_html_charts_and_json(ais: ReferenceAIS, tmp_path: Path) -> None:
    result = run_eval(ais, HOLDOUT, "memory", None, baseline=False, limit=60)
    page = write_report(result, tmp_path / "report")
    assert page == tmp_path / "report" / "report.html"
    html = page.read_text(encoding="utf-8")
    for name in CHARTS:
        chart = tmp_path / "report" / name
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"src='{name}'" in html
    saved = json.loads((tmp_path / "report" / "result.json").read_text(encoding="utf-8"))
    assert saved["documents"] == 60
    assert not any(isinstance(v, float) and math.isnan(v) for v in saved["metrics"].values())
