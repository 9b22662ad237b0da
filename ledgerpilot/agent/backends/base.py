"""The one interface every posting backend implements.

A backend receives a :class:`DraftRequest` (the document, the chart, similar posted documents
recalled from history, and on a repair round the violations of its previous answer) and
returns a :class:`Proposal`. A backend never raises for a bad answer: an unreadable model
reply is a proposal without a scheme whose ``parse_violations`` say why, so that the graph's
repair loop can send them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ...ledger import ChartOfAccounts, Document, PostingScheme, Violation


@dataclass(frozen=True)
class DraftRequest:
    """What a backend is asked: post this document."""

    document: Document
    """The pending document (``entry`` is ``None``)."""
    chart: ChartOfAccounts
    """The company's chart of accounts."""
    examples: tuple[Document, ...] = ()
    """Similar posted documents (with their entries) recalled from history, best first."""
    feedback: tuple[Violation, ...] = ()
    """Violations of the previous attempt, on a repair round."""
    previous: str | None = None
    """The previous attempt's answer as the backend gave it, on a repair round."""
    attempt: int = 1
    """1 for the first proposal, 2.. for repairs."""


@dataclass(frozen=True)
class Proposal:
    """A backend's answer for one document."""

    backend: str
    """The backend's name: ``memory``, ``llm``, ``local``."""
    scheme: PostingScheme | None
    """The proposed posting scheme, ``None`` when nothing usable came back."""
    confidence: float
    """0..1: how sure the backend is; the routing policy compares it with thresholds."""
    evidence: tuple[str, ...] = ()
    """Ids of the historical documents the proposal rests on."""
    raw: str = ""
    """The answer exactly as the backend produced it (model text), for the audit trail."""
    parse_violations: tuple[Violation, ...] = ()
    """Why the answer could not be read as a scheme, if it could not."""
    model: str | None = None
    """Which model, adapter or index version produced it."""
    note: str = ""
    """A short word for the accountant: what the proposal is based on, or why there is none."""
    extra: dict[str, object] = field(default_factory=dict)
    """Backend-specific details (timings, token counts) for reports, never for decisions."""


@runtime_checkable
class Backend(Protocol):
    """Anything that proposes posting schemes."""

    name: str
    # A backend may also set ``recalls_itself = True`` when it recalls history from its own
    # index (memory, auto): the graph then leaves ``DraftRequest.examples`` empty for it.

    def propose(self, request: DraftRequest) -> Proposal:
        """A proposal for ``request.document``; never raises for a bad answer."""
        ...


class BackendUnavailable(RuntimeError):
    """The backend cannot answer now (model server down, timeout); the caller may retry."""
