"""Journal-entry tests: each a small function from one posted entry to the reasons it fired.

What they implement: the characteristics of fraudulent or erroneous entries that ISA 240
(A43-A44, journal entries and other adjustments) and PCAOB AS 2401 (.58-.62) tell auditors
to select for testing: entries made at unusual times, by unusual users, to seldom-used
accounts, at period end or after closing with little or no explanation, with round numbers
or consistent ending numbers, amounts just below approval limits, duplicates and split
transactions; and the ledger's own validation (balance, postable accounts, VAT arithmetic).

The checks that need the history before an entry (duplicates, splits, users) are small
classes with ``check`` (judge an entry against what came before) and ``observe`` (learn it).

A signal weighs more or less by what is usual where it fires, as an auditor judges it: the
company's own calendar (postings on non-working days it works on, the public holidays it
keeps open), the user's hours, the partner's range of amounts, its repeated amounts and
its accounts. Each reason says so when it does.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ..ledger import ChartOfAccounts, Document, JournalEntry, PostingScheme
from ..ledger import documents as kinds
from ..ledger.validation import check_balance, check_lines, check_tax, check_totals
from .holidays import WEEKDAYS, non_working_day
from .model import AuditSettings, Reason

ZERO = Decimal(0)
CENT = Decimal("0.01")

DESCRIPTIONS: dict[str, str] = {
    "weekend_or_holiday": "entries dated on a weekend or public holiday (ISA 240 A44)",
    "unusual_hour": "entries posted outside working hours (AS 2401 .61)",
    "round_amount": "round amounts (whole thousands): AS 2401 .61 round numbers",
    "repeated_ending": "amounts with repeated endings (…999.99, or one ending far too common)",
    "just_below_threshold": "amounts just below an approval threshold",
    "duplicate": "same partner, kind and amount within a window, or a reused reference",
    "split_invoice": "invoices from one partner, each below a threshold, adding to just over it",
    "unseen_combination": "account combination never seen for the partner and kind",
    "rare_combination": "account combination rarely used for the partner and kind",
    "surprise": "surprisal of the account scheme under the history's frequency model",
    "rare_user": "entries by users who rarely post",
    "user_new_account": "entries to accounts the user has never posted to",
    "period_end_manual": "manual entries at period end with little description",
    "post_closing": "entries posted after the period was closed",
    "unbalanced": "entries whose debits and credits differ",
    "non_postable_account": "entries on unknown or non-postable (summary) accounts",
    "vat_arithmetic": "entries that break their document's VAT or total arithmetic",
    "benford": "amounts whose first two digits are over-represented (Nigrini's z, MAD)",
}
"""Every check by name, with what it looks for in words."""

MANUAL_KINDS = frozenset({kinds.OTHER})
AUTOMATIC_KINDS = frozenset({kinds.PAYROLL, kinds.DEPRECIATION})
"""Kinds without a partner that the AIS posts by routine (monthly payroll, depreciation runs)."""


def _reason(settings: AuditSettings, check: str, detail: str, factor: float = 1.0) -> Reason:
    return Reason(check, detail, settings.weight(check) * factor)


def entry_amount(entry: JournalEntry) -> Decimal:
    """The entry's size: its total debit."""
    total = ZERO
    for ln in entry.lines:
        total += ln.debit
    return total


def is_manual(document: Document) -> bool:
    """A manual entry: kind "other", or no partner (a journal voucher, not a source document).

    Payroll and depreciation have no partner either but are posted by routine: not manual.
    """
    if document.kind in MANUAL_KINDS:
        return True
    return document.partner is None and document.kind not in AUTOMATIC_KINDS


def describe(document: Document) -> str:
    """The text an auditor reads as the entry's explanation."""
    entry = document.entry
    return ((entry.description if entry else "") or document.text or "").strip()


