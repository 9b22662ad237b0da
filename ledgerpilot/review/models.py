"""The proposal store's tables, and the records the store hands out.

``proposals``: one row per drafted proposal, its status, the posting scheme as JSON
(amounts as strings), its violations and evidence, the document it was drafted from, and
the checkpointer thread of its paused graph. At most one *active* proposal (any status but
``rejected``) per document.
``decisions``: the append-only log of what happened to each proposal, by whom, when, with
the scheme before and after; the migrations add triggers that refuse updates and deletes.
``users``, ``sessions``, ``api_tokens``: who may sign in, and the hashes (never the tokens)
of their sessions and API tokens. ``access_log``: every request answered, append-only like
the decision log. ``claims``: the documents already handed to a drafting worker.
``audit_runs``, ``audit_findings``, ``audit_reasons``, ``audit_follow_ups``: what each audit
run found, and what auditors recorded about it (append-only, like the decision log).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from ledgerpilot.ledger import Violation
from ledgerpilot.sqlplumbing import UTCDateTime

from .roles import ROLES, can

STATUSES = ("proposed", "needs_review", "quarantined", "approved", "rejected", "posted")
"""Every status a proposal can have."""
INACTIVE_STATUSES = ("rejected",)
"""Statuses of proposals that no longer stand for their document (it may be drafted again)."""
ACTIONS = ("approve", "edit", "reject", "post", "quarantine")
"""What the decision log records: a reviewer's decision, or what became of it."""

KEY_LENGTH = 200
"""Longest AIS id (of a document or an entry) stored, as in the reference AIS."""
ID_LENGTH = 32
"""A proposal id: 32 hex digits."""
NAME_LENGTH = 64
"""Longest user name."""
HASH_LENGTH = 64
"""A SHA-256 digest in hex: how sessions and API tokens are kept."""

ATTENTION_RANK = {
    "quarantined": 0,
    "needs_review": 1,
    "proposed": 2,
    "approved": 3,
    "rejected": 4,
    "posted": 4,
}
"""The queue's order of statuses: what needs a person most comes first."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

JsonValue = JSON().with_variant(JSONB(), "postgresql")
"""JSON text on SQLite, ``jsonb`` on PostgreSQL."""


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


ACTIVE_WHERE = text(f"status NOT IN ({_quoted(INACTIVE_STATUSES)})")
"""The rows that count as a document's active proposal (a partial unique index)."""


class Base(DeclarativeBase):
    """Declarative base of the proposal store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProposalRow(Base):
    """A drafted proposal for one document."""

    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    document_kind: Mapped[str] = mapped_column(String(64))
    partner_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    backend: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    scheme: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    violations: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    evidence: Mapped[list[str]] = mapped_column(JsonValue)
    note: Mapped[str] = mapped_column(Text)
    thread_id: Mapped[str | None] = mapped_column(Text)
    ais_entry_id: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    document: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    """The document as drafted (``Document.to_json()``), for the reviewers' page."""
    edited: Mapped[bool] = mapped_column(Boolean)
    """Whether a person changed the lines (an ``edit`` is in the log)."""
    violation_count: Mapped[int] = mapped_column(Integer)
    attention: Mapped[int] = mapped_column(BigInteger)
    """The queue's order as one number (:func:`attention_of`), so that an index serves it."""

    __table_args__ = (
        CheckConstraint(f"status IN ({_quoted(STATUSES)})", name="status"),
        Index(
            "uq_proposals_active_document",
            "document_id",
            unique=True,
            sqlite_where=ACTIVE_WHERE,
            postgresql_where=ACTIVE_WHERE,
        ),
        Index("ix_proposals_document_id", "document_id", "created_at"),
        Index("ix_proposals_status", "status", "created_at"),
        Index("ix_proposals_attention", "attention", "created_at", "id"),
        Index("ix_proposals_status_attention", "status", "attention", "created_at", "id"),
        Index("ix_proposals_kind_attention", "document_kind", "attention", "created_at", "id"),
        Index("ix_proposals_created_at", "created_at", "id"),
    )

    def sort_keys(self) -> None:
        """Set :attr:`violation_count` and :attr:`attention` from the status, violations and
        confidence; the store calls it on every write."""
        self.violation_count = len(self.violations)
        self.attention = attention_of(self.status, self.violation_count, self.confidence)


def attention_of(status: str, violation_count: int, confidence: float | None) -> int:
    """The queue's order of a proposal as one number, smallest first.

    By status (:data:`ATTENTION_RANK`), then more violations first, then lower confidence
    first (none at all before any), as the digits ``S VVV CCCCCCC``: one index on this
    number and the creation time serves the whole order on SQLite and PostgreSQL alike.
    """
    violations = 999 - min(max(violation_count, 0), 999)
    sure = 0 if confidence is None else 1 + round(min(max(confidence, 0.0), 1.0) * 1_000_000)
    return ATTENTION_RANK[status] * 10**10 + violations * 10**7 + sure


