"""The approval queue: which proposals to show, in what order, a page at a time.

The default order, ``attention``, puts first what most needs a person: quarantined, then
needs review, proposed, approved, then rejected and posted; within a status, more
violations first, lower confidence first, oldest first. It is kept as one number per
proposal (:func:`~ledgerpilot.review.models.attention_of`) with an index beside it, so that
a page of a queue of ten thousand is read from the index, not sorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from .errors import StoreError
from .models import STATUSES, ProposalRow, StoredProposal

SORTS = ("attention", "oldest", "newest")
"""The queue's orders: what needs attention first, or by when the draft was made."""
MAX_PER_PAGE = 1000


@dataclass(frozen=True)
class QueueFilter:
    """Which proposals to show; ``None`` leaves a criterion out."""

    status: str | tuple[str, ...] | None = None
    """One status, or any of several."""
    kind: str | None = None
    """The document kind, exactly (``supplier_invoice``)."""
    partner: str | None = None
    """Text the partner's name contains, in any case."""
    min_confidence: float | None = None
    """Only proposals at least this confident (those without a confidence are left out)."""
    max_confidence: float | None = None
    """Only proposals at most this confident (those without a confidence are kept)."""
    has_violations: bool | None = None
    """Only proposals with violations (True) or without (False)."""
    text: str | None = None
    """Text the document id or the partner's name contains, in any case."""

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions on ``proposals``."""
        found: list[ColumnElement[bool]] = []
        statuses = (self.status,) if isinstance(self.status, str) else self.status
        if statuses is not None:
            for status in statuses:
                if status not in STATUSES:
                    raise StoreError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
            found.append(
                ProposalRow.status == statuses[0]
                if len(statuses) == 1
                else ProposalRow.status.in_(statuses)
            )
        if self.kind is not None:
            found.append(ProposalRow.document_kind == self.kind)
        if self.partner:
            found.append(ProposalRow.partner_name.icontains(self.partner, autoescape=True))
        if self.min_confidence is not None:
            found.append(ProposalRow.confidence >= self.min_confidence)
        if self.max_confidence is not None:
            found.append(
                or_(ProposalRow.confidence.is_(None), ProposalRow.confidence <= self.max_confidence)
            )
        if self.has_violations is not None:
            found.append(
                ProposalRow.violation_count > 0
                if self.has_violations
                else ProposalRow.violation_count == 0
            )
        if self.text:
            found.append(
                or_(
                    ProposalRow.document_id.icontains(self.text, autoescape=True),
                    ProposalRow.partner_name.icontains(self.text, autoescape=True),
                )
            )
        return found


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue."""

    items: list[StoredProposal]
    total: int
    """How many proposals the filter matches, on every page."""
    page: int
    """1-based."""
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the filter's proposals fill (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    def as_json(self) -> dict[str, Any]:
        """The page as JSON."""
        return {
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "proposals": [p.as_json() for p in self.items],
        }


def queue_query(
    where: QueueFilter, sort: str, page: int, per_page: int
) -> tuple[Select[ProposalRow], Select[int]]:
    """The page's query and the query counting every proposal the filter matches."""
    if sort not in SORTS:
        raise StoreError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if page < 1:
        raise StoreError(f"pages count from 1, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise StoreError(f"a page holds 1 to {MAX_PER_PAGE} proposals, not {per_page}")
    conditions = where.conditions()
    order: tuple[Any, ...]
    if sort == "attention":
        order = (ProposalRow.attention, ProposalRow.created_at, ProposalRow.id)
    elif sort == "oldest":
        order = (ProposalRow.created_at, ProposalRow.id)
    else:
        order = (ProposalRow.created_at.desc(), ProposalRow.id.desc())
    rows = (
        select(ProposalRow)
        .where(*conditions)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return rows, select(func.count()).select_from(ProposalRow).where(*conditions)
