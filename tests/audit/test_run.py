"""run_audit and audit_ais: the ranking, the JSON contract, a synthetic company, an AIS."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from ledgerpilot.audit import AuditSettings, audit_ais, run_audit
from ledgerpilot.connectors.reference import ReferenceAIS
from ledgerpilot.ledger import EntryLine
from ledgerpilot.synth import generate
from tests.audit.journal import CHART, clean, invoice, with_entry

SINCE = dt.date(2024, 5, 28)


def test_ranking_order_on_a_small_case() -> None:
    unbalanced = with_entry(
        invoice(100, dt.date(2024, 6, 4), Decimal("400.00")),
        lines=(
            EntryLine("4000", debit=Decimal("400.00")),
            EntryLine("1400", debit=Decimal("100.00")),
            EntryLine("2200", credit=Decimal("400.00")),
        ),
    )
    saturday_night = invoice(
        101, dt.date(2024, 6, 7), Decimal("512.34"), at=dt.datetime(2024, 6, 8, 23, 5)
    )
    just_below = invoice(102, dt.date(2024, 6, 12), Decimal("3992"))  # gross 4,990.00
    late = invoice(103, dt.date(2024, 6, 19), Decimal("498.76"), at=dt.datetime(2024, 6, 19, 21))
    docs = sorted([*clean(), unbalanced, saturday_night, just_below, late], key=lambda d: d.date)
    result = run_audit(docs, CHART, since=SINCE)
    assert [(f.document, f.score) for f in result.findings] == [
        ("D100", 8.0),  # unbalanced (5) and its payable is not the gross (3)
        ("D101", 3.75),  # posted on a Saturday (2.5), late in the evening (1.25)
        ("D102", 3.0),  # just below 5,000 (2), and beyond S1's range of about 800 (x 1.5)
        ("D103", 1.25),
    ]
    assert [r.check for r in result.findings[1].reasons] == ["weekend_or_holiday", "unusual_hour"]
    top = result.as_json()["findings"][0]
    assert top["entry"] == "E100" and top["document"] == "D100"
    assert top["reasons"][0]["check"] == "unbalanced"
    assert top["reasons"][0]["detail"] == "debits 500.00 and credits 400.00 differ by 100.00"


def test_history_before_and_progress() -> None:
    docs = clean()
    seen: list[int] = []
    result = run_audit(
        docs[20:], CHART, history_before=docs[:20], since=SINCE, on_progress=seen.append
    )
    assert result.entries_scanned == 10
    assert result.findings == []
    assert seen == [30]
    until = run_audit(docs, CHART, since=SINCE, until=dt.date(2024, 6, 30))
    assert until.entries_scanned == 5
    assert until.period == (SINCE, dt.date(2024, 6, 30))


def test_a_synthetic_company() -> None:
    company = generate("hr", 2, 0, seed=3, per_year=600)
    result = run_audit(company.history(), company.chart, since=dt.date(2025, 1, 1))
    assert 500 < result.entries_scanned < 700
    assert result.findings
    assert all(f.reasons and f.score > 0 for f in result.findings)
    assert all(r.detail for f in result.findings for r in f.reasons)
    scores = [f.score for f in result.findings]
    assert scores == sorted(scores, reverse=True)
    out = json.loads(json.dumps(result.as_json()))
    assert {"entries_scanned", "findings", "checks"} <= set(out)
    assert {"entry", "document", "score", "reasons"} <= set(out["findings"][0])
    assert {"check", "detail"} <= set(out["findings"][0]["reasons"][0])
    benford = out["checks"]["benford"]["journal"]
    assert benford["first_digit"]["verdict"] in {
        "close conformity",
        "acceptable conformity",
        "marginal conformity",
        "nonconformity",
    }
    assert set(benford["first_two_digits"]["expected"]) == {str(d) for d in range(10, 100)}
    assert all("fired" in c and "description" in c for c in out["checks"].values())


def test_audit_ais_reads_the_journal_of_an_ais(tmp_path: Path) -> None:
    docs = clean()
    docs.append(invoice(100, dt.date(2024, 6, 5), Decimal("3992")))
    docs.append(invoice(101, dt.date(2024, 6, 6), Decimal("512.34"), expense="4100"))
    docs.sort(key=lambda d: (d.date, d.id))
    with ReferenceAIS.create(f"sqlite:///{tmp_path / 'ais.db'}") as ais:
        ais.load(docs, CHART)
        result = audit_ais(ais, since=SINCE, until=dt.date(2024, 7, 30))
        # With a week of history, S1's invoices are too few to judge D101's accounts.
        short = audit_ais(ais, since=SINCE, settings=AuditSettings(history_days=7))
    assert result.entries_scanned == 12
    # D100: just below 5,000 and beyond S1's range (3.0); D101: an account S1 never used
    # and ana never posted to, one unfamiliar account (2.0).
    assert [f.document for f in result.findings] == ["D100", "D101"]
    found = result.findings[0]
    assert found.entry  # the AIS's own id of the entry
    assert [r.check for r in found.reasons] == ["just_below_threshold"]
    assert result.period == (SINCE, dt.date(2024, 7, 30))
    assert short.entries_scanned == 12
    assert [f.document for f in short.findings] == ["D100"]


def test_settings_weights_change_the_ranking() -> None:
    saturday = invoice(100, dt.date(2024, 6, 1), Decimal("512.34"))
    late = invoice(101, dt.date(2024, 6, 5), Decimal("498.76"), at=dt.datetime(2024, 6, 5, 22))
    docs = sorted([*clean(), saturday, late], key=lambda d: d.date)
    settings = AuditSettings(weights={"unusual_hour": 3.0, "weekend_or_holiday": 1.0})
    result = run_audit(docs, CHART, since=SINCE, settings=settings)
    assert [(f.document, f.score) for f in result.findings] == [("D101", 3.0), ("D100", 1.0)]
