"""The Ask page: who may use it, CSRF on the question, answers with their evidence's links,
a follow-up that keeps the context, and conversations that stay their user's own.

The app is real, over the web tests' small company (two posted rent invoices of Office Rent
Ltd, H-1 and H-2) with the assistant wired in as ``ledgerpilot web`` wires it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerpilot.assistant import Assistant
from ledgerpilot.assistant.service import AskService
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web import create_app
from tests.agent.drafting_kit import sqlite_url

from .kit import Dispatched, signed_in

QUESTION = "How do I post the office rent?"


@pytest.fixture
def ask_app(
    store: ProposalStore, ais: ReferenceAIS, dispatched: Dispatched, tmp_path: Path
) -> FastAPI:
    """The app with the assistant; conversations in the store's database."""
    service = AskService(
        Assistant(ais, models=lambda name: None), sqlite_url(tmp_path / "store.sqlite")
    )
    return create_app(store, ais, dispatched, secure_cookies=False, assistant=service)


def _conversation(location: str) -> str:
    found = re.fullmatch(r"/ask\?c=([A-Za-z0-9_-]+)#latest", location)
    assert found, location
    return found.group(1)


def test_signed_out_is_sent_to_sign_in(ask_app: FastAPI) -> None:
    response = TestClient(ask_app).get("/ask", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/ask"


def test_a_clerk_asks_and_sees_the_scheme_with_its_evidence(
    ask_app: FastAPI, store: ProposalStore
) -> None:
    clerk = signed_in(ask_app, store, "clara")
    page = clerk.client.get("/ask")
    assert page.status_code == 200
    assert '<a href="/ask" aria-current="page">Ask</a>' in page.text
    assert 'name="csrf_token"' in page.text

    # without the CSRF token: refused, and logged
    refused = clerk.client.post("/ask", data={"question": QUESTION}, follow_redirects=False)
    assert refused.status_code == 403
    assert store.access_log(limit=1)[0].path == "/ask"

    asked = clerk.form("/ask", {"question": QUESTION, "c": "conversation-one"})
    assert asked.status_code == 303
    conversation = _conversation(asked.headers["location"])
    assert conversation == "conversation-one"
    html = clerk.client.get(f"/ask?c={conversation}").text
    assert 'data-status="answered"' in html
    rows = re.findall(r'<td class="mono">(\d+)</td>\s*<td>([^<]+)', html)
    assert rows == [("1310", "Tax Paid"), ("6120", "Rent"), ("2110", "Account Payable")]
    assert re.findall(r'<td class="basis">([^<]+)</td>', html) == ["tax at 25%", "net", "gross"]
    assert '<a class="mono" href="/ask/documents/H-2">H-2</a>' in html

    # the evidence's link: the posted document with its entry and the chart's names
    document = clerk.client.get("/ask/documents/H-2")
    assert document.status_code == 200
    assert 'id="posted-entry"' in document.text and "Rent" in document.text
    assert clerk.client.get("/ask/documents/NOPE").status_code == 404


def test_a_follow_up_keeps_the_context_and_binds_amounts(
    ask_app: FastAPI, store: ProposalStore
) -> None:
    clerk = signed_in(ask_app, store, "clara")
    first = clerk.form("/ask", {"question": QUESTION, "c": "follow-up-test"})
    clerk.form(
        "/ask",
        {"question": "and for 2,500.00 gross?", "c": _conversation(first.headers["location"])},
    )
    html = clerk.client.get("/ask?c=follow-up-test").text
    assert html.count('class="turn"') == 2
    latest = html[html.index('id="latest"') :]
    assert "Kept from before" in latest and "topic" in latest
    debits = re.findall(r'<td class="num">([\d,.]+)</td>', latest)
    assert debits == ["500.00", "2,000.00", "2,500.00"]


def test_conversations_are_their_users_own(ask_app: FastAPI, store: ProposalStore) -> None:
    clerk = signed_in(ask_app, store, "clara")
    clerk.form("/ask", {"question": QUESTION, "c": "private-talk"})
    approver = signed_in(ask_app, store, "alice")
    html = approver.client.get("/ask?c=private-talk").text
    assert 'class="turn"' not in html
    auditor = signed_in(ask_app, store, "audrey")
    assert auditor.form("/ask", {"question": QUESTION, "c": "audit-talk"}).status_code == 303


def test_unusable_questions_and_backends_are_explained(
    ask_app: FastAPI, store: ProposalStore
) -> None:
    clerk = signed_in(ask_app, store, "clara")
    empty = clerk.form("/ask", {"question": "?!", "c": "bad-input-1"})
    assert empty.status_code == 422 and "ask a question in words" in empty.text
    model = clerk.form("/ask", {"question": QUESTION, "backend": "llm", "c": "bad-input-2"})
    assert model.status_code == 422 and "not offered here" in model.text
