"""Drafts: what will happen in a month, decided at its start from the year's random stream.

A month's invoices, their credit notes and the payments that settle them, payroll and its
payments, depreciation, loan instalments and bank fees are all drafted when the month
begins, each with its date; :mod:`ledgerpilot.synth.year` turns them into documents in
date order. Deciding every follow-up at drafting time keeps a year's documents dependent
only on its own random stream and the follow-ups carried in from the year before.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from decimal import Decimal

from ledgerpilot.ledger import DocumentLine, tax_on
from ledgerpilot.ledger.documents import (
    SALES_CREDIT_NOTE,
    SALES_INVOICE,
    SUPPLIER_CREDIT_NOTE,
    SUPPLIER_INVOICE,
)

from .partners import Offer, Profile
from .posting import ZERO, PostedLine, cents, rate_decimal

P_INVOICE, P_CREDIT, P_CLOSING, P_BANK, P_FEE = 0, 1, 2, 3, 4
"""Order of documents within one day: invoices, credit notes, closing entries, bank lines."""

SEASON = (0.0, 0.95, 0.95, 1.05, 1.0, 1.0, 1.05, 0.9, 0.75, 1.05, 1.1, 1.1, 1.1)
"""Relative activity per month (index 1..12)."""
HEATING = (0.0, 1.6, 1.5, 1.2, 0.9, 0.6, 0.5, 0.5, 0.5, 0.6, 0.9, 1.2, 1.5)
"""Energy consumption per month relative to the average."""
LINE_COUNTS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5)


class InvoiceDraft:
    """An invoice or credit note to be issued; ``number`` is set for ours when it is issued."""

    __slots__ = (
        "credit_of",
        "day",
        "doc_lines",
        "gross",
        "gross_c",
        "kind",
        "lines",
        "net",
        "note",
        "number",
        "profile",
        "regime",
        "tax",
    )

    def __init__(
        self,
        kind: str,
        day: dt.date,
        profile: Profile,
        regime: str,
        lines: list[PostedLine],
        number: str | None,
        note: str,
        credit_of: InvoiceDraft | None = None,
    ) -> None:
        self.kind = kind
        self.day = day
        self.profile = profile
        self.regime = regime
        self.lines = lines
        self.doc_lines = tuple(
            DocumentLine(ln.description, ln.net, rate_decimal(ln.rate), ln.tax) for ln in lines
        )
        net = tax = ZERO
        for ln in lines:
            net += ln.net
            tax += ln.tax
        self.net = net
        self.tax = tax
        self.gross = net + tax
        self.gross_c = int(self.gross.scaleb(2))
        self.number = number
        self.note = note
        self.credit_of = credit_of


class PaymentDraft:
    """A bank line that settles (part of) an invoice."""

    __slots__ = ("amount", "credit", "invoice", "part", "parts")

    def __init__(
        self, invoice: InvoiceDraft, amount: int, part: int, parts: int, credit: InvoiceDraft | None
    ) -> None:
        self.invoice = invoice
        self.amount = amount
        self.part = part
        self.parts = parts
        self.credit = credit


HOLIDAYS = frozenset({(1, 1), (5, 1), (12, 25), (12, 26)})
"""(month, day) of the public holidays the three countries share; no bank runs on them."""


def is_workday(day: dt.date) -> bool:
    """Monday to Friday and not a shared public holiday."""
    return day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS


def workday(day: dt.date) -> dt.date:
    """``day``, or the next working day after it."""
    while not is_workday(day):
        day += dt.timedelta(days=1)
    return day


def workday_in_month(year: int, month: int, day: int) -> dt.date:
    """A working day near ``day`` of the month: forward, or backward at the month's end."""
    date = dt.date(year, month, day)
    moved = workday(date)
    if moved.month != month:
        while not is_workday(date):
            date -= dt.timedelta(days=1)
        return date
    return moved


def last_workday(year: int, month: int) -> dt.date:
    """The last working day of the month."""
    date = dt.date(year, month, calendar.monthrange(year, month)[1])
    while not is_workday(date):
        date -= dt.timedelta(days=1)
    return date


def month_end(year: int, month: int) -> dt.date:
    """The last day of the month."""
    return dt.date(year, month, calendar.monthrange(year, month)[1])


