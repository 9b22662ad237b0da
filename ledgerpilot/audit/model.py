"""What an audit produces: findings with their reasons, the settings, and the result.

The types here are the contract between the checks (``checks.py``, ``run.py``) and the
report (``report.py``): a :class:`Finding` is one journal entry an auditor should look at,
with every :class:`Reason` (check that fired, in words) and the combined score it was
ranked by.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Reason:
    """One check that fired on an entry, and why, in words."""

    check: str
    """The check's name (``"weekend_or_holiday"``, ``"benford"``, ...): see ``CHECKS``."""
    detail: str
    """Why it fired, for the auditor: ``"posted on Sunday 2024-03-31"``."""
    weight: float
    """What this reason adds to the entry's score."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A journal entry the checks flagged, with every reason and the combined score."""

    entry: str
    """The AIS's id of the journal entry (the document id when the AIS gives none)."""
    document: str
    """The id of its source document as the AIS (or the interchange file) gives it."""
    date: dt.date
    score: float
    """The sum of the reasons' weights: what the findings are ranked by."""
    reasons: tuple[Reason, ...]
    partner: str | None
    """The document's partner id, if it has one."""
    kind: str
    """The document's kind (``supplier_invoice``, ``other``, ...)."""
    amount: Decimal
    """The entry's total debit."""
    posted_by: str | None = None
    """Who posted it, when the AIS records users."""
    description: str = ""
    """The entry's description (or the document's text)."""

    @property
    def checks(self) -> tuple[str, ...]:
        """The names of the checks that fired, in the order of the reasons."""
        return tuple(dict.fromkeys(r.check for r in self.reasons))

    def as_json(self) -> dict[str, Any]:
        """``{"entry", "document", "score", "reasons": [{"check", "detail"}], ...}``."""
        return {
            "entry": self.entry,
            "document": self.document,
            "date": self.date.isoformat(),
            "score": round(self.score, 3),
            "reasons": [
                {"check": r.check, "detail": r.detail, "weight": round(r.weight, 3)}
                for r in self.reasons
            ],
            "partner": self.partner,
            "kind": self.kind,
            "amount": str(self.amount),
            "posted_by": self.posted_by,
            "description": self.description,
        }


def _default_weights() -> dict[str, float]:
    # Ledger errors first, then the signs of deliberate shaping (duplicates, splits), then
    # signals that ordinary journals rarely give (round thousands, night or weekend postings,
    # occasional users, terse manual vouchers at month end, post-closing entries), then the
    # ones that ordinary bookkeeping gives now and then (amounts near a limit, new or rare
    # account combinations), and Benford's population signal last.
    return {
        "unbalanced": 5.0,
        "non_postable_account": 4.0,
        "vat_arithmetic": 3.0,
        "duplicate": 3.0,
        "split_invoice": 3.0,
        "round_amount": 2.5,
        "rare_user": 2.5,
        "period_end_manual": 2.5,
        "post_closing": 2.5,
        "weekend_or_holiday": 2.5,
        "unusual_hour": 1.25,
        "just_below_threshold": 2.0,
        "unseen_combination": 2.0,
        "user_new_account": 1.5,
        "rare_combination": 1.0,
        "surprise": 0.5,
        "lm_surprise": 2.0,
        "repeated_ending": 1.0,
        "benford": 0.25,
    }


