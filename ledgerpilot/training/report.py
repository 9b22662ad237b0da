"""The benchmark's HTML report: ``ledgerpilot eval --report DIR``.

:func:`write_report` writes ``result.json`` (the :func:`~ledgerpilot.training.evaluation.run_eval`
result as is), three charts as PNG (matplotlib, Agg backend: no display needed) and a
self-contained ``report.html`` that shows them with the figures in tables:

* ``accuracy_by_kind.png``: exact accounts and exact entries per kind of document, ours
  beside smart_importer's exact accounts;
* ``calibration.png``: the reliability diagram, accuracy (exact entries) against the mean
  confidence per confidence bin;
* ``coverage_precision.png``: the share of documents routed at or above each threshold and
  the precision among them, with the 99.5 % precision target.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

CHARTS = ("accuracy_by_kind.png", "calibration.png", "coverage_precision.png")
"""The PNG files :func:`write_report` writes beside ``report.html``."""

_OURS = "#1f5fa8"
_BASELINE = "#c8702a"


def write_report(result: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``report.html``, its PNG charts and ``result.json`` into ``out_dir``.

    Creates the directory if needed and returns the path of ``report.html``. A result
    without a baseline or without routing figures gets the charts it has data for.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    _accuracy_by_kind(result, out / CHARTS[0])
    routing = result.get("metrics", {}).get("routing", {})
    _calibration(routing.get("calibration") or [], out / CHARTS[1])
    _coverage_precision(routing.get("curve") or [], routing, out / CHARTS[2])
    page = out / "report.html"
    page.write_text(_html(result), encoding="utf-8")
    return page


def _value(x: object) -> float:
    return float(x) if isinstance(x, (int, float)) and not math.isnan(float(x)) else 0.0


def _accuracy_by_kind(result: Mapping[str, Any], path: Path) -> None:
    by_kind: Mapping[str, Mapping[str, Any]] = result.get("by_kind") or {}
    baseline = (result.get("baseline") or {}).get("by_kind") or {}
    kinds = list(by_kind)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(kinds) + 2), 4.2))
    width = 0.27
    xs = range(len(kinds))
    ax.bar(
        [x - width for x in xs],
        [_value(by_kind[k].get("exact_accounts")) for k in kinds],
        width,
        label="exact accounts (ours)",
        color=_OURS,
        alpha=0.55,
    )
    ax.bar(
        list(xs),
        [_value(by_kind[k].get("exact_entry")) for k in kinds],
        width,
        label="exact entry (ours)",
        color=_OURS,
    )
    if baseline:
        ax.bar(
            [x + width for x in xs],
            [_value((baseline.get(k) or {}).get("exact_accounts")) for k in kinds],
            width,
            label="exact accounts (smart_importer)",
            color=_BASELINE,
        )
    ax.set_xticks(list(xs))
    ax.set_xticklabels([k.replace("_", "\n") for k in kinds], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of documents")
    ax.set_title(f"Accuracy by kind: {result.get('backend', '')}")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _calibration(bins: Sequence[Mapping[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    filled = [b for b in bins if b.get("count")]
    if filled:
        ax.plot(
            [_value(b.get("mean_confidence")) for b in filled],
            [_value(b.get("accuracy")) for b in filled],
            marker="o",
            color=_OURS,
            label="exact entries",
        )
        for b in filled:
            ax.annotate(
                str(b["count"]),
                (_value(b.get("mean_confidence")), _value(b.get("accuracy"))),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (mean of the bin)")
    ax.set_ylabel("share exact")
    ax.set_title("Confidence calibration")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _coverage_precision(
    curve: Sequence[Mapping[str, Any]], routing: Mapping[str, Any], path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    points = [p for p in curve if p.get("precision") is not None]
    if points:
        ax.plot(
            [_value(p["coverage"]) for p in points],
            [_value(p["precision"]) for p in points],
            marker="o",
            color=_OURS,
        )
        for p in points[:: max(1, len(points) // 8)]:
            ax.annotate(
                f"{_value(p['threshold']):.3f}",
                (_value(p["coverage"]), _value(p["precision"])),
                textcoords="offset points",
                xytext=(3, 4),
                fontsize=7,
            )
    ax.axhline(0.995, linestyle="--", color="grey", linewidth=1, label="99.5 % precision")
    target = routing.get("threshold_for_99_5")
    if target:
        ax.axvline(
            _value(target.get("coverage")),
            linestyle=":",
            color=_BASELINE,
            label=f"coverage at 99.5 %: {_value(target.get('coverage')):.1%}",
        )
    low = min([_value(p["precision"]) for p in points] + [0.95])
    ax.set_ylim(max(0.0, low - 0.01), 1.001)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("coverage (share of documents at or above the threshold)")
    ax.set_ylabel("precision (share exact)")
    ax.set_title("Coverage and precision of routing")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: Mapping[str, Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("", *columns))
    body = "".join(
        "<tr><th>"
        + html.escape(name)
        + "</th>"
        + "".join(f"<td>{_fmt(row.get(c))}</td>" for c in columns)
        + "</tr>"
        for name, row in rows.items()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


SCHEME_METRICS = (
    "parsed",
    "balanced",
    "valid",
    "accounts_correct",
    "accounts_score",
    "exact_accounts",
    "exact_entry",
)
"""The metrics of a drafted scheme, in the order reports show them."""
METRICS = ("documents", *SCHEME_METRICS)


def _html(result: Mapping[str, Any]) -> str:
    metrics = result.get("metrics") or {}
    overall = {
        "all documents": metrics,
        "partners seen before": metrics.get("seen_partner") or {},
        "partners never seen": metrics.get("unseen_partner") or {},
    }
    baseline = result.get("baseline")
    routing = metrics.get("routing") or {}
    target = routing.get("threshold_for_99_5") or {}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>ledgerpilot eval: {html.escape(str(result.get('backend')))}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:right}th{background:#f3f3f3}"
        "img{max-width:100%;margin:1em 1em 1em 0}</style></head><body>",
        f"<h1>Benchmark of the <code>{html.escape(str(result.get('backend')))}</code> backend</h1>",
        f"<p>{result.get('documents')} documents posted from "
        f"{html.escape(str(result.get('holdout_from')))} on, drafted as if new and compared "
        "with what was posted. History before that date only.</p>",
        "<h2>Overall</h2>",
        _table(overall, METRICS),
        f"<p>Proposed drafts that are valid: {_fmt(metrics.get('proposed_valid'))}. "
        f"Seconds per document: {_fmt(metrics.get('seconds_per_document'))}.</p>",
        "<h2>Routing</h2>",
        f"<p>At the threshold {_fmt(routing.get('threshold'))}: coverage "
        f"{_fmt(routing.get('coverage'))}, precision {_fmt(routing.get('precision'))}. "
        f"For 99.5 % precision: threshold {_fmt(target.get('threshold'))}, coverage "
        f"{_fmt(target.get('coverage'))}.</p>",
        "<h2>By kind</h2>",
        _table(result.get("by_kind") or {}, METRICS),
    ]
    if baseline:
        parts += [
            "<h2>Baseline: smart_importer</h2>",
            f"<p>{html.escape(str(baseline.get('note', '')))}</p>",
            _table(
                {"all documents": baseline.get("metrics") or {}, **(baseline.get("by_kind") or {})},
                ("documents", "parsed", "accounts_correct", "accounts_score", "exact_accounts"),
            ),
        ]
    elif result.get("baseline_error"):
        parts.append(f"<p>Baseline not run: {html.escape(str(result.get('baseline_error')))}</p>")
    parts += [f"<img src='{name}' alt='{name}'>" for name in CHARTS]
    parts.append("</body></html>")
    return "\n".join(parts)
