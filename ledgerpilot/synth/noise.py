"""What a real history has that a careful bookkeeper's would not: clerks and their slips.

Applied to historical entries only; the truth of the inbox is never touched. Every slip is
recorded as a :class:`Slip`, so tests and audit checks can tell noise from policy.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from ledgerpilot.ledger import EntryLine, JournalEntry
from ledgerpilot.ledger.documents import BANK_PAYMENT, BANK_RECEIPT

from .catalog import CATEGORIES
from .drafts import workday
from .plan import Clerk, CompanyPlan
from .posting import Bookkeeper, PostedLine

CORRECTION_RATE = 0.4
"""Share of wrong postings that a reviewer notices and reclassifies later in the year."""
HABIT_DAYS = 60
"""After the policy change, clerks keep using the old account for a while out of habit."""
HABIT_RATE = 0.3
"""Share of the changed category's lines still posted the old way during those days."""
TYPO_RATE = 0.03
"""Share of entries whose first line carries the clerk's own wording instead of the document's."""
PAYMENT_SLIP_RATE = 0.004
"""Share of payments posted to the other payables or receivables account (charts with two)."""


@dataclass(frozen=True, slots=True)
class Slip:
    """One deviation of a historical entry from the careful posting."""

    document: str
    """Id of the document whose entry has it."""
    kind: str
    """``wrong_account``, ``habit`` (old policy after the change) or ``payment_account``."""
    line: int
    """0-based index of the entry line."""
    posted: str
    """The account the clerk used."""
    careful: str
    """The account a careful bookkeeper uses."""


INVOICE_LAGS = (0, 1, 1, 2, 2, 2, 3, 3, 4, 5, 7, 9, 12)
"""Days between an invoice and its posting."""
BANK_LAGS = (0, 0, 0, 1, 1, 2)
"""Days between a bank line and its posting (statements are imported daily)."""
CLOSING_LAGS = (1, 2, 3, 5, 8)
"""Days between a month-end closing entry and its posting."""

Correction = tuple[dt.date, str, tuple[Decimal, str, str, bool]]
"""(day, label, (amount, wrong account, careful account, was a debit)) of a reclassification."""


