"""The tasks: they take ids, call the agent's functions, and retry what is transient.

``draft_document(document_id)``
    Drafts one document up to the review interrupt (:func:`~ledgerpilot.agent.drafting.draft_one`);
    a document with an active proposal gets no second draft. A transient error (AIS,
    store or model server unavailable) is retried with exponential backoff; after the
    last retry, or at once for any other error, the document gets a quarantined proposal
    with the reason, so that nothing is lost.
``decide(proposal_id, decision)``
    Carries out a decision (:func:`~ledgerpilot.agent.drafting.decide`: recorded in the
    store unless it is there already, then settled: posted, closed). A decision the store
    refuses (role, segregation of duties, status) is not retried; what the store holds is
    settled all the same. A transient error is retried; after the last retry the approval
    stays approved for the ``post_approved`` sweep.
``poll_ais(lost_after_seconds=900)`` (beat)
    Enqueues ``draft_document`` once for each newly arrived pending document (a claim in
    the store per document), and again for a document whose draft task was lost (claimed
    long ago, still without a proposal).
``post_approved(older_than_seconds=None)`` (beat)
    Settles approved proposals left unposted (a lost or failed ``decide`` task) for more
    than ``older_than_seconds`` (by default one ``poll_seconds``), the longest waiting
    first: the sweep that makes a lost task harmless.

Every task is idempotent by state: delivered twice, it does nothing twice.
"""

from __future__ import annotations

import datetime as dt
import random
import weakref
from collections import Counter
from typing import Any, cast

from celery import Task
from celery.utils.log import get_task_logger

from ledgerpilot.agent import drafting
from ledgerpilot.agent.nodes import InvalidDecision
from ledgerpilot.agent.settling import SYSTEM_USER
from ledgerpilot.agent.state import DraftOutcome
from ledgerpilot.review import StoreError

from .app import (
    DECIDE,
    DRAFT_DOCUMENT,
    POLL_AIS,
    POST_APPROVED,
    QUEUE,
    LedgerpilotCelery,
    RetryPolicy,
    poll_seconds,
)
from .runtime import WorkerRuntime, is_transient

logger = get_task_logger(__name__)

LOST_AFTER_SECONDS = 900.0
"""A claimed document still without a proposal this long after its claim lost its task."""
SWEEP_LIMIT = 100
"""Approvals settled per sweep at most."""

_RUNTIMES: weakref.WeakKeyDictionary[LedgerpilotCelery, WorkerRuntime] = weakref.WeakKeyDictionary()


def register(app: LedgerpilotCelery) -> None:
    """Register the tasks on ``app``."""
    app.task(name=DRAFT_DOCUMENT, bind=True)(draft_document)
    app.task(name=DECIDE, bind=True)(decide)
    app.task(name=POLL_AIS, bind=True)(poll_ais)
    app.task(name=POST_APPROVED, bind=True)(post_approved)


def runtime(task: Task[Any, Any]) -> WorkerRuntime:
    """The worker process's runtime for the task's app."""
    app = cast(LedgerpilotCelery, task.app)
    found = _RUNTIMES.get(app)
    if found is None:
        found = _RUNTIMES[app] = WorkerRuntime(app.options.settings)
    return found


# ------------------------------------------------------------ tasks


def draft_document(self: Task[Any, Any], document_id: str) -> dict[str, Any]:
    """Draft one document; see the module's docstring."""
    run = runtime(self)
    try:
        backend, chart = run.backend()
        outcome = drafting.draft_one(
            run.ais(),
            run.store(),
            backend,
            document_id,
            settings=run.draft_settings,
            chart=chart,
            graph=run.graph(),
        )
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if not is_transient(exc):
            logger.exception("drafting %s failed", document_id)
            return _quarantine_draft(run, document_id, f"drafting failed: {reason}")
        return _retry_draft(self, run, document_id, reason)
    if outcome.status == "pending":  # the backend, the AIS or the checkpoints unavailable
        reason = outcome.note.removeprefix("not drafted now, to be retried: ")
        return _retry_draft(self, run, document_id, reason)
    return _drafted(outcome)


def decide(self: Task[Any, Any], proposal_id: str, decision: dict[str, Any]) -> dict[str, Any]:
    """Carry out a reviewer's decision; see the module's docstring."""
    run = runtime(self)
    refused = None
    try:
        try:
            done = drafting.decide(
                run.store(),
                run.ais(),
                proposal_id,
                decision,
                settings=run.draft_settings,
                graph=run.graph(),
            )
        except (StoreError, InvalidDecision) as exc:
            # Refused, or no longer possible: settle what the store holds all the same.
            refused = str(exc)
            logger.warning("decision on %s refused: %s", proposal_id, refused)
            done = drafting.settle(
                run.store(), run.ais(), proposal_id, settings=run.draft_settings, graph=run.graph()
            )
    except drafting.DecisionError as exc:
        return {"proposal": proposal_id, "status": None, "applied": False, "refused": str(exc)}
    except Exception as exc:
        if not is_transient(exc):
            logger.exception("carrying out a decision on %s failed", proposal_id)
            return _quarantine_approval(run, proposal_id, f"posting failed: {exc}")
        run.forget_graph()  # its connection may be what failed
        policy = _policy(self)
        if self.request.retries >= policy.max_retries:
            logger.warning("decision on %s left to the sweep: %s", proposal_id, exc)
            return {"proposal": proposal_id, "status": "approved", "applied": False}
        delay = _backoff(policy, self.request.retries)
        raise self.retry(countdown=delay, exc=exc, max_retries=policy.max_retries) from exc
    result = {
        "proposal": proposal_id,
        "status": done.proposal.status,
        "applied": done.applied,
        "ais_entry": done.proposal.ais_entry_id,
    }
    if refused is not None:
        result["refused"] = refused
    return result


