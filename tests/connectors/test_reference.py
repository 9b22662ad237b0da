"""ReferenceAIS on SQLite and PostgreSQL: chart, pending and history, summary, load()."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.connectors.interchange import read_documents
from ledgerpilot.ledger import ChartOfAccounts, Document, EntryLine, JournalEntry

from .conftest import SMALL_COMPANY

POSTED = [
    "SI-2024-001",
    "SI-2024-002",
    "INV-2024-001",
    "CN-2024-001",
    "BP-2024-001",
    "BR-2024-001",
    "DEP-2024-01",
    "PAY-2024-01",
    "SI-2024-004",
]
PENDING = ["SI-2024-003", "INV-2024-002", "BP-2024-002"]


def _file_documents() -> dict[str, Document]:
    docs, errors = read_documents(SMALL_COMPANY)
    assert errors == []
    return {doc.id: doc for doc in docs}


def test_chart_round_trips_in_order(company: ReferenceAIS, chart: ChartOfAccounts) -> None:
    stored = company.chart()
    assert stored == chart
    assert [a.code for a in stored][:3] == ["1010", "1101", "1102"]
    assert stored["1014"].role == "liquidity"
    assert stored.with_role("tax") == frozenset({"1310", "1320", "2510", "2520"})


def test_save_chart_updates_by_code(company: ReferenceAIS, chart: ChartOfAccounts) -> None:
    renamed = ChartOfAccounts(
        tuple(
            dataclasses.replace(a, name="Main bank account") if a.code == "1014" else a
            for a in chart
        )
    )
    assert company.save_chart(renamed) == 1
    assert company.save_chart(renamed) == 0
    assert company.chart()["1014"].name == "Main bank account"
    assert len(company.chart()) == len(chart)


def test_pending_and_history_split(company: ReferenceAIS) -> None:
    pending = company.pending_documents()
    assert [d.id for d in pending] == PENDING
    assert all(d.entry is None for d in pending)
    assert [d.id for d in company.pending_documents(limit=2)] == PENDING[:2]
    history = list(company.history())
    assert [d.id for d in history] == POSTED
    assert all(d.entry is not None for d in history)
    assert company.count_history() == 9


def test_history_equals_the_file(company: ReferenceAIS) -> None:
    expected = _file_documents()
    for doc in company.history():
        entry = doc.entry
        assert entry is not None and entry.id is not None and entry.id.isdigit()
        assert (
            dataclasses.replace(doc, entry=dataclasses.replace(entry, id=None)) == expected[doc.id]
        )
    first = company.get_document("SI-2024-001")
    assert first is not None and first.entry is not None
    assert first.entry.posted_by == "ana"
    assert first.entry.posted_at == dt.datetime(2024, 1, 6, 9, 15, tzinfo=dt.UTC)


def test_history_date_filters(company: ReferenceAIS) -> None:
    window = list(company.history(since=dt.date(2024, 1, 15), until=dt.date(2024, 1, 31)))
    assert [d.id for d in window] == ["INV-2024-001", "CN-2024-001", "BP-2024-001", "BR-2024-001"]
    assert company.count_history(since=dt.date(2024, 1, 15), until=dt.date(2024, 1, 31)) == 4
    assert [d.id for d in company.history(since=dt.date(2024, 1, 31))] == [
        "DEP-2024-01",
        "PAY-2024-01",
        "SI-2024-004",
    ]
    assert [d.id for d in company.history(until=dt.date(2024, 1, 12))] == ["SI-2024-001"]
    assert list(company.history(since=dt.date(2025, 1, 1))) == []


def test_history_can_be_abandoned_half_way(company: ReferenceAIS) -> None:
    stream = company.history()
    assert next(stream).id == "SI-2024-001"
    stream.close()  # gives its connection back
    assert company.summary().documents == 12


def test_get_document(company: ReferenceAIS) -> None:
    expected = _file_documents()
    pending = company.get_document("INV-2024-002")
    assert pending == expected["INV-2024-002"]
    assert pending is not None and pending.entry is None
    payroll = company.get_document("PAY-2024-01")
    assert payroll is not None and payroll.partner is None and payroll.lines == ()
    assert payroll.entry is not None
    assert [(ln.account, str(ln.debit), str(ln.credit)) for ln in payroll.entry.lines] == [
        ("6300", "5000.00", "0.00"),
        ("2300", "0.00", "3800.00"),
        ("2301", "0.00", "1200.00"),
    ]
    assert company.get_document("NO-SUCH") is None


def test_summary(company: ReferenceAIS) -> None:
    summary = company.summary()
    assert dataclasses.asdict(summary) == {
        "accounts": 46,
        "partners": 6,
        "documents": 12,
        "posted": 9,
        "pending": 3,
        "journal_lines": 23,
        "first_date": dt.date(2024, 1, 5),
        "last_date": dt.date(2024, 2, 10),
        "by_kind": {
            "bank_payment": 2,
            "bank_receipt": 1,
            "depreciation": 1,
            "payroll": 1,
            "sales_credit_note": 1,
            "sales_invoice": 2,
            "supplier_invoice": 4,
        },
    }


def test_summary_of_an_empty_ais(empty_ais: ReferenceAIS) -> None:
    summary = empty_ais.summary()
    assert (summary.documents, summary.first_date, summary.by_kind) == (0, None, {})


def _posted_toner(doc: Document) -> Document:
    return dataclasses.replace(
        doc,
        entry=JournalEntry(
            date=doc.date,
            description="Toner",
            lines=(
                EntryLine("6000", debit=Decimal("64.00")),
                EntryLine("1310", debit=Decimal("16.00")),
                EntryLine("2110", credit=Decimal("80.00")),
            ),
        ),
    )


def test_load_skips_identical_and_reports_conflicts(company: ReferenceAIS) -> None:
    docs = _file_documents()
    changed = dataclasses.replace(docs["INV-2024-002"], total_gross=Decimal("1900.00"))
    report = company.load([docs["SI-2024-001"], docs["SI-2024-003"], changed])
    assert (report.inserted, report.skipped, report.entries, report.lines) == (0, 2, 0, 0)
    assert report.conflicts == [
        "INV-2024-002: differs from the document in the AIS: total_gross is '1875.00' there, "
        "'1900.00' here"
    ]
    assert company.get_document("INV-2024-002") == docs["INV-2024-002"]


def test_load_attaches_an_entry_to_a_pending_document(company: ReferenceAIS) -> None:
    toner = _posted_toner(_file_documents()["SI-2024-003"])
    report = company.load([toner])
    assert (report.inserted, report.skipped, report.attached, report.entries, report.lines) == (
        0,
        1,
        1,
        1,
        3,
    )
    stored = company.get_document("SI-2024-003")
    assert stored is not None and stored.entry is not None
    assert stored.entry.lines == toner.entry.lines  # type: ignore[union-attr]
    assert company.count_history() == 10
    again = company.load([toner])
    assert (again.skipped, again.entries, again.conflicts) == (1, 0, [])


def test_load_conflicts_with_another_entry(company: ReferenceAIS) -> None:
    rent = _file_documents()["SI-2024-001"]
    assert rent.entry is not None
    other = dataclasses.replace(
        rent,
        entry=dataclasses.replace(
            rent.entry, lines=(EntryLine("6000", debit=Decimal("1000.00")), *rent.entry.lines[1:])
        ),
    )
    report = company.load([other])
    assert report.conflicts == [
        "SI-2024-001: differs from the document in the AIS: the journal entries differ"
    ]


def test_load_rejects_what_the_schema_cannot_hold(
    empty_ais: ReferenceAIS, chart: ChartOfAccounts
) -> None:
    docs = _file_documents()
    rent = docs["SI-2024-001"]
    assert rent.entry is not None
    unknown = dataclasses.replace(
        rent,
        id="X1",
        entry=dataclasses.replace(
            rent.entry, lines=(EntryLine("9999", debit=Decimal("1250.00")), rent.entry.lines[2])
        ),
    )
    unbalanced = dataclasses.replace(
        rent, id="X2", entry=dataclasses.replace(rent.entry, lines=rent.entry.lines[:2])
    )
    nul = dataclasses.replace(docs["SI-2024-003"], id="X3", text="a\x00b")
    report = empty_ais.load([unknown, unbalanced, nul, docs["SI-2024-003"]], chart=chart)
    assert report.rejected == [
        "X1: entry line 1: account '9999' is not a postable account of the chart",
        "X2: its journal entry does not balance (debits 1250.00, credits 0.00)",
        "X3: its text contains a NUL character, which databases cannot store",
    ]
    assert report.inserted == 1
    assert empty_ais.summary().documents == 1


def test_load_in_small_batches_with_duplicates(
    empty_ais: ReferenceAIS, chart: ChartOfAccounts
) -> None:
    docs = list(_file_documents().values())
    seen: list[int] = []
    report = empty_ais.load(docs + docs[:2], chart=chart, batch_size=5, on_progress=seen.append)
    assert (
        report.inserted,
        report.skipped,
        report.entries,
        report.lines,
        report.document_lines,
        report.partners,
    ) == (12, 2, 9, 23, 12, 6)
    assert seen == [5, 10, 14]
    assert empty_ais.summary().journal_lines == 23
    assert [d.id for d in empty_ais.history()] == POSTED


def test_load_keeps_foreign_keys_intact(empty_ais: ReferenceAIS, chart: ChartOfAccounts) -> None:
    empty_ais.load(_file_documents().values(), chart=chart, batch_size=4)
    if empty_ais.engine.dialect.name == "sqlite":
        with empty_ais.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []


def test_load_updates_a_renamed_partner(company: ReferenceAIS) -> None:
    invoice = _file_documents()["INV-2024-002"]
    assert invoice.partner is not None
    later = dataclasses.replace(
        invoice,
        id="INV-2024-003",
        partner=dataclasses.replace(invoice.partner, name="Zagreb Tech d.o.o."),
    )
    report = company.load([later])
    assert (report.inserted, report.partners) == (1, 1)
    stored = company.get_document("INV-2024-002")
    assert stored is not None and stored.partner is not None
    assert stored.partner.name == "Zagreb Tech d.o.o."
