"""Validation of a posting scheme against the chart of accounts and its document.

Each check is a small function ``(scheme, chart, document) -> list[Violation]`` listed in
:data:`CHECKS`; :func:`validate` runs them all. Bad accounting is returned, never raised.

Checks against the document use the roles of the chart's accounts (see
:mod:`ledgerpilot.ledger.accounts`): an entry must *settle* the document's gross total on
the side its kind implies (a supplier invoice credits payables, a bank receipt debits a bank
account, ...), and its net movement on VAT accounts must equal the document's VAT (a
reverse-charge invoice books input and output VAT that cancel, against a VAT of zero).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from . import documents as kinds
from .accounts import ChartOfAccounts
from .documents import Document
from .entries import PostingScheme, parse_scheme, totals
from .money import is_known_currency, minor_unit, quantize
from .text import unstorable
from .violations import Violation

Check = Callable[[PostingScheme, ChartOfAccounts, Document | None], list[Violation]]

ZERO = Decimal(0)

# Which side the partner or bank line of each kind is on, and which account roles settle it.
SETTLEMENT: dict[str, tuple[str, frozenset[str]]] = {
    kinds.SUPPLIER_INVOICE: ("credit", frozenset({"payable", "liquidity"})),
    kinds.SUPPLIER_CREDIT_NOTE: ("debit", frozenset({"payable", "liquidity"})),
    kinds.SALES_INVOICE: ("debit", frozenset({"receivable", "liquidity"})),
    kinds.SALES_CREDIT_NOTE: ("credit", frozenset({"receivable", "liquidity"})),
    kinds.BANK_PAYMENT: ("credit", frozenset({"liquidity"})),
    kinds.BANK_RECEIPT: ("debit", frozenset({"liquidity"})),
}
"""Per kind: the side on which the gross total is settled, and the roles that settle it."""

# Kinds whose entry, as a whole, amounts to the document's gross total.
WHOLE_ENTRY_KINDS = frozenset({kinds.PAYROLL, kinds.DEPRECIATION, kinds.OTHER})

# The side on which the document's VAT lands on VAT accounts: input VAT is a debit.
TAX_SIDE: dict[str, str] = {
    kinds.SUPPLIER_INVOICE: "debit",
    kinds.SALES_CREDIT_NOTE: "debit",
    kinds.SALES_INVOICE: "credit",
    kinds.SUPPLIER_CREDIT_NOTE: "credit",
}


def check_lines(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None
) -> list[Violation]:
    """Each line: a known, postable account; one positive amount on one side."""
    found = []
    for number, ln in enumerate(scheme.lines, start=1):
        account = chart.get(ln.account)
        if account is None:
            found.append(
                Violation(
                    "unknown_account", f"account {ln.account[:40]!r} is not in the chart", number
                )
            )
        elif not account.postable:
            found.append(
                Violation(
                    "non_postable_account",
                    f"account {ln.account} ({account.name}) takes no postings",
                    number,
                )
            )
        if ln.debit < 0 or ln.credit < 0:
            found.append(
                Violation(
                    "negative_amount",
                    "a debit or credit cannot be negative; use the other side",
                    number,
                )
            )
        elif ln.debit and ln.credit:
            found.append(
                Violation(
                    "both_sides", f"debit {ln.debit} and credit {ln.credit} on one line", number
                )
            )
        elif not ln.debit and not ln.credit:
            found.append(Violation("zero_line", "the line has no amount", number))
    return found


def check_balance(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None
) -> list[Violation]:
    """The scheme has lines, and its debits equal its credits."""
    if not scheme.lines:
        return [Violation("empty", "the scheme has no lines")]
    debit, credit = totals(scheme.lines)
    if debit != credit:
        return [
            Violation(
                "unbalanced", f"debits {debit} and credits {credit} differ by {debit - credit}"
            )
        ]
    return []


def check_document_identity(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None
) -> list[Violation]:
    """The scheme is for this document, in its currency, with amounts of that currency."""
    if document is None:
        return []
    found = []
    if scheme.document and scheme.document != document.id:
        found.append(
            Violation(
                "wrong_document",
                f"the scheme is for document {scheme.document[:60]!r}, not {document.id!r}",
            )
        )
    if not is_known_currency(document.currency):
        found.append(
            Violation(
                "unknown_currency", f"currency {document.currency!r} is not one ledgerpilot knows"
            )
        )
        return found
    if scheme.currency and scheme.currency != document.currency:
        found.append(
            Violation(
                "currency_mismatch",
                f"the scheme is in {scheme.currency}, the document in {document.currency}",
            )
        )
    for number, ln in enumerate(scheme.lines, start=1):
        for amount in (ln.debit, ln.credit):
            if amount and quantize(amount, document.currency) != amount:
                found.append(
                    Violation(
                        "bad_amount",
                        f"{amount} has more decimals than {document.currency} allows "
                        f"({minor_unit(document.currency)})",
                        number,
                    )
                )
    return found


def _net(scheme: PostingScheme, codes: frozenset[str], side: str) -> Decimal:
    """Movement on ``codes`` towards ``side`` (debits minus credits for ``"debit"``)."""
    net = ZERO
    for ln in scheme.lines:
        if ln.account in codes:
            net += ln.debit - ln.credit
    return net if side == "debit" else -net


def check_totals(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None
) -> list[Violation]:
    """The entry settles the document's gross total on the side its kind implies."""
    if document is None or not scheme.lines:
        return []
    gross = document.total_gross
    if document.kind in SETTLEMENT:
        side, roles = SETTLEMENT[document.kind]
        codes = frozenset().union(*(chart.with_role(r) for r in roles))
        if not codes:
            return []  # the chart marks no such accounts: nothing to check against
        settled = _net(scheme, codes, side)
        if settled != gross:
            names = " or ".join(sorted(roles))
            return [
                Violation(
                    "total_mismatch",
                    f"the {side} on {names} accounts is {settled}, the document's "
                    f"gross total is {gross}",
                )
            ]
    elif document.kind in WHOLE_ENTRY_KINDS:
        debit, _ = totals(scheme.lines)
        if debit != gross:
            return [Violation("total_mismatch", f"the entry totals {debit}, the document {gross}")]
    return []


