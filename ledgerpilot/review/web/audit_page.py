"""The auditors' pages: a stored audit run's ranked findings, one finding, its follow-ups.

``/audit`` lists the findings of the newest run (or ``?run=ID``) in score order with their
reasons, filtered by check or by follow-up status; ``/audit/findings/{id}`` shows the
entry's lines and every check's detail, and records a follow-up (explained, needs follow-up
or cleared, with a note) in the signed-in auditor's name. Follow-ups are append-only: the
page shows each one with who and when. Only auditors and admins (the ``audit`` permission)
see these pages. The runs are stored by ``ledgerpilot audit --store`` and the nightly audit
(:mod:`ledgerpilot.review.audit_store`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ..audit_store import OPEN, AuditBook, StoredFinding
from ..errors import NotAllowed, StoreError
from ..models import FOLLOW_UP_STATUSES
from .auth import Principal
from .forms import Auditor, Form, field, redirect
from .site import render, web_of

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
RUNS_LISTED = 30
FOLLOW_UP_LABELS = {
    OPEN: "Open",
    "explained": "Explained",
    "needs_follow_up": "Needs follow-up",
    "cleared": "Cleared",
}
"""The follow-up statuses as the page names them (``open``: nothing recorded yet)."""
NOTICES = {"follow-up": "Follow-up recorded."}
"""Messages shown after a redirect (``?done=...``): fixed texts, never echoed input."""


def _book(request: Request) -> AuditBook:
    return AuditBook(web_of(request).desk.store)


def _int(raw: str | None, default: int | None, low: int, high: int) -> int | None:
    try:
        return min(high, max(low, int(raw))) if raw else default
    except ValueError:
        return default


def _check_label(check: str) -> str:
    return check.replace("_", " ")


@router.get("/audit")
def audit_findings(request: Request, who: Auditor) -> Response:
    """A run's findings by score with their reasons; filters by check and follow-up."""
    params = request.query_params
    book = _book(request)
    runs = book.runs(limit=RUNS_LISTED)
    wanted = _int(params.get("run"), None, 1, 2**31 - 1)
    run = book.run(wanted) if wanted is not None else (runs[0] if runs else None)
    if wanted is not None and run is None:
        raise HTTPException(404, f"there is no audit run {wanted}")
    if run is None:
        return render(request, "audit.html", who, {"run": None, "runs": []}, nav="audit")
    counts = book.check_counts(run.id)
    check = params.get("check", "").strip()[:64] or None
    check = check if check in counts else None
    follow_up = params.get("follow_up", "").strip()
    follow_up_filter = follow_up if follow_up in FOLLOW_UP_LABELS else None
    page_number = _int(params.get("page"), 1, 1, 1_000_000) or 1
    page = book.findings(
        run.id, check=check, follow_up=follow_up_filter, page=page_number, per_page=PER_PAGE
    )
    current = {"run": run.id, "check": check, "follow_up": follow_up_filter, "page": page.page}

    def qs(**changes: Any) -> str:
        merged = {**current, **changes}
        kept = {k: v for k, v in merged.items() if v not in (None, "") and (k, v) != ("page", 1)}
        return f"?{urllib.parse.urlencode(kept)}" if kept else ""

    first = (page.page - 1) * page.per_page + 1
    return render(
        request,
        "audit.html",
        who,
        {
            "run": run,
            "runs": runs,
            "page": page,
            "first": first,
            "last": first + len(page.items) - 1,
            "check_counts": counts,
            "follow_up_counts": book.follow_up_counts(run.id),
            "descriptions": {
                name: str(summary.get("description", ""))
                for name, summary in run.checks.items()
                if isinstance(summary, Mapping)
            },
            "benford": run.checks.get("benford", {}).get("journal"),
            "benford_min": run.checks.get("benford", {}).get("min_count", 0),
            "filters": current,
            "labels": FOLLOW_UP_LABELS,
            "check_label": _check_label,
            "qs": qs,
        },
        nav="audit",
    )


def _finding_page(
    request: Request,
    who: Principal,
    finding: StoredFinding,
    *,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    book = _book(request)
    run = book.run(finding.run_id)
    chart = web_of(request).desk.charts.get()
    lines = []
    debit = credit = Decimal(0)
    for number, ln in enumerate((finding.entry or {}).get("lines", []), start=1):
        account = str(ln.get("account", ""))
        found = chart.get(account)
        line_debit, line_credit = _amount(ln.get("debit")), _amount(ln.get("credit"))
        debit += line_debit
        credit += line_credit
        lines.append(
            {
                "number": number,
                "account": account,
                "account_name": None if found is None else found.name,
                "debit": line_debit,
                "credit": line_credit,
                "description": str(ln.get("description") or ""),
            }
        )
    return render(
        request,
        "audit_finding.html",
        who,
        {
            "f": finding,
            "run": run,
            "entry": finding.entry,
            "lines": lines,
            "totals": {"debit": debit, "credit": credit, "difference": debit - credit},
            "follow_ups": book.follow_ups(finding.id),
            "statuses": FOLLOW_UP_STATUSES,
            "labels": FOLLOW_UP_LABELS,
            "check_label": _check_label,
            "form": form or {"status": "", "note": ""},
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
        nav="audit",
    )


def _amount(value: object) -> Decimal:
    try:
        amount = Decimal(str(value or "0"))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def _finding(request: Request, finding_id: int) -> StoredFinding:
    found = _book(request).finding(finding_id)
    if found is None:
        raise HTTPException(404, f"there is no audit finding {finding_id}")
    return found


@router.get("/audit/findings/{finding_id}")
def audit_finding(
    request: Request, who: Auditor, finding_id: int, done: str | None = None
) -> Response:
    """One finding: the entry's lines, every check's detail, the follow-ups and a form."""
    return _finding_page(
        request, who, _finding(request, finding_id), notice=NOTICES.get(done or "")
    )


@router.post("/audit/findings/{finding_id}/follow-up")
def record_follow_up(request: Request, who: Auditor, finding_id: int, form: Form) -> Response:
    """Record what the auditor did or found about a finding (append-only)."""
    finding = _finding(request, finding_id)
    status, note = field(form, "status", 32), field(form, "note", 4000)
    try:
        _book(request).follow_up(finding.id, user=who.user.name, status=status, note=note)
    except NotAllowed:
        raise  # the app answers 403
    except StoreError as exc:
        return _finding_page(
            request,
            who,
            finding,
            error=str(exc),
            form={"status": status, "note": note},
            status_code=422,
        )
    return redirect(request, f"/audit/findings/{finding.id}", done="follow-up")
