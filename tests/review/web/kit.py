"""What the web tests share: users of every role, proposals saved as drafting saves them,
signed-in clients, and a recorder standing in for the workers' queue.

The recorder replaces only the Celery queue at the edge (``dispatch`` is the app's one
door to it); the store, the AIS connector, validation and the app are all real.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerpilot.agent.state import DraftOutcome
from ledgerpilot.ledger import Document, Violation
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web.auth import SESSION_COOKIE
from tests.agent.drafting_kit import rent_lines, scheme_for

PASSWORD = "correct horse battery"
USERS = {
    "clara": "clerk",
    "alice": "approver",
    "bob": "approver",
    "audrey": "auditor",
    "adam": "admin",
}
"""A user of each role (two approvers, for segregation of duties)."""
BY_ROLE = {"clerk": "clara", "approver": "alice", "auditor": "audrey", "admin": "adam"}

COOKIE_DOMAIN = "testserver.local"
"""Where the test client keeps the cookies the app sets (so that ours replace theirs)."""

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id with the cheapest parameters, so that a test signs in in microseconds."""


def add_users(store: ProposalStore) -> None:
    """Every user of :data:`USERS`, with :data:`PASSWORD`."""
    store.password_hasher = FAST_HASHER
    for name, role in USERS.items():
        store.add_user(name, role, PASSWORD)


@dataclass
class Dispatched:
    """Records what the app asked the workers to do; ``fail`` makes the queue unreachable."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False

    def __call__(self, proposal_id: str, decision: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("the broker at redis://127.0.0.1:1 refused the connection")
        self.calls.append((proposal_id, decision))


def document_json(
    doc_id: str,
    *,
    kind: str = "supplier_invoice",
    partner: str = "Office Rent Ltd",
    net: str = "1000.00",
    tax: str = "250.00",
    gross: str = "1250.00",
    date: str = "2024-03-03",
) -> dict[str, Any]:
    """A document's interchange JSON, as drafting keeps it with the proposal."""
    return Document.from_json(
        {
            "id": doc_id,
            "kind": kind,
            "number": f"No. {doc_id}",
            "date": date,
            "partner": {"id": partner[:8], "name": partner, "vat": "HR12345678901"},
            "currency": "EUR",
            "lines": [{"description": "Office rent", "net": net, "tax_rate": "25", "tax": tax}],
            "total_net": net,
            "total_tax": tax,
            "total_gross": gross,
            "text": "Rent for March",
        }
    ).to_json()


def save_proposal(
    store: ProposalStore,
    doc_id: str,
    *,
    status: str = "proposed",
    confidence: float | None = 0.93,
    lines: list[dict[str, str]] | None = None,
    violations: Sequence[Violation] = (),
    kind: str = "supplier_invoice",
    partner: str = "Office Rent Ltd",
) -> str:
    """Save a drafted proposal for a rent invoice, as drafting does; its id."""
    return store.save_draft(
        DraftOutcome(
            doc_id,
            status,
            backend="memory",
            model="memory:2@2024-02-05",
            confidence=confidence,
            scheme=scheme_for(doc_id, rent_lines() if lines is None else lines),
            violations=tuple(violations),
            evidence=("H-1", "H-2"),
            note="as Office Rent Ltd was posted before",
            document_kind=kind,
            partner_name=partner,
            document=document_json(doc_id, kind=kind, partner=partner),
        )
    )


@dataclass
class Browser:
    """A signed-in client and its session's CSRF token."""

    client: TestClient
    name: str
    csrf: str
    token: str

    def form(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """POST a form with the session's CSRF token, not following redirects."""
        return self.client.post(
            url, data={"csrf_token": self.csrf, **(data or {})}, follow_redirects=False, **kw
        )

    def api(self, url: str, body: Any = None) -> Any:
        """POST JSON with the CSRF header, as the page's script does."""
        return self.client.post(url, json=body, headers={"X-CSRF-Token": self.csrf})


def signed_in(app: FastAPI, store: ProposalStore, name: str) -> Browser:
    """A client with a fresh session of ``name`` (made in the store, as sign-in makes it)."""
    token, csrf = store.create_session(name, app.state.web.gate.session_ttl)
    client = TestClient(app)
    client.cookies.set(SESSION_COOKIE, token, domain=COOKIE_DOMAIN)
    return Browser(client, name, csrf, token)


def login_token(html: str) -> str:
    """The hidden CSRF token of the sign-in form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the sign-in form carries a CSRF token"
    return found.group(1)


def meta_csrf(html: str) -> str:
    """The session's CSRF token as a page hands it to its scripts."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found, "the page carries the session's CSRF token"
    return found.group(1)


def listed_documents(html: str) -> list[str]:
    """The document ids the queue page lists, in order."""
    return re.findall(r'<a href="/proposals/[0-9a-f]{32}">([^<]+)</a>', html)
