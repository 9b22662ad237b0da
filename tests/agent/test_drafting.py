"""draft_pending, draft_one: every pending document gets one proposal, whatever fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.agent.backends import DraftRequest, Proposal
from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.drafting import decide, draft_one, draft_pending, quarantine_document
from ledgerpilot.agent.policy import RoutingPolicy
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.agent.state import DraftSettings
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore, WrongStatus
from ledgerpilot.synth import generate
from tests.agent.drafting_kit import (
    FlakyBackend,
    ScriptedBackend,
    add_reviewers,
    approve,
    make_company,
    rent_invoice,
    right_rent,
    sqlite_url,
)

INBOX = [rent_invoice(f"SI-{n}", f"2024-03-0{n}") for n in (3, 4, 5)]


@pytest.fixture(scope="module")
def synthetic_ais(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small synthetic company on the Croatian chart: two years of history, 15 in the inbox."""
    company = generate("hr", years=2, inbox=15, seed=3, per_year=300)
    url = sqlite_url(tmp_path_factory.mktemp("synthetic") / "ais.sqlite")
    with ReferenceAIS.create(url) as ais:
        ais.load(company.history(), chart=company.chart)
        ais.load(company.inbox)
    return url


@pytest.fixture
def small_ais(tmp_path: Path) -> Iterator[ReferenceAIS]:
    """The small company with three pending rent invoices."""
    with ReferenceAIS(make_company(sqlite_url(tmp_path / "ais.sqlite"), INBOX)) as ais:
        yield ais


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProposalStore]:
    """A new proposal store in tmp_path."""
    with ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as created:
        yield created


def memory(ais: Any) -> MemoryBackend:
    """The memory backend over the AIS's history (the factory draft_pending calls)."""
    return MemoryBackend(HistoryIndex.build(ais.history(), ais.chart()))


def test_every_inbox_document_gets_exactly_one_proposal_and_a_rerun_adds_none(
    synthetic_ais: str, tmp_path: Path
) -> None:
    with (
        ReferenceAIS(synthetic_ais) as ais,
        ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as store,
    ):
        pending = [d.id for d in ais.pending_documents()]
        progress: list[tuple[int, int]] = []
        outcomes = list(
            draft_pending(ais, store, memory, on_progress=lambda *p: progress.append(p))
        )
        assert [o.document_id for o in outcomes] == pending
        assert len(pending) == 15
        assert progress == [(n, 15) for n in range(1, 16)]
        for outcome in outcomes:
            assert outcome.status in ("proposed", "needs_review", "quarantined")
            assert outcome.backend == "memory"
            stored = store.active_for(outcome.document_id)
            assert stored is not None and stored.id == outcome.proposal_id
            assert stored.status == outcome.status
            assert stored.scheme == outcome.scheme
        # The memory backend's evidence is the posted history it rests on.
        proposed = [o for o in outcomes if o.status == "proposed"]
        assert len(proposed) >= 10
        assert all(o.evidence and o.violations == () for o in proposed)
        history = {d.id for d in ais.history()}
        assert all(set(o.evidence) <= history for o in outcomes)
        # Nothing was posted.
        assert [d.id for d in ais.pending_documents()] == pending
        assert list(draft_pending(ais, store, memory)) == []
        assert sum(store.counts().values()) == 15
        assert len(store.list(limit=100)) == 15


def test_the_json_line_of_an_outcome(small_ais: ReferenceAIS, store: ProposalStore) -> None:
    (outcome, *_) = draft_pending(small_ais, store, ScriptedBackend([right_rent]), limit=1)
    line = outcome.as_json()
    assert list(line) == [
        "document", "status", "backend", "confidence", "scheme", "violations", "evidence",
        "proposal", "note",
    ]  # fmt: skip
    assert line["document"] == "SI-3"
    assert (line["status"], line["backend"], line["confidence"]) == ("proposed", "scripted", 0.9)
    assert line["scheme"]["lines"][2] == {
        "account": "2110", "debit": "0.00", "credit": "1250.00", "description": "Office Rent Ltd",
    }  # fmt: skip
    assert line["violations"] == []
    assert line["evidence"] == []


def test_limit_counts_new_drafts(small_ais: ReferenceAIS, store: ProposalStore) -> None:
    backend = ScriptedBackend([right_rent])
    assert [o.document_id for o in draft_pending(small_ais, store, backend, limit=2)] == [
        "SI-3",
        "SI-4",
    ]
    assert [o.document_id for o in draft_pending(small_ais, store, backend, limit=2)] == ["SI-5"]


