"""Running every check over the posted journal of a period, in one streamed pass (or two).

Documents come in date order (as :meth:`AIS.history` yields them). Those before the
period only teach the history models (schemes per partner and kind, users, recent amounts);
each entry of the period is judged against everything before it, then learnt. What must
wait for the whole period (Benford, frequent endings, users who rarely post) is judged at the
end from a compact record per audited entry; no document is held.

The checks fall in two parts that share nothing until the end: the ledger's own validation
of each entry against its document's lines, and the tests of the period's amounts as a
whole (frequent endings, Benford) form the entry part; all the others (timing, amounts,
period end, duplicates, splits, account combinations, users) the history part, the only
one that needs the history. :func:`audit_ais` runs the entry part in a second process over
the period's documents when the period is large (:data:`PARALLEL_FROM` entries) and the AIS
can be opened again by URL, and merges the two parts' reasons by document: the same
findings as one pass (the reasons of one check always come from one part, in their own
order), in a good deal less time on two cores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import Any, Literal, Protocol

from ..connectors import ReferenceAIS
from ..ledger import ChartOfAccounts, Document
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
from .digits import DigitCounts, Digits, judge_groups, spike_reasons
from .model import AuditResult, AuditSettings, Reason
from .reading import journal_of, read_journal
from .score import finding, rank
from .surprise import Scheme, SchemeModel, scheme_of

Progress = Callable[[int], None]
"""Called with the number of entries read so far, every :data:`PROGRESS_EVERY` and at the end."""

PROGRESS_EVERY = 5000

PARALLEL_FROM = 20_000
"""Entries in the period from which :func:`audit_ais` runs its two parts in two processes."""

Part = Literal["all", "history", "entries"]
"""Which checks a pass runs: all of them, or the history or the entry part (see above)."""

NO_LINES = dt.date.max
"""``judge_from`` for a reading that needs no document lines (only the entry part does)."""


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
    digits: Digits
    """(account, first two digits) of each line amount large enough for Benford."""


@dataclass(frozen=True)
class EntryPart:
    """What the entry part of an audit found, for the history part to merge."""

    reasons: dict[str, list[Reason]]
    """The reasons per document id (documents without any are left out)."""
    benford: dict[str, Any]
    """Benford's summary (``journal``, ``groups``, ``min_count``)."""
    judged: str
    """A digest of the judged documents' ids in order: both parts must have read the same."""


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
    on_document: Callable[[Document], object] | None = None,
) -> AuditResult:
    """Audit the posted entries of ``documents`` dated ``since``..``until`` (both inclusive).

    ``documents`` and ``history_before`` are read once, in date order; documents dated before
    ``since`` (in either) are history: learnt, not judged. Pending documents are skipped.
    ``on_progress`` gets the number of entries read, every few thousand and at the end;
    ``on_document`` each document judged (the report's profile of the period counts them).
    """
    audit = _Audit(chart, settings or AuditSettings())
    _feed(audit, chain(history_before or (), documents), since, until, on_progress, on_document)
    return audit.result(since, until)


def _feed(
    audit: _Audit,
    documents: Iterable[Document],
    since: dt.date | None,
    until: dt.date | None,
    on_progress: Progress | None,
    on_document: Callable[[Document], object] | None = None,
) -> None:
    read = 0
    for document in documents:
        if document.entry is None or (until is not None and document.date > until):
            continue
        read += 1
        if on_progress is not None and read % PROGRESS_EVERY == 0:
            on_progress(read)
        if since is not None and document.date < since:
            audit.learn(document)
        else:
            audit.judge(document)
            if on_document is not None:
                on_document(document)
    if on_progress is not None:
        on_progress(read)


