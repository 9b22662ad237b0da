"""Evaluation metrics: a proposed posting scheme against the entry that was actually posted.

The benchmark drafts held-out posted documents as if they were new and scores each proposal
against its *gold* entry (what the accountant posted). Per document, :func:`score` gives a
:class:`DocumentScore`; :func:`summarize` and :func:`by_group` aggregate them; and
:func:`coverage_precision`, :func:`threshold_for_precision` and :func:`calibration` measure
how well a backend's confidence can route documents (auto-draft vs. human).

Two families of account metrics are reported side by side:

* **Zupan's posting-scheme metrics** (Zupan et al., the "accounting bot" papers on LLM
  posting schemes), which compare schemes at the level of the *account class*: the first
  two characters of the account code (:attr:`ledgerpilot.ledger.Account.account_class`),
  paired with the side (debit or credit) it is posted on.
* **Ours, stricter**: the full account codes and sides, and the amounts.

All functions are pure. Amounts are compared as :class:`~decimal.Decimal`; floats appear
only in rates and confidences.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from ledgerpilot.ledger import EntryLine, PostingScheme

K = TypeVar("K", bound=Hashable)

ZERO = Decimal(0)

CLASS_LENGTH = 2
"""Characters of the account code that make its class in Zupan's metrics."""


@dataclass(frozen=True, slots=True)
class DocumentScore:
    """How one proposal compares with the gold entry of its document."""

    parsed: bool
    """A scheme could be read from the backend's output (the prediction is not ``None``)."""
    balanced: bool
    """The scheme has at least one line and its total debits equal its total credits."""
    valid: bool
    """The scheme passed :func:`ledgerpilot.ledger.validate` (the caller runs it)."""
    accounts_correct: bool
    """Zupan: every (class, side) pair of the gold entry is in the prediction."""
    accounts_score: float
    """Zupan, soft: Jaccard index of the (class, side) sets, in [0, 1]."""
    exact_accounts: bool
    """Ours: the same set of (full account code, side) pairs as the gold entry."""
    exact_entry: bool
    """Ours: the same (account, side) -> amount totals as the gold entry."""


BOOLEAN_METRICS = tuple(f.name for f in fields(DocumentScore) if f.name != "accounts_score")
"""The yes/no fields of :class:`DocumentScore`, in declaration order."""


def _postings(lines: Iterable[EntryLine]) -> list[tuple[str, str, Decimal]]:
    """Each line as (account, side, amount); a line carrying both sides counts on both.

    A line with neither amount keeps the side :attr:`EntryLine.side` gives it (debit) and an
    amount of zero, so a prediction of zero lines still names its accounts.
    """
    out = []
    for ln in lines:
        if ln.debit:
            out.append((ln.account, "debit", ln.debit))
        if ln.credit:
            out.append((ln.account, "credit", ln.credit))
        if not ln.debit and not ln.credit:
            out.append((ln.account, ln.side, ZERO))
    return out


def class_sides(lines: Iterable[EntryLine]) -> frozenset[tuple[str, str]]:
    """The class-side set of a scheme: {(first two characters of the account, side)}."""
    return frozenset((acc[:CLASS_LENGTH], side) for acc, side, _ in _postings(lines))


def account_sides(lines: Iterable[EntryLine]) -> frozenset[tuple[str, str]]:
    """The set of (full account code, side) pairs of a scheme."""
    return frozenset((acc, side) for acc, side, _ in _postings(lines))


def merged_amounts(lines: Iterable[EntryLine]) -> dict[tuple[str, str], Decimal]:
    """(account, side) -> total amount: lines on the same account and side merged.

    Debits and credits on one account are *not* netted: debiting and crediting an account
    by 100 each is a different entry from not touching it.
    """
    merged: dict[tuple[str, str], Decimal] = {}
    for acc, side, amount in _postings(lines):
        merged[(acc, side)] = merged.get((acc, side), ZERO) + amount
    return merged


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    """|a ∩ b| / |a ∪ b|; 1.0 when both are empty (two empty sets are identical)."""
    union = a | b
    if not union:
        return 1.0
    return len(a & b) / len(union)


