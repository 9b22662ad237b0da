"""Journal-entry tests: each a small function from one posted entry to the reasons it fired.

What they implement: the characteristics of fraudulent or erroneous entries that ISA 240
(A43-A44, journal entries and other adjustments) and PCAOB AS 2401 (.58-.62) tell auditors
to select for testing: entries made at unusual times, by unusual users, to seldom-used
accounts, at period end or after closing with little or no explanation, with round numbers
or consistent ending numbers, amounts just below approval limits, duplicates and split
transactions; and the ledger's own validation (balance, postable accounts, VAT arithmetic).

The checks that need the history before an entry (duplicates, splits, users) are small
classes with ``check`` (judge an entry against what came before) and ``observe`` (learn it).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, deque
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache

from ..ledger import ChartOfAccounts, Document, JournalEntry, PostingScheme
from ..ledger import documents as kinds
from ..ledger.validation import check_balance, check_lines, check_tax, check_totals
from .holidays import non_working_day
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
    """``"Saturday"``, ``"Sunday"``, ``"public holiday"`` or ``None`` for a working day."""
    why = non_working_day(day, country)
    if why is None:
        return None
    return "public holiday" if why.startswith("public holiday") else why


def check_timing(
    document: Document, settings: AuditSettings, habits: Mapping[str, float] | None = None
) -> list[Reason]:
    """Entries made on weekends or public holidays, or at unusual hours (ISA 240 A44).

    When the AIS records the time of posting, the day and hour it was posted are judged;
    otherwise the entry's date. A manual entry (kind "other" or no partner) dated on a
    non-working day is reported either way: nobody else dates it. Night postings (before
    ``night_end_hour``) weigh double. ``habits``: the share of earlier postings per kind of
    day (see :class:`PostingDays`); where the company often posts on such days
    (``usual_share`` or more), the reason weighs half and says so.
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

    if at is None or is_manual(document):
        weekend(entry.date, "dated")
    if at is not None:
        if not (found and at.date() == entry.date):
            weekend(at.date(), "posted on")
        if at.hour < settings.work_start_hour or at.hour >= settings.work_end_hour:
            night = at.hour < settings.night_end_hour
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
                    ),
                    2.0 if night else 1.0,
                )
            )
    return found


class PostingDays:
    """How often the company posts on Saturdays, Sundays and public holidays, so far."""

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.total = 0
        self.counts: Counter[str] = Counter()

    def observe(self, entry: JournalEntry) -> None:
        """Count the day ``entry`` was posted on (or dated, without posting times)."""
        day = entry.posted_at.date() if entry.posted_at is not None else entry.date
        self.total += 1
        category = day_category(day, self.settings.country)
        if category:
            self.counts[category] += 1

    def shares(self) -> dict[str, float]:
        """The share of postings per kind of non-working day (empty with little history)."""
        if self.total < self.settings.min_history * 20:
            return {}
        return {c: n / self.total for c, n in self.counts.items()}


def repeated_tail(amount: Decimal) -> int:
    """How many of the amount's last digits (cents included) repeat the last one, if not 0.

    ``repeated_tail(Decimal("1999.99")) == 5``; ``repeated_tail(Decimal("1000.00")) == 0``.
    """
    digits = str(int(abs(amount).quantize(CENT) * 100))
    last = digits[-1]
    if last == "0":
        return 0
    return len(digits) - len(digits.rstrip(last))


