"""A clerk and an approver work through the queue in a real browser, and the entry lands in
the AIS.

Everything is real: a small synthetic company in a SQLite AIS, ``ledgerpilot worker`` (one
Celery worker process on the embedded SQLite broker) drafting its inbox into the store,
``ledgerpilot web`` serving the review UI, and Debian's chromium driven by Playwright. The
clerk edits a line and watches the live validation flag the edit and then clear it; the
approver approves; the worker posts; the AIS holds the entry with the clerk's line.

On the way it takes the screenshots of the queue and the proposal page that the README
shows, at 1280x800. They go to the test's temporary folder, and to ``docs/``
(``docs/screenshot-queue.png``, ``docs/screenshot-proposal.png``) when the environment
says ``UPDATE_SCREENSHOTS=1``, so that an ordinary test run leaves the work tree alone.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore, QueueFilter
from ledgerpilot.synth import generate
from ledgerpilot.workers import POLL_AIS, create_app

from .services import Deployment, wait_for

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "a long browser-test password"
CLERK, APPROVER = "clara", "alice"
INBOX = 12
EDITED_DESCRIPTION = "Checked against the contract"
WORK_SECONDS = 60.0
"""Ample: drafting a dozen documents or posting one entry takes about a second here."""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """A small synthetic company, its inbox drafted by a real worker, and the web UI."""
    ais_url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    company = generate("hr", years=2, inbox=INBOX, seed=5, per_year=300)
    with ReferenceAIS.create(ais_url) as ais:
        ais.load(company.history(), chart=company.chart)
        ais.load(company.inbox)
    with ProposalStore.create(store_url) as store:
        store.add_user(CLERK, "clerk", PASSWORD)
        store.add_user(APPROVER, "approver", PASSWORD)
    running = Deployment(tmp_path, ais_url, store_url)
    try:
        running.start_worker()
        _draft_inbox(running)
        running.start_web()
        yield running
    finally:
        running.stop()


def _draft_inbox(deployment: Deployment) -> None:
    """Ask the worker to poll the AIS, as beat does, and wait until the inbox is drafted."""
    app = create_app(deployment.settings)
    try:
        app.send_task(POLL_AIS)
    finally:
        app.close()

    def drafted() -> bool:
        with ProposalStore(deployment.store_url) as store:
            return sum(store.counts().values()) == INBOX

    wait_for("the worker to draft the inbox", drafted, WORK_SECONDS)


def _proposal_to_edit(store_url: str) -> Any:
    """A valid, proposed supplier invoice: the clerk's pick."""
    with ProposalStore(store_url) as store:
        page = store.queue(QueueFilter(status="proposed", has_violations=False), per_page=100)
    candidates = [p for p in page.items if p.scheme and len(p.scheme["lines"]) >= 2]
    candidates.sort(key=lambda p: (p.document_kind != "supplier_invoice", p.document_id))
    assert candidates, "the worker drafted no valid proposal to review"
    return candidates[0]


def _screenshot(page: Any, folder: Path, name: str) -> None:
    """Save a screenshot of the viewport as ``folder/name`` (and in docs/ if asked)."""
    path = folder / name
    page.screenshot(path=str(path))
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 800)  # IHDR: width, height
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / name)


def _sign_in(page: Any, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_url(f"{base_url}/queue*")


def _sign_out(page: Any) -> None:
    page.click("form[action$='/logout'] button[type=submit]")
    page.wait_for_url("**/login*")


def _live_check(page: Any) -> tuple[list[str], str]:
    """Wait for the editor's live check to answer; its violation codes and its text."""
    page.wait_for_selector("#live[data-checked='true']")
    codes = (page.get_attribute("#live", "data-codes") or "").split()
    return codes, page.text_content("#live") or ""


def test_clerk_edits_approver_approves_and_the_entry_is_in_the_ais(
    deployment: Deployment, browser_context: Any, tmp_path: Path
) -> None:
    base_url = deployment.base_url
    proposal = _proposal_to_edit(deployment.store_url)
    page = browser_context.new_page()

    # The clerk finds the document in the queue and opens its proposal.
    _sign_in(page, base_url, CLERK)
    assert page.locator(f"text={proposal.document_id}").count() == 1
    _screenshot(page, tmp_path, "screenshot-queue.png")
    page.click(f"a[href$='/proposals/{proposal.id}']")
    page.wait_for_url(f"{base_url}/proposals/{proposal.id}")
    assert page.text_content("#status").strip().lower() == "proposed"

    # Edit a line: a wrong amount is flagged at once, the right one clears it.
    page.click("#editor summary")
    codes, text = _live_check(page)
    assert codes == [] and "No violations." in text
    first = page.locator("#edit-lines tr").first
    amount = first.locator("[name=amount]")
    original = amount.input_value()
    amount.fill(str(Decimal(original) + Decimal("1.00")))
    page.wait_for_selector("#live[data-codes~='unbalanced']")
    codes, text = _live_check(page)
    assert "unbalanced" in codes and "unbalanced" in text
    amount.fill(original)
    page.wait_for_selector("#live[data-checked='true'][data-codes='']")
    first.locator("[name=description]").fill(EDITED_DESCRIPTION)
    page.fill("#edit-reason", "description as in the contract")
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(f"{base_url}/proposals/{proposal.id}?done=edited")
    assert page.text_content("#status").strip().lower() == "needs review"
    _sign_out(page)

    # The approver, who did not edit it, approves it.
    _sign_in(page, base_url, APPROVER)
    page.goto(f"{base_url}/proposals/{proposal.id}")
    assert EDITED_DESCRIPTION in page.text_content("table.entry")
    _screenshot(page, tmp_path, "screenshot-proposal.png")
    page.click(f"form[action$='/proposals/{proposal.id}/approve'] button[type=submit]")
    # "approved", not "approved-held": the decision was handed to the worker's queue
    page.wait_for_url(f"{base_url}/proposals/{proposal.id}?done=approved")

    # The worker posts it; the page shows the AIS entry once it has.
    def posted() -> bool:
        page.reload()
        return page.locator("#ais-entry").count() == 1

    wait_for("the worker to post the approved entry", posted, WORK_SECONDS)
    assert page.text_content("#status").strip().lower() == "posted (edited)"
    entry_id = page.text_content("#ais-entry").strip()

    with ReferenceAIS(deployment.ais_url) as ais:
        document = ais.get_document(proposal.document_id)
    assert document is not None and document.entry is not None
    assert document.entry.id == entry_id
    assert document.entry.is_balanced()
    descriptions = [line.description for line in document.entry.lines]
    assert descriptions[0] == EDITED_DESCRIPTION
    accounts = [line.account for line in document.entry.lines]
    assert accounts == [line["account"] for line in proposal.scheme["lines"]]
    with ProposalStore(deployment.store_url) as store:
        actions = [d.action for d in store.decisions(proposal.id)]
        users = {d.action: d.user for d in store.decisions(proposal.id)}
    assert actions[-3:] == ["edit", "approve", "post"]
    assert users["edit"] == CLERK and users["approve"] == APPROVER
