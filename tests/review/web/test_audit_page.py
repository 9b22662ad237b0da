"""The auditors' findings page: who may see it, the ranked findings with their reasons, one
finding's lines, and follow-ups recorded append-only with who and when."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.audit_store import AuditBook
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.review.web import create_app
from tests.agent.drafting_kit import sqlite_url
from tests.audit.journal import CHART

from .audit_kit import RANKED, save_audit_run
from .kit import Dispatched, signed_in


@pytest.fixture
def audit_app(store: ProposalStore, tmp_path: Path) -> Iterator[FastAPI]:
    """The app over an AIS holding the audited journal's chart (for the account names)."""
    with ReferenceAIS.create(sqlite_url(tmp_path / "ais.sqlite")) as ais:
        ais.save_chart(CHART)
        yield create_app(store, ais, Dispatched(), secure_cookies=False)


def listed(html: str) -> list[str]:
    """The entries the findings table lists, in order."""
    return re.findall(r'class="finding-link">([^<]+)</a>', html)


def finding_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/audit/findings/(\d+)" class="finding-link"', html)]


def test_signed_out_a_browser_is_sent_to_sign_in(audit_app: FastAPI) -> None:
    response = TestClient(audit_app).get("/audit?check=duplicate", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/audit%3Fcheck%3Dduplicate"


def test_clerks_and_approvers_may_not_see_the_findings(
    audit_app: FastAPI, store: ProposalStore
) -> None:
    run = save_audit_run(store)
    finding = AuditBook(store).findings(run.id).items[0].id
    for name in ("clara", "alice"):
        browser = signed_in(audit_app, store, name)
        assert browser.client.get("/audit").status_code == 403
        assert browser.client.get(f"/audit/findings/{finding}").status_code == 403
        refused = browser.form(f"/audit/findings/{finding}/follow-up", {"status": "cleared"})
        assert refused.status_code == 403
        assert 'href="/audit"' not in browser.client.get("/queue").text
    assert AuditBook(store).follow_ups(finding) == []


def test_an_auditor_sees_the_latest_runs_findings_by_score(
    audit_app: FastAPI, store: ProposalStore
) -> None:
    audrey = signed_in(audit_app, store, "audrey")
    empty = audrey.client.get("/audit")
    assert empty.status_code == 200 and "No audit has been stored yet" in empty.text
    save_audit_run(store, source="nightly")
    latest = save_audit_run(store)
    page = audrey.client.get("/audit").text
    assert '<a href="/audit" aria-current="page">Audit</a>' in page
    assert f"Run {latest.id}" in page
    assert listed(page) == RANKED
    assert "debits 500.00 and credits 400.00 differ by 100.00" in page
    assert "posted at 23:05, outside 07:00-20:00" in page
    # filtered by a check: only the entries it fired on, still in score order
    late = audrey.client.get(f"/audit?run={latest.id}&check=unusual_hour").text
    assert listed(late) == ["E101", "E103"]
    # an admin sees them too; an unknown run is not found
    adam = signed_in(audit_app, store, "adam")
    assert listed(adam.client.get(f"/audit?run={latest.id - 1}").text) == RANKED
    assert adam.client.get("/audit?run=999").status_code == 404


def test_a_finding_shows_its_lines_and_every_checks_detail(
    audit_app: FastAPI, store: ProposalStore
) -> None:
    run = save_audit_run(store)
    audrey = signed_in(audit_app, store, "audrey")
    top = finding_ids(audrey.client.get(f"/audit?run={run.id}").text)[0]
    page = audrey.client.get(f"/audit/findings/{top}").text
    assert "Entry E100" in page and "score 8.00" in page
    reasons = page.split('id="reasons"')[1].split("</table>")[0]
    assert re.findall(r"<code>([^<]+)</code>", reasons) == ["unbalanced", "vat arithmetic"]
    lines = page.split('id="lines"')[1].split("</table>")[0]
    assert re.findall(r'<td class="mono">(\d+)</td>\s*<td>([^<]+)</td>', lines) == [
        ("4000", "Materials"),
        ("1400", "Input VAT"),
        ("2200", "Payables"),
    ]
    assert "differs by 100.00" in lines
    assert "Nothing recorded yet." in page
    assert audrey.client.get("/audit/findings/999999").status_code == 404


def test_a_follow_up_is_recorded_with_who_and_when_and_shown(
    audit_app: FastAPI, store: ProposalStore
) -> None:
    run = save_audit_run(store)
    audrey = signed_in(audit_app, store, "audrey")
    top = finding_ids(audrey.client.get(f"/audit?run={run.id}").text)[0]
    note = "Asked AP: the VAT line was keyed twice; correcting entry E131 posted."
    response = audrey.form(
        f"/audit/findings/{top}/follow-up", {"status": "explained", "note": note}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/audit/findings/{top}?done=follow-up"
    page = audrey.client.get(response.headers["location"]).text
    assert "Follow-up recorded." in page
    log = page.split('id="follow-ups"')[1].split("</table>")[0]
    assert "audrey" in log and "Explained" in log
    assert "Asked AP: the VAT line was keyed twice; correcting entry E131 posted." in log
    # the list shows it, and the open filter leaves it out
    listing = audrey.client.get(f"/audit?run={run.id}").text
    assert '<span class="badge subtle">Explained</span>' in listing
    assert listed(audrey.client.get(f"/audit?run={run.id}&follow_up=open").text) == RANKED[1:]
    assert listed(audrey.client.get(f"/audit?run={run.id}&follow_up=explained").text) == ["E100"]
    # a later run flagging the same entry shows what was recorded before
    later = save_audit_run(store)
    again = finding_ids(audrey.client.get(f"/audit?run={later.id}").text)[0]
    assert again != top
    assert "in another run" in audrey.client.get(f"/audit/findings/{again}").text
    [recorded] = AuditBook(store).follow_ups(again)
    assert (recorded.user, recorded.status, recorded.finding_id) == ("audrey", "explained", top)


def test_a_follow_up_needs_a_status_a_note_and_the_csrf_token(
    audit_app: FastAPI, store: ProposalStore
) -> None:
    run = save_audit_run(store)
    finding = AuditBook(store).findings(run.id).items[0].id
    audrey = signed_in(audit_app, store, "audrey")
    url = f"/audit/findings/{finding}/follow-up"
    no_csrf = audrey.client.post(
        url, data={"status": "cleared", "note": "vouched"}, follow_redirects=False
    )
    assert no_csrf.status_code == 403
    assert "CSRF token is missing or wrong" in no_csrf.text
    blank = audrey.form(url, {"status": "cleared", "note": "  "})
    assert blank.status_code == 422 and "a follow-up needs a note" in blank.text
    wrong = audrey.form(url, {"status": "forgotten", "note": "vouched"})
    assert wrong.status_code == 422 and "status must be one of" in wrong.text
    assert AuditBook(store).follow_ups(finding) == []
