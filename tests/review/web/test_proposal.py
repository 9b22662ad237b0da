"""The proposal page: the document beside its entry, live validation of edits, approving,
rejecting, segregation of duties, and what the workers are asked to do."""

from __future__ import annotations

import re

from fastapi import FastAPI

from ledgerpilot.ledger import Violation
from ledgerpilot.review.store import ProposalStore
from tests.agent.drafting_kit import rent_lines

from .kit import Dispatched, save_proposal, signed_in

UNBALANCED = [
    {"account": "6120", "debit": "1000.00", "credit": "0.00", "description": "Office rent"},
    {"account": "1310", "debit": "250.00", "credit": "0.00", "description": "Input VAT 25%"},
    {"account": "2110", "debit": "0.00", "credit": "1200.00", "description": "Office Rent Ltd"},
]
OTHER_RENT = [
    {"account": "6120", "debit": "900.00", "credit": "0.00", "description": "Office rent"},
    {"account": "6120", "debit": "100.00", "credit": "0.00", "description": "Service charge"},
    {"account": "1310", "debit": "250.00", "credit": "0.00", "description": "Input VAT 25%"},
    {"account": "2110", "debit": "0.00", "credit": "1250.00", "description": "Office Rent Ltd"},
]
"""A correct edit: the rent split into rent and service charge."""


def form_of(lines: list[dict[str, str]], reason: str = "") -> dict[str, object]:
    """The edit form's columns for ``lines`` (account, side, amount, description)."""
    return {
        "account": [ln["account"] for ln in lines],
        "side": ["credit" if ln["credit"] != "0.00" else "debit" for ln in lines],
        "amount": [ln["credit"] if ln["credit"] != "0.00" else ln["debit"] for ln in lines],
        "description": [ln["description"] for ln in lines],
        "reason": reason,
    }


