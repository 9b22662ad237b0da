from decimal import Decimal

import pytest

from ledgerpilot.ledger.money import AmountError, format_amount, parse_amount, quantize, tax_on


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        ("-12", Decimal("-12")),
        (" 0.00 ", Decimal("0.00")),
        (Decimal("7.5"), Decimal("7.5")),
        (42, Decimal(42)),
    ],
)
def test_parse_amount_accepts_plain_numbers(text: object, expected: Decimal) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (12.5, "JSON number"),
        ("1,234.50", "separator"),
        ("1.234,50", "separator"),
        ("1 234.50", "separator"),
        ("12e3", "not a number"),
        ("NaN", "not a number"),
        ("", "empty"),
        ("1" * 20, "absurdly large"),
        (True, "string"),
        (None, "NoneType"),
        ("€12", "not a number"),
    ],
)
def test_parse_amount_refuses_what_is_not_money(value: object, fragment: str) -> None:
    with pytest.raises(AmountError, match=fragment):
        parse_amount(value)


def test_parse_amount_checks_the_currency_minor_unit() -> None:
    assert parse_amount("100.10", "EUR") == Decimal("100.10")
    assert parse_amount("100.100", "EUR") == Decimal("100.100")  # trailing zero is harmless
    with pytest.raises(AmountError, match="more decimals than JPY allows"):
        parse_amount("100.5", "JPY")
    with pytest.raises(AmountError, match="more decimals than EUR allows"):
        parse_amount("1.005", "EUR")


def test_quantize_rounds_half_up_per_currency() -> None:
    assert quantize(Decimal("2.675"), "EUR") == Decimal("2.68")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert quantize(Decimal("1.0005"), "KWD") == Decimal("1.001")
    assert format_amount(Decimal("1250"), "EUR") == "1250.00"
    assert format_amount(Decimal("1E+3"), "EUR") == "1000.00"


def test_tax_on_rounds_each_line() -> None:
    assert tax_on(Decimal("19.99"), Decimal("25")) == Decimal("5.00")
    assert tax_on(Decimal("10.10"), Decimal("13")) == Decimal("1.31")
    assert tax_on(Decimal("100.00"), Decimal("0")) == Decimal("0.00")
