"""What the pages and the API show of a proposal, and how edited lines are read and checked.

Nothing here knows of HTTP: the document from a proposal's snapshot, its lines with the
chart's account names, the status as a reviewer reads it, and edited lines turned into a
posting scheme and validated against the chart and the document
(:func:`ledgerpilot.ledger.check_scheme`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from ledgerpilot.ledger import (
    ChartOfAccounts,
    Document,
    DocumentError,
    Violation,
    check_scheme,
    format_amount,
    parse_amount,
)
from ledgerpilot.ledger.money import AmountError, is_known_currency
from ledgerpilot.ledger.text import storable

from ..models import StoredProposal

EDITABLE = ("proposed", "needs_review", "quarantined")
"""Statuses whose lines may be edited."""
DECIDABLE = ("proposed", "needs_review")
"""Statuses that may be approved."""
REJECTABLE = ("proposed", "needs_review", "quarantined")
"""Statuses that may be rejected."""
PARSE_CODES = frozenset({"malformed", "bad_amount", "too_many_lines"})
"""Violations that mean the lines could not be read: such an edit is not saved."""
MAX_EDIT_LINES = 200
"""Lines an edit may have; more is refused unread."""


class Ledger(Protocol):
    """What the web UI needs of the AIS: its chart of accounts (a connector has it)."""

    def chart(self) -> ChartOfAccounts:
        """The company's chart of accounts."""
        ...


class ChartCache:
    """The ledger's chart, read again at most every ``ttl_s`` seconds (charts rarely change)."""

    def __init__(self, ledger: Ledger, ttl_s: float = 300.0) -> None:
        self._ledger = ledger
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._chart: ChartOfAccounts | None = None
        self._read_at = 0.0

    def get(self) -> ChartOfAccounts:
        """The chart, from the ledger when the copy kept is older than the ttl."""
        with self._lock:
            now = time.monotonic()
            if self._chart is None or now - self._read_at > self._ttl_s:
                self._chart = self._ledger.chart()
                self._read_at = now
            return self._chart


# ------------------------------------------------------------ reading a proposal


def document_of(proposal: StoredProposal) -> Document | None:
    """The document the proposal was drafted from (its snapshot), or ``None`` without one."""
    snapshot = getattr(proposal, "document", None)
    if not snapshot:
        return None
    try:
        return Document.from_json(snapshot)
    except DocumentError:
        return None


def currency_of(proposal: StoredProposal) -> str:
    """The currency of the proposal's amounts: the document's, else the scheme's, else EUR."""
    snapshot = getattr(proposal, "document", None) or {}
    scheme = proposal.scheme or {}
    for value in (snapshot.get("currency"), scheme.get("currency")):
        if isinstance(value, str) and is_known_currency(value.upper()):
            return value.upper()
    return "EUR"


def is_edited(proposal: StoredProposal) -> bool:
    """Whether the proposal's lines were edited by a reviewer."""
    return bool(getattr(proposal, "edited", False))


def status_label(proposal: StoredProposal) -> str:
    """The status as a reviewer reads it: ``approved (edited)``, ``posted``, ``needs review``."""
    label = proposal.status.replace("_", " ")
    if proposal.status in ("approved", "posted") and is_edited(proposal):
        label += " (edited)"
    return label


@dataclass(frozen=True)
class LineView:
    """One line of an entry as shown: the account with its name, amounts as strings."""

    number: int
    account: str
    account_name: str | None
    debit: str
    credit: str
    description: str
    problems: tuple[str, ...]

    @property
    def side(self) -> str:
        """``credit`` when the line carries only a credit, else ``debit``."""
        return "credit" if _nonzero(self.credit) and not _nonzero(self.debit) else "debit"

    @property
    def amount(self) -> str:
        """The amount on the line's side."""
        return self.credit if self.side == "credit" else self.debit

    def as_json(self) -> dict[str, Any]:
        """The line as JSON (amounts as strings)."""
        return {
            "account": self.account,
            "account_name": self.account_name,
            "debit": self.debit,
            "credit": self.credit,
            "description": self.description,
        }


def _nonzero(amount: str) -> bool:
    try:
        return parse_amount(amount) != 0
    except AmountError:
        return bool(amount.strip())


def line_views(
    lines: Sequence[Mapping[str, Any]],
    chart: ChartOfAccounts,
    violations: Sequence[Violation] = (),
) -> list[LineView]:
    """Scheme lines (JSON) with the chart's account names and each line's violations."""
    views = []
    for number, raw in enumerate(lines, start=1):
        account = str(raw.get("account", ""))
        found = chart.get(account)
        views.append(
            LineView(
                number=number,
                account=account,
                account_name=None if found is None else found.name,
                debit=str(raw.get("debit") or "0.00"),
                credit=str(raw.get("credit") or "0.00"),
                description=str(raw.get("description") or ""),
                problems=tuple(v.message for v in violations if v.line == number),
            )
        )
    return views


def scheme_lines(proposal: StoredProposal) -> list[dict[str, Any]]:
    """The lines of the proposal's scheme (none without one)."""
    lines = (proposal.scheme or {}).get("lines")
    return [dict(ln) for ln in lines if isinstance(ln, Mapping)] if isinstance(lines, list) else []


