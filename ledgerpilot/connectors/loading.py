"""The bulk path: many documents, with their posted entries, into the reference schema.

Used by the synthetic company (hundreds of thousands of documents) and by imports. Speed
comes from doing little per row (see :mod:`.bulk`) and, for SQLite files, from writing in a
helper process while this one prepares the next batch. Each batch is one transaction.

A document whose id is already in the AIS is compared with the stored one: the same ->
skipped; the stored one pending and this one carrying an entry but otherwise the same ->
the entry is attached; anything else -> a conflict, reported and not written.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from ledgerpilot.ledger import ChartOfAccounts, Document

from .bulk import Ids, Rows, build_rows, write_chart, write_rows
from .comparing import check_loadable, difference
from .database import BULK, sqlite_path
from .errors import ConnectorError, ConnectorUnavailable
from .reading import documents_by_ids
from .schema import accounts, documents, journal_entries, partners
from .sqlite_writer import SqliteWriter, WriterFailed

ProgressCallback = Callable[[int], None]

HELPER_AFTER_BATCHES: int | None = 1
"""A load into a SQLite file writes its batches after this many through a helper process
(:mod:`.sqlite_writer`), overlapping SQLite's work with preparing the next batch; ``None``
writes every batch in this process."""


@dataclass
class LoadReport:
    """What :meth:`ReferenceAIS.load` did."""

    inserted: int = 0
    """Documents written."""
    skipped: int = 0
    """Documents already in the AIS with the same content (or a pending copy of a posted one)."""
    entries: int = 0
    """Journal entries written, with new documents or attached to stored pending ones."""
    lines: int = 0
    """Journal lines written."""
    conflicts: list[str] = field(default_factory=list)
    """``"id: reason"`` for each document already in the AIS with other content; not written."""
    rejected: list[str] = field(default_factory=list)
    """``"id: reason"`` for each document the AIS cannot take as given; not written."""
    attached: int = 0
    """Entries attached to documents that were stored pending (counted in ``entries`` too)."""
    document_lines: int = 0
    """Document lines written."""
    partners: int = 0
    """Partners inserted or updated."""
    refused: dict[str, str] = field(default_factory=dict)
    """Every document not written for a conflict or a rejection: id -> reason."""
    written: bool = True
    """False when an all-or-nothing load wrote nothing because some document was refused."""
    seconds: float = 0.0
    """Wall-clock time of the load."""

    @property
    def documents(self) -> int:
        """Documents read from the input."""
        return self.inserted + self.skipped + len(self.refused)

    @property
    def documents_per_second(self) -> float:
        """Throughput over the whole load."""
        return self.documents / self.seconds if self.seconds else 0.0


def load_documents(
    engine: Engine,
    write_engine: Engine,
    documents_in: Iterable[Document],
    chart: ChartOfAccounts | None = None,
    batch_size: int = 10_000,
    on_progress: ProgressCallback | None = None,
    atomic: bool = False,
    dry_run: bool = False,
) -> LoadReport:
    """Write documents (and entries of posted ones) in batches; see the module docstring.

    ``atomic``: one transaction for everything, and nothing written if any document is
    refused (``report.written`` is then false). ``dry_run`` (atomic only): classify and
    report, write nothing.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = LoadReport()
    started = time.perf_counter()
    if chart is not None:
        with write_engine.begin() as conn:
            write_chart(conn, chart)
    if atomic or dry_run:
        _load_atomic(write_engine, documents_in, batch_size, report, dry_run)
        if on_progress is not None:
            on_progress(report.documents)
    else:
        _load_batches(engine, write_engine, documents_in, batch_size, report, on_progress)
    report.seconds = time.perf_counter() - started
    return report


