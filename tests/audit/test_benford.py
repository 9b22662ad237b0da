"""Benford statistics against hand-computed values."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from ledgerpilot.audit import benford


def test_expected_proportions() -> None:
    assert benford.expected(1) == pytest.approx(0.30103, abs=1e-5)
    assert benford.expected(9) == pytest.approx(0.04576, abs=1e-5)
    assert benford.expected(10) == pytest.approx(0.04139, abs=1e-5)
    assert benford.expected(99) == pytest.approx(0.00436, abs=1e-5)
    assert sum(benford.expected(d) for d in range(1, 10)) == pytest.approx(1.0)
    assert sum(benford.expected(d) for d in range(10, 100)) == pytest.approx(1.0)


def test_leading_digits() -> None:
    assert benford.leading_digits(Decimal("4990.00")) == 49
    assert benford.leading_digits(Decimal("-0.0456")) == 45
    assert benford.leading_digits(Decimal("7")) == 70
    assert benford.leading_digits(Decimal("7"), 1) == 7
    assert benford.leading_digits(Decimal("0")) is None


def test_counts_and_proportions() -> None:
    amounts = [Decimal(a) for a in ("123.45", "150", "19.99", "2000", "25.10", "900")]
    two = benford.first_two_counts(amounts)
    assert two[12 - 10] == 1 and two[15 - 10] == 1 and two[19 - 10] == 1
    assert two[20 - 10] == 1 and two[25 - 10] == 1 and two[90 - 10] == 1
    first = benford.first_digit_counts(two)
    assert first == [3, 2, 0, 0, 0, 0, 0, 0, 1]
    assert benford.proportions(first)[0] == 0.5


def test_mad_by_hand() -> None:
    # Every amount starting with 1: |1 - 0.30103| for digit 1 plus the expected shares of
    # 2..9, which add up to 1 - 0.30103: MAD = 2 * 0.69897 / 9 = 0.155327.
    observed = [1.0] + [0.0] * 8
    assert benford.mad(observed, benford.FIRST_DIGITS) == pytest.approx(
        2 * (1 - math.log10(2)) / 9, abs=1e-9
    )
    exact = [benford.expected(d) for d in benford.FIRST_DIGITS]
    assert benford.mad(exact, benford.FIRST_DIGITS) == pytest.approx(0.0)


def test_verdicts_at_nigrinis_limits() -> None:
    assert benford.verdict(0.006, benford.FIRST_DIGIT_MAD) == "close conformity"
    assert benford.verdict(0.0061, benford.FIRST_DIGIT_MAD) == "acceptable conformity"
    assert benford.verdict(0.013, benford.FIRST_DIGIT_MAD) == "marginal conformity"
    assert benford.verdict(0.0151, benford.FIRST_DIGIT_MAD) == "nonconformity"
    assert benford.verdict(0.0012, benford.FIRST_TWO_MAD) == "close conformity"
    assert benford.verdict(0.0018, benford.FIRST_TWO_MAD) == "acceptable conformity"
    assert benford.verdict(0.0022, benford.FIRST_TWO_MAD) == "marginal conformity"
    assert benford.verdict(0.0023, benford.FIRST_TWO_MAD) == "nonconformity"


def test_a_benford_sample_conforms_and_a_spike_is_found() -> None:
    # 10,000 amounts in exact Benford proportions (rounded counts), then 2,000 of 49xx padded in.
    counts = [round(10_000 * benford.expected(d)) for d in range(10, 100)]
    stats = benford.test(counts)
    assert stats["count"] == sum(counts)
    assert stats["first_digit"]["verdict"] == "close conformity"
    assert stats["first_two_digits"]["verdict"] == "close conformity"
    assert stats["first_digit"]["expected"]["1"] == pytest.approx(0.30103, abs=1e-6)
    assert benford.spikes(counts) == []
    counts[49 - 10] += 2000
    assert benford.spikes(counts) == [49]
    assert benford.test(counts)["first_two_digits"]["verdict"] == "nonconformity"


def test_z_statistic_by_hand() -> None:
    # p = 0.40, e = 0.30103, n = 100: (0.09897 - 0.005) / sqrt(0.30103 * 0.69897 / 100)
    z = benford.z_statistic(0.40, math.log10(2), 100)
    assert z == pytest.approx(
        (0.40 - math.log10(2) - 0.005) / math.sqrt(0.30103 * 0.69897 / 100), rel=1e-4
    )
    assert benford.z_statistic(0.3, 0.3, 0) == 0.0
