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

On PostgreSQL (:mod:`.sql`) no line is read as a Python object: each entry comes as one row
with its scheme, amount and Benford digits, aggregated by the database, and the ledger's
validation judges only the entries SQL finds could fail it, read in full. The history part
is then most of the work, and the two processes share it by time: the second judges the
history part of the period's first :data:`FIRST_SHARE` entries and the entry part of all;
the first learns those first entries without judging them (the models they feed, the
split test's memory) and judges the rest; the reasons merge by document, the first
process's own ones for an entry judged by the second coming after the second's (later
splits), as in one pass.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import multiprocessing
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import Any, Literal, Protocol

from ..connectors import ReferenceAIS
from ..ledger import ChartOfAccounts, Document
from .checks import (
    DESCRIPTIONS,
    Duplicates,
    PartnerAmounts,
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
    holidays_of,
    on_open_holidays,
    outside_hours,
    rare_user_reason,
)
from .digits import DigitCounts, Digits, SpikeIndex, judge_groups, spike_reasons
from .model import AuditResult, AuditSettings, Reason
from .reading import journal_of, read_journal
from .score import finding, rank
from .sql import Audit as SQLAudit
from .sql import Audited, Inexact, applies, ending_reason, read_documents, read_summaries
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


@dataclass(frozen=True)
class HistoryShare:
    """What one process found of the history part for the first entries of the period."""

    reasons: dict[str, list[Reason]]
    """The reasons per document id (documents without any are left out)."""
    holidays: dict[str, tuple[dt.date, ...]]
    """The entries with a reason about a public holiday: the holidays, per document id."""
    judged: str
    """A digest of the judged documents' ids in order."""


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
    on_document: OnDocument | None = None,
) -> AuditResult:
    """Audit the posted entries of ``documents`` dated ``since``..``until`` (both inclusive).

    ``documents`` and ``history_before`` are read once, in date order; documents dated before
    ``since`` (in either) are history: learnt, not judged. Pending documents are skipped.
    ``on_progress`` gets the number of entries read, every few thousand and at the end;
    ``on_document`` each document judged, with its entry's amount (the report's profile of
    the period counts them).
    """
    audit = _Audit(chart, settings or AuditSettings())
    documents = chain(history_before or (), documents)
    with _collecting_later():
        _feed(audit, _plain(documents), since, until, on_progress, on_document)
        return audit.result(since, until)


OnDocument = Callable[[Document, Decimal], object]
"""Called with each document judged and its entry's amount (total debit)."""

HistoryMode = Literal["judge", "quiet", "skip"]
"""What :meth:`_Audit.judge` does of an entry's history part (see there)."""

Item = tuple[Document, Scheme | None, Decimal | None, Audited | None]
"""A document to learn or judge, with what the SQL path read of its entry (its scheme and
amount; what the entry part needs of it), or ``None`` for what is to be found from its
lines."""


def _plain(documents: Iterable[Document]) -> Iterator[Item]:
    """Documents read in full, as :func:`_feed` takes them."""
    for document in documents:
        yield document, None, None, None