class DecisionRow(Base):
    """One entry of the append-only decision log."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    user_name: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    reason: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"action IN ({_quoted(ACTIONS)})", name="action"),
        Index("ix_decisions_proposal_id", "proposal_id", "id"),
    )


class UserRow(Base):
    """Someone who may sign in, with one role."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    """An argon2id hash in PHC form (``$argon2id$v=19$...``)."""
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (CheckConstraint(f"role IN ({_quoted(ROLES)})", name="role"),)


class SessionRow(Base):
    """A signed-in browser session; the cookie's token is kept only as its SHA-256."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"))
    csrf_token: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_sessions_user_name", "user_name"),
        Index("ix_sessions_expires_at", "expires_at"),
    )


class ApiTokenRow(Base):
    """A token for the JSON API; kept only as its SHA-256."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"))
    label: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_api_tokens_user_name", "user_name"),)


class AccessRow(Base):
    """One request answered, in the append-only access log."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    user_name: Mapped[str | None] = mapped_column(Text)
    """Who was signed in, or ``None`` for an anonymous request."""
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)


class ClaimRow(Base):
    """A document handed to a drafting worker, so that it is handed over once."""

    __tablename__ = "claims"

    document_id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(Text)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


metadata = Base.metadata


# ------------------------------------------------------------ records handed out


@dataclass(frozen=True)
class StoredProposal:
    """A proposal as the store holds it."""

    id: str
    document_id: str
    document_kind: str
    partner_name: str | None
    status: str
    backend: str | None
    model: str | None
    confidence: float | None
    scheme: dict[str, Any] | None
    """The posting scheme's JSON, amounts as strings."""
    violations: tuple[Violation, ...]
    evidence: tuple[str, ...]
    note: str
    thread_id: str | None
    ais_entry_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    document: dict[str, Any] | None = None
    """The document as drafted (``Document.to_json()`` form), or ``None`` when not kept."""
    edited: bool = False
    """Whether a person changed the lines: approved and edited is "edited and approved"."""

    @classmethod
    def of(cls, row: ProposalRow) -> StoredProposal:
        """The record of a row."""
        return cls(
            id=row.id,
            document_id=row.document_id,
            document_kind=row.document_kind,
            partner_name=row.partner_name,
            status=row.status,
            backend=row.backend,
            model=row.model,
            confidence=row.confidence,
            scheme=row.scheme,
            violations=tuple(
                Violation(str(v["code"]), str(v["message"]), v.get("line")) for v in row.violations
            ),
            evidence=tuple(row.evidence),
            note=row.note,
            thread_id=row.thread_id,
            ais_entry_id=row.ais_entry_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            document=row.document,
            edited=row.edited,
        )

    def as_json(self) -> dict[str, Any]:
        """The proposal as JSON (times in ISO 8601); ``document`` is the document's id and
        ``source`` the document as drafted."""
        return {
            "id": self.id,
            "document": self.document_id,
            "kind": self.document_kind,
            "partner": self.partner_name,
            "status": self.status,
            "backend": self.backend,
            "model": self.model,
            "confidence": self.confidence,
            "scheme": self.scheme,
            "violations": [v.as_dict() for v in self.violations],
            "evidence": list(self.evidence),
            "note": self.note,
            "thread_id": self.thread_id,
            "ais_entry_id": self.ais_entry_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "edited": self.edited,
            "source": self.document,
        }


@dataclass(frozen=True)
class StoredDecision:
    """One entry of the decision log."""

    id: int
    proposal_id: str
    at: dt.datetime
    user: str
    action: str
    before: dict[str, Any] | None
    """The scheme before the decision."""
    after: dict[str, Any] | None
    """The scheme after it (an edit's new lines), or what it produced (a posting's entry)."""
    reason: str | None
    backend: str | None
    """The backend that drafted the proposal."""
    model: str | None
    """The model (or index version) that drafted it."""

    @classmethod
    def of(cls, row: DecisionRow) -> StoredDecision:
        """The record of a row."""
        return cls(
            id=row.id,
            proposal_id=row.proposal_id,
            at=row.at,
            user=row.user_name,
            action=row.action,
            before=row.before,
            after=row.after,
            reason=row.reason,
            backend=row.backend,
            model=row.model,
        )

    def as_json(self) -> dict[str, Any]:
        """The decision as JSON."""
        return {
            "id": self.id,
            "proposal": self.proposal_id,
            "at": self.at.isoformat(),
            "user": self.user,
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "backend": self.backend,
            "model": self.model,
        }


