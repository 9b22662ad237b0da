"""Running every check over the posted journal of a period, in one streamed pass.

Documents come in date order (as :meth:`ReferenceAIS.history` yields them). Those before the
period only teach the history models (schemes per partner and kind, users, recent amounts);
each entry of the period is judged against everything before it, then learnt. What must
wait for the whole period (Benford, frequent endings, users who rarely post) is judged at the
end from a compact record per audited entry; no document is held.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from typing import Any, Protocol

from ..ledger import ChartOfAccounts, Document, EntryLine
from . import benford
from .checks import (
    DESCRIPTIONS,
    Duplicates,
    PostingDays,
    Splits,
    Users,
    check_amount,
    check_ledger,
    check_period_end,
    check_timing,
    describe,
    ending_key,
    entry_amount,
    frequent_endings,
    rare_user_reason,
)
from .model import AuditResult, AuditSettings, Reason
from .score import finding, rank
from .surprise import Scheme, SchemeModel, scheme_of

Progress = Callable[[int], None]
"""Called with the number of entries read so far, every :data:`PROGRESS_EVERY` and at the end."""

PROGRESS_EVERY = 5000

BENFORD_REASONS_PER_ENTRY = 2


@dataclass(slots=True)
class _Audited:
    """What the end-of-period checks need of one audited entry."""

    entry: str
    document: str
    date: dt.date
    partner: str | None
    kind: str
    amount: Decimal
    posted_by: str | None
    description: str
    digits: tuple[tuple[str, int], ...]
    """(account, first two digits) of each line amount large enough for Benford."""


class _AIS(Protocol):
    def chart(self) -> ChartOfAccounts: ...

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterable[Document]: ...


def run_audit(
    documents: Iterable[Document],
    chart: ChartOfAccounts,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    history_before: Iterable[Document] | None = None,
    settings: AuditSettings | None = None,
    on_progress: Progress | None = None,
) -> AuditResult:
    """Audit the posted entries of ``documents`` dated ``since``..``until`` (both inclusive).

    ``documents`` and ``history_before`` are read once, in date order; documents dated before
    ``since`` (in either) are history: learnt, not judged. Pending documents are skipped.
    ``on_progress`` gets the number of entries read, every few thousand and at the end.
    """
    audit = _Audit(chart, settings or AuditSettings())
    read = 0
    for document in chain(history_before or (), documents):
        if document.entry is None or (until is not None and document.date > until):
            continue
        read += 1
        if on_progress is not None and read % PROGRESS_EVERY == 0:
            on_progress(read)
        if since is not None and document.date < since:
            audit.learn(document)
        else:
            audit.judge(document)
    if on_progress is not None:
        on_progress(read)
    return audit.result(since, until)


class _Audit:
    """The state of one audit: the history models, and what the period's entries left."""

    def __init__(self, chart: ChartOfAccounts, settings: AuditSettings) -> None:
        self.chart = chart
        self.s = settings
        self.schemes = SchemeModel(settings)
        self.users = Users(settings)
        self.duplicates = Duplicates(settings)
        self.splits = Splits(settings)
        self.days = PostingDays(settings)
        self.records: list[_Audited] = []
        self.reasons: dict[int, list[Reason]] = {}
        self.endings: Counter[int] = Counter()
        self.amounts_seen: set[Decimal] = set()
        self.benford_counts: dict[str, list[int]] = {}
        self.spike_counts: dict[str, list[int]] = {}

    def learn(self, document: Document, scheme: Scheme | None = None) -> None:
        """Add ``document``'s posted entry to the history models."""
        entry = document.entry
        assert entry is not None
        amount = entry_amount(entry)
        self.schemes.observe(document, scheme or scheme_of(entry))
        self.users.observe(entry)
        self.days.observe(entry)
        self.duplicates.observe(document, amount)
        if scheme is None:  # history: judged entries were seen by splits already
            self.splits.check(document, amount, None)

    def judge(self, document: Document) -> None:
        """Run the entry checks on ``document`` against the history before it, then learn it."""
        entry = document.entry
        assert entry is not None
        s = self.s
        amount = entry_amount(entry)
        scheme = scheme_of(entry)
        ref = len(self.records)
        found = [
            *check_ledger(document, self.chart, s),
            *check_timing(document, s, self.days.shares()),
            *check_amount(amount, s),
            *check_period_end(document, s),
            *self.duplicates.check(document, amount),
            *self.schemes.check(document, scheme),
            *self.users.check(entry),
        ]
        split_found, split_parts = self.splits.check(document, amount, ref)
        found.extend(split_found)
        for part in split_parts:
            self.reasons.setdefault(part, []).extend(split_found)
        if found:
            self.reasons.setdefault(ref, []).extend(found)
        partner = document.partner.id if document.partner else None
        digits = self._count_digits(entry.lines, partner, entry.posted_by)
        if (
            amount >= s.repeated_ending_min
            and amount != amount.to_integral_value()
            and amount not in self.amounts_seen
        ):
            self.amounts_seen.add(amount)
            self.endings[ending_key(amount)] += 1
        self.records.append(
            _Audited(
                entry=entry.id or document.id,
                document=document.id,
                date=entry.date,
                partner=partner,
                kind=document.kind,
                amount=amount,
                posted_by=entry.posted_by,
                description=describe(document),
                digits=digits,
            )
        )
        self.learn(document, scheme)

    def _count_digits(
        self, lines: Iterable[EntryLine], partner: str | None, user: str | None
    ) -> tuple[tuple[str, int], ...]:
        """Count the first two digits of the lines in their Benford groups."""
        digits = []
        for ln in lines:
            value = ln.debit or ln.credit
            if abs(value) >= self.s.benford_min_amount:
                ftd = benford.leading_digits(value, 2)
                if ftd is not None:
                    digits.append((ln.account, ftd))
        once: set[tuple[str, int]] = set()
        shared = _groups(None, partner, user)
        for account, ftd in digits:
            i = ftd - 10
            for group in (*shared, _account_group(account)):
                counts = self.benford_counts.get(group)
                if counts is None:
                    counts = self.benford_counts[group] = [0] * 90
                    self.spike_counts[group] = [0] * 90
                counts[i] += 1
                # An amount repeated on the entry's own lines (gross on payables and on the
                # bank) says nothing about how amounts are made up: once per entry for spikes.
                if (group, ftd) not in once:
                    once.add((group, ftd))
                    self.spike_counts[group][i] += 1
        return tuple(digits)

    def result(self, since: dt.date | None, until: dt.date | None) -> AuditResult:
        """Judge what needs the whole period, then score and rank the findings."""
        s = self.s
        benford_summary = _judge_after(
            self.records,
            self.reasons,
            self.users,
            self.endings,
            self.benford_counts,
            self.spike_counts,
            s,
        )
        findings = []
        fired: Counter[str] = Counter()
        for ref, found in self.reasons.items():
            fired.update({r.check for r in found})
            r = self.records[ref]
            f = finding(
                entry=r.entry,
                document=r.document,
                date=r.date,
                reasons=found,
                partner=r.partner,
                kind=r.kind,
                amount=r.amount,
                posted_by=r.posted_by,
                description=r.description,
            )
            if f.score > s.min_score:
                findings.append(f)
        checks: dict[str, dict[str, Any]] = {
            name: {"fired": fired[name], "description": text, "weight": s.weight(name)}
            for name, text in DESCRIPTIONS.items()
        }
        checks["benford"].update(benford_summary)
        dates = [r.date for r in self.records]
        return AuditResult(
            entries_scanned=len(self.records),
            findings=rank(findings),
            checks=checks,
            period=(since or min(dates, default=None), until or max(dates, default=None)),
        )


