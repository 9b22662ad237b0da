"""The proposal store: drafted proposals, reviewers' decisions and the decision log.

``ProposalStore.create(url)`` makes (or upgrades) the store on SQLite or PostgreSQL;
``ProposalStore(url)`` opens one. Drafting saves each document's proposal once
(:meth:`~ProposalStore.save_draft` is idempotent per document). A reviewer's decision
(:meth:`~ProposalStore.edit`, :meth:`~ProposalStore.approve`,
:meth:`~ProposalStore.reject`) is checked here (the user's role, segregation of duties, the
proposal's status) and recorded with its status change in one transaction that holds the
proposal's row, so that two clicks at once make one decision; the workers carry it out
afterwards. Users, sessions and tokens come from :class:`~.users.UserBook`.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledgerpilot.agent.state import DraftOutcome, new_proposal_id
from ledgerpilot.ledger import Violation

from .database import utcnow
from .errors import NotAllowed, ProposalNotFound, StoreError, StoreNotReady, WrongStatus
from .migrations import current_revision, head_revision, upgrade
from .models import (
    ACTIONS,
    INACTIVE_STATUSES,
    STATUSES,
    ClaimRow,
    DecisionResult,
    DecisionRow,
    ProposalRow,
    StoredDecision,
    StoredProposal,
    attention_of,
)
from .queue import QueueFilter, QueuePage, queue_query
from .users import UserBook, authorized

__all__ = [
    "NotAllowed",
    "ProposalNotFound",
    "ProposalStore",
    "StoreError",
    "StoreNotReady",
    "WrongStatus",
]

DRAFT_STATUSES = ("proposed", "needs_review", "quarantined")
"""The statuses a freshly drafted proposal is saved with."""
AWAITING = ("proposed", "needs_review")
"""The statuses of proposals waiting for an approver."""
EDITABLE = ("proposed", "needs_review", "quarantined")
"""The statuses whose lines a person may change (and that an approver may reject)."""
IN_CHUNK = 500
"""Ids per ``IN (...)`` list, well below every database's limit on bound parameters."""