@dataclass(frozen=True)
class AuditSettings:
    """Every threshold the checks use, in one place; the defaults suit a small company."""

    country: str = "HR"
    """Whose public holidays count (``HR``, ``DE``; see ``holidays.py``)."""
    weights: dict[str, float] = field(default_factory=_default_weights)
    """What each check adds to an entry's score when it fires (``surprise``: per bit above
    ``surprise_bits``; a night posting counts ``unusual_hour`` twice, a usual kind of
    non-working day ``weekend_or_holiday`` half)."""
    min_score: float = 0.25
    """Findings scoring at or below this are left out of the result (by default a Benford
    spike alone, which points at a population more than at an entry)."""
    # timing
    work_start_hour: int = 7
    """Postings before this hour (local AIS time) are unusual."""
    work_end_hour: int = 20
    """Postings at or after this hour are unusual."""
    night_end_hour: int = 5
    """Postings before this hour are night postings: unusual twice over."""
    usual_share: float = 0.01
    """A kind of non-working day (Saturday, Sunday, public holiday) on which at least this
    share of the earlier postings were made is usual for the company: half weight. The
    same share of a user's postings made at unusual hours, or of a partner's entries that
    repeated an amount within the duplicate window, is that user's or partner's habit..."""
    habit_count: int = 2
    """...when it happened this many times at least (once may be chance, or the error)."""
    open_holiday_share: float = 0.25
    """A public holiday on which at least this share of a median working day's postings were
    made (and ``min_history`` at least) was a working day for the company: its postings
    weigh ``open_holiday_weight`` times as much."""
    open_holiday_weight: float = 0.2
    # amounts
    round_amount_min: Decimal = Decimal("1000")
    """Round-amount test: totals of at least this that are whole multiples of it..."""
    round_amount_unit: Decimal = Decimal("1000")
    """...of this unit (1,000 by default) are flagged as round."""
    repeated_ending_min: Decimal = Decimal("100")
    """Repeated-endings test looks at totals of at least this."""
    repeated_ending_count: int = 4
    """How many distinct amounts must share the same last three digits (cents included)..."""
    repeated_ending_share: float = 0.01
    """...and be more than this share of the amounts, to count as a repeated ending."""
    approval_thresholds: tuple[Decimal, ...] = (Decimal("5000"), Decimal("10000"))
    """Amounts above which an entry needs approval; splitting and just-below tests use them."""
    just_below_fraction: Decimal = Decimal("0.05")
    """"Just below": within this fraction under a threshold (5%: 4,750.00-4,999.99)."""
    approval_kinds: frozenset[str] = frozenset({"supplier_invoice", "bank_payment", "other"})
    """Kinds of entry an approval limit governs: purchases, payments and manual vouchers (the
    just-below test). What customers are invoiced or pay is not approved by the company."""
    beyond_range_factor: Decimal = Decimal("1.5")
    """An amount more than this many times the largest of the partner's earlier amounts of
    the same kind (``min_history`` of them at least) is beyond the partner's usual range:
    a just-below, round or split amount there weighs ``range_weight`` times as much; a
    just-below amount the partner has reached before, ``1 / range_weight`` as much."""
    range_weight: float = 1.5
    """How much the partner's usual range moves an amount test's weight (see above)."""
    usual_round_share: float = 0.1
    """A partner at least this share of whose earlier amounts were round bills round amounts:
    a round amount from it weighs ``1 / range_weight`` as much."""
    # duplicates and splits
    duplicate_window_days: int = 7
    """Same partner and amount within this many days is a possible duplicate."""
    duplicate_min_amount: Decimal = Decimal("100")
    """Smaller amounts (bank fees, stamps) recur at the same figure: not tested for duplicates."""
    duplicate_reference_days: int = 90
    """A partner's reference (invoice number) seen again within this many days is a duplicate."""
    exact_duplicate_weight: float = 1.5
    """A duplicate on partner, reference and amount at once (Nigrini's same-same-same test)
    weighs this many times a match on the amount or the reference alone."""
    split_window_days: int = 3
    """Invoices from one partner within this many days are summed for the split test."""
    split_max_over: Decimal = Decimal("0.2")
    """Split invoices: the parts add up to at most this fraction above a threshold."""
    split_min_part: Decimal = Decimal("0.25")
    """Split invoices: only parts of at least this fraction of the threshold count..."""
    split_max_ratio: Decimal = Decimal("1.5")
    """...and the largest part is at most this many times the smallest..."""
    split_unusual_size: Decimal = Decimal("1.5")
    """...and the smallest is more than this many times the partner's average invoice (or the
    largest less than that average divided by it)."""
    # history
    history_days: int | None = 1095
    """How far before the period :func:`audit_ais` reads the history (``None``: all of it)."""
    known_accounts_weight: float = 0.5
    """An account combination never seen for the partner and kind, made of accounts that
    partner and kind have all used before, weighs this share of ``unseen_combination``."""
    unrelated_account_weight: float = 1.5
    """An account combination never seen for the partner and kind, with an account no other
    partner of the partner's same-type accounts ever posts to (an unrelated account), weighs
    this many times ``unseen_combination``."""
    rare_combination_share: float = 0.05
    """An account combination seen in less than this share of the partner's entries..."""
    rare_combination_max: int = 10
    """...and at most this many times is rare."""
    min_history: int = 5
    """Partner/kind (or user) history needed before rarity and novelty are judged."""
    rare_user_max: int = 3
    """A user with at most this many postings (in history and period) posts rarely."""
    surprise_bits: float = 6.0
    """Model surprise: entries above this many bits of surprisal are reported..."""
    surprise_max_bits: float = 2.0
    """...and weigh ``weight("surprise")`` per bit above it, up to this many bits."""
    # period end
    period_end_days: int = 3
    """Entries dated within this many days of a month's end are period-end entries."""
    post_closing_days: int = 14
    """Posted more than this many days after its month's end: a post-closing entry (a
    month's books are closed within two weeks; Croatian VAT returns are due on the 20th)."""
    short_description: int = 10
    """Descriptions shorter than this many characters count as "little description"."""
    # Benford
    benford_min_count: int = 300
    """Groups (account, user, partner) with fewer amounts are not tested."""
    benford_min_amount: Decimal = Decimal("10")
    """Amounts below this are left out of Benford tests (Nigrini)."""
    benford_spike_z: float = 4.0
    """First-two digits over-represented with Nigrini's z above this..."""
    benford_spike_ratio: float = 3.0
    """...and at least this many times their expected share mark entries to look at."""

    def weight(self, check: str) -> float:
        """The weight of ``check`` (1.0 for a check the weights do not name)."""
        return self.weights.get(check, 1.0)


@dataclass
class AuditResult:
    """What one audit found: the ranked findings and a summary per check."""

    entries_scanned: int
    findings: list[Finding]
    """Sorted by score, highest first."""
    checks: dict[str, dict[str, Any]]
    """Per check: ``fired`` (entries it fired on, findings under ``min_score`` included),
    ``description``, ``weight``, and for ``benford`` the statistics
    (``first_digit`` / ``first_two_digits``: observed and expected per digit, ``mad``,
    ``verdict``, ``count``; ``groups``: the same per account / user / partner)."""
    period: tuple[dt.date | None, dt.date | None] = (None, None)
    """The period audited (from, to), as asked or as found in the entries."""

    def as_json(self) -> dict[str, Any]:
        """``{"entries_scanned", "findings": [...], "checks": {...}, "period": {...}}``."""
        start, end = self.period
        return {
            "entries_scanned": self.entries_scanned,
            "period": {
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
            },
            "findings": [f.as_json() for f in self.findings],
            "checks": self.checks,
        }