def _feed(
    audit: _Audit,
    documents: Iterable[Item],
    since: dt.date | None,
    until: dt.date | None,
    on_progress: Progress | None,
    on_document: OnDocument | None = None,
    judged: range | None = None,
) -> None:
    """Learn or judge each document, with its entry's scheme and amount when known.

    ``judged``: the period's entries (by their index in it) whose history part to judge;
    those before are judged elsewhere (``"quiet"``, see :meth:`_Audit.judge`); after them
    only the entry part is judged (``"skip"``), or reading stops if ``audit`` has none.
    """
    read = index = 0
    first, stop = (0, None) if judged is None else (judged.start, judged.stop)
    for document, scheme, amount, audited in documents:
        if document.entry is None or (until is not None and document.date > until):
            continue
        mode: HistoryMode = "judge"
        if index < first:
            mode = "quiet"
        elif stop is not None and index >= stop:
            if not audit.entry_part:
                break
            mode = "skip"
        read += 1
        if on_progress is not None and read % PROGRESS_EVERY == 0:
            on_progress(read)
        if since is not None and document.date < since:
            audit.learn(document, scheme, amount)
        else:
            amount = audit.judge(document, scheme, amount, mode, audited)
            index += 1
            if on_document is not None:
                on_document(document, amount)
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
        self.schemes = SchemeModel(settings, chart)
        self.users = Users(settings)
        self.duplicates = Duplicates(settings)
        self.splits = Splits(settings)
        self.days = PostingDays(settings)
        self.amounts = PartnerAmounts(settings)
        self.holidays: dict[int, tuple[dt.date, ...]] = {}
        """Audited entries with a reason about a public holiday: the holidays."""
        self.records: list[_Audited] = []
        self.reasons: dict[int, list[Reason]] = {}
        self.endings: Counter[int] = Counter()
        self.amounts_seen: set[Decimal] = set()
        self.digits = DigitCounts()
        self.modes: Counter[HistoryMode] = Counter()
        """How many entries were judged in each mode (``"quiet"`` ones come first, as do
        ``"judge"`` ones before ``"skip"`` ones)."""
        self.accounts: dict[Scheme, list[str]] = {}
        """Each scheme's accounts (what the user checks read of an entry)."""
        self.suspects: list[int] = []
        """The database ids of the documents whose entry could fail the ledger's validation
        (read without their lines: :meth:`judge_ledger` judges them)."""

    def learn(
        self,
        document: Document,
        scheme: Scheme | None = None,
        amount: Decimal | None = None,
        judged: bool = False,
    ) -> None:
        """Add ``document``'s posted entry to the history models.

        ``scheme`` and ``amount``: its entry's, when known (an entry read without its lines,
        :func:`~.sql.read_summaries`, has nothing else to give them); ``judged``: the
        entry was just judged (and seen by the split test then).
        """
        entry = document.entry
        assert entry is not None
        if not self.history_part:
            return
        if amount is None:
            amount = entry_amount(entry)
        if scheme is None:
            scheme = scheme_of(entry)
        self.schemes.observe(document, scheme)
        self.users.observe(entry, self._accounts(scheme))
        self.days.observe(entry)
        self.duplicates.observe(document, amount)
        self.amounts.observe(document, amount)
        if not judged:  # history: judged entries were seen by splits already
            self.splits.check(document, amount, None)

    def judge(
        self,
        document: Document,
        scheme: Scheme | None = None,
        amount: Decimal | None = None,
        mode: HistoryMode = "judge",
        audited: Audited | None = None,
    ) -> Decimal:
        """Run the entry checks on ``document`` against the history before it, then learn it;
        its entry's amount. ``scheme`` and ``amount``: as for :meth:`learn`; ``audited``:
        what the entry part needs of an entry read without its lines (its Benford digits,
        and whether it could fail the ledger's validation: :meth:`judge_ledger` judges
        those once read in full).

        ``mode``: ``"judge"`` the history part; ``"quiet"``: another process judges the
        entry's history part (:func:`_audit_sql`) and gives its reasons, here it is learnt,
        and only the checks that change what later entries are judged against run (the
        split test: it remembers the entry as a possible part), their reasons dropped (a
        check that keeps state of its own must run when quiet too); ``"skip"``: another
        process judges the history part of this entry and all after it, here only the
        entry part.
        """
        entry = document.entry
        assert entry is not None
        s = self.s
        if amount is None:
            amount = entry_amount(entry)
        ref = len(self.records)
        found: list[Reason] = []
        if self.entry_part and audited is None:
            found.extend(check_ledger(document, self.chart, s))
        history = self.history_part and mode != "skip"
        if history and mode == "judge":
            at = entry.posted_at
            hours = None
            if at is not None and outside_hours(at, s):
                hours = self.users.hours(entry.posted_by)
            timing = check_timing(document, s, self.days.shares(), hours)
            if timing:
                found.extend(timing)
                holidays = holidays_of(document, s)
                if holidays:
                    self.holidays[ref] = holidays
            found.extend(
                check_amount(amount, s, document.kind, lambda: self.amounts.usual(document))
            )
            found.extend(check_period_end(document, s))
            if scheme is None:
                scheme = scheme_of(entry)
            found.extend(self.duplicates.check(document, amount))
            found.extend(self.schemes.check(document, scheme))
            found.extend(self.users.check(entry, self._accounts(scheme)))
        if history:
            split_found, split_parts = self.splits.check(document, amount, ref)
            if mode == "judge":
                found.extend(split_found)
                for part in split_parts:
                    self.reasons.setdefault(part, []).extend(split_found)
        if found:
            self.reasons.setdefault(ref, []).extend(found)
        partner = document.partner.id if document.partner else None
        digits: Digits = ()
        if self.entry_part:
            if audited is None:
                digits = self.digits.add(
                    entry.lines, partner, entry.posted_by, s.benford_min_amount
                )
            else:
                digits = self.digits.add_digits(audited[0], partner, entry.posted_by)
                if audited[1] is not None:
                    self.suspects.append(audited[1])
            if (
                amount >= s.repeated_ending_min
                and amount != amount.to_integral_value()
                and amount not in self.amounts_seen
            ):
                self.amounts_seen.add(amount)
                self.endings[ending_key(amount)] += 1
        self.modes[mode] += 1
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
        if history:
            self.learn(document, scheme, amount, judged=True)
        return amount

    def digest(self, first: int | None = None) -> str:
        """A digest of the ids of the documents judged (the ``first`` of them), in order:
        two processes must have read the same."""
        judged = hashlib.sha256()
        for r in self.records[:first]:
            judged.update(r.document.encode("utf-8") + b"\n")
        return judged.hexdigest()

    def _accounts(self, scheme: Scheme) -> list[str]:
        accounts = self.accounts.get(scheme)
        if accounts is None:
            accounts = self.accounts[scheme] = [account for account, _ in scheme]
        return accounts

    def judge_ledger(self, documents: Iterable[Document]) -> None:
        """The ledger's validation of entries judged without their lines (the
        ``suspects``), now read in full."""
        refs = {r.document: ref for ref, r in enumerate(self.records)}
        for document in documents:
            found = check_ledger(document, self.chart, self.s)
            if found:
                self.reasons.setdefault(refs[document.id], []).extend(found)

    def take_share(self) -> HistoryShare:
        """What this process judged of the history part (all the reasons so far), for the
        process that judged the rest (:meth:`adopt_share`); those reasons are left out of
        what it goes on to find (the entry part's, :meth:`entry_findings`)."""
        share = HistoryShare(
            reasons={self.records[ref].document: found for ref, found in self.reasons.items()},
            holidays={self.records[ref].document: days for ref, days in self.holidays.items()},
            judged=self.digest(self.modes["judge"]),
        )
        self.reasons, self.holidays = {}, {}
        return share

    def adopt_share(self, share: HistoryShare) -> None:
        """Take the reasons of the entries another process judged (those judged ``quiet``
        here), before those this process gave them since (the split test's, for parts of a
        split completed later)."""
        if share.judged != self.digest(self.modes["quiet"]):
            raise ValueError("the two parts of the audit read different documents")
        refs = {r.document: ref for ref, r in enumerate(self.records)}
        for document, found in share.reasons.items():
            ref = refs[document]
            self.reasons[ref] = [*found, *self.reasons.get(ref, ())]
        for document, days in share.holidays.items():
            self.holidays[refs[document]] = days

    def entry_findings(self) -> EntryPart:
        """The entry part's reasons by document, once the period has been judged."""
        benford_summary = self._judge_entries_after()
        return EntryPart(
            reasons={self.records[ref].document: found for ref, found in self.reasons.items()},
            benford=benford_summary,
            judged=self.digest(),
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
            if entries.judged != self.digest():
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
        """Users who rarely post, and the public holidays the company worked on, once the
        whole period is known."""
        if self.holidays:
            open_days = self.days.open_holidays()
            for ref, days in self.holidays.items():
                worked = {d: open_days[d] for d in days if d in open_days}
                if worked:
                    self.reasons[ref] = on_open_holidays(self.reasons[ref], worked, self.s)
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
        index = SpikeIndex(spikes)
        for ref, r in enumerate(self.records):
            found: list[Reason] = []
            if frequent and r.amount != r.amount.to_integral_value():
                ending = ending_key(r.amount)
                if ending in frequent:
                    found.append(ending_reason(r.amount, ending, frequent[ending], s))
            if spikes and index.hits(r.digits, r.partner, r.posted_by):
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
    on_document: OnDocument | None = None,
    sql: bool = True,
) -> AuditResult:
    """Audit an AIS's posted journal from ``since`` to ``until`` (both inclusive).

    The history before ``since`` (``settings.history_days`` of it) is streamed too, to learn
    what is usual. A reference AIS on PostgreSQL is audited with the database's help
    (:mod:`.sql`: one row per entry for the history part, the entry part in queries) unless
    ``sql`` is false or its amounts need Python's rounding; another reference AIS is read
    with :func:`~.reading.read_journal` (no document lines for the history); any other AIS
    through its ``history()``. ``parallel``: run the entry part of the checks in a second
    process (``None``: when the AIS is a reference AIS, the period holds
    :data:`PARALLEL_FROM` entries or more, and the machine is not busy with other work: a
    load average below its number of cores plus one). ``on_document`` gets each document
    of the period as read (for the report's profile: from a reference AIS without the
    document's own lines, and on PostgreSQL without its entry's lines), with its entry's
    amount.
    """
    s = settings or AuditSettings()
    with _collecting_later():
        return _audit_ais(ais, since, until, s, on_progress, parallel, on_document, sql)