@dataclass(frozen=True)
class DecisionResult:
    """What a reviewer's decision did."""

    proposal: StoredProposal
    """The proposal as it stands after the decision."""
    decision: StoredDecision | None
    """The log entry the decision appended, or ``None`` when it changed nothing."""
    applied: bool
    """False when the proposal stood so already (approving an approved proposal, say)."""


@dataclass(frozen=True)
class User:
    """Someone who may sign in (never their password or its hash)."""

    name: str
    role: str
    """One of :data:`~ledgerpilot.review.roles.ROLES`."""
    active: bool
    """An inactive user cannot sign in, use a token or decide anything."""
    created_at: dt.datetime

    @classmethod
    def of(cls, row: UserRow) -> User:
        """The record of a row."""
        return cls(name=row.name, role=row.role, active=row.active, created_at=row.created_at)

    def can(self, action: str) -> bool:
        """Whether this user, active and in this role, may do ``action``."""
        return self.active and can(self.role, action)


@dataclass(frozen=True)
class AccessRecord:
    """One request in the access log."""

    id: int
    at: dt.datetime
    user: str | None
    method: str
    path: str
    status_code: int
    detail: str

    @classmethod
    def of(cls, row: AccessRow) -> AccessRecord:
        """The record of a row."""
        return cls(
            id=row.id,
            at=row.at,
            user=row.user_name,
            method=row.method,
            path=row.path,
            status_code=row.status_code,
            detail=row.detail,
        )


# ------------------------------------------------------------ audit runs and follow-ups

FOLLOW_UP_STATUSES = ("explained", "needs_follow_up", "cleared")
"""What an auditor records about a finding: explained (a legitimate reason was found and
noted), needs follow-up (ask someone, get evidence), cleared (tested, nothing wrong)."""
AUDIT_SOURCES = ("command", "nightly")
"""Where a stored audit run came from: ``ledgerpilot audit --store`` or the nightly task."""


class Amount(TypeDecorator[Decimal]):
    """An exact amount: ``NUMERIC(20, 4)``, or the decimal's text on SQLite (whose NUMERIC
    would keep a float)."""

    impl = Numeric
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(precision=20, scale=4, asdecimal=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"an amount is a Decimal, not a {type(value).__name__}")
        return f"{value:f}" if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class AuditRunRow(Base):
    """One audit of the journal: the period, how much was read, a summary per check."""

    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))
    ais: Mapped[str] = mapped_column(Text)
    """The AIS audited (its URL without a password): follow-ups carry over by AIS and entry."""
    period_from: Mapped[dt.date | None] = mapped_column(Date)
    period_to: Mapped[dt.date | None] = mapped_column(Date)
    entries_scanned: Mapped[int] = mapped_column(Integer)
    finding_count: Mapped[int] = mapped_column(Integer)
    checks: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    """Per check: entries it fired on, its description and weight; Benford's verdicts."""
    report_dir: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"source IN ({_quoted(AUDIT_SOURCES)})", name="source"),
        Index("ix_audit_runs_created_at", "created_at", "id"),
    )


class AuditFindingRow(Base):
    """One journal entry a run flagged, at its rank, with the entry as it stood."""

    __tablename__ = "audit_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"))
    rank: Mapped[int] = mapped_column(Integer)
    """1 for the highest score: the run's order."""
    entry_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    document_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    date: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[float] = mapped_column(Float)
    amount: Mapped[Decimal] = mapped_column(Amount())
    partner: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    posted_by: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    entry: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    """The entry's lines (amounts as strings), description, user and posting time, as the
    run read them; ``None`` when the run did not keep them."""

    __table_args__ = (
        Index("ix_audit_findings_run_id", "run_id", "rank"),
        Index("ix_audit_findings_entry_id", "entry_id"),
    )


class AuditReasonRow(Base):
    """One check that fired on a finding, and why."""

    __tablename__ = "audit_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("audit_findings.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"))
    """The finding's run, so that a run's findings are filtered and counted by check."""
    position: Mapped[int] = mapped_column(Integer)
    check_name: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    weight: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_audit_reasons_finding_id", "finding_id", "position"),
        Index("ix_audit_reasons_run_id", "run_id", "check_name", "finding_id"),
    )


class AuditFollowUpRow(Base):
    """What an auditor recorded about a finding: append-only, with who and when."""

    __tablename__ = "audit_follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("audit_findings.id"))
    ais: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    """The finding's AIS and entry: a later run flagging the entry again shows this too."""
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    user_name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"status IN ({_quoted(FOLLOW_UP_STATUSES)})", name="status"),
        Index("ix_audit_follow_ups_entry_id", "entry_id", "id"),
        Index("ix_audit_follow_ups_finding_id", "finding_id", "id"),
    )