@lru_cache(maxsize=65536)
def _account_group(account: str) -> str:
    return f"account {account}"


@lru_cache(maxsize=65536)
def _groups(account: str | None, partner: str | None, user: str | None) -> tuple[str, ...]:
    """The Benford groups an amount counts in: the journal, its account, partner and user."""
    out = ["journal"] if account is None else ["journal", _account_group(account)]
    if partner:
        out.append(f"partner {partner}")
    if user:
        out.append(f"user {user}")
    return tuple(out)


def _judge_after(
    records: list[_Audited],
    reasons: dict[int, list[Reason]],
    users: Users,
    endings: Counter[int],
    benford_counts: dict[str, list[int]],
    spike_counts: dict[str, list[int]],
    s: AuditSettings,
) -> dict[str, Any]:
    """The checks that need the whole period: rare users, frequent endings, Benford."""
    rare = users.rare()
    total_posts = sum(users.count.values())
    frequent = frequent_endings(endings, s)
    journal = benford.test(benford_counts.get("journal", [0] * 90))
    groups: dict[str, dict[str, Any]] = {}
    spikes: dict[str, tuple[set[int], str]] = {}
    for name, counts in benford_counts.items():
        if name == "journal":
            stats = journal
        elif sum(counts) < s.benford_min_count:
            continue
        else:
            stats = groups[name] = benford.test(counts)
        two = stats["first_two_digits"]
        # Too few amounts make any sample look nonconforming (Nigrini): judge none of them.
        if two["verdict"] != benford.VERDICTS[-1] or stats["count"] < s.benford_min_count:
            continue
        over = benford.spikes(spike_counts[name], s.benford_spike_z, s.benford_spike_ratio)
        if over:
            spikes[name] = (set(over), f"MAD {two['mad']:.4f}, {two['verdict']}")
        stats["spikes"] = over
    for ref, r in enumerate(records):
        found: list[Reason] = []
        if r.posted_by in rare:
            found.append(rare_user_reason(r.posted_by, rare[r.posted_by], total_posts, s))
        if r.amount != r.amount.to_integral_value():
            ending = ending_key(r.amount)
            if ending in frequent:
                found.append(
                    Reason(
                        "repeated_ending",
                        f"{r.amount:,.2f} ends in {ending / 100:.2f}, like "
                        f"{frequent[ending]} amounts of the period",
                        s.weight("repeated_ending"),
                    )
                )
        if spikes:
            found.extend(_benford_reasons(r, spikes, s))
        if found:
            reasons.setdefault(ref, []).extend(found)
    return {"journal": journal, "groups": groups, "min_count": s.benford_min_count}


