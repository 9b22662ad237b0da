"""The benchmark: draft held-out posted documents as if they were new, score against history.

:func:`run_eval` is the engine behind ``ledgerpilot eval``. It indexes the AIS's history
before ``holdout_from`` (and nothing after it: recall, the backend and the baseline see
only that history), takes every posted document from that date on, strips its entry, and
drafts it as the agent would: recall, propose, check against the chart and the document's
figures, repair (the violations sent back, at most ``max_repairs`` times), route. Each
draft is scored against the entry that was actually posted
(:func:`ledgerpilot.training.metrics.score`).

The result is a plain JSON-able dict (see :func:`run_eval`); rates over no documents are
``None``. smart_importer runs beside the backend in the same run as a baseline; it
predicts accounts only and is handed each document's settling account (see
:mod:`ledgerpilot.training.baseline_smart_importer`), so only account metrics are given
for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerpilot.agent.backends.base import Backend, BackendUnavailable, DraftRequest, Proposal
from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.policy import RoutingPolicy, decide
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.connectors import AIS
from ledgerpilot.ledger import ChartOfAccounts, Document, EntryLine, PostingScheme, Violation
from ledgerpilot.ledger import validate as validate_scheme

from . import baseline_smart_importer
from .metrics import (
    BOOLEAN_METRICS,
    DocumentScore,
    calibration,
    coverage_precision,
    score,
    summarize,
    threshold_for_precision,
)

BACKENDS = ("memory", "llm", "local", "auto", "smart_importer")
"""Backend names ``ledgerpilot eval`` accepts."""

MakeBackend = Callable[[HistoryIndex, ChartOfAccounts], Backend]
"""Builds the backend under test from the index of the history and the chart."""

ProgressCallback = Callable[[int, int], None]
"""Called with (documents drafted, documents in all) after each document."""

PRECISION_TARGET = 0.995
ACCOUNT_METRICS = ("parsed", "accounts_correct", "accounts_score", "exact_accounts")
"""What the smart_importer baseline can be measured on: it proposes accounts, no amounts."""

BASELINE_NOTE = (
    "smart_importer predicts account combinations, not amounts: only account metrics. It is "
    "handed each document's settling posting (the payable, receivable or bank line of the "
    "gold entry, as an importer knows its own account), which favours it; documents with no "
    "settling line (payroll, depreciation, most other entries) get no prediction."
)


@dataclass(frozen=True, slots=True)
class Draft:
    """One held-out document drafted: what came back, what the check found, where it went."""

    document: Document
    proposal: Proposal | None
    violations: tuple[Violation, ...]
    status: str
    attempts: int


def default_backend(name: str, index: HistoryIndex, chart: ChartOfAccounts) -> Backend:
    """The backend ``name`` when the caller gives no factory: only ``memory`` needs none."""
    if name == "memory":
        return MemoryBackend(index, chart)
    raise ValueError(
        f"backend {name!r} needs a factory (make_backend): it is configured from settings"
    )


def draft_in_process(
    backend: Backend,
    index: HistoryIndex,
    chart: ChartOfAccounts,
    document: Document,
    policy: RoutingPolicy,
    max_repairs: int = 2,
) -> Draft:
    """Draft ``document`` (its entry already stripped) as the agent's graph does, in process."""
    found = document.check()
    if found:
        return Draft(document, None, tuple(found), decide(None, found, policy).status, 0)
    examples = tuple(r.document for r in index.recall(document, k=5))
    request = DraftRequest(document, chart, examples)
    proposal: Proposal | None = None
    violations: tuple[Violation, ...] = ()
    attempt = 0
    for attempt in range(1, max_repairs + 2):
        try:
            proposal = backend.propose(request)
        except BackendUnavailable as exc:
            proposal = Proposal(backend.name, None, 0.0, note=f"backend unavailable: {exc}")
            violations = ()
            break
        if proposal.scheme is None:
            violations = proposal.parse_violations
        else:
            violations = tuple(proposal.parse_violations) + tuple(
                validate_scheme(proposal.scheme, chart, document)
            )
        if proposal.scheme is not None and not violations:
            break
        previous = proposal.raw or (
            json.dumps(proposal.scheme.to_json()) if proposal.scheme is not None else ""
        )
        request = DraftRequest(document, chart, examples, violations, previous, attempt + 1)
    status = decide(proposal, violations, policy).status
    return Draft(document, proposal, violations, status, attempt)


