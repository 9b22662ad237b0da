"""Posting schemes in the form of the ``scheme`` task: accounts, sides and amount bases.

The model was trained to answer the posting scheme of a kind of document of a partner in a
year as lines of ``{"account", "side", "amount"}`` where the amount is a *basis* ("net",
"tax at 25%", "gross", "line 2 net", ...; :mod:`ledgerpilot.training.scheme_task`). This
module reads such an answer safely (every account must be a postable account of the chart:
an account the chart lacks is a violation, never shown), binds the bases of a scheme to a
document's figures in Decimal, and makes the one-line document a question with amounts
stands for ("for 1,250.00 gross at 25%").
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal

from ledgerpilot.agent.backends.answers import extract_json
from ledgerpilot.ledger import (
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    Partner,
    PostingScheme,
    Violation,
    quantize,
    tax_on,
)
from ledgerpilot.training.scheme_task import SchemeLine, Structure, amount_bases

NOMINAL_NET = Decimal("100.00")
"""The net of the document a question without amounts stands for: the bases of its entry
come out unambiguous (net 100, VAT 25, gross 125)."""
QUESTION_ID = "QUESTION"
"""The id of the document a question stands for."""
MAX_ANSWER_LINES = 40

_BASIS = re.compile(
    r"gross|net|tax|other|tax at \d+(\.\d+)?%|net at \d+(\.\d+)?%"
    r"|\d+(\.\d+)?% of net \(self-assessed\)|line \d+ net|lines \d+(\+\d+)+ net"
)

SCHEME_ANSWER_JSON_SCHEMA = {
    "title": "SchemeAnswer",
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "partner", "year", "lines"],
    "properties": {
        "kind": {"type": "string", "maxLength": 64},
        "partner": {"type": "string", "maxLength": 200},
        "year": {"type": "integer"},
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ANSWER_LINES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["account", "side", "amount"],
                "properties": {
                    "account": {"type": "string", "maxLength": 40},
                    "side": {"enum": ["debit", "credit"]},
                    "amount": {"type": "string", "maxLength": 60},
                },
            },
        },
    },
}
"""The scheme task's answer as a JSON schema, for servers with structured outputs."""


@dataclass(frozen=True)
class Figures:
    """The amounts of the document a question stands for."""

    net: Decimal
    rate: Decimal
    tax: Decimal
    gross: Decimal
    given: bool
    """True when the question gave an amount; False for the nominal net of 100."""


def figures(amount: Decimal | None, basis: str | None, rate: Decimal, currency: str) -> Figures:
    """Net, VAT and gross from a question's amount: ``basis`` ``net`` or ``gross`` (gross
    when not said), at ``rate``; the nominal net of 100 without an amount."""
    if amount is None:
        net = NOMINAL_NET
        tax = tax_on(net, rate, currency)
        return Figures(net, rate, tax, net + tax, given=False)
    amount = quantize(amount, currency)
    if basis == "net":
        tax = tax_on(amount, rate, currency)
        return Figures(amount, rate, tax, amount + tax, given=True)
    net = quantize(amount * 100 / (100 + rate), currency)
    return Figures(net, rate, amount - net, amount, given=True)


def question_document(
    kind: str,
    partner: Partner | None,
    description: str,
    amounts: Figures,
    date: dt.date,
    currency: str,
    text: str = "",
) -> Document:
    """The one-line document a question stands for."""
    line = DocumentLine(
        description or kind.replace("_", " "), amounts.net, amounts.rate, amounts.tax
    )
    return Document(
        id=QUESTION_ID,
        kind=kind,
        number=QUESTION_ID,
        date=date,
        partner=partner,
        currency=currency,
        lines=(line,),
        total_net=amounts.net,
        total_tax=amounts.tax,
        total_gross=amounts.gross,
        text=text,
    )


def bind(structure: Structure, document: Document) -> list[EntryLine] | str:
    """The entry lines of ``structure`` on ``document``'s figures, or why it cannot be bound
    (a basis the document does not have: ``line 3 net`` on a one-line document, ``other``)."""
    values: dict[str, Decimal] = {}
    for name, value in amount_bases(document, None):
        values.setdefault(name, value)
    for line in structure:
        if line.amount in values:
            continue
        self_assessed = re.fullmatch(r"(\d+(?:\.\d+)?)% of net \(self-assessed\)", line.amount)
        if self_assessed:
            values[line.amount] = tax_on(
                document.total_net, Decimal(self_assessed.group(1)), document.currency
            )
            continue
        return f"the basis {line.amount!r} of account {line.account} has no amount on this document"
    out = []
    for line in structure:
        amount = values[line.amount]
        if line.side == "debit":
            out.append(EntryLine(line.account, debit=amount, description=line.amount))
        else:
            out.append(EntryLine(line.account, credit=amount, description=line.amount))
    return out


def scheme_of(structure: Structure, document: Document, explanation: str) -> PostingScheme | str:
    """The posting scheme ``structure`` makes of ``document``, or why there is none."""
    lines = bind(structure, document)
    if isinstance(lines, str):
        return lines
    return PostingScheme(
        document.id, document.kind, explanation, tuple(lines), currency=document.currency
    )


def read_scheme_answer(
    text: str, chart: ChartOfAccounts
) -> tuple[Structure | None, list[Violation]]:
    """A model's ``scheme`` answer as a structure, and what is wrong with it; never raises.

    Every account must be a postable account of ``chart`` (``unknown_account``,
    ``non_postable_account``); sides are ``debit`` or ``credit``; amounts are bases of the
    task's grammar; there is at least one debit and one credit.
    """
    raw = extract_json(text)
    if raw is None:
        shown = " ".join(text.split())[:80]
        return None, [Violation("malformed", f"the answer holds no JSON object: {shown!r}")]
    try:
        data = json.loads(raw)
    except ValueError:
        return None, [Violation("malformed", "the answer's JSON cannot be read")]
    lines = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(lines, list) or not lines:
        return None, [Violation("malformed", "the answer has no lines")]
    if len(lines) > MAX_ANSWER_LINES:
        return None, [
            Violation("too_many_lines", f"{len(lines)} lines; at most {MAX_ANSWER_LINES}")
        ]
    found: list[Violation] = []
    out: list[SchemeLine] = []
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            found.append(Violation("malformed", "a line is not an object", n))
            continue
        account, side, basis = (str(line.get(k, "")).strip() for k in ("account", "side", "amount"))
        known = chart.get(account)
        if known is None:
            found.append(
                Violation("unknown_account", f"account {account[:40]!r} is not in the chart", n)
            )
        elif not known.postable:
            found.append(
                Violation(
                    "non_postable_account",
                    f"account {account} ({known.name}) is a summary account that takes no postings",
                    n,
                )
            )
        if side not in ("debit", "credit"):
            found.append(Violation("malformed", f"side {side[:20]!r} is not debit or credit", n))
        if not _BASIS.fullmatch(basis):
            found.append(Violation("malformed", f"amount {basis[:60]!r} is not a basis", n))
        out.append(SchemeLine(account, side, basis))
    sides = {ln.side for ln in out}
    if not found and sides != {"debit", "credit"}:
        found.append(Violation("unbalanced", "the scheme needs a debit and a credit line"))
    return (None if found else tuple(out)), found