class Clerks:
    """Who posts, when, and how carefully, in one year of the history."""

    def __init__(
        self,
        plan: CompanyPlan,
        book: Bookkeeper,
        year: int,
        rng: random.Random,
        slips: list[Slip] | None,
    ) -> None:
        self.active = [c for c in plan.clerks if c.first_year <= year <= c.last_year]
        self.weights = [c.weight for c in self.active]
        self.chief = plan.chief
        self.plan = plan
        self.book = book
        self.rng = rng
        self.slips = slips

    def pick(self) -> Clerk:
        """A clerk for a routine document, by their share of the work."""
        return self.rng.choices(self.active, weights=self.weights)[0]

    def posted_at(self, day: dt.date, lag: int, late_evening: bool) -> dt.datetime:
        """A working-day time ``lag`` days (or so) after ``day``."""
        moment = workday(day + dt.timedelta(days=lag))
        rng = self.rng
        hour = (
            rng.randint(19, 22)
            if late_evening
            else rng.choice((8, 8, 9, 9, 9, 10, 10, 10, 11, 11, 12, 13, 13, 14, 14, 15, 15, 16))
        )
        return dt.datetime(
            moment.year, moment.month, moment.day, hour, rng.randrange(60), rng.randrange(60)
        )

    def post(
        self,
        kind: str,
        day: dt.date,
        lines: list[EntryLine],
        description: str,
        doc_id: str,
        chief: bool,
        posted: list[PostedLine] | None,
        regime: str,
    ) -> tuple[JournalEntry, Correction | None]:
        """The entry as a clerk posts ``lines``, and a later reclassification if one is due.

        ``posted``: the invoice lines behind the first entry lines (None for other kinds).
        """
        rng = self.rng
        clerk = self.pick()
        correction = None
        if posted is not None:
            correction = self._slips(day, lines, posted, regime, doc_id, clerk.error_rate)
        elif kind in (BANK_PAYMENT, BANK_RECEIPT) and rng.random() < PAYMENT_SLIP_RATE:
            self._payment_slip(lines, doc_id)
        if rng.random() < TYPO_RATE:
            lines[0] = with_description(lines[0], clerk_wording(lines[0].description, rng))
        if chief:
            lag = rng.choice(CLOSING_LAGS)
        elif kind in (BANK_PAYMENT, BANK_RECEIPT):
            lag = rng.choice(BANK_LAGS)
        else:
            lag = rng.choice(INVOICE_LAGS)
        late = clerk.error_rate > 0.03 and rng.random() < 0.05
        at = self.posted_at(day, lag, late and not chief)
        user = self.chief if chief else clerk.user
        return JournalEntry(
            day, tuple(lines), description, posted_by=user, posted_at=at
        ), correction

    def _slips(
        self,
        day: dt.date,
        lines: list[EntryLine],
        posted: list[PostedLine],
        regime: str,
        doc_id: str,
        error_rate: float,
    ) -> Correction | None:
        rng = self.rng
        change = self.plan.policy.policy_change
        since = (day - self.plan.change_date).days
        if 0 <= since < HABIT_DAYS:
            for i, ln in enumerate(posted):
                if ln.category == change.category and rng.random() < HABIT_RATE:
                    lines[i] = with_account(lines[i], change.old)
                    self._log(Slip(doc_id, "habit", i, change.old, change.new))
        if rng.random() >= error_rate:
            return None
        i = rng.randrange(len(posted))
        careful = lines[i].account
        wrong = wrong_account(self.book, posted[i], regime, day, careful)
        if wrong is None:
            return None
        lines[i] = with_account(lines[i], wrong)
        self._log(Slip(doc_id, "wrong_account", i, wrong, careful))
        if rng.random() >= CORRECTION_RATE:
            return None
        fix_day = workday(day + dt.timedelta(days=rng.randint(10, 60)))
        label = f"Reclassification of {doc_id}: {posted[i].description}"
        return fix_day, label, (lines[i].amount, wrong, careful, bool(lines[i].debit))

    def _payment_slip(self, lines: list[EntryLine], doc_id: str) -> None:
        policy = self.plan.policy
        for pool in (policy.payable, policy.receivable):
            codes = list(dict.fromkeys(pool.values()))
            for i, ln in enumerate(lines):
                if ln.account in codes and len(codes) > 1:
                    other = codes[(codes.index(ln.account) + 1) % len(codes)]
                    lines[i] = with_account(ln, other)
                    self._log(Slip(doc_id, "payment_account", i, other, ln.account))
                    return

    def _log(self, slip: Slip) -> None:
        if self.slips is not None:
            self.slips.append(slip)


def wrong_account(
    book: Bookkeeper, line: PostedLine, regime: str, day: dt.date, careful: str
) -> str | None:
    """A plausible but wrong account for ``line``: that of a category it is confused with."""
    if line.category.startswith("asset:"):
        return None
    for sibling in CATEGORIES[line.category].siblings:
        code = book.account(sibling, regime, line.band_rate, day)
        if code != careful:
            return code
    policy = book.policy
    fallback = (
        policy.revenue_fallback if CATEGORIES[line.category].sale else policy.expense_fallback
    )
    return fallback if fallback != careful else None


def with_account(line: EntryLine, account: str) -> EntryLine:
    """``line`` on another account."""
    return EntryLine(account, line.debit, line.credit, line.description)


def with_description(line: EntryLine, description: str) -> EntryLine:
    """``line`` with another description."""
    return EntryLine(line.account, line.debit, line.credit, description)


def clerk_wording(description: str, rng: random.Random) -> str:
    """How a clerk retypes a line description in a hurry."""
    choice = rng.randrange(4)
    if choice == 0:
        return description.lower()
    if choice == 1:
        return description[: max(8, len(description) // 2)].rstrip()
    if choice == 2:
        return f"{description} - see attachment"
    return "as per invoice"
