"""The JSON API's request and response bodies (they make its OpenAPI document).

Money is always a string (``"1250.00"``); a JSON number where an amount belongs is refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledgerpilot.ledger import ChartOfAccounts, Violation

from ..models import AccessRecord, StoredDecision, StoredProposal, User
from ..roles import PERMISSIONS
from .decisions import BulkOutcome, Done
from .views import line_views, scheme_lines, status_label

AMOUNT_LENGTH = 40


class ViolationOut(BaseModel):
    """Something wrong with an entry, as a value."""

    code: str = Field(description="A stable code: unbalanced, unknown_account, tax_mismatch, ...")
    message: str
    line: int | None = Field(description="The 1-based line at fault, or null for the entry.")

    @classmethod
    def of(cls, v: Violation) -> ViolationOut:
        """The JSON form of a violation."""
        return cls(code=v.code, message=v.message, line=v.line)


class LineIn(BaseModel):
    """One line of an entry, in the posting-scheme form: an account, a debit or a credit."""

    model_config = ConfigDict(extra="forbid")

    account: str = Field(max_length=40, description="The account code, as in the chart.")
    debit: str = Field("0.00", max_length=AMOUNT_LENGTH, examples=["1250.00"])
    credit: str = Field("0.00", max_length=AMOUNT_LENGTH, examples=["0.00"])
    description: str = Field("", max_length=1000)


class LineOut(BaseModel):
    """A line of an entry with the chart's name of its account."""

    account: str
    account_name: str | None = Field(description="null when the account is not in the chart.")
    debit: str
    credit: str
    description: str