def run_eval(
    ais: AIS,
    holdout_from: dt.date,
    backend_name: str,
    make_backend: MakeBackend | None = None,
    baseline: bool = True,
    limit: int | None = None,
    on_progress: ProgressCallback | None = None,
    policy: RoutingPolicy | None = None,
    max_repairs: int = 2,
    documents: Iterable[str] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Benchmark ``backend_name`` on the AIS's documents posted from ``holdout_from`` on.

    Returns ``{"backend", "holdout_from", "documents", "metrics", "by_kind", "baseline"}``
    (plus ``"baseline_error"`` when the baseline could not run). ``metrics``: ``parsed``,
    ``balanced``, ``valid``, ``accounts_correct``, ``accounts_score``, ``exact_accounts``,
    ``exact_entry``, ``proposed_valid`` (share of ``proposed`` drafts that are valid),
    ``seen_partner`` / ``unseen_partner`` (the same on documents whose partner has / has
    no earlier document; documents without a partner count as seen), ``routing``
    (``threshold``, ``coverage`` and ``precision`` of exact entries among the drafts
    proposed at or above it, ``threshold_for_99_5``, ``calibration``, ``curve``),
    ``statuses``, ``seconds_per_document`` (drafting, validation and routing, without the
    index build) and ``index_seconds``. ``by_kind``: the same rates per document kind.
    ``baseline``: smart_importer's account metrics, overall and by kind, or ``None``.
    ``backend_name == "smart_importer"`` evaluates the baseline itself. ``documents``: the
    ids of the held-out documents to draft (a fixed sample; an id that is not a posted
    document of the hold-out raises ``ValueError``), in the hold-out's order; ``limit``
    drafts only the first of them.

    ``workers`` drafts that many documents at once, each in its own thread (the backend is
    shared: a ``local`` backend with a ``batch_size`` decodes their requests together);
    the drafts and figures keep the hold-out's order, and ``seconds_per_document`` is the
    wall time over the number of documents.
    """
    if backend_name not in BACKENDS:
        raise ValueError(f"unknown backend {backend_name!r}; one of {', '.join(BACKENDS)}")
    policy = policy or RoutingPolicy()
    chart = ais.chart()
    started = time.perf_counter()
    index = HistoryIndex.build(ais.history(until=holdout_from), chart)
    index_seconds = time.perf_counter() - started
    held_out = [d for d in ais.history(since=holdout_from) if d.entry is not None]
    if documents is not None:
        wanted = list(dict.fromkeys(documents))
        known = {d.id for d in held_out}
        missing = [i for i in wanted if i not in known]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if missing[5:] else ""
            )
            raise ValueError(
                f"{len(missing)} document id(s) are not posted documents of the hold-out "
                f"from {holdout_from.isoformat()}: {shown}"
            )
        chosen = set(wanted)
        held_out = [d for d in held_out if d.id in chosen]
    if limit is not None:
        held_out = held_out[:limit]
    seen = [d.partner is None or index.knows_partner(d) for d in held_out]
    result: dict[str, Any] = {
        "backend": backend_name,
        "holdout_from": holdout_from.isoformat(),
        "documents": len(held_out),
    }
    if backend_name == "smart_importer":
        outcome = _baseline(ais, holdout_from, held_out, chart, seen)
        if isinstance(outcome, str):
            raise RuntimeError(f"smart_importer could not run: {outcome}")
        result["metrics"] = {**outcome["metrics"], "index_seconds": _round(index_seconds)}
        result["by_kind"] = outcome["by_kind"]
        result["baseline"] = None
        result["baseline_error"] = "the backend under test is smart_importer itself"
        return result
    backend = (make_backend or _default_factory(backend_name))(index, chart)
    started = time.perf_counter()
    drafts = _draft_all(backend, index, chart, held_out, policy, max_repairs, workers, on_progress)
    seconds = time.perf_counter() - started
    scores = [_score(d, gold) for d, gold in zip(drafts, held_out, strict=True)]
    metrics = _metrics(drafts, scores, seen, policy)
    metrics["seconds_per_document"] = _round(seconds / len(drafts)) if drafts else None
    metrics["index_seconds"] = _round(index_seconds)
    result["metrics"] = metrics
    result["by_kind"] = {
        kind: _metrics([drafts[i] for i in idx], [scores[i] for i in idx], None, policy)
        for kind, idx in _groups(d.kind for d in held_out).items()
    }
    result["baseline"] = None
    if baseline:
        outcome = _baseline(ais, holdout_from, held_out, chart, seen)
        if isinstance(outcome, str):
            result["baseline_error"] = outcome
        else:
            result["baseline"] = outcome
    return result


def _draft_all(
    backend: Backend,
    index: HistoryIndex,
    chart: ChartOfAccounts,
    held_out: Sequence[Document],
    policy: RoutingPolicy,
    max_repairs: int,
    workers: int,
    on_progress: ProgressCallback | None,
) -> list[Draft]:
    """Each held-out document drafted (its entry stripped), in order; ``workers`` at a time.

    With several workers the documents are taken grouped by kind and number of lines
    (the drafts come back in the hold-out's order).

    The index is only read once built (its caches fill with the same values whoever asks),
    the chart and the policy are values: the threads share them and the backend.
    """

    def draft(doc: Document) -> Draft:
        stripped = dataclasses.replace(doc, entry=None)
        return draft_in_process(backend, index, chart, stripped, policy, max_repairs)

    total = len(held_out)
    if workers <= 1:
        drafts = []
        for n, doc in enumerate(held_out, start=1):
            drafts.append(draft(doc))
            if on_progress is not None:
                on_progress(n, total)
        return drafts
    # Taken grouped by kind and size: documents drafted at the same time are alike, so a
    # batching backend pads its prompts less and its answers end closer together.
    order = sorted(range(total), key=lambda i: (held_out[i].kind, len(held_out[i].lines), i))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-draft")
    try:
        futures = {i: pool.submit(draft, held_out[i]) for i in order}
        for n, future in enumerate(as_completed(futures.values()), start=1):
            future.result()  # the first failure stops the run
            if on_progress is not None:
                on_progress(n, total)
        return [futures[i].result() for i in range(total)]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _default_factory(name: str) -> MakeBackend:
    return lambda index, chart: default_backend(name, index, chart)


def _score(d: Draft, gold: Document) -> DocumentScore:
    assert gold.entry is not None
    scheme = d.proposal.scheme if d.proposal is not None else None
    return score(scheme, gold.entry.lines, valid=scheme is not None and not d.violations)


def _groups(keys: Iterable[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        out.setdefault(key, []).append(i)
    return dict(sorted(out.items()))


def _round(value: float | None, places: int = 6) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, places)


def _rates(scores: Sequence[DocumentScore], names: Sequence[str] | None = None) -> dict[str, Any]:
    summary = summarize(scores)
    out: dict[str, Any] = {"documents": len(scores)}
    for name in names or (*BOOLEAN_METRICS, "accounts_score"):
        out[name] = _round(summary[name])
    return out


def _metrics(
    drafts: Sequence[Draft],
    scores: Sequence[DocumentScore],
    seen: Sequence[bool] | None,
    policy: RoutingPolicy,
) -> dict[str, Any]:
    out = _rates(scores)
    proposed = [s for d, s in zip(drafts, scores, strict=True) if d.status == "proposed"]
    out["proposed_valid"] = (
        _round(sum(s.valid for s in proposed) / len(proposed)) if proposed else None
    )
    if seen is not None:
        out["seen_partner"] = _rates([s for s, k in zip(scores, seen, strict=True) if k])
        out["unseen_partner"] = _rates([s for s, k in zip(scores, seen, strict=True) if not k])
    out["routing"] = _routing(drafts, scores, policy, full=seen is not None)
    statuses = {"proposed": 0, "needs_review": 0, "quarantined": 0}
    for d in drafts:
        statuses[d.status] = statuses.get(d.status, 0) + 1
    out["statuses"] = statuses
    return out


def _confidence(d: Draft) -> float:
    """The confidence routing compares: a draft that is not proposed is never auto-approved."""
    if d.status != "proposed" or d.proposal is None:
        return 0.0
    return min(1.0, max(0.0, float(d.proposal.confidence)))


def _routing(
    drafts: Sequence[Draft], scores: Sequence[DocumentScore], policy: RoutingPolicy, full: bool
) -> dict[str, Any]:
    pairs = [(_confidence(d), s.exact_entry) for d, s in zip(drafts, scores, strict=True)]
    threshold = (
        policy.auto_approve_at if policy.auto_approve_at is not None else policy.review_below
    )
    eligible = [(c, ok) for c, ok in pairs if c > 0.0]
    coverage, _ = coverage_precision(pairs, threshold)
    _, precision = coverage_precision(eligible, threshold)
    found = threshold_for_precision(eligible, PRECISION_TARGET)
    out: dict[str, Any] = {
        "threshold": threshold,
        "coverage": _round(coverage),
        "precision": _round(precision),
        "threshold_for_99_5": None
        if found is None
        else {
            "threshold": _round(found[0]),
            "coverage": _round(found[1] * len(eligible) / len(pairs)),
        },
    }
    if full:
        # The reliability diagram uses every draft's own confidence, routed or not.
        stated = [
            (min(1.0, max(0.0, float(d.proposal.confidence))) if d.proposal else 0.0, s.exact_entry)
            for d, s in zip(drafts, scores, strict=True)
        ]
        out["calibration"] = [
            {k: _round(v) if isinstance(v, float) else v for k, v in b.items()}
            for b in calibration(stated, bins=10)
        ]
        curve = []
        for t in _curve_thresholds([c for c, _ in eligible]):
            cov, prec = coverage_precision(pairs, t)
            curve.append(
                {"threshold": _round(t), "coverage": _round(cov), "precision": _round(prec)}
            )
        out["curve"] = curve
    return out


def _curve_thresholds(confidences: Sequence[float], points: int = 40) -> list[float]:
    """Thresholds for the coverage-precision curve: confidence quantiles, highest first."""
    levels = sorted(set(confidences), reverse=True)
    if len(levels) <= points:
        return levels
    step = (len(levels) - 1) / (points - 1)
    return [levels[round(i * step)] for i in range(points)]


def _pair_scheme(doc: Document, pairs: Sequence[tuple[str, str]]) -> PostingScheme | None:
    """smart_importer's accounts as a scheme with token amounts: good for account metrics only."""
    if not pairs:
        return None
    one = Decimal(1)
    lines = tuple(
        EntryLine(
            acc, one if side == "debit" else Decimal(0), one if side == "credit" else Decimal(0)
        )
        for acc, side in pairs
    )
    return PostingScheme(doc.id, doc.kind, "smart_importer", lines, doc.currency)


def _baseline(
    ais: AIS,
    holdout_from: dt.date,
    held_out: Sequence[Document],
    chart: ChartOfAccounts,
    seen: Sequence[bool],
) -> dict[str, Any] | str:
    """smart_importer's account metrics on the same documents, or why it could not run."""
    try:
        predicted = baseline_smart_importer.fit_predict(
            ais.history(until=holdout_from), held_out, chart
        )
    except baseline_smart_importer.BaselineUnavailable as exc:
        return str(exc)
    except Exception as exc:  # the baseline is a third-party library: report, never crash
        return f"{type(exc).__name__}: {exc}"
    scores = []
    for doc in held_out:
        assert doc.entry is not None
        scheme = _pair_scheme(doc, predicted.get(doc.id, []))
        scores.append(score(scheme, doc.entry.lines, valid=False))
    metrics = _rates(scores, ACCOUNT_METRICS)
    metrics["seen_partner"] = _rates(
        [s for s, k in zip(scores, seen, strict=True) if k], ACCOUNT_METRICS
    )
    metrics["unseen_partner"] = _rates(
        [s for s, k in zip(scores, seen, strict=True) if not k], ACCOUNT_METRICS
    )
    by_kind = {
        kind: _rates([scores[i] for i in idx], ACCOUNT_METRICS)
        for kind, idx in _groups(d.kind for d in held_out).items()
    }
    return {"metrics": metrics, "by_kind": by_kind, "note": BASELINE_NOTE}