@lru_cache(maxsize=16384)
def day_category(day: dt.date, country: str) -> str | None:
    """``"Saturday"``, ``"Sunday"``, ``"public holiday"`` or ``None`` for a working day.

    A public holiday on a Saturday or Sunday is that day of the weekend: that a company
    works on some public holidays says nothing of its weekends.
    """
    why = non_working_day(day, country)
    if why is None:
        return None
    if day.weekday() >= 5:
        return WEEKDAYS[day.weekday()]
    return "public holiday" if why.startswith("public holiday") else why


def check_timing(
    document: Document,
    settings: AuditSettings,
    habits: Mapping[str, float] | None = None,
    hours: UserHours | None = None,
) -> list[Reason]:
    """Entries made on weekends or public holidays, or at unusual hours (ISA 240 A44).

    When the AIS records the time of posting, the day and hour it was posted are judged;
    otherwise the entry's date. A manual entry (kind "other" or no partner) dated on a
    non-working day is reported either way: nobody else dates it; except on the last day
    of its month when it was posted on a working day, the date closing entries take by
    convention (March's accrual is dated 31 March, a Sunday or not). Night postings
    (before ``night_end_hour``) weigh double. ``habits``: the share of earlier postings
    per kind of day (see :class:`PostingDays`); where the company often posts on such days
    (``usual_share`` or more), the reason weighs half and says so. ``hours``: the user's
    earlier postings (see :meth:`Users.hours`); a user who often posts at such hours
    (``usual_share`` of their postings or more, ``habit_count`` times at least) is keeping
    their own hours: half weight.
    """
    entry = document.entry
    if entry is None:
        return []
    found = []
    at = entry.posted_at
    habits = habits or {}

    def weekend(day: dt.date, what: str) -> None:
        why = non_working_day(day, settings.country)
        if why is None:
            return
        share = habits.get(day_category(day, settings.country) or "", 0.0)
        factor, note = 1.0, ""
        if share >= settings.usual_share:
            factor, note = 0.5, f" (as {share:.1%} of earlier postings)"
        found.append(
            _reason(
                settings, "weekend_or_holiday", f"{what} {day.isoformat()}, a {why}{note}", factor
            )
        )

    if at is None or (
        is_manual(document)
        and not (
            entry.date == month_end(entry.date)
            and non_working_day(at.date(), settings.country) is None
        )
    ):
        weekend(entry.date, "dated")
    if at is not None:
        if not (found and at.date() == entry.date):
            weekend(at.date(), "posted on")
        if outside_hours(at, settings):
            night = at.hour < settings.night_end_hour
            factor, note = (2.0 if night else 1.0), ""
            if hours is not None and hours.count:
                times = hours.night if night else hours.outside
                share = times / hours.count
                if times >= settings.habit_count and share >= settings.usual_share:
                    factor /= 2
                    note = f" (as {share:.1%} of {hours.user}'s earlier postings)"
            found.append(
                _reason(
                    settings,
                    "unusual_hour",
                    f"posted at {at.strftime('%H:%M')}, "
                    + (
                        "in the night"
                        if night
                        else f"outside {settings.work_start_hour:02d}:00-"
                        f"{settings.work_end_hour:02d}:00"
                    )
                    + note,
                    factor,
                )
            )
    return found


def outside_hours(at: dt.datetime, settings: AuditSettings) -> bool:
    """Whether ``at`` is outside working hours (``work_start_hour`` to ``work_end_hour``)."""
    return at.hour < settings.work_start_hour or at.hour >= settings.work_end_hour


@dataclass(frozen=True, slots=True)
class UserHours:
    """A user's earlier postings: how many, how many outside working hours, at night."""

    user: str
    count: int
    outside: int
    night: int


