"""The posting-scheme task: which accounts a kind of document of a partner is posted to in a year.

This is the task of the accounting-bot paper: asked "the posting scheme for supplier
invoices of Drava Nekretnine in 2024", the model answers with the accounts, their sides and
the *basis* of each line's amount (the net, the VAT at a rate, the gross, a document line's
net) rather than concrete amounts. The answer is derived from the entries posted for that
partner, kind and year: each entry is reduced to its structure (one line per account and
side, amounts replaced by their basis) and the most frequent structure wins, the latest on
a tie.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..agent.prompts import safe_json
from ..ledger import ChartOfAccounts, Document
from ..ledger.money import tax_on

SCHEME_SYSTEM_PROMPT = """\
You are a bookkeeper's assistant. You state the posting scheme this company uses for one \
kind of document of one partner in one year: the accounts, the side of each, and what each \
line's amount is.

Answer with one JSON object and nothing else:
{"kind": "<the kind>", "partner": "<the partner's id>", "year": <the year>, \
"lines": [{"account": "<account code>", "side": "debit" or "credit", "amount": "<basis>"}]}

A basis is one of: "gross", "net", "tax at R%" (VAT at rate R), "tax" (all VAT, several \
rates), "net at R%" (the net of the lines at rate R), "R% of net (self-assessed)" \
(reverse-charge VAT the company books itself), "line N net" (the net of document line N), \
"lines N+M net" (the nets of those document lines together), or "other".
Debit lines come first, then credit lines, each by account code."""
"""The system message of every scheme-task example."""

# Reverse-charge VAT is not on the document; these rates are tried, in this order.
SELF_ASSESSED_RATES = tuple(
    Decimal(r) for r in ("25", "13", "5", "19", "7", "20", "10", "21", "22", "23", "24", "27")
)
MAX_SUBSET_LINES = 8
"""Documents with more lines are not searched for sums of several lines (2^n subsets)."""
SETTLING_ROLES = frozenset({"payable", "receivable", "liquidity"})


@dataclass(frozen=True, slots=True)
class SchemeLine:
    """One line of a posting scheme: an account, a side and what the amount is."""

    account: str
    side: str
    """``"debit"`` or ``"credit"``."""
    amount: str
    """The basis: ``"gross"``, ``"net"``, ``"tax at 25%"``, ``"line 2 net"``, ..."""

    def as_json(self) -> dict[str, str]:
        """``{"account", "side", "amount"}``."""
        return {"account": self.account, "side": self.side, "amount": self.amount}


Structure = tuple[SchemeLine, ...]


def _rate(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def amount_bases(document: Document, role: str | None) -> list[tuple[str, Decimal]]:
    """The bases an amount of ``document`` may have, in the order preferred for ``role``.

    An amount that several bases give (net and gross of a document without VAT) is named by
    the first: settling accounts (payable, receivable, liquidity) prefer the gross, VAT
    accounts the VAT, the others the net.
    """
    c = document.currency
    rates = sorted({ln.tax_rate for ln in document.lines})
    gross = [("gross", document.total_gross)]
    net = [("net", document.total_net)]
    tax: list[tuple[str, Decimal]] = []
    by_rate: list[tuple[str, Decimal]] = []
    if document.total_tax:
        if len(rates) == 1:
            tax.append((f"tax at {_rate(rates[0])}%", document.total_tax))
        else:
            tax.append(("tax", document.total_tax))
    if len(rates) > 1:
        for rate in rates:
            lines = [ln for ln in document.lines if ln.tax_rate == rate]
            by_rate.append((f"net at {_rate(rate)}%", sum((ln.net for ln in lines), Decimal(0))))
            rate_tax = sum((ln.tax for ln in lines), Decimal(0))
            if rate_tax:
                tax.append((f"tax at {_rate(rate)}%", rate_tax))
    self_assessed: list[tuple[str, Decimal]] = []
    if not document.total_tax and document.total_net:
        for rate in SELF_ASSESSED_RATES:
            name = f"{_rate(rate)}% of net (self-assessed)"
            self_assessed.append((name, tax_on(document.total_net, rate, c)))
            per_line = sum((tax_on(ln.net, rate, c) for ln in document.lines), Decimal(0))
            self_assessed.append((name, per_line))
    single = [(f"line {n} net", ln.net) for n, ln in enumerate(document.lines, start=1)]
    several: list[tuple[str, Decimal]] = []
    if 2 < len(document.lines) <= MAX_SUBSET_LINES:
        numbered = list(enumerate(document.lines, start=1))
        for size in range(2, len(numbered)):
            for subset in itertools.combinations(numbered, size):
                name = "lines " + "+".join(str(n) for n, _ in subset) + " net"
                several.append((name, sum((ln.net for _, ln in subset), Decimal(0))))
    if role in SETTLING_ROLES:
        return gross + net + by_rate + single + several + tax + self_assessed
    if role == "tax":
        return tax + self_assessed + single + several + net + by_rate + gross
    return net + by_rate + single + several + gross + tax + self_assessed


def basis_of(amount: Decimal, document: Document, role: str | None) -> str:
    """The basis of ``amount`` on a line of ``document``'s entry (``"other"`` when none fits)."""
    for name, value in amount_bases(document, role):
        if value == amount:
            return name
    return "other"


def entry_structure(document: Document, chart: ChartOfAccounts) -> Structure:
    """The posted entry of ``document`` as a scheme: amounts summed per account and side.

    Lines come debits first, then credits, each by account code, so that the same scheme
    posted in another line order has the same structure. Empty for an unposted document.
    """
    if document.entry is None:
        return ()
    summed: dict[tuple[str, str], Decimal] = {}
    for ln in document.entry.lines:
        key = (ln.side, ln.account)
        summed[key] = summed.get(key, Decimal(0)) + ln.amount
    lines = []
    for (side, account), amount in sorted(
        summed.items(), key=lambda kv: (kv[0][0] != "debit", kv[0][1])
    ):
        found = chart.get(account)
        lines.append(
            SchemeLine(account, side, basis_of(amount, document, found.role if found else None))
        )
    return tuple(lines)


def most_frequent(structures: Sequence[Structure]) -> tuple[Structure, int]:
    """The structure posted most often (the latest of equally frequent ones) and its count."""
    if not structures:
        raise ValueError("no structures to choose from")
    counts: dict[Structure, int] = {}
    last: dict[Structure, int] = {}
    for n, structure in enumerate(structures):
        counts[structure] = counts.get(structure, 0) + 1
        last[structure] = n
    best = max(counts, key=lambda s: (counts[s], last[s]))
    return best, counts[best]


def scheme_question(kind: str, partner_id: str, partner_name: str, year: int) -> str:
    """The user message: the posting scheme for ``kind`` of a partner in ``year``."""
    # Names come from the AIS: written as escaped JSON strings so that they stay data.
    who = (
        f"partner {safe_json(partner_id)} ({safe_json(partner_name)})"
        if partner_id
        else "no partner"
    )
    return f"The posting scheme for {safe_json(kind)} documents of {who} in {year}."


def scheme_answer(kind: str, partner_id: str, year: int, structure: Iterable[SchemeLine]) -> str:
    """The assistant message: the scheme as JSON (see :data:`SCHEME_SYSTEM_PROMPT`)."""
    return safe_json(
        {
            "kind": kind,
            "partner": partner_id,
            "year": year,
            "lines": [ln.as_json() for ln in structure],
        }
    )
