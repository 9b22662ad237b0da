"""The nightly audit: beat's schedule names it, and it writes a day's report under data_dir."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from ledgerpilot.config import Settings
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review.audit_store import AuditBook
from ledgerpilot.review.store import ProposalStore
from ledgerpilot.synth import generate
from ledgerpilot.workers.app import create_app
from ledgerpilot.workers.audit_task import NIGHTLY_AUDIT, audit_day, report_dir


def company(tmp_path: Path) -> tuple[Settings, dt.date, int]:
    """A one-year company; its busiest day and how many entries are dated on it."""
    made = generate("generic", years=1, inbox=0, seed=7, per_year=150)
    url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    with ReferenceAIS.create(url) as ais:
        ais.load(made.history(), chart=made.chart)
        days = Counter(doc.date for doc in ais.history())
    day, count = days.most_common(1)[0]
    return Settings(data_dir=tmp_path / "var", ais_url=url), day, count


def test_nightly_audit_writes_the_days_report(tmp_path: Path) -> None:
    settings, day, count = company(tmp_path)
    summary = audit_day(settings, day)
    out = report_dir(settings, day)
    assert out == tmp_path / "var" / "audit" / day.isoformat()
    assert summary["day"] == day.isoformat()
    assert summary["entries_scanned"] == count
    assert summary["report"] == str(out / "report.html")
    assert (out / "report.html").is_file() and (out / "findings.csv").is_file()
    # beat runs it every night; run here in this process as the worker would
    app = create_app(settings)
    assert app.conf.beat_schedule["nightly-audit"]["task"] == NIGHTLY_AUDIT
    assert {"poll-ais", "post-approved"} <= set(app.conf.beat_schedule)
    again = app.tasks[NIGHTLY_AUDIT].apply(args=(day.isoformat(),)).get()
    assert again == {**summary, "run": summary["run"] + 1}
    # both runs are in the store, for the auditors' page
    with ProposalStore(settings.default_store_url()) as store:
        book = AuditBook(store)
        assert [r.id for r in book.runs()] == [again["run"], summary["run"]]
        stored = book.latest_run()
        assert stored is not None
        assert (stored.source, stored.period_from, stored.period_to) == ("nightly", day, day)
        assert stored.finding_count == summary["findings"]
        assert all(f.entry for f in book.findings(stored.id, per_page=1000).items)
