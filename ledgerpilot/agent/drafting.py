"""Drafting pending documents into the proposal store, and applying reviewers' decisions.

:func:`draft_pending` runs the graph for every pending document up to the review interrupt
(checkpoints in the store's database) and saves each draft as a proposal; :func:`decide`
resumes one paused graph with a reviewer's decision, posts on approval, and records what
happened in the store's decision log. The CLI uses both now; the Celery workers of the
approval queue will call the same functions with ids.

The store is reached through :class:`ProposalBook`, the part of
:class:`~ledgerpilot.review.store.ProposalStore` that drafting needs, so that ``agent``
does not import ``review``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from langgraph.types import Command

from ledgerpilot.connectors import ConnectorUnavailable
from ledgerpilot.ledger import ChartOfAccounts, Document, Violation

from . import policy
from .backends.base import Backend, BackendUnavailable, DraftRequest, Proposal
from .checkpoints import open_checkpointer
from .graph import DraftGraph, build_graph, thread_config, thread_id
from .nodes import UnexpectedState, read_decision
from .recall import HistoryIndex
from .state import (
    AUTO_APPROVER,
    Decision,
    DraftAIS,
    DraftContext,
    DraftOutcome,
    DraftSettings,
    Recall,
    new_proposal_id,
    no_recall,
    proposal_of,
    violations_of,
)

AWAITING = ("proposed", "needs_review")
"""Proposal statuses that wait for a reviewer's decision."""


