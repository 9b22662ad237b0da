"""What the store tests share: a drafted outcome as drafting makes them, and the people."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher

from ledgerpilot.agent.state import DraftOutcome
from ledgerpilot.ledger import Violation
from ledgerpilot.review.store import ProposalStore

SCHEME: dict[str, Any] = {
    "document": "SI-1",
    "kind": "supplier_invoice",
    "explanation": "as last month",
    "lines": [
        {"account": "6120", "debit": "1000.00", "credit": "0.00", "description": "Rent"},
        {"account": "2110", "debit": "0.00", "credit": "1000.00", "description": "Rent"},
    ],
}
TAX_MISMATCH = Violation("tax_mismatch", "VAT booked is 0.00, the document's VAT is 250.00")
DOCUMENT: dict[str, Any] = {"id": "SI-1", "kind": "supplier_invoice", "gross": "1000.00"}
PASSWORD = "correct horse battery"

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
"""argon2id still, with small costs: the tests sign people in often."""
PEOPLE = {
    "carl": "clerk",
    "ana": "approver",
    "bob": "approver",
    "aud": "auditor",
    "adm": "admin",
}
"""A user of every role, and a second approver for segregation of duties."""


def outcome(document: str = "SI-1", status: str = "proposed", **fields: Any) -> DraftOutcome:
    """A drafted outcome as draft_pending makes them (one violation unless told)."""
    values: dict[str, Any] = {
        "backend": "memory",
        "model": "memory:800@2025-12-31",
        "confidence": 0.93,
        "scheme": SCHEME,
        "violations": (TAX_MISMATCH,),
        "evidence": ("SI-0",),
        "note": "as Office Rent Ltd was posted before",
        "document_kind": "supplier_invoice",
        "partner_name": "Office Rent Ltd",
        "thread_id": f"draft:{document}:x",
        "document": {**DOCUMENT, "id": document},
    }
    values.update(fields)
    return DraftOutcome(document, status, **values)


def clean(document: str = "SI-1", **fields: Any) -> DraftOutcome:
    """A drafted outcome without violations, ready to approve."""
    return outcome(document, violations=(), **fields)


def add_people(store: ProposalStore) -> None:
    """Give the store a user of every role (:data:`PEOPLE`), password :data:`PASSWORD`."""
    for name, role in PEOPLE.items():
        store.add_user(name, role, PASSWORD)
