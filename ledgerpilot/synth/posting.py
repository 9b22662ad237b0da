"""How a careful bookkeeper posts each document of the synthetic company.

:class:`Bookkeeper` turns the document's lines into balanced entry lines on the chart of
the company's :class:`~ledgerpilot.synth.policies.AccountingPolicy`. The noise a hurried
clerk adds to the history lives in :mod:`ledgerpilot.synth.noise`, not here: the truth of
the inbox is exactly what this module posts.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from ledgerpilot.ledger import EntryLine
from ledgerpilot.ledger.documents import (
    SALES_CREDIT_NOTE,
    SALES_INVOICE,
    SUPPLIER_INVOICE,
)

from .policies import AccountingPolicy, resolve

ZERO = Decimal("0.00")

_RATES: dict[int, Decimal] = {}


def cents(amount: int) -> Decimal:
    """``Decimal`` euros, quantized to two decimals, from an amount in cents."""
    return Decimal(amount).scaleb(-2)


def cents_at(amount: int, rate: Decimal) -> int:
    """``rate`` (a ``Decimal`` fraction) of ``amount`` cents, in whole cents rounded half-up."""
    return int((amount * rate).to_integral_value(ROUND_HALF_UP))


def rate_decimal(rate: int) -> Decimal:
    """The ``Decimal`` of a whole-percent VAT rate (cached: documents share them)."""
    found = _RATES.get(rate)
    if found is None:
        found = _RATES[rate] = Decimal(rate)
    return found


class PostedLine:
    """A document line with what the bookkeeper needs to post it."""

    __slots__ = (
        "band_rate",
        "category",
        "description",
        "goods",
        "net",
        "rate",
        "self_rate",
        "self_tax",
        "tax",
    )

    def __init__(
        self,
        description: str,
        category: str,
        goods: bool,
        net: Decimal,
        rate: int,
        tax: Decimal,
        self_rate: int,
        self_tax: Decimal,
        band_rate: int,
    ) -> None:
        self.description = description
        self.category = category
        """A catalogue category key, or ``asset:<class>`` for a capitalised purchase."""
        self.goods = goods
        self.net = net
        self.rate = rate
        """The rate printed on the document (0 for reverse charge and exports)."""
        self.tax = tax
        self.self_rate = self_rate
        """The rate the company self-assesses (reverse charge), 0 when none."""
        self.self_tax = self_tax
        self.band_rate = band_rate
        """The domestic rate of the line's class: picks rate-dependent accounts."""


