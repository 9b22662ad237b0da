"""Amount binding: historical entries as templates relative to their documents, bound anew."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerpilot.agent.binding import (
    Basis,
    Unbindable,
    bind,
    description_key,
    line_refs,
    make_template,
    stated_amount,
)
from ledgerpilot.ledger import ChartOfAccounts, Document, PostingScheme

CHART = ChartOfAccounts.from_csv(
    """code,name,account_type,role
1000,Bank,asset_cash,liquidity
1400,Input VAT,asset_current,tax
1410,Input VAT reverse charge,asset_current,tax
1420,VAT refund claim,asset_current,
2200,Trade payables,liability_payable,payable
2400,Output VAT,liability_current,tax
2410,Output VAT reverse charge,liability_current,tax
2470,VAT payable,liability_current,
2300,Net salaries payable,liability_current,
2310,Taxes and contributions payable,liability_current,
4100,Salaries,expense,
4130,Employer contributions,expense,
4070,Energy,expense,
4140,Rent,expense,
4680,Software,expense,
"""
)


def doc(
    lines: list[tuple[str, str, str, str]],
    entry: list[tuple[str, str, str]] | None = None,
    *,
    kind: str = "supplier_invoice",
    doc_id: str = "D1",
    text: str = "",
) -> Document:
    """A document from (description, net, rate, tax) lines and (account, debit, credit) entry."""
    net = sum((Decimal(n) for _, n, _, _ in lines), Decimal(0))
    tax = sum((Decimal(t) for _, _, _, t in lines), Decimal(0))
    data: dict[str, Any] = {
        "id": doc_id,
        "kind": kind,
        "number": f"N-{doc_id}",
        "date": "2025-03-31",
        "partner": {"id": "P1", "name": "Utility d.d.", "country": "HR"},
        "currency": "EUR",
        "lines": [{"description": d, "net": n, "tax_rate": r, "tax": t} for d, n, r, t in lines],
        "total_net": f"{net:.2f}",
        "total_tax": f"{tax:.2f}",
        "total_gross": f"{net + tax:.2f}",
        "text": text,
    }
    if entry is not None:
        data["entry"] = {
            "date": "2025-03-31",
            "lines": [
                {"account": a, "debit": d, "credit": c, "description": ""} for a, d, c in entry
            ],
        }
    return Document.from_json(data)


def amounts(scheme: PostingScheme | Unbindable) -> list[tuple[str, str, str]]:
    assert isinstance(scheme, PostingScheme), scheme
    return [(ln.account, f"{ln.debit:.2f}", f"{ln.credit:.2f}") for ln in scheme.lines]


# A utility bill with electricity at 13 % and a meter fee at 25 %.
ELECTRICITY = doc(
    [
        ("Electricity supply 02/2025", "100.00", "13", "13.00"),
        ("Meter fee 02/2025", "10.00", "25", "2.50"),
    ],
    [
        ("4070", "100.00", "0"),
        ("4070", "10.00", "0"),
        ("1400", "13.00", "0"),
        ("1400", "2.50", "0"),
        ("2200", "0", "125.50"),
    ],
)


def test_description_key_drops_numbers_periods_and_punctuation() -> None:
    assert description_key("Mobile tariff (2 pcs) 01/2024") == "mobile tariff pcs"
    assert description_key("Office rent 03/2025") == "office rent"
    assert description_key('27" office monitor') == "office monitor"
    assert description_key("Input VAT 01/2024 (140000)") == "input vat"


def test_line_refs_number_repeated_descriptions() -> None:
    repeated = doc([("IT consulting (3 h)", "1", "0", "0"), ("IT consulting (5 h)", "2", "0", "0")])
    assert line_refs(repeated) == (("it consulting", 0), ("it consulting", 1))


def test_invoice_template_takes_each_amount_from_the_document() -> None:
    template = make_template(ELECTRICITY, CHART)
    assert [ln.basis for ln in template.lines] == [
        Basis("net", "lines", (("electricity supply", 0),)),
        Basis("net", "lines", (("meter fee", 0),)),
        Basis("tax", "rate", (("electricity supply", 0),), rate=Decimal(13)),
        Basis("tax", "rate", (("meter fee", 0),), rate=Decimal(25)),
        Basis("gross"),
    ]
    assert template.exact
    assert template.shared == ("debit",)


def test_bind_computes_every_amount_from_the_new_document() -> None:
    march = doc(
        [
            ("Electricity supply 03/2025", "87.65", "13", "11.39"),
            ("Meter fee 03/2025", "10.00", "25", "2.50"),
        ]
    )
    scheme = bind(make_template(ELECTRICITY, CHART), march)
    assert amounts(scheme) == [
        ("4070", "87.65", "0.00"),
        ("4070", "10.00", "0.00"),
        ("1400", "11.39", "0.00"),
        ("1400", "2.50", "0.00"),
        ("2200", "0.00", "111.54"),
    ]
    assert isinstance(scheme, PostingScheme)
    assert scheme.lines[0].description == "Electricity supply 03/2025"
    assert scheme.document == "D1" and scheme.currency == "EUR"


def test_a_template_that_needs_a_rate_the_document_lacks_says_so() -> None:
    only_fee = doc([("Meter fee 04/2025", "10.00", "25", "2.50")])
    assert bind(make_template(ELECTRICITY, CHART), only_fee) == Unbindable(
        "it takes a line 'electricity supply' that the document lacks"
    )
    single = make_template(
        doc(
            [("Office rent", "100.00", "25", "25.00")],
            [("4140", "100.00", "0"), ("1400", "25.00", "0"), ("2200", "0", "125.00")],
        ),
        CHART,
    )
    at_13 = doc([("Office rent", "100.00", "13", "13.00")])
    assert bind(single, at_13) == Unbindable("it takes the lines at 25%; the document has none")


def test_a_document_line_without_a_place_in_the_template_is_unbindable() -> None:
    rent = make_template(
        doc(
            [("Office rent", "100.00", "25", "25.00")],
            [("4140", "100.00", "0"), ("1400", "25.00", "0"), ("2200", "0", "125.00")],
        ),
        CHART,
    )
    assert rent.lines[0].basis == Basis("net", "lines", (("office rent", 0),))
    rent_and_parking = doc(
        [("Office rent", "100.00", "25", "25.00"), ("Parking space", "20.00", "25", "5.00")]
    )
    assert bind(rent, rent_and_parking) == Unbindable(
        "document line 2 'Parking space' has no place on the debit side of the template"
    )


def test_reverse_charge_is_self_assessed_at_the_rate_on_the_nets() -> None:
    licence = doc(
        [("Software subscription 01/2025", "100.00", "0", "0.00")],
        [
            ("4680", "100.00", "0"),
            ("1410", "25.00", "0"),
            ("2410", "0", "25.00"),
            ("2200", "0", "100.00"),
        ],
    )
    template = make_template(licence, CHART)
    assert template.lines[1].basis == Basis(
        "self_tax", "lines", (("software subscription", 0),), self_rate=Decimal(25)
    )
    february = doc([("Software subscription 02/2025", "80.42", "0", "0.00")])
    assert amounts(bind(template, february)) == [
        ("4680", "80.42", "0.00"),
        ("1410", "20.11", "0.00"),
        ("2410", "0.00", "20.11"),
        ("2200", "0.00", "80.42"),
    ]


def test_payroll_lines_map_to_subsets_of_the_document_lines() -> None:
    january = doc(
        [
            ("Net salaries 01/2025", "700.00", "0", "0"),
            ("Income tax withheld 01/2025", "100.00", "0", "0"),
            ("Employee contributions 01/2025", "200.00", "0", "0"),
            ("Employer contributions 01/2025", "150.00", "0", "0"),
        ],
        [
            ("4100", "1000.00", "0"),
            ("4130", "150.00", "0"),
            ("2300", "0", "700.00"),
            ("2310", "0", "450.00"),
        ],
        kind="payroll",
    )
    template = make_template(january, CHART)
    assert [ln.basis.lines for ln in template.lines] == [
        (("net salaries", 0), ("income tax withheld", 0), ("employee contributions", 0)),
        (("employer contributions", 0),),
        (("net salaries", 0),),
        (("income tax withheld", 0), ("employee contributions", 0), ("employer contributions", 0)),
    ]
    february = doc(
        [
            ("Net salaries 02/2025", "710.10", "0", "0"),
            ("Income tax withheld 02/2025", "101.20", "0", "0"),
            ("Employee contributions 02/2025", "202.30", "0", "0"),
            ("Employer contributions 02/2025", "151.40", "0", "0"),
        ],
        kind="payroll",
    )
    assert amounts(bind(template, february)) == [
        ("4100", "1013.60", "0.00"),
        ("4130", "151.40", "0.00"),
        ("2300", "0.00", "710.10"),
        ("2310", "0.00", "454.90"),
    ]


def test_vat_return_amounts_come_from_its_text_and_the_refund_balances() -> None:
    assert stated_amount("VAT return 01/2025: 1400 300.00, 2400 -250.00", "2400") == Decimal(
        "250.00"
    )
    assert stated_amount("VAT return 01/2025: 1400 300.00", "2400") is None
    refund = doc(
        [("Input VAT 01/2025 (1400)", "300.00", "0", "0")],
        [("2400", "250.00", "0"), ("1420", "50.00", "0"), ("1400", "0", "300.00")],
        kind="other",
        text="VAT return 01/2025: 1400 300.00, 2400 -250.00",
    )
    template = make_template(refund, CHART)
    assert [ln.basis.what for ln in template.lines] == ["stated", "balance", "stated"]
    payable = doc(
        [("Input VAT 02/2025 (1400)", "200.00", "0", "0")],
        kind="other",
        text="VAT return 02/2025: 1400 200.00, 2400 -180.00",
    )
    assert amounts(bind(template, payable)) == [
        ("2400", "180.00", "0.00"),
        ("1400", "0.00", "200.00"),
        ("1420", "20.00", "0.00"),
    ]


def test_an_amount_nothing_explains_is_fixed() -> None:
    odd = doc(
        [("Office rent", "100.00", "0", "0.00")],
        [
            ("4140", "100.00", "0"),
            ("4070", "7.00", "0"),
            ("2200", "0", "100.00"),
            ("1000", "0", "7.00"),
        ],
    )
    template = make_template(odd, CHART)
    assert [ln.basis.what for ln in template.lines] == ["net", "fixed", "gross", "fixed"]
    assert not template.exact
