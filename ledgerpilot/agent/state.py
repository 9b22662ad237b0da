"""The drafting graph's state, its runtime context, a reviewer's decision, and a draft's outcome.

The state is what a checkpointer keeps of a paused draft, so it holds only JSON values in
the project's own contract forms (a document's interchange JSON, a posting scheme's JSON,
violations as ``{"code", "message", "line"}``): a draft paused today can be resumed by
tomorrow's code. What the graph *uses* but does not own (the AIS connector, the backend,
the chart, the history recall, the settings) lives apart in :class:`DraftContext`, handed
to every run and never checkpointed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, TypedDict

from ledgerpilot.connectors import PostingResult
from ledgerpilot.ledger import (
    ChartOfAccounts,
    Document,
    JournalEntry,
    PostingScheme,
    Violation,
    parse_scheme,
    quantize,
)

from .backends.base import Backend, Proposal
from .policy import RoutingPolicy

Status = Literal[
    "drafting", "proposed", "needs_review", "quarantined", "approved", "rejected", "posted"
]
"""Where a draft stands: being drafted, waiting for a human (``proposed``, ``needs_review``),
set aside (``quarantined``), decided (``approved``, ``rejected``) or in the AIS (``posted``)."""

Action = Literal["approve", "edit", "reject"]
"""What a reviewer can do with a draft."""

ACTIONS: tuple[Action, ...] = ("approve", "edit", "reject")


class Decision(TypedDict):
    """A reviewer's answer to a draft held at review: ``Command(resume=decision)``."""

    action: Action
    """``approve`` the proposed lines, ``edit`` them (``lines`` replaces them), ``reject``."""
    user: str
    """Who decided: a user name, or the auto-approval policy's name."""
    lines: list[dict[str, str]] | None
    """For ``edit``: the new lines in the posting-scheme form (amounts as strings)."""
    reason: str | None
    """Why (required in spirit for a rejection; kept in the decision log)."""


class ViolationRecord(TypedDict):
    """A :class:`~ledgerpilot.ledger.Violation` as JSON."""

    code: str
    message: str
    line: int | None


class ProposalRecord(TypedDict):
    """A backend's :class:`~.backends.base.Proposal` as JSON (its ``extra`` is not kept)."""

    backend: str
    model: str | None
    confidence: float
    scheme: dict[str, Any] | None
    """The posting scheme's JSON (amounts as strings), ``None`` when nothing usable came."""
    evidence: list[str]
    raw: str
    note: str
    parse_violations: list[ViolationRecord]


class PostingRecord(TypedDict):
    """What posting to the AIS produced."""

    entry_id: str
    """The entry's id in the AIS."""
    created: bool
    """False when the key had already posted it (a retry)."""
    key: str
    """The idempotency key carried into the AIS write (the proposal's id)."""


@dataclass
class DraftState:
    """The state of drafting one document, from loading it to posting its entry."""

    document_id: str
    """The document's id as the AIS gives it."""
    proposal_id: str = ""
    """The proposal's id in the store; also the idempotency key of the AIS posting."""
    document: dict[str, Any] | None = None
    """The document's interchange JSON, once loaded and found consistent."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Similar posted documents (interchange JSON with entries), best first; kept only until
    the proposal is routed, so that paused drafts stay small."""
    evidence: list[str] = field(default_factory=list)
    """Ids of the recalled historical documents."""
    attempts: int = 0
    """Backend calls so far: 1 after the first proposal, 2.. after repairs."""
    proposal: ProposalRecord | None = None
    """The current proposal (the last attempt's, or the reviewer's edit)."""
    violations: list[ViolationRecord] = field(default_factory=list)
    """What is wrong with the current proposal (or with the document, when quarantined)."""
    status: Status = "drafting"
    """Where the draft stands."""
    reason: str = ""
    """Why the draft was quarantined, or why posting failed."""
    decision: Decision | None = None
    """The decision that was applied at review (the last one, when an edit was refused)."""
    posting: PostingRecord | None = None
    """The AIS entry, once posted."""


class Recall(Protocol):
    """Similar posted documents (with entries) for a pending document, best first."""

    def __call__(self, document: Document) -> list[Document]:
        """Recall history for ``document``."""
        ...


def no_recall(document: Document) -> list[Document]:
    """A recall that finds nothing (a backend without history, or a test)."""
    return []


class DraftAIS(Protocol):
    """What the graph needs of an AIS connector (any :class:`~ledgerpilot.connectors.AIS`)."""

    def get_document(self, external_id: str) -> Document | None:
        """The document with this id, or ``None``."""
        ...

    def post_entry(
        self, document_id: str, entry: JournalEntry, key: str, posted_by: str | None = None
    ) -> PostingResult:
        """Post ``entry`` once per ``key``."""
        ...


AUTO_APPROVER = "auto-approval"
"""The user name under which the auto-approval policy's decisions are recorded."""


@dataclass(frozen=True)
class DraftSettings:
    """How the graph drafts: runtime settings, apart from the state."""

    max_repairs: int = 2
    """Repair rounds after the first proposal: the backend sees its violations at most this
    many times."""
    policy: RoutingPolicy = field(default_factory=RoutingPolicy)
    """The routing policy: thresholds for review, and auto-approval (off by default)."""