def score(
    predicted: PostingScheme | None, gold: Sequence[EntryLine], *, valid: bool
) -> DocumentScore:
    """Score one proposal against the lines that were actually posted for its document.

    Definitions (a "side" is debit or credit; an account's *class* is the first two
    characters of its code, as in Zupan et al.):

    * ``parsed``: ``predicted`` is not ``None``.
    * ``balanced``: at least one line, and total debits == total credits (Decimal).
    * ``valid``: as passed in; forced to ``False`` when nothing was parsed.
    * ``accounts_correct`` (Zupan): gold class-sides ⊆ predicted class-sides. The
      prediction may miss no (class, side) pair of the gold entry; *extra* pairs are
      allowed, as in Zupan's definition, which asks whether the right account classes
      were used. Extras are penalised by ``accounts_score`` and ``exact_accounts``
      instead, so a scheme that adds a spurious line is still visible in the report.
    * ``accounts_score`` (Zupan, soft): the Jaccard index
      |gold ∩ predicted| / |gold ∪ predicted| over the (class, side) sets, so both
      missing and extra pairs lower it; 0.0 when nothing was parsed.
    * ``exact_accounts`` (ours): the sets of (full account code, side) are equal.
    * ``exact_entry`` (ours): after merging lines with the same account and side (summing
      their amounts), both entries have the same (account, side) -> amount mapping. So a
      gold line of 100 that the prediction splits into 60 + 40 on the same account and
      side still counts as exact; moving 40 to another account, or netting a debit
      against a credit, does not.

    A line that carries both a debit and a credit (invalid, but it can be proposed) counts
    once on each side. Raises ``ValueError`` when ``gold`` has no lines: a posted entry
    without lines cannot serve as the answer.
    """
    if not gold:
        raise ValueError("the gold entry has no lines; it cannot be scored against")
    if predicted is None:
        return DocumentScore(
            parsed=False,
            balanced=False,
            valid=False,
            accounts_correct=False,
            accounts_score=0.0,
            exact_accounts=False,
            exact_entry=False,
        )
    lines = predicted.lines
    debit = sum((ln.debit for ln in lines), ZERO)
    credit = sum((ln.credit for ln in lines), ZERO)
    gold_classes, predicted_classes = class_sides(gold), class_sides(lines)
    return DocumentScore(
        parsed=True,
        balanced=bool(lines) and debit == credit,
        valid=valid,
        accounts_correct=gold_classes <= predicted_classes,
        accounts_score=jaccard(gold_classes, predicted_classes),
        exact_accounts=account_sides(gold) == account_sides(lines),
        exact_entry=merged_amounts(gold) == merged_amounts(lines),
    )


def summarize(scores: Sequence[DocumentScore]) -> dict[str, float]:
    """The rate of each yes/no metric, the mean ``accounts_score``, and ``documents``.

    Keys: ``documents`` (the count, as a float), each of :data:`BOOLEAN_METRICS` (the share
    of documents where it holds) and ``accounts_score`` (the mean). With no scores every
    rate is NaN: a rate over nothing is undefined, not zero.
    """
    n = len(scores)
    out: dict[str, float] = {"documents": float(n)}
    for name in BOOLEAN_METRICS:
        out[name] = sum(1 for s in scores if getattr(s, name)) / n if n else math.nan
    out["accounts_score"] = math.fsum(s.accounts_score for s in scores) / n if n else math.nan
    return out


