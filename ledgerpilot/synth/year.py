"""One year of the synthetic company: drafts each month, then documents in date order.

A :class:`YearRun` drafts a month's events (see :mod:`ledgerpilot.synth.drafts`) into a
heap ordered by date, emits every document due within the month with its careful entry
(and, in the history, the clerk's noise), and closes the month with the VAT settlement.
Follow-ups that fall into the next year are handed on in :attr:`YearRun.carry_out`.

Random streams, one per purpose and year: ``{seed}:{year}:primary`` decides what happens
(drafting only), ``{seed}:{year}:noise`` who posts when and their slips (emission only).
Carried-in follow-ups never draw from either, and never take one of our own numbers
(sales invoices and our credit notes stay in their year), so a year's own documents do
not depend on the years before it; only their ids and bank statement lines do. That is
what lets the inbox be computed from the last history year alone.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from heapq import heappop, heappush
from typing import Any

from ledgerpilot.ledger import Document, EntryLine, JournalEntry
from ledgerpilot.ledger.documents import (
    BANK_PAYMENT,
    BANK_RECEIPT,
    DEPRECIATION,
    OTHER,
    PAYROLL,
    SALES_CREDIT_NOTE,
    SALES_INVOICE,
    SUPPLIER_CREDIT_NOTE,
    SUPPLIER_INVOICE,
)

from . import bookings, vat
from .bookings import Booking
from .catalog import CATEGORIES, Item
from .drafts import (
    CREDIT_KIND,
    P_BANK,
    P_CLOSING,
    P_CREDIT,
    P_FEE,
    P_INVOICE,
    SEASON,
    InvoiceDraft,
    LineMaker,
    PaymentDraft,
    credit_lines,
    invoice_note,
    last_workday,
    month_end,
    payment_days,
    workday,
    workday_in_month,
)
from .noise import (
    Clerks,
    Slip,
)
from .partners import Offer, Profile
from .plan import Asset, CompanyPlan, price_index
from .policies import PayrollLine
from .posting import ZERO, Bookkeeper, PostedLine, cents_at

PREFIX = {
    SUPPLIER_INVOICE: "SI",
    SUPPLIER_CREDIT_NOTE: "SC",
    SALES_INVOICE: "CI",
    SALES_CREDIT_NOTE: "CC",
    BANK_PAYMENT: "BP",
    BANK_RECEIPT: "BR",
    PAYROLL: "PY",
    DEPRECIATION: "DP",
    OTHER: "OT",
}
"""Document id prefix per kind: ``SI-2024-000123``."""

SUPPLIER_SHARE = 0.262
"""Supplier invoices as a share of the documents that are not routine entries."""
CUSTOMER_SHARE = 0.223
"""Sales invoices as a share of the documents that are not routine entries."""

# (months later, day; 0 = last working day) on which each payroll payee is paid.
PAYROLL_DAYS: dict[str, dict[str, tuple[int, int]]] = {
    "HR": {"employees": (1, 15), "tax_office": (1, 15)},
    "DE": {"employees": (0, 0), "tax_office": (1, 10), "social_office": (1, 10)},
    "LU": {"employees": (0, 0), "tax_office": (1, 15)},
}
SALES_NUMBERS = {"HR": "{n}-1-1", "DE": "RE-{y}-{n:05d}", "LU": "INV/{y}/{n:05d}"}
CREDIT_NUMBERS = {"HR": "CN-{y}-{n:04d}", "DE": "GS-{y}-{n:05d}", "LU": "RINV/{y}/{n:05d}"}


class Due:
    """Something to emit on a day: a handler name and its data."""

    __slots__ = ("data", "day", "handler", "prio")

    def __init__(self, day: dt.date, prio: int, handler: str, data: Any) -> None:
        self.day = day
        self.prio = prio
        self.handler = handler
        self.data = data


class YearRun:
    """Documents of one calendar year; iterate :meth:`run`, then read :attr:`carry_out`."""

    def __init__(
        self,
        plan: CompanyPlan,
        book: Bookkeeper,
        year: int,
        carry: list[Due],
        noisy: bool,
        slips: list[Slip] | None = None,
    ) -> None:
        self.plan = plan
        self.book = book
        self.policy = plan.policy
        self.year = year
        self.noisy = noisy
        self.slips = slips
        self.rng = random.Random(f"{plan.seed}:{year}:primary")
        self.nrng = random.Random(f"{plan.seed}:{year}:noise")
        self.clerks = Clerks(plan, book, year, self.nrng, slips)
        self.heap: list[tuple[int, int, int, Due]] = []
        self.seq = 0
        self.drafted = 0
        self.end = dt.date(year, 12, 31).toordinal()
        self.carry_out: list[Due] = []
        self.counters: dict[str, int] = {}
        self.supplier_numbers: dict[int, int] = {}
        self.vat: dict[str, Decimal] = {}
        self.bank_day = (0, 0)
        size = plan.per_year / 2500
        self.size = size
        self.index = price_index(year)
        self.self_assess = {k: v is not None for k, v in self.policy.self_assessed.items()}
        self.handlers: dict[str, Callable[[Any, dt.date], Document]] = {
            "invoice": self._invoice,
            "payment": self._payment,
            "payroll": self._payroll,
            "payroll_payment": self._payroll_payment,
            "depreciation": self._depreciation,
            "other": self._other,
            "bank": self._bank,
        }
        for due in carry:
            self._push(due)

    # ------------------------------------------------------------ the loop

    def run(self) -> Iterator[Document]:
        """Every document of the year in date order."""
        for month in range(1, 13):
            self._draft_month(month)
            limit = month_end(self.year, month).toordinal()
            heap = self.heap
            while heap and heap[0][0] <= limit:
                due = heappop(heap)[3]
                yield self.handlers[due.handler](due.data, due.day)
            settlement = self._vat_settlement(month)
            if settlement is not None:
                yield settlement
        self.carry_out.extend(item[3] for item in sorted(self.heap, key=lambda t: t[:3]))
        self.heap = []

    def _push(self, due: Due) -> None:
        ordinal = due.day.toordinal()
        if ordinal > self.end:
            self.carry_out.append(due)
            return
        self.seq += 1
        heappush(self.heap, (ordinal, due.prio, self.seq, due))

    def _schedule(self, day: dt.date, prio: int, handler: str, data: Any) -> None:
        self.drafted += 1
        self._push(Due(day, prio, handler, data))

    def _next_id(self, kind: str, day: dt.date) -> str:
        prefix = PREFIX[kind]
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return f"{prefix}-{day.year}-{n:06d}"

    # ------------------------------------------------------------ drafting

    def _draft_month(self, month: int) -> None:
        y = self.year
        first = dt.date(y, month, 1)
        last = month_end(y, month)
        rates = {c: vat.rate(self.policy.country, c, first) for c in vat.RATE_CLASSES}
        lines = LineMaker(self.rng, rates, self.index, f"{month:02d}/{y}", self.self_assess)
        before = self.drafted
        self._draft_payroll(month)
        self._draft_depreciation(month)
        self._draft_loans(month)
        self._draft_bank_fees(month)
        if month == 12:
            self._draft_accrual()
        # What is left of the month's volume after routine entries (and the VAT settlement
        # with its payment) goes to invoices; each invoice brings about one bank line.
        flow = self.plan.per_year / 12 * SEASON[month] - (self.drafted - before) - 2
        produced = self._draft_recurring(self.plan.suppliers, first, last, lines, False)
        produced += self._draft_one_offs(self.plan.suppliers, first, last, lines, False)
        produced += self._draft_assets(month, lines)
        target = SUPPLIER_SHARE * flow
        self._draft_random(self.plan.suppliers, first, last, lines, False, target - produced)
        produced = self._draft_recurring(self.plan.customers, first, last, lines, True)
        produced += self._draft_one_offs(self.plan.customers, first, last, lines, True)
        target = CUSTOMER_SHARE * flow
        self._draft_random(self.plan.customers, first, last, lines, True, target - produced)

    def _regime(self, profile: Profile, day: dt.date) -> str:
        return vat.regime(self.policy.country, profile.partner.country, day)

    def _draft_recurring(
        self, profiles: list[Profile], first: dt.date, last: dt.date, lines: LineMaker, sale: bool
    ) -> int:
        count = 0
        for profile in profiles:
            if profile.pattern != "recurring":
                continue
            day = first.replace(day=min(profile.day, last.day))
            if sale:
                day = workday_in_month(day.year, day.month, 1)
            if not profile.active(day):
                continue
            regime = self._regime(profile, day)
            self._draft_invoice(
                profile,
                day,
                regime,
                lines.monthly_lines(profile, regime, sale, first.month),
                sale,
                direct_debit=not sale,
            )
            count += 1
        return count

    def _draft_one_offs(
        self, profiles: list[Profile], first: dt.date, last: dt.date, lines: LineMaker, sale: bool
    ) -> int:
        count = 0
        for profile in profiles:
            if profile.pattern == "one_off" and first <= profile.since <= last:
                day = workday_in_month(profile.since.year, profile.since.month, profile.since.day)
                regime = self._regime(profile, day)
                self._draft_invoice(
                    profile, day, regime, lines.random_lines(profile, regime, sale), sale
                )
                count += 1
        return count

    def _draft_random(
        self,
        profiles: list[Profile],
        first: dt.date,
        last: dt.date,
        lines: LineMaker,
        sale: bool,
        expected: float,
    ) -> None:
        rng = self.rng
        active = [
            p
            for p in profiles
            if p.weight > 0 and p.since <= last and (p.until is None or p.until >= first)
        ]
        if not active or expected <= 0:
            return
        n = max(0, int(rng.gauss(expected, expected**0.5 * 0.5) + 0.5))
        total = 0.0
        cumulative = []
        for p in active:
            total += p.weight
            cumulative.append(total)
        for profile in rng.choices(active, cum_weights=cumulative, k=n):
            day = workday_in_month(first.year, first.month, rng.randint(1, last.day))
            if day < profile.since:
                day = profile.since
            if profile.until is not None and day > profile.until:
                day = profile.until
            regime = self._regime(profile, day)
            self._draft_invoice(
                profile, day, regime, lines.random_lines(profile, regime, sale), sale
            )

    def _draft_assets(self, month: int, lines: LineMaker) -> int:
        count = 0
        for asset in self.plan.assets:
            if (
                asset.vendor is None
                or asset.acquired.year != self.year
                or asset.acquired.month != month
            ):
                continue
            day = workday_in_month(self.year, month, asset.acquired.day)
            regime = self._regime(asset.vendor, day)
            klass = asset.asset_class
            offer = Offer(_ASSET_CATEGORY[klass], _asset_item(asset.name), 0.0)
            line = lines.line(offer, 1, asset.cost, regime, False, description=asset.name)
            line.category = f"asset:{klass}"
            self._draft_invoice(asset.vendor, day, regime, [line], False)
            count += 1
        return count

    def _draft_invoice(
        self,
        profile: Profile,
        day: dt.date,
        regime: str,
        lines: list[PostedLine],
        sale: bool,
        direct_debit: bool = False,
    ) -> None:
        rng = self.rng
        kind = SALES_INVOICE if sale else SUPPLIER_INVOICE
        goods = lines[0].goods
        note = invoice_note(kind, regime, goods, profile.terms)
        number = None if sale else self._supplier_number(profile, day)
        invoice = InvoiceDraft(kind, day, profile, regime, lines, number, note)
        self._schedule(day, P_INVOICE, "invoice", invoice)
        credit = None
        cday: dt.date | None = None
        if profile.credit_rate and rng.random() < profile.credit_rate:
            cday = workday(day + dt.timedelta(days=rng.randint(3, 25)))
        # Our own credit notes are numbered when issued, in date order; one issued next
        # year would shift next year's numbers by what happened this year, so a late
        # December invoice gets no credit note from us.
        if cday is not None and not (sale and cday.year != day.year):
            ckind = CREDIT_KIND[kind]
            cnote = invoice_note(ckind, regime, goods, 0)
            cnumber = None if sale else "CN-" + self._supplier_number(profile, cday)
            credit = InvoiceDraft(
                ckind,
                cday,
                profile,
                regime,
                credit_lines(rng, invoice),
                cnumber,
                cnote,
                credit_of=invoice,
            )
            self._schedule(cday, P_CREDIT, "invoice", credit)
        if sale and rng.random() < 0.01:
            return  # never paid: stays open
        plan = payment_days(rng, invoice, credit, direct_debit)
        swift = not sale and regime == "foreign"
        fee = rng.choice((15, 20, 25, 35)) * 100 if swift else 0
        for part, (pay_day, amount) in enumerate(plan, start=1):
            self._schedule(
                pay_day, P_BANK, "payment", PaymentDraft(invoice, amount, part, len(plan), credit)
            )
            if swift:
                self._schedule(
                    pay_day,
                    P_FEE,
                    "bank",
                    ("fee", f"SWIFT transfer fee, invoice {invoice.number}", fee),
                )

    def _supplier_number(self, profile: Profile, day: dt.date) -> str:
        key = profile.index
        n = self.supplier_numbers.get(key)
        if n is None:
            n = 1 + (profile.index * 37 + self.year * 11) % 300
        n += self.rng.randint(1, profile.number_gap)
        self.supplier_numbers[key] = n
        return profile.number_format.format(y=day.year, n=n)

    def _draft_payroll(self, month: int) -> None:
        plan = self.plan
        y = self.year
        heads = plan.headcount[y]
        gross = int(heads * plan.salary[y] * (1 + self.rng.uniform(-0.02, 0.03)) * 100)
        if month == 12:
            gross = gross * 5 // 4  # Christmas bonus: a quarter more
        rates = self.policy.payroll_rates
        parts = {
            "tax": cents_at(gross, rates["tax"]),
            "employee": cents_at(gross, rates["employee"]),
            "employer": cents_at(gross, rates["employer"]),
        }
        parts["net"] = gross - parts["tax"] - parts["employee"]
        end = month_end(y, month)
        period = f"{month:02d}/{y}"
        self._schedule(end, P_CLOSING, "payroll", (period, heads, gross, parts))
        for payee, pay_lines in self.policy.payroll_payments:
            later, day = PAYROLL_DAYS[self.policy.country][payee]
            py, pm = (y + (month + later - 1) // 12, (month + later - 1) % 12 + 1)
            pay_day = last_workday(py, pm) if day == 0 else workday_in_month(py, pm, day)
            self._schedule(pay_day, P_BANK, "payroll_payment", (payee, pay_lines, parts, period))

    def _draft_depreciation(self, month: int) -> None:
        end = month_end(self.year, month)
        for asset in self.plan.assets:
            amount = asset.amount(self.year, month)
            if amount:
                self._schedule(end, P_CLOSING, "depreciation", (asset, amount))

    def _draft_loans(self, month: int) -> None:
        y = self.year
        py, pm = (y, month - 1) if month > 1 else (y - 1, 12)
        for loan in self.plan.loans:
            if (y, month) == loan.first and loan.first[0] >= self.plan.start_year:
                self._schedule(
                    workday_in_month(y, month, 1),
                    P_BANK,
                    "bank",
                    ("loan_in", f"Loan {loan.code} disbursement", loan.amount),
                )
            principal = loan.principal(y, month)
            interest = loan.interest(py, pm)
            if principal or interest:
                self._schedule(
                    workday_in_month(y, month, 5),
                    P_BANK,
                    "bank",
                    (
                        "instalment",
                        f"Loan {loan.code} instalment {month:02d}/{y}",
                        (principal, interest),
                    ),
                )
            accrued = loan.interest(y, month)
            if accrued:
                self._schedule(
                    month_end(y, month),
                    P_CLOSING,
                    "other",
                    ("interest", f"Interest on loan {loan.code} {month:02d}/{y}", accrued),
                )

    def _draft_bank_fees(self, month: int) -> None:
        amount = int((8 + 4 * self.size**0.5) * self.index * (1 + 0.3 * self.rng.random()) * 100)
        self._schedule(
            last_workday(self.year, month),
            P_FEE,
            "bank",
            ("fee", f"Account maintenance fee {month:02d}/{self.year}", amount),
        )

    def _draft_accrual(self) -> None:
        y = self.year
        audits = [
            o.price
            for p in self.plan.suppliers
            for o in p.offers
            if o.item.description == "Annual financial statement audit"
        ]
        base = audits[0] if audits else 6000.0
        amount = int(base * self.index * 100) // 100 * 100
        self._schedule(
            dt.date(y, 12, 31),
            P_CLOSING,
            "other",
            ("accrual", f"Accrued annual audit fee {y}", amount),
        )
        self._schedule(
            dt.date(y + 1, 1, 1),
            P_CLOSING,
            "other",
            ("reversal", f"Reversal of accrued annual audit fee {y}", amount),
        )

    # ------------------------------------------------------------ emitting

    def _entry(
        self,
        kind: str,
        day: dt.date,
        lines: list[EntryLine],
        description: str,
        doc_id: str,
        chief: bool,
        posted: list[PostedLine] | None,
        regime: str,
    ) -> JournalEntry:
        """The posted entry: careful, plus the clerk's noise and signature in the history."""
        if not self.noisy:
            return JournalEntry(day, tuple(lines), description)
        entry, correction = self.clerks.post(
            kind, day, lines, description, doc_id, chief, posted, regime
        )
        if correction is not None and correction[0].toordinal() <= self.end:
            fix_day, label, value = correction
            self._schedule(fix_day, P_CLOSING, "other", ("correction", label, value))
        return entry

    def _emit(
        self,
        booking: Booking,
        day: dt.date,
        posted: list[PostedLine] | None = None,
        regime: str = "domestic",
    ) -> Document:
        """The document of ``booking`` on ``day`` with its id and posted entry."""
        kind = booking.kind
        doc_id = self._next_id(kind, day)
        entry = self._entry(
            kind, day, booking.entry, booking.description, doc_id, booking.chief, posted, regime
        )
        net = booking.net
        tax = ZERO
        if posted is not None:  # an invoice: the draft knows its totals
            net = sum((ln.net for ln in posted), ZERO)
            tax = sum((ln.tax for ln in posted), ZERO)
        number = booking.number or self._bank_number(day)
        return Document(
            doc_id,
            kind,
            number,
            day,
            booking.partner,
            "EUR",
            booking.lines,
            net,
            tax,
            net + tax,
            booking.text,
            entry,
        )

    def _invoice(self, draft: InvoiceDraft, day: dt.date) -> Document:
        kind = draft.kind
        profile = draft.profile
        partner = profile.partner
        sale = kind in (SALES_INVOICE, SALES_CREDIT_NOTE)
        if draft.number is None:
            credit = draft.credit_of is not None
            formats = CREDIT_NUMBERS if credit else SALES_NUMBERS
            counter = "credit" if credit else "sale"
            n = self.counters.get(counter, 0) + 1
            self.counters[counter] = n
            draft.number = formats[self.policy.country].format(y=day.year, n=n)
        number = draft.number
        book = self.book
        account = (
            book.receivable(draft.regime) if sale else book.payable(draft.regime, profile.utility)
        )
        lines, moves = book.invoice(
            kind, draft.lines, draft.regime, account, draft.gross, number, day
        )
        for code, amount in moves:
            self.vat[code] = self.vat.get(code, ZERO) + amount
        if draft.credit_of is not None:
            text = f"Credit note {number} for invoice {draft.credit_of.number}. {draft.note}"
        elif sale:
            text = f"Invoice {number}. {draft.note} Please quote {number} with your payment."
        else:
            text = f"{partner.name}, invoice {number}. {draft.note}"
        booking = Booking(
            kind,
            number,
            partner,
            draft.doc_lines,
            text.strip(),
            lines,
            f"{_LABELS[kind]} {number} {partner.name}",
        )
        return self._emit(booking, day, posted=draft.lines, regime=draft.regime)

    def _payment(self, pay: PaymentDraft, day: dt.date) -> Document:
        return self._emit(bookings.settlement(self.policy, self.book, pay), day)

    def _bank_number(self, day: dt.date) -> str:
        ordinal, k = self.bank_day
        k = k + 1 if ordinal == day.toordinal() else 1
        self.bank_day = (day.toordinal(), k)
        return f"{day:%Y%m%d}/{k:03d}"

    def _payroll(self, data: tuple[str, int, int, dict[str, int]], day: dt.date) -> Document:
        return self._emit(bookings.payroll(self.policy, *data), day)

    def _payroll_payment(
        self, data: tuple[str, tuple[PayrollLine, ...], dict[str, int], str], day: dt.date
    ) -> Document:
        payee, pay_lines, parts, period = data
        partner = None if payee == "employees" else self.plan.special[payee]
        return self._emit(
            bookings.payroll_payment(self.policy, partner, pay_lines, parts, period), day
        )

    def _depreciation(self, data: tuple[Asset, int], day: dt.date) -> Document:
        asset, amount = data
        return self._emit(bookings.depreciation(self.policy, asset, amount, day), day)

    def _other(self, data: tuple[str, str, Any], day: dt.date) -> Document:
        what, label, value = data
        return self._emit(bookings.journal(self.policy, self.book, what, label, value, day), day)

    def _bank(self, data: tuple[str, str, Any], day: dt.date) -> Document:
        what, label, value = data
        return self._emit(
            bookings.bank_line(self.policy, self.plan.special, what, label, value), day
        )

    def _vat_settlement(self, month: int) -> Document | None:
        """Close the month's VAT accounts; schedule the payment or the refund."""
        balances = [(code, amount) for code, amount in self.vat.items() if amount]
        self.vat = {}
        if not balances:
            return None
        y = self.year
        booking, (what, label, amount) = bookings.vat_settlement(self.policy, balances, y, month)
        due_day = workday_in_month(y + month // 12, month % 12 + 1, self.policy.vat_due_day)
        if amount and what == "vat_due":
            self._schedule(due_day, P_BANK, "bank", (what, label, amount))
        elif amount:
            self._schedule(
                workday(due_day + dt.timedelta(days=35)), P_BANK, "bank", (what, label, amount)
            )
        return self._emit(booking, month_end(y, month))


_LABELS = {
    SUPPLIER_INVOICE: "Supplier invoice",
    SUPPLIER_CREDIT_NOTE: "Supplier credit note",
    SALES_INVOICE: "Sales invoice",
    SALES_CREDIT_NOTE: "Sales credit note",
    BANK_PAYMENT: "Payment",
    BANK_RECEIPT: "Receipt",
}


# Capitalised purchases take the goods/services nature of a related category (software
# licences are services for VAT); their account comes from the asset class.
_ASSET_CATEGORY = {
    "it": CATEGORIES["merchandise"],
    "furniture": CATEGORIES["office_supplies"],
    "vehicle": CATEGORIES["vehicle_service"],
    "software": CATEGORIES["software"],
}


def _asset_item(name: str) -> Item:
    return Item(name, "standard", 0.0, 0.0)
