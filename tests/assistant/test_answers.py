"""``ask`` on a synthetic company answers literal schemes, in Croatian and English, with and
without amounts, and says so instead of guessing when nothing in the history fits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledgerpilot.assistant import Assistant
from ledgerpilot.connectors import ReferenceAIS

Line = tuple[str, str, str] | tuple[str, str, str, str]

HR_CASES: list[tuple[str, str, str | None, list[Line]]] = [
    (
        "Kako knjižiti račun za struju od Drava Elektro?",
        "supplier_invoice",
        "Drava Elektro d.o.o.",
        # electricity at 13 %, to the utility payable Croatian charts keep apart
        [("140000", "debit", "tax at 13%"), ("407000", "debit", "net"),
         ("223000", "credit", "gross")],
    ),
    (
        "Kako knjižiti najam ureda za 1.250,00 bruto po 25%?",
        "supplier_invoice",
        None,
        [("140000", "debit", "tax at 25%", "250.00"), ("414000", "debit", "net", "1000.00"),
         ("220000", "credit", "gross", "1250.00")],
    ),
    (
        "How do I post a software subscription from Maple Cloud?",
        "supplier_invoice",
        "Maple Cloud d.o.o.",
        # a Serbian supplier: VAT self-assessed on both sides, the payable for foreign ones,
        # and the account the policy moved software to in the middle of the year
        [("140420", "debit", "25% of net (self-assessed)"), ("468000", "debit", "net"),
         ("221000", "credit", "gross"), ("240420", "credit", "25% of net (self-assessed)")],
    ),
    (
        "Kako knjižiti reprezentaciju za 113,00 bruto?",
        "supplier_invoice",
        None,
        [("140000", "debit", "tax at 13%", "13.00"), ("418000", "debit", "net", "100.00"),
         ("220000", "credit", "gross", "113.00")],
    ),
    (
        "Kako knjižiti plaće?",
        "payroll",
        None,
        [("420000", "debit", "line 1 net"), ("421000", "debit", "line 2 net"),
         ("422000", "debit", "line 3 net"), ("423000", "debit", "line 4 net"),
         ("230000", "credit", "line 1 net"), ("241000", "credit", "line 2 net"),
         ("242000", "credit", "lines 3+4 net")],
    ),
]  # fmt: skip

GENERIC_CASES: list[tuple[str, str, str | None, list[Line]]] = [
    (
        "How do I post a phone bill?",
        "supplier_invoice",
        None,
        [("1310", "debit", "tax at 17%"), ("6000", "debit", "net"), ("2110", "credit", "gross")],
    ),
    (
        "What is the posting scheme for the office rent of Wiltz Properties for 1,000.00 net?",
        "supplier_invoice",
        "Wiltz Properties SARL-S",
        [("1310", "debit", "tax at 17%", "170.00"), ("6120", "debit", "net", "1000.00"),
         ("2110", "credit", "gross", "1170.00")],
    ),
    (
        "How do I post a code hosting plan from Falcon Cloud?",
        "supplier_invoice",
        "Falcon Cloud GmbH",
        # a German supplier of services: reverse charge at Luxembourg's 17 %
        [("1310", "debit", "17% of net (self-assessed)"), ("6000", "debit", "net"),
         ("2110", "credit", "gross"), ("2510", "credit", "17% of net (self-assessed)")],
    ),
    (
        "How do I post an invoice for IT consulting?",
        "sales_invoice",
        None,
        [("1210", "debit", "gross"), ("2510", "credit", "tax at 17%"), ("4000", "credit", "net")],
    ),
]  # fmt: skip


def _lines(answer: dict[str, Any]) -> list[Line]:
    assert answer["scheme"] is not None, answer["explanation"]
    out: list[Line] = []
    for ln in answer["scheme"]["lines"]:
        if "value" in ln:
            out.append((ln["account"], ln["side"], ln["amount"], ln["value"]))
        else:
            out.append((ln["account"], ln["side"], ln["amount"]))
    return out


def _check_answered(
    assistant: Assistant, ais_url: str, question: str, kind: str, partner: str | None,
    expected: list[Line],
) -> None:  # fmt: skip
    answer = assistant.ask(question).as_json()
    assert answer["status"] == "answered", answer["explanation"]
    assert _lines(answer) == expected
    assert answer["kind"] == kind
    assert (answer["partner"] or {}).get("name") == partner
    chart = assistant.chart()
    for line in answer["scheme"]["lines"]:  # names from the chart, postable accounts only
        account = chart[line["account"]]
        assert account.postable and line["name"] == account.name
    if answer["entry"] is not None:
        debit = sum(Decimal(ln["debit"]) for ln in answer["entry"]["lines"])
        credit = sum(Decimal(ln["credit"]) for ln in answer["entry"]["lines"])
        assert debit == credit and answer["entry"]["balanced"]
    # the evidence: posted documents of the AIS, of the kind (and partner) asked about
    assert answer["evidence"]
    with ReferenceAIS(ais_url) as ais:
        for doc_id in answer["evidence"]:
            doc = ais.get_document(doc_id)
            assert doc is not None and doc.entry is not None
            assert doc.kind == kind
            if partner is not None:
                assert doc.partner is not None and doc.partner.name == partner


@pytest.mark.parametrize(("question", "kind", "partner", "expected"), HR_CASES)
def test_croatian_company(
    hr_assistant: Assistant, hr_ais_url: str, question: str, kind: str, partner: str | None,
    expected: list[Line],
) -> None:  # fmt: skip
    _check_answered(hr_assistant, hr_ais_url, question, kind, partner, expected)


@pytest.mark.parametrize(("question", "kind", "partner", "expected"), GENERIC_CASES)
def test_english_company(
    generic_assistant: Assistant, generic_ais_url: str, question: str, kind: str,
    partner: str | None, expected: list[Line],
) -> None:  # fmt: skip
    _check_answered(generic_assistant, generic_ais_url, question, kind, partner, expected)


@pytest.mark.parametrize(
    ("which", "question"),
    [
        ("hr", "Kako knjižiti kupnju jahte?"),
        ("generic", "How do I post the purchase of a yacht?"),
        ("generic", "What is the posting scheme for a helicopter lease of Wiltz Properties?"),
    ],
)
def test_what_the_history_never_saw_gets_no_scheme(
    hr_assistant: Assistant, generic_assistant: Assistant, which: str, question: str
) -> None:
    assistant = hr_assistant if which == "hr" else generic_assistant
    answer = assistant.ask(question).as_json()
    assert answer["status"] == "nothing_fits"
    assert answer["scheme"] is None and answer["entry"] is None and answer["variants"] == []
    assert "nothing" in answer["explanation"] and "none is given" in answer["explanation"]


def test_a_kind_alone_is_unclear_and_says_whom_to_name(hr_assistant: Assistant) -> None:
    answer = hr_assistant.ask("How do I post a supplier invoice?")
    assert answer.status == "unclear" and not answer.lines
    assert "Which partner" in answer.explanation


def test_partners_posted_differently_are_shown_side_by_side(hr_assistant: Assistant) -> None:
    # "cloud": Granite Software (Ireland, EU services) and Maple Cloud (Serbia) post it
    # to different accounts; without a partner the answer chooses neither.
    answer = hr_assistant.ask("How do I post a cloud subscription?")
    assert answer.status == "varies" and not answer.lines
    ways = {v.partners: {(ln.account, ln.side) for ln in v.lines} for v in answer.variants}
    assert ways[("Maple Cloud d.o.o.",)] >= {("140420", "debit"), ("240420", "credit")}
    assert ways[("Granite Software Ltd",)] >= {("140320", "debit"), ("240320", "credit")}
