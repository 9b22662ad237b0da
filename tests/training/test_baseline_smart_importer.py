"""The smart_importer baseline on a tiny literal history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import sys
from decimal import Decimal

import pytest

from ledgerpilot.ledger import (
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    JournalEntry,
    Partner,
)
from ledgerpilot.training.baseline_smart_importer import (
    BaselineUnavailable,
    account_names,
    fit_predict,
)

needs_smart_importer = pytest.mark.skipif(
    importlib.util.find_spec("smart_importer") is None,
    reason="smart_importer is not installed (pip install 'smart-importer>=1.2')",
)

CHART = ChartOfAccounts.from_csv(
    """code,name,account_type
1000,Bank,asset_cash
1200,Trade receivables,asset_receivable
1400,Input VAT,asset_current
2000,Trade payables,liability_payable
2400,Output VAT,liability_current
0800,Accumulated depreciation,asset_fixed
4000,Revenue,income
4800,Depreciation,expense_depreciation
6000,Office supplies,expense
6100,Rent,expense
"""
)

LANDLORD = Partner("P1", "Landlord d.o.o.")
PAPER = Partner("P2", "Paper Shop")


def line(account: str, debit: str = "0", credit: str = "0") -> EntryLine:
    return EntryLine(account, Decimal(debit), Decimal(credit))


def document(
    doc_id: str,
    kind: str,
    partner: Partner | None,
    day: int,
    text: str,
    gross: str,
    *lines: EntryLine,
) -> Document:
    amount = Decimal(gross)
    return Document(
        id=doc_id,
        kind=kind,
        number=doc_id,
        date=dt.date(2024, 1, 1) + dt.timedelta(days=day),
        partner=partner,
        currency="EUR",
        lines=(DocumentLine(text, amount, Decimal(0), Decimal(0)),),
        total_net=amount,
        total_tax=Decimal(0),
        total_gross=amount,
        text=text,
        entry=JournalEntry(date=dt.date(2024, 1, 1) + dt.timedelta(days=day), lines=lines),
    )


def rent(doc_id: str, day: int) -> Document:
    return document(
        doc_id,
        "supplier_invoice",
        LANDLORD,
        day,
        "Office rent",
        "1250.00",
        line("6100", debit="1000.00"),
        line("1400", debit="250.00"),
        line("2000", credit="1250.00"),
    )


def paper(doc_id: str, day: int) -> Document:
    return document(
        doc_id,
        "supplier_invoice",
        PAPER,
        day,
        "Toner and copy paper",
        "125.00",
        line("6000", debit="60.00"),
        line("6000", debit="40.00"),  # two lines on one account: merged into one posting
        line("1400", debit="25.00"),
        line("2000", credit="125.00"),
    )


def transfer(doc_id: str, day: int) -> Document:
    return document(
        doc_id,
        "bank_payment",
        LANDLORD,
        day,
        "SEPA transfer",
        "1250.00",
        line("2000", debit="1250.00"),
        line("1000", credit="1250.00"),
    )


HISTORY = [
    rent("H1", 0),
    paper("H2", 3),
    rent("H3", 31),
    paper("H4", 35),
    transfer("H5", 40),
    rent("H6", 60),
    paper("H7", 64),
    transfer("H8", 70),
]


@needs_smart_importer
def test_a_partner_always_posted_to_one_account_is_predicted_that_account() -> None:
    new_rent, new_paper = rent("N1", 91), paper("N2", 93)
    predicted = fit_predict(HISTORY, [new_rent, new_paper], CHART)
    assert list(predicted) == ["N1", "N2"]
    # The settling posting (given) first, then smart_importer's accounts with their sides.
    assert predicted["N1"][0] == ("2000", "credit")
    assert sorted(predicted["N1"]) == [("1400", "debit"), ("2000", "credit"), ("6100", "debit")]
    assert predicted["N2"][0] == ("2000", "credit")
    assert sorted(predicted["N2"]) == [("1400", "debit"), ("2000", "credit"), ("6000", "debit")]


@needs_smart_importer
def test_bank_lines_train_on_transactions_of_their_bank_account() -> None:
    # Only H5 and H8 touch the bank: one target, applied without a model.
    predicted = fit_predict(HISTORY, [transfer("N3", 95)], CHART)
    assert predicted == {"N3": [("1000", "credit"), ("2000", "debit")]}


@needs_smart_importer
def test_a_credit_note_gets_the_invoice_accounts_on_flipped_sides() -> None:
    credit_note = document(
        "N4",
        "supplier_credit_note",
        LANDLORD,
        96,
        "Office rent",
        "125.00",
        line("2000", debit="125.00"),
        line("6100", credit="100.00"),
        line("1400", credit="25.00"),
    )
    predicted = fit_predict(HISTORY, [credit_note], CHART)
    assert predicted["N4"][0] == ("2000", "debit")
    assert sorted(predicted["N4"]) == [("1400", "credit"), ("2000", "debit"), ("6100", "credit")]


@needs_smart_importer
def test_a_document_without_a_settling_line_gets_no_prediction() -> None:
    depreciation = document(
        "N5",
        "depreciation",
        None,
        97,
        "Depreciation March",
        "80.00",
        line("4800", debit="80.00"),
        line("0800", credit="80.00"),
    )
    assert fit_predict(HISTORY, [depreciation], CHART) == {"N5": []}


@needs_smart_importer
def test_no_history_for_the_settling_account_predicts_nothing_more() -> None:
    sale = document(
        "N6",
        "sales_invoice",
        Partner("C1", "Customer"),
        98,
        "Consulting",
        "500.00",
        line("1200", debit="500.00"),
        line("4000", credit="500.00"),
    )
    assert fit_predict(HISTORY, [sale], CHART) == {"N6": [("1200", "debit")]}


def test_a_held_out_document_must_be_posted() -> None:
    pending = dataclasses.replace(rent("N7", 99), entry=None)
    with pytest.raises(ValueError, match="no posted entry"):
        fit_predict(HISTORY, [pending], CHART)


def test_unavailable_smart_importer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smart_importer", None)  # makes the import fail
    with pytest.raises(BaselineUnavailable, match="pip install"):
        fit_predict(HISTORY, [rent("N8", 100)], CHART)


def test_account_names_are_valid_and_one_to_one() -> None:
    names = account_names(CHART, ["9999", "1.2/3", "1-2-3"])
    assert names["1200"] == "Assets:1200"
    assert names["2000"] == "Liabilities:2000"
    assert names["4000"] == "Income:4000"
    assert names["6100"] == "Expenses:6100"
    assert names["9999"] == "Equity:9999"
    assert names["1.2/3"] == "Equity:X1-2-3"
    assert names["1-2-3"] == "Equity:1-2-3"
    assert len(set(names.values())) == len(names)
