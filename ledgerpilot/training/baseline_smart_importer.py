"""The smart_importer baseline: beancount's own ML importer, trained on the same history.

`smart_importer <https://github.com/beancount/smart_importer>`_ (PyPI ``smart-importer``)
is a beangulp hook. Its authors' intended use: an importer reads a bank (or other) file
into *single-legged* transactions (one posting, on the importer's own account), and the
``PredictPostings`` hook, trained on the existing ledger, completes each one with the rest
of its postings. Its model is a linear SVM over n-grams of the narration (weight 0.8) and
payee (0.5) plus the day of month (0.1); the class it predicts is the sorted list of *all*
posting accounts of a historical transaction (say ``"Assets:1400 Expenses:6100
Liabilities:2000"``), so it proposes whole account combinations, any number of postings,
but never amounts or signs. It trains only on transactions that touch the importer's
account (``training_data_filter``), and it only completes transactions that have exactly
one posting.

How ledgerpilot's documents map onto that use (nothing of smart_importer is changed):

* Every account of the chart is opened (``Open``) before the history, as a ledger would;
  code ``1200`` becomes ``Assets:1200`` (the root from the account type).
* Each historical posted document becomes a ``Transaction`` on its date, with payee = the
  partner's name and narration = the document's text and its line descriptions; its
  postings are the posted lines, merged per account and side (as a beancount user writes
  one posting per account), debits positive, credits negative.
* Each held-out document becomes the single-legged transaction an importer would produce:
  the same payee, narration and date, and only its *settling* posting: the line on a
  payable, receivable or liquidity account that settles the gross total (for a bank line,
  the bank account), taken from the document's gold entry, with its amount. That account
  is the importer's account, as the authors intend (one importer per bank or ledger).
  Held-out documents are grouped by it and passed to one ``PredictPostings().hook`` call,
  which retrains per group exactly as beangulp would.
* smart_importer returns accounts without amounts, so it says nothing about sides. The
  side of each predicted account is read off the history: among past transactions with
  exactly the predicted account combination, the most frequent debit/credit pattern in
  which the settling account is on the document's side (a credit note flips an invoice's
  pattern). This is our post-processing, generous to the baseline; beancount would leave
  the user to type the amounts.

What :func:`fit_predict` returns for a document: the settling pair first (given, not
predicted), then the predicted pairs. When smart_importer cannot predict (no training
transaction touches the settling account) only the settling pair comes back; a document
whose entry has no settling line (depreciation, most payroll) cannot be presented to an
importer at all and gets an empty list.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerpilot.ledger import ChartOfAccounts, Document, JournalEntry
from ledgerpilot.ledger.validation import SETTLEMENT

SETTLING_ROLES = frozenset({"payable", "receivable", "liquidity"})
"""Account roles that settle a document: what an importer's own account would be."""

ZERO = Decimal(0)
_META = {"filename": "<ledgerpilot>", "lineno": 0}
_COMPONENT = re.compile(r"^[A-Z0-9][A-Za-z0-9-]*$")


class BaselineUnavailable(RuntimeError):
    """smart_importer (or beancount) cannot be imported here; the message says why."""


Pair = tuple[str, str]
"""(account code, side)."""


@dataclass(frozen=True, slots=True)
class _Posting:
    account: str
    side: str
    amount: Decimal

    @property
    def signed(self) -> Decimal:
        return self.amount if self.side == "debit" else -self.amount


def _load() -> tuple[Any, Any]:
    """(beancount.core.data, smart_importer.PredictPostings), or BaselineUnavailable."""
    try:
        from beancount.core import data
        from smart_importer import PredictPostings
    except ImportError as exc:
        raise BaselineUnavailable(
            f"smart_importer cannot be imported ({exc}); install it with "
            "`pip install 'smart-importer>=1.2'` (it brings beancount 3 and beangulp)"
        ) from exc
    return data, PredictPostings


def _merged(entry: JournalEntry) -> list[_Posting]:
    """The entry's lines merged per (account, side), in order of first appearance."""
    totals: dict[Pair, Decimal] = {}
    for ln in entry.lines:
        for side, amount in (("debit", ln.debit), ("credit", ln.credit)):
            if amount:
                totals[(ln.account, side)] = totals.get((ln.account, side), ZERO) + amount
    return [_Posting(acc, side, amount) for (acc, side), amount in totals.items() if amount]


def _settling_posting(
    document: Document, postings: Sequence[_Posting], chart: ChartOfAccounts
) -> _Posting | None:
    """The posting that settles the document: what an importer's account would carry.

    For kinds that :data:`ledgerpilot.ledger.validation.SETTLEMENT` knows, the largest
    posting on the kind's settlement side to an account of its roles; for other kinds, the
    largest posting to any payable, receivable or liquidity account; ``None`` if none.
    """
    side, roles = SETTLEMENT.get(document.kind, (None, SETTLING_ROLES))
    best = None
    for p in postings:
        account = chart.get(p.account)
        if account is None or account.role not in roles:
            continue
        if side is not None and p.side != side:
            continue
        if best is None or p.amount > best.amount:
            best = p
    return best


def _narration(document: Document) -> str:
    parts = [document.text, *(ln.description for ln in document.lines)]
    return " ".join(p.strip() for p in parts if p and p.strip())


def _root(type_: object) -> str:
    value = str(type_)
    for prefix, root in (
        ("asset", "Assets"),
        ("liability", "Liabilities"),
        ("income", "Income"),
        ("expense", "Expenses"),
    ):
        if value.startswith(prefix):
            return root
    return "Equity"