def _audit_ais(
    ais: _AIS,
    since: dt.date | None,
    until: dt.date | None,
    s: AuditSettings,
    on_progress: Progress | None,
    parallel: bool | None,
    on_document: OnDocument | None,
    sql: bool,
) -> AuditResult:
    end = until + dt.timedelta(days=1) if until is not None else None
    start = None
    if since is not None and s.history_days is not None:
        start = since - dt.timedelta(days=s.history_days)
    chart = ais.chart()
    if sql and applies(ais):
        assert isinstance(ais, ReferenceAIS)
        passed = [0]  # documents given to on_document, should the SQL path give up

        def counted(document: Document, amount: Decimal) -> None:
            passed[0] += 1
            if on_document is not None:
                on_document(document, amount)

        try:
            return _audit_sql(ais, since, until, start, end, s, on_progress, counted, parallel)
        except Inexact:
            # Amounts SQL cannot sum as Python rounds them: the plain path, which gives
            # on_document only the documents after those it was given already.
            on_document = _skipping(on_document, passed[0])
    if isinstance(ais, ReferenceAIS) and _in_two(ais, since, end, parallel):
        with ProcessPoolExecutor(max_workers=1, mp_context=_process_context()) as pool:
            entries = pool.submit(_entry_part, ais.url, since, end, s)
            audit = _Audit(chart, s, part="history")
            _feed(
                audit,
                _plain(read_journal(ais, start, end, NO_LINES)),
                since,
                until,
                on_progress,
                on_document,
            )
            found = entries.result()
        if found.judged != audit.digest():  # the AIS changed between the two reads
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