def poll_ais(
    self: Task[Any, Any], lost_after_seconds: float = LOST_AFTER_SECONDS
) -> dict[str, int]:
    """Enqueue a draft for each newly arrived pending document, once each.

    A pending document claimed more than ``lost_after_seconds`` ago and still without a
    proposal lost its draft task: it is enqueued again (counted as ``lost``).
    """
    run = runtime(self)
    try:
        store = run.store()
        pending = [document.id for document in run.ais().pending_documents()]
        drafted = store.active_among(pending)
        undrafted = [d for d in pending if d not in drafted]
        claimed = store.claim(undrafted, by=POLL_AIS)
        fresh = set(claimed)
        older = dt.timedelta(seconds=lost_after_seconds)
        lost = store.reclaim_stale([d for d in undrafted if d not in fresh], older, POLL_AIS)
    except Exception as exc:
        if not is_transient(exc):
            raise
        logger.warning("polling the AIS: %s; next time", exc)
        return {"pending": 0, "enqueued": 0, "lost": 0}
    todo = claimed + lost
    sent = 0
    try:
        for document_id in todo:
            self.app.send_task(DRAFT_DOCUMENT, args=(document_id,), queue=QUEUE)
            sent += 1
    finally:
        if sent < len(todo):  # the broker failed: the rest is claimed again next time
            store.unclaim(todo[sent:])
    return {"pending": len(pending), "enqueued": sent, "lost": len(lost)}


def post_approved(
    self: Task[Any, Any], older_than_seconds: float | None = None, limit: int = SWEEP_LIMIT
) -> dict[str, int]:
    """Settle approvals left unposted for ``older_than_seconds``; counts by status.

    By default an approval is left to its own ``decide`` task for one ``poll_seconds``.
    """
    run = runtime(self)
    if older_than_seconds is None:
        older_than_seconds = poll_seconds(run.settings)
    counts: Counter[str] = Counter()
    try:
        store = run.store()
        waiting = store.approved_unposted(dt.timedelta(seconds=older_than_seconds), limit)
    except Exception as exc:
        if not is_transient(exc):
            raise
        logger.warning("sweeping approvals: %s; next time", exc)
        return {}
    for proposal in waiting:
        try:
            done = drafting.settle(
                store, run.ais(), proposal.id, settings=run.draft_settings, graph=run.graph()
            )
        except Exception as exc:
            if is_transient(exc):
                run.forget_graph()
                logger.warning("posting approvals: %s; next time", exc)
                counts["approved"] += 1
                break
            logger.exception("posting %s failed", proposal.id)
            result = _quarantine_approval(run, proposal.id, f"posting failed: {exc}")
            counts[str(result["status"])] += 1
        else:
            counts[done.proposal.status] += 1
    return dict(counts)


# ------------------------------------------------------------ helpers


def _retry_draft(
    task: Task[Any, Any], run: WorkerRuntime, document_id: str, reason: str
) -> dict[str, Any]:
    """Retry with backoff; after the last retry, quarantine the document with ``reason``."""
    run.forget_graph()  # its connection may be what failed
    policy = _policy(task)
    tries = task.request.retries
    if tries >= policy.max_retries:
        return _quarantine_draft(run, document_id, f"not drafted in {tries + 1} tries: {reason}")
    logger.info("drafting %s again in a while: %s", document_id, reason)
    raise task.retry(countdown=_backoff(policy, tries), max_retries=policy.max_retries)


def _quarantine_draft(run: WorkerRuntime, document_id: str, reason: str) -> dict[str, Any]:
    try:
        document = run.ais().get_document(document_id)
    except Exception:  # the AIS may be what keeps failing: quarantine without the snapshot
        document = None
    return _drafted(drafting.quarantine_document(run.store(), document_id, reason, document))


def _quarantine_approval(run: WorkerRuntime, proposal_id: str, reason: str) -> dict[str, Any]:
    """Set an approval aside for a person, with ``reason``, if it still waits for posting."""
    store = run.store()
    proposal = store.get(proposal_id)
    if proposal is not None and proposal.status == "approved":
        store.record_decision(
            proposal_id,
            user=SYSTEM_USER,
            action="quarantine",
            status="quarantined",
            reason=reason[:2000],
        )
        proposal = store.get(proposal_id)
    status = proposal.status if proposal is not None else None
    return {"proposal": proposal_id, "status": status, "applied": False}


def _drafted(outcome: DraftOutcome) -> dict[str, Any]:
    return {
        "document": outcome.document_id,
        "status": outcome.status,
        "proposal": outcome.proposal_id,
        "note": outcome.note,
    }


def _policy(task: Task[Any, Any]) -> RetryPolicy:
    return cast(LedgerpilotCelery, task.app).options.retry


def _backoff(policy: RetryPolicy, tries: int) -> float:
    """Seconds before retry number ``tries + 1``: doubling, capped, with some jitter."""
    delay = min(policy.first_delay * 2**tries, policy.max_delay)
    return delay * (1.0 + 0.2 * random.random())