class LineMaker:
    """Builds document lines for one month: rates of the month, prices of the year."""

    def __init__(
        self,
        rng: random.Random,
        rates: dict[str, int],
        index: float,
        period: str,
        self_assess: dict[str, bool],
    ) -> None:
        self.rng = rng
        self.rates = rates
        self.index = index
        self.period = period
        self.self_assess = self_assess
        """``"eu goods"`` etc. -> whether the chart self-assesses VAT on them."""

    def line(
        self,
        offer: Offer,
        qty: int,
        unit_cents: int,
        regime: str,
        sale: bool,
        description: str | None = None,
    ) -> PostedLine:
        """One line of ``qty`` units of ``offer`` at ``unit_cents`` each."""
        item = offer.item
        if description is None:
            description = item.description
            if item.unit and qty > 1:
                description = f"{description} ({qty} {item.unit})"
            if item.periodic:
                description = f"{description} {self.period}"
        rate = self.rates[item.rate_class]
        net = cents(qty * unit_cents)
        goods = offer.category.goods
        if regime == "domestic":
            tax = tax_on(net, rate_decimal(rate)) if rate else ZERO
            return PostedLine(description, offer.category.key, goods, net, rate, tax, 0, ZERO, rate)
        self_rate = 0
        if not sale and rate and self.self_assess[f"{regime} {'goods' if goods else 'services'}"]:
            self_rate = rate
        self_tax = tax_on(net, rate_decimal(rate)) if self_rate else ZERO
        return PostedLine(
            description, offer.category.key, goods, net, 0, ZERO, self_rate, self_tax, rate
        )

    def unit(self, offer: Offer, jitter: float = 0.03, factor: float = 1.0) -> int:
        """Unit price in cents this month, with a little jitter."""
        spread = 1.0 + jitter * (2.0 * self.rng.random() - 1.0) if jitter else 1.0
        return max(100, int(offer.price * self.index * factor * spread * 100 + 0.5))

    def random_lines(self, profile: Profile, regime: str, sale: bool) -> list[PostedLine]:
        """The lines of an ordinary (not recurring) invoice from or to ``profile``."""
        rng = self.rng
        offers = profile.offers
        count = min(rng.choice(LINE_COUNTS), len(offers))
        picked = rng.sample(offers, count) if count < len(offers) else list(offers)
        out = []
        for offer in picked:
            item = offer.item
            qty = 1
            if item.max_qty > 1:
                qty = 1 + int((item.max_qty - 1) * rng.random() ** 2)
            out.append(self.line(offer, qty, self.unit(offer), regime, sale))
        return out

    def monthly_lines(
        self, profile: Profile, regime: str, sale: bool, month: int
    ) -> list[PostedLine]:
        """The lines of a recurring monthly invoice (fixed prices, seasonal energy)."""
        rng = self.rng
        out = []
        for offer in profile.monthly:
            key = offer.category.key
            if key in ("electricity", "gas"):
                unit = self.unit(
                    offer, 0.12, HEATING[month] if key == "gas" else 0.8 + 0.2 * HEATING[month]
                )
            elif key == "water_waste":
                unit = self.unit(offer, 0.08)
            else:
                unit = self.unit(offer, 0.0)
            out.append(self.line(offer, offer.qty, unit, regime, sale))
        if profile.offers and rng.random() < 0.12:
            extra = rng.choice(profile.offers)
            if not extra.item.periodic:
                qty = 1 + int((extra.item.max_qty - 1) * rng.random() ** 2)
                out.append(self.line(extra, qty, self.unit(extra), regime, sale))
        return out


def credit_lines(rng: random.Random, invoice: InvoiceDraft) -> list[PostedLine]:
    """Lines of a credit note against ``invoice``: one line returned or reduced in price."""
    line = rng.choice(invoice.lines)
    if rng.random() < 0.45:
        net = line.net
        description = f"{'Return' if line.goods else 'Cancelled'}: {line.description}"
    else:
        pct = rng.choice((5, 10, 10, 15, 20))
        net = cents(max(1, int(line.net.scaleb(2)) * pct // 100))
        description = f"Price reduction {pct}%: {line.description}"
    tax = tax_on(net, rate_decimal(line.rate)) if line.rate else ZERO
    self_tax = tax_on(net, rate_decimal(line.self_rate)) if line.self_rate else ZERO
    return [
        PostedLine(
            description,
            line.category,
            line.goods,
            net,
            line.rate,
            tax,
            line.self_rate,
            self_tax,
            line.band_rate,
        )
    ]


def invoice_note(kind: str, regime: str, goods: bool, terms: int) -> str:
    """The legal note printed on an invoice, by VAT regime."""
    base = f"Payment within {terms} days." if kind == SALES_INVOICE and terms else ""
    if regime == "eu":
        note = (
            "Intra-Community supply exempt from VAT (Article 138 of Directive 2006/112/EC)."
            if goods
            else "Reverse charge: VAT to be accounted for by the recipient (Article 196 of "
            "Directive 2006/112/EC)."
        )
    elif regime == "foreign":
        note = (
            "Export: no VAT charged."
            if goods
            else "Service not subject to VAT in the supplier's country."
        )
    else:
        note = ""
    return " ".join(part for part in (base, note) if part)


CREDIT_KIND = {SUPPLIER_INVOICE: SUPPLIER_CREDIT_NOTE, SALES_INVOICE: SALES_CREDIT_NOTE}
"""The credit-note kind of each invoice kind."""


def payment_days(
    rng: random.Random, invoice: InvoiceDraft, credit: InvoiceDraft | None, direct_debit: bool
) -> list[tuple[dt.date, int]]:
    """When and how much (cents) is paid against ``invoice``: one or two bank lines, or none."""
    profile = invoice.profile
    amount = invoice.gross_c - (credit.gross_c if credit is not None else 0)
    if amount <= 0:
        return []
    if direct_debit:
        day = invoice.day + dt.timedelta(days=profile.terms)
    else:
        day = invoice.day + dt.timedelta(days=profile.terms + rng.randint(-5, profile.lateness))
    earliest = (credit.day if credit is not None else invoice.day) + dt.timedelta(days=1)
    day = workday(max(day, earliest))
    if amount > 20000 and rng.random() < profile.partial_rate:
        first = max(100, (amount * rng.choice((3, 5, 5, 6)) // 10) // 100 * 100)
        if 0 < first < amount:
            later = workday(day + dt.timedelta(days=rng.randint(10, 40)))
            return [(day, first), (later, amount - first)]
    return [(day, amount)]


def decimal_cents(amount: Decimal) -> int:
    """Cents of a two-decimal ``Decimal``."""
    return int(amount.scaleb(2))
