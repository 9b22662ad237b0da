"""The connector to ledgerpilot's reference AIS schema (SQLite or PostgreSQL).

The reference schema is what the synthetic company is written into, what interchange files
are imported into, and the model for mappings of other AIS: see :mod:`.schema`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url

from ledgerpilot.ledger import AccountType, ChartOfAccounts, Document, JournalEntry

from .base import CheckItem, CheckReport, PooledConnector
from .bulk import write_chart
from .database import WRITE, make_engine
from .errors import AISNotFound, ConnectorError, database_errors
from .loading import LoadReport, load_documents
from .migrations import current_revision, head_revision, upgrade
from .posting import PostingResult, post_entry
from .reading import date_range, list_documents, read_chart, stream_documents
from .schema import accounts, document_lines, documents, journal_entries, journal_lines, partners

d, e = documents, journal_entries

HISTORY_BATCH = 2000
"""Rows fetched at a time when documents are streamed (server-side on PostgreSQL)."""


@dataclass(frozen=True)
class AISSummary:
    """What an AIS holds, in counts."""

    accounts: int
    partners: int
    documents: int
    posted: int
    pending: int
    journal_lines: int
    first_date: dt.date | None
    last_date: dt.date | None
    by_kind: dict[str, int] = field(default_factory=dict)
    """Documents per kind, kinds in alphabetical order."""


class ReferenceAIS(PooledConnector):
    """An AIS in the reference schema at a SQLAlchemy URL.

    ``ReferenceAIS(url)`` opens an existing AIS; :meth:`create` makes (or migrates) one.
    A missing SQLite file is never created by merely opening it.
    """

    def __init__(self, url: str, *, _create: bool = False) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, create=_create)
        """The SQLAlchemy engine (readers use it as is)."""
        self.write_engine: Engine = self.engine.execution_options(**WRITE)
        """The same pool, for transactions that write (SQLite takes its write lock at once)."""

    @classmethod
    def create(cls, url: str) -> ReferenceAIS:
        """Open the AIS at ``url``, creating the database file and schema as needed.

        Runs the migrations to the newest revision; an existing AIS is kept and upgraded.
        """
        ais = cls(url, _create=True)
        try:
            with database_errors(f"creating the AIS at {ais.display_url}"):
                upgrade(ais.engine)
        except BaseException:
            ais.close()
            raise
        return ais

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return make_url(self.url).render_as_string(hide_password=True)

    def check_schema(self) -> None:
        """Raise :class:`AISNotFound` unless the database holds the reference schema."""
        with database_errors(f"opening the AIS at {self.display_url}"):
            revision = current_revision(self.engine)
            if revision is None:
                with self.engine.connect() as conn:
                    has_tables = inspect(conn).has_table("documents")
                if not has_tables:
                    raise AISNotFound(
                        f"{self.display_url} holds no reference AIS schema; "
                        "create one with ReferenceAIS.create (or import files)"
                    )
            elif revision != head_revision():
                raise AISNotFound(
                    f"{self.display_url} is at schema revision {revision}, not "
                    f"{head_revision()}; upgrade it with ReferenceAIS.create"
                )

    # ------------------------------------------------------------ chart

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts, in the order its accounts were saved."""
        with database_errors("reading the chart"), self.engine.connect() as conn:
            return read_chart(conn)

    def save_chart(self, chart: ChartOfAccounts) -> int:
        """Insert the chart's new accounts and update changed ones (by code); how many."""
        with database_errors("saving the chart"), self.write_engine.begin() as conn:
            return write_chart(conn, chart)

    # ------------------------------------------------------------ documents

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """Documents without a journal entry, by date then id (``entry`` is ``None``)."""
        with database_errors("reading pending documents"), self.engine.begin() as conn:
            return list_documents(conn, posted=False, limit=limit)

    def get_document(self, external_id: str) -> Document | None:
        """The document with this id, with its entry when posted; ``None`` if there is none."""
        with database_errors(f"reading document {external_id[:80]!r}"), self.engine.begin() as conn:
            found = list_documents(conn, d.c.external_id == external_id)
        return found[0] if found else None

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Generator[Document, None, None]:
        """Posted documents with their entries, by date then id, streamed.

        Filters on the document date: ``since`` inclusive, ``until`` exclusive.
        """
        return self._stream(date_range(since, until), posted=True)

    def all_documents(self) -> Generator[Document, None, None]:
        """Every document, posted (with its entry) or pending, by date then id, streamed."""
        return self._stream(None, posted=None)

    def _stream(self, where: Any, posted: bool | None) -> Generator[Document, None, None]:
        with database_errors("reading documents"), self.engine.connect() as conn:
            # One snapshot for the three queries (SQLite: one transaction), read in batches
            # (through server-side cursors on PostgreSQL).
            conn = conn.execution_options(yield_per=HISTORY_BATCH)
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield from stream_documents(conn, where, posted)

    def count_history(self, since: dt.date | None = None, until: dt.date | None = None) -> int:
        """How many documents :meth:`history` would yield."""
        query = select(func.count()).select_from(d.join(e, e.c.document_id == d.c.id))
        where = date_range(since, until)
        if where is not None:
            query = query.where(where)
        with database_errors("counting history"), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def summary(self) -> AISSummary:
        """Counts of what the AIS holds."""
        with database_errors("summarising the AIS"), self.engine.begin() as conn:

            def count(table: Any) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

            first, last = conn.execute(select(func.min(d.c.date), func.max(d.c.date))).one()
            by_kind: dict[str, int] = dict(
                conn.execute(
                    select(d.c.kind, func.count()).group_by(d.c.kind).order_by(d.c.kind)
                ).all()
            )
            total = count(documents)
            posted = int(
                conn.execute(
                    select(func.count()).select_from(e).where(e.c.document_id.is_not(None))
                ).scalar_one()
            )
            return AISSummary(
                accounts=count(accounts),
                partners=count(partners),
                documents=total,
                posted=posted,
                pending=total - posted,
                journal_lines=count(journal_lines),
                first_date=first,
                last_date=last,
                by_kind=by_kind,
            )

    def count_document_lines(self) -> int:
        """Rows in ``document_lines``."""
        with database_errors("counting document lines"), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(document_lines)).scalar_one())

    # ------------------------------------------------------------ checking

    def check(self) -> CheckReport:
        """What this AIS lacks: the schema and its revision, counts, untyped accounts, history.

        Never raises for a lack; an unreachable database is an error item.
        """
        items: list[CheckItem] = []
        try:
            self.check_schema()
            with database_errors("checking the AIS"):
                revision = current_revision(self.engine)
            facts = self.summary()
            chart = self.chart()
        except ConnectorError as error:
            items.append(CheckItem("error", "schema", str(error)))
            return CheckReport(self.display_url, "reference", tuple(items))
        items.append(
            CheckItem(
                "info",
                "schema",
                f"reference schema at revision {revision}"
                if revision
                else "reference schema made before revisions were kept",
            )
        )
        items.append(
            CheckItem(
                "info",
                "counts",
                f"{facts.accounts} accounts, {facts.partners} partners, {facts.posted} posted "
                f"documents ({facts.journal_lines} journal lines), {facts.pending} pending",
            )
        )
        if not facts.accounts:
            items.append(CheckItem("error", "accounts", "the chart of accounts is empty"))
        untyped = [a for a in chart.accounts if a.postable and not isinstance(a.type, AccountType)]
        if untyped:
            shown = ", ".join(f"{a.code} (type {a.type!r})" for a in untyped[:5])
            items.append(
                CheckItem(
                    "warning",
                    "accounts",
                    f"{len(untyped)} postable account(s) without a type ledgerpilot knows: {shown}"
                    f"{' ...' if len(untyped) > 5 else ''}",
                )
            )
        if not facts.posted:
            items.append(
                CheckItem(
                    "warning",
                    "history",
                    "no posting history: the memory backend, eval, audit and dataset build "
                    "have nothing to learn from",
                )
            )
        if not facts.pending:
            items.append(CheckItem("info", "pending", "no document is pending"))
        return CheckReport(self.display_url, "reference", tuple(items))

    # ------------------------------------------------------------ writing

    def post_entry(
        self, document_id: str, entry: JournalEntry, key: str, posted_by: str | None = None
    ) -> PostingResult:
        """Post an approved entry for a document, at most once per ``key``.

        One transaction. A key seen before returns its entry with ``created=False`` and
        writes nothing. Raises a :class:`~.errors.PostingError` (and writes nothing) when
        the document does not exist (:class:`~.errors.DocumentNotFound`), is already posted
        under another key (:class:`~.errors.AlreadyPosted`), the key belongs to another
        document's entry (:class:`~.errors.PostingConflict`), or the entry does not validate
        against the chart (:class:`~.errors.EntryRefused`).
        """
        with database_errors(f"posting document {document_id[:80]!r}"):
            return post_entry(self.engine, self.write_engine, document_id, entry, key, posted_by)

    def load(
        self,
        documents: Iterable[Document],
        chart: ChartOfAccounts | None = None,
        batch_size: int = 10_000,
        on_progress: Callable[[int], None] | None = None,
        *,
        atomic: bool = False,
    ) -> LoadReport:
        """Bulk-write documents, and the entries of posted ones; see :mod:`.loading`.

        Saves ``chart`` first when given. ``on_progress`` gets the number of documents
        handled so far after each batch. ``atomic``: all or nothing, in one transaction.
        """
        with database_errors("loading documents"):
            return load_documents(
                self.engine,
                self.write_engine,
                documents,
                chart,
                batch_size,
                on_progress,
                atomic=atomic,
            )


def open_reference(url: str) -> ReferenceAIS:
    """Open an existing reference AIS; raise :class:`~.errors.AISNotFound` when there is none.

    Never creates anything: a missing SQLite file, a missing PostgreSQL database and a
    database without the reference schema are all reported. (:func:`~.opening.open_ais`
    opens any AIS: this one, Tryton, or a schema described by a mapping.)
    """
    ais = ReferenceAIS(url)
    try:
        ais.check_schema()
    except BaseException:
        ais.close()
        raise
    return ais
