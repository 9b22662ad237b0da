"""A clerk asks the assistant in a real browser: a question, a follow-up with an amount, and
the evidence's link to a posted document.

Everything is real: a small synthetic company (the hr chart) in a SQLite AIS, ``ledgerpilot
web`` serving the UI with the assistant over it, and Debian's chromium driven by Playwright.
It takes the screenshot of the Ask page that the README shows (``docs/screenshot-ask.png``
when the environment says ``UPDATE_SCREENSHOTS=1``; the test's temporary folder otherwise).
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore
from ledgerpilot.synth import generate

from .services import Deployment

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "a long browser-test password"
CLERK = "clara"
QUESTION = "Kako knjižiti račun za struju od Drava Elektro?"
FOLLOW_UP = "a za 565,00 bruto?"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """A one-year Croatian company and the web UI over it (no worker: asking needs none)."""
    ais_url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    company = generate("hr", years=1, inbox=0, seed=7, per_year=300)
    with ReferenceAIS.create(ais_url) as ais:
        ais.load(company.history(), chart=company.chart)
    with ProposalStore.create(store_url) as store:
        store.add_user(CLERK, "clerk", PASSWORD)
    running = Deployment(tmp_path, ais_url, store_url)
    try:
        running.start_web()
        yield running
    finally:
        running.stop()


def _screenshot(page: Any, folder: Path, name: str) -> None:
    """Save a screenshot of the viewport as ``folder/name`` (and in docs/ if asked)."""
    path = folder / name
    page.screenshot(path=str(path))
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 800)  # IHDR: width, height
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / name)


def _ask(page: Any, question: str) -> Any:
    """Ask a question on the page; the latest answer once the page shows it."""
    page.fill("#question", question)
    page.click("#ask-form button[type=submit].primary")
    page.wait_for_url("**/ask?c=*#latest")
    return page.locator("#latest")


def _accounts(latest: Any) -> list[str]:
    return [cell.strip() for cell in latest.locator("table.scheme td.mono").all_text_contents()]


def test_a_clerk_asks_follows_up_and_opens_the_evidence(
    deployment: Deployment, browser_context: Any, tmp_path: Path
) -> None:
    base_url = deployment.base_url
    page = browser_context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("#name", CLERK)
    page.fill("#password", PASSWORD)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_url(f"{base_url}/queue*")

    page.click("nav >> text=Ask")
    page.wait_for_url(f"{base_url}/ask")
    latest = _ask(page, QUESTION)
    assert latest.locator("[data-status]").get_attribute("data-status") == "answered"
    assert _accounts(latest) == ["140000", "407000", "223000"]
    assert "Drava Elektro d.o.o." in latest.text_content()

    # The follow-up keeps the partner and the topic, and gives the amounts.
    latest = _ask(page, FOLLOW_UP)
    assert page.locator(".turn").count() == 2
    assert _accounts(latest) == ["140000", "407000", "223000"]
    amounts = latest.locator("table.scheme td.num").all_text_contents()
    assert [a.strip() for a in amounts if a.strip()] == ["65.00", "500.00", "565.00"]
    assert "partner" in latest.locator(".understood").text_content()
    _screenshot(page, tmp_path, "screenshot-ask.png")

    # The evidence links to the posted document and its entry.
    link = latest.locator("ul.evidence-list a").first
    document_id = link.text_content().strip()
    link.click()
    page.wait_for_url(f"{base_url}/ask/documents/{document_id}")
    entry = page.text_content("#posted-entry")
    assert "407000" in entry and "223000" in entry
