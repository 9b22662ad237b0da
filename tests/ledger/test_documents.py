import datetime as dt
from decimal import Decimal

import pytest

from ledgerpilot.ledger import Document, DocumentError, Violation

from .conftest import make_document

VALID = {
    "id": "SI-1",
    "kind": "supplier_invoice",
    "number": "2024-17",
    "date": "2024-03-01",
    "partner": {"id": "P1", "name": "Acme", "vat": "HR1", "country": "HR"},
    "currency": "EUR",
    "lines": [
        {"description": "Paper", "net": "100.00", "tax_rate": "25", "tax": "25.00"},
        {"description": "Books", "net": "50.00", "tax_rate": "5", "tax": "2.50"},
    ],
    "total_net": "150.00",
    "total_tax": "27.50",
    "total_gross": "177.50",
    "text": "note",
    "entry": {
        "date": "2024-03-02",
        "lines": [
            {"account": "6000", "debit": "150.00", "credit": "0.00", "description": "Paper"},
            {"account": "1400", "debit": "27.50", "credit": "0.00", "description": "VAT"},
            {"account": "2000", "debit": "0.00", "credit": "177.50", "description": "Acme"},
        ],
    },
}


def test_interchange_json_round_trip() -> None:
    doc = Document.from_json(VALID)
    assert doc.date == dt.date(2024, 3, 1)
    assert doc.lines[1].tax == Decimal("2.50")
    assert doc.entry is not None and doc.entry.is_balanced()
    assert doc.to_json() == VALID
    assert doc.check() == []


def test_pending_document_has_no_entry() -> None:
    data = {k: v for k, v in VALID.items() if k != "entry"}
    doc = Document.from_json(data)
    assert not doc.is_posted
    assert "entry" not in doc.to_json()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"id": None}, "id is missing"),
        ({"date": "2024-13-01"}, "is not a date"),
        ({"date": 20240301}, "must be a date"),
        ({"total_net": 150.0}, "JSON number"),
        ({"total_gross": "1,177.50"}, "separator"),
        ({"lines": "x"}, "lines must be a list"),
        ({"lines": [{"net": "1.00", "tax_rate": "250"}]}, "not a percentage"),
        ({"partner": "Acme"}, "partner must be a JSON object"),
        (
            {"entry": {"date": "2024-03-02", "lines": [{"account": "6000", "debit": 1.5}]}},
            "JSON number",
        ),
    ],
)
def test_unreadable_documents_raise_one_clear_error(change: dict, fragment: str) -> None:
    with pytest.raises(DocumentError, match=fragment):
        Document.from_json({**VALID, **change})


def test_document_check_reports_figures_that_do_not_add_up() -> None:
    doc = make_document(gross="1260.00")
    assert doc.check() == [
        Violation("document_inconsistent", "net 1000.00 + VAT 250.00 is not gross 1260.00")
    ]
    wrong_vat = make_document(tax="200.00", gross="1200.00")
    assert wrong_vat.check() == [
        Violation("document_inconsistent", "document line 1: VAT 200.00 is not 25% of 1000.00", 1)
    ]
    assert make_document(currency="XXX").check()[0].code == "unknown_currency"


@pytest.mark.parametrize("date", ["20240301", "2024-W09-5", "2024-3-1", "01.03.2024"])
def test_dates_must_be_written_yyyy_mm_dd(date: str) -> None:
    with pytest.raises(DocumentError, match="YYYY-MM-DD"):
        Document.from_json({**VALID, "date": date})
    with pytest.raises(DocumentError, match="YYYY-MM-DD"):
        Document.from_json({**VALID, "entry": {**VALID["entry"], "date": date}})
