"""The small MCQ file shipped for tests and demos, written from a synthetic company's ledger.

Numeric questions ask for a line's VAT, its gross amount, or the net amount inside a gross
one, with distractors made the way people err (the wrong VAT rate, VAT added where it
should be taken out, a shifted decimal point, VAT subtracted). Non-numeric questions ask
which account the company posted a line to. Every answer is computed in Decimal from the
document (or read from its posted entry), and each question records the figures or the
document it comes from, so a test can check it again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..ledger import ChartOfAccounts, Document, format_amount, quantize, tax_on
from .mcq import LETTERS

COMPANY_CHART = "hr"
COMPANY_SEED = 7
COMPANY_PER_YEAR = 300
"""The synthetic company the shipped file is written from: one year of the ``hr`` chart,
seed 7, 300 documents a year (the tiny model's company, too)."""
RATES = (Decimal("25"), Decimal("13"), Decimal("5"))
"""Croatian VAT rates: the wrong-rate distractors come from here."""
PLAN = {"vat": 12, "gross": 8, "net": 6, "debit_account": 8, "credit_account": 6}
"""Questions per kind in the shipped file (40 in all)."""

_KIND_WORDS = {"supplier_invoice": "supplier invoice", "sales_invoice": "sales invoice"}


def _money(amount: Decimal) -> str:
    return format_amount(quantize(amount))


def _distinct(correct: str, candidates: Sequence[Decimal]) -> list[str]:
    """Three distractors: the first distinct positive amounts of ``candidates``."""
    chosen: list[str] = []
    for candidate in candidates:
        text = _money(candidate)
        if candidate > 0 and text != correct and text not in chosen:
            chosen.append(text)
        if len(chosen) == 3:
            break
    return chosen


def _shifted(amount: Decimal) -> list[Decimal]:
    return [amount / 10, amount * 10]


def _vat(net: Decimal, rate: Decimal, phrase: str) -> tuple[str, str, list[str], dict[str, str]]:
    tax = tax_on(net, rate)
    others = [tax_on(net, r) for r in RATES if r != rate]
    question = (
        f"{phrase} has a net amount of {_money(net)} EUR at {rate}% VAT. How much is the VAT?"
    )
    wrong = [*others, net + tax, *_shifted(tax), tax + 1]
    figures = {"net": _money(net), "tax_rate": str(rate)}
    return question, _money(tax), _distinct(_money(tax), wrong), figures


def _gross(net: Decimal, rate: Decimal, phrase: str) -> tuple[str, str, list[str], dict[str, str]]:
    tax = tax_on(net, rate)
    gross = net + tax
    question = (
        f"{phrase} has a net amount of {_money(net)} EUR at {rate}% VAT. What is the gross "
        "amount, VAT included?"
    )
    wrong = [net + tax_on(net, r) for r in RATES if r != rate] + [net - tax, net, gross * 10]
    figures = {"net": _money(net), "tax_rate": str(rate)}
    return question, _money(gross), _distinct(_money(gross), wrong), figures


def _net(net: Decimal, rate: Decimal, phrase: str) -> tuple[str, str, list[str], dict[str, str]]:
    gross = net + tax_on(net, rate)
    question = (
        f"{phrase} comes to {_money(gross)} EUR gross, {rate}% VAT included. What is the net "
        "amount?"
    )
    taken_out = gross - tax_on(gross, rate)  # VAT computed on the gross: a classic slip
    wrong = [taken_out] + [gross * 100 / (100 + r) for r in RATES if r != rate] + [gross, net / 10]
    figures = {"gross": _money(gross), "tax_rate": str(rate)}
    return question, _money(net), _distinct(_money(net), wrong), figures


def _vat_lines(documents: Sequence[Document]) -> Iterator[tuple[Document, int]]:
    for document in documents:
        if document.kind in _KIND_WORDS and document.currency == "EUR":
            for n, line in enumerate(document.lines):
                if line.tax_rate > 0:
                    yield document, n


def _account_text(chart: ChartOfAccounts, code: str) -> str:
    account = chart.get(code)
    return f"{code} {account.name}" if account is not None else code


def _account_question(
    document: Document, line_no: int, chart: ChartOfAccounts, side: str, rng: random.Random
) -> tuple[str, str, list[str], dict[str, str]] | None:
    line = document.lines[line_no]
    assert document.entry is not None
    posted = [
        ln
        for ln in document.entry.lines
        if ln.description == line.description and (ln.debit if side == "debit" else ln.credit) > 0
    ]
    if len(posted) != 1:
        return None
    code = posted[0].account
    account = chart.get(code)
    on_entry = {ln.account for ln in document.entry.lines}
    if account is None:
        return None
    pool = sorted(
        a.code
        for a in chart
        if a.postable and a.type == account.type and a.code not in on_entry and a.name
    )
    if len(pool) < 3:
        return None
    wrong = [_account_text(chart, c) for c in rng.sample(pool, 3)]
    partner = document.partner.name if document.partner else "a partner"
    what = "the cost" if side == "debit" else "the revenue"
    question = (
        f"{_KIND_WORDS[document.kind].capitalize()} {document.number} of {partner}, line "
        f"{line.description!r}: which account did the company {side} for {what}?"
    )
    return question, _account_text(chart, code), wrong, {}


def ledger_questions(
    documents: Sequence[Document], chart: ChartOfAccounts, seed: int = 0
) -> list[dict[str, Any]]:
    """The questions of :data:`PLAN` from posted ``documents``, in the FinEval layout."""
    rng = random.Random(seed)
    candidates = list(_vat_lines(documents))
    rng.shuffle(candidates)
    items: list[dict[str, Any]] = []
    counts = dict.fromkeys(PLAN, 0)
    makers = {"vat": _vat, "gross": _gross, "net": _net}
    for document, line_no in candidates:
        line = document.lines[line_no]
        phrase = f"Line {line.description!r} of {_KIND_WORDS[document.kind]} {document.number}"
        kind = next((k for k in PLAN if counts[k] < PLAN[k]), None)
        if kind is None:
            break
        if kind in makers:
            made: tuple[str, str, list[str], dict[str, str]] | None = makers[kind](
                line.net, line.tax_rate, phrase
            )
        elif document.entry is None:
            continue
        else:
            side = "debit" if kind == "debit_account" else "credit"
            wanted = "supplier_invoice" if side == "debit" else "sales_invoice"
            if document.kind != wanted:
                continue
            made = _account_question(document, line_no, chart, side, rng)
        if made is None or len(made[2]) < 3:
            continue
        question, correct, wrong, figures = made
        options = [correct, *wrong]
        rng.shuffle(options)
        item: dict[str, Any] = {"question": question}
        item.update(zip(LETTERS, options, strict=True))
        item["answer"] = LETTERS[options.index(correct)]
        item["numeric"] = kind in makers
        item["kind"] = kind
        item["document"] = document.id
        if figures:
            item["figures"] = figures
        items.append(item)
        counts[kind] += 1
    return items


def write_shipped(path: str | Path) -> int:
    """Write the shipped MCQ file from the synthetic company's history; returns the questions."""
    from ..synth import generate

    company = generate(
        COMPANY_CHART, years=1, inbox=0, seed=COMPANY_SEED, per_year=COMPANY_PER_YEAR
    )
    items = ledger_questions(list(company.history()), company.chart)
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    Path(path).write_text(text, encoding="utf-8")
    return len(items)