def by_group(scores: Sequence[DocumentScore], keys: Sequence[K]) -> dict[K, dict[str, float]]:
    """:func:`summarize` per group; ``keys[i]`` is the group (say the kind) of ``scores[i]``.

    Groups appear in the order their first document does. Raises ``ValueError`` when the
    two sequences differ in length.
    """
    if len(scores) != len(keys):
        raise ValueError(f"{len(scores)} scores but {len(keys)} group keys")
    groups: dict[K, list[DocumentScore]] = {}
    for s, key in zip(scores, keys, strict=True):
        groups.setdefault(key, []).append(s)
    return {key: summarize(group) for key, group in groups.items()}


# ---------------------------------------------------------------- routing


def _checked(pairs: Iterable[tuple[float, bool]]) -> list[tuple[float, bool]]:
    out = []
    for confidence, correct in pairs:
        if math.isnan(confidence):
            raise ValueError("a confidence is NaN")
        out.append((float(confidence), bool(correct)))
    return out


def coverage_precision(
    pairs: Iterable[tuple[float, bool]], threshold: float
) -> tuple[float, float | None]:
    """(coverage, precision) of routing the documents whose confidence is >= ``threshold``.

    ``pairs`` holds one ``(confidence, correct)`` per document. Coverage is the share of
    documents with confidence >= threshold; precision is the share of those that are
    correct, ``None`` when no document passes (the precision of an empty set is undefined).
    With no documents at all, coverage is 0.0.
    """
    items = _checked(pairs)
    passed = [correct for confidence, correct in items if confidence >= threshold]
    coverage = len(passed) / len(items) if items else 0.0
    precision = sum(passed) / len(passed) if passed else None
    return coverage, precision


def threshold_for_precision(
    pairs: Iterable[tuple[float, bool]], target: float = 0.995
) -> tuple[float, float] | None:
    """The lowest threshold whose precision is >= ``target``, and the coverage it gives.

    Returns ``(threshold, coverage)``, or ``None`` when no threshold reaches the target.
    Candidate thresholds are the confidences that occur (any threshold between two of them
    selects the same documents as the next one up), so the threshold returned is one of
    them. Precision is not monotonic in the threshold; this is the lowest candidate that
    reaches the target, i.e. the one with the most coverage. The comparison is exact
    (rational), so 199 of 200 correct meets a target of 0.995.
    """
    items = sorted(_checked(pairs), key=lambda p: p[0], reverse=True)
    if not items:
        return None
    goal = Fraction(target)
    best: tuple[float, float] | None = None
    passed = correct = 0
    i = 0
    while i < len(items):
        # Take every document tied at this confidence: a threshold cannot split them.
        level = items[i][0]
        while i < len(items) and items[i][0] == level:
            passed += 1
            correct += items[i][1]
            i += 1
        if Fraction(correct, passed) >= goal:
            best = (level, passed / len(items))
    return best


def calibration(pairs: Iterable[tuple[float, bool]], bins: int = 10) -> list[dict[str, Any]]:
    """Reliability-chart bins: equal-width confidence bins over [0, 1].

    Bin ``i`` covers ``[i/bins, (i+1)/bins)``; the last bin also holds 1.0. Each bin is
    ``{"low", "high", "count", "mean_confidence", "accuracy"}``, the last two ``None`` for
    an empty bin. All bins are returned, empty ones included, so charts line up. A
    confidence is placed by its decimal form (0.3 falls in [0.3, 0.4), not below it by a
    float rounding). Raises ``ValueError`` for a confidence outside [0, 1] or ``bins`` < 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, correct in _checked(pairs):
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence {confidence} is outside [0, 1]")
        index = min(int(Decimal(repr(confidence)) * bins), bins - 1)
        members[index].append((confidence, correct))
    out = []
    for i, group in enumerate(members):
        count = len(group)
        out.append(
            {
                "low": i / bins,
                "high": (i + 1) / bins,
                "count": count,
                "mean_confidence": math.fsum(c for c, _ in group) / count if count else None,
                "accuracy": sum(1 for _, ok in group if ok) / count if count else None,
            }
        )
    return out
