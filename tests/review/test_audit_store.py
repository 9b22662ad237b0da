"""Audit runs in the store: a run saved whole and read back in rank order, filters by check
and follow-up, and follow-ups that only auditors record and nobody rewrites."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, exc, text

from ledgerpilot.review.audit_store import OPEN, AuditBook
from ledgerpilot.review.errors import NotAllowed, StoreError
from ledgerpilot.review.store import ProposalStore
from tests.review.web.audit_kit import RANKED, SINCE, small_audit

from .store_kit import add_people


def test_a_run_is_stored_whole_and_read_back_in_rank_order(store: ProposalStore) -> None:
    result, entries = small_audit()
    book = AuditBook(store)
    run = book.save_run(
        result, source="nightly", ais="sqlite:///ais.sqlite", entries=entries, report_dir="out"
    )
    assert book.latest_run() == run == book.run(run.id)
    assert (run.source, run.period_from, run.period_to) == ("nightly", SINCE, dt.date(2024, 7, 30))
    assert (run.entries_scanned, run.finding_count, run.report_dir) == (14, 4, "out")
    assert run.checks["unbalanced"] == {
        "fired": 1,
        "description": "entries whose debits and credits differ",
        "weight": 5.0,
    }
    assert set(run.checks["benford"]["journal"]) == {"count", "first_digit", "first_two_digits"}
    assert "observed" not in run.checks["benford"]["journal"]["first_digit"]
    page = book.findings(run.id)
    assert [f.entry_id for f in page.items] == RANKED
    assert [f.rank for f in page.items] == [1, 2, 3, 4]
    assert [f.score for f in page.items] == [8.0, 3.75, 3.0, 1.25]
    top = page.items[0]
    assert (top.document_id, top.date, top.kind, top.partner) == (
        "D100",
        dt.date(2024, 6, 4),
        "supplier_invoice",
        "S1",
    )
    assert top.amount == Decimal("500.00") and isinstance(top.amount, Decimal)
    assert top.checks == ("unbalanced", "vat_arithmetic")
    assert top.reasons[0].detail == "debits 500.00 and credits 400.00 differ by 100.00"
    assert top.entry is not None
    assert top.entry["posted_at"] == "2024-06-04T10:00:00"
    assert top.entry["lines"] == [
        {"account": "4000", "debit": "400.00", "credit": "0", "description": ""},
        {"account": "1400", "debit": "100.00", "credit": "0", "description": ""},
        {"account": "2200", "debit": "0", "credit": "400.00", "description": ""},
    ]
    assert book.finding(top.id) == top
    assert book.finding(10**9) is None


def test_findings_filter_by_check_and_come_a_page_at_a_time(store: ProposalStore) -> None:
    result, _ = small_audit()
    book = AuditBook(store)
    run = book.save_run(result, source="command", ais="pg")
    assert list(book.check_counts(run.id).items()) == [
        ("unusual_hour", 2),
        ("just_below_threshold", 1),
        ("unbalanced", 1),
        ("vat_arithmetic", 1),
        ("weekend_or_holiday", 1),
    ]
    late = book.findings(run.id, check="unusual_hour")
    assert [f.entry_id for f in late.items] == ["E101", "E103"] and late.total == 2
    second = book.findings(run.id, page=2, per_page=3)
    assert [f.entry_id for f in second.items] == ["E103"]
    assert (second.total, second.pages) == (4, 2)
    assert all(f.entry is None for f in second.items)  # no lines were given
    with pytest.raises(StoreError, match="follow-up must be one of"):
        book.findings(run.id, follow_up="done")
    with pytest.raises(StoreError, match="source must be one of"):
        book.save_run(result, source="cron", ais="pg")


def test_only_auditors_record_follow_ups_and_they_carry_over_by_entry(
    store: ProposalStore,
) -> None:
    add_people(store)
    result, entries = small_audit()
    book = AuditBook(store)
    first = book.save_run(result, source="command", ais="ais-1", entries=entries)
    top = book.findings(first.id).items[0]
    recorded = book.follow_up(top.id, user="aud", status="needs_follow_up", note=" ask AP ")
    assert (recorded.user, recorded.status, recorded.note) == ("aud", "needs_follow_up", "ask AP")
    book.follow_up(top.id, user="adm", status="cleared", note="credit note CN-7 seen")
    for user in ("carl", "ana", "nobody"):
        with pytest.raises(NotAllowed):
            book.follow_up(top.id, user=user, status="cleared", note="fine")
    with pytest.raises(StoreError, match="needs a note"):
        book.follow_up(top.id, user="aud", status="cleared", note="   ")
    with pytest.raises(StoreError, match="status must be one of"):
        book.follow_up(top.id, user="aud", status="ignored", note="x")
    with pytest.raises(StoreError, match="there is no audit finding"):
        book.follow_up(10**9, user="aud", status="cleared", note="x")
    assert [(u.user, u.status) for u in book.follow_ups(top.id)] == [
        ("aud", "needs_follow_up"),
        ("adm", "cleared"),
    ]
    assert book.findings(first.id).items[0].latest == book.follow_ups(top.id)[-1]
    assert book.follow_up_counts(first.id) == {
        OPEN: 3,
        "explained": 0,
        "needs_follow_up": 0,
        "cleared": 1,
    }
    assert [f.entry_id for f in book.findings(first.id, follow_up=OPEN).items] == RANKED[1:]
    assert [f.entry_id for f in book.findings(first.id, follow_up="cleared").items] == ["E100"]
    # a later run of the same AIS shows them on the same entry; another AIS does not
    again = book.findings(book.save_run(result, source="nightly", ais="ais-1").id).items[0]
    assert [u.note for u in book.follow_ups(again.id)] == ["ask AP", "credit note CN-7 seen"]
    assert again.latest is not None and again.latest.status == "cleared"
    other = book.findings(book.save_run(result, source="nightly", ais="ais-2").id).items[0]
    assert book.follow_ups(other.id) == [] and other.latest is None


def test_follow_ups_cannot_be_rewritten(url: str, store: ProposalStore) -> None:
    add_people(store)
    result, _ = small_audit()
    book = AuditBook(store)
    finding = book.findings(book.save_run(result, source="command", ais="a").id).items[0]
    book.follow_up(finding.id, user="aud", status="explained", note="a reversal")
    engine = create_engine(url)
    try:
        for statement in (
            "UPDATE audit_follow_ups SET status = 'cleared'",
            "DELETE FROM audit_follow_ups",
        ):
            with (
                pytest.raises(exc.DBAPIError, match="the audit follow-ups are append-only"),
                engine.begin() as conn,
            ):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    assert [u.status for u in book.follow_ups(finding.id)] == ["explained"]
