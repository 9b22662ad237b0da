"""Hand-made ledgers for the audit tests: a small chart and a clean run of supplier invoices."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from ledgerpilot.ledger import (
    Account,
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    JournalEntry,
    Partner,
)

CHART = ChartOfAccounts(
    (
        Account("1000", "Bank", "asset_cash", role="liquidity"),
        Account("1200", "Receivables", "asset_receivable", role="receivable"),
        Account("1400", "Input VAT", "asset_current", role="tax"),
        Account("2200", "Payables", "liability_payable", role="payable"),
        Account("2400", "Output VAT", "liability_current", role="tax"),
        Account("4", "Expenses (summary)", "expense", postable=False),
        Account("4000", "Materials", "expense"),
        Account("4100", "Services", "expense"),
        Account("4900", "Other expenses", "expense"),
        Account("7000", "Revenue", "income"),
        Account("9000", "Suspense", "asset_current"),
    )
)

SUPPLIER = Partner("S1", "Drvo d.o.o.")
START = dt.date(2024, 1, 9)  # a Tuesday: no Tuesday of the weeks used is a holiday in HR
CENT = Decimal("0.01")


def invoice(
    number: int,
    day: dt.date,
    net: Decimal,
    *,
    partner: Partner | None = SUPPLIER,
    expense: str = "4000",
    user: str | None = "ana",
    at: dt.datetime | None = None,
    reference: str | None = None,
    kind: str = "supplier_invoice",
    entry_id: str | None = None,
) -> Document:
    """A supplier invoice at 25% VAT, posted the same day at 10:00 by ``user``."""
    tax = (net * Decimal("0.25")).quantize(CENT)
    gross = net + tax
    entry = JournalEntry(
        date=day,
        lines=(
            EntryLine(expense, debit=net),
            EntryLine("1400", debit=tax),
            EntryLine("2200", credit=gross),
        ),
        description=f"invoice {number} for materials",
        id=entry_id or f"E{number}",
        posted_by=user,
        posted_at=at or dt.datetime.combine(day, dt.time(10, 0)),
    )
    return Document(
        id=f"D{number}",
        kind=kind,
        number=reference or f"R-{number}",
        date=day,
        partner=partner,
        currency="EUR",
        lines=(DocumentLine("materials", net, Decimal("25"), tax),),
        total_net=net,
        total_tax=tax,
        total_gross=gross,
        text="materials",
        entry=entry,
    )


def clean(weeks: int = 30) -> list[Document]:
    """``weeks`` weekly invoices from one supplier: nothing an auditor should look at."""
    return [
        invoice(i, START + dt.timedelta(weeks=i), Decimal(300 + 17 * i) + Decimal(i) / 100)
        for i in range(weeks)
    ]


def with_entry(document: Document, **changes: object) -> Document:
    """``document`` with its entry changed."""
    assert document.entry is not None
    return replace(document, entry=replace(document.entry, **changes))  # type: ignore[arg-type]


def manual(
    number: int,
    day: dt.date,
    amount: Decimal,
    *,
    debit: str = "4900",
    credit: str = "1000",
    description: str = "correction of the rounding on the March payroll",
    user: str | None = "marko",
    at: dt.datetime | None = None,
) -> Document:
    """A manual journal voucher (kind "other", no partner) of one debit and one credit."""
    entry = JournalEntry(
        date=day,
        lines=(EntryLine(debit, debit=amount), EntryLine(credit, credit=amount)),
        description=description,
        id=f"E{number}",
        posted_by=user,
        posted_at=at or dt.datetime.combine(day, dt.time(11, 30)),
    )
    return Document(
        id=f"D{number}",
        kind="other",
        number=f"JV-{number}",
        date=day,
        partner=None,
        currency="EUR",
        lines=(),
        total_net=amount,
        total_tax=Decimal(0),
        total_gross=amount,
        text=description,
        entry=entry,
    )