def test_an_unavailable_backend_leaves_the_document_pending_for_a_retry(
    small_ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcomes = list(draft_pending(small_ais, store, FlakyBackend(down={"SI-4"})))
    assert [(o.document_id, o.status) for o in outcomes] == [
        ("SI-3", "proposed"),
        ("SI-4", "pending"),
        ("SI-5", "proposed"),
    ]
    assert outcomes[1].note.startswith("not drafted now, to be retried: model server")
    assert outcomes[1].proposal_id is None
    assert store.active_for("SI-4") is None
    retried = list(draft_pending(small_ais, store, FlakyBackend(down=set())))
    assert [(o.document_id, o.status) for o in retried] == [("SI-4", "proposed")]


class Exploding:
    """A backend with a bug: it fails on one document."""

    name = "exploding"

    def propose(self, request: DraftRequest) -> Proposal:
        if request.document.id == "SI-4":
            raise KeyError("tax_rate")
        return ScriptedBackend([right_rent]).propose(request)


def test_an_unexpected_error_quarantines_that_document_and_the_run_goes_on(
    small_ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcomes = list(draft_pending(small_ais, store, Exploding()))
    assert [(o.document_id, o.status) for o in outcomes] == [
        ("SI-3", "proposed"),
        ("SI-4", "quarantined"),
        ("SI-5", "proposed"),
    ]
    assert outcomes[1].note == "drafting failed: KeyError: 'tax_rate'"
    stored = store.active_for("SI-4")
    assert stored is not None
    assert (stored.status, stored.note) == ("quarantined", "drafting failed: KeyError: 'tax_rate'")
    add_reviewers(store)
    with pytest.raises(WrongStatus, match="edit its lines first"):
        decide(store, small_ais, stored.id, approve("ana"))
    assert store.decisions(stored.id) == []


def test_a_factory_gets_the_ais(small_ais: ReferenceAIS, store: ProposalStore) -> None:
    seen: list[object] = []

    def factory(ais: Any) -> ScriptedBackend:
        seen.append(ais)
        return ScriptedBackend([right_rent])

    assert len(list(draft_pending(small_ais, store, factory))) == 3
    assert seen == [small_ais]


def test_auto_approval_is_off_by_default(small_ais: ReferenceAIS, store: ProposalStore) -> None:
    backend = ScriptedBackend([right_rent], confidence=1.0)
    outcomes = list(draft_pending(small_ais, store, backend))
    assert {o.status for o in outcomes} == {"proposed"}
    assert len(small_ais.pending_documents()) == 3


def test_an_explicit_auto_approval_policy_posts_confident_valid_drafts(
    small_ais: ReferenceAIS, store: ProposalStore
) -> None:
    settings = DraftSettings(policy=RoutingPolicy(auto_approve_at=0.95))
    sure = ScriptedBackend([right_rent], confidence=0.97)
    (outcome,) = draft_pending(small_ais, store, sure, limit=1, settings=settings)
    assert outcome.status == "posted"
    assert outcome.ais_entry_id is not None
    assert outcome.proposal_id is not None
    log = store.decisions(outcome.proposal_id)
    assert [(d.user, d.action) for d in log] == [
        ("auto-approval", "approve"),
        ("auto-approval", "post"),
    ]
    assert log[0].reason == "auto-approval: confidence 0.9700 at or above 0.95"
    document = small_ais.get_document("SI-3")
    assert document is not None and document.entry is not None
    assert document.entry.posted_by == "auto-approval"
    unsure = ScriptedBackend([right_rent], confidence=0.9)
    (outcome,) = draft_pending(small_ais, store, unsure, limit=1, settings=settings)
    assert (outcome.document_id, outcome.status) == ("SI-4", "proposed")


def test_draft_one_drafts_a_document_once(small_ais: ReferenceAIS, store: ProposalStore) -> None:
    backend = ScriptedBackend([right_rent])
    first = draft_one(small_ais, store, backend, "SI-4")
    assert (first.document_id, first.status) == ("SI-4", "proposed")
    stored = store.active_for("SI-4")
    assert stored is not None and stored.id == first.proposal_id
    again = draft_one(small_ais, store, backend, "SI-4")
    assert (again.status, again.proposal_id) == ("proposed", first.proposal_id)
    assert again.note == f"already drafted: proposal {first.proposal_id}"
    assert len(backend.requests) == 1  # the backend was not asked twice
    assert sum(store.counts().values()) == 1


def test_draft_one_skips_a_document_that_is_gone_or_posted(
    small_ais: ReferenceAIS, store: ProposalStore
) -> None:
    backend = ScriptedBackend([right_rent])
    gone = draft_one(small_ais, store, backend, "NOPE-9")
    assert (gone.status, gone.note) == ("skipped", "document 'NOPE-9' is not in the AIS")
    posted = draft_one(small_ais, store, backend, "H-1")
    assert (posted.status, posted.note) == (
        "skipped",
        "document 'H-1' is posted in the AIS already",
    )
    assert backend.requests == []
    assert sum(store.counts().values()) == 0


def test_draft_one_leaves_a_document_pending_while_the_backend_is_down(
    small_ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcome = draft_one(small_ais, store, FlakyBackend(down={"SI-3"}), "SI-3")
    assert outcome.status == "pending"
    assert store.active_for("SI-3") is None


def test_a_document_that_keeps_failing_is_quarantined_with_its_reason(
    small_ais: ReferenceAIS, store: ProposalStore
) -> None:
    document = small_ais.get_document("SI-5")
    reason = "not drafted in 3 tries: model server at 127.0.0.1:1 refused the connection"
    outcome = quarantine_document(store, "SI-5", reason, document)
    stored = store.active_for("SI-5")
    assert stored is not None and stored.id == outcome.proposal_id
    assert (stored.status, stored.note) == ("quarantined", reason)
    assert (stored.document_kind, stored.partner_name) == ("supplier_invoice", "Office Rent Ltd")
    assert stored.document is not None and stored.document["id"] == "SI-5"
    # A second quarantine (a task delivered twice) keeps the first.
    again = quarantine_document(store, "SI-5", "something else")
    assert again.proposal_id == stored.id
    assert sum(store.counts().values()) == 1