class ProposalStore(UserBook):
    """The proposals, decisions and users at a SQLAlchemy URL (``sqlite:///PATH`` or
    PostgreSQL)."""

    @classmethod
    def create(cls, url: str) -> ProposalStore:
        """Open the store at ``url``, creating or upgrading its tables as needed."""
        store = cls(url)
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
        return store

    def upgrade(self) -> None:
        """Run the store's migrations up to the newest revision."""
        upgrade(self.engine)

    def check_schema(self) -> None:
        """Raise :class:`StoreNotReady` unless the store is at the newest revision."""
        revision = current_revision(self.engine)
        if revision != head_revision():
            raise StoreNotReady(
                f"{self.display_url} is at store revision {revision}, not {head_revision()}; "
                "create or upgrade it with ProposalStore.create"
            )

    def __repr__(self) -> str:
        return f"ProposalStore({self.display_url!r})"

    # ------------------------------------------------------------ drafts

    def save_draft(self, outcome: DraftOutcome) -> str:
        """Store a drafted proposal and the document it was drafted from; the id of the
        document's active proposal.

        Idempotent per document: when the document already has an active proposal (any
        status but rejected), that proposal is kept as it is and its id returned.
        """
        if outcome.status not in DRAFT_STATUSES:
            raise StoreError(
                f"a draft is saved as {', '.join(DRAFT_STATUSES)}, not {outcome.status!r}"
            )
        proposal_id = outcome.proposal_id or new_proposal_id()
        now = utcnow()
        row = {
            "id": proposal_id,
            "document_id": outcome.document_id,
            "document_kind": outcome.document_kind or "",
            "partner_name": outcome.partner_name,
            "status": outcome.status,
            "backend": outcome.backend,
            "model": outcome.model,
            "confidence": outcome.confidence,
            "scheme": outcome.scheme,
            "violations": [v.as_dict() for v in outcome.violations],
            "evidence": list(outcome.evidence),
            "note": outcome.note,
            "thread_id": outcome.thread_id,
            "ais_entry_id": None,
            "created_at": now,
            "updated_at": now,
            "document": outcome.document,
            "edited": False,
            "violation_count": len(outcome.violations),
            "attention": attention_of(outcome.status, len(outcome.violations), outcome.confidence),
        }
        try:
            # One statement: the unique index on active proposals keeps the second out.
            with self._write_engine.begin() as conn:
                conn.execute(insert(ProposalRow), [row])
        except IntegrityError:
            existing = self.active_for(outcome.document_id)
            if existing is None:
                raise
            return existing.id
        return proposal_id

    def active_among(self, document_ids: Iterable[str]) -> set[str]:
        """Which of ``document_ids`` have an active proposal (one query per 500 ids)."""
        ids = builtins.list(dict.fromkeys(document_ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                found.update(
                    conn.execute(
                        select(ProposalRow.document_id).where(
                            ProposalRow.document_id.in_(chunk),
                            ProposalRow.status.not_in(INACTIVE_STATUSES),
                        )
                    ).scalars()
                )
        return found

    def get(self, proposal_id: str) -> StoredProposal | None:
        """The proposal with this id, or ``None``."""
        with Session(self.engine) as session:
            row = session.get(ProposalRow, proposal_id)
            return None if row is None else StoredProposal.of(row)

    def active_for(self, document_id: str) -> StoredProposal | None:
        """The document's active proposal (any status but rejected), or ``None``."""
        with Session(self.engine) as session:
            row = _active(session, document_id)
            return None if row is None else StoredProposal.of(row)

    def list(
        self, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[StoredProposal]:
        """Proposals, oldest first, optionally of one status, a page at a time."""
        query = select(ProposalRow).order_by(ProposalRow.created_at, ProposalRow.id)
        if status is not None:
            _check_status(status)
            query = query.where(ProposalRow.status == status)
        with Session(self.engine) as session:
            rows = session.scalars(query.limit(limit).offset(offset))
            return [StoredProposal.of(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many proposals there are of each status (statuses in their order)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(ProposalRow.status, func.count()).group_by(ProposalRow.status)
            )
            found = {status: int(count) for status, count in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    # ------------------------------------------------------------ the queue

    def queue(
        self,
        where: QueueFilter | None = None,
        sort: str = "attention",
        page: int = 1,
        per_page: int = 50,
    ) -> QueuePage:
        """One page of the proposals ``where`` matches, in the ``sort`` order
        (:data:`~.queue.SORTS`), with how many match in all."""
        rows, count = queue_query(where or QueueFilter(), sort, page, per_page)
        with Session(self.engine) as session:
            total = int(session.execute(count).scalar_one())
            items = [StoredProposal.of(row) for row in session.scalars(rows)]
        return QueuePage(items=items, total=total, page=page, per_page=per_page)

    def kinds(self) -> builtins.list[str]:
        """The document kinds among the proposals, sorted."""
        query = (
            select(ProposalRow.document_kind)
            .where(ProposalRow.document_kind != "")
            .distinct()
            .order_by(ProposalRow.document_kind)
        )
        with Session(self.engine) as session:
            return builtins.list(session.scalars(query))

    def approved_unposted(
        self, older_than: dt.timedelta = dt.timedelta(0), limit: int = 100
    ) -> builtins.list[StoredProposal]:
        """Approved proposals not posted yet, approved at least ``older_than`` ago, the
        longest waiting first: what a lost posting task left behind."""
        query = (
            select(ProposalRow)
            .where(
                ProposalRow.status == "approved", ProposalRow.updated_at <= utcnow() - older_than
            )
            .order_by(ProposalRow.updated_at, ProposalRow.id)
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [StoredProposal.of(row) for row in session.scalars(query)]

    # ------------------------------------------------------------ reviewers' decisions

    def edit(
        self,
        proposal_id: str,
        *,
        user: str,
        scheme: dict[str, Any],
        violations: Sequence[Violation],
        reason: str | None = None,
    ) -> DecisionResult:
        """Replace the proposal's lines with ``scheme`` (its ``violations`` as checked by
        the caller); the proposal then needs review by an approver other than ``user``.

        Needs a clerk or an approver; the proposal must be proposed, needs_review or
        quarantined (:class:`WrongStatus` otherwise). An edit that changes no line changes
        nothing (``applied`` False).
        """
        if not isinstance(scheme, dict):
            raise StoreError("an edit gives the new lines as a posting scheme (a JSON object)")
        with self._writing() as session:
            authorized(session, user, "edit")
            row = _locked(session, proposal_id)
            if row.status not in EDITABLE:
                raise WrongStatus(
                    f"proposal {row.id} is {row.status}; only a proposed, needs_review or "
                    "quarantined proposal can be edited"
                )
            if row.scheme == scheme:
                return DecisionResult(StoredProposal.of(row), None, applied=False)
            before = row.scheme
            row.scheme = scheme
            row.violations = [v.as_dict() for v in violations]
            row.status = "needs_review"
            row.edited = True
            decision = _append(session, row, user, "edit", before, scheme, reason)
            return DecisionResult(StoredProposal.of(row), decision, applied=True)

    def approve(self, proposal_id: str, *, user: str, reason: str | None = None) -> DecisionResult:
        """Approve the proposal's lines for posting.

        Needs an approver who did not edit these lines (segregation of duties:
        :class:`NotAllowed`), and a proposed or needs_review proposal with lines and no
        violations (:class:`WrongStatus`). Approving an approved (or posted) proposal again
        changes nothing (``applied`` False).
        """
        with self._writing() as session:
            authorized(session, user, "decide")
            return self._approve(session, proposal_id, user, reason, min_confidence=None)

    def reject(self, proposal_id: str, *, user: str, reason: str) -> DecisionResult:
        """Reject the proposal (the document may be drafted again); ``reason`` is required.

        Needs an approver, and a proposed, needs_review or quarantined proposal
        (:class:`WrongStatus` otherwise). Rejecting a rejected proposal again changes
        nothing (``applied`` False).
        """
        if not reason or not reason.strip():
            raise StoreError("a rejection needs a reason")
        with self._writing() as session:
            authorized(session, user, "decide")
            row = _locked(session, proposal_id)
            if row.status == "rejected":
                return DecisionResult(StoredProposal.of(row), None, applied=False)
            if row.status not in EDITABLE:
                raise WrongStatus(
                    f"proposal {row.id} is {row.status}; only a proposed, needs_review or "
                    "quarantined proposal can be rejected"
                )
            before = row.scheme
            row.status = "rejected"
            decision = _append(session, row, user, "reject", before, None, reason)
            return DecisionResult(StoredProposal.of(row), decision, applied=True)

    def bulk_approve(
        self, proposal_ids: Iterable[str], *, user: str, min_confidence: float
    ) -> builtins.list[DecisionResult | StoreError]:
        """Approve each proposal that is at least ``min_confidence`` confident, one
        transaction each; for each id, its result or why it was not approved.

        The user must be an approver (:class:`NotAllowed` for the whole call); each
        proposal is checked as :meth:`approve` checks it, and one below the confidence is
        refused with :class:`NotAllowed`.
        """
        if not 0.0 <= min_confidence <= 1.0:
            raise StoreError(f"a confidence lies between 0 and 1, not {min_confidence}")
        self.authorize(user, "bulk_approve")
        reason = f"bulk approval of proposals at confidence {min_confidence:.2f} or above"
        results: builtins.list[DecisionResult | StoreError] = []
        for proposal_id in proposal_ids:
            try:
                with self._writing() as session:
                    authorized(session, user, "bulk_approve")
                    results.append(
                        self._approve(session, proposal_id, user, reason, min_confidence)
                    )
            except StoreError as exc:
                results.append(exc)
        return results

    def _approve(
        self,
        session: Session,
        proposal_id: str,
        user: str,
        reason: str | None,
        min_confidence: float | None,
    ) -> DecisionResult:
        row = _locked(session, proposal_id)
        if row.status in ("approved", "posted"):
            return DecisionResult(StoredProposal.of(row), None, applied=False)
        if row.status not in AWAITING:
            raise WrongStatus(
                f"proposal {row.id} is {row.status}; only a proposed or needs_review "
                "proposal can be approved"
                + ("; edit its lines first" if row.status == "quarantined" else "")
            )
        if row.scheme is None:
            raise WrongStatus(f"proposal {row.id} has no lines to approve; edit them first")
        if row.violations:
            codes = ", ".join(dict.fromkeys(str(v["code"]) for v in row.violations))
            raise WrongStatus(
                f"proposal {row.id} has {len(row.violations)} violation(s) ({codes}); "
                "correct its lines before approving"
            )
        if min_confidence is not None and (
            row.confidence is None or row.confidence < min_confidence
        ):
            shown = "none" if row.confidence is None else f"{row.confidence:.2f}"
            raise NotAllowed(
                f"proposal {row.id} has confidence {shown}; bulk approval takes "
                f"{min_confidence:.2f} or above, approve it on its own"
            )
        if user in _editors(session, row.id):
            raise NotAllowed(
                f"{user!r} edited the lines of proposal {row.id}; segregation of duties: "
                "another approver must approve them"
            )
        row.status = "approved"
        decision = _append(session, row, user, "approve", row.scheme, row.scheme, reason)
        return DecisionResult(StoredProposal.of(row), decision, applied=True)

    def editors(self, proposal_id: str) -> set[str]:
        """Who changed the proposal's lines (from the decision log)."""
        with Session(self.engine) as session:
            return _editors(session, proposal_id)

    # ------------------------------------------------------------ system actions and the log

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
    ) -> StoredDecision:
        """Append a decision to the log and move the proposal to ``status``, in one transaction.

        For system actions (``quarantine`` when the AIS refuses an approved entry, an
        auto-approval policy); it checks no role and no transition, which
        :meth:`edit`, :meth:`approve` and :meth:`reject` do for people. ``before`` is the
        proposal's scheme as it stood. An ``edit`` replaces it with ``scheme`` (its
        ``after``); an approval keeps it; a rejection or a quarantine leaves nothing after.
        ``violations``, when given, replace the proposal's.
        """
        if action not in ACTIONS:
            raise StoreError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        _check_status(status)
        if not user.strip():
            raise StoreError("a decision needs the user who made it")
        with self._writing() as session:
            row = _locked(session, proposal_id)
            before = row.scheme
            if action == "edit":
                row.scheme = scheme
                row.edited = True
                after = scheme
            elif action in ("approve", "post"):
                after = row.scheme
            else:
                after = None
            if violations is not None:
                row.violations = [v.as_dict() for v in violations]
            row.status = status
            return _append(session, row, user, action, before, after, reason)

    def mark_posted(self, proposal_id: str, ais_entry_id: str, user: str) -> StoredProposal:
        """Record that the approved proposal's entry is in the AIS; a repeat changes nothing.

        :class:`WrongStatus` unless the proposal is approved (or posted as this entry).
        """
        with self._writing() as session:
            row = _locked(session, proposal_id)
            if row.status == "posted" and row.ais_entry_id == ais_entry_id:
                return StoredProposal.of(row)
            if row.status != "approved":
                posted = f" as AIS entry {row.ais_entry_id}" if row.status == "posted" else ""
                raise WrongStatus(
                    f"proposal {row.id} is {row.status}{posted}; only an approved proposal "
                    f"is posted (as entry {ais_entry_id})"
                )
            row.status = "posted"
            row.ais_entry_id = ais_entry_id
            _append(
                session,
                row,
                user,
                "post",
                row.scheme,
                row.scheme,
                f"posted to the AIS as entry {ais_entry_id}",
            )
            return StoredProposal.of(row)

    def decisions(self, proposal_id: str) -> builtins.list[StoredDecision]:
        """The proposal's decision log, oldest first."""
        query = (
            select(DecisionRow)
            .where(DecisionRow.proposal_id == proposal_id)
            .order_by(DecisionRow.id)
        )
        with Session(self.engine) as session:
            return [StoredDecision.of(row) for row in session.scalars(query)]

    # ------------------------------------------------------------ claims

    def claim(self, document_ids: Iterable[str], by: str) -> builtins.list[str]:
        """Claim documents for drafting; those newly claimed, in the order given.

        A document is claimed once, whoever asks and however many ask at the same time
        (a unique row per document): the poller hands each new document to one worker.
        """
        ids = builtins.list(dict.fromkeys(document_ids))
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        now = utcnow()
        claimed: set[str] = set()
        # One order for everyone: PostgreSQL makes a concurrent insert of the same key wait
        # for the first, so two pollers inserting in different orders would deadlock.
        ordered = sorted(ids)
        for start in range(0, len(ordered), IN_CHUNK):
            rows = [
                {"document_id": doc, "claimed_by": by, "claimed_at": now}
                for doc in ordered[start : start + IN_CHUNK]
            ]
            statement = (
                dialect_insert(ClaimRow)
                .values(rows)
                .on_conflict_do_nothing(index_elements=[ClaimRow.document_id])
                .returning(ClaimRow.document_id)
            )
            with self._write_engine.begin() as conn:
                claimed.update(conn.execute(statement).scalars())
        return [doc for doc in ids if doc in claimed]

    def reclaim_stale(
        self, document_ids: Iterable[str], older_than: dt.timedelta, by: str
    ) -> builtins.list[str]:
        """Claim anew, for ``by``, those of ``document_ids`` claimed longer than ``older_than``
        ago; those moved, in the order given.

        ``poll_ais`` passes documents still pending without an active proposal: their draft
        task was lost (Redis restarted empty, a worker killed) or waits behind a long
        backlog, where drafting twice stores nothing twice. One statement per chunk moves
        each claim, so of two pollers only one gets it.
        """
        ids = builtins.list(dict.fromkeys(document_ids))
        now = utcnow()
        moved: set[str] = set()
        ordered = sorted(ids)  # one lock order for every poller, as in claim()
        for start in range(0, len(ordered), IN_CHUNK):
            statement = (
                update(ClaimRow)
                .where(
                    ClaimRow.document_id.in_(ordered[start : start + IN_CHUNK]),
                    ClaimRow.claimed_at <= now - older_than,
                )
                .values(claimed_by=by, claimed_at=now)
                .returning(ClaimRow.document_id)
            )
            with self._write_engine.begin() as conn:
                moved.update(conn.execute(statement).scalars())
        return [doc for doc in ids if doc in moved]

    def unclaim(self, document_ids: Iterable[str]) -> int:
        """Let documents be claimed again (a rejected draft to redo, say); how many were."""
        ids = builtins.list(dict.fromkeys(document_ids))
        released = 0
        with self._write_engine.begin() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                result = conn.execute(delete(ClaimRow).where(ClaimRow.document_id.in_(chunk)))
                released += result.rowcount
        return released


def _active(session: Session, document_id: str) -> ProposalRow | None:
    return session.scalars(
        select(ProposalRow).where(
            ProposalRow.document_id == document_id,
            ProposalRow.status.not_in(INACTIVE_STATUSES),
        )
    ).first()


def _locked(session: Session, proposal_id: str) -> ProposalRow:
    """The proposal's row, held until the transaction ends (``FOR UPDATE``; SQLite's
    writing transaction holds the whole database already)."""
    row = session.get(ProposalRow, proposal_id, with_for_update=True)
    if row is None:
        raise ProposalNotFound(f"there is no proposal {proposal_id[:80]!r}")
    return row


def _editors(session: Session, proposal_id: str) -> set[str]:
    query = select(DecisionRow.user_name).where(
        DecisionRow.proposal_id == proposal_id, DecisionRow.action == "edit"
    )
    return set(session.scalars(query))


def _append(
    session: Session,
    row: ProposalRow,
    user: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
) -> StoredDecision:
    now = utcnow()
    row.updated_at = now
    row.sort_keys()
    decision = DecisionRow(
        proposal_id=row.id,
        at=now,
        user_name=user,
        action=action,
        before=before,
        after=after,
        reason=reason,
        backend=row.backend,
        model=row.model,
    )
    session.add(decision)
    session.flush()
    return StoredDecision.of(decision)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise StoreError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
