"""Drafting documents into the proposal store.

:func:`draft_pending` runs the graph for every pending document up to the review interrupt
(checkpoints in the store's database) and saves each draft as a proposal; :func:`draft_one`
does the same for one document by id (a worker's task). Decisions are carried out by
:mod:`.settling` (:func:`decide`, :func:`settle`, re-exported here).

The store is reached through :class:`~.book.ProposalBook`, the part of
:class:`~ledgerpilot.review.store.ProposalStore` that the agent needs, so that ``agent``
does not import ``review``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, cast

from ledgerpilot.connectors import ConnectorUnavailable
from ledgerpilot.ledger import ChartOfAccounts, Document

from . import policy
from .backends.base import Backend, BackendUnavailable
from .book import DraftingAIS, ProposalBook, StoredDraft
from .checkpoints import open_checkpointer, unavailable
from .graph import DraftGraph, build_graph, thread_config, thread_id
from .recall import HistoryIndex
from .settling import DecisionError, DecisionOutcome, decide, settle, settle_with
from .state import (
    AUTO_APPROVER,
    Decision,
    DraftContext,
    DraftOutcome,
    DraftSettings,
    Recall,
    new_proposal_id,
    no_recall,
    proposal_of,
    violations_of,
)

__all__ = [
    "AWAITING",
    "BackendFactory",
    "DecisionError",
    "DecisionOutcome",
    "DraftingAIS",
    "ProgressCallback",
    "ProposalBook",
    "StoredDraft",
    "backend_recall",
    "decide",
    "draft_document",
    "draft_one",
    "draft_pending",
    "history_recall",
    "quarantine_document",
    "settle",
]

AWAITING = ("proposed", "needs_review")
"""Proposal statuses that wait for a reviewer's decision."""

BackendFactory = Callable[[DraftingAIS], Backend]
"""Makes the backend for an AIS (a memory backend indexes its history, say)."""
ProgressCallback = Callable[[int, int], None]
"""Called with (documents done, documents to do) after each document."""


# ------------------------------------------------------------ drafting


def draft_pending(
    ais: DraftingAIS,
    store: ProposalBook,
    backend_or_factory: Backend | BackendFactory,
    limit: int | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    recall: Recall | None = None,
    settings: DraftSettings | None = None,
) -> Iterator[DraftOutcome]:
    """Draft every pending document without an active proposal, up to ``limit`` of them.

    Each document's graph runs up to the review interrupt (or to its end), is kept by the
    checkpointer of the store's database, and is saved as a proposal; its
    :class:`~.state.DraftOutcome` is yielded. A backend, AIS or checkpoints' database that
    is unavailable leaves the document pending (outcome ``pending``, nothing stored) for a later run; any other
    failure quarantines that document with the error as its reason, and the run goes on.

    ``recall`` finds the similar posted documents shown to the backend and kept as
    evidence; by default the backend's own history index when it has one (``memory``).
    """
    chart = ais.chart()
    backend = _backend(ais, backend_or_factory)
    if recall is None:
        recall = backend_recall(backend)
    context = DraftContext(ais, backend, chart, recall, settings or DraftSettings())
    pending = ais.pending_documents()
    drafted = store.active_among(doc.id for doc in pending)
    todo = [doc for doc in pending if doc.id not in drafted]
    if limit is not None:
        todo = todo[: max(0, limit)]
    with open_checkpointer(store.url) as saver:
        graph = build_graph(saver)
        for done, document in enumerate(todo, start=1):
            yield draft_document(graph, context, store, document)
            if on_progress is not None:
                on_progress(done, len(todo))


def draft_document(
    graph: DraftGraph, context: DraftContext, store: ProposalBook, document: Document
) -> DraftOutcome:
    """Draft one document on a fresh thread and save the proposal; see :func:`draft_pending`.

    With an auto-approval policy in the settings, a proposal it allows is approved in the
    policy's name right after it is saved, and posted.
    """
    proposal_id = new_proposal_id()
    thread = thread_id(document.id, proposal_id)
    config = thread_config(thread)
    base = DraftOutcome(
        document_id=document.id,
        status="quarantined",
        document_kind=document.kind,
        partner_name=document.partner.name if document.partner else None,
        proposal_id=proposal_id,
        thread_id=thread,
    )
    try:
        document_json = document.to_json()
        base = replace(base, document=document_json)
        # A draft is cheap to redo: its checkpoint is written once, when the run pauses.
        state = graph.invoke(
            {"document_id": document.id, "proposal_id": proposal_id, "document": document_json},
            config,
            context=context,
            durability="exit",
        )
    except Exception as exc:
        if isinstance(exc, (BackendUnavailable, ConnectorUnavailable)) or unavailable(exc):
            return replace(
                base,
                status="pending",
                proposal_id=None,
                thread_id=None,
                note=f"not drafted now, to be retried: {exc}",
            )
        # One bad document must not stop the run.
        failed = replace(base, note=f"drafting failed: {type(exc).__name__}: {exc}"[:2000])
        return replace(failed, proposal_id=store.save_draft(failed))
    outcome = _outcome(base, state)
    saved_id = store.save_draft(outcome)
    if saved_id != proposal_id:
        # Drafted meanwhile by someone else: theirs stands, this thread is left unused.
        return replace(outcome, proposal_id=saved_id, thread_id=None)
    record = state.get("proposal")
    if record is None or not policy.auto_approvable(
        proposal_of(record), outcome.violations, context.settings.policy
    ):
        return outcome
    decision: Decision = {
        "action": "approve",
        "user": AUTO_APPROVER,
        "lines": None,
        "reason": f"auto-approval: confidence {record['confidence']:.4f} at or above "
        f"{context.settings.policy.auto_approve_at}",
    }
    # A system action: the policy approves in its own name, logged like a reviewer's.
    store.record_decision(
        saved_id, user=AUTO_APPROVER, action="approve", status="approved", reason=decision["reason"]
    )
    stored = store.get(saved_id)
    assert stored is not None
    try:
        now = settle_with(graph, context, store, stored).proposal
    except ConnectorUnavailable as exc:
        # Approved and logged, not posted: settling later (a worker's sweep) posts it.
        note = f"approved; posting to be retried: {exc}"
        return replace(outcome, status="approved", decision=decision, note=note)
    return replace(outcome, status=now.status, decision=decision, ais_entry_id=now.ais_entry_id)


