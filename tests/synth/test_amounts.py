"""Money the synthetic bookkeeper computes (withholding, interest) is Decimal, rounded half-up."""

from decimal import Decimal

import pytest

from ledgerpilot.synth.plan import Loan
from ledgerpilot.synth.policies import POLICIES
from ledgerpilot.synth.posting import cents_at


def test_a_share_of_cents_rounds_half_up_in_decimal() -> None:
    # 20.5 % of 300 cents is 61.5 cents exactly; in binary floating point it is 61.4999...
    assert cents_at(300, Decimal("0.205")) == 62
    assert cents_at(10, Decimal("0.05")) == 1
    assert cents_at(10, Decimal("0.04")) == 0
    assert cents_at(0, Decimal("0.165")) == 0


@pytest.mark.parametrize("chart", sorted(POLICIES))
def test_payroll_rates_are_decimal(chart: str) -> None:
    rates = POLICIES[chart].payroll_rates
    assert set(rates) == {"tax", "employee", "employer"}
    assert all(isinstance(rate, Decimal) for rate in rates.values())


def test_loan_interest_is_exact() -> None:
    loan = Loan("L", 800, (2024, 1), 2, Decimal("0.045"))
    # After the first instalment of 400 cents, 400 are owed: 400 x 4.5 % / 12 = 1.5 cents.
    assert loan.interest(2024, 1) == 2
    assert loan.interest(2024, 2) == 0  # paid off
