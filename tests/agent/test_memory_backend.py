"""The memory backend on a small synthetic company (two years, 300 documents a year)."""

from __future__ import annotations

import dataclasses
from functools import cache

from ledgerpilot.agent.backends.base import Backend, DraftRequest
from ledgerpilot.agent.backends.memory import NO_HISTORY, MemoryBackend
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.ledger import Document, Partner, PostingScheme, validate
from ledgerpilot.synth import generate
from ledgerpilot.synth.company import SyntheticCompany
from ledgerpilot.training.metrics import merged_amounts


@cache
def company() -> SyntheticCompany:
    return generate("generic", years=2, inbox=20, seed=5, per_year=300)


@cache
def backend() -> MemoryBackend:
    c = company()
    return MemoryBackend(HistoryIndex.build(c.history(), c.chart), c.chart)


def truth(doc_id: str) -> Document:
    return next(d for d in company().truth if d.id == doc_id)


def pending(doc: Document) -> Document:
    return dataclasses.replace(doc, entry=None)


def lines(posted: Document | PostingScheme) -> list[tuple[str, str, str]]:
    found = posted.entry.lines if isinstance(posted, Document) and posted.entry else posted.lines
    return [(ln.account, f"{ln.debit:.2f}", f"{ln.credit:.2f}") for ln in found]  # type: ignore[union-attr]


def test_memory_is_a_backend() -> None:
    assert isinstance(backend(), Backend)
    assert backend().name == "memory"


def test_a_recurring_invoice_of_a_known_partner_gets_its_exact_entry() -> None:
    rent = truth("SI-2026-000001")  # Esch Real Estate, office rent 01/2026
    proposal = backend().propose(DraftRequest(pending(rent), company().chart))
    assert proposal.scheme is not None
    assert lines(proposal.scheme) == [
        ("6120", "1464.70", "0.00"),
        ("1310", "249.00", "0.00"),
        ("2110", "0.00", "1713.70"),
    ]
    assert lines(proposal.scheme) == lines(rent)
    assert not validate(proposal.scheme, company().chart, pending(rent))
    assert proposal.confidence >= 0.9
    assert proposal.note.startswith("as Esch Real Estate SARL-S was posted before")
    index = backend().index
    assert proposal.evidence and all(i in index.documents for i in proposal.evidence)
    assert all(index.documents[i].partner == rent.partner for i in proposal.evidence)


def test_a_partner_posting_lines_to_different_accounts_gets_each_right() -> None:
    loan = truth("BP-2026-000001")  # principal and interest of a loan instalment
    proposal = backend().propose(DraftRequest(pending(loan), company().chart))
    assert proposal.scheme is not None
    assert lines(proposal.scheme) == [
        ("2910", "128.16", "0.00"),
        ("2010", "24.03", "0.00"),
        ("101401", "0.00", "152.19"),
    ]
    assert proposal.confidence >= 0.9


def test_most_of_the_inbox_comes_out_exactly_as_a_careful_bookkeeper_posts_it() -> None:
    exact = 0
    for doc in company().truth:
        proposal = backend().propose(DraftRequest(pending(doc), company().chart))
        assert doc.entry is not None
        if proposal.scheme is not None and merged_amounts(proposal.scheme.lines) == merged_amounts(
            doc.entry.lines
        ):
            exact += 1
    assert exact >= 18  # of 20


def test_an_unseen_partner_with_unseen_wording_gets_low_confidence_and_says_so() -> None:
    rent = truth("SI-2026-000001")
    stranger = dataclasses.replace(
        pending(rent),
        id="SI-NEW",
        partner=Partner("SUP-NEW", "Zzyzx Quantum Holdings", country="LU"),
        lines=(dataclasses.replace(rent.lines[0], description="Quantum flux calibration"),),
        text="Zzyzx Quantum Holdings, invoice 7.",
    )
    proposal = backend().propose(DraftRequest(stranger, company().chart))
    assert proposal.confidence < 0.5
    assert proposal.note.startswith(NO_HISTORY)
    assert proposal.extra["generalized"] is True


def test_an_unseen_partner_of_a_known_kind_of_supplier_is_drafted_for_review() -> None:
    courier = truth("SI-2026-000005")  # Eisch Express: no earlier document
    assert not backend().index.knows_partner(courier)
    proposal = backend().propose(DraftRequest(pending(courier), company().chart))
    assert proposal.scheme is not None
    assert lines(proposal.scheme) == lines(courier)
    assert proposal.confidence < 0.5
    assert NO_HISTORY in proposal.note


def test_the_memory_is_deterministic() -> None:
    c = company()
    again = MemoryBackend(HistoryIndex.build(c.history(), c.chart), c.chart)
    for doc in company().truth[:8]:
        request = DraftRequest(pending(doc), c.chart)
        first, second = backend().propose(request), again.propose(request)
        assert first.scheme == second.scheme
        assert first.confidence == second.confidence
        assert first.evidence == second.evidence


def test_an_empty_history_has_nothing_to_say() -> None:
    c = company()
    empty = MemoryBackend(HistoryIndex.build([], c.chart), c.chart)
    proposal = empty.propose(DraftRequest(pending(truth("SI-2026-000001")), c.chart))
    assert proposal.scheme is None
    assert proposal.confidence == 0.0
    assert NO_HISTORY in proposal.note