def _benford_reasons(
    r: _Audited, spikes: dict[str, tuple[set[int], str]], s: AuditSettings
) -> list[Reason]:
    found: list[Reason] = []
    named: set[str] = set()
    for account, ftd in r.digits:
        for group in _groups(account, r.partner, r.posted_by):
            hit = spikes.get(group)
            if hit is not None and ftd in hit[0] and group not in named:
                named.add(group)
                found.append(
                    Reason(
                        "benford",
                        f"amounts starting with {ftd} are over-represented in {group} "
                        f"(first two digits {hit[1]})",
                        s.weight("benford"),
                    )
                )
                if len(found) >= BENFORD_REASONS_PER_ENTRY:
                    return found
    return found


def audit_ais(
    ais: _AIS,
    since: dt.date | None = None,
    until: dt.date | None = None,
    settings: AuditSettings | None = None,
    on_progress: Progress | None = None,
) -> AuditResult:
    """Audit an AIS's posted journal from ``since`` to ``until`` (both inclusive).

    The history before ``since`` (``settings.history_days`` of it) is streamed too, to learn
    what is usual.
    """
    s = settings or AuditSettings()
    end = until + dt.timedelta(days=1) if until is not None else None
    start = None
    if since is not None and s.history_days is not None:
        start = since - dt.timedelta(days=s.history_days)
    return run_audit(
        ais.history(since=start, until=end),
        ais.chart(),
        since=since,
        until=until,
        settings=s,
        on_progress=on_progress,
    )
