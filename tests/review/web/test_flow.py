"""From drafting to the AIS through the web: drafts made by the real drafting code, decided
in the browser, carried out by the agent (the workers' ``decide``, called in process), and
the approve flow once on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.drafting import draft_pending
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.agent.settling import decide
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web import create_app
from tests.agent.drafting_kit import make_company, rent_invoice, sqlite_url

from .kit import add_users, signed_in

INBOX = [rent_invoice("SI-3", "2024-03-03"), rent_invoice("SI-4", "2024-04-03")]


def memory(ais: Any) -> MemoryBackend:
    """The memory backend over the AIS's history."""
    return MemoryBackend(HistoryIndex.build(ais.history(), ais.chart()))


@pytest.fixture
def company(tmp_path: Path) -> Iterator[ReferenceAIS]:
    """A fresh AIS with two pending rent invoices (posting changes it)."""
    with ReferenceAIS(make_company(sqlite_url(tmp_path / "ais.sqlite"), INBOX)) as ais:
        yield ais


def drafted_app(ais: ReferenceAIS, store: ProposalStore) -> tuple[FastAPI, dict[str, str]]:
    """Draft the inbox into the store; the app whose dispatch carries decisions out at once."""
    add_users(store)
    outcomes = {o.document_id: o for o in draft_pending(ais, store, memory)}
    assert {d: o.status for d, o in outcomes.items()} == {"SI-3": "proposed", "SI-4": "proposed"}

    def carry_out(proposal_id: str, decision: dict[str, Any]) -> None:
        decide(store, ais, proposal_id, decision)

    app = create_app(store, ais, carry_out, secure_cookies=False)
    return app, {d: str(o.proposal_id) for d, o in outcomes.items()}


def approve_and_post(app: FastAPI, store: ProposalStore, ais: ReferenceAIS, pid: str) -> None:
    alice = signed_in(app, store, "alice")
    response = alice.form(f"/proposals/{pid}/approve")
    assert response.headers["location"] == f"/proposals/{pid}?done=approved"
    stored = store.get(pid)
    assert stored is not None and stored.status == "posted" and stored.ais_entry_id
    document = ais.get_document(stored.document_id)
    assert document is not None and document.entry is not None
    assert [(ln.account, ln.debit, ln.credit) for ln in document.entry.lines] == [
        (ln["account"], *(_decimal(ln[s]) for s in ("debit", "credit")))
        for ln in stored.scheme["lines"]  # type: ignore[index]
    ]
    page = alice.client.get(f"/proposals/{pid}").text
    label = "posted (edited)" if stored.edited else "posted"
    assert f'id="status">{label}<' in page
    assert f'id="ais-entry">{stored.ais_entry_id}<' in page


def _decimal(text: str) -> Decimal:
    return Decimal(text)


def test_drafted_proposals_are_reviewed_and_posted_through_the_web(
    company: ReferenceAIS, tmp_path: Path
) -> None:
    with ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as store:
        app, ids = drafted_app(company, store)
        clara = signed_in(app, store, "clara")
        queue = clara.client.get("/queue").text
        assert re.findall(r">(SI-\d)</a>", queue) == ["SI-3", "SI-4"]
        page = clara.client.get(f"/proposals/{ids['SI-3']}").text
        assert "Office Rent Ltd" in page and "H-1" in page and "H-2" in page  # evidence
        approve_and_post(app, store, company, ids["SI-3"])
        # Edited by a clerk, approved by an approver: the edited lines reach the AIS.
        split = {
            "account": ["6120", "6120", "1310", "2110"],
            "side": ["debit", "debit", "debit", "credit"],
            "amount": ["900.00", "100.00", "250.00", "1250.00"],
            "description": ["Office rent", "Service charge", "Input VAT 25%", "Office Rent Ltd"],
        }
        assert clara.form(f"/proposals/{ids['SI-4']}/edit", split).status_code == 303
        approve_and_post(app, store, company, ids["SI-4"])
        entry = company.get_document("SI-4").entry  # type: ignore[union-attr]
        assert entry is not None and len(entry.lines) == 4
        assert company.pending_documents() == []


@pytest.mark.postgres
def test_the_approve_flow_on_postgresql(company: ReferenceAIS, fresh_postgres_url: str) -> None:
    with ProposalStore.create(fresh_postgres_url) as store:
        app, ids = drafted_app(company, store)
        approve_and_post(app, store, company, ids["SI-3"])
        bob = signed_in(app, store, "bob")
        refused = bob.form(f"/proposals/{ids['SI-4']}/approve", {"csrf_token": "forged"})
        assert refused.status_code == 403
        assert store.get(ids["SI-4"]).status == "proposed"  # type: ignore[union-attr]
        assert store.access_log(limit=1)[0].status_code == 403
