"""The queue page: filters, counts per status, pages in order of attention, bulk approval."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..models import STATUSES, StoredProposal
from ..queue import QueueFilter
from ..roles import can
from .auth import Principal
from .forms import BulkApprover, Form, Viewer, field, fields
from .site import render, web_of
from .views import status_label

router = APIRouter(include_in_schema=False)

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


class QueueQuery:
    """The queue page's filters, read leniently from the query string (forms send blanks)."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.errors: list[str] = []
        status = params.get("status", "").strip()
        self.status = status if status in STATUSES else None
        self.kind = params.get("kind", "").strip()[:64] or None
        self.partner = params.get("partner", "").strip()[:200] or None
        self.q = params.get("q", "").strip()[:200] or None
        self.min_confidence = self._confidence(params.get("min_confidence"), "from")
        self.max_confidence = self._confidence(params.get("max_confidence"), "to")
        violations = params.get("violations", "")
        self.violations = violations if violations in ("with", "without") else None
        self.page = self._int(params.get("page"), 1, 1, 1_000_000)
        size = self._int(params.get("per_page"), DEFAULT_PAGE_SIZE, 1, max(PAGE_SIZES))
        self.per_page = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE

    def _confidence(self, raw: str | None, which: str) -> float | None:
        if raw is None or not raw.strip():
            return None
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            self.errors.append(
                f"Confidence {which} must be a number from 0 to 1, not {raw[:20]!r}."
            )
            return None
        return value

    @staticmethod
    def _int(raw: str | None, default: int, low: int, high: int) -> int:
        try:
            return min(high, max(low, int(raw or default)))
        except ValueError:
            return default

    def filter(self) -> QueueFilter:
        """The store's filter."""
        return QueueFilter(
            status=self.status,
            kind=self.kind,
            partner=self.partner,
            min_confidence=self.min_confidence,
            max_confidence=self.max_confidence,
            has_violations=None if self.violations is None else self.violations == "with",
            text=self.q,
        )

    def values(self) -> dict[str, Any]:
        """The filters as the page's query string keeps them."""
        return {
            "status": self.status,
            "kind": self.kind,
            "partner": self.partner,
            "min_confidence": self.min_confidence,
            "max_confidence": self.max_confidence,
            "violations": self.violations,
            "q": self.q,
            "per_page": self.per_page,
            "page": self.page,
        }


def _queue_row(p: StoredProposal) -> dict[str, Any]:
    snapshot = p.document or {}
    return {
        "id": p.id,
        "document_id": p.document_id,
        "kind": p.document_kind,
        "partner": p.partner_name,
        "date": snapshot.get("date"),
        "gross": snapshot.get("total_gross"),
        "currency": snapshot.get("currency", ""),
        "confidence": p.confidence,
        "violations": len(p.violations),
        "status": p.status,
        "status_label": status_label(p),
        "backend": p.backend,
        "created_at": p.created_at,
    }


def _queue_page(
    request: Request,
    who: Principal,
    *,
    bulk_result: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    web = web_of(request)
    store = web.desk.store
    query = QueueQuery(request.query_params)
    page = store.queue(query.filter(), sort="attention", page=query.page, per_page=query.per_page)
    if not page.items and page.total and query.page > page.pages:
        page = store.queue(
            query.filter(), sort="attention", page=page.pages, per_page=query.per_page
        )
    counts = store.counts()
    current = query.values()

    def qs(**changes: Any) -> str:
        merged = {**current, **changes}
        kept = {
            k: v
            for k, v in merged.items()
            if v is not None
            and v != ""
            and not (k == "per_page" and v == DEFAULT_PAGE_SIZE)
            and not (k == "page" and v == 1)
        }
        return f"?{urllib.parse.urlencode(kept)}" if kept else ""

    first = (page.page - 1) * page.per_page + 1
    errors = [*query.errors, *([error] if error else [])]
    return render(
        request,
        "queue.html",
        who,
        {
            "page": page,
            "pages": page.pages,
            "first": first,
            "last": first + len(page.items) - 1,
            "rows": [_queue_row(p) for p in page.items],
            "counts": counts,
            "total_all": sum(counts.values()),
            "statuses": STATUSES,
            "kinds": store.kinds(),
            "filters": current,
            "page_sizes": PAGE_SIZES,
            "qs": qs,
            "can_bulk": can(who.user.role, "bulk_approve"),
            "bulk_min_confidence": f"{web.bulk_min_confidence:.2f}",
            "bulk_result": bulk_result,
            "notice": None,
            "error": " ".join(errors) or None,
        },
        status_code=status_code,
        nav="queue",
    )


@router.get("/queue")
def queue(request: Request, who: Viewer) -> Response:
    """The queue: filters, counts per status, a page of proposals in order of attention."""
    return _queue_page(request, who)


@router.post("/queue/approve")
def bulk_approve(request: Request, who: BulkApprover, form: Form) -> Response:
    """Approve the selected proposals, or every proposed one at or above a confidence."""
    raw = field(form, "min_confidence", 20)
    try:
        min_confidence = float(raw)
    except ValueError:
        min_confidence = -1.0
    if not 0.0 <= min_confidence <= 1.0:
        return _queue_page(
            request,
            who,
            error=f"The confidence must be a number from 0 to 1, not {raw!r}.",
            status_code=422,
        )
    if field(form, "mode") == "all":
        ids = None
    else:
        ids = [i for i in fields(form, "id", 64) if i]
        if not ids:
            return _queue_page(
                request, who, error="Select the proposals to approve.", status_code=422
            )
    outcome = web_of(request).desk.bulk_approve(who.user.name, min_confidence, ids)
    result = {
        "approved": outcome.approved,
        "unchanged": outcome.unchanged,
        "refused": [{"id": i, "error": e} for i, e in outcome.refused],
        "more": outcome.more,
    }
    return _queue_page(request, who, bulk_result=result)
