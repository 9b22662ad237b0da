"""Every document the generator makes is consistent, and every entry valid on its chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from ledgerpilot.ledger import Document, PostingScheme, validate
from ledgerpilot.ledger.documents import KINDS
from tests.synth.conftest import CHARTS, made


def _scheme(doc: Document) -> PostingScheme:
    assert doc.entry is not None
    return PostingScheme(document=doc.id, kind=doc.kind, explanation="", lines=doc.entry.lines)


def _amounts(doc: Document) -> Iterator[Decimal]:
    yield from (doc.total_net, doc.total_tax, doc.total_gross)
    for ln in doc.lines:
        yield from (ln.net, ln.tax)
    if doc.entry is not None:
        for entry_line in doc.entry.lines:
            yield from (entry_line.debit, entry_line.credit)


@pytest.mark.parametrize("chart", CHARTS)
def test_every_historical_entry_is_valid_for_its_document(chart: str) -> None:
    m = made(chart)
    company = m.company
    assert len(m.history) > 1500
    for doc in m.history:
        assert doc.entry is not None, doc.id
        assert doc.check() == [], doc.id
        assert doc.entry.is_balanced(), doc.id
        for ln in doc.entry.lines:
            account = company.chart.get(ln.account)
            assert account is not None and account.postable, (doc.id, ln.account)
        assert validate(_scheme(doc), company.chart, doc) == [], doc.id


@pytest.mark.parametrize("chart", CHARTS)
def test_history_is_in_date_order_with_unique_ids_and_known_kinds(chart: str) -> None:
    m = made(chart)
    dates = [doc.date for doc in m.history]
    assert dates == sorted(dates)
    ids = [doc.id for doc in m.history]
    assert len(set(ids)) == len(ids)
    assert {doc.kind for doc in m.history} == set(KINDS)
    for doc in m.history[:400]:
        prefix, year, number = doc.id.split("-")
        assert len(prefix) == 2 and int(year) == doc.date.year and len(number) == 6
        assert doc.entry is not None and doc.entry.date == doc.date


@pytest.mark.parametrize("chart", CHARTS)
def test_amounts_are_decimals_with_two_places(chart: str) -> None:
    for doc in made(chart).history:
        assert doc.currency == "EUR"
        for amount in _amounts(doc):
            assert isinstance(amount, Decimal)
            assert amount.as_tuple().exponent == -2, (doc.id, amount)
            assert amount >= 0


@pytest.mark.parametrize("chart", CHARTS)
def test_entries_are_signed_by_a_clerk_on_a_working_day(chart: str) -> None:
    m = made(chart)
    users = {c.user for c in m.company.plan.clerks} | {m.company.plan.chief}
    for doc in m.history:
        entry = doc.entry
        assert entry is not None and entry.posted_by in users
        at = entry.posted_at
        assert at is not None and at.date() >= doc.date
        assert at.weekday() < 5 and 8 <= at.hour <= 22
        assert at.date() - doc.date < dt.timedelta(days=40)


@pytest.mark.parametrize("chart", CHARTS)
def test_truth_is_valid_and_the_inbox_is_pending_and_after_the_history(chart: str) -> None:
    m = made(chart)
    company = m.company
    end = dt.date(company.end_year, 12, 31)
    assert len(company.inbox) == len(company.truth) == 150
    assert [d.id for d in company.inbox] == [d.id for d in company.truth]
    history_ids = {doc.id for doc in m.history}
    for pending, truth in zip(company.inbox, company.truth, strict=True):
        assert pending.entry is None
        assert pending.date > end
        assert pending.id not in history_ids
        assert truth.entry is not None and truth.entry.posted_by is None
        assert pending.to_json() == {k: v for k, v in truth.to_json().items() if k != "entry"}
        assert truth.check() == []
        assert validate(_scheme(truth), company.chart, truth) == [], truth.id
    assert m.history[-1].date <= end


def test_generic_chart_gains_only_the_documented_accounts() -> None:
    company = made("generic").company
    assert company.opened_accounts == ("101401", "1511", "6210", "6500")
    assert company.chart.with_role("liquidity") >= {"101401"}
    for chart in ("hr", "de_skr03"):
        assert made(chart).company.opened_accounts == ()


def test_document_volume_is_close_to_per_year() -> None:
    m = made("hr", years=3, per_year=2500, inbox=10)
    per_year: dict[int, int] = {}
    for doc in m.history:
        per_year[doc.date.year] = per_year.get(doc.date.year, 0) + 1
    for year, count in per_year.items():
        assert 2250 <= count <= 2750, (year, count)
    kinds: dict[str, int] = {}
    for doc in m.history:
        kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
    invoices_and_bank = sum(
        kinds[k] for k in ("supplier_invoice", "sales_invoice", "bank_payment", "bank_receipt")
    )
    assert invoices_and_bank > 0.85 * len(m.history)