@contextmanager
def _collecting_later() -> Iterator[None]:
    """No cyclic garbage collection while the journal streams by: an audit makes millions
    of small objects, keeps hundreds of thousands (the history models, a record per entry)
    and makes no cycles of its own, and each collection would go over all it keeps (a
    quarter of the audit's time, for nothing). Reference counting frees the rest as ever;
    the collector runs again afterwards, as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _audit_sql(
    ais: ReferenceAIS,
    since: dt.date | None,
    until: dt.date | None,
    start: dt.date | None,
    end: dt.date | None,
    s: AuditSettings,
    on_progress: Progress | None,
    on_document: OnDocument | None,
    parallel: bool | None,
) -> AuditResult:
    """:func:`audit_ais` on PostgreSQL: every check over one row per entry
    (:func:`~.sql.read_summaries`), the ledger's validation of the entries that could fail
    it over those documents read in full.

    In two processes (as :func:`_in_two` decides) the second judges the history part of the
    period's first :data:`FIRST_SHARE` entries and the entry part of all; this one learns
    those first entries (:meth:`_Audit.judge`, ``"quiet"``) and judges the history part of
    the rest. Raises :class:`~.sql.Inexact`.
    """
    chart = ais.chart()
    entries = int(ais.count_history(since, end))
    if not _in_two(ais, since, end, parallel, entries):
        audit = _Audit(chart, s)
        with closing(read_summaries(ais, start, end, SQLAudit(chart, s, since))) as summaries:
            _feed(audit, summaries, since, until, on_progress, on_document)
        audit.judge_ledger(read_documents(ais, audit.suspects))
        return audit.result(since, until)
    first = int(entries * FIRST_SHARE)
    audit = _Audit(chart, s, part="history")
    with ProcessPoolExecutor(max_workers=1, mp_context=_process_context()) as pool:
        other = pool.submit(_first_share, ais.url, start, since, until, first, s)
        with closing(read_summaries(ais, start, end)) as summaries:
            judged = range(first, entries)
            _feed(audit, summaries, since, until, on_progress, on_document, judged)
        share, found = other.result()
    if share.judged != audit.digest(audit.modes["quiet"]) or found.judged != audit.digest():
        # The AIS changed between the two reads: all again, in this process.
        return _audit_sql(ais, since, until, start, end, s, None, None, False)
    audit.adopt_share(share)
    return audit.result(since, until, entries=found)


FIRST_SHARE = 0.5
"""The share of the period's entries whose history part the second process judges."""


