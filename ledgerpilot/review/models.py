"""The proposal store's tables, and the records the store hands out.

``proposals``: one row per drafted proposal, its status, the posting scheme as JSON
(amounts as strings), its violations and evidence, and the checkpointer thread of its
paused graph. At most one *active* proposal (any status but ``rejected``) per document.
``decisions``: the append-only log of what happened to each proposal, by whom, when, with
the scheme before and after; the migrations add triggers that refuse updates and deletes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledgerpilot.ledger import Violation
from ledgerpilot.sqlplumbing import UTCDateTime

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
    )


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
        )

    def as_json(self) -> dict[str, Any]:
        """The proposal as JSON (times in ISO 8601)."""
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
