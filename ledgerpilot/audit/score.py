"""Combining the checks' reasons into one ranking an auditor can follow.

An entry's score is the sum of its reasons' weights (``AuditSettings.weights``), each check
counted once at its strongest reason (a second duplicate of the same entry does not double
its score). Checks that measure the same thing from different angles form a family that
counts once, at its strongest member: an account combination never seen, rarely seen and
surprising for the partner and kind is one signal, not three; an account the user never
posted to is the same unfamiliar account seen from the user's side. Findings are ranked by
score, then by amount (larger first), then by date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from .model import Finding, Reason

FAMILIES = {
    "unseen_combination": "account_novelty",
    "rare_combination": "account_novelty",
    "surprise": "account_novelty",
    "user_new_account": "account_novelty",
    "lm_surprise": "account_novelty",
}
"""Checks that count once together (check -> family); the others are their own family."""


def score(reasons: Iterable[Reason]) -> float:
    """The sum over check families of each family's strongest reason's weight."""
    best: dict[str, float] = {}
    for r in reasons:
        family = FAMILIES.get(r.check, r.check)
        best[family] = max(best.get(family, 0.0), r.weight)
    return sum(best.values())


def ordered(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Reasons strongest first (then by check name), so the first one says the most."""
    return tuple(sorted(reasons, key=lambda r: (-r.weight, r.check)))


def finding(
    *,
    entry: str,
    document: str,
    date: dt.date,
    reasons: Iterable[Reason],
    partner: str | None,
    kind: str,
    amount: Decimal,
    posted_by: str | None = None,
    description: str = "",
) -> Finding:
    """A finding with its score and its reasons strongest first."""
    kept = ordered(reasons)
    return Finding(
        entry=entry,
        document=document,
        date=date,
        score=score(kept),
        reasons=kept,
        partner=partner,
        kind=kind,
        amount=amount,
        posted_by=posted_by,
        description=description,
    )


def rank(findings: Iterable[Finding]) -> list[Finding]:
    """Findings by score (highest first), then amount (largest first), date and entry id."""
    return sorted(findings, key=lambda f: (-f.score, -f.amount, f.date, f.entry))
