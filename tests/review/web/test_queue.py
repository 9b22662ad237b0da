"""The queue page and the queue API: filters, order of attention, pages, counts, bulk approval."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI

from ledgerpilot.ledger import Violation
from ledgerpilot.review.store import ProposalStore

from .kit import Dispatched, listed_documents, save_proposal, signed_in

UNBALANCED = Violation("unbalanced", "debits 1250.00 and credits 1200.00 differ by 50.00")
TAX = Violation("tax_mismatch", "VAT booked is 0.00, the document's VAT is 250.00")


@pytest.fixture
def ids(store: ProposalStore) -> dict[str, str]:
    """A queue of every kind of proposal: document id -> proposal id."""
    made = {
        "Q-1": save_proposal(store, "Q-1", status="quarantined", confidence=None),
        "R-1": save_proposal(store, "R-1", status="needs_review", violations=[TAX]),
        "R-2": save_proposal(store, "R-2", status="needs_review", violations=[UNBALANCED, TAX]),
        "R-3": save_proposal(store, "R-3", status="needs_review", confidence=0.41),
        "P-1": save_proposal(store, "P-1", confidence=0.99),
        "P-2": save_proposal(store, "P-2", confidence=0.91, kind="bank_payment", partner="Telekom"),
        "P-3": save_proposal(store, "P-3", confidence=0.75),
        "P-4": save_proposal(store, "P-4", confidence=0.96, partner="Telekom d.d."),
    }
    store.approve(made["P-4"], user="alice")
    return made


def test_the_queue_puts_first_what_needs_attention_and_counts_each_status(
    app: FastAPI, store: ProposalStore, ids: dict[str, str]
) -> None:
    page = signed_in(app, store, "clara").client.get("/queue")
    assert page.status_code == 200
    # Quarantined, needs review (more violations, then lower confidence, first), proposed
    # (lower confidence first), approved.
    assert listed_documents(page.text) == ["Q-1", "R-2", "R-1", "R-3", "P-3", "P-2", "P-1", "P-4"]
    counts = dict(re.findall(r'></span>([A-Z][a-z ]+) <span class="count">(\d+)</span>', page.text))
    assert counts == {
        "Proposed": "3",
        "Needs review": "3",
        "Quarantined": "1",
        "Approved": "1",
        "Rejected": "0",
        "Posted": "0",
    }
    assert "Showing 1–8 of 8" in page.text
    assert "bulk-form" in page.text and 'name="id"' not in page.text  # a clerk cannot bulk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=needs_review", ["R-2", "R-1", "R-3"]),
        ("kind=bank_payment", ["P-2"]),
        ("partner=telekom", ["P-2", "P-4"]),
        ("min_confidence=0.9", ["R-1", "R-2", "P-2", "P-1", "P-4"]),
        ("min_confidence=0.5&max_confidence=0.92", ["P-3", "P-2"]),
        ("violations=with", ["R-2", "R-1"]),
        ("violations=without&status=proposed", ["P-3", "P-2", "P-1"]),
        ("q=R-", ["R-2", "R-1", "R-3"]),
    ],
)
def test_the_queue_filters(
    app: FastAPI, store: ProposalStore, ids: dict[str, str], query: str, expected: list[str]
) -> None:
    client = signed_in(app, store, "audrey").client
    listed = listed_documents(client.get(f"/queue?{query}").text)
    assert sorted(listed) == sorted(expected)
    api_query = query.replace("violations=with", "has_violations=true").replace(
        "has_violations=trueout", "has_violations=false"
    )
    found = client.get(f"/api/proposals?{api_query}").json()
    assert sorted(p["document_id"] for p in found["items"]) == sorted(expected)
    assert found["total"] == len(expected)


def test_blank_filters_are_ignored_and_bad_ones_explained(
    app: FastAPI, store: ProposalStore, ids: dict[str, str]
) -> None:
    client = signed_in(app, store, "clara").client
    blank = client.get("/queue?status=&kind=&partner=&min_confidence=&max_confidence=&q=")
    assert len(listed_documents(blank.text)) == 8
    bad = client.get("/queue?min_confidence=high")
    assert bad.status_code == 200
    assert "Confidence from must be a number from 0 to 1" in bad.text
    assert client.get("/api/proposals?min_confidence=1.5").status_code == 422
    assert client.get("/api/proposals?status=pending").status_code == 422


def test_the_queue_comes_a_page_at_a_time(app: FastAPI, store: ProposalStore) -> None:
    for n in range(60):
        save_proposal(store, f"D-{n:02d}", confidence=0.5 + n / 1000)
    client = signed_in(app, store, "clara").client
    first = client.get("/queue?per_page=25")
    assert listed_documents(first.text) == [f"D-{n:02d}" for n in range(25)]
    assert "Showing 1–25 of 60" in first.text and "Page 1 of 3" in first.text
    assert 'href="/queue?per_page=25&amp;page=2" rel="next"' in first.text
    last = client.get("/queue?per_page=25&page=3")
    assert listed_documents(last.text) == [f"D-{n:02d}" for n in range(50, 60)]
    assert "Showing 51–60 of 60" in last.text
    beyond = client.get("/queue?per_page=25&page=9")
    assert listed_documents(beyond.text) == listed_documents(last.text)
    api = client.get("/api/proposals?per_page=25&page=2").json()
    assert (api["total"], api["page"], api["pages"]) == (60, 2, 3)
    assert [p["document_id"] for p in api["items"]] == [f"D-{n:02d}" for n in range(25, 50)]
    assert api["counts"]["proposed"] == 60


def test_bulk_approval_of_everything_proposed_at_or_above_a_confidence(
    app: FastAPI, store: ProposalStore, ids: dict[str, str], dispatched: Dispatched
) -> None:
    alice = signed_in(app, store, "alice")
    assert 'name="id" value="' + ids["P-1"] in alice.client.get("/queue").text
    response = alice.form("/queue/approve", {"mode": "all", "min_confidence": "0.9"})
    assert response.status_code == 200
    assert "2 approved." in response.text
    approved = {ids["P-1"], ids["P-2"]}
    assert {pid for pid, _ in dispatched.calls} == approved
    assert all(d["action"] == "approve" and d["user"] == "alice" for _, d in dispatched.calls)
    for doc, pid in ids.items():
        status = store.get(pid).status  # type: ignore[union-attr]
        if pid in approved or doc == "P-4":
            assert status == "approved"
        else:
            assert status != "approved", doc  # below 0.9, or not proposed: left alone


def test_bulk_approval_of_selected_proposals_refuses_those_below_the_confidence(
    app: FastAPI, store: ProposalStore, ids: dict[str, str], dispatched: Dispatched
) -> None:
    alice = signed_in(app, store, "alice")
    chosen = [ids["P-1"], ids["P-3"], ids["R-2"], ids["P-4"]]
    response = alice.form(
        "/queue/approve", {"mode": "selected", "min_confidence": "0.9", "id": chosen}
    )
    assert response.status_code == 200
    assert "1 approved, 1 already approved, 2 not approved." in response.text
    assert "bulk approval takes 0.90 or above" in response.text  # P-3 at 0.75
    assert "violation" in response.text
    assert [pid for pid, _ in dispatched.calls] == [ids["P-1"]]
    api = alice.api("/api/proposals/bulk-approve", {"min_confidence": 0.7, "ids": [ids["P-3"]]})
    assert api.json() == {"approved": [ids["P-3"]], "unchanged": [], "refused": [], "more": False}
    nothing = alice.form("/queue/approve", {"mode": "selected", "min_confidence": "0.9"})
    assert nothing.status_code == 422 and "Select the proposals" in nothing.text
    bad = alice.form("/queue/approve", {"mode": "all", "min_confidence": "2"})
    assert bad.status_code == 422


def test_only_approvers_bulk_approve(
    app: FastAPI, store: ProposalStore, ids: dict[str, str], dispatched: Dispatched
) -> None:
    for name in ("clara", "audrey", "adam"):
        browser = signed_in(app, store, name)
        response = browser.form("/queue/approve", {"mode": "all", "min_confidence": "0.5"})
        assert response.status_code == 403
        api = browser.api("/api/proposals/bulk-approve", {"min_confidence": 0.5})
        assert api.status_code == 403
    assert dispatched.calls == []
    assert store.counts()["approved"] == 1
