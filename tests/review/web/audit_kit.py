"""What the audit page tests share: a real audit of a small hand-made journal, stored as
``ledgerpilot audit --store`` stores it.

The journal (``tests.audit.journal``) has four entries to flag, in this order of score:
E100 unbalanced (8.0), E101 posted on a Saturday night (3.75), E102 just below the approval
threshold (2.0), E103 posted late in the evening (1.25).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerpilot.audit import AuditResult, run_audit
from ledgerpilot.ledger import EntryLine, JournalEntry
from ledgerpilot.review.audit_store import AuditBook, StoredRun
from ledgerpilot.review.store import ProposalStore
from tests.audit.journal import CHART, clean, invoice, with_entry

SINCE = dt.date(2024, 5, 28)
RANKED = ["E100", "E101", "E102", "E103"]
"""The entries the audit flags, highest score first."""


def small_audit() -> tuple[AuditResult, dict[str, JournalEntry]]:
    """The audit's result, and every entry of the period by id (what a run keeps)."""
    unbalanced = with_entry(
        invoice(100, dt.date(2024, 6, 4), Decimal("400.00")),
        lines=(
            EntryLine("4000", debit=Decimal("400.00")),
            EntryLine("1400", debit=Decimal("100.00")),
            EntryLine("2200", credit=Decimal("400.00")),
        ),
    )
    saturday_night = invoice(
        101, dt.date(2024, 6, 7), Decimal("512.34"), at=dt.datetime(2024, 6, 8, 23, 5)
    )
    just_below = invoice(102, dt.date(2024, 6, 12), Decimal("3992"))  # gross 4,990.00
    late = invoice(103, dt.date(2024, 6, 19), Decimal("498.76"), at=dt.datetime(2024, 6, 19, 21))
    docs = sorted([*clean(), unbalanced, saturday_night, just_below, late], key=lambda d: d.date)
    entries = {d.entry.id: d.entry for d in docs if d.entry is not None and d.entry.id}
    return run_audit(docs, CHART, since=SINCE), entries


def save_audit_run(store: ProposalStore, source: str = "command") -> StoredRun:
    """Audit the small journal and store the run with its entries' lines."""
    result, entries = small_audit()
    return AuditBook(store).save_run(
        result, source=source, ais="sqlite:///ais.sqlite", entries=entries
    )


def top_finding(store: ProposalStore) -> int:
    """Store a run; the id of its highest-ranked finding (E100)."""
    run = save_audit_run(store)
    return AuditBook(store).findings(run.id, per_page=1).items[0].id
