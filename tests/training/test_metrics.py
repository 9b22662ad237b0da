"""Evaluation metrics on literal, hand-computed cases."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from ledgerpilot.ledger import EntryLine, PostingScheme
from ledgerpilot.training.metrics import (
    DocumentScore,
    by_group,
    calibration,
    coverage_precision,
    score,
    summarize,
    threshold_for_precision,
)


def line(account: str, debit: str = "0", credit: str = "0") -> EntryLine:
    return EntryLine(account, Decimal(debit), Decimal(credit))


def scheme(*lines: EntryLine) -> PostingScheme:
    return PostingScheme(document="D1", kind="supplier_invoice", explanation="", lines=lines)


# A supplier invoice for rent: 1000.00 net + 250.00 input VAT = 1250.00 payable.
# Class-sides: {("61", debit), ("14", debit), ("20", credit)}.
GOLD = (
    line("6100", debit="1000.00"),
    line("1400", debit="250.00"),
    line("2000", credit="1250.00"),
)


def test_perfect_prediction() -> None:
    s = score(scheme(*GOLD), GOLD, valid=True)
    assert s == DocumentScore(
        parsed=True,
        balanced=True,
        valid=True,
        accounts_correct=True,
        accounts_score=1.0,
        exact_accounts=True,
        exact_entry=True,
    )


def test_right_accounts_wrong_amount() -> None:
    predicted = scheme(
        line("6100", debit="900.00"), line("1400", debit="250.00"), line("2000", credit="1150.00")
    )
    s = score(predicted, GOLD, valid=False)
    assert s.balanced and s.accounts_correct and s.exact_accounts
    assert s.accounts_score == 1.0
    assert not s.exact_entry
    assert not s.valid


def test_other_account_in_the_same_class() -> None:
    # 6110 instead of 6100: class 61 on the debit side is still there.
    predicted = scheme(
        line("6110", debit="1000.00"), line("1400", debit="250.00"), line("2000", credit="1250.00")
    )
    s = score(predicted, GOLD, valid=True)
    assert s.accounts_correct
    assert s.accounts_score == 1.0
    assert not s.exact_accounts
    assert not s.exact_entry


def test_missing_class_side() -> None:
    # No VAT line: predicted {61 debit, 20 credit}; 2 shared of 3 in the union.
    predicted = scheme(line("6100", debit="1250.00"), line("2000", credit="1250.00"))
    s = score(predicted, GOLD, valid=False)
    assert s.balanced
    assert not s.accounts_correct
    assert s.accounts_score == 2 / 3
    assert not s.exact_accounts and not s.exact_entry


def test_extra_class_side_is_allowed_by_accounts_correct_but_lowers_the_score() -> None:
    # An extra 48 debit line: gold ⊆ predicted still holds; Jaccard 3 / 4.
    predicted = scheme(
        line("6100", debit="990.00"),
        line("4800", debit="10.00"),
        line("1400", debit="250.00"),
        line("2000", credit="1250.00"),
    )
    s = score(predicted, GOLD, valid=True)
    assert s.accounts_correct
    assert s.accounts_score == 0.75
    assert not s.exact_accounts


def test_swapped_sides() -> None:
    # Every class on the wrong side: no shared pair of 6 in the union.
    predicted = scheme(
        line("6100", credit="1000.00"), line("1400", credit="250.00"), line("2000", debit="1250.00")
    )
    s = score(predicted, GOLD, valid=False)
    assert s.parsed and s.balanced
    assert not s.accounts_correct
    assert s.accounts_score == 0.0
    assert not s.exact_accounts and not s.exact_entry


def test_nothing_parsed() -> None:
    s = score(None, GOLD, valid=True)  # valid cannot hold for what was not read
    assert s == DocumentScore(
        parsed=False,
        balanced=False,
        valid=False,
        accounts_correct=False,
        accounts_score=0.0,
        exact_accounts=False,
        exact_entry=False,
    )


def test_split_lines_that_merge_to_the_gold_are_exact() -> None:
    predicted = scheme(
        line("6100", debit="600.00"),
        line("1400", debit="250.00"),
        line("6100", debit="400.00"),
        line("2000", credit="1250.00"),
    )
    s = score(predicted, GOLD, valid=True)
    assert s.exact_accounts and s.exact_entry


def test_split_across_accounts_is_not_exact() -> None:
    predicted = scheme(
        line("6100", debit="600.00"),
        line("6110", debit="400.00"),
        line("1400", debit="250.00"),
        line("2000", credit="1250.00"),
    )
    s = score(predicted, GOLD, valid=True)
    assert s.accounts_correct and not s.exact_accounts and not s.exact_entry


def test_debit_and_credit_on_one_account_are_not_netted() -> None:
    predicted = scheme(*GOLD, line("6100", debit="5.00"), line("6100", credit="5.00"))
    s = score(predicted, GOLD, valid=False)
    assert s.balanced
    assert not s.exact_entry  # 6100 credit 5.00 is a posting the gold does not have
    assert s.accounts_score == 3 / 4  # the extra pair (61, credit)


def test_unbalanced_and_empty_schemes() -> None:
    unbalanced = scheme(line("6100", debit="1000.00"), line("2000", credit="1250.00"))
    assert not score(unbalanced, GOLD, valid=False).balanced
    empty = score(scheme(), GOLD, valid=False)
    assert empty.parsed and not empty.balanced
    assert empty.accounts_score == 0.0 and not empty.accounts_correct


def test_amounts_compare_as_decimals_whatever_their_exponent() -> None:
    predicted = scheme(
        line("6100", debit="1000"), line("1400", debit="250.0"), line("2000", credit="1250.000")
    )
    assert score(predicted, GOLD, valid=True).exact_entry


def test_gold_without_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="no lines"):
        score(scheme(*GOLD), (), valid=True)


# ---------------------------------------------------------------- aggregation

S1 = DocumentScore(True, True, True, True, 1.0, True, True)
S2 = DocumentScore(True, True, False, True, 0.5, False, False)
S3 = DocumentScore(True, False, False, False, 0.25, False, False)
S4 = DocumentScore(False, False, False, False, 0.0, False, False)


def test_summarize() -> None:
    assert summarize([S1, S2, S3, S4]) == {
        "documents": 4.0,
        "parsed": 0.75,
        "balanced": 0.5,
        "valid": 0.25,
        "accounts_correct": 0.5,
        "exact_accounts": 0.25,
        "exact_entry": 0.25,
        "accounts_score": 0.4375,  # (1 + 0.5 + 0.25 + 0) / 4
    }


def test_summarize_nothing_is_undefined_not_zero() -> None:
    out = summarize([])
    assert out["documents"] == 0.0
    assert math.isnan(out["exact_entry"]) and math.isnan(out["accounts_score"])


def test_by_group() -> None:
    keys = ["supplier_invoice", "bank_payment", "supplier_invoice", "bank_payment"]
    groups = by_group([S1, S2, S3, S4], keys)
    assert list(groups) == ["supplier_invoice", "bank_payment"]
    assert groups["supplier_invoice"] == {
        "documents": 2.0,
        "parsed": 1.0,
        "balanced": 0.5,
        "valid": 0.5,
        "accounts_correct": 0.5,
        "exact_accounts": 0.5,
        "exact_entry": 0.5,
        "accounts_score": 0.625,
    }
    assert groups["bank_payment"] == {
        "documents": 2.0,
        "parsed": 0.5,
        "balanced": 0.5,
        "valid": 0.0,
        "accounts_correct": 0.5,
        "exact_accounts": 0.0,
        "exact_entry": 0.0,
        "accounts_score": 0.25,
    }
    with pytest.raises(ValueError, match="2 group keys"):
        by_group([S1, S2, S3], keys[:2])


# ---------------------------------------------------------------- routing

PAIRS = [
    (0.95, True),
    (0.9, True),
    (0.9, False),
    (0.8, True),
    (0.6, True),
    (0.5, False),
    (0.3, False),
    (0.2, True),
]


def test_coverage_precision() -> None:
    assert coverage_precision(PAIRS, 0.8) == (0.5, 0.75)  # 4 of 8 pass, 3 of them right
    assert coverage_precision(PAIRS, 0.9) == (0.375, 2 / 3)
    assert coverage_precision(PAIRS, 0.0) == (1.0, 0.625)
    assert coverage_precision(PAIRS, 0.99) == (0.0, None)
    assert coverage_precision([], 0.5) == (0.0, None)


def test_threshold_for_precision() -> None:
    # Only the 0.95 document alone is right every time.
    assert threshold_for_precision(PAIRS, 0.995) == (0.95, 0.125)
    # Precision by threshold: 0.95 -> 1, 0.9 -> 2/3, 0.8 -> 3/4, 0.6 -> 4/5, 0.5 -> 4/6:
    # the lowest that reaches 0.75 is 0.6, covering 5 of 8.
    assert threshold_for_precision(PAIRS, 0.75) == (0.6, 0.625)
    assert threshold_for_precision([(0.9, False), (0.5, True)], 0.75) is None
    assert threshold_for_precision([], 0.5) is None


def test_threshold_cannot_split_ties() -> None:
    assert threshold_for_precision([(0.9, True), (0.9, False)], 0.75) is None


def test_threshold_compares_exactly() -> None:
    pairs = [(0.9, True)] * 199 + [(0.9, False)]  # precision 199/200 = 0.995 exactly
    assert threshold_for_precision(pairs, 0.995) == (0.9, 1.0)


def test_calibration_bins() -> None:
    pairs = [
        (0.1, False),
        (0.3, True),
        (0.3, False),
        (0.7, True),
        (0.9, True),
        (1.0, True),
        (0.85, False),
    ]
    bins = calibration(pairs, bins=5)
    assert [(b["low"], b["high"], b["count"]) for b in bins] == [
        (0.0, 0.2, 1),
        (0.2, 0.4, 2),
        (0.4, 0.6, 0),
        (0.6, 0.8, 1),
        (0.8, 1.0, 3),  # 1.0 lands in the last bin
    ]
    assert bins[0]["mean_confidence"] == pytest.approx(0.1) and bins[0]["accuracy"] == 0.0
    assert bins[1]["mean_confidence"] == pytest.approx(0.3) and bins[1]["accuracy"] == 0.5
    assert bins[2]["mean_confidence"] is None and bins[2]["accuracy"] is None
    assert bins[3]["accuracy"] == 1.0
    assert bins[4]["mean_confidence"] == pytest.approx(2.75 / 3)
    assert bins[4]["accuracy"] == pytest.approx(2 / 3)


def test_calibration_places_decimal_boundaries_in_the_upper_bin() -> None:
    counts = [b["count"] for b in calibration([(0.3, True), (0.7, True), (0.29, True)])]
    assert counts == [0, 0, 1, 1, 0, 0, 0, 1, 0, 0]


def test_calibration_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        calibration([(1.5, True)])
    with pytest.raises(ValueError, match="bins"):
        calibration([(0.5, True)], bins=0)
