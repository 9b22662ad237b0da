"""post_entry: one entry per key and per document, refused entries write nothing."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from ledgerpilot.connectors import (
    AlreadyPosted,
    DocumentNotFound,
    EntryRefused,
    PostingConflict,
    PostingError,
    PostingResult,
    ReferenceAIS,
)
from ledgerpilot.connectors import posting as posting_module
from ledgerpilot.ledger import EntryLine, JournalEntry


def toner_entry(**changes: Any) -> JournalEntry:
    """A correct entry for the pending supplier invoice SI-2024-003 (toner, 80.00)."""
    lines = changes.pop(
        "lines",
        (
            EntryLine("6000", debit=Decimal("64.00"), description="Toner"),
            EntryLine("1310", debit=Decimal("16.00"), description="Input VAT 25%"),
            EntryLine("2110", credit=Decimal("80.00"), description="Paper & Co."),
        ),
    )
    return JournalEntry(date=dt.date(2024, 2, 3), lines=lines, description="Toner", **changes)


def _counts(ais: ReferenceAIS) -> tuple[int, int]:
    summary = ais.summary()
    return summary.posted, summary.journal_lines


def test_post_creates_the_entry_once(company: ReferenceAIS) -> None:
    result = company.post_entry("SI-2024-003", toner_entry(), key="proposal-1", posted_by="marko")
    assert result.created is True
    assert _counts(company) == (10, 26)
    doc = company.get_document("SI-2024-003")
    assert doc is not None and doc.entry is not None
    assert doc.entry.id == result.entry_id
    assert doc.entry.posted_by == "marko"
    assert doc.entry.posted_at is not None and doc.entry.posted_at.tzinfo == dt.UTC
    assert [(ln.account, str(ln.debit), str(ln.credit)) for ln in doc.entry.lines] == [
        ("6000", "64.00", "0.00"),
        ("1310", "16.00", "0.00"),
        ("2110", "0.00", "80.00"),
    ]
    assert [d.id for d in company.pending_documents()] == ["INV-2024-002", "BP-2024-002"]

    again = company.post_entry("SI-2024-003", toner_entry(), key="proposal-1")
    assert again == PostingResult(result.entry_id, created=False)
    assert _counts(company) == (10, 26)


def test_another_key_for_a_posted_document_is_refused(company: ReferenceAIS) -> None:
    company.post_entry("SI-2024-003", toner_entry(), key="proposal-1")
    with pytest.raises(
        AlreadyPosted,
        match=r"already posted as entry .* under the key "
        r"'proposal-1'",
    ):
        company.post_entry("SI-2024-003", toner_entry(), key="proposal-2")
    with pytest.raises(AlreadyPosted, match=r"\(loaded history\)"):
        company.post_entry("SI-2024-001", toner_entry(), key="proposal-3")
    assert _counts(company) == (10, 26)


def test_a_key_of_another_document_is_a_conflict(company: ReferenceAIS) -> None:
    company.post_entry("SI-2024-003", toner_entry(), key="proposal-1")
    with pytest.raises(
        PostingConflict,
        match=r"already used for entry .* of document "
        r"'SI-2024-003', not 'INV-2024-002'",
    ):
        company.post_entry("INV-2024-002", toner_entry(), key="proposal-1")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            (EntryLine("6000", debit=Decimal("64.00")), EntryLine("2110", credit=Decimal("80.00"))),
            "debits 64.00 and credits 80.00 differ by -16.00",
        ),
        (
            (EntryLine("6000", debit=Decimal("80.00")), EntryLine("9999", credit=Decimal("80.00"))),
            "line 2: account '9999' is not in the chart",
        ),
        (
            (EntryLine("6000", debit=Decimal("80.00")), EntryLine("2110", debit=Decimal("-80.00"))),
            "line 2: a debit or credit cannot be negative",
        ),
        (
            (EntryLine("6000", debit=Decimal("80.00"), credit=Decimal("80.00")),),
            "line 1: debit 80.00 and credit 80.00 on one line",
        ),
        ((), "the scheme has no lines"),
        (
            (
                EntryLine("6000", debit=Decimal("80.001")),
                EntryLine("2110", credit=Decimal("80.001")),
            ),
            "80.001 has more decimals than EUR allows (2)",
        ),
    ],
)
def test_invalid_entries_are_refused_and_nothing_is_written(
    company: ReferenceAIS, lines: tuple[EntryLine, ...], message: str
) -> None:
    with pytest.raises(EntryRefused, match=re.escape(message)) as refused:
        company.post_entry("SI-2024-003", toner_entry(lines=lines), key="proposal-1")
    assert refused.value.violations
    assert _counts(company) == (9, 23)
    doc = company.get_document("SI-2024-003")
    assert doc is not None and doc.entry is None
    # The key stays free for a corrected entry.
    assert company.post_entry("SI-2024-003", toner_entry(), key="proposal-1").created


def test_non_postable_accounts_are_refused(empty_ais: ReferenceAIS) -> None:
    from ledgerpilot.ledger import ChartOfAccounts

    from .conftest import SMALL_COMPANY
    from .test_reference import _file_documents

    group_chart = ChartOfAccounts.from_csv(
        "code,name,account_type\n60,Expenses (group),expense\n6000,Expenses,expense\n"
        "1310,Input VAT,asset_current\n2110,Payables,liability_payable\n"
    )
    assert SMALL_COMPANY.is_file()
    empty_ais.load([_file_documents()["SI-2024-003"]], chart=group_chart)
    lines = (EntryLine("60", debit=Decimal("80.00")), EntryLine("2110", credit=Decimal("80.00")))
    with pytest.raises(EntryRefused, match=r"account 60 .* takes no postings"):
        empty_ais.post_entry("SI-2024-003", toner_entry(lines=lines), key="k")


def test_unknown_documents_and_bad_keys(company: ReferenceAIS) -> None:
    with pytest.raises(DocumentNotFound, match="no document 'NOPE'"):
        company.post_entry("NOPE", toner_entry(), key="proposal-1")
    with pytest.raises(PostingError, match="posting key must have 1 to 200 characters"):
        company.post_entry("SI-2024-003", toner_entry(), key="")
    with pytest.raises(PostingError, match="posting key must have 1 to 200 characters"):
        company.post_entry("SI-2024-003", toner_entry(), key="k" * 201)
    assert _counts(company) == (9, 23)


def test_concurrent_posts_with_one_key_make_one_entry(company: ReferenceAIS) -> None:
    others = [ReferenceAIS(company.url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(
                    lambda ais: ais.post_entry("SI-2024-003", toner_entry(), key="proposal-1"),
                    others,
                )
            )
    finally:
        for ais in others:
            ais.close()
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.entry_id for r in results}) == 1
    assert _counts(company) == (10, 26)


@pytest.mark.postgres
def test_racing_posts_are_settled_by_the_unique_key(
    fresh_postgres_url: str, chart_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both posts pass every check before either inserts; the constraint decides."""
    from ledgerpilot.connectors import import_files

    from .conftest import SMALL_COMPANY

    with ReferenceAIS.create(fresh_postgres_url) as ais:
        assert import_files(ais, chart_path, SMALL_COMPANY).ok
    barrier = threading.Barrier(2, timeout=20)
    real_read_chart = posting_module.read_chart

    def read_chart_after_both_checked(conn: Any) -> Any:
        barrier.wait()  # both transactions have seen no entry for the key
        return real_read_chart(conn)

    monkeypatch.setattr(posting_module, "read_chart", read_chart_after_both_checked)
    racers = [ReferenceAIS(fresh_postgres_url) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(
                pool.map(
                    lambda ais: ais.post_entry("SI-2024-003", toner_entry(), key="proposal-1"),
                    racers,
                )
            )
    finally:
        for ais in racers:
            ais.close()
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].entry_id == results[1].entry_id
    with ReferenceAIS(fresh_postgres_url) as ais:
        assert _counts(ais) == (10, 26)


@pytest.mark.postgres
def test_racing_posts_with_two_keys_post_once(
    fresh_postgres_url: str, chart_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerpilot.connectors import import_files

    from .conftest import SMALL_COMPANY

    with ReferenceAIS.create(fresh_postgres_url) as ais:
        assert import_files(ais, chart_path, SMALL_COMPANY).ok
    barrier = threading.Barrier(2, timeout=20)
    real_read_chart = posting_module.read_chart

    def read_chart_after_both_checked(conn: Any) -> Any:
        barrier.wait()
        return real_read_chart(conn)

    monkeypatch.setattr(posting_module, "read_chart", read_chart_after_both_checked)
    racers = [ReferenceAIS(fresh_postgres_url) for _ in range(2)]

    def post(pair: tuple[ReferenceAIS, str]) -> PostingResult | PostingError:
        try:
            return pair[0].post_entry("SI-2024-003", toner_entry(), key=pair[1])
        except PostingError as exc:
            return exc

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(post, zip(racers, ["key-a", "key-b"], strict=True)))
    finally:
        for ais in racers:
            ais.close()
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyPosted", "PostingResult"]
    with ReferenceAIS(fresh_postgres_url) as ais:
        assert _counts(ais) == (10, 26)
