"""The proposal store and the AIS as drafting and settling use them, as protocols.

:class:`ProposalBook` is the part of :class:`~ledgerpilot.review.store.ProposalStore` that
the agent calls, so that ``agent`` never imports ``review`` (the store imports the agent's
types, not the other way round). :class:`DraftingAIS` is what they need of a connector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from ledgerpilot.ledger import ChartOfAccounts, Document, Violation

from .state import DraftAIS, DraftOutcome


class DraftingAIS(DraftAIS, Protocol):
    """What drafting needs of an AIS connector, beyond what the graph needs."""

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts."""
        ...

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """Documents waiting to be posted."""
        ...


class StoredDraft(Protocol):
    """What the agent reads of a stored proposal."""

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
    @property
    def scheme(self) -> dict[str, Any] | None:
        """The posting scheme's JSON as the store holds it (an edit's lines, once edited)."""
        ...

    @property
    def violations(self) -> Sequence[Violation]: ...
    @property
    def document(self) -> dict[str, Any] | None:
        """The document as drafted (interchange JSON), if the draft kept it."""
        ...


class LoggedDecision(Protocol):
    """One entry of a proposal's decision log."""

    @property
    def user(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


class AppliedDecision(Protocol):
    """What the store answers to a reviewer's decision."""

    @property
    def proposal(self) -> StoredDraft:
        """The proposal as it stands after the decision."""
        ...

    @property
    def applied(self) -> bool:
        """False when the store already held this decision and nothing changed."""
        ...


class ProposalBook(Protocol):
    """The proposal store, as the agent uses it (:class:`~ledgerpilot.review.store.ProposalStore`).

    ``edit``, ``approve`` and ``reject`` are a reviewer's decisions: the store checks the
    user's role, segregation of duties and the proposal's status, and raises when it
    refuses. ``record_decision`` and ``mark_posted`` are system actions (an auto-approval
    policy, a posting and its refusal).
    """

    url: str

    def save_draft(self, outcome: DraftOutcome) -> str: ...
    def get(self, proposal_id: str) -> StoredDraft | None: ...
    def active_for(self, document_id: str) -> StoredDraft | None: ...
    def active_among(self, document_ids: Iterable[str]) -> set[str]: ...
    def decisions(self, proposal_id: str) -> Sequence[LoggedDecision]: ...
    def edit(
        self,
        proposal_id: str,
        *,
        user: str,
        scheme: dict[str, Any],
        violations: Sequence[Violation],
        reason: str | None = None,
    ) -> AppliedDecision: ...
    def approve(
        self, proposal_id: str, *, user: str, reason: str | None = None
    ) -> AppliedDecision: ...
    def reject(self, proposal_id: str, *, user: str, reason: str) -> AppliedDecision: ...
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
