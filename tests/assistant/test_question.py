"""Reading a question's own words: amounts in both number styles, rate, year, basis, kind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledgerpilot.assistant.question import QuestionError, read_amount, read_question


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1,250.00", "1250.00"),
        ("1.250,00", "1250.00"),
        ("1 250,00", "1250.00"),
        ("1250", "1250"),
        ("500,00", "500.00"),
        ("1.250", "1250"),
        ("12,345,678.90", "12345678.90"),
        ("0.5", "0.5"),
    ],
)
def test_amounts_are_read_in_both_styles_as_decimal(written: str, value: str) -> None:
    amount = read_amount(written)
    assert isinstance(amount, Decimal) and amount == Decimal(value)


@pytest.mark.parametrize("written", ["1.250.00", "1,2345", "12a", ""])
def test_ambiguous_or_broken_amounts_are_refused(written: str) -> None:
    with pytest.raises(ValueError):
        read_amount(written)


def test_an_english_question_with_amount_rate_and_year() -> None:
    q = read_question(
        "How do I post a phone bill of Velebit Mobil for 1,250.00 gross at 25% in 2024?"
    )
    assert (q.amount, q.amount_text, q.basis, q.rate, q.year) == (
        Decimal("1250.00"), "1,250.00", "gross", Decimal("25"), 2024,
    )  # fmt: skip
    assert q.kinds == ("supplier_invoice", "sales_invoice")  # "bill": the history decides
    assert "velebit" in q.words and "phone" in q.words and "bill" not in q.words


def test_a_croatian_question_in_croatian_number_style() -> None:
    q = read_question("Kako knjižiti ulazni račun za najam od 1.250,00 bruto po 25%?")
    assert (q.amount, q.basis, q.rate, q.year) == (Decimal("1250.00"), "gross", Decimal("25"), None)
    assert q.kinds == ("supplier_invoice",)
    assert "najam" in q.words


def test_a_german_question_names_the_kind_and_the_net() -> None:
    q = read_question("Wie buche ich eine Ausgangsrechnung über 1.000,00 netto mit 19 %?")
    assert q.kinds == ("sales_invoice",)
    assert (q.amount, q.basis, q.rate) == (Decimal("1000.00"), "net", Decimal("19"))


def test_a_year_is_not_an_amount_but_2000_gross_is() -> None:
    assert read_question("rent in 2024").year == 2024
    assert read_question("rent in 2024").amount is None
    q = read_question("rent for 2000 gross")
    assert (q.year, q.amount, q.basis) == (None, Decimal("2000"), "gross")


def test_a_side_word_narrows_a_group_of_kinds() -> None:
    assert read_question("a credit note from a supplier").kinds == ("supplier_credit_note",)
    assert read_question("kupnja jahte").kinds == (
        "supplier_invoice", "supplier_credit_note", "bank_payment",
    )  # fmt: skip


def test_a_question_without_words_is_refused() -> None:
    with pytest.raises(QuestionError):
        read_question(" 12 %? ")
