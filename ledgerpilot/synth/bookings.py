"""Documents and careful entries of everything that is not an invoice.

Bank lines that settle invoices, payroll and its payments, depreciation, loan interest and
instalments, bank fees, the year-end accrual, the monthly VAT settlement and the
reclassifications that fix a clerk's slip. Each builder is a pure function returning a
:class:`Booking`; :mod:`ledgerpilot.synth.year` gives it an id, a date and a clerk.

For the kinds whose whole entry must add up to the document (payroll, depreciation,
other), the document's lines are one side of the entry, so its gross is the entry's total.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

from ledgerpilot.ledger import DocumentLine, EntryLine, Partner
from ledgerpilot.ledger.documents import (
    BANK_PAYMENT,
    BANK_RECEIPT,
    DEPRECIATION,
    OTHER,
    PAYROLL,
    SALES_INVOICE,
)

from .drafts import PaymentDraft
from .plan import Asset
from .policies import PAYROLL_PARTS, AccountingPolicy, PayrollLine
from .posting import ZERO, Bookkeeper, cents

RATE0 = Decimal(0)


class Booking(NamedTuple):
    """A document's content and its careful entry, before it gets an id and a clerk."""

    kind: str
    number: str | None
    """The document's number; ``None`` for bank lines (the statement line number is used)."""
    partner: Partner | None
    lines: tuple[DocumentLine, ...]
    text: str
    entry: list[EntryLine]
    description: str
    chief: bool = False
    """Posted by the chief accountant (closing entries) rather than a clerk."""

    @property
    def net(self) -> Decimal:
        """The document's net total (these documents carry no VAT)."""
        return sum((ln.net for ln in self.lines), ZERO)


def _line(description: str, amount: Decimal) -> DocumentLine:
    return DocumentLine(description, amount, RATE0, ZERO)


def _sum(parts: dict[str, int], line: PayrollLine) -> int:
    return sum(parts[p] for p in line.parts)


def settlement(policy: AccountingPolicy, book: Bookkeeper, pay: PaymentDraft) -> Booking:
    """A bank line paying (or receiving) ``pay.amount`` against an invoice."""
    invoice = pay.invoice
    profile = invoice.profile
    partner = profile.partner
    number = invoice.number or ""
    text = profile.payment_text.format(n=number, p=partner.name)
    if pay.credit is not None:
        text = f"{text} less credit note {pay.credit.number}"
    if pay.parts > 1:
        text = f"{text} (part {pay.part}/{pay.parts})"
    amount = cents(pay.amount)
    if invoice.kind == SALES_INVOICE:
        entry = [
            EntryLine(policy.bank, amount, ZERO, partner.name),
            EntryLine(book.receivable(invoice.regime), ZERO, amount, f"Invoice {number}"),
        ]
        kind, label = BANK_RECEIPT, "Receipt"
    else:
        entry = [
            EntryLine(
                book.payable(invoice.regime, profile.utility), amount, ZERO, f"Invoice {number}"
            ),
            EntryLine(policy.bank, ZERO, amount, partner.name),
        ]
        kind, label = BANK_PAYMENT, "Payment"
    return Booking(
        kind,
        None,
        partner,
        (_line(f"Invoice {number}", amount),),
        text,
        entry,
        f"{label} {partner.name}: {text}",
    )


def payroll(
    policy: AccountingPolicy, period: str, heads: int, gross: int, parts: dict[str, int]
) -> Booking:
    """The monthly payroll: its four components as lines, expenses against liabilities."""
    names = policy.payroll_descriptions
    lines = tuple(_line(f"{names[p]} {period}", cents(parts[p])) for p in PAYROLL_PARTS)
    entry = [
        EntryLine(pl.account, cents(_sum(parts, pl)), ZERO, f"{pl.description} {period}")
        for pl in policy.payroll_debit
    ]
    entry += [
        EntryLine(pl.account, ZERO, cents(_sum(parts, pl)), f"{pl.description} {period}")
        for pl in policy.payroll_credit
    ]
    text = f"Payroll {period}: {heads} employees, gross salaries {cents(gross)}"
    return Booking(
        PAYROLL,
        f"PAY-{period[3:]}-{period[:2]}",
        None,
        lines,
        text,
        entry,
        f"Payroll {period}",
        chief=True,
    )


def payroll_payment(
    policy: AccountingPolicy,
    partner: Partner | None,
    pay_lines: tuple[PayrollLine, ...],
    parts: dict[str, int],
    period: str,
) -> Booking:
    """Net pay to the employees, or withheld tax and contributions to an authority."""
    lines = tuple(_line(f"{pl.description} {period}", cents(_sum(parts, pl))) for pl in pay_lines)
    total = cents(sum(_sum(parts, pl) for pl in pay_lines))
    entry = [
        EntryLine(pl.account, cents(_sum(parts, pl)), ZERO, f"{pl.description} {period}")
        for pl in pay_lines
    ]
    entry.append(
        EntryLine(policy.bank, ZERO, total, "Salaries" if partner is None else partner.name)
    )
    what = "Net salaries" if partner is None else "Payroll taxes and contributions"
    text = f"{what} {period}"
    return Booking(BANK_PAYMENT, None, partner, lines, text, entry, f"Payment: {text}")