def draft_one(
    ais: DraftingAIS,
    store: ProposalBook,
    backend_or_factory: Backend | BackendFactory,
    document_id: str,
    *,
    recall: Recall | None = None,
    settings: DraftSettings | None = None,
    chart: ChartOfAccounts | None = None,
    graph: DraftGraph | None = None,
) -> DraftOutcome:
    """Draft the document with this id, unless it has an active proposal already.

    Idempotent: a document with an active proposal gets no second draft (its proposal is
    described with the note ``already drafted``). A document that is not in the AIS, or
    is posted there already, is ``skipped`` and nothing is stored. Otherwise as
    :func:`draft_pending` does for each document: an unavailable backend or AIS gives a
    ``pending`` outcome and stores nothing, any other failure a quarantined proposal.
    ``chart``: the AIS's chart when the caller holds it already (else it is read);
    ``graph``: a graph on a checkpointer of the store's database that the caller keeps
    open (a worker process), else one is opened for this call.
    """
    existing = store.active_for(document_id)
    if existing is not None:
        return _already_drafted(existing)
    document = ais.get_document(document_id)
    if document is None or document.is_posted:
        where = "is posted in the AIS already" if document else "is not in the AIS"
        return DraftOutcome(document_id, "skipped", note=f"document {document_id!r} {where}")
    backend = _backend(ais, backend_or_factory)
    if recall is None:
        recall = backend_recall(backend)
    chart = chart or ais.chart()
    context = DraftContext(ais, backend, chart, recall, settings or DraftSettings())
    if graph is not None:
        return draft_document(graph, context, store, document)
    with open_checkpointer(store.url) as saver:
        return draft_document(build_graph(saver), context, store, document)


def quarantine_document(
    store: ProposalBook, document_id: str, reason: str, document: Document | None = None
) -> DraftOutcome:
    """Save a quarantined proposal for a document that could not be drafted, with ``reason``.

    For a document that keeps failing (a worker's last retry): the proposal keeps it in
    front of a person, who may edit and approve it. A document with an active proposal
    keeps that one.
    """
    existing = store.active_for(document_id)
    if existing is not None:
        return _already_drafted(existing)
    proposal_id = new_proposal_id()
    outcome = DraftOutcome(
        document_id=document_id,
        status="quarantined",
        note=reason[:2000],
        document_kind=document.kind if document else None,
        partner_name=document.partner.name if document and document.partner else None,
        proposal_id=proposal_id,
        thread_id=thread_id(document_id, proposal_id),
        document=document.to_json() if document else None,
    )
    saved_id = store.save_draft(outcome)
    return replace(outcome, proposal_id=saved_id)


def _already_drafted(existing: StoredDraft) -> DraftOutcome:
    return DraftOutcome(
        existing.document_id,
        existing.status,
        note=f"already drafted: proposal {existing.id}",
        proposal_id=existing.id,
        thread_id=existing.thread_id,
        ais_entry_id=existing.ais_entry_id,
    )


# ------------------------------------------------------------ helpers


def history_recall(index: HistoryIndex, k: int = 5) -> Recall:
    """A recall over a history index: the ``k`` most similar posted documents."""

    def recall(document: Document) -> list[Document]:
        return [found.document for found in index.recall(document, k)]

    return recall


def backend_recall(backend: Backend) -> Recall:
    """The recall of a backend's own history index (``memory``); else one that finds none."""
    index = getattr(backend, "index", None)
    return history_recall(index) if isinstance(index, HistoryIndex) else no_recall


def _outcome(base: DraftOutcome, state: dict[str, Any]) -> DraftOutcome:
    proposal = state.get("proposal")
    status = state["status"]
    posting = state.get("posting")
    note = (state.get("reason") or "") if status == "quarantined" else ""
    if proposal is not None and not note:
        note = proposal["note"]
    return replace(
        base,
        status=status,
        backend=proposal["backend"] if proposal else None,
        model=proposal["model"] if proposal else None,
        confidence=proposal["confidence"] if proposal else None,
        scheme=proposal["scheme"] if proposal else None,
        violations=tuple(violations_of(state.get("violations", []))),
        evidence=tuple((proposal and proposal["evidence"]) or state.get("evidence", [])),
        note=note,
        attempts=state.get("attempts", 0),
        decision=state.get("decision"),
        ais_entry_id=posting["entry_id"] if posting else None,
    )


def _backend(ais: DraftingAIS, backend_or_factory: Backend | BackendFactory) -> Backend:
    if isinstance(backend_or_factory, type) or not isinstance(backend_or_factory, Backend):
        return cast(BackendFactory, backend_or_factory)(ais)
    return backend_or_factory
