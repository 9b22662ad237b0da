"""The interchange files: round trips, idempotent imports, and reports of bad lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.connectors import (
    LineError,
    ReferenceAIS,
    export,
    import_files,
    read_documents,
)
from ledgerpilot.ledger import ChartOfAccounts

from .conftest import SMALL_COMPANY


def _good(doc_id: str = "T-1", **changes: Any) -> dict[str, Any]:
    """A correct pending supplier invoice as interchange JSON."""
    doc: dict[str, Any] = {
        "id": doc_id,
        "kind": "supplier_invoice",
        "number": "77",
        "date": "2024-03-01",
        "partner": {"id": "S9", "name": "Supplier"},
        "currency": "EUR",
        "lines": [{"description": "Toner", "net": "64.00", "tax_rate": "25", "tax": "16.00"}],
        "total_net": "64.00",
        "total_tax": "16.00",
        "total_gross": "80.00",
    }
    doc.update(changes)
    return doc


def _entry(*lines: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "date": "2024-03-01",
        "lines": [{"account": a, "debit": d, "credit": c, "description": ""} for a, d, c in lines],
    }


def _write_lines(path: Path, lines: Sequence[str | bytes]) -> Path:
    with open(path, "wb") as out:
        for line in lines:
            out.write(line if isinstance(line, bytes) else line.encode("utf-8"))
            out.write(b"\n")
    return path


def test_round_trip_is_byte_identical(company: ReferenceAIS, tmp_path: Path) -> None:
    first = export(company, tmp_path / "first")
    assert (first.accounts, first.documents, first.posted) == (46, 12, 9)
    with ReferenceAIS.create(f"sqlite:///{tmp_path / 'second.sqlite'}") as second:
        report = import_files(second, first.accounts_path, first.documents_path)
        assert (report.ok, report.inserted, report.entries) == (True, 12, 9)
        export(second, tmp_path / "again")
    for name in ("accounts.csv", "documents.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()


def test_export_is_sorted_and_has_no_database_ids(company: ReferenceAIS, tmp_path: Path) -> None:
    exported = export(company, tmp_path)
    rows = [json.loads(line) for line in exported.documents_path.read_text().splitlines()]
    assert [(r["date"], r["id"]) for r in rows] == sorted((r["date"], r["id"]) for r in rows)
    assert [r["id"] for r in rows][:3] == ["SI-2024-001", "SI-2024-002", "INV-2024-001"]
    assert all("id" not in r["entry"] for r in rows if "entry" in r)
    assert rows[0]["entry"]["posted_at"] == "2024-01-06T09:15:00+00:00"
    assert rows[0]["entry"]["posted_by"] == "ana"
    assert sum("entry" in r for r in rows) == 9
    jpy = next(r for r in rows if r["currency"] == "JPY")
    assert (jpy["total_gross"], jpy["entry"]["lines"][0]["debit"]) == ("120000", "120000")


def test_reimport_writes_nothing_new(company: ReferenceAIS, chart_path: Path) -> None:
    before = company.summary()
    report = import_files(company, chart_path, SMALL_COMPANY)
    assert (
        report.ok,
        report.accounts,
        report.accounts_written,
        report.documents,
        report.inserted,
        report.skipped,
        report.entries,
    ) == (True, 46, 0, 12, 0, 12, 0)
    assert company.summary() == before


def test_a_bad_file_is_reported_line_by_line_and_not_written(
    company: ReferenceAIS, tmp_path: Path
) -> None:
    before = company.summary()
    path = _write_lines(
        tmp_path / "bad.jsonl",
        [
            json.dumps(_good("T-1")),
            "",
            '{"id": "T-2", "kind": ',
            json.dumps(_good("T-3", total_net=64.0)),
            json.dumps(_good("T-4", total_gross="81.00")),
            json.dumps(
                _good("T-5", entry=_entry(("9999", "80.00", "0.00"), ("2110", "0.00", "80.00")))
            ),
            json.dumps(_good("T-1")),
            "[1, 2]",
            b'{"id": "T-6", "kind": "\xff"}',
            json.dumps(
                _good("T-7", entry=_entry(("6000", "80.00", "0.00"), ("2110", "0.00", "70.00")))
            ),
            json.dumps(_good("T-8", date=None)),
            json.dumps(_good("INV-2024-002")),
            json.dumps(_good("T-9")),
        ],
    )
    report = import_files(company, None, path)
    assert report.errors == [
        LineError(3, "not valid JSON: Expecting value at column 23"),
        LineError(4, 'total_net: amount must be a string like "123.45", got the JSON number 64.0'),
        LineError(5, "document 'T-4': net 64.00 + VAT 16.00 is not gross 81.00"),
        LineError(6, "document 'T-5': entry line 1: account '9999' is not in the chart"),
        LineError(7, "document 'T-1': document id 'T-1' was already used on line 1"),
        LineError(8, "a document must be a JSON object"),
        LineError(9, "not UTF-8 text (byte 24 of the line)"),
        LineError(10, "document 'T-7': entry debits 80.00 and credits 70.00 differ by 10.00"),
        LineError(11, 'date must be a date as "YYYY-MM-DD", got None'),
        LineError(
            12,
            "document 'INV-2024-002': differs from the document in the AIS: kind "
            "is 'sales_invoice' there, 'supplier_invoice' here; number is '1-1-3' "
            "there, '77' here; date is '2024-02-05' there, '2024-03-01' here; "
            "partner is 'C2' there, 'S9' here; total_net is '1500.00' there, "
            "'64.00' here; total_tax is '375.00' there, '16.00' here; total_gross "
            "is '1875.00' there, '80.00' here; the document lines differ",
        ),
    ]
    assert (report.ok, report.inserted, report.documents) == (False, 0, 12)
    assert company.summary() == before


def test_a_conflict_with_the_ais_is_a_bad_line(company: ReferenceAIS, tmp_path: Path) -> None:
    before = company.summary()
    path = _write_lines(
        tmp_path / "conflict.jsonl",
        [
            json.dumps(_good("T-1")),
            json.dumps(_good("INV-2024-002")),
        ],
    )
    report = import_files(company, None, path)
    assert [e.line for e in report.errors] == [2]
    assert report.errors[0].message.startswith(
        "document 'INV-2024-002': differs from the document in the AIS: kind is"
    )
    assert company.summary() == before


HOSTILE_NAMES = [
    "Robert'); DROP TABLE documents; --",
    "\u0001\u0007\u001b[31mred\u001b[0m\ttab",
    "Čokolada d.o.o. 🍫 \u202eevil",
    "x" * 1_000_000,
]


def test_hostile_but_storable_text_is_stored_verbatim(
    empty_ais: ReferenceAIS, chart_path: Path, tmp_path: Path
) -> None:
    lines = [
        json.dumps(
            _good(
                f"H-{n}",
                partner={"id": f"P{n}", "name": name},
                text=name,
                number="'; DROP TABLE documents; --",
            )
        )
        for n, name in enumerate(HOSTILE_NAMES)
    ]
    path = _write_lines(tmp_path / "hostile.jsonl", lines)
    report = import_files(empty_ais, chart_path, path)
    assert (report.ok, report.inserted) == (True, 4)
    for n, name in enumerate(HOSTILE_NAMES):
        doc = empty_ais.get_document(f"H-{n}")
        assert doc is not None and doc.partner is not None
        assert (doc.partner.name, doc.text, doc.number) == (
            name,
            name,
            "'; DROP TABLE documents; --",
        )
    assert empty_ais.summary().documents == 4
    first = export(empty_ais, tmp_path / "out")
    with ReferenceAIS.create(f"sqlite:///{tmp_path / 'copy.sqlite'}") as copy:
        assert import_files(copy, first.accounts_path, first.documents_path).ok
        export(copy, tmp_path / "again")
    assert (
        tmp_path / "again" / "documents.jsonl"
    ).read_bytes() == first.documents_path.read_bytes()


def test_hostile_lines_are_reported_never_raised(tmp_path: Path, chart: ChartOfAccounts) -> None:
    path = _write_lines(
        tmp_path / "hostile.jsonl",
        [
            "[" * 100_000 + "]" * 100_000,
            "{" + '"a": {' * 50_000 + "}" * 50_001,
            "junk " * 200_000,
            json.dumps(_good("N-1", text="a\x00b")),
            '{"id": "N-2", "kind": "supplier_invoice", "text": "\\ud800", "date": "2024-03-01",'
            ' "currency": "EUR", "total_net": "0", "total_tax": "0", "total_gross": "0"}',
            json.dumps(_good("N-3")).replace('"64.00"', "1" + "0" * 5000, 1),
            json.dumps(_good("N-4", id=["list"])),
            json.dumps(_good("N-5", lines=[{"net": {"$gt": ""}}])),
            json.dumps(_good("N-6", currency="EURO")),
            json.dumps(_good("N-7", partner={"id": "P" * 300, "name": "long id"})),
            json.dumps(_good("N-8" * 100)),
            '"just a string"',
            "null",
        ],
    )
    docs, errors = read_documents(path, chart)
    assert docs == []
    assert [(e.line, e.message) for e in errors] == [
        (1, "the JSON is nested too deeply"),
        (2, "the JSON is nested too deeply"),
        (3, "not valid JSON: Expecting value at column 1"),
        (4, "document 'N-1': its text contains a NUL character, which databases cannot store"),
        (5, "document 'N-2': its text is not valid Unicode (it has a lone surrogate)"),
        (6, "not valid JSON: a number has thousands of digits"),
        (7, "id must be a string, got list"),
        (8, 'document line 1: amount must be a string like "123.45", got dict'),
        (
            9,
            "document 'N-6': currency 'EURO' is not one ledgerpilot knows; the currency "
            "'EURO' is not a three-letter code",
        ),
        (10, "document 'N-7': the partner id must have 1 to 200 characters"),
        (11, f"document {('N-8' * 100)[:80]!r}: the document id must have 1 to 200 characters"),
        (12, "a document must be a JSON object"),
        (13, "a document must be a JSON object"),
    ]


def test_an_overlong_line_is_skipped_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerpilot.connectors import interchange

    monkeypatch.setattr(interchange, "MAX_LINE_BYTES", 1000)
    path = _write_lines(tmp_path / "long.jsonl", ["x" * 5000, json.dumps(_good("T-1"))])
    docs, errors = read_documents(path)
    assert [d.id for d in docs] == ["T-1"]
    assert errors == [LineError(1, "the line is longer than 1000 bytes; not read")]


def test_a_bad_chart_file_stops_the_import(empty_ais: ReferenceAIS, tmp_path: Path) -> None:
    chart = tmp_path / "accounts.csv"
    chart.write_text(
        "code,name,account_type\n1000,Bank,asset_cash\n2000,Payables,"
        "liability_payable\n1000,Bank again,asset_cash\n" + "9" * 70 + ",Long,expense\n",
        encoding="utf-8",
    )
    report = import_files(empty_ais, chart, SMALL_COMPANY)
    assert report.chart_errors == [
        LineError(4, "account 1000 appears again (first on line 2)"),
        LineError(5, "account code longer than 64 characters"),
    ]
    assert (report.ok, report.inserted) == (False, 0)
    assert empty_ais.summary().accounts == 0
    headless = tmp_path / "headless.csv"
    headless.write_text("number,title\n1000,Bank\n", encoding="utf-8")
    assert import_files(empty_ais, headless, None).chart_errors == [
        LineError(1, "chart CSV lacks the column(s) account_type, code, name")
    ]


def test_documents_need_the_accounts_of_their_entries(empty_ais: ReferenceAIS) -> None:
    report = import_files(empty_ais, None, SMALL_COMPANY)
    assert len(report.errors) == 9  # every posted document: no chart in the AIS yet
    assert report.errors[0] == LineError(
        1,
        "document 'SI-2024-001': entry line 1: account '6120' is not in the chart; "
        "entry line 2: account '1310' is not in the chart; entry line 3: account '2110' "
        "is not in the chart",
    )
    assert empty_ais.summary().documents == 0


@pytest.mark.postgres
def test_sqlite_and_postgres_export_the_same_bytes(
    sqlite_url: str, fresh_postgres_url: str, chart_path: Path, tmp_path: Path
) -> None:
    for name, url in (("sqlite", sqlite_url), ("postgres", fresh_postgres_url)):
        with ReferenceAIS.create(url) as ais:
            assert import_files(ais, chart_path, SMALL_COMPANY).ok
            export(ais, tmp_path / name)
    for name in ("accounts.csv", "documents.jsonl"):
        assert (tmp_path / "sqlite" / name).read_bytes() == (
            tmp_path / "postgres" / name
        ).read_bytes()