def text_of(html: str) -> str:
    """The page's text, tags and runs of blanks removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_page_shows_the_document_beside_its_entry_and_the_evidence(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(
        store,
        "SI-3",
        status="needs_review",
        lines=UNBALANCED,
        violations=[Violation("unbalanced", "debits 1250.00 and credits 1200.00 differ by 50.00")],
        confidence=0.61,
    )
    page = signed_in(app, store, "clara").client.get(f"/proposals/{pid}")
    assert page.status_code == 200
    text = text_of(page.text)
    # The document, from the snapshot kept with the proposal.
    for shown in ("No. SI-3", "2024-03-03", "Office Rent Ltd", "HR12345678901", "Rent for March"):
        assert shown in text
    assert "Net 1,000.00" in text and "VAT 250.00" in text and "Gross 1,250.00 EUR" in text
    # The lines with the chart's account names, amounts right-aligned.
    assert "6120 Rent 1,000.00" in text
    assert "1310 Tax Paid 250.00" in text
    assert "2110 Account Payable 1,200.00" in text
    assert '<td class="num">1,200.00</td>' in page.text
    assert "differs by 50.00" in text
    # Violations, confidence, backend and model, evidence.
    assert "unbalanced debits 1250.00 and credits 1200.00 differ by 50.00" in text
    assert "0.61" in text and "memory:2@2024-02-05" in text
    assert "H-1" in text and "H-2" in text
    assert 'class="badge status-needs_review big" id="status">needs review' in page.text
    assert "No decisions yet." in text


def test_live_validation_reports_an_unbalanced_edit_and_passes_a_good_one(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SI-3")
    clara = signed_in(app, store, "clara")
    url = f"/api/proposals/{pid}/check"
    bad = clara.api(url, {"lines": UNBALANCED})
    assert bad.status_code == 200
    body = bad.json()
    assert "unbalanced" in [v["code"] for v in body["violations"]]
    assert (body["debit"], body["credit"], body["difference"]) == ("1250.00", "1200.00", "50.00")
    assert [ln["account_name"] for ln in body["lines"]] == ["Rent", "Tax Paid", "Account Payable"]
    good = clara.api(url, {"lines": OTHER_RENT}).json()
    assert good["violations"] == []
    assert good["difference"] == "0.00"
    # Against the chart and the document: an unknown account, a wrong total.
    wrong = [dict(OTHER_RENT[0], account="9999"), *OTHER_RENT[1:]]
    codes = {v["code"] for v in clara.api(url, {"lines": wrong}).json()["violations"]}
    assert codes == {"unknown_account"}
    short = [dict(ln) for ln in rent_lines(net="900.00", tax="250.00", gross="1150.00")]
    codes = {v["code"] for v in clara.api(url, {"lines": short}).json()["violations"]}
    assert codes == {"total_mismatch"}
    # Money is a string: a comma or a JSON number is refused, never guessed at.
    comma = [dict(OTHER_RENT[0], debit="900,00"), *OTHER_RENT[1:]]
    (found,) = clara.api(url, {"lines": comma}).json()["violations"]
    assert (found["code"], found["line"]) == ("bad_amount", 1)
    number = [dict(OTHER_RENT[0], debit=900), *OTHER_RENT[1:]]
    assert clara.api(url, {"lines": number}).status_code == 422
    # Checking saves nothing.
    assert store.decisions(pid) == []
    assert store.get(pid).scheme["lines"] == rent_lines()  # type: ignore[union-attr]


def test_an_edit_is_saved_with_its_violations_and_goes_back_to_review(
    app: FastAPI, store: ProposalStore, dispatched: Dispatched
) -> None:
    pid = save_proposal(store, "SI-3")
    clara = signed_in(app, store, "clara")
    response = clara.form(f"/proposals/{pid}/edit", form_of(UNBALANCED, "tenant paid 50 less"))
    assert response.status_code == 303
    assert response.headers["location"] == f"/proposals/{pid}?done=edited"
    stored = store.get(pid)
    assert stored is not None
    assert stored.status == "needs_review" and stored.edited
    assert stored.scheme is not None and stored.scheme["lines"] == UNBALANCED
    assert [v.code for v in stored.violations] == ["unbalanced", "total_mismatch"]
    (decision,) = store.decisions(pid)
    assert (decision.user, decision.action, decision.reason) == (
        "clara",
        "edit",
        "tenant paid 50 less",
    )
    assert dispatched.calls == []  # an edit waits for an approver
    page = clara.client.get(response.headers["location"])
    assert "Lines saved. The proposal waits for an approver." in page.text
    assert "clara" in text_of(page.text) and "3 lines → 3 lines" in page.text


def test_an_edit_that_cannot_be_read_or_changes_nothing_is_not_saved(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SI-3")
    clara = signed_in(app, store, "clara")
    junk = [dict(OTHER_RENT[0], debit="9OO.00"), *OTHER_RENT[1:]]
    response = clara.form(f"/proposals/{pid}/edit", form_of(junk))
    assert response.status_code == 422
    assert "The lines cannot be read; nothing was saved." in response.text
    assert 'value="9OO.00"' in response.text  # the form comes back as typed
    same = clara.form(f"/proposals/{pid}/edit", form_of(rent_lines()))
    assert same.status_code == 422
    assert "as they were" in same.text
    api = clara.api(f"/api/proposals/{pid}/edit", {"lines": junk})
    assert api.status_code == 422
    assert api.json()["detail"]["violations"][0]["code"] == "bad_amount"
    assert store.decisions(pid) == []
    assert store.get(pid).status == "proposed"  # type: ignore[union-attr]


def test_approving_records_the_decision_then_asks_the_workers_to_post(
    app: FastAPI, store: ProposalStore, dispatched: Dispatched
) -> None:
    pid = save_proposal(store, "SI-3")
    alice = signed_in(app, store, "alice")
    response = alice.form(f"/proposals/{pid}/approve", {"reason": "checked the lease"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/proposals/{pid}?done=approved"
    (decision,) = store.decisions(pid)
    assert (decision.user, decision.action, decision.reason) == (
        "alice",
        "approve",
        "checked the lease",
    )
    assert store.get(pid).status == "approved"  # type: ignore[union-attr]
    assert dispatched.calls == [
        (pid, {"action": "approve", "user": "alice", "lines": None, "reason": "checked the lease"})
    ]
    # A double click changes nothing and asks nothing more.
    again = alice.form(f"/proposals/{pid}/approve")
    assert again.headers["location"] == f"/proposals/{pid}?done=unchanged"
    assert len(store.decisions(pid)) == 1 and len(dispatched.calls) == 1
    page = alice.client.get(f"/proposals/{pid}?done=approved")
    assert "The workers have been asked to post it" in page.text
    assert 'id="status">approved<' in page.text


def test_an_approval_stands_when_the_workers_cannot_be_reached(
    app: FastAPI, store: ProposalStore, dispatched: Dispatched
) -> None:
    dispatched.fail = True
    pid = save_proposal(store, "SI-3")
    alice = signed_in(app, store, "alice")
    response = alice.form(f"/proposals/{pid}/approve")
    assert response.headers["location"] == f"/proposals/{pid}?done=approved-held"
    assert store.get(pid).status == "approved"  # type: ignore[union-attr]
    api = alice.api(f"/api/proposals/{save_proposal(store, 'SI-4')}/approve", {})
    assert api.status_code == 200
    assert (api.json()["applied"], api.json()["dispatched"]) == (True, False)


def test_an_approver_cannot_approve_lines_they_edited(
    app: FastAPI, store: ProposalStore, dispatched: Dispatched
) -> None:
    pid = save_proposal(store, "SI-3")
    bob, alice = signed_in(app, store, "bob"), signed_in(app, store, "alice")
    assert bob.form(f"/proposals/{pid}/edit", form_of(OTHER_RENT)).status_code == 303
    assert store.get(pid).violations == ()  # type: ignore[union-attr]
    page = bob.client.get(f"/proposals/{pid}")
    assert "You edited these lines: another approver must approve them." in page.text
    refused = bob.form(f"/proposals/{pid}/approve")
    assert refused.status_code == 403
    assert "segregation of duties" in refused.text
    record = store.access_log(limit=1)[0]
    assert (record.user, record.status_code, record.path) == (
        "bob",
        403,
        f"/proposals/{pid}/approve",
    )
    api = bob.api(f"/api/proposals/{pid}/approve", {})
    assert api.status_code == 403 and "segregation of duties" in api.json()["detail"]
    assert store.get(pid).status == "needs_review"  # type: ignore[union-attr]
    assert dispatched.calls == []
    # A second approver may.
    assert alice.form(f"/proposals/{pid}/approve").status_code == 303
    assert dispatched.calls == [
        (pid, {"action": "approve", "user": "alice", "lines": None, "reason": None})
    ]
    shown = alice.client.get(f"/proposals/{pid}").text
    assert 'id="status">approved (edited)<' in shown


def test_lines_with_violations_cannot_be_approved(app: FastAPI, store: ProposalStore) -> None:
    pid = save_proposal(
        store,
        "SI-3",
        status="needs_review",
        lines=UNBALANCED,
        violations=[Violation("unbalanced", "debits 1250.00 and credits 1200.00 differ by 50.00")],
    )
    alice = signed_in(app, store, "alice")
    assert (
        "It cannot be approved while it has violations"
        in alice.client.get(f"/proposals/{pid}").text
    )
    response = alice.form(f"/proposals/{pid}/approve")
    assert response.status_code == 409
    assert "violation" in response.text
    assert alice.api(f"/api/proposals/{pid}/approve", {}).status_code == 409
    assert store.get(pid).status == "needs_review"  # type: ignore[union-attr]


def test_rejecting_needs_a_reason_and_closes_the_draft(
    app: FastAPI, store: ProposalStore, dispatched: Dispatched
) -> None:
    pid = save_proposal(store, "SI-3")
    alice = signed_in(app, store, "alice")
    assert alice.form(f"/proposals/{pid}/reject", {"reason": "  "}).status_code == 422
    assert alice.api(f"/api/proposals/{pid}/reject", {"reason": ""}).status_code == 422
    response = alice.form(f"/proposals/{pid}/reject", {"reason": "a duplicate of SI-2"})
    assert response.headers["location"] == f"/proposals/{pid}?done=rejected"
    stored = store.get(pid)
    assert stored is not None and stored.status == "rejected"
    assert store.decisions(pid)[-1].reason == "a duplicate of SI-2"
    assert dispatched.calls == [
        (pid, {"action": "reject", "user": "alice", "lines": None, "reason": "a duplicate of SI-2"})
    ]
    # Rejected is final: approving it now is a conflict.
    assert alice.form(f"/proposals/{pid}/approve").status_code == 409


def test_a_posted_proposal_shows_its_ais_entry(app: FastAPI, store: ProposalStore) -> None:
    pid = save_proposal(store, "SI-3")
    store.approve(pid, user="alice")
    store.mark_posted(pid, "JE-2024-0042", "worker")
    page = signed_in(app, store, "alice").client.get(f"/proposals/{pid}")
    assert 'id="status">posted<' in page.text
    assert 'id="ais-entry">JE-2024-0042<' in page.text
    text = text_of(page.text)
    assert "worker post posted to the AIS as entry JE-2024-0042" in text
    assert "Approve" not in text and "Edit lines" not in text  # nothing left to decide


def test_an_unknown_proposal_is_not_found(app: FastAPI, store: ProposalStore) -> None:
    alice = signed_in(app, store, "alice")
    assert alice.client.get("/proposals/0123456789abcdef0123456789abcdef").status_code == 404
    assert alice.client.get("/api/proposals/nope").status_code == 404
    assert alice.api("/api/proposals/nope/approve", {}).status_code == 404