def _load_atomic(
    write_engine: Engine,
    documents_in: Iterable[Document],
    batch_size: int,
    report: LoadReport,
    dry_run: bool,
) -> None:
    with write_engine.begin() as conn:
        loader = _Loader(conn, report)
        new, attach = loader.classify(conn, list(documents_in))
        if report.refused or dry_run:
            report.written = False
            report.inserted = report.skipped = 0
            conn.rollback()
            return
        for start in range(0, max(len(new), len(attach)), batch_size):
            rows = loader.build(
                conn, new[start : start + batch_size], attach[start : start + batch_size]
            )
            write_rows(conn, rows)


def _load_batches(
    engine: Engine,
    write_engine: Engine,
    documents_in: Iterable[Document],
    batch_size: int,
    report: LoadReport,
    on_progress: ProgressCallback | None,
) -> None:
    bulk_engine = write_engine.execution_options(**BULK)
    with write_engine.begin() as conn:
        loader = _Loader(conn, report)
    helper_path = sqlite_path(engine.url)
    helper_from = HELPER_AFTER_BATCHES if helper_path is not None else None
    writer: SqliteWriter | None = None
    done = reported = 0
    try:
        for index, batch in enumerate(_batches(documents_in, batch_size)):
            if index == helper_from and helper_path is not None:
                writer = _start_writer(helper_path)
            if writer is None:
                with bulk_engine.begin() as conn:
                    new, attach = loader.classify(conn, batch)
                    write_rows(conn, loader.build(conn, new, attach))
                done = report.documents
            else:
                if loader.needs_reads(batch) and helper_path is not None:
                    done += _written(writer.finish)  # what it compares with must be committed
                    writer = _start_writer(helper_path)
                # Reads only: the helper holds the write lock while it writes.
                with engine.connect() as conn:
                    new, attach = loader.classify(conn, batch)
                    rows = loader.build(conn, new, attach)
                if writer is None:  # it could not be restarted: write here
                    with bulk_engine.begin() as conn:
                        write_rows(conn, rows)
                    done = report.documents
                else:
                    done += _written(
                        writer.submit, rows.for_helper(), rows.partner_tuples(), len(batch)
                    )
            reported = _report(on_progress, done, reported)
        if writer is not None:
            done += _written(writer.finish)
            writer = None
            _report(on_progress, done, reported)
    finally:
        if writer is not None:
            writer.close()


def _report(on_progress: ProgressCallback | None, done: int, reported: int) -> int:
    """Tell ``on_progress`` about documents committed since the last call, if any."""
    if on_progress is not None and done > reported:
        on_progress(done)
    return done


def _start_writer(path: Path) -> SqliteWriter | None:
    try:
        return SqliteWriter(path)
    except OSError:
        return None  # no processes here: the caller writes in this one


def _written(call: Callable[..., int], *args: Any) -> int:
    """Run a writer call, turning the helper's failure into a connector error."""
    try:
        return call(*args)
    except WriterFailed as exc:
        message = f"writing a batch of documents failed: {exc}"
        if "locked" in str(exc) or "busy" in str(exc):
            raise ConnectorUnavailable(message, exc) from exc
        raise ConnectorError(message) from exc


