"""Every violation code, with literal expectations."""

import json
from typing import Any

import pytest

from ledgerpilot.ledger import (
    CODES,
    ChartOfAccounts,
    Document,
    PostingScheme,
    Violation,
    check_scheme,
    parse_scheme,
    validate,
)

from .conftest import make_document


def line(account: str, debit: str = "0.00", credit: str = "0.00", description: str = "") -> dict:
    return {"account": account, "debit": debit, "credit": credit, "description": description}


RENT = [line("6100", debit="1000.00"), line("1400", debit="250.00"), line("2000", credit="1250.00")]


def scheme(lines: list[dict], **extra: Any) -> dict:
    return {
        "document": "D1",
        "kind": "supplier_invoice",
        "explanation": "rent",
        "lines": lines,
        **extra,
    }


def check(raw: Any, chart: ChartOfAccounts, document: Document | None = None) -> list[Violation]:
    return check_scheme(json.dumps(raw) if not isinstance(raw, str) else raw, chart, document)[1]


def test_a_correct_scheme_has_no_violation(chart: ChartOfAccounts, invoice: Document) -> None:
    assert check(scheme(RENT), chart, invoice) == []


def test_unbalanced(chart: ChartOfAccounts) -> None:
    lines = [line("6100", debit="1000.00"), line("2000", credit="999.99")]
    assert check(scheme(lines), chart) == [
        Violation("unbalanced", "debits 1000.00 and credits 999.99 differ by 0.01")
    ]


def test_unknown_and_non_postable_accounts(chart: ChartOfAccounts) -> None:
    lines = [line("9999", debit="10.00"), line("40", credit="10.00")]
    assert check(scheme(lines), chart) == [
        Violation("unknown_account", "account '9999' is not in the chart", 1),
        Violation("non_postable_account", "account 40 (Revenue (group)) takes no postings", 2),
    ]


def test_both_sides_zero_and_negative_lines(chart: ChartOfAccounts) -> None:
    lines = [
        line("6100", debit="10.00", credit="10.00"),
        line("6000"),
        line("2000", debit="-5.00"),
        line("2000", credit="5.00"),
    ]
    assert check(scheme(lines), chart) == [
        Violation("both_sides", "debit 10.00 and credit 10.00 on one line", 1),
        Violation("zero_line", "the line has no amount", 2),
        Violation("negative_amount", "a debit or credit cannot be negative; use the other side", 3),
        Violation("unbalanced", "debits 5.00 and credits 15.00 differ by -10.00"),
    ]


def test_empty(chart: ChartOfAccounts) -> None:
    assert check(scheme([]), chart) == [Violation("empty", "the scheme has no lines")]


def test_total_mismatch_on_the_settling_side(chart: ChartOfAccounts, invoice: Document) -> None:
    lines = [
        line("6100", debit="1000.00"),
        line("1400", debit="250.00"),
        line("2000", credit="1200.00"),
        line("1000", credit="50.00"),
    ]
    # Settled partly by bank, partly by payables: still settles 1250.00, so no violation.
    assert check(scheme(lines), chart, invoice) == []
    wrong = [line("6100", debit="1250.00"), line("2000", credit="1250.00")]
    assert check(scheme(wrong), chart, make_document(kind="sales_invoice")) == [
        Violation(
            "total_mismatch",
            "the debit on liquidity or receivable accounts is 0, the "
            "document's gross total is 1250.00",
        ),
        Violation("tax_mismatch", "VAT booked is 0, the document's VAT is 250.00"),
    ]


def test_total_mismatch_for_whole_entry_kinds(chart: ChartOfAccounts) -> None:
    payroll = make_document(kind="payroll", net="3000.00", rate="0", tax="0.00", gross="3000.00")
    lines = [line("6000", debit="2900.00"), line("1000", credit="2900.00")]
    assert check(scheme(lines), chart, payroll) == [
        Violation("total_mismatch", "the entry totals 2900.00, the document 3000.00")
    ]


def test_tax_mismatch(chart: ChartOfAccounts, invoice: Document) -> None:
    lines = [
        line("6100", debit="1050.00"),
        line("1400", debit="200.00"),
        line("2000", credit="1250.00"),
    ]
    assert check(scheme(lines), chart, invoice) == [
        Violation("tax_mismatch", "VAT booked is 200.00, the document's VAT is 250.00")
    ]


def test_reverse_charge_vat_that_nets_to_zero_passes(chart: ChartOfAccounts) -> None:
    eu = make_document(net="1000.00", rate="0", tax="0.00", gross="1000.00")
    lines = [
        line("6100", debit="1000.00"),
        line("1400", debit="250.00"),
        line("2400", credit="250.00"),
        line("2000", credit="1000.00"),
    ]
    assert check(scheme(lines), chart, eu) == []


def test_currency_mismatch_and_unknown_currency(chart: ChartOfAccounts, invoice: Document) -> None:
    assert check(scheme(RENT, currency="USD"), chart, invoice) == [
        Violation("currency_mismatch", "the scheme is in USD, the document in EUR")
    ]
    assert check(scheme(RENT), chart, make_document(currency="XYZ")) == [
        Violation("unknown_currency", "currency 'XYZ' is not one ledgerpilot knows")
    ]