@dataclass(frozen=True)
class DraftContext:
    """What every node may use, handed to each run (``context=``), never checkpointed."""

    ais: DraftAIS
    """The AIS connector: documents are read from it and entries posted to it."""
    backend: Backend
    """Proposes posting schemes."""
    chart: ChartOfAccounts
    """The company's chart of accounts, read once per drafting run."""
    recall: Recall = no_recall
    """Finds similar posted history for a document."""
    settings: DraftSettings = field(default_factory=DraftSettings)


def new_proposal_id() -> str:
    """A fresh proposal id (32 hex digits): it is also the AIS posting's idempotency key."""
    return uuid.uuid4().hex


# ------------------------------------------------------------ conversions


def violation_records(violations: Iterable[Violation]) -> list[ViolationRecord]:
    """Violations as JSON records."""
    return [{"code": v.code, "message": v.message, "line": v.line} for v in violations]


def violations_of(records: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """JSON records back into violations."""
    return [Violation(str(r["code"]), str(r["message"]), r.get("line")) for r in records]


def scheme_json(scheme: PostingScheme, currency: str) -> dict[str, Any]:
    """The scheme's contract JSON, amounts as strings, *exactly* as proposed.

    An amount with more decimals than ``currency`` allows keeps them (``"10.005"``), so
    that validation still sees and reports it rather than a silently rounded figure.
    """
    out = scheme.to_json(currency)
    for line, raw in zip(out["lines"], scheme.lines, strict=True):
        for side in ("debit", "credit"):
            amount: Decimal = getattr(raw, side)
            if quantize(amount, currency) != amount:
                line[side] = f"{amount:f}"
    return out


def proposal_record(proposal: Proposal, currency: str) -> ProposalRecord:
    """A backend proposal as a JSON record (amounts as strings, in ``currency``)."""
    return {
        "backend": proposal.backend,
        "model": proposal.model,
        "confidence": _unit_interval(proposal.confidence),
        "scheme": None if proposal.scheme is None else scheme_json(proposal.scheme, currency),
        "evidence": list(proposal.evidence),
        "raw": proposal.raw,
        "note": proposal.note,
        "parse_violations": violation_records(proposal.parse_violations),
    }


def proposal_of(record: ProposalRecord) -> Proposal:
    """A JSON record back into a backend proposal (its scheme parsed again)."""
    scheme = None
    if record["scheme"] is not None:
        scheme, _ = parse_scheme(record["scheme"])
    return Proposal(
        backend=record["backend"],
        scheme=scheme,
        confidence=record["confidence"],
        evidence=tuple(record["evidence"]),
        raw=record["raw"],
        parse_violations=tuple(violations_of(record["parse_violations"])),
        model=record["model"],
        note=record["note"],
    )


def _unit_interval(value: float) -> float:
    """A confidence within 0..1; a backend's NaN or infinity is no confidence at all."""
    number = float(value)
    if not math.isfinite(number):
        return 0.0
    return min(1.0, max(0.0, number))


# ------------------------------------------------------------ the outcome of drafting


@dataclass(frozen=True)
class DraftOutcome:
    """What drafting one pending document came to; :meth:`as_json` is the CLI's line."""

    document_id: str
    status: str
    """``proposed``, ``needs_review``, ``quarantined``; ``posted`` (or ``approved`` while
    its posting waits for the AIS) when an auto-approval policy approved it; ``pending``
    when it could not be drafted now (a backend was unavailable) and stays pending for a
    retry, stored nowhere; ``skipped`` when the document is gone from the AIS or posted
    there already, stored nowhere."""
    backend: str | None = None
    model: str | None = None
    confidence: float | None = None
    scheme: dict[str, Any] | None = None
    """The proposed posting scheme's JSON (amounts as strings)."""
    violations: tuple[Violation, ...] = ()
    evidence: tuple[str, ...] = ()
    note: str = ""
    """The backend's word for the accountant, or why the draft was quarantined."""
    attempts: int = 0
    document_kind: str | None = None
    partner_name: str | None = None
    proposal_id: str | None = None
    """The proposal's id in the store, once saved."""
    thread_id: str | None = None
    """The checkpointer thread holding the paused graph."""
    decision: Decision | None = None
    """The decision already applied (an auto-approval), if any."""
    ais_entry_id: str | None = None
    """The AIS entry, when an auto-approval posted it."""
    document: dict[str, Any] | None = None
    """The document as drafted (:meth:`~ledgerpilot.ledger.Document.to_json`), kept with
    the proposal so that reviewers see what the draft was made from."""

    def as_json(self) -> dict[str, Any]:
        """``{"document", "status", "backend", "confidence", "scheme", "violations",
        "evidence", "proposal", "note"}``."""
        return {
            "document": self.document_id,
            "status": self.status,
            "backend": self.backend,
            "confidence": self.confidence,
            "scheme": self.scheme,
            "violations": [v.as_dict() for v in self.violations],
            "evidence": list(self.evidence),
            "proposal": self.proposal_id,
            "note": self.note,
        }
