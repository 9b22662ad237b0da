"""A small chart and documents that the ledger tests post against."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledgerpilot.ledger import ChartOfAccounts, Document, DocumentLine, Partner

CHART_CSV = """code,name,account_type
1000,Bank,asset_cash
1200,Trade receivables,asset_receivable
1400,Input VAT,asset_current
2000,Trade payables,liability_payable
2400,Output VAT,liability_current
40,Revenue (group),income
4000,Revenue,income
6000,Office supplies,expense
6100,Rent,expense
"""


@pytest.fixture
def chart() -> ChartOfAccounts:
    return ChartOfAccounts.from_csv(CHART_CSV)


def make_document(
    kind: str = "supplier_invoice",
    net: str = "1000.00",
    rate: str = "25",
    tax: str = "250.00",
    gross: str = "1250.00",
    currency: str = "EUR",
    doc_id: str = "D1",
) -> Document:
    return Document(
        id=doc_id,
        kind=kind,
        number="R-1",
        date=dt.date(2024, 3, 1),
        partner=Partner("P1", "Acme d.o.o.", "HR12345678901", "HR"),
        currency=currency,
        lines=(DocumentLine("Rent March", Decimal(net), Decimal(rate), Decimal(tax)),),
        total_net=Decimal(net),
        total_tax=Decimal(tax),
        total_gross=Decimal(gross),
    )


@pytest.fixture
def invoice() -> Document:
    return make_document()