def _batches(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class _Loader:
    """State of one load: what is stored, what is planned, and the keys handed out."""

    def __init__(self, conn: Connection, report: LoadReport) -> None:
        self.report = report
        self.imported_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.postable = frozenset(
            conn.execute(select(accounts.c.code).where(accounts.c.postable)).scalars()
        )
        e = journal_entries
        rows = conn.execute(
            select(documents.c.external_id, documents.c.id, e.c.id).select_from(
                documents.outerjoin(e, e.c.document_id == documents.c.id)
            )
        )
        # external id -> (database id, posted?) of every stored (or planned) document.
        self.stored: dict[str, tuple[int, bool]] = {r[0]: (r[1], r[2] is not None) for r in rows}
        self.planned: dict[str, Document] = {}
        """Documents classified as new in this load and not yet built into rows."""
        self.loaded_here: set[str] = set()
        """Documents of this load already built into rows (maybe not yet committed)."""
        self.partners: dict[str, tuple[int, str, str | None, str | None]] = {
            r.external_id: (r.id, r.name, r.vat, r.country) for r in conn.execute(select(partners))
        }
        self.ids = Ids(conn)

    def needs_reads(self, batch: Sequence[Document]) -> bool:
        """Whether classifying ``batch`` reads back documents that this load wrote."""
        return any(doc.id in self.loaded_here for doc in batch)

    def classify(
        self, conn: Connection, batch: Sequence[Document]
    ) -> tuple[list[Document], list[tuple[int, Document]]]:
        """New documents and entries to attach of a batch; counts skips and refusals."""
        new: list[Document] = []
        attach: list[tuple[int, Document]] = []
        report = self.report
        colliding = [
            self.stored[doc.id][0]
            for doc in batch
            if doc.id in self.stored and doc.id not in self.planned
        ]
        stored_docs = {d.id: d for d in documents_by_ids(conn, colliding)} if colliding else {}
        for doc in batch:
            problem = check_loadable(doc, self.postable)
            if problem is not None:
                self._refuse(doc, problem, report.rejected)
                continue
            earlier = self.planned.get(doc.id) or stored_docs.get(doc.id)
            if earlier is None:
                new.append(doc)
                self.planned[doc.id] = doc
                report.inserted += 1
                continue
            reason = difference(earlier, doc)
            if reason is not None:
                where = (
                    "an earlier document with this id"
                    if doc.id in self.planned
                    else "the document in the AIS"
                )
                self._refuse(doc, f"differs from {where}: {reason}", report.conflicts)
            elif earlier.entry is None and doc.entry is not None:
                if doc.id in self.planned:  # not written yet: write it with this entry
                    new[new.index(earlier)] = doc
                    self.planned[doc.id] = doc
                else:
                    attach.append((self.stored[doc.id][0], doc))
                    self.stored[doc.id] = (self.stored[doc.id][0], True)
                report.skipped += 1
            else:
                report.skipped += 1
        return new, attach

    def _refuse(self, doc: Document, reason: str, where: list[str]) -> None:
        self.report.refused.setdefault(doc.id, reason)
        where.append(f"{doc.id}: {reason}")

    def build(
        self, conn: Connection, new: Sequence[Document], attach: Sequence[tuple[int, Document]]
    ) -> Rows:
        """The rows of a classified batch, with partners inserted or updated."""
        report = self.report
        rows = Rows()
        partner_ids = self._partners(conn, new, rows)
        built = build_rows(conn, self.ids, new, attach, partner_ids, self.imported_at, self.stored)
        built.tables["partners"] = rows.tables["partners"]
        built.partner_updates = rows.partner_updates
        for doc in new:
            self.planned.pop(doc.id, None)
            self.loaded_here.add(doc.id)
        report.document_lines += len(built.tables["document_lines"])
        report.entries += len(built.tables["journal_entries"])
        report.lines += len(built.tables["journal_lines"])
        report.attached += len(attach)
        return built

    def _partners(self, conn: Connection, docs: Sequence[Document], rows: Rows) -> dict[str, int]:
        wanted: dict[str, tuple[str, str | None, str | None]] = {}
        for doc in docs:
            if doc.partner is not None:
                p = doc.partner
                wanted[p.id] = (p.name, p.vat, p.country)
        new = [pid for pid in wanted if pid not in self.partners]
        for db_id, pid in zip(self.ids.take(conn, partners, len(new)), new, strict=True):
            rows.tables["partners"].append((db_id, pid, *wanted[pid]))
            self.partners[pid] = (db_id, *wanted[pid])
        for pid, values in wanted.items():
            known = self.partners[pid]
            if known[1:] != values:
                rows.partner_updates.append(
                    {"pk": known[0], "n": values[0], "v": values[1], "c": values[2]}
                )
                self.partners[pid] = (known[0], *values)
        self.report.partners += len(new) + len(rows.partner_updates)
        return {pid: self.partners[pid][0] for pid in wanted}