def account_names(chart: ChartOfAccounts, codes: Iterable[str] = ()) -> dict[str, str]:
    """Code -> a valid beancount account name (``1200`` -> ``Assets:1200``), one-to-one.

    Codes outside the chart (``codes``) go under ``Equity``. A code that is not a valid
    beancount name component is made one (``X`` prefix, ``-`` for odd characters).
    """
    types = {a.code: a.type for a in chart}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for code in [*types, *(c for c in codes if c not in types)]:
        if code in names:
            continue
        component = code if _COMPONENT.match(code) else "X" + re.sub(r"[^A-Za-z0-9-]", "-", code)
        name = f"{_root(types.get(code, 'equity'))}:{component}"
        while name in taken:  # two odd codes sanitized alike
            name += "-"
        names[code] = name
        taken.add(name)
    return names


def fit_predict(
    history: Iterable[Document], held_out: Sequence[Document], chart: ChartOfAccounts
) -> dict[str, list[Pair]]:
    """Train smart_importer's ``PredictPostings`` on ``history``; complete ``held_out``.

    Returns document id -> [(account code, side), ...]: the settling posting first (taken
    from the gold entry, as an importer knows its own account), then the postings
    smart_importer predicted, with sides read from the history (see the module's
    docstring). Historical documents without an entry are ignored. Raises
    :class:`BaselineUnavailable` when smart_importer cannot be imported, and
    ``ValueError`` for a held-out document without its posted entry.
    """
    for doc in held_out:
        if doc.entry is None:
            raise ValueError(
                f"held-out document {doc.id!r} has no posted entry: its settling account "
                "(the importer's account) and the gold answer come from it"
            )
    data, predict_postings = _load()
    past = [(doc, _merged(doc.entry)) for doc in history if doc.entry is not None]
    new = [(doc, _merged(doc.entry)) for doc in held_out if doc.entry is not None]
    used = {p.account for _, ps in [*past, *new] for p in ps}
    names = account_names(chart, sorted(used))
    codes = {name: code for code, name in names.items()}
    currency_of = {doc.id: doc.currency for doc, _ in [*past, *new]}

    def posting(p: _Posting, doc_id: str) -> Any:
        units = data.Amount(p.signed, currency_of[doc_id])
        return data.Posting(names[p.account], units, None, None, None, None)

    def transaction(doc: Document, postings: Sequence[_Posting]) -> Any:
        return data.Transaction(
            dict(_META),
            doc.date,
            "*",
            doc.partner.name if doc.partner else None,
            _narration(doc),
            frozenset(),
            frozenset(),
            [posting(p, doc.id) for p in postings],
        )

    opened = min((doc.date for doc, _ in [*past, *new]), default=dt.date(2000, 1, 1))
    opens = [
        data.Open(dict(_META), opened - dt.timedelta(days=1), name, None, None)
        for name in names.values()
    ]
    existing = opens + [transaction(doc, ps) for doc, ps in past if ps]
    patterns = _side_patterns(ps for _, ps in past)

    results: dict[str, list[Pair]] = {}
    groups: dict[str, list[Any]] = defaultdict(list)
    settling: dict[str, _Posting] = {}
    for doc, ps in new:
        anchor = _settling_posting(doc, ps, chart)
        if anchor is None:
            results[doc.id] = []
            continue
        settling[doc.id] = anchor
        txn = transaction(doc, [anchor])
        groups[names[anchor.account]].append(txn._replace(meta={**_META, "document": doc.id}))
    imported = [
        (f"<ledgerpilot:{account}>", txns, account, None) for account, txns in groups.items()
    ]
    completed = predict_postings().hook(imported, existing) if imported else []
    for _, txns, _, _ in completed:
        for txn in txns:
            doc_id = txn.meta["document"]
            anchor = settling[doc_id]
            predicted = [codes[p.account] for p in txn.postings]
            results[doc_id] = _with_sides(anchor, predicted, patterns)
    return {doc.id: results[doc.id] for doc in held_out}


def _side_patterns(
    history: Iterable[Sequence[_Posting]],
) -> dict[tuple[str, ...], Counter[tuple[Pair, ...]]]:
    """Account combination (sorted codes, as smart_importer's labels) -> side patterns seen."""
    out: dict[tuple[str, ...], Counter[tuple[Pair, ...]]] = defaultdict(Counter)
    for postings in history:
        label = tuple(sorted(p.account for p in postings))
        out[label][tuple(sorted((p.account, p.side) for p in postings))] += 1
    return out


def _flip(pattern: tuple[Pair, ...]) -> tuple[Pair, ...]:
    other = {"debit": "credit", "credit": "debit"}
    return tuple(sorted((acc, other[side]) for acc, side in pattern))


def _with_sides(
    anchor: _Posting,
    predicted: Sequence[str],
    patterns: dict[tuple[str, ...], Counter[tuple[Pair, ...]]],
) -> list[Pair]:
    """Give each predicted account a side, the settling posting first.

    The most frequent historical pattern of this account combination that has the settling
    account on the document's side; else one that has it after flipping every side (a
    credit note against invoices); else every other account opposite the settling one.
    """
    first: Pair = (anchor.account, anchor.side)
    seen = patterns.get(tuple(sorted(predicted)), Counter())
    chosen = next((pat for pat, _ in seen.most_common() if first in pat), None)
    if chosen is None:
        chosen = next((_flip(pat) for pat, _ in seen.most_common() if first in _flip(pat)), None)
    if chosen is None:
        other = "credit" if anchor.side == "debit" else "debit"
        rest = list(predicted)
        if anchor.account in rest:
            rest.remove(anchor.account)
        return [first, *((acc, other) for acc in rest)]
    remaining = list(chosen)
    remaining.remove(first)
    # Keep smart_importer's posting order; sides come from the chosen pattern.
    out = [first]
    for acc in predicted:
        match = next((pair for pair in remaining if pair[0] == acc), None)
        if match is not None:
            remaining.remove(match)
            out.append(match)
    return out
