"""Audit runs in the store: their ranked findings, and what auditors recorded about them.

``ledgerpilot audit --store URL`` and the nightly audit save each run here
(:meth:`AuditBook.save_run`): the period, a summary per check, and every finding with its
reasons and the entry's lines as the run read them, so that the finding stays as it was
found whatever the AIS holds later. The auditors' page reads the runs back and records
follow-ups (:meth:`AuditBook.follow_up`): explained, needs follow-up or cleared, with a
note, who and when. Follow-ups are append-only (database triggers refuse changes), like the
decision log: a changed mind is a new follow-up. They belong to an entry of an AIS, so a
later run that flags the same entry again shows what was recorded before.

The runs come in as any object shaped like :class:`ledgerpilot.audit.model.AuditResult`
(the protocols below): the store knows the audit's results, not the audit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from .database import Database, utcnow
from .errors import StoreError
from .models import (
    AUDIT_SOURCES,
    FOLLOW_UP_STATUSES,
    AuditFindingRow,
    AuditFollowUpRow,
    AuditReasonRow,
    AuditRunRow,
)
from .users import authorized

OPEN = "open"
"""The follow-up filter for findings nobody has recorded anything about yet."""
MAX_NOTE = 4000
"""Longest follow-up note kept."""
INSERT_CHUNK = 1000
"""Findings inserted per statement when a run is saved."""


# ------------------------------------------------------------ what a run is made of


class ReasonLike(Protocol):
    """A check that fired on an entry (:class:`ledgerpilot.audit.model.Reason`)."""

    @property
    def check(self) -> str: ...

    @property
    def detail(self) -> str: ...

    @property
    def weight(self) -> float: ...


class FindingLike(Protocol):
    """A flagged entry (:class:`ledgerpilot.audit.model.Finding`)."""

    @property
    def entry(self) -> str: ...

    @property
    def document(self) -> str: ...

    @property
    def date(self) -> dt.date: ...

    @property
    def score(self) -> float: ...

    @property
    def reasons(self) -> Sequence[ReasonLike]: ...

    @property
    def partner(self) -> str | None: ...

    @property
    def kind(self) -> str: ...

    @property
    def amount(self) -> Decimal: ...

    @property
    def posted_by(self) -> str | None: ...

    @property
    def description(self) -> str: ...


class AuditLike(Protocol):
    """An audit's result (:class:`ledgerpilot.audit.model.AuditResult`)."""

    @property
    def entries_scanned(self) -> int: ...

    @property
    def findings(self) -> Sequence[FindingLike]: ...

    @property
    def checks(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def period(self) -> tuple[dt.date | None, dt.date | None]: ...


class EntryLineLike(Protocol):
    """A journal line (:class:`ledgerpilot.ledger.EntryLine`)."""

    @property
    def account(self) -> str: ...

    @property
    def debit(self) -> Decimal: ...

    @property
    def credit(self) -> Decimal: ...

    @property
    def description(self) -> str: ...


class EntryLike(Protocol):
    """A journal entry (:class:`ledgerpilot.ledger.JournalEntry`)."""

    @property
    def date(self) -> dt.date: ...

    @property
    def lines(self) -> Sequence[EntryLineLike]: ...

    @property
    def description(self) -> str: ...

    @property
    def posted_by(self) -> str | None: ...

    @property
    def posted_at(self) -> dt.datetime | None: ...


# ------------------------------------------------------------ records handed out


@dataclass(frozen=True)
class StoredRun:
    """One stored audit run."""

    id: int
    created_at: dt.datetime
    source: str
    """``command`` (``ledgerpilot audit --store``) or ``nightly``."""
    ais: str
    period_from: dt.date | None
    period_to: dt.date | None
    entries_scanned: int
    finding_count: int
    checks: dict[str, Any]
    """Per check: ``fired``, ``description``, ``weight``; ``benford`` adds its verdicts."""
    report_dir: str | None

    @classmethod
    def of(cls, row: AuditRunRow) -> StoredRun:
        """The record of a row."""
        return cls(
            id=row.id,
            created_at=row.created_at,
            source=row.source,
            ais=row.ais,
            period_from=row.period_from,
            period_to=row.period_to,
            entries_scanned=row.entries_scanned,
            finding_count=row.finding_count,
            checks=row.checks,
            report_dir=row.report_dir,
        )


@dataclass(frozen=True)
class StoredReason:
    """One check that fired on a stored finding."""

    check: str
    detail: str
    weight: float


@dataclass(frozen=True)
class FollowUp:
    """What an auditor recorded about a finding."""

    id: int
    finding_id: int
    entry_id: str
    at: dt.datetime
    user: str
    status: str
    """One of :data:`~ledgerpilot.review.models.FOLLOW_UP_STATUSES`."""
    note: str

    @classmethod
    def of(cls, row: AuditFollowUpRow) -> FollowUp:
        """The record of a row."""
        return cls(
            id=row.id,
            finding_id=row.finding_id,
            entry_id=row.entry_id,
            at=row.at,
            user=row.user_name,
            status=row.status,
            note=row.note,
        )


@dataclass(frozen=True)
class StoredFinding:
    """A finding as a run stored it."""

    id: int
    run_id: int
    rank: int
    entry_id: str
    document_id: str
    date: dt.date
    score: float
    amount: Decimal
    partner: str | None
    kind: str
    posted_by: str | None
    description: str
    reasons: tuple[StoredReason, ...]
    """Strongest first, as the run ranked them."""
    entry: dict[str, Any] | None
    """``{"date", "description", "posted_by", "posted_at", "lines": [{"account", "debit",
    "credit", "description"}]}`` with amounts as strings, or ``None`` when not kept."""
    latest: FollowUp | None = None
    """The latest follow-up on this entry of this AIS (from this run or an earlier one)."""

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks that fired, strongest first, each once."""
        return tuple(dict.fromkeys(r.check for r in self.reasons))

    @classmethod
    def of(
        cls, row: AuditFindingRow, reasons: Iterable[StoredReason], latest: FollowUp | None
    ) -> StoredFinding:
        """The record of a row with its reasons and latest follow-up."""
        return cls(
            id=row.id,
            run_id=row.run_id,
            rank=row.rank,
            entry_id=row.entry_id,
            document_id=row.document_id,
            date=row.date,
            score=row.score,
            amount=row.amount,
            partner=row.partner,
            kind=row.kind,
            posted_by=row.posted_by,
            description=row.description,
            reasons=tuple(reasons),
            entry=row.entry,
            latest=latest,
        )


@dataclass(frozen=True)
class FindingsPage:
    """One page of a run's findings, in rank order, and how many match in all."""

    items: list[StoredFinding]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching findings fill (at least one)."""
        return max(1, math.ceil(self.total / self.per_page))


# ------------------------------------------------------------ the book


class AuditBook:
    """The audit runs, findings and follow-ups in a store's database (a
    :class:`~ledgerpilot.review.store.ProposalStore`, migrated to the newest revision)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.engine = database.engine
        self._write_engine = database.engine.execution_options(store_write=True)

    def save_run(
        self,
        result: AuditLike,
        *,
        source: str,
        ais: str,
        entries: Mapping[str, EntryLike] | None = None,
        report_dir: str | None = None,
    ) -> StoredRun:
        """Store a run's findings in their order, with their reasons; the stored run.

        ``ais`` names the AIS audited (a URL without password); ``entries`` gives the lines
        of the findings' entries by entry id (those missing are stored without lines).
        One transaction: a run is stored whole or not at all.
        """
        if source not in AUDIT_SOURCES:
            raise StoreError(f"source must be one of {', '.join(AUDIT_SOURCES)}, not {source!r}")
        start, end = result.period
        entries = entries or {}
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            run = AuditRunRow(
                created_at=utcnow(),
                source=source,
                ais=ais,
                period_from=start,
                period_to=end,
                entries_scanned=result.entries_scanned,
                finding_count=len(result.findings),
                checks=checks_summary(result.checks),
                report_dir=report_dir,
            )
            session.add(run)
            session.flush()
            conn = session.connection()
            findings = list(result.findings)
            for first in range(0, len(findings), INSERT_CHUNK):
                chunk = findings[first : first + INSERT_CHUNK]
                rows = [
                    _finding_row(run.id, first + n, f, entries.get(f.entry))
                    for n, f in enumerate(chunk, start=1)
                ]
                ids = conn.execute(
                    insert(AuditFindingRow).returning(
                        AuditFindingRow.id, sort_by_parameter_order=True
                    ),
                    rows,
                ).scalars()
                reasons = [
                    {
                        "finding_id": finding_id,
                        "run_id": run.id,
                        "position": position,
                        "check_name": r.check,
                        "detail": r.detail,
                        "weight": float(r.weight),
                    }
                    for finding_id, f in zip(ids, chunk, strict=True)
                    for position, r in enumerate(f.reasons, start=1)
                ]
                if reasons:
                    conn.execute(insert(AuditReasonRow), reasons)
            return StoredRun.of(run)

    # -------------------------------------------------------- reading runs

    def runs(self, limit: int = 50) -> list[StoredRun]:
        """The stored runs, newest first."""
        query = (
            select(AuditRunRow)
            .order_by(AuditRunRow.created_at.desc(), AuditRunRow.id.desc())
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [StoredRun.of(row) for row in session.scalars(query)]

    def latest_run(self) -> StoredRun | None:
        """The newest run, or ``None`` before any was stored."""
        found = self.runs(limit=1)
        return found[0] if found else None

    def run(self, run_id: int) -> StoredRun | None:
        """The run with this id, or ``None``."""
        with Session(self.engine) as session:
            row = session.get(AuditRunRow, run_id)
            return None if row is None else StoredRun.of(row)

    def findings(
        self,
        run_id: int,
        *,
        check: str | None = None,
        follow_up: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> FindingsPage:
        """One page of the run's findings in rank order, with their reasons and latest
        follow-ups; ``check`` keeps those a check fired on, ``follow_up`` those whose latest
        follow-up has this status (:data:`OPEN`: none yet)."""
        if follow_up is not None and follow_up not in (OPEN, *FOLLOW_UP_STATUSES):
            raise StoreError(
                f"follow-up must be one of {OPEN}, {', '.join(FOLLOW_UP_STATUSES)}, "
                f"not {follow_up!r}"
            )
        page, per_page = max(1, page), max(1, per_page)
        base = _matching(run_id, check, follow_up)
        with Session(self.engine) as session:
            total = int(session.execute(select(func.count()).select_from(base)).scalar_one())
            rows = list(
                session.scalars(
                    select(AuditFindingRow)
                    .where(AuditFindingRow.id.in_(select(base.c.id)))
                    .order_by(AuditFindingRow.rank)
                    .limit(per_page)
                    .offset((page - 1) * per_page)
                )
            )
            items = self._records(session, rows)
        return FindingsPage(items=items, total=total, page=page, per_page=per_page)

    def finding(self, finding_id: int) -> StoredFinding | None:
        """The finding with this id, or ``None``."""
        with Session(self.engine) as session:
            row = session.get(AuditFindingRow, finding_id)
            return None if row is None else self._records(session, [row])[0]

    def check_counts(self, run_id: int) -> dict[str, int]:
        """How many of the run's findings each check fired on, most first."""
        query = (
            select(AuditReasonRow.check_name, func.count(func.distinct(AuditReasonRow.finding_id)))
            .where(AuditReasonRow.run_id == run_id)
            .group_by(AuditReasonRow.check_name)
        )
        with Session(self.engine) as session:
            counts = {str(name): int(n) for name, n in session.execute(query)}
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def follow_up_counts(self, run_id: int) -> dict[str, int]:
        """How many of the run's findings stand at each follow-up status (``open``: none)."""
        latest = _latest_status()
        query = (
            select(latest, func.count())
            .select_from(AuditFindingRow)
            .join(AuditRunRow, AuditRunRow.id == AuditFindingRow.run_id)
            .where(AuditFindingRow.run_id == run_id)
            .group_by(latest)
        )
        with Session(self.engine) as session:
            found = {status or OPEN: int(n) for status, n in session.execute(query)}
        return {status: found.get(status, 0) for status in (OPEN, *FOLLOW_UP_STATUSES)}

    # -------------------------------------------------------- follow-ups

    def follow_up(self, finding_id: int, *, user: str, status: str, note: str) -> FollowUp:
        """Record a follow-up on the finding in ``user``'s name (an auditor or admin).

        ``note`` says what was done or found: required, cut at :data:`MAX_NOTE` characters.
        """
        if status not in FOLLOW_UP_STATUSES:
            raise StoreError(
                f"status must be one of {', '.join(FOLLOW_UP_STATUSES)}, not {status!r}"
            )
        text = note.strip()
        if not text:
            raise StoreError("a follow-up needs a note: what was done, or what was found")
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            authorized(session, user, "audit")
            found = session.execute(
                select(AuditFindingRow.entry_id, AuditRunRow.ais)
                .join(AuditRunRow, AuditRunRow.id == AuditFindingRow.run_id)
                .where(AuditFindingRow.id == finding_id)
            ).first()
            if found is None:
                raise StoreError(f"there is no audit finding {finding_id}")
            row = AuditFollowUpRow(
                finding_id=finding_id,
                ais=found.ais,
                entry_id=found.entry_id,
                at=utcnow(),
                user_name=user,
                status=status,
                note=text[:MAX_NOTE],
            )
            session.add(row)
            session.flush()
            return FollowUp.of(row)

    def follow_ups(self, finding_id: int) -> list[FollowUp]:
        """Every follow-up on the finding's entry in its AIS, from any run, oldest first."""
        with Session(self.engine) as session:
            row = session.get(AuditFindingRow, finding_id)
            if row is None:
                return []
            run = session.get(AuditRunRow, row.run_id)
            assert run is not None  # a foreign key
            query = (
                select(AuditFollowUpRow)
                .where(AuditFollowUpRow.entry_id == row.entry_id, AuditFollowUpRow.ais == run.ais)
                .order_by(AuditFollowUpRow.id)
            )
            return [FollowUp.of(r) for r in session.scalars(query)]

    # -------------------------------------------------------- helpers

    def _records(self, session: Session, rows: Sequence[AuditFindingRow]) -> list[StoredFinding]:
        """The rows with their reasons and each entry's latest follow-up (two queries)."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        reasons: dict[int, list[StoredReason]] = {i: [] for i in ids}
        for r in session.scalars(
            select(AuditReasonRow)
            .where(AuditReasonRow.finding_id.in_(ids))
            .order_by(AuditReasonRow.finding_id, AuditReasonRow.position)
        ):
            reasons[r.finding_id].append(StoredReason(r.check_name, r.detail, r.weight))
        ais_of: dict[int, str] = {
            run_id: ais
            for run_id, ais in session.execute(
                select(AuditRunRow.id, AuditRunRow.ais).where(
                    AuditRunRow.id.in_({r.run_id for r in rows})
                )
            )
        }
        latest: dict[tuple[str, str], FollowUp] = {}
        for f in session.scalars(
            select(AuditFollowUpRow)
            .where(
                AuditFollowUpRow.entry_id.in_({r.entry_id for r in rows}),
                AuditFollowUpRow.ais.in_(set(ais_of.values())),
            )
            .order_by(AuditFollowUpRow.id)
        ):
            latest[(f.entry_id, f.ais)] = FollowUp.of(f)  # oldest first: the last one stays
        return [
            StoredFinding.of(r, reasons[r.id], latest.get((r.entry_id, ais_of[r.run_id])))
            for r in rows
        ]


def _latest_status() -> Any:
    """The status of the latest follow-up on a finding's entry in its run's AIS (a
    correlated subquery on ``audit_findings`` joined to ``audit_runs``)."""
    return (
        select(AuditFollowUpRow.status)
        .where(
            AuditFollowUpRow.entry_id == AuditFindingRow.entry_id,
            AuditFollowUpRow.ais == AuditRunRow.ais,
        )
        .order_by(AuditFollowUpRow.id.desc())
        .limit(1)
        .correlate(AuditFindingRow, AuditRunRow)
        .scalar_subquery()
    )


def _matching(run_id: int, check: str | None, follow_up: str | None) -> Any:
    """The ids of the run's findings that the filters keep, as a subquery."""
    query: Select[Any] = (
        select(AuditFindingRow.id)
        .join(AuditRunRow, AuditRunRow.id == AuditFindingRow.run_id)
        .where(AuditFindingRow.run_id == run_id)
    )
    if check:
        query = query.where(
            AuditFindingRow.id.in_(
                select(AuditReasonRow.finding_id).where(
                    AuditReasonRow.run_id == run_id, AuditReasonRow.check_name == check
                )
            )
        )
    if follow_up == OPEN:
        query = query.where(_latest_status().is_(None))
    elif follow_up is not None:
        query = query.where(_latest_status() == follow_up)
    return query.subquery()


def _finding_row(run_id: int, rank: int, f: FindingLike, entry: EntryLike | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "rank": rank,
        "entry_id": f.entry,
        "document_id": f.document,
        "date": f.date,
        "score": float(f.score),
        "amount": f.amount,
        "partner": f.partner,
        "kind": f.kind,
        "posted_by": f.posted_by,
        "description": f.description,
        "entry": None if entry is None else entry_json(entry),
    }


def entry_json(entry: EntryLike) -> dict[str, Any]:
    """An entry as a finding keeps it: amounts as exact strings, the posting time as the AIS
    gave it (ISO 8601)."""
    return {
        "date": entry.date.isoformat(),
        "description": entry.description,
        "posted_by": entry.posted_by,
        "posted_at": None if entry.posted_at is None else entry.posted_at.isoformat(),
        "lines": [
            {
                "account": ln.account,
                "debit": f"{ln.debit:f}",
                "credit": f"{ln.credit:f}",
                "description": ln.description,
            }
            for ln in entry.lines
        ],
    }


def checks_summary(checks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What a run keeps of its per-check summary: each check's ``fired``, ``description``
    and ``weight``; for Benford the journal's verdicts and each tested group's (the
    per-digit proportions stay in the run's report)."""
    out: dict[str, Any] = {}
    for name, summary in checks.items():
        kept = {k: summary[k] for k in ("fired", "description", "weight") if k in summary}
        if name == "benford":
            if "min_count" in summary:
                kept["min_count"] = summary["min_count"]
            journal = summary.get("journal")
            if isinstance(journal, Mapping):
                kept["journal"] = _benford_verdicts(journal)
            groups = summary.get("groups")
            if isinstance(groups, Mapping):
                kept["groups"] = {
                    group: _benford_verdicts(stats)
                    for group, stats in groups.items()
                    if isinstance(stats, Mapping)
                }
        out[name] = kept
    return out


def _benford_verdicts(stats: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"count": stats.get("count", 0)}
    for test in ("first_digit", "first_two_digits"):
        found = stats.get(test)
        if isinstance(found, Mapping):
            out[test] = {"mad": found.get("mad"), "verdict": found.get("verdict")}
    return out
