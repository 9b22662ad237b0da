"""The JSON API under ``/api``: the same actions as the pages, for other tools.

Authenticate with ``Authorization: Bearer <api token>`` (no CSRF token needed), or with the
browser's session cookie plus the ``X-CSRF-Token`` header on POSTs. Without either: 401;
with a role that may not: 403; segregation of duties: 403 with the reason; a status that
does not allow the action: 409. Amounts are strings.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from ..models import STATUSES
from ..queue import MAX_PER_PAGE, SORTS, QueueFilter
from .auth import Principal, require
from .decisions import Done, EditRefused
from .schemas import (
    AccessOut,
    ApproveIn,
    BulkIn,
    BulkOut,
    CheckIn,
    CheckOut,
    DecisionResultOut,
    EditIn,
    ProposalDetail,
    ProposalOut,
    QueueOut,
    RejectIn,
    ViolationOut,
    WhoAmI,
)
from .site import web_of

router = APIRouter(
    prefix="/api",
    responses={
        401: {"description": "Not signed in, or the API token is not valid."},
        403: {
            "description": "The role may not do this, the CSRF token is wrong, or "
            "segregation of duties forbids it."
        },
    },
)

Viewer = Annotated[Principal, Depends(require("view"))]
Editor = Annotated[Principal, Depends(require("edit"))]
Approver = Annotated[Principal, Depends(require("decide"))]
BulkApprover = Annotated[Principal, Depends(require("bulk_approve"))]
Auditor = Annotated[Principal, Depends(require("audit"))]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No proposal has this id."}}
DECISION: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"description": "The proposal's status does not allow this."},
}


@router.get("/whoami", response_model=WhoAmI, tags=["users"])
def whoami(who: Viewer) -> WhoAmI:
    """The signed-in user, their role and what it allows."""
    return WhoAmI.of(who.user, who.via)


@router.get("/proposals", response_model=QueueOut, tags=["queue"])
def list_proposals(
    request: Request,
    who: Viewer,
    status: Annotated[str | None, Query(description=f"One of {', '.join(STATUSES)}.")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    partner: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    min_confidence: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    max_confidence: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    has_violations: bool | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the document id or partner name.")
    ] = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORTS)}.")] = "attention",
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> QueueOut:
    """A page of the queue, in order of attention by default, with counts per status."""
    if status is not None and status not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if sort not in SORTS:
        raise HTTPException(422, f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    store = web_of(request).desk.store
    where = QueueFilter(
        status=status,
        kind=kind,
        partner=partner,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        has_violations=has_violations,
        text=q,
    )
    found = store.queue(where, sort=sort, page=page, per_page=per_page)
    return QueueOut(
        items=[ProposalOut.of(p) for p in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        pages=found.pages,
        counts=store.counts(),
    )


@router.get(
    "/proposals/{proposal_id}", response_model=ProposalDetail, responses=NOT_FOUND, tags=["queue"]
)
def get_proposal(request: Request, who: Viewer, proposal_id: str) -> ProposalDetail:
    """A proposal with its document, its lines (with account names) and its decision log."""
    desk = web_of(request).desk
    p = desk.proposal(proposal_id)
    return ProposalDetail.build(p, desk.store.decisions(p.id), desk.charts.get())


@router.post(
    "/proposals/{proposal_id}/check",
    response_model=CheckOut,
    responses=NOT_FOUND,
    tags=["editing"],
)
def check(request: Request, who: Editor, proposal_id: str, body: CheckIn) -> CheckOut:
    """Validate edited lines against the chart and the document; nothing is saved."""
    desk = web_of(request).desk
    checked = desk.check(proposal_id, [ln.model_dump() for ln in body.lines])
    return CheckOut.model_validate(checked.as_json(desk.charts.get()))


@router.post(
    "/proposals/{proposal_id}/edit",
    response_model=DecisionResultOut,
    responses={
        **DECISION,
        422: {"description": "The lines cannot be read, or are unchanged; nothing was saved."},
    },
    tags=["editing"],
)
def edit(request: Request, who: Editor, proposal_id: str, body: EditIn) -> DecisionResultOut:
    """Save edited lines with their violations; the proposal goes back to review."""
    desk = web_of(request).desk
    try:
        result, _ = desk.edit(
            proposal_id, who.user.name, [ln.model_dump() for ln in body.lines], body.reason
        )
    except EditRefused as exc:
        raise HTTPException(
            422,
            {
                "message": exc.message,
                "violations": [ViolationOut.of(v).model_dump() for v in exc.checked.violations],
            },
        ) from None
    return DecisionResultOut.of(Done(result, dispatched=False))


@router.post(
    "/proposals/{proposal_id}/approve",
    response_model=DecisionResultOut,
    responses=DECISION,
    tags=["decisions"],
)
def approve(
    request: Request,
    who: Approver,
    proposal_id: str,
    body: Annotated[ApproveIn | None, Body()] = None,
) -> DecisionResultOut:
    """Approve the proposal's lines (a repeat changes nothing); the workers then post them."""
    done = web_of(request).desk.approve(
        proposal_id, who.user.name, None if body is None else body.reason
    )
    return DecisionResultOut.of(done)


@router.post(
    "/proposals/{proposal_id}/reject",
    response_model=DecisionResultOut,
    responses=DECISION,
    tags=["decisions"],
)
def reject(request: Request, who: Approver, proposal_id: str, body: RejectIn) -> DecisionResultOut:
    """Reject the proposal with a reason; the document may be drafted again."""
    return DecisionResultOut.of(
        web_of(request).desk.reject(proposal_id, who.user.name, body.reason)
    )


@router.post("/proposals/bulk-approve", response_model=BulkOut, tags=["decisions"])
def bulk_approve(request: Request, who: BulkApprover, body: BulkIn) -> BulkOut:
    """Approve the given proposals, or every proposed one, at or above ``min_confidence``."""
    outcome = web_of(request).desk.bulk_approve(who.user.name, body.min_confidence, body.ids)
    return BulkOut.of(outcome)


@router.get("/access-log", response_model=list[AccessOut], tags=["users"])
def access_log(
    request: Request,
    who: Auditor,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AccessOut]:
    """The access log, newest first: refused requests, sign-ins and sign-outs."""
    records = web_of(request).desk.store.access_log(limit=limit, offset=offset)
    return [AccessOut.of(r) for r in records]
