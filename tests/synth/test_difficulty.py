"""What makes the company hard: new partners, rate changes, reverse charge, policy, noise."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from ledgerpilot.ledger import Document, tax_on
from ledgerpilot.ledger.documents import SUPPLIER_INVOICE
from ledgerpilot.synth import summary
from ledgerpilot.synth.catalog import CATEGORIES
from tests.synth.conftest import CHARTS, made


def _partners_by_year(docs: list[Document]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for doc in docs:
        if doc.partner is not None:
            out[doc.date.year].add(doc.partner.id)
    return out


@pytest.mark.parametrize("chart", CHARTS)
def test_new_partners_appear_every_year_and_in_the_inbox(chart: str) -> None:
    m = made(chart, years=4)
    by_year = _partners_by_year(m.history)
    seen: set[str] = set()
    for year in sorted(by_year):
        if seen:
            assert len(by_year[year] - seen) >= 5, year
        seen |= by_year[year]
    inbox_partners = {d.partner.id for d in m.company.inbox if d.partner is not None}
    assert inbox_partners - seen, "the inbox has no partner unseen in the history"


def _rates(docs: list[Document], prefix: str) -> dict[int, set[Decimal]]:
    """Rates of domestic supplier-invoice lines whose description starts with ``prefix``."""
    out: dict[int, set[Decimal]] = defaultdict(set)
    for doc in docs:
        if doc.kind == SUPPLIER_INVOICE and doc.total_tax:
            for ln in doc.lines:
                if ln.description.startswith(prefix) and ln.tax_rate:
                    out[doc.date.year].add(ln.tax_rate)
    return out


def test_vat_rate_changes_show_in_the_documents() -> None:
    hr = _rates(made("hr", years=5, per_year=800, inbox=20).history, "Electricity")
    assert hr[2021] == {Decimal(25)} and hr[2023] == {Decimal(13)}
    de = _rates(made("de_skr03", years=5, per_year=800, inbox=20).history, "Natural gas")
    assert de[2021] == {Decimal(19)} and de[2023] == {Decimal(7)} and Decimal(19) in de[2025]
    lu = _rates(made("generic", years=5, per_year=800, inbox=20).history, "Mobile tariff")
    assert Decimal(17) in lu[2022] and lu[2023] == {Decimal(16)}


def test_german_temporary_rate_cut_of_2020() -> None:
    docs = made("de_skr03", years=2, per_year=600, inbox=10, start_year=2020).history
    by_half: dict[str, set[Decimal]] = defaultdict(set)
    for doc in docs:
        if doc.kind == SUPPLIER_INVOICE and doc.total_tax:
            half = (
                "H2 2020" if dt.date(2020, 7, 1) <= doc.date <= dt.date(2020, 12, 31) else "other"
            )
            by_half[half].update(ln.tax_rate for ln in doc.lines if ln.tax_rate)
    assert Decimal(16) in by_half["H2 2020"] and Decimal(19) not in by_half["H2 2020"]
    assert Decimal(19) in by_half["other"] and Decimal(16) not in by_half["other"]


@pytest.mark.parametrize("chart", CHARTS)
def test_reverse_charge_invoices_self_assess_vat_that_nets_to_zero(chart: str) -> None:
    m = made(chart, years=4)
    company = m.company
    tax_codes = company.chart.with_role("tax")
    found = 0
    for doc in m.history:
        if doc.kind != SUPPLIER_INVOICE or doc.partner is None or doc.total_tax:
            continue
        assert doc.entry is not None
        taxed = [ln for ln in doc.entry.lines if ln.account in tax_codes]
        if not taxed:
            continue
        found += 1
        debit = sum((ln.debit for ln in taxed), Decimal(0))
        credit = sum((ln.credit for ln in taxed), Decimal(0))
        assert debit == credit > 0, doc.id
        assert doc.partner.country != company.country
        assert all(ln.tax_rate == 0 for ln in doc.lines)
        assert (
            "Reverse charge" in doc.text
            or "Intra-Community" in doc.text
            or "not subject" in doc.text
            or "Export" in doc.text
        )
    assert found >= 10


SOFTWARE = tuple(item.description for item in CATEGORIES["software"].items)


def test_self_assessed_vat_is_the_domestic_rate_on_the_net() -> None:
    m = made("hr", years=4)
    tax_codes = m.company.chart.with_role("tax")
    checked = 0
    for doc in m.history:
        if doc.kind != SUPPLIER_INVOICE or doc.total_tax or doc.entry is None:
            continue
        if not all(ln.description.startswith(SOFTWARE) for ln in doc.lines):
            continue
        own = sum((ln.debit for ln in doc.entry.lines if ln.account in tax_codes), Decimal(0))
        assert own == sum((tax_on(ln.net, Decimal(25)) for ln in doc.lines), Decimal(0)), doc.id
        checked += 1
    assert checked >= 5


def test_policy_change_moves_the_category_and_the_truth_follows_it() -> None:
    m = made("hr", years=4, per_year=900)
    day, category, old, new = m.company.policy_change
    assert (category, old, new) == ("software", "419000", "468000")
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for doc in m.history:
        if doc.kind != SUPPLIER_INVOICE or doc.entry is None:
            continue
        for ln, entry_line in zip(doc.lines, doc.entry.lines, strict=False):
            if ln.description.startswith(SOFTWARE):
                (before if doc.date < day else after)[entry_line.account] += 1
    assert before.most_common(1)[0][0] == old
    assert after.most_common(1)[0][0] == new
    truth = [
        entry_line.account
        for doc in m.company.truth
        if doc.entry is not None
        for ln, entry_line in zip(doc.lines, doc.entry.lines, strict=False)
        if doc.kind == SUPPLIER_INVOICE and ln.description.startswith(SOFTWARE)
    ]
    assert truth and set(truth) == {new}


def test_bank_lines_settle_invoices_with_partial_payments_and_credit_notes() -> None:
    m = made("hr", years=3, per_year=1200)
    history = m.history
    numbers = Counter(
        (d.partner.id, d.number)
        for d in history
        if d.kind == SUPPLIER_INVOICE and d.partner is not None
    )
    invoices = {
        (d.partner.id, d.number): d
        for d in history
        if d.kind == SUPPLIER_INVOICE
        and d.partner is not None
        and numbers[(d.partner.id, d.number)] == 1
    }
    credits: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    parts = 0
    for doc in history:
        if doc.partner is None:
            continue
        if doc.kind == "supplier_credit_note":
            number = doc.text.split(" for invoice ")[1].split(".")[0]
            credits[(doc.partner.id, number)] += doc.total_gross
        elif doc.kind == "bank_payment" and doc.lines[0].description.startswith("Invoice "):
            number = doc.lines[0].description[len("Invoice ") :]
            assert number in doc.text or "(part" in doc.text
            paid[(doc.partner.id, number)] += doc.total_gross
            parts += "(part " in doc.text
    assert parts > 0
    assert credits
    cutoff = dt.date(m.company.end_year, 9, 30)
    checked = 0
    for key, invoice in invoices.items():
        if invoice.date < cutoff and invoice.date.year > m.company.start_year - 1:
            assert paid[key] + credits[key] == invoice.total_gross, invoice.id
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("chart", CHARTS)
def test_noise_is_present_but_modest(chart: str) -> None:
    m = made(chart, years=3, per_year=700)
    slips = m.company.history_slips()
    assert slips
    noisy = {s.document for s in slips}
    assert len(noisy) < 0.03 * len(m.history)
    by_id = {d.id: d for d in m.history}
    for slip in slips:
        doc = by_id[slip.document]
        assert doc.entry is not None and doc.entry.lines[slip.line].account == slip.posted
        assert slip.posted != slip.careful
    corrections = [d for d in m.history if d.kind == "other" and d.text.startswith("Reclass")]
    assert all(d.text.split()[2].rstrip(":") in noisy for d in corrections)


def _accounts(doc: Document) -> frozenset[tuple[str, str]]:
    assert doc.entry is not None
    return frozenset((ln.account, "D" if ln.debit else "C") for ln in doc.entry.lines)


@pytest.mark.parametrize("chart", CHARTS)
def test_a_naive_baseline_is_useful_but_not_perfect_on_the_held_out_year(chart: str) -> None:
    """Most frequent account set for (partner, kind), else for the kind: not 100 %."""
    m = made(chart, years=4, per_year=900)
    last = m.company.end_year
    by_partner: dict[tuple[str | None, str], Counter] = defaultdict(Counter)
    by_kind: dict[str, Counter] = defaultdict(Counter)
    hits = total = 0
    for doc in m.history:
        key = (doc.partner.id if doc.partner else None, doc.kind)
        actual = _accounts(doc)
        if doc.date.year == last:
            counter = by_partner.get(key) or by_kind.get(doc.kind)
            predicted = counter.most_common(1)[0][0] if counter else None
            hits += predicted == actual
            total += 1
        else:
            by_partner[key][actual] += 1
            by_kind[doc.kind][actual] += 1
    score = hits / total
    assert 0.5 < score < 1.0, score


def test_summary_counts_agree_with_the_history() -> None:
    m = made("generic", years=3, per_year=700)
    s = summary(m.company)
    assert s["history_documents"] == len(m.history)
    assert sum(s["by_kind"].values()) == len(m.history)
    assert sum(sum(k.values()) for k in s["by_year"].values()) == len(m.history)
    assert s["inbox"] == len(m.company.inbox)
    assert set(s["new_partners_per_year"]) >= set(
        range(m.company.start_year, m.company.end_year + 2)
    )
    assert s["noise"] and s["noisy_documents"] > 0
    assert s["partners"]["supplier"]["domestic"] > 0 and s["partners"]["customer"]["eu"] > 0
    assert s["vat_changes"] and s["policy_change"]["category"] == "marketing"