@dataclass(frozen=True)
class Totals:
    """An entry's total debits and credits, as strings."""

    debit: str
    credit: str
    difference: str
    """Debits minus credits."""
    balanced: bool


def line_totals(lines: Sequence[Mapping[str, Any]], currency: str) -> Totals:
    """Total debits and credits of scheme lines (lines whose amounts cannot be read skipped)."""
    debit = credit = Decimal(0)
    for ln in lines:
        try:
            line_debit = parse_amount(ln.get("debit") or "0")
            line_credit = parse_amount(ln.get("credit") or "0")
        except AmountError:
            continue
        debit += line_debit
        credit += line_credit
    return Totals(
        format_amount(debit, currency),
        format_amount(credit, currency),
        format_amount(debit - credit, currency),
        debit == credit,
    )


# ------------------------------------------------------------ edited lines


@dataclass(frozen=True)
class CheckedLines:
    """Edited lines made into a posting scheme, and what is wrong with it."""

    scheme: dict[str, Any] | None
    """The scheme's JSON (amounts as canonical strings); ``None`` when the lines could not
    be read (then ``violations`` say why, and nothing may be saved)."""
    violations: list[Violation]
    totals: Totals

    @property
    def readable(self) -> bool:
        """Whether the lines could be read, so that the edit may be saved."""
        return self.scheme is not None

    def as_json(self, chart: ChartOfAccounts) -> dict[str, Any]:
        """``{"violations", "debit", "credit", "difference", "lines"}`` (lines with names)."""
        lines = self.scheme["lines"] if self.scheme else []
        return {
            "violations": [v.as_dict() for v in self.violations],
            "debit": self.totals.debit,
            "credit": self.totals.credit,
            "difference": self.totals.difference,
            "lines": [view.as_json() for view in line_views(lines, chart)],
        }


def side_amount_lines(
    accounts: Sequence[str],
    sides: Sequence[str],
    amounts: Sequence[str],
    descriptions: Sequence[str],
) -> list[dict[str, str]]:
    """Lines from the edit form's columns (account, side, amount, description).

    Rows with neither an account nor an amount are blank rows of the form and are dropped;
    an unknown side is read as debit (validation then shows the imbalance).
    """
    if not len(accounts) == len(sides) == len(amounts) == len(descriptions):
        raise ValueError("the edit form's columns have different lengths")
    lines = []
    for account, side, amount, description in zip(
        accounts, sides, amounts, descriptions, strict=True
    ):
        if not account.strip() and not amount.strip():
            continue
        amount = amount.strip() or "0"
        debit, credit = (amount, "0") if side != "credit" else ("0", amount)
        lines.append(
            {
                "account": account.strip(),
                "debit": debit,
                "credit": credit,
                "description": description.strip(),
            }
        )
    return lines


def check_lines(
    proposal: StoredProposal, lines: Sequence[Mapping[str, Any]], chart: ChartOfAccounts
) -> CheckedLines:
    """Validate edited ``lines`` for the proposal against the chart and its document.

    The lines become the proposal's scheme (its document, kind and explanation kept, an
    explanation a database cannot store dropped); the amounts are read in the document's
    currency, so more decimals than it has is a ``bad_amount``. Unreadable lines come back
    with ``scheme=None``.
    """
    currency = currency_of(proposal)
    old = proposal.scheme or {}
    raw: dict[str, Any] = {
        "document": str(old.get("document") or proposal.document_id),
        "kind": str(old.get("kind") or proposal.document_kind),
        "explanation": storable(str(old.get("explanation") or "")),
        "lines": [dict(ln) for ln in lines],
        "currency": currency,
    }
    if len(lines) > MAX_EDIT_LINES:
        found = [Violation("too_many_lines", f"an edit may have at most {MAX_EDIT_LINES} lines")]
        return CheckedLines(None, found, line_totals([], currency))
    scheme, found = check_scheme(raw, chart, document_of(proposal))
    if scheme is None or any(v.code in PARSE_CODES for v in found):
        return CheckedLines(None, found, line_totals(lines, currency))
    saved: dict[str, Any] = {
        "document": scheme.document,
        "kind": scheme.kind,
        "explanation": scheme.explanation,
        "lines": [ln.to_json(currency) for ln in scheme.lines],
    }
    if "currency" in old:
        saved["currency"] = currency
    return CheckedLines(saved, found, line_totals(saved["lines"], currency))


def same_lines(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    """Whether two sets of scheme lines post the same (accounts, amounts and texts in order)."""

    def key(ln: Mapping[str, Any]) -> tuple[str, Decimal | str, Decimal | str, str]:
        return (
            str(ln.get("account", "")),
            _amount_key(ln.get("debit")),
            _amount_key(ln.get("credit")),
            str(ln.get("description") or ""),
        )

    return [key(ln) for ln in a] == [key(ln) for ln in b]


def _amount_key(value: object) -> Decimal | str:
    try:
        return parse_amount(value if value not in (None, "") else "0")
    except AmountError:
        return str(value)