class ProposalOut(BaseModel):
    """A proposal in the queue."""

    id: str
    document_id: str
    kind: str
    partner: str | None
    status: str = Field(
        description="proposed, needs_review, quarantined, approved, rejected or posted"
    )
    status_label: str = Field(description='The status as shown: "approved (edited)", ...')
    edited: bool = Field(description="Whether a person changed the lines.")
    confidence: float | None
    backend: str | None
    model: str | None
    violations: list[ViolationOut]
    evidence: list[str] = Field(description="Ids of the posted documents the draft rests on.")
    note: str
    ais_entry_id: str | None = Field(description="The AIS entry, once posted.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, p: StoredProposal) -> ProposalOut:
        """The JSON form of a stored proposal."""
        return cls(**_proposal_fields(p))


def _proposal_fields(p: StoredProposal) -> dict[str, Any]:
    return {
        "id": p.id,
        "document_id": p.document_id,
        "kind": p.document_kind,
        "partner": p.partner_name,
        "status": p.status,
        "status_label": status_label(p),
        "edited": p.edited,
        "confidence": p.confidence,
        "backend": p.backend,
        "model": p.model,
        "violations": [ViolationOut.of(v) for v in p.violations],
        "evidence": list(p.evidence),
        "note": p.note,
        "ais_entry_id": p.ais_entry_id,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


class DecisionOut(BaseModel):
    """One entry of a proposal's decision log."""

    id: int
    at: dt.datetime
    user: str
    action: str = Field(description="approve, edit, reject, post or quarantine")
    reason: str | None
    before: dict[str, Any] | None = Field(description="The scheme before the decision.")
    after: dict[str, Any] | None = Field(
        description="The scheme after it (an edit's lines, an approval's, a posting's)."
    )
    backend: str | None = Field(description="The backend that drafted the proposal.")
    model: str | None

    @classmethod
    def of(cls, d: StoredDecision) -> DecisionOut:
        """The JSON form of a logged decision (the record's fields, by name)."""
        return cls.model_validate(d, from_attributes=True)


class ProposalDetail(ProposalOut):
    """A proposal with its document, its lines and its decision log."""

    scheme: dict[str, Any] | None = Field(description="The posting scheme, amounts as strings.")
    lines: list[LineOut]
    document: dict[str, Any] | None = Field(
        description="The document as drafted (interchange JSON, amounts as strings)."
    )
    decisions: list[DecisionOut]

    @classmethod
    def build(
        cls, p: StoredProposal, decisions: list[StoredDecision], chart: ChartOfAccounts
    ) -> ProposalDetail:
        """The proposal's full JSON form."""
        return cls(
            **_proposal_fields(p),
            scheme=p.scheme,
            lines=[LineOut(**v.as_json()) for v in line_views(scheme_lines(p), chart)],
            document=p.document,
            decisions=[DecisionOut.of(d) for d in decisions],
        )


class QueueOut(BaseModel):
    """A page of the queue, and how many proposals there are of each status."""

    items: list[ProposalOut]
    total: int = Field(description="Proposals matching the filter, on all pages.")
    page: int
    per_page: int
    pages: int
    counts: dict[str, int] = Field(description="Proposals of each status, unfiltered.")


class CheckIn(BaseModel):
    """Edited lines to check."""

    model_config = ConfigDict(extra="forbid")

    lines: list[LineIn] = Field(max_length=500)


class CheckOut(BaseModel):
    """What validation finds in edited lines; nothing is saved."""

    violations: list[ViolationOut]
    debit: str = Field(description="Total debits.")
    credit: str = Field(description="Total credits.")
    difference: str = Field(description="Debits minus credits.")
    lines: list[LineOut] = Field(
        description="The lines read, with account names (none when they could not be read)."
    )


class EditIn(CheckIn):
    """Edited lines to save (the proposal goes back to review)."""

    reason: str | None = Field(None, max_length=2000)


class ApproveIn(BaseModel):
    """An approval, with an optional note for the log."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000)


class RejectIn(BaseModel):
    """A rejection; the reason is required."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class DecisionResultOut(BaseModel):
    """What a decision did."""

    proposal: ProposalOut
    decision: DecisionOut | None = Field(description="The log entry; null when nothing changed.")
    applied: bool = Field(description="False when the proposal stood so already.")
    dispatched: bool = Field(
        description="Whether the workers were asked to carry it out now (else the sweep or "
        "`ledgerpilot post` will)."
    )

    @classmethod
    def of(cls, done: Done) -> DecisionResultOut:
        """The JSON form of a recorded decision."""
        r = done.result
        return cls(
            proposal=ProposalOut.of(r.proposal),
            decision=None if r.decision is None else DecisionOut.of(r.decision),
            applied=r.applied,
            dispatched=done.dispatched,
        )


class BulkIn(BaseModel):
    """Approve proposals at or above a confidence: the ids given, or every proposed one."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: float = Field(ge=0.0, le=1.0)
    ids: list[str] | None = Field(
        None, max_length=1000, description="Proposal ids; null for every proposed one."
    )


class Refusal(BaseModel):
    """A proposal a bulk approval left alone, and why."""

    id: str
    error: str


class BulkOut(BaseModel):
    """What a bulk approval did."""

    approved: list[str]
    unchanged: list[str] = Field(description="Already approved.")
    refused: list[Refusal]
    more: bool = Field(description="More matched than one request approves; ask again.")

    @classmethod
    def of(cls, outcome: BulkOutcome) -> BulkOut:
        """The JSON form of a bulk approval."""
        return cls(
            approved=outcome.approved,
            unchanged=outcome.unchanged,
            refused=[Refusal(id=i, error=e) for i, e in outcome.refused],
            more=outcome.more,
        )


class WhoAmI(BaseModel):
    """The signed-in user."""

    name: str
    role: str
    via: str = Field(description="session (browser) or token (API token)")
    may: list[str] = Field(description="The actions the role allows.")

    @classmethod
    def of(cls, user: User, via: str) -> WhoAmI:
        """The JSON form of a user."""
        may = [action for action, roles in PERMISSIONS.items() if user.role in roles]
        return cls(name=user.name, role=user.role, via=via, may=may)


class AccessOut(BaseModel):
    """One request in the access log."""

    id: int
    at: dt.datetime
    user: str | None
    method: str
    path: str
    status_code: int
    detail: str

    @classmethod
    def of(cls, r: AccessRecord) -> AccessOut:
        """The JSON form of an access record (the record's fields, by name)."""
        return cls.model_validate(r, from_attributes=True)
