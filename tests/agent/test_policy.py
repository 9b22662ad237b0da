"""The routing policy: proposed, needs review, quarantined; auto-approval off by default."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledgerpilot.agent.backends.base import Proposal
from ledgerpilot.agent.policy import RoutingPolicy, auto_approvable, decide, route
from ledgerpilot.ledger import EntryLine, PostingScheme, Violation

SCHEME = PostingScheme(
    "D1",
    "supplier_invoice",
    "as before",
    (EntryLine("4140", Decimal("100.00")), EntryLine("2200", credit=Decimal("100.00"))),
)


def proposal(confidence: float, scheme: PostingScheme | None = SCHEME) -> Proposal:
    return Proposal("memory", scheme, confidence, note="" if scheme else "no history")


UNBALANCED = Violation("unbalanced", "debits 100.00 and credits 90.00 differ by 10.00")
INCONSISTENT = Violation("document_inconsistent", "lines add up to net 90, the document says 100")
CURRENCY = Violation("unknown_currency", "currency 'XYZ' is not one ledgerpilot knows")


def test_a_valid_confident_draft_is_proposed_and_not_auto_approved_by_default() -> None:
    policy = RoutingPolicy()
    assert route(proposal(0.99), [], policy) == "proposed"
    assert not auto_approvable(proposal(0.99), [], policy)
    assert decide(proposal(0.99), [], policy).reason == "valid, confident draft"


def test_violations_after_repair_need_review() -> None:
    routing = decide(proposal(0.99), [UNBALANCED], RoutingPolicy())
    assert routing.status == "needs_review"
    assert routing.reason == "1 violation(s): debits 100.00 and credits 90.00 differ by 10.00"
    assert not routing.auto_approve


def test_low_confidence_needs_review() -> None:
    routing = decide(proposal(0.3), [], RoutingPolicy(review_below=0.5))
    assert (routing.status, routing.reason) == ("needs_review", "confidence 0.30 is below 0.50")


@pytest.mark.parametrize("violation", [INCONSISTENT, CURRENCY])
def test_an_unusable_document_is_quarantined(violation: Violation) -> None:
    assert route(proposal(0.99), [violation, UNBALANCED], RoutingPolicy()) == "quarantined"
    assert route(None, [violation], RoutingPolicy()) == "quarantined"


def test_no_scheme_after_repairs_is_quarantined() -> None:
    routing = decide(proposal(0.0, None), [], RoutingPolicy())
    assert (routing.status, routing.reason) == ("quarantined", "nothing to review: no history")
    assert route(None, [], RoutingPolicy()) == "quarantined"


def test_a_configured_threshold_enables_auto_approval_of_valid_drafts_only() -> None:
    policy = RoutingPolicy(auto_approve_at=0.98)
    assert auto_approvable(proposal(0.985), [], policy)
    assert not auto_approvable(proposal(0.97), [], policy)
    assert route(proposal(0.97), [], policy) == "proposed"
    assert not auto_approvable(proposal(0.999), [UNBALANCED], policy)
    assert not auto_approvable(proposal(0.999), [CURRENCY], policy)


def test_thresholds_must_be_shares() -> None:
    with pytest.raises(ValueError, match="auto_approve_at must be between 0 and 1"):
        RoutingPolicy(auto_approve_at=1.5)