class PostingDays:
    """How often the company posts on Saturdays, Sundays and public holidays, so far; and how
    many entries were posted on each day."""

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.total = 0
        self.counts: Counter[str] = Counter()
        self.per_day: Counter[dt.date] = Counter()

    def observe(self, entry: JournalEntry) -> None:
        """Count the day ``entry`` was posted on (or dated, without posting times)."""
        day = entry.posted_at.date() if entry.posted_at is not None else entry.date
        self.total += 1
        self.per_day[day] += 1
        category = day_category(day, self.settings.country)
        if category:
            self.counts[category] += 1

    def shares(self) -> dict[str, float]:
        """The share of postings per kind of non-working day (empty with little history)."""
        if self.total < self.settings.min_history * 20:
            return {}
        return {c: n / self.total for c, n in self.counts.items()}

    def open_holidays(self) -> dict[dt.date, int]:
        """Public holidays on which the company evidently worked, with their postings: at
        least ``open_holiday_share`` of a median working day's (and ``min_history``)."""
        s = self.settings
        working = sorted(
            n for day, n in self.per_day.items() if day_category(day, s.country) is None
        )
        if not working:
            return {}
        usual = working[len(working) // 2]
        least = max(s.min_history, usual * s.open_holiday_share)
        return {
            day: n
            for day, n in self.per_day.items()
            if n >= least and day_category(day, s.country) == "public holiday"
        }


def holidays_of(document: Document, settings: AuditSettings) -> tuple[dt.date, ...]:
    """The public holidays among the days ``document``'s entry is dated and posted on."""
    entry = document.entry
    if entry is None:
        return ()
    days = {entry.date}
    if entry.posted_at is not None:
        days.add(entry.posted_at.date())
    return tuple(sorted(d for d in days if day_category(d, settings.country) == "public holiday"))


def on_open_holidays(
    reasons: list[Reason], days: Mapping[dt.date, int], settings: AuditSettings
) -> list[Reason]:
    """``reasons`` with those about a public holiday the company worked on (``days``, from
    :meth:`PostingDays.open_holidays`) weighing ``open_holiday_weight`` times as much, and
    saying why: a holiday a business keeps open is one of its working days (the calendar
    test is about entries made when nobody else was at work)."""
    out = []
    for r in reasons:
        if r.check == "weekend_or_holiday":
            for day, n in days.items():
                if f" {day.isoformat()}, a public holiday" in r.detail:
                    r = Reason(
                        r.check,
                        f"{r.detail}; {n} entries were posted that day, a working day for "
                        "the company",
                        r.weight * settings.open_holiday_weight,
                    )
                    break
        out.append(r)
    return out


def repeated_tail(amount: Decimal) -> int:
    """How many of the amount's last digits (cents included) repeat the last one, if not 0.

    ``repeated_tail(Decimal("1999.99")) == 5``; ``repeated_tail(Decimal("1000.00")) == 0``.
    """
    digits = str(int(abs(amount).quantize(CENT) * 100))
    last = digits[-1]
    if last == "0":
        return 0
    return len(digits) - len(digits.rstrip(last))


def check_amount(
    amount: Decimal,
    settings: AuditSettings,
    kind: str | None = None,
    range_of: Callable[[], PartnerRange | None] | None = None,
) -> list[Reason]:
    """Round amounts, runs of one repeated ending digit, and amounts just below a threshold.

    AS 2401 .61 ("round numbers or consistent ending numbers"); just below an approval limit
    is the classic sign of an entry shaped to avoid review (ACFE Fraud Examiners Manual).
    The just-below test concerns the kinds an approval limit governs (``approval_kinds``;
    every kind when ``kind`` is not given).

    ``range_of``: gives the partner's earlier amounts of the kind (:class:`PartnerAmounts`),
    asked only when an amount test fires. A round or just-below amount far beyond anything
    the partner was paid before is what shaping looks like (Nigrini's relative size factor:
    an amount out of line with the partner's others): it weighs ``range_weight`` times as
    much. A just-below amount the partner has reached before is its ordinary business, and
    a round amount from a partner who bills round amounts too (``usual_round_share`` of its
    amounts): they weigh ``1 / range_weight`` as much. Each says so.
    """
    found = []
    unit = settings.round_amount_unit
    if amount >= settings.round_amount_min and amount % unit == 0:
        factor, note = 1.0, ""
        usual = range_of() if range_of is not None else None
        if usual is not None:
            factor, note = usual.judge(amount, settings)
            if factor <= 1.0 and usual.round >= usual.count * settings.usual_round_share:
                factor = 1 / settings.range_weight
                note = (
                    f" (as {usual.round} of partner {usual.partner}'s {usual.count} "
                    "earlier amounts)"
                )
        found.append(
            _reason(settings, "round_amount", f"{amount:,.2f} is a round amount{note}", factor)
        )
    if amount >= settings.repeated_ending_min and repeated_tail(amount) >= 4:
        found.append(
            _reason(
                settings,
                "repeated_ending",
                f"{amount:,.2f} ends in {repeated_tail(amount)} repeated digits",
            )
        )
    if kind is not None and kind not in settings.approval_kinds:
        return found
    for threshold in settings.approval_thresholds:
        floor = threshold * (1 - settings.just_below_fraction)
        if floor <= amount < threshold:
            factor, note = 1.0, ""
            usual = range_of() if range_of is not None else None
            if usual is not None:
                factor, note = usual.judge(amount, settings)
                if amount <= usual.largest:
                    factor = 1 / settings.range_weight
            found.append(
                _reason(
                    settings,
                    "just_below_threshold",
                    f"{amount:,.2f} is just below the approval threshold of {threshold:,.2f}"
                    + note,
                    factor,
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class PartnerRange:
    """A partner's earlier amounts of one kind: how many, the largest, how many were round."""

    partner: str
    count: int
    largest: Decimal
    round: int

    def judge(self, amount: Decimal, settings: AuditSettings) -> tuple[float, str]:
        """The weight factor of an amount test on ``amount``, and the words that explain it:
        beyond the partner's range (``beyond_range_factor`` times its largest), within it
        (at most its largest), or neither (factor 1, no words)."""
        if amount > self.largest * settings.beyond_range_factor:
            times = amount / self.largest if self.largest else None
            said = f"{times:.1f} times" if times is not None else "far above"
            return settings.range_weight, (
                f", {said} the largest of partner {self.partner}'s {self.count} earlier "
                f"amounts ({self.largest:,.2f})"
            )
        if amount <= self.largest:
            return 1.0, (
                f", within partner {self.partner}'s usual range (up to {self.largest:,.2f} "
                f"in {self.count} earlier amounts)"
            )
        return 1.0, ""


class PartnerAmounts:
    """Each partner's earlier amounts per kind: their count, the largest, the round ones.

    What an amount test compares an entry with: the partner's own history (ISA 520's
    expectation from the entity's own data, per partner). ``usual`` is ``None`` until the
    partner and kind have ``min_history`` earlier entries.
    """

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.seen: dict[tuple[str, str], list[Any]] = {}

    def usual(self, document: Document) -> PartnerRange | None:
        """The partner's range for ``document``'s kind, from the entries before it."""
        if document.partner is None:
            return None
        seen = self.seen.get((document.partner.id, document.kind))
        if seen is None or seen[0] < self.settings.min_history:
            return None
        return PartnerRange(document.partner.id, seen[0], seen[1], seen[2])

    def observe(self, document: Document, amount: Decimal) -> None:
        """Learn ``document``'s amount."""
        if document.partner is None:
            return
        key = (document.partner.id, document.kind)
        seen = self.seen.get(key)
        if seen is None:
            seen = self.seen[key] = [0, ZERO, 0]
        seen[0] += 1
        if amount > seen[1]:
            seen[1] = amount
        s = self.settings
        if amount >= s.round_amount_min and amount % s.round_amount_unit == 0:
            seen[2] += 1


@lru_cache(maxsize=16384)
def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def check_period_end(document: Document, settings: AuditSettings) -> list[Reason]:
    """Manual period-end entries with little description, and post-closing entries (AS 2401 .61).

    Period end: dated within ``period_end_days`` of the month's end, manual (kind "other" or
    no partner) and described in fewer than ``short_description`` characters. Post-closing:
    posted more than ``post_closing_days`` after its month ended (needs posting times);
    a manual one weighs more.
    """
    entry = document.entry
    if entry is None:
        return []
    found = []
    end = month_end(entry.date)
    manual = is_manual(document)
    text = describe(document)
    if (
        manual
        and (end - entry.date).days < settings.period_end_days
        and len(text) < settings.short_description
    ):
        said = f"described only as {text!r}" if text else "with no description"
        found.append(
            _reason(
                settings,
                "period_end_manual",
                f"manual entry on {entry.date.isoformat()}, at the end of the month, {said}",
            )
        )
    if entry.posted_at is not None:
        late = (entry.posted_at.date() - end).days
        if late > settings.post_closing_days:
            factor = 1.5 if manual else 1.0
            found.append(
                _reason(
                    settings,
                    "post_closing",
                    f"posted on {entry.posted_at.date().isoformat()}, {late} days after its "
                    f"month ({end:%Y-%m}) ended" + (", a manual entry" if manual else ""),
                    factor,
                )
            )
    return found


_LEDGER_CODES = {
    "unbalanced": "unbalanced",
    "empty": "unbalanced",
    "unknown_account": "non_postable_account",
    "non_postable_account": "non_postable_account",
    "tax_mismatch": "vat_arithmetic",
    "total_mismatch": "vat_arithmetic",
    "document_inconsistent": "vat_arithmetic",
}


def check_ledger(
    document: Document, chart: ChartOfAccounts, settings: AuditSettings
) -> list[Reason]:
    """The ledger's own validation of the posted entry: balance, postable accounts, VAT.

    Reuses the checks of :func:`ledgerpilot.ledger.validate` that concern a posted entry
    (lines, balance, totals, VAT) and :meth:`Document.check` for the document's own VAT
    arithmetic; the currency checks are the AIS's business, not the audit's.
    """
    entry = document.entry
    if entry is None:
        return []
    scheme = PostingScheme(document.id, document.kind, entry.description, entry.lines)
    found = []
    seen = set()
    violations = [
        *check_lines(scheme, chart, document),
        *check_balance(scheme, chart, document),
        *check_totals(scheme, chart, document),
        *check_tax(scheme, chart, document),
        *document.check(),
    ]
    for violation in violations:
        check = _LEDGER_CODES.get(violation.code)
        if check is None:
            continue
        where = f"line {violation.line}: " if violation.line else ""
        detail = f"{where}{violation.message}"
        if (check, detail) not in seen:
            seen.add((check, detail))
            found.append(_reason(settings, check, detail))
    return found


Ref = int
"""The index of an audited entry in the run (entries of the history before have none)."""


class Duplicates:
    """Possible duplicates: same partner, kind and amount within a window, or a reused reference.

    The ACFE's duplicate-payment test: the later entry is flagged, naming the earlier one.
    Amounts below ``duplicate_min_amount`` (fees at a fixed tariff) are not matched by amount.
    Only ``duplicate_window_days`` of history are held. A partner whose earlier entries
    repeated an amount within the window ``usual_share`` of the time or more, and
    ``habit_count`` times at least (instalments, the same order twice a week), does so in
    the ordinary course: a match on the amount alone weighs half then, and says so.
    """

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.window = dt.timedelta(days=settings.duplicate_window_days)
        self.reference_window = dt.timedelta(days=settings.duplicate_reference_days)
        self.recent: deque[tuple[dt.date, tuple[str, str, Decimal], str]] = deque()
        self.by_amount: dict[tuple[str, str, Decimal], list[tuple[dt.date, str]]] = {}
        self.references: dict[tuple[str, str, str], tuple[dt.date, str, Decimal]] = {}
        self.reference_order: deque[tuple[dt.date, tuple[str, str, str]]] = deque()
        self.entries: Counter[tuple[str, str]] = Counter()
        self.repeats: Counter[tuple[str, str]] = Counter()
        """Per partner and kind: entries seen, and those that repeated an amount in the window."""

    def _forget(self, day: dt.date) -> None:
        recent = self.recent
        oldest = day - self.window
        while recent and recent[0][0] < oldest:
            _, key, doc_id = recent.popleft()
            bucket = self.by_amount.get(key)
            if bucket:
                bucket[:] = [b for b in bucket if b[1] != doc_id]
                if not bucket:
                    del self.by_amount[key]
        # Invoice numbers restart every year: a reference is remembered for a while only.
        order = self.reference_order
        oldest = day - self.reference_window
        while order and order[0][0] < oldest:
            _, ref_key = order.popleft()
            self.references.pop(ref_key, None)

    def check(self, document: Document, amount: Decimal) -> list[Reason]:
        """Reasons ``document`` looks like a duplicate of one in the window before it.

        Partner, reference and amount all the same (Nigrini's same-same-same test) is one
        reason weighing ``exact_duplicate_weight`` times as much as either match alone.
        """
        entry = document.entry
        if entry is None or document.partner is None or not amount:
            return []
        self._forget(entry.date)
        partner = document.partner.id
        s = self.settings
        earlier = None
        if document.number:
            earlier = self.references.get((partner, document.kind, document.number))
            # Invoice numbers restart every January: across a new year only the same amount
            # under the same number is a duplicate.
            if earlier is not None and (
                earlier[1] == document.id
                or (earlier[0].year != entry.date.year and earlier[2] != amount)
            ):
                earlier = None
        if earlier is not None and earlier[2] == amount:
            return [
                _reason(
                    s,
                    "duplicate",
                    f"same partner {partner}, reference {document.number!r} and amount "
                    f"{amount:,.2f} as document {earlier[1]} of {earlier[0].isoformat()}",
                    s.exact_duplicate_weight,
                )
            ]
        found = []
        same_amount: list[tuple[dt.date, str]] = []
        if amount >= s.duplicate_min_amount:  # else the reference only
            same_amount = self.by_amount.get((partner, document.kind, amount), [])
        for day, doc_id in same_amount:
            if doc_id != document.id:
                key = (partner, document.kind)
                repeats, entries = self.repeats[key], self.entries[key]
                factor, note = 1.0, ""
                if repeats >= s.habit_count and repeats >= entries * s.usual_share:
                    factor = 0.5
                    note = f" (as {repeats} of the partner's {entries} earlier entries did)"
                found.append(
                    _reason(
                        s,
                        "duplicate",
                        f"same partner {partner}, kind and amount {amount:,.2f} as document "
                        f"{doc_id} of {day.isoformat()}{note}",
                        factor,
                    )
                )
                break
        if earlier is not None:
            found.append(
                _reason(
                    s,
                    "duplicate",
                    f"reference {document.number!r} of partner {partner} was already "
                    f"posted as document {earlier[1]} of {earlier[0].isoformat()}",
                )
            )
        return found

    def observe(self, document: Document, amount: Decimal) -> None:
        """Remember ``document`` for the entries after it."""
        entry = document.entry
        if entry is None or document.partner is None:
            return
        self._forget(entry.date)
        partner_kind = (document.partner.id, document.kind)
        key = (*partner_kind, amount)
        bucket = self.by_amount.get(key)
        self.entries[partner_kind] += 1
        if bucket is None:  # not setdefault: it would make a list for every entry
            bucket = self.by_amount[key] = []
        elif amount >= self.settings.duplicate_min_amount:
            self.repeats[partner_kind] += 1
        bucket.append((entry.date, document.id))
        self.recent.append((entry.date, key, document.id))
        if document.number:
            ref_key = (document.partner.id, document.kind, document.number)
            if ref_key not in self.references:
                self.references[ref_key] = (entry.date, document.id, amount)
                self.reference_order.append((entry.date, ref_key))


SPLIT_KINDS = frozenset({kinds.SUPPLIER_INVOICE})
"""Purchases: what approval limits apply to (a partner's payments are often several a week)."""


_Part = tuple[dt.date, Decimal, str, Ref | None, int, Decimal]
"""A recent invoice for the split test: date, amount, document, ref, and the partner's count
of invoices and largest invoice before it."""


class Splits:
    """Split invoices: a partner's invoices within a window, each below an approval threshold,
    of similar size, that add up to just over it (ACFE: split purchases to stay under an
    approval limit; a purchase cut in parts gives parts of about the same size).

    A partner whose invoices are usually that size sends several a week in the ordinary
    course: once the partner has ``min_history`` invoices, the parts must be larger than
    ``split_unusual_size`` times its average invoice, or smaller than its average divided by
    it (a partner whose invoices usually exceed the threshold, now in parts below it).
    Larger parts each beyond the partner's range (more than ``beyond_range_factor`` times its
    largest invoice before the first part) weigh ``range_weight`` times as much: a purchase
    the partner never billed in one piece; larger parts none larger than that largest
    invoice, ``1 / range_weight`` as much: invoices of a size the partner has sent before
    (see :func:`check_amount`).

    ``check`` returns the reason for the entry that completes the split and the refs of the
    earlier parts, which get the same reason.
    """

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.window = dt.timedelta(days=settings.split_window_days)
        self.recent: dict[tuple[str, str], deque[_Part]] = {}
        self.count: Counter[tuple[str, str]] = Counter()
        self.total: dict[tuple[str, str], Decimal] = {}
        self.largest: dict[tuple[str, str], Decimal] = {}

    def check(
        self, document: Document, amount: Decimal, ref: Ref | None
    ) -> tuple[list[Reason], list[Ref]]:
        """Whether ``document`` completes a split; also remembers it."""
        entry = document.entry
        if entry is None or document.partner is None or document.kind not in SPLIT_KINDS:
            return [], []
        s = self.settings
        thresholds = s.approval_thresholds
        if not thresholds:
            return [], []
        key = (document.partner.id, document.kind)
        seen, usual = self.count[key], self.total.get(key, ZERO)
        largest = self.largest.get(key, ZERO)
        self.count[key] += 1
        self.total[key] = usual + amount
        if amount > largest:
            self.largest[key] = amount
        if seen >= s.min_history:
            usual = usual / seen
        else:
            usual = ZERO
        parts = self.recent.get(key)
        if parts is None:
            parts = self.recent[key] = deque()
        while parts and entry.date - parts[0][0] > self.window:
            parts.popleft()
        if amount >= max(thresholds):
            return [], []
        parts.append((entry.date, amount, document.id, ref, seen, largest))
        found: list[Reason] = []
        earlier: list[Ref] = []
        for threshold in sorted(thresholds):
            smallest = threshold * s.split_min_part
            below = [p for p in parts if smallest <= p[1] < threshold]
            if len(below) < 2 or not smallest <= amount < threshold:
                continue
            total = sum((p[1] for p in below), ZERO)
            before = total - amount
            ceiling = threshold * (1 + s.split_max_over)
            sizes = [p[1] for p in below]
            similar = max(sizes) <= min(sizes) * s.split_max_ratio
            larger = min(sizes) > usual * s.split_unusual_size
            smaller = max(sizes) * s.split_unusual_size < usual
            if similar and (larger or smaller) and before <= threshold < total <= ceiling:
                ids = ", ".join(p[2] for p in below)
                factor, note = 1.0, ""
                count, top = below[0][4], below[0][5]
                if smaller:
                    note = (
                        f"; each less than the partner's average invoice ({usual:,.2f}) "
                        f"divided by {s.split_unusual_size}"
                    )
                elif count >= s.min_history:
                    if min(sizes) > top * s.beyond_range_factor:
                        factor = s.range_weight
                        note = (
                            f"; each more than {s.beyond_range_factor} times the largest of "
                            f"the partner's {count} earlier invoices ({top:,.2f})"
                        )
                    elif max(sizes) <= top:
                        factor = 1 / s.range_weight
                        note = (
                            f"; each within the partner's usual range (up to {top:,.2f} in "
                            f"{count} earlier invoices)"
                        )
                found.append(
                    _reason(
                        s,
                        "split_invoice",
                        f"{len(below)} {document.kind.replace('_', ' ')}s of partner "
                        f"{document.partner.id} within {s.split_window_days} days, "
                        f"each below {threshold:,.2f}, add up to {total:,.2f} ({ids}){note}",
                        factor,
                    )
                )
                earlier = [p[3] for p in below[:-1] if p[3] is not None]
                break
        return found, earlier


class Users:
    """Who posts what: users who rarely post, and accounts a user has never touched (AS 2401 .61).

    ``check`` judges an entry against the user's postings before it; users who rarely post
    are judged once the whole run has been seen (:meth:`rare`).
    """

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.count: Counter[str] = Counter()
        self.accounts: dict[str, set[str]] = {}
        self.outside: Counter[str] = Counter()
        self.night: Counter[str] = Counter()

    def hours(self, user: str | None) -> UserHours | None:
        """The user's earlier postings outside working hours and at night (for
        :func:`check_timing`)."""
        if not user:
            return None
        return UserHours(user, self.count[user], self.outside[user], self.night[user])

    def check(self, entry: JournalEntry, accounts: Iterable[str] | None = None) -> list[Reason]:
        """Accounts the entry's user posts to for the first time, after enough postings.

        ``accounts``: the entry's accounts, when its lines were not read (its scheme's).
        """
        user = entry.posted_by
        if not user or self.count[user] < self.settings.min_history:
            return []
        touched = self.accounts.get(user, set())
        if accounts is None:
            accounts = [ln.account for ln in entry.lines]
        new = sorted(set(accounts) - touched)
        if not new:
            return []
        return [
            _reason(
                self.settings,
                "user_new_account",
                f"{user} has never posted to account{'s' if len(new) > 1 else ''} "
                f"{', '.join(new)} in {self.count[user]} earlier entries",
            )
        ]

    def observe(self, entry: JournalEntry, accounts: Iterable[str] | None = None) -> None:
        """Learn who posted ``entry`` and to which accounts (``accounts``, when given)."""
        user = entry.posted_by
        if not user:
            return
        self.count[user] += 1
        at = entry.posted_at
        if at is not None:
            s, hour = self.settings, at.hour
            if hour < s.work_start_hour or hour >= s.work_end_hour:  # outside_hours, inlined
                self.outside[user] += 1
                if hour < s.night_end_hour:
                    self.night[user] += 1
        touched = self.accounts.get(user)
        if touched is None:
            touched = self.accounts[user] = set()
        touched.update([ln.account for ln in entry.lines] if accounts is None else accounts)

    def rare(self) -> dict[str, int]:
        """Users with at most ``rare_user_max`` postings, once there are enough postings."""
        total = sum(self.count.values())
        if total < self.settings.min_history * 10:
            return {}
        return {u: n for u, n in self.count.items() if n <= self.settings.rare_user_max}


def rare_user_reason(user: str, count: int, total: int, settings: AuditSettings) -> Reason:
    """The reason for an entry by a user who rarely posts."""
    return _reason(
        settings,
        "rare_user",
        f"{user} posted only {count} of {total} entries",
    )


def ending_key(amount: Decimal) -> int:
    """The last three digits of the amount in cents (``1234.56`` -> 456)."""
    return int(abs(amount).quantize(CENT) * 100) % 1000


def frequent_endings(endings: Counter[int], settings: AuditSettings) -> dict[int, int]:
    """Endings far more common than chance (Nigrini's number-duplication / last-digits test).

    ``endings`` counts the *distinct* amounts per three-digit ending (a rent of the same
    amount every month is one amount). With 1,000 possible endings each should hold about
    0.1% of them; an ending is flagged when it holds at least ``repeated_ending_count``
    distinct amounts and more than ``repeated_ending_share`` of them. Amounts without cents
    are left out.
    """
    total = sum(endings.values())
    if not total:
        return {}
    return {
        e: n
        for e, n in endings.items()
        if e % 100  # whole-unit amounts (x.00) are common in any journal: not a pattern
        and n >= settings.repeated_ending_count
        and n / total > settings.repeated_ending_share
    }