def _first_share(
    url: str,
    start: dt.date | None,
    since: dt.date | None,
    until: dt.date | None,
    first: int,
    settings: AuditSettings,
) -> tuple[HistoryShare, EntryPart]:
    """The second process of :func:`_audit_sql`: the history part of the period's first
    ``first`` entries, the entry part of all."""
    end = until + dt.timedelta(days=1) if until is not None else None
    with ReferenceAIS(url) as ais, _collecting_later():
        chart = ais.chart()
        audit = _Audit(chart, settings)
        audited = SQLAudit(chart, settings, since)
        with closing(read_summaries(ais, start, end, audited)) as summaries:
            _feed(audit, summaries, since, until, None, judged=range(0, first))
        share = audit.take_share()
        audit.judge_ledger(read_documents(ais, audit.suspects))
        return share, audit.entry_findings()


def _skipping(on_document: OnDocument | None, skip: int) -> OnDocument | None:
    """``on_document``, but for the first ``skip`` documents it is called with."""
    if on_document is None or not skip:
        return on_document
    left = [skip]

    def call(document: Document, amount: Decimal) -> None:
        if left[0]:
            left[0] -= 1
        else:
            on_document(document, amount)

    return call


def _in_two(
    ais: Any,
    since: dt.date | None,
    end: dt.date | None,
    parallel: bool | None,
    entries: int | None = None,
) -> bool:
    """Whether to run a part in a second process (``entries``: the period's, if known)."""
    if parallel is not None:
        return parallel
    cores = os.cpu_count() or 1
    if cores < 2 or multiprocessing.current_process().daemon:
        return False  # one core, or inside a worker process that may not have children
    if os.getloadavg()[0] >= cores + 1:
        return False  # the machine is busy: a second pass would mostly add its reading
    if entries is None:
        entries = int(ais.count_history(since, end))
    return entries >= PARALLEL_FROM


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
    with ReferenceAIS(url) as ais, _collecting_later():
        audit = _Audit(ais.chart(), settings, part="entries")
        for document in read_journal(ais, since, end, since):
            audit.judge(document)
        return audit.entry_findings()
