"""Calibration: turn the memory's raw confidence into the chance that a draft is posted as is.

Two things make a draft differ from what the accountant posts. The memory may be wrong
(a partner never seen, a line never seen, neighbours that disagree): its raw confidence
orders that. And the accountant's own posting may deviate from every earlier one (a
clerk's slip, a changed policy): no memory can foresee that, and how often it happens
depends on the kind of document (bank lines are posted the same way every time, invoices
carry a slip now and then). So the calibrated confidence is the product of

* the share of drafts in each raw-confidence bin that came out as posted when the memory
  drafted recent documents of its own history (each without itself), with the deviations
  the history shows anyway divided out; non-decreasing in the raw confidence; and
* one minus the kind's *deviation rate*: half the share of documents that the index saw
  posted on other accounts than the previous document of the same partner, kind and line
  descriptions (a slip changes the pattern twice, into the slip and back), in the latest
  year of the history (:attr:`ledgerpilot.agent.recall.HistoryIndex.changes`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

EDGES = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
"""Lower edges of the raw-confidence bins; the last bin runs to 1."""
PRIOR_WEIGHT = 4.0
"""Pseudo-drafts at the bin's middle that each bin starts with."""
DEVIATION_PRIOR = 20.0
"""Pseudo-comparisons at the all-kinds deviation rate that each kind starts with."""
TIE_BREAK = 0.01
"""Within one bin, a higher raw confidence still ranks a little higher."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """Raw-confidence bins' success rates and each kind's deviation rate."""

    base: tuple[float, ...]
    """Per bin of :data:`EDGES`: the share of self-test drafts posted as drafted, deviations
    of the history divided out."""
    deviation: dict[tuple[str, str], float]
    """(kind, posting class) -> the share of documents posted unlike the partner's earlier
    ones (class: ``partner`` when the entry touches payables or receivables, else ``own``)."""
    default_deviation: float
    """The rate over all kinds, for a kind the history does not have."""
    samples: int
    """How many documents the self-test drafted."""

    def apply(self, kind: str, cls: str, raw: float) -> float:
        """The calibrated confidence of a draft of ``kind`` and posting class ``cls`` with raw
        confidence ``raw``."""
        raw = min(1.0, max(0.0, raw))
        i = max(0, bisect.bisect_right(EDGES, raw) - 1)
        steady = 1.0 - self.deviation.get((kind, cls), self.default_deviation)
        return max(0.0, min(1.0, self.base[i] * steady - TIE_BREAK * (1.0 - raw)))

    def as_dict(self) -> dict[str, object]:
        """A JSON-able summary (for reports)."""
        return {
            "edges": list(EDGES),
            "base": [round(r, 4) for r in self.base],
            "deviation": {f"{k}/{c}": round(v, 4) for (k, c), v in self.deviation.items()},
            "samples": self.samples,
        }


def deviation_rates(
    changes: Mapping[tuple[str, str], tuple[int, int]],
) -> tuple[dict[tuple[str, str], float], float]:
    """Per kind and class, half the share of documents posted otherwise; and over all."""
    total = sum(n for n, _ in changes.values())
    changed = sum(c for _, c in changes.values())
    overall = changed / total / 2 if total else 0.01
    rates = {
        kind: (c / 2 + DEVIATION_PRIOR * overall) / (n + DEVIATION_PRIOR)
        for kind, (n, c) in sorted(changes.items())
    }
    return rates, overall


def fit(
    outcomes: Iterable[tuple[tuple[str, str], float, bool]],
    changes: Mapping[tuple[str, str], tuple[int, int]],
) -> Calibration:
    """A calibration from self-test ``((kind, class), raw confidence, posted as drafted)``
    outcomes and the history's ``changes`` ((kind, class) -> documents compared, documents
    posted otherwise)."""
    deviation, overall = deviation_rates(changes)
    bins = len(EDGES)
    hits = [0.0] * bins
    expected = [0.0] * bins
    samples = 0
    for kind, raw, exact in outcomes:
        i = max(0, bisect.bisect_right(EDGES, min(1.0, max(0.0, raw))) - 1)
        hits[i] += exact
        expected[i] += 1.0 - deviation.get(kind, overall)
        samples += 1
    base = []
    for i in range(bins):
        high = EDGES[i + 1] if i + 1 < bins else 1.0
        middle = (EDGES[i] + high) / 2
        base.append(min(1.0, (hits[i] + PRIOR_WEIGHT * middle) / (expected[i] + PRIOR_WEIGHT)))
    base = _increasing(base, [e + PRIOR_WEIGHT for e in expected])
    return Calibration(tuple(base), deviation, overall, samples)


def _increasing(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for mean, _, length in blocks:
        out.extend([mean] * int(length))
    return out