def check_amount(amount: Decimal, settings: AuditSettings) -> list[Reason]:
    """Round amounts, runs of one repeated ending digit, and amounts just below a threshold.

    AS 2401 .61 ("round numbers or consistent ending numbers"); just below an approval limit
    is the classic sign of an entry shaped to avoid review (ACFE Fraud Examiners Manual).
    """
    found = []
    unit = settings.round_amount_unit
    if amount >= settings.round_amount_min and amount % unit == 0:
        found.append(_reason(settings, "round_amount", f"{amount:,.2f} is a round amount"))
    if amount >= settings.repeated_ending_min and repeated_tail(amount) >= 4:
        found.append(
            _reason(
                settings,
                "repeated_ending",
                f"{amount:,.2f} ends in {repeated_tail(amount)} repeated digits",
            )
        )
    for threshold in settings.approval_thresholds:
        floor = threshold * (1 - settings.just_below_fraction)
        if floor <= amount < threshold:
            found.append(
                _reason(
                    settings,
                    "just_below_threshold",
                    f"{amount:,.2f} is just below the approval threshold of {threshold:,.2f}",
                )
            )
    return found


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
    Only ``duplicate_window_days`` of history are held.
    """

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.window = dt.timedelta(days=settings.duplicate_window_days)
        self.reference_window = dt.timedelta(days=settings.duplicate_reference_days)
        self.recent: deque[tuple[dt.date, tuple[str, str, Decimal], str]] = deque()
        self.by_amount: dict[tuple[str, str, Decimal], list[tuple[dt.date, str]]] = {}
        self.references: dict[tuple[str, str, str], tuple[dt.date, str, Decimal]] = {}
        self.reference_order: deque[tuple[dt.date, tuple[str, str, str]]] = deque()

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
        """Reasons ``document`` looks like a duplicate of one in the window before it."""
        entry = document.entry
        if entry is None or document.partner is None or not amount:
            return []
        self._forget(entry.date)
        partner = document.partner.id
        found = []
        same_amount: list[tuple[dt.date, str]] = []
        if amount >= self.settings.duplicate_min_amount:  # else the reference only
            same_amount = self.by_amount.get((partner, document.kind, amount), [])
        for day, doc_id in same_amount:
            if doc_id != document.id:
                found.append(
                    _reason(
                        self.settings,
                        "duplicate",
                        f"same partner {partner}, kind and amount {amount:,.2f} as document "
                        f"{doc_id} of {day.isoformat()}",
                    )
                )
                break
        if document.number:
            earlier = self.references.get((partner, document.kind, document.number))
            # Invoice numbers restart every January: across a new year only the same amount
            # under the same number is a duplicate.
            if (
                earlier is not None
                and earlier[1] != document.id
                and (earlier[0].year == entry.date.year or earlier[2] == amount)
            ):
                found.append(
                    _reason(
                        self.settings,
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
        key = (document.partner.id, document.kind, amount)
        bucket = self.by_amount.get(key)
        if bucket is None:  # not setdefault: it would make a list for every entry
            bucket = self.by_amount[key] = []
        bucket.append((entry.date, document.id))
        self.recent.append((entry.date, key, document.id))
        if document.number:
            ref_key = (document.partner.id, document.kind, document.number)
            if ref_key not in self.references:
                self.references[ref_key] = (entry.date, document.id, amount)
                self.reference_order.append((entry.date, ref_key))


SPLIT_KINDS = frozenset({kinds.SUPPLIER_INVOICE})
"""Purchases: what approval limits apply to (a partner's payments are often several a week)."""


class Splits:
    """Split invoices: a partner's invoices within a window, each below an approval threshold,
    of similar size, that add up to just over it (ACFE: split purchases to stay under an
    approval limit; a purchase cut in parts gives parts of about the same size).

    A partner whose invoices are usually that size sends several a week in the ordinary
    course: once the partner has ``min_history`` invoices, the parts must be larger than
    ``split_unusual_size`` times its average invoice.

    ``check`` returns the reason for the entry that completes the split and the refs of the
    earlier parts, which get the same reason.
    """

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.window = dt.timedelta(days=settings.split_window_days)
        self.recent: dict[tuple[str, str], deque[tuple[dt.date, Decimal, str, Ref | None]]] = {}
        self.count: Counter[tuple[str, str]] = Counter()
        self.total: dict[tuple[str, str], Decimal] = {}

    def check(
        self, document: Document, amount: Decimal, ref: Ref | None
    ) -> tuple[list[Reason], list[Ref]]:
        """Whether ``document`` completes a split; also remembers it."""
        entry = document.entry
        if entry is None or document.partner is None or document.kind not in SPLIT_KINDS:
            return [], []
        thresholds = self.settings.approval_thresholds
        if not thresholds:
            return [], []
        key = (document.partner.id, document.kind)
        seen, usual = self.count[key], self.total.get(key, ZERO)
        self.count[key] += 1
        self.total[key] = usual + amount
        if seen >= self.settings.min_history:
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
        parts.append((entry.date, amount, document.id, ref))
        found: list[Reason] = []
        earlier: list[Ref] = []
        for threshold in sorted(thresholds):
            smallest = threshold * self.settings.split_min_part
            below = [p for p in parts if smallest <= p[1] < threshold]
            if len(below) < 2 or not smallest <= amount < threshold:
                continue
            total = sum((p[1] for p in below), ZERO)
            before = total - amount
            ceiling = threshold * (1 + self.settings.split_max_over)
            sizes = [p[1] for p in below]
            similar = max(sizes) <= min(sizes) * self.settings.split_max_ratio
            large = min(sizes) > usual * self.settings.split_unusual_size
            if similar and large and before <= threshold < total <= ceiling:
                ids = ", ".join(p[2] for p in below)
                found.append(
                    _reason(
                        self.settings,
                        "split_invoice",
                        f"{len(below)} {document.kind.replace('_', ' ')}s of partner "
                        f"{document.partner.id} within {self.settings.split_window_days} days, "
                        f"each below {threshold:,.2f}, add up to {total:,.2f} ({ids})",
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

    def check(self, entry: JournalEntry) -> list[Reason]:
        """Accounts the entry's user posts to for the first time, after enough postings."""
        user = entry.posted_by
        if not user or self.count[user] < self.settings.min_history:
            return []
        touched = self.accounts.get(user, set())
        new = sorted({ln.account for ln in entry.lines} - touched)
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

    def observe(self, entry: JournalEntry) -> None:
        """Learn who posted ``entry`` and to which accounts."""
        user = entry.posted_by
        if not user:
            return
        self.count[user] += 1
        touched = self.accounts.get(user)
        if touched is None:
            touched = self.accounts[user] = set()
        touched.update([ln.account for ln in entry.lines])

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