def depreciation(
    policy: AccountingPolicy, asset: Asset, amount_cents: int, day: dt.date
) -> Booking:
    """Straight-line depreciation of one asset for a month (or a year)."""
    asset_account, accumulated, expense = policy.depreciation[asset.asset_class]
    amount = cents(amount_cents)
    period = f"{day.year}" if asset.yearly else f"{day.month:02d}/{day.year}"
    description = f"Depreciation {asset.name} ({asset.code}) {period}"
    entry = [
        EntryLine(expense, amount, ZERO, description),
        EntryLine(accumulated or asset_account, ZERO, amount, description),
    ]
    text = (
        f"{'Annual' if asset.yearly else 'Monthly'} straight-line depreciation of "
        f"{asset.code} {asset.name}, cost {cents(asset.cost)}, life {asset.months} months"
    )
    return Booking(
        DEPRECIATION,
        f"DEP-{asset.code}-{period.replace('/', '-')}",
        None,
        (_line(description, amount),),
        text,
        entry,
        description,
        chief=True,
    )


def journal(
    policy: AccountingPolicy, book: Bookkeeper, what: str, label: str, value: object, day: dt.date
) -> Booking:
    """An ``other`` entry: loan interest, the audit accrual or its reversal, a correction."""
    if what == "interest":
        assert isinstance(value, int)
        amount = cents(value)
        debit, credit = policy.interest_expense, policy.interest_payable
    elif what in ("accrual", "reversal"):
        assert isinstance(value, int)
        amount = cents(value)
        audit = book.account("audit", "domestic", 0, day)
        debit, credit = (
            (audit, policy.accrued_expenses)
            if what == "accrual"
            else (policy.accrued_expenses, audit)
        )
    else:  # a reclassification: (amount, wrong account, careful account, was a debit)
        assert isinstance(value, tuple)
        amount, wrong, careful, debit_side = value
        debit, credit = (careful, wrong) if debit_side else (wrong, careful)
    entry = [EntryLine(debit, amount, ZERO, label), EntryLine(credit, ZERO, amount, label)]
    return Booking(
        OTHER,
        f"{what.upper()[:3]}-{day:%Y%m%d}",
        None,
        (_line(label, amount),),
        label,
        entry,
        label,
        chief=True,
    )


def bank_line(
    policy: AccountingPolicy, special: dict[str, Partner], what: str, label: str, value: object
) -> Booking:
    """A bank line of the company's own: fees, loan money, VAT paid or refunded."""
    bank = special["bank"]
    if what == "instalment":
        assert isinstance(value, tuple)
        principal, interest = value
        lines: tuple[DocumentLine, ...] = ()
        entry = []
        for name, account, part in (
            ("Principal", policy.loan, principal),
            ("Interest", policy.interest_payable, interest),
        ):
            if part:
                lines += (_line(f"{name} {label}", cents(part)),)
                entry.append(EntryLine(account, cents(part), ZERO, f"{name} {label}"))
        entry.append(EntryLine(policy.bank, ZERO, cents(principal + interest), bank.name))
        return Booking(BANK_PAYMENT, None, bank, lines, label, entry, label)
    assert isinstance(value, int)
    amount = cents(value)
    lines = (_line(label, amount),)
    if what == "fee":
        entry = [
            EntryLine(policy.bank_fees, amount, ZERO, label),
            EntryLine(policy.bank, ZERO, amount, bank.name),
        ]
        return Booking(BANK_PAYMENT, None, bank, lines, label, entry, label)
    if what == "loan_in":
        entry = [
            EntryLine(policy.bank, amount, ZERO, label),
            EntryLine(policy.loan, ZERO, amount, label),
        ]
        return Booking(BANK_RECEIPT, None, bank, lines, label, entry, label)
    office = special["tax_office"]
    if what == "vat_due":
        entry = [
            EntryLine(policy.vat_payable, amount, ZERO, label),
            EntryLine(policy.bank, ZERO, amount, office.name),
        ]
        return Booking(BANK_PAYMENT, None, office, lines, label, entry, label)
    entry = [
        EntryLine(policy.bank, amount, ZERO, office.name),
        EntryLine(policy.vat_receivable, ZERO, amount, label),
    ]
    return Booking(BANK_RECEIPT, None, office, lines, label, entry, label)


def vat_settlement(
    policy: AccountingPolicy, balances: list[tuple[str, Decimal]], year: int, month: int
) -> tuple[Booking, tuple[str, str, int]]:
    """Close the month's VAT accounts (debit-positive ``balances``) into VAT payable.

    Returns the booking and the bank line that follows it: ``("vat_due", label, cents)``
    when output VAT exceeds input VAT, ``("vat_refund", ...)`` otherwise.
    """
    period = f"{month:02d}/{year}"
    debits: list[EntryLine] = []
    credits: list[EntryLine] = []
    net = ZERO
    for code, amount in balances:
        net += amount
        label = f"{'Input' if amount > 0 else 'Output'} VAT {period} ({code})"
        if amount > 0:
            credits.append(EntryLine(code, ZERO, amount, label))
        else:
            debits.append(EntryLine(code, -amount, ZERO, label))
    if net < 0:
        credits.append(EntryLine(policy.vat_payable, ZERO, -net, f"VAT payable {period}"))
        follow = ("vat_due", f"VAT {period}", -int(net.scaleb(2)))
    else:
        if net > 0:
            debits.append(EntryLine(policy.vat_receivable, net, ZERO, f"VAT refund claim {period}"))
        follow = ("vat_refund", f"VAT refund {period}", int(net.scaleb(2)))
    lines = tuple(_line(ln.description, ln.credit) for ln in credits)
    text = f"VAT return {period}: " + ", ".join(f"{c} {a}" for c, a in balances)
    booking = Booking(
        OTHER,
        f"VAT-{year}-{month:02d}",
        None,
        lines,
        text,
        debits + credits,
        f"VAT settlement {period}",
        chief=True,
    )
    return booking, follow
