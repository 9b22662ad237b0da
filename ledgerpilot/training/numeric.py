"""The numeric module's data: NumCT-style choice items and arithmetic items from the ledger.

After NumLLM, whose numeric LoRA module is tuned to choose the right number for a masked
slot among plausible ones. Every item comes from a posted document and its entry:

* cloze items (``gross_from_net``, ``tax_from_net``, ``net_from_gross``, ``entry_balance``):
  a sentence about a document or its entry with one number masked;
* arithmetic items (``tax_chain``: net -> VAT -> gross, ``split``: a net split across
  accounts by percentages, the remainder to the last, ``currency``: a conversion at a stated
  rate, ``depreciation``: a straight-line instalment);
* non-numeric items (``settlement_account``, ``expense_account``: which account a kind of
  document or a purchase is posted to), for comparing numeric with other questions.

Distractors are the mistakes people make: VAT included instead of excluded, net for gross,
the wrong rate, a shifted decimal point, two digits swapped. Each answer is computed in
``Decimal`` with the ledger's money helpers and checked against the posted figures; an item
whose answer the ledger contradicts, or that cannot get three distinct distractors, is not
made. Answers are spread evenly over A-D (seeded).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..agent.prompts import render_scheme, safe_json
from ..ledger import ChartOfAccounts, Document, check_scheme
from ..ledger.money import HUNDRED, format_amount, minor_unit, quantize, tax_on
from ..ledger.validation import SETTLEMENT

LETTERS = ("A", "B", "C", "D")
WRONG_RATES = tuple(Decimal(r) for r in ("25", "13", "5", "20", "19", "10", "0"))
"""Rates tried as the wrong rate, first ones first (the rate itself is skipped)."""
FX_RATES: dict[str, tuple[str, str]] = {
    "USD": ("1.0500", "1.1200"),
    "GBP": ("0.8300", "0.8800"),
    "CHF": ("0.9300", "0.9800"),
    "HUF": ("380.00", "410.00"),
    "PLN": ("4.2000", "4.4000"),
}
"""Conversion rates (1 unit of the document's currency in these) drawn between the bounds."""
SPLITS = ((60, 40), (50, 30, 20), (70, 30), (40, 35, 25))
NUMERIC_SYSTEM_PROMPT = (
    "You are a bookkeeper's assistant. Answer the question about the company's documents and "
    "journal entries exactly. Amounts are written with a dot and the currency's decimals, "
    'like "1234.50"; VAT is rounded half up to the cent.'
)
_DEPRECIATION = re.compile(
    r"(Monthly|Annual) straight-line depreciation of .*, cost (\d+(?:\.\d+)?), life (\d+) months"
)


@dataclass(frozen=True)
class NumericItem:
    """One item: a question, its right value, three wrong ones, and what it was made from."""

    kind: str
    question: str
    value: str
    distractors: tuple[str, str, str]
    inputs: dict[str, str]
    """The figures the question states, by name (what a test recomputes the answer from)."""
    document: str
    date: dt.date
    solution: str
    """The worked answer (the assistant's message in numeric_train.jsonl)."""
    numeric: bool = True
    choice: bool = True
    """Whether the chat form lists the options (cloze items do, arithmetic ones do not)."""

    def mcq(self, position: int) -> dict[str, Any]:
        """The FinEval record with the right value at ``position`` (0-3)."""
        options = list(self.distractors)
        options.insert(position, self.value)
        record: dict[str, Any] = {"question": self.question}
        record.update(zip(LETTERS, options, strict=True))
        record.update(
            answer=LETTERS[position],
            numeric=self.numeric,
            kind=self.kind,
            document=self.document,
            date=self.date.isoformat(),
            inputs=self.inputs,
            value=self.value,
        )
        return record

    def chat(self, rng: random.Random) -> dict[str, Any]:
        """The chat record (system, user, assistant) for supervised fine-tuning."""
        user = self.question
        if self.choice:
            options = [self.value, *self.distractors]
            rng.shuffle(options)
            user += "\nChoose one of: " + ", ".join(options)
        return {
            "messages": [
                {"role": "system", "content": NUMERIC_SYSTEM_PROMPT},
                {"role": "user", "content": user},
                {"role": "assistant", "content": self.solution},
            ],
            "kind": self.kind,
            "document": self.document,
            "date": self.date.isoformat(),
            "inputs": self.inputs,
            "value": self.value,
        }


def shifted(value: Decimal, currency: str) -> list[Decimal]:
    """``value`` with its decimal point one place to the right and one to the left."""
    return [quantize(value * 10, currency), quantize(value / 10, currency)]


def swapped(value: Decimal, currency: str, rng: random.Random) -> list[Decimal]:
    """``value`` with two adjacent, different digits swapped (one such swap, chosen by ``rng``)."""
    text = format_amount(value, currency)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    pairs = [(a, b) for a, b in itertools.pairwise(digits) if b == a + 1 and text[a] != text[b]]
    if not pairs:
        return []
    a, b = rng.choice(pairs)
    chars = list(text)
    chars[a], chars[b] = chars[b], chars[a]
    return [Decimal("".join(chars))]


def distractors(
    value: Decimal, errors: Iterable[Decimal], currency: str, rng: random.Random
) -> tuple[str, str, str] | None:
    """Three distinct wrong values: the given ``errors`` first (in random order), then slips.

    Slips are a shifted decimal point and swapped digits. Values equal to the answer, not
    positive, or repeated are skipped; ``None`` when three cannot be found.
    """
    right = format_amount(value, currency)
    specific = list(errors)
    rng.shuffle(specific)
    slips = shifted(value, currency) + swapped(value, currency, rng)
    rng.shuffle(slips)
    chosen: list[str] = []
    for candidate in [*specific, *slips, value + Decimal("0.01"), value - Decimal("0.01")]:
        text = format_amount(candidate, currency)
        if candidate > 0 and text != right and text not in chosen:
            chosen.append(text)
        if len(chosen) == 3:
            return (chosen[0], chosen[1], chosen[2])
    return None


def _wrong_rates(rate: Decimal) -> list[Decimal]:
    return [r for r in WRONG_RATES if r != rate][:2]


def _single_rate(document: Document) -> Decimal | None:
    """The one VAT rate of a taxed document whose VAT is that rate of its net, else ``None``."""
    rates = {ln.tax_rate for ln in document.lines}
    if len(rates) != 1 or not document.total_tax:
        return None
    rate = rates.pop()
    if tax_on(document.total_net, rate, document.currency) != document.total_tax:
        return None
    return rate


def _label(document: Document) -> str:
    who = f" from {safe_json(document.partner.name)}" if document.partner else ""
    kind = document.kind.replace("_", " ")
    return f"The {kind} {safe_json(document.number)}{who} dated {document.date.isoformat()}"


Maker = Callable[[Document, ChartOfAccounts, random.Random], list[NumericItem]]


def _item(
    kind: str,
    document: Document,
    question: str,
    value: Decimal,
    wrong: tuple[str, str, str] | None,
    inputs: dict[str, str],
    solution: str = "",
    currency: str | None = None,
    choice: bool = True,
) -> list[NumericItem]:
    if wrong is None:
        return []
    text = format_amount(value, currency or document.currency)
    return [
        NumericItem(
            kind,
            question,
            text,
            wrong,
            inputs,
            document.id,
            document.date,
            solution or text,
            choice=choice,
        )
    ]


def vat_cloze(document: Document, chart: ChartOfAccounts, rng: random.Random) -> list[NumericItem]:
    """A sentence on a taxed document's net, VAT and gross with one of them masked."""
    rate = _single_rate(document)
    if rate is None:
        return []
    c = document.currency
    net, tax, gross = document.total_net, document.total_tax, document.total_gross
    r = _rate_text(rate)
    label = _label(document)
    wrong_rates = _wrong_rates(rate)
    which = rng.choice(("gross_from_net", "tax_from_net", "net_from_gross"))
    if which == "gross_from_net":
        value = net + tax_on(net, rate, c)
        errors = [net, net - tax_on(net, rate, c), *(net + tax_on(net, w, c) for w in wrong_rates)]
        question = (
            f"{label} has a net of {format_amount(net, c)} {c} and VAT at {r}%; "
            f"its gross total is ____ {c}."
        )
        inputs, posted = {"net": format_amount(net, c), "rate": r}, gross
    elif which == "tax_from_net":
        value = tax_on(net, rate, c)
        # VAT taken on the gross (as if VAT were excluded from it), or at the wrong rate.
        errors = [tax_on(gross, rate, c), *(tax_on(net, w, c) for w in wrong_rates)]
        question = f"{label} has a net of {format_amount(net, c)} {c}; its VAT at {r}% is ____ {c}."
        inputs, posted = {"net": format_amount(net, c), "rate": r}, tax
    else:
        value = gross - quantize(gross * rate / (HUNDRED + rate), c)
        # The gross taken for the net, VAT taken off as if the gross were the net, wrong rate.
        errors = [gross, gross - tax_on(gross, rate, c)]
        errors += [quantize(gross * HUNDRED / (HUNDRED + w), c) for w in wrong_rates]
        question = (
            f"{label} has a gross total of {format_amount(gross, c)} {c}, VAT at {r}% "
            f"included; its net is ____ {c}."
        )
        inputs, posted = {"gross": format_amount(gross, c), "rate": r}, net
    if value != posted:
        return []  # the document rounds otherwise: the sentence would not determine it
    return _item(which, document, question, value, distractors(value, errors, c, rng), inputs)


def tax_chain(document: Document, chart: ChartOfAccounts, rng: random.Random) -> list[NumericItem]:
    """Net -> VAT -> gross, with the working."""
    rate = _single_rate(document)
    if rate is None:
        return []
    c = document.currency
    net = document.total_net
    tax = tax_on(net, rate, c)
    gross = net + tax
    if gross != document.total_gross:
        return []
    r = _rate_text(rate)
    errors = [
        net,
        tax_on(gross, rate, c) + net,
        *(net + tax_on(net, w, c) for w in _wrong_rates(rate)),
    ]
    n, t, g = (format_amount(x, c) for x in (net, tax, gross))
    return _item(
        "tax_chain",
        document,
        f"An invoice has a net of {n} {c} at {r}% VAT. What is its gross total in {c}?",
        gross,
        distractors(gross, errors, c, rng),
        {"net": n, "rate": r},
        f"VAT = {n} x {r}% = {t}; gross = {n} + {t} = {g}",
        choice=False,
    )


def entry_balance(
    document: Document, chart: ChartOfAccounts, rng: random.Random
) -> list[NumericItem]:
    """A sentence on a posted entry of three or more lines, the largest line masked."""
    entry = document.entry
    if entry is None or len(entry.lines) < 3 or len(entry.lines) > 8:
        return []
    c = document.currency
    masked = max(range(len(entry.lines)), key=lambda i: entry.lines[i].amount)
    hidden = entry.lines[masked]
    parts = []
    for i, ln in enumerate(entry.lines):
        name = chart[ln.account].name if ln.account in chart else ln.account
        verb = "debits" if ln.side == "debit" else "credits"
        amount = "____" if i == masked else format_amount(ln.amount, c)
        parts.append(f"{verb} {ln.account} ({safe_json(name)}) {amount} {c}")
    other = sum((ln.amount for ln in entry.lines if ln.side != hidden.side), Decimal(0))
    same = sum(
        (ln.amount for i, ln in enumerate(entry.lines) if ln.side == hidden.side and i != masked),
        Decimal(0),
    )
    value = other - same
    if value != hidden.amount:
        return []
    tax = document.total_tax
    errors = [document.total_net, value - tax, value + tax, other + same]
    question = f"The journal entry of {_label(document)[4:]} " + ", ".join(parts) + "."
    inputs = {
        f"{ln.side}:{i}": format_amount(ln.amount, c)
        for i, ln in enumerate(entry.lines)
        if i != masked
    }
    inputs["masked_side"] = hidden.side
    return _item(
        "entry_balance", document, question, value, distractors(value, errors, c, rng), inputs
    )


def split(document: Document, chart: ChartOfAccounts, rng: random.Random) -> list[NumericItem]:
    """A supplier invoice's net split across cost accounts by percentages; the last share asked."""
    if document.kind != "supplier_invoice" or document.entry is None or document.total_net <= 0:
        return []
    debits = [ln.account for ln in document.entry.lines if ln.side == "debit"]
    costs = [a for a in debits if a in chart and chart[a].role is None]
    if not costs:
        return []
    shares = rng.choice(SPLITS)
    first = chart[costs[0]]
    peers = [a.code for a in chart if a.postable and a.type == first.type and a.code != first.code]
    if len(peers) < len(shares) - 1:
        return []
    accounts = [first.code, *rng.sample(peers, len(shares) - 1)]
    c = document.currency
    net = document.total_net
    amounts = [quantize(net * Decimal(p) / HUNDRED, c) for p in shares[:-1]]
    value = net - sum(amounts, Decimal(0))
    amounts.append(value)
    if sum(amounts, Decimal(0)) != net:
        return []
    n = format_amount(net, c)
    where = ", ".join(f"{p}% to {a}" for p, a in zip(shares, accounts, strict=True))
    errors = [
        quantize(net * Decimal(shares[-1]) / HUNDRED, c) + Decimal("0.01"),
        quantize(document.total_gross * Decimal(shares[-1]) / HUNDRED, c),
        amounts[0],
        quantize(net / len(shares), c),
    ]
    working = "; ".join(
        f"{a}: {format_amount(x, c)}" for a, x in zip(accounts, amounts, strict=True)
    )
    return _item(
        "split",
        document,
        f"A net of {n} {c} is split {where}, each share rounded to the cent and the rounding "
        f"difference left to {accounts[-1]}. How much goes to {accounts[-1]}?",
        value,
        distractors(value, errors, c, rng),
        {"net": n, "shares": ",".join(str(p) for p in shares)},
        f"{working} (together {n}); {accounts[-1]} gets {format_amount(value, c)}",
        choice=False,
    )


def currency(document: Document, chart: ChartOfAccounts, rng: random.Random) -> list[NumericItem]:
    """An invoice's gross converted into another currency at a stated rate (a third of invoices)."""
    if document.kind not in ("supplier_invoice", "sales_invoice") or rng.random() > 1 / 3:
        return []
    target = rng.choice([cur for cur in FX_RATES if cur != document.currency])
    low, high = (Decimal(x) for x in FX_RATES[target])
    places = -low.as_tuple().exponent  # type: ignore[operator]
    step = Decimal(1).scaleb(-places)
    rate = low + step * rng.randint(0, int((high - low) / step))
    c = document.currency
    gross = document.total_gross
    value = quantize(gross * rate, target)
    if abs(value - gross * rate) > Decimal(1).scaleb(-minor_unit(target)) / 2:
        return []
    errors = [quantize(gross / rate, target), quantize(document.total_net * rate, target)]
    g = format_amount(gross, c)
    return _item(
        "currency",
        document,
        f"An invoice of {g} {c} is converted at 1 {c} = {rate} {target}. "
        f"How much is it in {target}?",
        value,
        distractors(value, errors, target, rng),
        {"amount": g, "rate": f"{rate}", "from": c, "to": target},
        f"{g} x {rate} = {format_amount(value, target)} {target}",
        currency=target,
        choice=False,
    )


def depreciation(
    document: Document, chart: ChartOfAccounts, rng: random.Random
) -> list[NumericItem]:
    """A straight-line instalment from an asset's cost and life, as the document posts it."""
    match = _DEPRECIATION.search(document.text) if document.kind == "depreciation" else None
    if match is None:
        return []
    period, cost_text, life_text = match.groups()
    c = document.currency
    cost, months = Decimal(cost_text), int(life_text)
    monthly = quantize(cost / months, c)
    annual = quantize(cost * 12 / months, c)
    value, other = (monthly, annual) if period == "Monthly" else (annual, monthly)
    if value != document.total_net:
        return []  # a last instalment takes the remainder: not what the formula gives
    errors = [other, quantize(cost / (months * 12), c), quantize(cost / months * 10, c)]
    per = "month" if period == "Monthly" else "year"
    return _item(
        "depreciation",
        document,
        f"An asset costs {format_amount(cost, c)} {c} and is depreciated straight-line over "
        f"{months} months. What is the instalment per {per} in {c}?",
        value,
        distractors(value, errors, c, rng),
        {"cost": format_amount(cost, c), "months": str(months), "per": per},
        f"{format_amount(cost, c)} / {months}"
        + (" x 12" if per == "year" else "")
        + f" = {format_amount(value, c)}",
        choice=False,
    )


def _rate_text(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def _account_option(chart: ChartOfAccounts, code: str) -> str:
    return f"{code} {chart[code].name}"


def _account_distractors(
    chart: ChartOfAccounts, code: str, rng: random.Random
) -> tuple[str, str, str] | None:
    """Three other postable accounts like ``code``: same role, else same type, same class first."""
    account = chart[code]
    like = [
        a
        for a in chart
        if a.postable
        and a.code != code
        and (a.role == account.role if account.role else a.type == account.type)
    ]
    rng.shuffle(like)
    like.sort(key=lambda a: a.account_class != account.account_class)
    names = list(dict.fromkeys(_account_option(chart, a.code) for a in like))
    right = _account_option(chart, code)
    names = [n for n in names if n != right][:3]
    return (names[0], names[1], names[2]) if len(names) == 3 else None


def account_items(
    document: Document, chart: ChartOfAccounts, rng: random.Random
) -> list[NumericItem]:
    """Non-numeric: the account that settles a document, and the account of a purchase line."""
    entry = document.entry
    if entry is None or document.kind not in SETTLEMENT or document.partner is None:
        return []
    side, roles = SETTLEMENT[document.kind]
    made: list[NumericItem] = []
    partner = safe_json(document.partner.name)
    kind = document.kind.replace("_", " ")
    for ln in entry.lines:
        account = chart.get(ln.account)
        if account is None:
            continue
        if ln.side == side and account.role in roles:
            question = (
                f"On which account does the company book the {side} of the gross total of a "
                f"{kind} from {partner}?"
            )
            kind_name = "settlement_account"
        elif document.kind == "supplier_invoice" and ln.side == "debit" and account.role is None:
            question = (
                f"Which account does the company debit for {safe_json(ln.description)} on a "
                f"{kind} from {partner}?"
            )
            kind_name = "expense_account"
        else:
            continue
        wrong = _account_distractors(chart, ln.account, rng)
        if wrong is not None:
            answer = _account_option(chart, ln.account)
            made.append(
                NumericItem(
                    kind_name,
                    question,
                    answer,
                    wrong,
                    {"account": ln.account},
                    document.id,
                    document.date,
                    answer,
                    numeric=False,
                )
            )
    return made


NUMERIC_MAKERS: tuple[Maker, ...] = (
    vat_cloze,
    tax_chain,
    entry_balance,
    split,
    currency,
    depreciation,
)
"""The makers of numeric items, each ``(document, chart, rng) -> items``."""


def items_of(
    document: Document, chart: ChartOfAccounts, seed: int = 0, accounts: bool = True
) -> list[NumericItem]:
    """All items of one posted document (seeded by ``seed`` and the document's id)."""
    rng = random.Random(f"{seed}:{document.id}")
    found: list[NumericItem] = []
    for maker in NUMERIC_MAKERS:
        found.extend(maker(document, chart, rng))
    if accounts:
        found.extend(account_items(document, chart, rng))
    return found


@dataclass
class NumericData:
    """The items of a history, split by date."""

    train: list[NumericItem] = field(default_factory=list)
    mcq: list[NumericItem] = field(default_factory=list)
    holdout_from: dt.date | None = None
    documents: int = 0
    skipped_documents: int = 0
    """Posted documents whose entry does not validate (no items are made from them)."""


def numeric_data(
    documents: Iterable[Document],
    chart: ChartOfAccounts,
    holdout_from: dt.date | None = None,
    seed: int = 0,
    max_per_kind: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> NumericData:
    """Items from ``documents``: before ``holdout_from`` for training, from it on for the MCQ.

    ``holdout_from`` defaults to 1 January of the last year of the history. Non-numeric
    items go to the MCQ only; the MCQ keeps each question text once. ``max_per_kind`` keeps at most that
    many items of each kind per file (a seeded sample).
    """
    made: list[NumericItem] = []
    data = NumericData()
    last: dt.date | None = None
    for document in documents:
        data.documents += 1
        if on_progress is not None and data.documents % 200 == 0:
            on_progress(data.documents)
        if document.entry is None or check_scheme(render_scheme(document), chart, document)[1]:
            data.skipped_documents += 1
            continue
        last = document.date
        made.extend(items_of(document, chart, seed))
    if holdout_from is None:
        holdout_from = dt.date(last.year, 1, 1) if last else dt.date.today()
    data.holdout_from = holdout_from
    asked: set[str] = set()
    for item in made:
        if item.date < holdout_from:
            if item.numeric:
                data.train.append(item)
        elif item.question not in asked:
            asked.add(item.question)
            data.mcq.append(item)
    if max_per_kind is not None:
        rng = random.Random(seed)
        data.train = _cap(data.train, max_per_kind, rng)
        data.mcq = _cap(data.mcq, max_per_kind, rng)
    return data


def _cap(items: Sequence[NumericItem], limit: int, rng: random.Random) -> list[NumericItem]:
    by_kind: dict[str, list[int]] = {}
    for n, item in enumerate(items):
        by_kind.setdefault(item.kind, []).append(n)
    keep: set[int] = set()
    for indexes in by_kind.values():
        keep.update(indexes if len(indexes) <= limit else rng.sample(indexes, limit))
    return [item for n, item in enumerate(items) if n in keep]


def balanced_positions(count: int, seed: int = 0) -> list[int]:
    """Positions 0-3 for ``count`` answers: each block of four a seeded permutation of 0-3."""
    rng = random.Random(seed)
    out: list[int] = []
    while len(out) < count:
        block = [0, 1, 2, 3]
        rng.shuffle(block)
        out.extend(block)
    return out[:count]


def write_numeric(data: NumericData, out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Write numeric_train.jsonl and numeric_mcq.jsonl; returns counts per kind and per letter."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with (out_dir / "numeric_train.jsonl").open("w", encoding="utf-8", newline="\n") as out:
        for item in data.train:
            out.write(json.dumps(item.chat(rng), ensure_ascii=False) + "\n")
    letters = {letter: 0 for letter in LETTERS}
    with (out_dir / "numeric_mcq.jsonl").open("w", encoding="utf-8", newline="\n") as out:
        for item, position in zip(data.mcq, balanced_positions(len(data.mcq), seed), strict=True):
            letters[LETTERS[position]] += 1
            out.write(json.dumps(item.mcq(position), ensure_ascii=False) + "\n")

    def kinds(items: Iterable[NumericItem]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in items:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        return dict(sorted(counts.items()))

    return {
        "holdout_from": data.holdout_from.isoformat() if data.holdout_from else None,
        "documents": data.documents,
        "skipped_documents": data.skipped_documents,
        "numeric_train": {"items": len(data.train), "by_kind": kinds(data.train)},
        "numeric_mcq": {
            "items": len(data.mcq),
            "numeric": sum(1 for i in data.mcq if i.numeric),
            "non_numeric": sum(1 for i in data.mcq if not i.numeric),
            "by_kind": kinds(data.mcq),
            "answers": letters,
        },
    }
