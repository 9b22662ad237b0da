"""Recall over the history index: the partner's documents first, then similar text."""

from __future__ import annotations

import dataclasses
from typing import Any

from ledgerpilot.agent.recall import HistoryIndex, Keep, note_key
from ledgerpilot.ledger import ChartOfAccounts, Document, Partner

CHART = ChartOfAccounts.from_csv(
    """code,name,account_type
1000,Bank,asset_cash
1400,Input VAT,asset_current
2200,Trade payables,liability_payable
4100,Telephone,expense
4140,Rent,expense
"""
)

PARTNERS = {
    "RENT": {"id": "RENT", "name": "Landlord d.o.o.", "country": "HR"},
    "TEL": {"id": "TEL", "name": "Telecom d.d.", "country": "HR"},
    "TEL2": {"id": "TEL2", "name": "Other Telecom d.d.", "country": "HR"},
}


def invoice(doc_id: str, date: str, partner: str, description: str, account: str) -> Document:
    """A posted supplier invoice of 100.00 net at 25 % VAT."""
    data: dict[str, Any] = {
        "id": doc_id,
        "kind": "supplier_invoice",
        "number": doc_id,
        "date": date,
        "partner": PARTNERS[partner],
        "currency": "EUR",
        "lines": [{"description": description, "net": "100.00", "tax_rate": "25", "tax": "25.00"}],
        "total_net": "100.00",
        "total_tax": "25.00",
        "total_gross": "125.00",
        "text": f"{PARTNERS[partner]['name']}, invoice {doc_id}.",
        "entry": {
            "date": date,
            "lines": [
                {"account": account, "debit": "100.00", "credit": "0"},
                {"account": "1400", "debit": "25.00", "credit": "0"},
                {"account": "2200", "debit": "0", "credit": "125.00"},
            ],
        },
    }
    return Document.from_json(data)


HISTORY = [
    invoice("R1", "2025-01-01", "RENT", "Office rent 01/2025", "4140"),
    invoice("T1", "2025-01-05", "TEL", "Mobile tariff 01/2025", "4100"),
    invoice("R2", "2025-02-01", "RENT", "Office rent 02/2025", "4140"),
    invoice("O1", "2025-02-03", "TEL2", "Mobile tariff 02/2025", "4100"),
    invoice("T2", "2025-02-05", "TEL", "Mobile tariff 02/2025", "4100"),
    invoice("R3", "2025-03-01", "RENT", "Office rent 03/2025", "4140"),
]


def new(doc: Document, doc_id: str = "NEW") -> Document:
    return dataclasses.replace(doc, id=doc_id, entry=None)


def test_the_partners_documents_come_first_most_recent_first() -> None:
    index = HistoryIndex.build(HISTORY, CHART)
    april = new(invoice("X", "2025-04-01", "RENT", "Office rent 04/2025", "4140"))
    found = index.recall(april, k=4)
    assert [(r.document.id, r.reason) for r in found] == [
        ("R3", "same partner and kind"),
        ("R2", "same partner and kind"),
        ("R1", "same partner and kind"),
        ("T2", "similar text"),
    ]
    assert found[0].similarity == 1.0
    assert all(0.0 <= r.similarity <= 1.0 for r in found)


def test_an_unseen_partner_gets_documents_with_similar_lines() -> None:
    index = HistoryIndex.build(HISTORY, CHART)
    stranger = dataclasses.replace(
        new(invoice("X", "2025-04-01", "TEL", "Mobile tariff 04/2025", "4100")),
        partner=Partner("NEWTEL", "New Telecom", country="HR"),
    )
    assert not index.knows_partner(stranger)
    found = index.recall(stranger, k=3)
    assert [r.document.id for r in found] == ["T2", "O1", "T1"]
    assert {r.reason for r in found} == {"similar text"}


def test_recall_never_returns_the_document_itself() -> None:
    index = HistoryIndex.build(HISTORY, CHART)
    assert "R3" not in [r.document.id for r in index.recall(HISTORY[-1], k=10)]


def test_the_index_keeps_only_the_most_recent_documents_of_each_pool() -> None:
    keep = Keep(partner=2, partner_line=1, line=1, note=1, kind=1, recent=1)
    index = HistoryIndex.build(HISTORY, CHART, keep)
    assert index.indexed == 6
    assert [d.id for d in index.pool(("p", "RENT", "supplier_invoice"))] == ["R3", "R2"]
    assert "R1" not in index.documents
    assert index.partners["RENT"].documents == 3
    assert str(index.partners["RENT"].first) == "2025-01-01"


def test_the_note_is_the_texts_boilerplate_without_numbers_and_partner_name() -> None:
    assert note_key(
        "Landlord d.o.o., invoice 2025-0012. Reverse charge: VAT", "Landlord d.o.o."
    ) == ("invoice reverse charge vat")


def test_the_index_counts_how_often_a_partner_posts_otherwise() -> None:
    slip = invoice("R4", "2025-04-01", "RENT", "Office rent 04/2025", "4100")
    index = HistoryIndex.build([*HISTORY, slip], CHART)
    assert index.changes == {("supplier_invoice", "partner"): (4, 1)}