class DraftingAIS(DraftAIS, Protocol):
    """What drafting needs of an AIS connector, beyond what the graph needs."""

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts."""
        ...

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """Documents waiting to be posted."""
        ...


class StoredDraft(Protocol):
    """What drafting reads of a stored proposal."""

    @property
    def id(self) -> str: ...
    @property
    def document_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def thread_id(self) -> str | None: ...
    @property
    def ais_entry_id(self) -> str | None: ...


class ProposalBook(Protocol):
    """The proposal store, as drafting uses it (:class:`~ledgerpilot.review.store.ProposalStore`)."""

    url: str

    def save_draft(self, outcome: DraftOutcome) -> str: ...
    def get(self, proposal_id: str) -> StoredDraft | None: ...
    def active_among(self, document_ids: Iterable[str]) -> set[str]: ...
    def record_decision(
        self,
        proposal_id: str,
        *,
        user: str,
        action: str,
        status: str,
        scheme: dict[str, Any] | None = None,
        violations: Sequence[Violation] | None = None,
        reason: str | None = None,
    ) -> object: ...
    def mark_posted(self, proposal_id: str, ais_entry_id: str, user: str) -> object: ...


BackendFactory = Callable[[DraftingAIS], Backend]
"""Makes the backend for an AIS (a memory backend indexes its history, say)."""
ProgressCallback = Callable[[int, int], None]
"""Called with (documents done, documents to do) after each document."""


class DecisionError(Exception):
    """A decision that cannot be applied (unknown proposal, no paused graph)."""


@dataclass(frozen=True)
class DecisionOutcome:
    """What :func:`decide` did."""

    proposal: StoredDraft
    """The proposal as the store holds it now."""
    applied: bool
    """Whether this decision was applied; False when the proposal was not awaiting one
    (already decided, posted or quarantined), and nothing changed but a catch-up."""


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
    :class:`~.state.DraftOutcome` is yielded. A backend or AIS that is unavailable leaves
    the document pending (outcome ``pending``, nothing stored) for a later run; any other
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
    except (BackendUnavailable, ConnectorUnavailable) as exc:
        return replace(
            base,
            status="pending",
            proposal_id=None,
            thread_id=None,
            note=f"not drafted now, to be retried: {exc}",
        )
    except Exception as exc:  # one bad document must not stop the run
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
    stored = store.get(saved_id)
    assert stored is not None
    try:
        graph.invoke(Command(resume=decision), config, context=context, durability="sync")
    except ConnectorUnavailable as exc:
        # Approved and logged, not posted: decide() (or a retry worker) finishes it.
        now = _catch_up(store, stored, graph.get_state(config).values, applied=True)
        note = f"approved; posting to be retried: {exc}"
        return replace(outcome, status=now.status, decision=decision, note=note)
    now = _catch_up(store, stored, graph.get_state(config).values, applied=True)
    return replace(outcome, status=now.status, decision=decision, ais_entry_id=now.ais_entry_id)


# ------------------------------------------------------------ deciding


def decide(
    store: ProposalBook,
    ais: DraftingAIS,
    proposal_id: str,
    decision: object,
    *,
    settings: DraftSettings | None = None,
) -> DecisionOutcome:
    """Resume a paused draft with a reviewer's decision; post on approval; log it all.

    ``decision`` is a :class:`~.state.Decision` (checked; :class:`~.nodes.InvalidDecision`
    otherwise). Repeating a decision, or deciding a proposal that was decided already,
    changes nothing and posts nothing twice: the AIS posting carries the proposal id as its
    idempotency key. When the AIS is unavailable at posting time, the decision is logged,
    the proposal stays ``approved`` and :class:`~ledgerpilot.connectors.ConnectorUnavailable`
    propagates; calling again (with any decision) posts it.
    """
    checked = read_decision(decision)
    proposal = store.get(proposal_id)
    if proposal is None:
        raise DecisionError(f"there is no proposal {proposal_id[:80]!r}")
    if proposal.status not in (*AWAITING, "approved"):
        return DecisionOutcome(proposal, applied=False)  # rejected, posted or quarantined
    if proposal.thread_id is None:
        raise DecisionError(f"proposal {proposal_id} has no paused draft to resume")
    context = DraftContext(ais, _NO_BACKEND, ais.chart(), settings=settings or DraftSettings())
    config = thread_config(proposal.thread_id)
    with open_checkpointer(store.url) as saver:
        graph = build_graph(saver)
        waiting = graph.get_state(config).next
        applied = waiting == ("review",) and proposal.status in AWAITING
        try:
            # Each step is checkpointed before the next runs: the approval before the post.
            if applied:
                graph.invoke(Command(resume=checked), config, context=context, durability="sync")
            elif waiting == ("post",):
                # An approval whose posting did not finish (the AIS was down): post now.
                graph.invoke(None, config, context=context, durability="sync")
        except ConnectorUnavailable:
            # The decision stands (and is logged); the posting waits for a retry.
            _catch_up(store, proposal, graph.get_state(config).values, applied)
            raise
        state = graph.get_state(config).values
    if not state:
        raise DecisionError(f"proposal {proposal_id} has no checkpoint in {store.url!r}")
    now = _catch_up(store, proposal, state, applied)
    return DecisionOutcome(now, applied)


def _catch_up(
    store: ProposalBook, proposal: StoredDraft, state: dict[str, Any], applied: bool
) -> StoredDraft:
    """Bring the store's proposal level with its graph: record the decision and its result."""
    status = proposal.status
    graph_status = state["status"]
    decision = state.get("decision")
    scheme = state["proposal"]["scheme"] if state.get("proposal") else None
    violations = violations_of(state.get("violations", []))
    pid = proposal.id
    if status in AWAITING and decision is not None and (applied or graph_status != status):
        action, user = decision["action"], decision["user"]
        reason = decision.get("reason")
        if graph_status == "rejected":
            store.record_decision(pid, user=user, action="reject", status="rejected", reason=reason)
        elif graph_status == "needs_review":
            store.record_decision(
                pid,
                user=user,
                action=action,
                status="needs_review",
                scheme=scheme,
                violations=violations,
                reason=reason or state.get("reason") or None,
            )
        elif graph_status in ("approved", "posted", "quarantined"):
            store.record_decision(
                pid,
                user=user,
                action=action,
                status="approved",
                scheme=scheme,
                violations=[],
                reason=reason,
            )
        else:
            raise UnexpectedState(f"a decision left the draft {graph_status!r}")
        status = "approved" if graph_status in ("posted", "quarantined") else graph_status
    if status == "approved" and decision is not None:
        if graph_status == "posted":
            store.mark_posted(pid, state["posting"]["entry_id"], decision["user"])
        elif graph_status == "quarantined":
            store.record_decision(
                pid,
                user=decision["user"],
                action="quarantine",
                status="quarantined",
                reason=state.get("reason"),
            )
    now = store.get(pid)
    assert now is not None
    return now


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


class _NoBackend:
    """Stands in for a backend where none may be asked (resuming at review)."""

    name = "none"

    def propose(self, request: DraftRequest) -> Proposal:
        """Never answers: only drafting asks a backend."""
        raise UnexpectedState("a backend was asked for a proposal while resuming a decision")


_NO_BACKEND = _NoBackend()
