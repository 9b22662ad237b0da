"""``ledgerpilot eval human``: the approval queue's decision log as a human evaluation.

The log is made in the test through the real store (people of the right roles edit,
approve and reject, a worker posts, the auto-approval policy approves), on SQLite and on
PostgreSQL. The store's clock is the one fake: a clock at the edge of the outside world,
set by the test so that the times to decision are known to the second.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledgerpilot.agent.state import AUTO_APPROVER
from ledgerpilot.cli import app
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.training.human import (
    human_report,
    lines_changed,
    quantile,
    read_judgements,
    reason_category,
)
from tests.review.store_kit import CHEAP_HASHER, SCHEME, add_people, clean

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
EARLIER = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
LLM: dict[str, Any] = {"backend": "llm", "model": "ledger-7b-lora-v3"}
MEMORY_MODEL = "memory:800@2025-12-31"  # store_kit's drafts
RENT, PAYABLE = SCHEME["lines"]
SUPPLIES = {**SCHEME, "lines": [{**RENT, "account": "6000"}, PAYABLE]}
"""The rent booked as supplies instead: one line changed."""
SPLIT = {
    **SCHEME,
    "lines": [
        {**RENT, "debit": "800.00"},
        {"account": "1400", "debit": "200.00", "credit": "0.00", "description": "deposit"},
        PAYABLE,
    ],
}
"""The rent split into rent and a deposit: one line changed, one added (2)."""


class Clock:
    """The store's clock, set by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, when: dt.datetime, seconds: float = 0) -> None:
        self.now = when + dt.timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ProposalStore, str]]:
    """A store holding the decision log of :func:`decide_everything`, and its URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = str(request.getfixturevalue("fresh_postgres_url"))
    clock = Clock()
    monkeypatch.setattr("ledgerpilot.review.store.utcnow", clock)
    with ProposalStore.create(url) as created:
        created.password_hasher = CHEAP_HASHER
        add_people(created)
        decide_everything(created, clock)
        yield created, url


def decide_everything(store: ProposalStore, clock: Clock) -> None:
    """Eight drafts and what people (carl the clerk, ana and bob the approvers) did."""

    def draft(document: str, *, when: dt.datetime = T0, **fields: Any) -> str:
        clock.at(when)
        return store.save_draft(clean(document, **fields))

    # memory, supplier invoice: approved as drafted after 60 s, then posted by a worker.
    p1 = draft("SI-1")
    clock.at(T0, 60)
    store.approve(p1, user="ana")
    clock.at(T0, 70)
    store.mark_posted(p1, "E-1", "worker")
    # memory, supplier invoice: carl books it on supplies, bob approves after 300 s.
    p2 = draft("SI-2")
    clock.at(T0, 100)
    store.edit(p2, user="carl", scheme=SUPPLIES, violations=[])
    clock.at(T0, 300)
    store.approve(p2, user="bob")
    # memory, bank payment: a duplicate, rejected after 30 s.
    p3 = draft("BP-3", document_kind="bank_payment")
    clock.at(T0, 30)
    store.reject(p3, user="ana", reason="Duplicate of BP-2, paid once already")
    # llm, supplier invoice: rejected with an explicit category after 600 s.
    p4 = draft("SI-4", **LLM)
    clock.at(T0, 600)
    store.reject(p4, user="bob", reason="wrong account: the rent goes to 4100")
    # llm, supplier invoice: carl splits the rent, ana approves after 900 s.
    p5 = draft("SI-5", **LLM)
    clock.at(T0, 400)
    store.edit(p5, user="carl", scheme=SPLIT, violations=[])
    clock.at(T0, 900)
    store.approve(p5, user="ana")
    # llm, supplier invoice: still waiting.
    draft("SI-6", **LLM)
    # memory, supplier invoice: the auto-approval policy approved it.
    p7 = draft("SI-7")
    clock.at(T0, 5)
    store.record_decision(p7, user=AUTO_APPROVER, action="approve", status="approved")
    # memory, supplier invoice, in January: rejected for a wrong VAT rate after 120 s.
    p8 = draft("SI-8", when=EARLIER)
    clock.at(EARLIER, 120)
    store.reject(p8, user="ana", reason="PDV 13 %, ne 25 %")


def test_the_report_counts_what_people_did(store: tuple[ProposalStore, str]) -> None:
    proposals, _ = store
    report = human_report(read_judgements(proposals))
    assert report["proposals"] == 8
    llm, memory = report["backends"]
    assert (llm["backend"], llm["model"], llm["kind"]) == ("llm", "ledger-7b-lora-v3", "all")
    assert {k: llm[k] for k in COUNTS} == {
        "decided": 2,
        "accepted_unchanged": 0,
        "accepted_edited": 1,
        "rejected": 1,
        "auto_approved": 0,
        "waiting": 1,
    }
    assert llm["lines_changed"] == {"total": 2, "mean": 2.0, "max": 2}
    assert llm["reasons"] == {"wrong_account": 1}
    # 600 and 900 s: the median halfway, the 90th percentile at 600 + 0.9 * 300.
    assert llm["time_to_decision"] == {
        "decisions": 2,
        "median_seconds": 750.0,
        "p90_seconds": 870.0,
    }
    assert llm["acceptance"] == 0.5 and llm["unchanged_share"] == 0.0

    assert (memory["backend"], memory["model"]) == ("memory", MEMORY_MODEL)
    assert {k: memory[k] for k in COUNTS} == {
        "decided": 4,
        "accepted_unchanged": 1,
        "accepted_edited": 1,
        "rejected": 2,
        "auto_approved": 1,
        "waiting": 0,
    }
    assert memory["lines_changed"] == {"total": 1, "mean": 1.0, "max": 1}
    assert memory["reasons"] == {"wrong_amount": 1, "duplicate": 1}
    # 30, 60, 120, 300 s: median (60 + 120) / 2, p90 at rank 2.7: 120 + 0.7 * 180.
    assert memory["time_to_decision"]["median_seconds"] == 90.0
    assert memory["time_to_decision"]["p90_seconds"] == 246.0

    by_kind = {(g["backend"], g["kind"]): g for g in report["groups"]}
    assert set(by_kind) == {
        ("llm", "supplier_invoice"),
        ("memory", "bank_payment"),
        ("memory", "supplier_invoice"),
    }
    payments = by_kind[("memory", "bank_payment")]
    assert (payments["decided"], payments["rejected"], payments["reasons"]) == (
        1,
        1,
        {"duplicate": 1},
    )
    assert by_kind[("memory", "supplier_invoice")]["accepted_unchanged"] == 1


COUNTS = (
    "decided",
    "accepted_unchanged",
    "accepted_edited",
    "rejected",
    "auto_approved",
    "waiting",
)


def test_the_period_and_the_command_line(store: tuple[ProposalStore, str], tmp_path: Path) -> None:
    proposals, url = store
    march = human_report(read_judgements(proposals, since=dt.date(2026, 3, 1)))
    memory = next(b for b in march["backends"] if b["backend"] == "memory")
    assert memory["rejected"] == 1 and memory["reasons"] == {"duplicate": 1}  # not January's
    january = read_judgements(proposals, dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert [(proposals.get(j.proposal_id).document_id, j.outcome) for j in january] == [  # type: ignore[union-attr]
        ("SI-8", "rejected")
    ]
    assert january[0].reason_category == "wrong_amount" and january[0].seconds == 120.0

    runner = CliRunner()
    chart = tmp_path / "human.png"
    done = runner.invoke(
        app,
        ["eval", "human", "--store", url, "--from", "2026-03-01", "--json", "--chart", str(chart)],
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["from"] == "2026-03-01" and report["proposals"] == 7
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = runner.invoke(app, ["eval", "human", "--store", url])
    assert table.exit_code == 0, table.output
    assert "llm" in table.stdout and "memory" in table.stdout  # (narrow: cells wrap)
    backwards = runner.invoke(
        app, ["eval", "human", "--store", url, "--from", "2026-03-02", "--to", "2026-03-01"]
    )
    assert backwards.exit_code == 2 and "before --from" in backwards.output


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("Duplicate of BP-2", "duplicate"),
        ("already posted last week", "duplicate"),
        ("dupli račun", "duplicate"),
        ("Rechnung doppelt erfasst", "duplicate"),
        ("not ours: the landlord's private electricity", "not_ours"),
        ("invoice for another company of the group", "not_ours"),
        ("wrong supplier, this is Mersch Energy", "wrong_partner"),
        ("pogrešan dobavljač", "wrong_partner"),
        ("falscher Lieferant", "wrong_partner"),
        ("booked in the wrong period", "wrong_date"),
        ("should be on account 4100, not 6120", "wrong_account"),
        ("krivi konto", "wrong_account"),
        ("VAT 13 % not 25 %", "wrong_amount"),
        ("PDV 13 %, ne 25 %", "wrong_amount"),
        ("Betrag stimmt nicht", "wrong_amount"),
        ("the gross amount is 1,250.00", "wrong_amount"),
        # An explicit category wins over the words that follow it.
        ("duplicate: the amount matches SI-0", "duplicate"),
        ("[wrong partner] account 2110 is fine", "wrong_partner"),
        ("VAT: the account is right, the rate is not", "wrong_amount"),
        ("Wrong_Account: 4100", "wrong_account"),
        ("Rent: 4100 please", "other"),  # "Rent" is no category; no keyword either
        ("please ask Marta", "other"),
        ("", "other"),
    ],
)
def test_reason_categories(reason: str, category: str) -> None:
    assert reason_category(reason) == category


def test_lines_changed() -> None:
    assert lines_changed(SCHEME, SCHEME) == 0
    assert lines_changed(SCHEME, SUPPLIES) == 1
    assert lines_changed(SCHEME, SPLIT) == 2
    merged = {**SCHEME, "lines": [{**RENT, "account": "6000"}]}
    assert lines_changed(SPLIT, merged) == 3  # three lines went, one came
    # Amounts compare as numbers and descriptions do not count.
    same = {"lines": [{**RENT, "debit": "1000", "description": "March"}, PAYABLE]}
    assert lines_changed(SCHEME, same) == 0
    assert lines_changed(None, SCHEME) == 2


def test_quantile_interpolates_between_ranks() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([30.0, 60.0, 300.0], 0.5) == 60.0
    assert quantile([300.0, 30.0, 60.0], 0.9) == pytest.approx(252.0)  # 60 + 0.8 * 240
