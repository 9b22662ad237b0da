"""Carrying out reviewers' decisions: the store decides, the graph posts.

A decision is recorded in the proposal store first (:func:`decide` goes through the
store's ``edit``, ``approve`` and ``reject``, which check roles, segregation of duties and
the proposal's status, in one transaction with the status change). :func:`settle` then
brings the drafting graph level with the store: an approved proposal's paused graph is
resumed with the approval and its ``post`` node writes the entry to the AIS, with the
proposal id as the idempotency key, before the store is marked posted; a rejected
proposal's graph is resumed with the rejection, which ends it. Every step is idempotent
by state, so settling again (a retried task, the sweep of approvals left unposted, a
second worker) posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from ledgerpilot.ledger import Document, DocumentError

from .backends.base import DraftRequest, Proposal
from .book import DraftingAIS, LoggedDecision, ProposalBook, StoredDraft
from .checkpoints import open_checkpointer
from .graph import DraftGraph, build_graph, thread_config, thread_id
from .nodes import UnexpectedState, edited_scheme, read_decision
from .state import Decision, DraftAIS, DraftContext, DraftSettings, ProposalRecord

SYSTEM_USER = "worker"
"""The user name of system actions in the decision log (a posting the AIS refused)."""


class DecisionError(Exception):
    """A decision that cannot be carried out (unknown proposal, no document to edit)."""


class SettlingElsewhere(Exception):
    """Another process is settling the same proposal at this moment (a ``decide`` task and
    the sweep, say): its step is the graph's newest checkpoint. Nothing is wrong with the
    proposal; settle it again later (a worker retries, the sweep comes back)."""


@dataclass(frozen=True)
class DecisionOutcome:
    """What :func:`decide` or :func:`settle` did."""

    proposal: StoredDraft
    """The proposal as the store holds it now."""
    applied: bool
    """:func:`decide`: whether the store took this decision now (False when it held it
    already). :func:`settle`: whether settling changed anything (posted, quarantined, or
    closed a rejected draft's graph)."""


def decide(
    store: ProposalBook,
    ais: DraftingAIS,
    proposal_id: str,
    decision: object,
    *,
    settings: DraftSettings | None = None,
    graph: DraftGraph | None = None,
) -> DecisionOutcome:
    """Record a reviewer's decision in the store, then :func:`settle` the proposal.

    ``decision`` is a :class:`~.state.Decision` (checked; :class:`~.nodes.InvalidDecision`
    otherwise). The store refuses what the user's role, segregation of duties or the
    proposal's status do not allow, and raises. An edit is validated against the chart
    and the document and leaves the proposal ``needs_review`` for an approver; the same
    lines again change nothing. An approval the store already holds is not logged twice,
    and settling it again posts nothing twice. When the AIS is unavailable at posting
    time, the approval stands and :class:`~ledgerpilot.connectors.ConnectorUnavailable`
    propagates; settling later posts it. ``graph`` as for :func:`settle`.
    """
    checked = read_decision(decision)
    proposal = _get(store, proposal_id)
    applied = _record(store, ais, proposal, checked)
    settled = settle(store, ais, proposal_id, settings=settings, graph=graph)
    return DecisionOutcome(settled.proposal, applied)


def settle(
    store: ProposalBook,
    ais: DraftingAIS,
    proposal_id: str,
    *,
    settings: DraftSettings | None = None,
    graph: DraftGraph | None = None,
) -> DecisionOutcome:
    """Bring the proposal's graph level with the store: post an approval, close a rejection.

    ``approved``: the paused graph is resumed with the approval (an ``edit`` carrying the
    store's lines when they differ from the graph's proposal), and the graph's ``post``
    node writes the entry to the AIS; then the store is marked ``posted``. When the AIS
    refuses the entry, the store's proposal is ``quarantined`` with the AIS's reason. A
    graph that has already ended (a draft quarantined at drafting, edited and approved
    since) is seeded with the approved lines, so that posting still goes through ``post``.
    ``rejected``: a graph still paused at review is resumed with the rejection, which ends
    it. Any other status: nothing to do.

    ``graph``: a graph on a checkpointer of the store's database that the caller keeps
    open (a worker process), else one is opened for this call. Raises
    :class:`SettlingElsewhere` when another process settles the same approval at the same
    time and has not finished: the store is left approved, to be settled again.
    """
    proposal = _get(store, proposal_id)
    if proposal.status not in ("approved", "rejected"):
        return DecisionOutcome(proposal, applied=False)
    context = DraftContext(ais, NO_BACKEND, ais.chart(), settings=settings or DraftSettings())
    if graph is not None:
        return settle_with(graph, context, store, proposal)
    with open_checkpointer(store.url) as saver:
        return settle_with(build_graph(saver), context, store, proposal)


def settle_with(
    graph: DraftGraph, context: DraftContext, store: ProposalBook, proposal: StoredDraft
) -> DecisionOutcome:
    """:func:`settle` on a graph and run context the caller holds open already."""
    config = thread_config(proposal.thread_id or thread_id(proposal.document_id, proposal.id))
    log = store.decisions(proposal.id)
    if proposal.status == "rejected":
        return _close(graph, context, config, proposal, log)
    if proposal.status == "approved":
        return _post(graph, context, config, store, proposal, log)
    return DecisionOutcome(proposal, applied=False)


# ------------------------------------------------------------ recording a decision


def _record(
    store: ProposalBook, ais: DraftingAIS, proposal: StoredDraft, decision: Decision
) -> bool:
    """Apply ``decision`` to the store; whether it changed anything there."""
    user, reason = decision["user"], decision["reason"]
    if decision["action"] == "approve":
        return store.approve(proposal.id, user=user, reason=reason).applied
    if decision["action"] == "reject":
        return store.reject(proposal.id, user=user, reason=reason or "").applied
    document = _document(proposal, ais)
    scheme, raw, found = edited_scheme(
        document, ais.chart(), proposal.scheme, decision["lines"] or [], user
    )
    # The same lines again are a repeat: the store changes nothing then.
    edited = raw if scheme is None else scheme
    return store.edit(
        proposal.id, user=user, scheme=edited, violations=found, reason=reason
    ).applied


# ------------------------------------------------------------ settling


def _close(
    graph: DraftGraph,
    context: DraftContext,
    config: RunnableConfig,
    proposal: StoredDraft,
    log: Sequence[LoggedDecision],
) -> DecisionOutcome:
    """End a rejected proposal's graph, if it still waits at review."""
    if graph.get_state(config).next != ("review",):
        return DecisionOutcome(proposal, applied=False)
    rejection = _last(log, "reject")
    decision: Decision = {
        "action": "reject",
        "user": rejection.user if rejection else SYSTEM_USER,
        "lines": None,
        "reason": rejection.reason if rejection else None,
    }
    graph.invoke(Command(resume=decision), config, context=context, durability="sync")
    return DecisionOutcome(proposal, applied=True)


def _post(
    graph: DraftGraph,
    context: DraftContext,
    config: RunnableConfig,
    store: ProposalBook,
    proposal: StoredDraft,
    log: Sequence[LoggedDecision],
) -> DecisionOutcome:
    """Post an approved proposal through the graph's ``post`` node, then mark the store."""
    approval = _last(log, "approve")
    user = approval.user if approval else SYSTEM_USER
    reason = approval.reason if approval else None
    snapshot = graph.get_state(config)
    values: dict[str, Any] = snapshot.values
    # Each step is checkpointed before the next runs: the approval before the posting.
    if snapshot.next == ("review",):
        decision = _approval(values, proposal, user, reason)
        graph.invoke(Command(resume=decision), config, context=context, durability="sync")
    elif snapshot.next == ("post",):
        # Approved in the graph, not posted: the AIS was down, or the worker died.
        graph.invoke(None, config, context=context, durability="sync")
    elif not (values.get("status") == "posted" and values.get("posting")):
        refused = _seed(graph, context, config, values, proposal, user, reason)
        if refused:
            return _quarantine(store, proposal, refused)
        graph.invoke(None, config, context=context, durability="sync")
    state: dict[str, Any] = graph.get_state(config).values
    status = state.get("status")
    if status == "posted":
        store.mark_posted(proposal.id, state["posting"]["entry_id"], user)
        return DecisionOutcome(_get(store, proposal.id), applied=True)
    if status == "quarantined":
        return _quarantine(store, proposal, state.get("reason") or "the AIS refused the entry")
    if status == "needs_review":
        # The approved lines no longer validate (the chart changed since, say).
        found = "; ".join(str(v["message"]) for v in state.get("violations", []))
        return _quarantine(store, proposal, f"the approved lines do not validate now: {found}")
    if status == "approved":
        # Resumed by another process at the same time, which has not posted yet: setting
        # the approval aside here would leave its entry in the AIS with a quarantined
        # proposal. The posting key keeps the two postings one entry.
        raise SettlingElsewhere(
            f"proposal {proposal.id} is being posted by another process; settle it again later"
        )
    raise UnexpectedState(f"settling an approval left the draft {status!r}")


def _approval(
    values: dict[str, Any], proposal: StoredDraft, user: str, reason: str | None
) -> Decision:
    """The store's approval as the graph's decision: the store's lines when they differ."""
    record = values.get("proposal")
    graph_scheme = record["scheme"] if record else None
    unchanged = proposal.scheme is not None and proposal.scheme == graph_scheme
    if unchanged and not values.get("violations"):
        return {"action": "approve", "user": user, "lines": None, "reason": reason}
    lines = list((proposal.scheme or {}).get("lines") or [])
    return {"action": "edit", "user": user, "lines": lines, "reason": reason}


def _seed(
    graph: DraftGraph,
    context: DraftContext,
    config: RunnableConfig,
    values: dict[str, Any],
    proposal: StoredDraft,
    user: str,
    reason: str | None,
) -> str | None:
    """Set an ended (or never checkpointed) graph at ``post`` with the approved lines.

    Returns why it cannot be, when the store's lines do not validate against the chart
    and the document; ``None`` once seeded.
    """
    try:
        document = _document(proposal, context.ais, values.get("document"))
    except DecisionError as exc:
        return str(exc)
    lines = list((proposal.scheme or {}).get("lines") or [])
    scheme, _, found = edited_scheme(document, context.chart, proposal.scheme, lines, user)
    if scheme is None or found:
        listed = "; ".join(v.message for v in found) or "no lines"
        return f"the approved lines do not validate now: {listed}"
    kept: ProposalRecord | None = values.get("proposal")
    record: ProposalRecord = kept or {
        "backend": "",
        "model": None,
        "confidence": 0.0,
        "scheme": None,
        "evidence": [],
        "raw": "",
        "note": "",
        "parse_violations": [],
    }
    decision: Decision = {"action": "approve", "user": user, "lines": None, "reason": reason}
    seed: dict[str, Any] = {
        "document_id": proposal.document_id,
        "proposal_id": proposal.id,
        "document": document.to_json(),
        "proposal": {**record, "scheme": scheme},
        "violations": [],
        "status": "approved",
        "reason": "",
        "decision": decision,
        "posting": None,
    }
    graph.update_state(config, seed, as_node="review")
    return None


def _quarantine(store: ProposalBook, proposal: StoredDraft, reason: str) -> DecisionOutcome:
    store.record_decision(
        proposal.id, user=SYSTEM_USER, action="quarantine", status="quarantined", reason=reason
    )
    return DecisionOutcome(_get(store, proposal.id), applied=True)


# ------------------------------------------------------------ helpers


def _get(store: ProposalBook, proposal_id: str) -> StoredDraft:
    proposal = store.get(proposal_id)
    if proposal is None:
        raise DecisionError(f"there is no proposal {proposal_id[:80]!r}")
    return proposal


def _last(log: Sequence[LoggedDecision], action: str) -> LoggedDecision | None:
    return next((entry for entry in reversed(log) if entry.action == action), None)


def _document(proposal: StoredDraft, ais: DraftAIS, kept: dict[str, Any] | None = None) -> Document:
    """The proposal's document: as the graph or the store kept it, else from the AIS."""
    try:
        if kept is not None:
            return Document.from_json(kept)
        if proposal.document is not None:
            return Document.from_json(proposal.document)
    except DocumentError as exc:
        raise DecisionError(
            f"the document of proposal {proposal.id} cannot be read: {exc}"
        ) from exc
    found = ais.get_document(proposal.document_id)
    if found is None:
        raise DecisionError(f"there is no document {proposal.document_id[:80]!r} in the AIS")
    return found


class _NoBackend:
    """Stands in for a backend where none may be asked (resuming at review)."""

    name = "none"

    def propose(self, request: DraftRequest) -> Proposal:
        """Never answers: only drafting asks a backend."""
        raise UnexpectedState("a backend was asked for a proposal while settling a decision")


NO_BACKEND = _NoBackend()
