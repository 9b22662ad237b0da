"""What the assistant answers: a posting scheme with account names and bases, an
explanation, the historical entries it rests on, or why there is no scheme.

An :class:`Answer` has a :data:`Status`: ``answered`` (one scheme, validated against the
chart, with Decimal amounts when the question gave one), ``varies`` (the history posts it in
more than one way, e.g. per partner: each way is shown, none chosen), ``disagree`` (the
history and the model answer differently: both are shown, none chosen), ``nothing_fits``
(the history holds nothing like it), ``unclear`` (the question names no partner, topic or
kind to go by), ``refused`` (the only answer did not validate: an account not in the chart,
an unbalanced entry) or ``unavailable`` (the model server cannot be reached).
:meth:`Answer.as_json` is what ``ledgerpilot ask --json`` prints and the thread keeps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ledgerpilot.ledger import ChartOfAccounts, Document, Violation, format_amount
from ledgerpilot.training.scheme_task import Structure

Status = Literal[
    "answered", "varies", "disagree", "nothing_fits", "unclear", "refused", "unavailable"
]
STATUSES: tuple[Status, ...] = (
    "answered", "varies", "disagree", "nothing_fits", "unclear", "refused", "unavailable"
)  # fmt: skip


@dataclass(frozen=True)
class AnswerLine:
    """One line of an answered scheme."""

    account: str
    name: str
    """The account's name in the chart (English in the shipped charts)."""
    local_name: str | None
    """Its name in the chart's own language, when the chart has one."""
    side: str
    """``debit`` or ``credit``."""
    basis: str
    """What the amount is: ``net``, ``tax at 25%``, ``gross``, ..."""
    amount: Decimal | None = None
    """The amount, when the question gave figures."""

    def as_json(self, currency: str) -> dict[str, Any]:
        """``{"account", "name", "local_name", "side", "amount"}`` (the scheme task's form,
        ``amount`` the basis) plus ``value`` when there is an amount."""
        out: dict[str, Any] = {
            "account": self.account,
            "name": self.name,
            "local_name": self.local_name,
            "side": self.side,
            "amount": self.basis,
        }
        if self.amount is not None:
            out["value"] = format_amount(self.amount, currency)
        return out


def answer_lines(
    structure: Structure, chart: ChartOfAccounts, amounts: dict[tuple[str, str], Decimal] | None
) -> tuple[AnswerLine, ...]:
    """A structure's lines with the chart's names (and amounts per account and side)."""
    out = []
    for line in structure:
        account = chart.get(line.account)
        out.append(
            AnswerLine(
                line.account,
                account.name if account else "(not in the chart)",
                account.local_name if account else None,
                line.side,
                line.amount,
                None if amounts is None else amounts.get((line.account, line.side)),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Evidence:
    """A posted document an answer rests on."""

    id: str
    date: dt.date
    kind: str
    partner: str
    description: str
    """The document's first line (or the line that matched)."""

    @classmethod
    def of(cls, document: Document, line: int = 0) -> Evidence:
        """The evidence of a posted document."""
        text = document.lines[line].description if document.lines else document.text
        return cls(
            document.id,
            document.date,
            document.kind,
            document.partner.name if document.partner else "",
            text[:120],
        )

    def as_json(self) -> dict[str, Any]:
        """``{"id", "date", "kind", "partner", "description"}``."""
        return {
            "id": self.id,
            "date": self.date.isoformat(),
            "kind": self.kind,
            "partner": self.partner,
            "description": self.description,
        }


@dataclass(frozen=True)
class Variant:
    """One of several ways a scheme is answered (per partner, or per backend)."""

    backend: str
    lines: tuple[AnswerLine, ...]
    partners: tuple[str, ...] = ()
    """The partners whose documents are posted this way."""
    evidence: tuple[str, ...] = ()
    note: str = ""

    def as_json(self, currency: str) -> dict[str, Any]:
        """``{"backend", "partners", "lines", "evidence", "note"}``."""
        return {
            "backend": self.backend,
            "partners": list(self.partners),
            "lines": [ln.as_json(currency) for ln in self.lines],
            "evidence": list(self.evidence),
            "note": self.note,
        }


@dataclass(frozen=True)
class Answer:
    """The assistant's answer to one question."""

    status: Status
    backend: str
    """``memory``, ``llm`` or ``local`` (for ``auto``, the one whose scheme is shown, or
    ``auto`` when both are)."""
    explanation: str
    kind: str | None = None
    partner_id: str | None = None
    partner_name: str | None = None
    year: int | None = None
    currency: str = "EUR"
    lines: tuple[AnswerLine, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    variants: tuple[Variant, ...] = ()
    violations: tuple[Violation, ...] = ()
    model: str | None = None
    """The model or history index that produced it."""

    @property
    def has_amounts(self) -> bool:
        """Whether the lines carry amounts (the question gave figures)."""
        return bool(self.lines) and all(ln.amount is not None for ln in self.lines)

    @property
    def balanced(self) -> bool:
        """Whether the amounts' debits equal their credits (True without amounts)."""
        if not self.has_amounts:
            return True
        debit = sum(
            (ln.amount or Decimal(0) for ln in self.lines if ln.side == "debit"), Decimal(0)
        )
        credit = sum(
            (ln.amount or Decimal(0) for ln in self.lines if ln.side == "credit"), Decimal(0)
        )
        return debit == credit

    def as_json(self) -> dict[str, Any]:
        """The answer as JSON: amounts as strings, evidence as document ids."""
        c = self.currency
        scheme = None
        if self.lines:
            scheme = {
                "kind": self.kind,
                "partner": self.partner_id or "",
                "year": self.year,
                "lines": [ln.as_json(c) for ln in self.lines],
            }
        entry = None
        if self.has_amounts:
            entry = {
                "currency": c,
                "lines": [
                    {
                        "account": ln.account,
                        "name": ln.name,
                        "debit": format_amount(ln.amount or Decimal(0), c)
                        if ln.side == "debit"
                        else format_amount(Decimal(0), c),
                        "credit": format_amount(ln.amount or Decimal(0), c)
                        if ln.side == "credit"
                        else format_amount(Decimal(0), c),
                        "basis": ln.basis,
                    }
                    for ln in self.lines
                ],
                "balanced": self.balanced,
            }
        return {
            "status": self.status,
            "backend": self.backend,
            "model": self.model,
            "explanation": self.explanation,
            "kind": self.kind,
            "partner": None
            if self.partner_id is None
            else {"id": self.partner_id, "name": self.partner_name},
            "year": self.year,
            "currency": c,
            "scheme": scheme,
            "entry": entry,
            "evidence": [e.id for e in self.evidence],
            "evidence_documents": [e.as_json() for e in self.evidence],
            "variants": [v.as_json(c) for v in self.variants],
            "violations": [v.as_dict() for v in self.violations],
        }