class Bookkeeper:
    """Posts documents the careful way on one chart, with the policy in force on each date."""

    def __init__(self, policy: AccountingPolicy, change_date: dt.date) -> None:
        self.policy = policy
        self.change_date = change_date
        self._cache: dict[tuple[str, str, int, bool], str] = {}

    def account(self, category: str, regime: str, rate: int, day: dt.date) -> str:
        """The expense, asset or revenue account of a line of ``category``."""
        change = self.policy.policy_change
        if category == change.category and day < self.change_date:
            return change.old
        key = (category, regime, rate, True)
        code = self._cache.get(key)
        if code is None:
            p = self.policy
            if category.startswith("asset:"):
                code = p.depreciation[category[6:]][0]
            else:
                rule = p.expense.get(category) or p.revenue[category]
                code = resolve(rule, regime, p.band(rate))
            self._cache[key] = code
        return code

    def vat_accounts(
        self, regime: str, goods: bool, rate: int, sale: bool
    ) -> tuple[str | None, str | None]:
        """(input VAT account, output VAT account) for a line; ``None`` where none is booked.

        Domestic purchases book input VAT only, domestic sales output VAT only; purchases from
        abroad book both (self-assessed, they cancel) where the chart's tax rules say so.
        """
        key = (regime + ("g" if goods else "s") + ("S" if sale else "P"), regime, rate, False)
        found = self._cache.get(key)
        if found is not None:
            pair = found.split("|")
            return (pair[0] or None, pair[1] or None)
        p = self.policy
        band = p.band(rate)
        result: tuple[str | None, str | None]
        if regime == "domestic":
            result = (
                (None, resolve(p.output_vat, regime, band))
                if sale
                else (resolve(p.input_vat, regime, band), None)
            )
        elif sale:
            result = (None, None)
        else:
            rules = p.self_assessed[f"{regime} {'goods' if goods else 'services'}"]
            result = (
                (None, None)
                if rules is None
                else (resolve(rules[0], regime, band), resolve(rules[1], regime, band))
            )
        self._cache[key] = f"{result[0] or ''}|{result[1] or ''}"
        return result

    def invoice(
        self,
        kind: str,
        lines: list[PostedLine],
        regime: str,
        partner_account: str,
        gross: Decimal,
        label: str,
        day: dt.date,
    ) -> tuple[list[EntryLine], list[tuple[str, Decimal]]]:
        """Entry lines of an invoice or credit note, and its VAT movements (debit positive).

        One line per document line on its expense or revenue account, one VAT line per
        account and rate, the self-assessed pair for reverse charge, and the partner line
        that settles the gross.
        """
        sale = kind in (SALES_INVOICE, SALES_CREDIT_NOTE)
        main_debit = kind in (SUPPLIER_INVOICE, SALES_CREDIT_NOTE)
        out: list[EntryLine] = []
        vat: dict[tuple[str, int], Decimal] = {}
        own: dict[tuple[str, int], Decimal] = {}
        due: dict[tuple[str, int], Decimal] = {}
        for ln in lines:
            code = self.account(ln.category, regime, ln.band_rate, day)
            if main_debit:
                out.append(EntryLine(code, ln.net, ZERO, ln.description))
            else:
                out.append(EntryLine(code, ZERO, ln.net, ln.description))
            if ln.tax:
                in_acc, out_acc = self.vat_accounts(regime, ln.goods, ln.band_rate, sale)
                acc = out_acc if sale else in_acc
                if acc is not None:
                    vat[(acc, ln.rate)] = vat.get((acc, ln.rate), ZERO) + ln.tax
            elif ln.self_tax:
                in_acc, out_acc = self.vat_accounts(regime, ln.goods, ln.band_rate, sale)
                if in_acc is not None and out_acc is not None:
                    own[(in_acc, ln.self_rate)] = (
                        own.get((in_acc, ln.self_rate), ZERO) + ln.self_tax
                    )
                    due[(out_acc, ln.self_rate)] = (
                        due.get((out_acc, ln.self_rate), ZERO) + ln.self_tax
                    )
        moves: list[tuple[str, Decimal]] = []
        word = "Output" if sale else "Input"
        for (acc, rate), amount in vat.items():
            if main_debit:
                out.append(EntryLine(acc, amount, ZERO, f"{word} VAT {rate}%"))
                moves.append((acc, amount))
            else:
                out.append(EntryLine(acc, ZERO, amount, f"{word} VAT {rate}%"))
                moves.append((acc, -amount))
        for (acc, rate), amount in own.items():
            line_debit = main_debit
            out.append(
                EntryLine(acc, amount, ZERO, f"Reverse-charge input VAT {rate}%")
                if line_debit
                else EntryLine(acc, ZERO, amount, f"Reverse-charge input VAT {rate}%")
            )
            moves.append((acc, amount if line_debit else -amount))
        for (acc, rate), amount in due.items():
            out.append(
                EntryLine(acc, ZERO, amount, f"Reverse-charge output VAT {rate}%")
                if main_debit
                else EntryLine(acc, amount, ZERO, f"Reverse-charge output VAT {rate}%")
            )
            moves.append((acc, -amount if main_debit else amount))
        if main_debit:
            out.append(EntryLine(partner_account, ZERO, gross, label))
        else:
            out.append(EntryLine(partner_account, gross, ZERO, label))
        return out, moves

    def payable(self, regime: str, utility: bool) -> str:
        """The payables account of a supplier."""
        p = self.policy.payable
        if utility and "utility" in p and regime == "domestic":
            return p["utility"]
        return p[regime]

    def receivable(self, regime: str) -> str:
        """The receivables account of a customer."""
        return self.policy.receivable[regime]