def test_amounts_beyond_the_currency_minor_unit(chart: ChartOfAccounts) -> None:
    yen = make_document(net="1000", rate="0", tax="0", gross="1000", currency="JPY")
    lines = [line("6100", debit="1000.50"), line("2000", credit="1000.50")]
    assert check(scheme(lines), chart, yen) == [
        Violation("bad_amount", "1000.50 has more decimals than JPY allows (0)", 1),
        Violation("bad_amount", "1000.50 has more decimals than JPY allows (0)", 2),
        Violation(
            "total_mismatch",
            "the credit on liquidity or payable accounts is 1000.50, "
            "the document's gross total is 1000",
        ),
    ]


def test_wrong_document(chart: ChartOfAccounts, invoice: Document) -> None:
    raw = scheme(RENT)
    raw["document"] = "D2"
    assert check(raw, chart, invoice) == [
        Violation("wrong_document", "the scheme is for document 'D2', not 'D1'")
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "not json",
            Violation("malformed", "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        ),
        ("[1, 2]", Violation("malformed", "a posting scheme must be a JSON object")),
        ('{"document": "D1"}', Violation("malformed", 'the scheme has no "lines"')),
        ('{"lines": {"a": 1}}', Violation("malformed", '"lines" must be a list')),
        ("[" * 100_000, Violation("malformed", "the JSON is nested too deeply")),
        (
            "x" * 2_000_000,
            Violation("malformed", "the scheme is 2000000 bytes; at most 1000000 are read"),
        ),
    ],
)
def test_unreadable_json_is_one_clear_violation(
    raw: str, expected: Violation, chart: ChartOfAccounts
) -> None:
    assert check(raw, chart) == [expected]


def test_malformed_lines_and_amounts(chart: ChartOfAccounts) -> None:
    raw = (
        '{"document": "D1", "kind": 7, "explanation": "x", "lines": ['
        '{"account": 6100, "debit": "1.00"}, "junk", '
        '{"account": "6100", "debit": 1000.5}, {"account": "2000", "credit": "1,000.50"}, '
        '{"account": "2000", "credit": "1e3"}, {"account": "2000", "credit": "99999999999999999"}'
        "]}"
    )
    assert check(raw, chart) == [
        Violation("malformed", '"account" must be the account code as a string', 1),
        Violation("malformed", "a line must be a JSON object", 2),
        Violation(
            "bad_amount", 'debit must be a string like "123.45", got the JSON number 1000.5', 3
        ),
        Violation(
            "bad_amount",
            "credit: amount '1,000.50' has a separator; write it as "
            '"1234.50" (no thousands separator, a point for decimals)',
            4,
        ),
        Violation("bad_amount", "credit: amount is not a number: '1e3'", 5),
        Violation("bad_amount", "credit: amount 99999999999999999 is absurdly large", 6),
    ]


def test_too_many_lines_is_refused_unread(chart: ChartOfAccounts) -> None:
    lines = [line("6100", debit="1.00")] * 10_000
    assert check(scheme(lines), chart) == [
        Violation("too_many_lines", "10000 lines; a scheme may have at most 500")
    ]


def test_text_a_database_cannot_store(chart: ChartOfAccounts, invoice: Document) -> None:
    lines = [dict(ln) for ln in RENT]
    lines[0]["description"] = "rent\x00"
    lines[2]["description"] = "Landlord \ud800"
    nul = "contains a NUL character, which databases cannot store"
    assert check(scheme(lines, explanation="as last month\x00"), chart, invoice) == [
        Violation("unstorable_text", f"the explanation {nul}"),
        Violation("unstorable_text", f"the description {nul}", 1),
        Violation(
            "unstorable_text", "the description is not valid Unicode (it has a lone surrogate)", 3
        ),
    ]
    # Other control characters and any valid Unicode are stored as they are.
    lines = [dict(ln, description="\x1b[31m \u202e \U0001f4a5") for ln in RENT]
    assert check(scheme(lines, explanation="\x07"), chart, invoice) == []


def test_every_code_is_documented() -> None:
    used = {
        "unbalanced",
        "unknown_account",
        "non_postable_account",
        "both_sides",
        "zero_line",
        "negative_amount",
        "empty",
        "total_mismatch",
        "tax_mismatch",
        "currency_mismatch",
        "malformed",
        "bad_amount",
        "too_many_lines",
        "unknown_currency",
        "wrong_document",
        "document_inconsistent",
        "unstorable_text",
    }
    assert set(CODES) == used


def test_scheme_json_round_trip(chart: ChartOfAccounts, invoice: Document) -> None:
    parsed, found = parse_scheme(json.dumps(scheme(RENT)))
    assert found == [] and parsed is not None
    assert parsed.to_json("EUR") == scheme(RENT)
    again, _ = parse_scheme(parsed.to_json("EUR"))
    assert again == parsed
    assert validate(PostingScheme("D1", "supplier_invoice", "", parsed.lines), chart, invoice) == []
