"""A proposal's page: the document beside its entry, the decision, the line editor, the log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerpilot.ledger import ChartOfAccounts

from ..errors import NotAllowed, StoreError, WrongStatus
from ..models import StoredDecision, StoredProposal
from ..roles import can
from .auth import Principal
from .decisions import EditRefused
from .forms import Approver, Editor, Form, Viewer, field, fields, notice, redirect
from .site import render, web_of
from .views import (
    DECIDABLE,
    EDITABLE,
    REJECTABLE,
    LineView,
    currency_of,
    document_of,
    line_totals,
    line_views,
    scheme_lines,
    side_amount_lines,
    status_label,
)

router = APIRouter(include_in_schema=False)


def _decision_rows(
    decisions: list[StoredDecision], chart: ChartOfAccounts, currency: str
) -> list[dict[str, Any]]:
    rows = []
    for d in decisions:
        before = _lines_of(d.before)
        after = _lines_of(d.after)
        rows.append(
            {
                "at": d.at,
                "user": d.user,
                "action": d.action,
                "reason": d.reason,
                "backend": d.backend,
                "model": d.model,
                "changes": f"{len(before)} lines → {len(after)} lines",
                "before_lines": line_views(before, chart),
                "before_totals": line_totals(before, currency),
                "after_lines": line_views(after, chart),
                "after_totals": line_totals(after, currency),
            }
        )
    return rows


def _lines_of(scheme: dict[str, Any] | None) -> list[dict[str, Any]]:
    lines = (scheme or {}).get("lines")
    return [ln for ln in lines if isinstance(ln, dict)] if isinstance(lines, list) else []


def _approve_blocked(p: StoredProposal, who: Principal, editors: set[str]) -> str | None:
    if p.violations:
        return "It cannot be approved while it has violations: edit the lines first."
    if not p.scheme:
        return "There are no lines to approve."
    if who.user.name in editors:
        return "You edited these lines: another approver must approve them."
    return None


def proposal_page(
    request: Request,
    who: Principal,
    proposal_id: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    edit_lines: list[LineView] | None = None,
    edit_violations: list[Any] | None = None,
    edit_reason: str | None = None,
) -> Response:
    """A proposal's page: its document beside its entry, the decision, the editor, the log."""
    desk = web_of(request).desk
    p = desk.proposal(proposal_id)
    chart = desk.charts.get()
    currency = currency_of(p)
    lines = scheme_lines(p)
    role = who.user.role
    may_decide = can(role, "decide")
    can_edit = can(role, "edit") and p.status in EDITABLE
    editors = desk.store.editors(p.id) if may_decide and p.status in DECIDABLE else set()
    accounts = [a for a in chart if a.postable] if can_edit else []
    return render(
        request,
        "proposal.html",
        who,
        {
            "p": p,
            "doc": document_of(p),
            "status_label": status_label(p),
            "edited": p.edited,
            "lines": line_views(lines, chart, p.violations),
            "totals": line_totals(lines, currency),
            "explanation": (p.scheme or {}).get("explanation") or "",
            "decisions": _decision_rows(desk.store.decisions(p.id), chart, currency),
            "can_decide": may_decide and p.status in DECIDABLE,
            "can_reject": may_decide and p.status in REJECTABLE,
            "approve_blocked": _approve_blocked(p, who, editors),
            "can_edit": can_edit,
            "edit_open": edit_lines is not None,
            "edit_lines": edit_lines if edit_lines is not None else line_views(lines, chart),
            "edit_violations": edit_violations,
            "edit_reason": edit_reason,
            "accounts": accounts,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
        nav="queue",
    )


@router.get("/proposals/{proposal_id}")
def proposal(request: Request, who: Viewer, proposal_id: str, done: str | None = None) -> Response:
    """A proposal's page."""
    return proposal_page(request, who, proposal_id, notice=notice(done))


def _refused_decision(
    request: Request, who: Principal, proposal_id: str, exc: StoreError
) -> Response:
    """The proposal's page again with why the store refused (403 or 409)."""
    code = 403 if isinstance(exc, NotAllowed) else 409 if isinstance(exc, WrongStatus) else 400
    if code == 403:
        web_of(request).desk.store.log_access(
            who.user.name, request.method, request.url.path, 403, str(exc)
        )
    return proposal_page(request, who, proposal_id, status_code=code, error=str(exc))


@router.post("/proposals/{proposal_id}/approve")
def approve(request: Request, who: Approver, proposal_id: str, form: Form) -> Response:
    """Approve the proposal's lines; the workers are then asked to post them."""
    desk = web_of(request).desk
    desk.proposal(proposal_id)
    try:
        done = desk.approve(proposal_id, who.user.name, field(form, "reason"))
    except (NotAllowed, WrongStatus) as exc:
        return _refused_decision(request, who, proposal_id, exc)
    if not done.result.applied:
        outcome = "unchanged"
    else:
        outcome = "approved" if done.dispatched else "approved-held"
    return redirect(request, f"/proposals/{proposal_id}", done=outcome)


@router.post("/proposals/{proposal_id}/reject")
def reject(request: Request, who: Approver, proposal_id: str, form: Form) -> Response:
    """Reject the proposal with a reason."""
    desk = web_of(request).desk
    desk.proposal(proposal_id)
    reason = field(form, "reason")
    if not reason:
        return proposal_page(
            request, who, proposal_id, status_code=422, error="Say why it is rejected."
        )
    try:
        desk.reject(proposal_id, who.user.name, reason)
    except (NotAllowed, WrongStatus) as exc:
        return _refused_decision(request, who, proposal_id, exc)
    return redirect(request, f"/proposals/{proposal_id}", done="rejected")


@router.post("/proposals/{proposal_id}/edit")
def edit(request: Request, who: Editor, proposal_id: str, form: Form) -> Response:
    """Save edited lines (account, side, amount, description per row)."""
    desk = web_of(request).desk
    p = desk.proposal(proposal_id)
    reason = field(form, "reason")
    try:
        lines = side_amount_lines(
            fields(form, "account", 40),
            fields(form, "side", 10),
            fields(form, "amount", 40),
            fields(form, "description"),
        )
    except ValueError as exc:
        return proposal_page(request, who, proposal_id, status_code=422, error=str(exc))
    submitted = line_views(lines, desk.charts.get())
    try:
        desk.edit(proposal_id, who.user.name, lines, reason)
    except EditRefused as exc:
        return proposal_page(
            request,
            who,
            proposal_id,
            status_code=422,
            error=exc.message[0].upper() + exc.message[1:] + ".",
            edit_lines=submitted,
            edit_violations=exc.checked.violations,
            edit_reason=reason,
        )
    except (NotAllowed, WrongStatus) as exc:
        return _refused_decision(request, who, p.id, exc)
    return redirect(request, f"/proposals/{proposal_id}", done="edited")
