"""The proposal store: drafted proposals and the decision log, on SQLite or PostgreSQL.

``ProposalStore.create(url)`` makes (or upgrades) the store; ``ProposalStore(url)`` opens
one. Drafting saves each document's proposal once (:meth:`~ProposalStore.save_draft` is
idempotent per document); every decision and posting appends to the log and moves the
proposal's status in the same transaction.
"""

from __future__ import annotations

import builtins
import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from ledgerpilot.agent.state import DraftOutcome, new_proposal_id
from ledgerpilot.ledger import Violation

from .migrations import current_revision, head_revision, upgrade
from .models import (
    ACTIONS,
    INACTIVE_STATUSES,
    STATUSES,
    DecisionRow,
    ProposalRow,
    StoredDecision,
    StoredProposal,
)

SQLITE_BUSY_TIMEOUT_S = 30.0
DRAFT_STATUSES = ("proposed", "needs_review", "quarantined")
"""The statuses a freshly drafted proposal is saved with."""
IN_CHUNK = 500
"""Ids per ``IN (...)`` list, well below every database's limit on bound parameters."""


class StoreError(Exception):
    """Something the store cannot do; the message says why."""


class ProposalNotFound(StoreError):
    """There is no proposal with this id."""


class StoreNotReady(StoreError):
    """The database holds no proposal store, or an older revision of it."""


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


class ProposalStore:
    """The proposals and decisions at a SQLAlchemy URL (``sqlite:///PATH`` or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._write_engine = self.engine.execution_options(store_write=True)

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

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> ProposalStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ProposalStore({self.display_url!r})"

    # ------------------------------------------------------------ drafts

    def save_draft(self, outcome: DraftOutcome) -> str:
        """Store a drafted proposal; the id of the document's active proposal.

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
        ids = list(dict.fromkeys(document_ids))
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

    # ------------------------------------------------------------ the decision log

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

        ``before`` is the proposal's scheme as it stood. An ``edit`` replaces it with
        ``scheme`` (its ``after``); an approval keeps it; a rejection or a quarantine leaves
        nothing after. ``violations``, when given, replace the proposal's.
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
        """Record that the proposal's entry is in the AIS; a repeat changes nothing."""
        with self._writing() as session:
            row = _locked(session, proposal_id)
            if row.status == "posted" and row.ais_entry_id == ais_entry_id:
                return StoredProposal.of(row)
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

    # ------------------------------------------------------------ helpers

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A session whose transaction commits on success (SQLite: a write lock at once)."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session


def _active(session: Session, document_id: str) -> ProposalRow | None:
    return session.scalars(
        select(ProposalRow).where(
            ProposalRow.document_id == document_id,
            ProposalRow.status.not_in(INACTIVE_STATUSES),
        )
    ).first()


def _locked(session: Session, proposal_id: str) -> ProposalRow:
    row = session.get(ProposalRow, proposal_id, with_for_update=True)
    if row is None:
        raise ProposalNotFound(f"there is no proposal {proposal_id[:80]!r}")
    return row


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


# ------------------------------------------------------------ engines


def _make_engine(url: str) -> Engine:
    """An engine for the store; SQLite gets WAL, a busy timeout and real transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )

    @event.listens_for(engine, "connect")
    def on_connect(connection: sqlite3.Connection, record: object) -> None:
        # Transactions are begun by on_begin, not implicitly by the driver.
        connection.isolation_level = None
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # A write takes the lock at once, so that its read-then-write cannot be overtaken.
        write = conn.get_execution_options().get("store_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
