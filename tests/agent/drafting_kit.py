"""What the drafting tests share: a tiny company in a real AIS, and scripted backends.

The scripted backends stand in for a model at the edge of the outside world (as the issue
asks): they answer fixed texts, or what a test function computes from the request, and
keep every request they were sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerpilot.agent.backends import BackendUnavailable, DraftRequest, Proposal
from ledgerpilot.connectors import ReferenceAIS, builtin_chart
from ledgerpilot.ledger import Account, AccountType, ChartOfAccounts, Document, parse_scheme

BANK = Account("1014", "Bank", AccountType.ASSET_CASH, role="liquidity")


def small_chart(*extra: Account) -> ChartOfAccounts:
    """Odoo's generic chart with a bank account (and ``extra`` accounts)."""
    return builtin_chart("generic").extended([BANK, *extra])


def rent_invoice(
    doc_id: str,
    date: str,
    *,
    description: str = "Office rent",
    text: str = "",
    net: str = "1000.00",
    tax: str = "250.00",
    gross: str = "1250.00",
    posted: bool = False,
) -> Document:
    """A supplier invoice of Office Rent Ltd at 25% VAT, posted to rent when ``posted``."""
    data: dict[str, Any] = {
        "id": doc_id,
        "kind": "supplier_invoice",
        "number": doc_id,
        "date": date,
        "partner": {"id": "S1", "name": "Office Rent Ltd", "country": "HR"},
        "currency": "EUR",
        "lines": [{"description": description, "net": net, "tax_rate": "25", "tax": tax}],
        "total_net": net,
        "total_tax": tax,
        "total_gross": gross,
        "text": text,
    }
    if posted:
        data["entry"] = {"date": date, "lines": rent_lines(doc_id, net, tax, gross)}
    return Document.from_json(data)


def rent_lines(
    doc_id: str = "", net: str = "1000.00", tax: str = "250.00", gross: str = "1250.00"
) -> list[dict[str, str]]:
    """The right lines for a rent invoice: rent and input VAT against the payable."""
    return [
        {"account": "6120", "debit": net, "credit": "0.00", "description": "Office rent"},
        {"account": "1310", "debit": tax, "credit": "0.00", "description": "Input VAT 25%"},
        {"account": "2110", "debit": "0.00", "credit": gross, "description": "Office Rent Ltd"},
    ]


def scheme_for(doc_id: str, lines: list[dict[str, str]]) -> dict[str, Any]:
    """A posting scheme's JSON for ``doc_id``."""
    return {
        "document": doc_id,
        "kind": "supplier_invoice",
        "explanation": "as last month",
        "lines": lines,
    }


HISTORY = ("H-1", "2024-01-05"), ("H-2", "2024-02-05")


def make_company(
    url: str, pending: Iterable[Document], chart: ChartOfAccounts | None = None
) -> str:
    """An AIS at ``url`` with two posted rent invoices and the ``pending`` documents."""
    with ReferenceAIS.create(url) as ais:
        history = [rent_invoice(i, d, posted=True) for i, d in HISTORY]
        ais.load([*history, *pending], chart=chart or small_chart())
    return url


def sqlite_url(path: Path) -> str:
    """A SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


Answer = str | dict[str, Any] | Callable[[DraftRequest], str | dict[str, Any]]


@dataclass
class ScriptedBackend:
    """Answers its scripted texts in turn (the last one again and again), like a model would.

    An answer is raw text, a scheme's JSON, or a function of the request. Unreadable text
    becomes parse violations, as every real backend reports it.
    """

    answers: list[Answer]
    confidence: float = 0.9
    name: str = "scripted"
    requests: list[DraftRequest] = field(default_factory=list)

    def propose(self, request: DraftRequest) -> Proposal:
        """The next scripted answer, read as a real backend reads a model's reply."""
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if callable(answer):
            answer = answer(request)
        raw = answer if isinstance(answer, str) else json.dumps(answer)
        scheme, found = parse_scheme(raw)
        return Proposal(
            backend=self.name,
            scheme=scheme,
            confidence=self.confidence,
            evidence=tuple(ex.id for ex in request.examples),
            raw=raw,
            parse_violations=tuple(found),
            model="scripted-1",
            note="scripted answer",
        )


@dataclass
class FlakyBackend:
    """Unavailable for the documents in ``down``; else answers the right rent scheme."""

    down: set[str]
    name: str = "flaky"

    def propose(self, request: DraftRequest) -> Proposal:
        """Raise :class:`BackendUnavailable` for documents in ``down``."""
        doc = request.document
        if doc.id in self.down:
            raise BackendUnavailable("model server at 127.0.0.1:1 refused the connection")
        scheme, _ = parse_scheme(scheme_for(doc.id, rent_lines(doc.id)))
        return Proposal(self.name, scheme, 0.9, model="flaky-1")


def right_rent(request: DraftRequest) -> dict[str, Any]:
    """The right rent scheme for the requested document."""
    return scheme_for(request.document.id, rent_lines(request.document.id))


PASSWORD = "a long test password"
REVIEWERS = {"ana": "approver", "bob": "approver", "cleo": "clerk", "dan": "auditor"}
"""The test users: two approvers, a clerk and an auditor."""


def add_reviewers(store: Any) -> None:
    """Create :data:`REVIEWERS` in a proposal store, with their roles."""
    for name, role in REVIEWERS.items():
        store.add_user(name, role, PASSWORD)


def approve(user: str) -> dict[str, Any]:
    """An approval by ``user``, as a reviewer's decision."""
    return {"action": "approve", "user": user, "lines": None, "reason": None}


def edit(user: str, lines: list[dict[str, str]]) -> dict[str, Any]:
    """An edit of the lines by ``user``."""
    return {"action": "edit", "user": user, "lines": lines, "reason": None}


def reject(user: str, reason: str) -> dict[str, Any]:
    """A rejection by ``user``."""
    return {"action": "reject", "user": user, "lines": None, "reason": reason}