class _Audit:
    """The state of one audit (or of one part of it): the history models, and what the
    period's entries left."""

    def __init__(self, chart: ChartOfAccounts, settings: AuditSettings, part: Part = "all") -> None:
        self.chart = chart
        self.s = settings
        self.history_part = part in ("all", "history")
        self.entry_part = part in ("all", "entries")
        self.schemes = SchemeModel(settings)
        self.users = Users(settings)
        self.duplicates = Duplicates(settings)
        self.splits = Splits(settings)
        self.days = PostingDays(settings)
        self.records: list[_Audited] = []
        self.reasons: dict[int, list[Reason]] = {}
        self.endings: Counter[int] = Counter()
        self.amounts_seen: set[Decimal] = set()
        self.digits = DigitCounts()
        self.judged = hashlib.sha256()

    def learn(
        self, document: Document, scheme: Scheme | None = None, amount: Decimal | None = None
    ) -> None:
        """Add ``document``'s posted entry to the history models."""
        entry = document.entry
        assert entry is not None
        if not self.history_part:
            return
        if amount is None:
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
        ref = len(self.records)
        found: list[Reason] = []
        scheme = None
        if self.entry_part:
            found.extend(check_ledger(document, self.chart, s))
        if self.history_part:
            found.extend(check_timing(document, s, self.days.shares()))
            found.extend(check_amount(amount, s))
            found.extend(check_period_end(document, s))
            scheme = scheme_of(entry)
            found.extend(self.duplicates.check(document, amount))
            found.extend(self.schemes.check(document, scheme))
            found.extend(self.users.check(entry))
            split_found, split_parts = self.splits.check(document, amount, ref)
            found.extend(split_found)
            for part in split_parts:
                self.reasons.setdefault(part, []).extend(split_found)
        if found:
            self.reasons.setdefault(ref, []).extend(found)
        partner = document.partner.id if document.partner else None
        digits: Digits = ()
        if self.entry_part:
            digits = self.digits.add(entry.lines, partner, entry.posted_by, s.benford_min_amount)
            if (
                amount >= s.repeated_ending_min
                and amount != amount.to_integral_value()
                and amount not in self.amounts_seen
            ):
                self.amounts_seen.add(amount)
                self.endings[ending_key(amount)] += 1
        self.judged.update(document.id.encode("utf-8") + b"\n")
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
        if self.history_part:
            self.learn(document, scheme, amount)

    def entry_findings(self) -> EntryPart:
        """The entry part's reasons by document, once the period has been judged."""
        benford_summary = self._judge_entries_after()
        return EntryPart(
            reasons={self.records[ref].document: found for ref, found in self.reasons.items()},
            benford=benford_summary,
            judged=self.judged.hexdigest(),
        )

    def result(
        self, since: dt.date | None, until: dt.date | None, entries: EntryPart | None = None
    ) -> AuditResult:
        """Judge what needs the whole period, then score and rank the findings.

        ``entries``: what a separate entry part found, for a history part.
        """
        s = self.s
        if self.history_part:
            self._judge_users_after()
        benford_summary: dict[str, Any] = {}
        if self.entry_part:
            benford_summary = self._judge_entries_after()
        elif entries is not None:
            if entries.judged != self.judged.hexdigest():
                raise ValueError("the two parts of the audit read different documents")
            self._adopt(entries.reasons)
            benford_summary = entries.benford
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

    def _adopt(self, reasons: Mapping[str, list[Reason]]) -> None:
        """Add the entry part's reasons to the entries they concern (in any order: the
        reasons of one check always come from the same part, in their own order)."""
        refs = {r.document: ref for ref, r in enumerate(self.records)}
        for document, found in reasons.items():
            self.reasons.setdefault(refs[document], []).extend(found)

    def _judge_users_after(self) -> None:
        """Users who rarely post, once the whole period is known."""
        rare = self.users.rare()
        if not rare:
            return
        total_posts = sum(self.users.count.values())
        for ref, r in enumerate(self.records):
            if r.posted_by in rare:
                self.reasons.setdefault(ref, []).append(
                    rare_user_reason(r.posted_by, rare[r.posted_by], total_posts, self.s)
                )

    def _judge_entries_after(self) -> dict[str, Any]:
        """Frequent endings and Benford, once the whole period is known; Benford's summary."""
        s = self.s
        frequent = frequent_endings(self.endings, s)
        summary, spikes = judge_groups(self.digits, s)
        spike_digits = set().union(*(hit[0] for hit in spikes.values()))
        for ref, r in enumerate(self.records):
            found: list[Reason] = []
            if frequent and r.amount != r.amount.to_integral_value():
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
            if spike_digits and any(ftd in spike_digits for _, ftd in r.digits):
                found.extend(spike_reasons(r.digits, r.partner, r.posted_by, spikes, s))
            if found:
                self.reasons.setdefault(ref, []).extend(found)
        return summary


