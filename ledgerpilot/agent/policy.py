"""The routing policy: what becomes of a draft once it has been checked.

Every drafted document ends in one of three states, decided by :func:`route`:

``proposed``
    The backend produced a scheme, the scheme has **no violations** against the chart and
    the document's own figures (balanced, known postable accounts, the gross total settled,
    the VAT booked as the document states it), and the backend's confidence is at least
    :attr:`RoutingPolicy.review_below`. It waits for an approver; it is a good draft, not
    an approved one.
``needs_review``
    A scheme exists but violations remain after the repair rounds, or the confidence is
    below :attr:`RoutingPolicy.review_below`. An accountant has to look closely (the draft,
    its violations and its evidence are shown).
``quarantined``
    The document itself is unusable (its lines do not add up to its totals, its currency is
    unknown: the codes in :data:`DOCUMENT_CODES`), or no scheme came back at all after the
    repairs. Nothing can be drafted until a person fixes or explains the document.

Auto-approval is a separate, explicit decision (:func:`auto_approvable`): it is **off** by
default (:attr:`RoutingPolicy.auto_approve_at` is ``None``); when a company configures a
threshold, a *proposed* draft whose confidence reaches it may be posted without a human.
Choose the threshold from the benchmark (``ledgerpilot eval``'s
``routing.threshold_for_99_5``), never by feel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ledgerpilot.ledger import Violation

from .backends.base import Proposal

Status = Literal["proposed", "needs_review", "quarantined"]

DOCUMENT_CODES = frozenset({"document_inconsistent", "unknown_currency"})
"""Violation codes that say the document itself is unusable (from ``Document.check()``)."""


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """A company's routing settings."""

    review_below: float = 0.5
    """Confidence below which even a valid draft needs a close review (0..1)."""
    auto_approve_at: float | None = None
    """Confidence from which a valid draft may be posted without a human; ``None``: never."""

    def __post_init__(self) -> None:
        for name in ("review_below", "auto_approve_at"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a draft goes, whether it may skip the human, and why."""

    status: Status
    auto_approve: bool
    reason: str


def decide(
    proposal: Proposal | None, violations: Sequence[Violation], policy: RoutingPolicy
) -> Routing:
    """Route a checked draft: its status, auto-approval eligibility and the reason in words.

    ``violations`` are everything the check found: the document's own (``Document.check()``)
    and the scheme's (``validate``), or the parse violations when no scheme was read.
    """
    unusable = [v for v in violations if v.code in DOCUMENT_CODES]
    if unusable:
        return Routing("quarantined", False, f"the document is unusable: {unusable[0].message}")
    if proposal is None or proposal.scheme is None:
        why = proposal.note if proposal is not None and proposal.note else "no scheme came back"
        return Routing("quarantined", False, f"nothing to review: {why}")
    if violations:
        return Routing(
            "needs_review", False, f"{len(violations)} violation(s): {violations[0].message}"
        )
    if proposal.confidence < policy.review_below:
        return Routing(
            "needs_review",
            False,
            f"confidence {proposal.confidence:.2f} is below {policy.review_below:.2f}",
        )
    auto = policy.auto_approve_at is not None and proposal.confidence >= policy.auto_approve_at
    reason = "valid, confident draft" + (" (auto-approval threshold reached)" if auto else "")
    return Routing("proposed", auto, reason)


def route(
    proposal: Proposal | None, violations: Sequence[Violation], policy: RoutingPolicy
) -> Status:
    """``proposed``, ``needs_review`` or ``quarantined`` (see the module's docstring)."""
    return decide(proposal, violations, policy).status


def auto_approvable(
    proposal: Proposal | None, violations: Sequence[Violation], policy: RoutingPolicy
) -> bool:
    """Whether the draft may be posted without a human: proposed, and confidence at or above
    the configured threshold (never when auto-approval is off, the default)."""
    return decide(proposal, violations, policy).auto_approve