def check_tax(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None
) -> list[Violation]:
    """The entry's net movement on VAT accounts equals the document's VAT."""
    if document is None or not scheme.lines:
        return []
    codes = chart.with_role("tax")
    if not codes:
        return []
    side = TAX_SIDE.get(document.kind)
    if side is None:
        if not document.total_tax:
            return []
        booked = abs(_net(scheme, codes, "debit"))
    else:
        booked = _net(scheme, codes, side)
    if booked != document.total_tax:
        return [
            Violation(
                "tax_mismatch",
                f"VAT booked is {booked}, the document's VAT is {document.total_tax}",
            )
        ]
    return []


def check_text(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None
) -> list[Violation]:
    """The explanation and line descriptions are text a database can store.

    A model may answer a NUL character or a lone surrogate (JSON's ``"\\u0000"`` and
    ``"\\ud800"`` read into them); caught here, the draft goes back for repair or to a
    person instead of failing at the AIS once approved.
    """
    found = []
    problem = unstorable((scheme.explanation,))
    if problem is not None:
        found.append(Violation("unstorable_text", f"the explanation {problem}"))
    for number, ln in enumerate(scheme.lines, start=1):
        problem = unstorable((ln.description,))
        if problem is not None:
            found.append(Violation("unstorable_text", f"the description {problem}", number))
    return found


CHECKS: tuple[Check, ...] = (
    check_lines,
    check_balance,
    check_document_identity,
    check_totals,
    check_tax,
    check_text,
)
"""Every check, in the order their violations are reported."""


def validate(
    scheme: PostingScheme, chart: ChartOfAccounts, document: Document | None = None
) -> list[Violation]:
    """All violations of ``scheme`` against ``chart`` (and ``document``'s figures, if given)."""
    found: list[Violation] = []
    for check in CHECKS:
        found.extend(check(scheme, chart, document))
    return found


def check_scheme(
    raw: str | bytes | Mapping[str, Any], chart: ChartOfAccounts, document: Document | None = None
) -> tuple[PostingScheme | None, list[Violation]]:
    """Parse untrusted scheme JSON and validate it: one call for backends and the CLI.

    When the JSON itself is faulty the parse violations alone are returned, since checks on
    a partly read scheme would only repeat them in other words.
    """
    scheme, found = parse_scheme(raw)
    if scheme is None or found:
        return scheme, found
    return scheme, validate(scheme, chart, document)
