"""The JSON API: its OpenAPI document, the proposal with its log, decisions by API token."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerpilot.review.store import ProposalStore

from .kit import Dispatched, save_proposal, signed_in

OTHER_RENT = [
    {"account": "6120", "debit": "900.00", "credit": "0.00", "description": "Office rent"},
    {"account": "6120", "debit": "100.00", "credit": "0.00", "description": "Service charge"},
    {"account": "1310", "debit": "250.00", "credit": "0.00", "description": "Input VAT 25%"},
    {"account": "2110", "debit": "0.00", "credit": "1250.00", "description": "Office Rent Ltd"},
]


def token_client(app: FastAPI, store: ProposalStore, name: str) -> TestClient:
    """A tool's client: an API token, no cookie."""
    token = store.create_api_token(name, "tests")
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_the_openapi_document_describes_the_api_and_no_page_loads_a_cdn(app: FastAPI) -> None:
    client = TestClient(app)
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "ledgerpilot review"
    assert set(spec["paths"]) == {
        "/api/whoami",
        "/api/proposals",
        "/api/proposals/{proposal_id}",
        "/api/proposals/{proposal_id}/check",
        "/api/proposals/{proposal_id}/edit",
        "/api/proposals/{proposal_id}/approve",
        "/api/proposals/{proposal_id}/reject",
        "/api/proposals/bulk-approve",
        "/api/access-log",
    }
    line = spec["components"]["schemas"]["LineIn"]["properties"]
    assert line["debit"]["type"] == "string"  # money is a string
    approve = spec["paths"]["/api/proposals/{proposal_id}/approve"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409"} <= set(approve)
    # Swagger's page would load its scripts from a CDN: it is not served.
    assert client.get("/docs").status_code == 404


def test_a_proposal_comes_with_its_document_lines_and_decision_log(
    app: FastAPI, store: ProposalStore
) -> None:
    pid = save_proposal(store, "SI-3")
    alice = token_client(app, store, "alice")
    clara = token_client(app, store, "clara")
    edited = clara.post(f"/api/proposals/{pid}/edit", json={"lines": OTHER_RENT, "reason": "split"})
    assert edited.status_code == 200
    assert edited.json()["proposal"]["status"] == "needs_review"
    assert edited.json()["decision"]["action"] == "edit"
    approved = alice.post(f"/api/proposals/{pid}/approve", json={"reason": "fine"})
    assert approved.json()["applied"] is True and approved.json()["dispatched"] is True
    body = alice.get(f"/api/proposals/{pid}").json()
    assert (body["status"], body["status_label"], body["edited"]) == (
        "approved",
        "approved (edited)",
        True,
    )
    assert body["document"]["total_gross"] == "1250.00"
    assert body["document"]["partner"]["name"] == "Office Rent Ltd"
    assert body["lines"][1] == {
        "account": "6120",
        "account_name": "Rent",
        "debit": "100.00",
        "credit": "0.00",
        "description": "Service charge",
    }
    assert [(d["user"], d["action"], d["reason"]) for d in body["decisions"]] == [
        ("clara", "edit", "split"),
        ("alice", "approve", "fine"),
    ]
    assert body["decisions"][0]["after"]["lines"] == OTHER_RENT
    assert body["evidence"] == ["H-1", "H-2"]
    assert body["confidence"] == 0.93 and body["backend"] == "memory"


def test_decisions_by_api_token(app: FastAPI, store: ProposalStore, dispatched: Dispatched) -> None:
    first, second = save_proposal(store, "SI-3"), save_proposal(store, "SI-4")
    alice = token_client(app, store, "alice")
    rejected = alice.post(f"/api/proposals/{first}/reject", json={"reason": "a duplicate"})
    assert rejected.status_code == 200
    assert rejected.json()["proposal"]["status"] == "rejected"
    assert alice.post(f"/api/proposals/{first}/approve").status_code == 409
    assert alice.post(f"/api/proposals/{second}/approve").json()["applied"] is True
    again = alice.post(f"/api/proposals/{second}/approve").json()
    assert (again["applied"], again["decision"]) == (False, None)
    assert [(pid, d["action"]) for pid, d in dispatched.calls] == [
        (first, "reject"),
        (second, "approve"),
    ]
    clara = token_client(app, store, "clara")
    assert clara.post(f"/api/proposals/{second}/reject", json={"reason": "x"}).status_code == 403


def test_whoami_and_the_access_log(app: FastAPI, store: ProposalStore) -> None:
    audrey = signed_in(app, store, "audrey")
    assert audrey.client.get("/api/whoami").json() == {
        "name": "audrey",
        "role": "auditor",
        "via": "session",
        "may": ["view", "audit", "ask"],
    }
    TestClient(app).get("/api/proposals")  # refused: not signed in
    signed_in(app, store, "clara").client.get("/api/access-log")  # refused: a clerk
    log = audrey.client.get("/api/access-log?limit=2").json()
    assert [(r["user"], r["path"], r["status_code"]) for r in log] == [
        ("clara", "/api/access-log", 403),
        (None, "/api/proposals", 401),
    ]
    page = audrey.client.get("/access-log")
    assert page.status_code == 200
    assert "/api/access-log" in page.text and "the role clerk may not audit" in page.text
