"""Benford's law: first-digit and first-two-digits tests with Nigrini's MAD conformity verdicts.

Pure functions over amounts. Nigrini (2012, *Benford's Law*, table 7.1) judges conformity by
the mean absolute deviation (MAD) between observed and expected digit proportions:

- first digit: close conformity <= 0.006, acceptable <= 0.012, marginal <= 0.015, else
  nonconformity;
- first two digits: close <= 0.0012, acceptable <= 0.0018, marginal <= 0.0022, else
  nonconformity.

Amounts below 10 are usually left out (Nigrini), which the callers do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

FIRST_DIGITS = tuple(range(1, 10))
FIRST_TWO_DIGITS = tuple(range(10, 100))

FIRST_DIGIT_MAD = (0.006, 0.012, 0.015)
"""Nigrini's MAD limits for the first-digit test: close, acceptable, marginal."""
FIRST_TWO_MAD = (0.0012, 0.0018, 0.0022)
"""Nigrini's MAD limits for the first-two-digits test: close, acceptable, marginal."""

VERDICTS = ("close conformity", "acceptable conformity", "marginal conformity", "nonconformity")


def expected(digits: int) -> float:
    """Benford's expected proportion of ``digits`` as leading digits: log10(1 + 1/d)."""
    return math.log10(1 + 1 / digits)


def leading_digits(amount: Decimal, count: int = 2) -> int | None:
    """The first ``count`` significant digits of ``|amount|`` (``None`` for zero).

    ``leading_digits(Decimal("0.0456"), 2) == 45``; an amount with fewer significant digits is
    padded with zeros (``leading_digits(Decimal("7"), 2) == 70``).
    """
    # The decimal's text without sign, leading zeros and point: its significant digits
    # (cheaper than formatting it, or than its digit tuple).
    text = str(amount).lstrip("-0.")
    if not text:
        return None
    if "E" in text:  # scientific notation (a positive exponent, or a tiny amount)
        digits = amount.as_tuple().digits
        if digits[0] == 0:
            return None
        text = "".join(map(str, digits))
    text = text.replace(".", "")
    return int((text + "0" * count)[:count])


def first_two_counts(amounts: Iterable[Decimal]) -> list[int]:
    """Counts of first-two digits 10..99 (index 0 is 10) over the non-zero ``amounts``."""
    counts = [0] * 90
    for amount in amounts:
        ftd = leading_digits(amount, 2)
        if ftd is not None:
            counts[ftd - 10] += 1
    return counts


def first_digit_counts(first_two: Sequence[int]) -> list[int]:
    """First-digit counts 1..9 (index 0 is 1) from first-two-digit counts."""
    return [sum(first_two[(d - 1) * 10 : d * 10]) for d in FIRST_DIGITS]


def proportions(counts: Sequence[int]) -> list[float]:
    """Each count's share of the total (all zeros when there are none)."""
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def mad(observed: Sequence[float], digits: Sequence[int]) -> float:
    """Mean absolute deviation between observed proportions and Benford's for ``digits``."""
    return sum(abs(p - expected(d)) for p, d in zip(observed, digits, strict=True)) / len(digits)


def verdict(value: float, limits: tuple[float, float, float]) -> str:
    """Nigrini's conformity verdict for a MAD ``value`` against ``limits``."""
    for limit, name in zip(limits, VERDICTS, strict=False):
        if value <= limit:
            return name
    return VERDICTS[-1]


def z_statistic(observed: float, expected_share: float, n: int) -> float:
    """Nigrini's z-statistic for one digit's proportion, with the continuity correction."""
    if n == 0:
        return 0.0
    spread = math.sqrt(expected_share * (1 - expected_share) / n)
    diff = abs(observed - expected_share) - 1 / (2 * n)
    return max(diff, 0.0) / spread


def spikes(first_two: Sequence[int], spike_z: float = 3.0, spike_ratio: float = 2.0) -> list[int]:
    """First-two digits observed significantly more often than Benford expects.

    Nigrini's z above ``spike_z`` and at least ``spike_ratio`` times the expected share:
    the digits that point at entries to look at.
    """
    n = sum(first_two)
    found = []
    for d, c in zip(FIRST_TWO_DIGITS, first_two, strict=True):
        p, e = (c / n if n else 0.0), expected(d)
        if n and p >= spike_ratio * e and z_statistic(p, e, n) > spike_z:
            found.append(d)
    return found


def test(first_two: Sequence[int]) -> dict[str, Any]:
    """Both tests on first-two-digit counts: count, observed and expected proportions per
    digit, MAD and Nigrini's verdict (``spikes`` is filled in by the caller when wanted)."""
    n = sum(first_two)
    first = first_digit_counts(first_two)
    p1 = proportions(first)
    p2 = proportions(first_two)
    mad1 = mad(p1, FIRST_DIGITS) if n else 0.0
    mad2 = mad(p2, FIRST_TWO_DIGITS) if n else 0.0
    return {
        "count": n,
        "first_digit": {
            "observed": {str(d): round(p, 6) for d, p in zip(FIRST_DIGITS, p1, strict=True)},
            "expected": {str(d): round(expected(d), 6) for d in FIRST_DIGITS},
            "mad": round(mad1, 6),
            "verdict": verdict(mad1, FIRST_DIGIT_MAD),
        },
        "first_two_digits": {
            "observed": {str(d): round(p, 6) for d, p in zip(FIRST_TWO_DIGITS, p2, strict=True)},
            "expected": {str(d): round(expected(d), 6) for d in FIRST_TWO_DIGITS},
            "mad": round(mad2, 6),
            "verdict": verdict(mad2, FIRST_TWO_MAD),
        },
        "spikes": [],
    }