def audit_ais(
    ais: _AIS,
    since: dt.date | None = None,
    until: dt.date | None = None,
    settings: AuditSettings | None = None,
    on_progress: Progress | None = None,
    *,
    parallel: bool | None = None,
    on_document: Callable[[Document], object] | None = None,
) -> AuditResult:
    """Audit an AIS's posted journal from ``since`` to ``until`` (both inclusive).

    The history before ``since`` (``settings.history_days`` of it) is streamed too, to learn
    what is usual. A reference AIS is read with :func:`~.reading.read_journal` (no document
    lines for the history), any other through its ``history()``. ``parallel``: run the
    entry part of the checks in a second process (``None``: when the AIS is a reference
    AIS, the period holds :data:`PARALLEL_FROM` entries or more, and the machine is not
    busy with other work: a load average below its number of cores plus one).
    ``on_document`` gets each document of the period, as read (for the report's profile:
    from a reference AIS without the document's own lines).
    """
    s = settings or AuditSettings()
    end = until + dt.timedelta(days=1) if until is not None else None
    start = None
    if since is not None and s.history_days is not None:
        start = since - dt.timedelta(days=s.history_days)
    chart = ais.chart()
    if isinstance(ais, ReferenceAIS) and _in_two(ais, since, end, parallel):
        with ProcessPoolExecutor(max_workers=1, mp_context=_process_context()) as pool:
            entries = pool.submit(_entry_part, ais.url, since, end, s)
            audit = _Audit(chart, s, part="history")
            _feed(
                audit,
                read_journal(ais, start, end, NO_LINES),
                since,
                until,
                on_progress,
                on_document,
            )
            found = entries.result()
        if found.judged != audit.judged.hexdigest():  # the AIS changed between the two reads
            found = _entry_part(ais.url, since, end, s)
        return audit.result(since, until, entries=found)
    return run_audit(
        journal_of(ais, start, end, since),
        chart,
        since=since,
        until=until,
        settings=s,
        on_progress=on_progress,
        on_document=on_document,
    )


def _in_two(ais: Any, since: dt.date | None, end: dt.date | None, parallel: bool | None) -> bool:
    """Whether to run the entry part in a second process."""
    if parallel is not None:
        return parallel
    cores = os.cpu_count() or 1
    if cores < 2 or multiprocessing.current_process().daemon:
        return False  # one core, or inside a worker process that may not have children
    if os.getloadavg()[0] >= cores + 1:
        return False  # the machine is busy: a second pass would mostly add its reading
    return int(ais.count_history(since, end)) >= PARALLEL_FROM


def _process_context() -> Any:
    """Fork (the fastest start) where it is safe: on Linux, with no other thread running
    that could hold a lock the second process would inherit held (a progress bar's
    refresh thread, say); start a fresh interpreter otherwise."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _entry_part(
    url: str, since: dt.date | None, end: dt.date | None, settings: AuditSettings
) -> EntryPart:
    """The entry part of an audit of the AIS at ``url`` (run in the second process)."""
    with ReferenceAIS(url) as ais:
        audit = _Audit(ais.chart(), settings, part="entries")
        for document in read_journal(ais, since, end, since):
            audit.judge(document)
        return audit.entry_findings()
