"""An AIS in any SQL schema, read and written through a declarative mapping file.

``open_mapped(url, "mapping.toml")`` gives a :class:`MappedAIS`: the :class:`~.base.AIS`
that the rest of ledgerpilot uses, over a database whose tables are described by the
mapping (the format, key by key: :mod:`.mapping_format`; the SQL: :mod:`.mapping_sql`;
the check on connect: :mod:`.mapping_check`).

Posting follows :meth:`ReferenceAIS.post_entry <.reference.ReferenceAIS.post_entry>`: one
transaction, validated against the chart and the document, at most one entry per posting
key, and the same :mod:`.errors` exceptions. A mapped schema need not have a unique
constraint on the posting key, so ledgerpilot serialises its own posts to one AIS (SQLite:
the write lock taken at ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory
lock) and looks the key up inside that transaction; a unique constraint, where the schema
has one, settles races with other writers as well.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Subquery,
    bindparam,
    exc,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import table as sql_table

from ledgerpilot.ledger import ChartOfAccounts, Document, JournalEntry, PostingScheme, validate
from ledgerpilot.ledger.money import minor_unit
from ledgerpilot.ledger.text import unstorable
from ledgerpilot.ledger.validation import check_document_identity

from .base import CheckReport, PooledConnector
from .database import WRITE, make_engine
from .errors import (
    AISNotFound,
    AlreadyPosted,
    ConnectorUnavailable,
    DocumentNotFound,
    EntryRefused,
    PostingConflict,
    PostingError,
    is_transient,
)
from .mapping_format import AISMapping, MappingError, is_column_name, load_mapping
from .mapping_sql import MappedTables, bound, date_param, write_values
from .posting import PostingResult
from .schema import KEY_LENGTH

HISTORY_BATCH = 2000
"""Rows fetched at a time when documents are streamed (server-side on PostgreSQL)."""

_LOCK_KEY = zlib.crc32(b"ledgerpilot.post_entry")
"""The PostgreSQL advisory lock that serialises ledgerpilot's posts to one AIS."""


class MappedAIS(PooledConnector):
    """An AIS at a SQLAlchemy URL whose tables a mapping describes."""

    def __init__(self, url: str, mapping: AISMapping) -> None:
        self.url = url
        self.mapping = mapping
        self.tables = MappedTables(mapping)
        self.engine: Engine = make_engine(url)
        """The SQLAlchemy engine (readers use it as is)."""
        self.write_engine: Engine = self.engine.execution_options(**WRITE)

    @property
    def display_url(self) -> str:
        """The URL without its password, and the mapping file."""
        where = make_url(self.url).render_as_string(hide_password=True)
        return f"{where} (mapping {self.mapping.source or self.mapping.mapping.name})"

    # ------------------------------------------------------------ reading

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts, in the mapping's order."""
        with self._errors("reading the chart"), self.engine.connect() as conn:
            return self.tables.read_chart(conn)

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """Documents waiting for an entry, by date then id (``entry`` is ``None``)."""
        return list(self._stream(False, None, limit, "reading pending documents"))

    def get_document(self, external_id: str) -> Document | None:
        """The document with this id, with its entry when posted; ``None`` if there is none."""
        what = f"reading document {external_id[:80]!r}"
        found = list(self._stream(None, self._by_id(external_id), 1, what))
        return found[0] if found else None

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Generator[Document, None, None]:
        """Posted documents with their entries, by date then id, streamed.

        Filters on the document date: ``since`` inclusive, ``until`` exclusive.
        """
        return self._stream(True, self._dates(since, until), None, "reading history")

    def all_documents(self) -> Generator[Document, None, None]:
        """Every document, posted (with its entry) or not, by date then id, streamed."""
        return self._stream(None, None, None, "reading documents")

    def count_history(self, since: dt.date | None = None, until: dt.date | None = None) -> int:
        """How many documents :meth:`history` would yield."""
        query = self.tables.count_query(True, self._dates(since, until))
        with self._errors("counting history"), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count_pending(self) -> int:
        """How many documents :meth:`pending_documents` would list."""
        query = self.tables.count_query(False)
        with self._errors("counting pending documents"), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _dates(self, since: dt.date | None, until: dt.date | None) -> Any:
        if since is None and until is None:
            return None
        dialect = self.engine.dialect.name

        def between(d: Subquery) -> list[Any]:
            found = []
            if since is not None:
                found.append(d.c.date >= bindparam("lp_since", date_param(since, dialect)))
            if until is not None:
                found.append(d.c.date < bindparam("lp_until", date_param(until, dialect)))
            return found

        return between

    def _stream(
        self, posted: bool | None, where: Any, limit: int | None, what: str
    ) -> Generator[Document, None, None]:
        with self._errors(what), self.engine.connect() as conn:
            # One snapshot for the three queries, read in batches (server-side cursors on
            # PostgreSQL), as ReferenceAIS reads.
            conn = conn.execution_options(yield_per=HISTORY_BATCH)
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield from self.tables.stream(conn, posted, where, limit)

    # ------------------------------------------------------------ writing

    def post_entry(
        self, document_id: str, entry: JournalEntry, key: str, posted_by: str | None = None
    ) -> PostingResult:
        """Post an approved entry for a document, at most once per ``key``.

        One transaction, as :meth:`ReferenceAIS.post_entry
        <.reference.ReferenceAIS.post_entry>`: a key seen before returns its entry with
        ``created=False``; :class:`~.errors.DocumentNotFound`,
        :class:`~.errors.AlreadyPosted`, :class:`~.errors.PostingConflict` and
        :class:`~.errors.EntryRefused` write nothing. A mapping without ``[write]`` refuses
        every post with a :class:`~.errors.PostingError`.
        """
        if self.mapping.write is None:
            raise PostingError(
                f"the mapping {self.mapping.label} has no [write] section: this AIS is "
                "read-only for ledgerpilot"
            )
        if not key or len(key) > KEY_LENGTH:
            raise PostingError(f"the posting key must have 1 to {KEY_LENGTH} characters")
        try:
            with (
                self._errors(f"posting document {document_id[:80]!r}"),
                self.write_engine.begin() as conn,
            ):
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:lp_lock)"), {"lp_lock": _LOCK_KEY}
                    )
                found = self._entry_by_key(conn, key)
                if found is not None:
                    return _known(found, document_id, key)
                return self._insert(conn, document_id, entry, key, posted_by)
        except exc.IntegrityError as error:
            # A unique constraint of the schema: another writer committed this key first.
            with self.engine.connect() as conn:
                found = self._entry_by_key(conn, key)
            if found is None:
                refusal = str(error.orig).strip().splitlines()[0][:300] if str(error.orig) else "?"
                raise AlreadyPosted(
                    f"document {document_id[:80]!r} was not posted: the AIS refused the "
                    f"entry as a duplicate ({refusal})"
                ) from None
            return _known(found, document_id, key)

    def _entry_by_key(self, conn: Connection, key: str) -> Any:
        e, d = self.tables.entries_sub(), self.tables.documents_sub(None)
        return conn.execute(
            select(e.c.key, d.c.external_id)
            .select_from(e.outerjoin(d, e.c.document == d.c.key))
            .where(e.c.posting_key == bindparam("lp_key", key))
        ).first()

    def _insert(
        self,
        conn: Connection,
        document_id: str,
        entry: JournalEntry,
        key: str,
        posted_by: str | None,
    ) -> PostingResult:
        write = self.mapping.write
        assert write is not None  # checked by post_entry
        found = list(self.tables.stream(conn, None, self._by_id(document_id), 1))
        if not found:
            raise DocumentNotFound(f"there is no document {document_id[:80]!r} in the AIS")
        document = found[0]
        if document.entry is not None:
            other = self._posting_key_of(conn, document_id)
            if other == key:
                return PostingResult(str(document.entry.id), False)
            how = f"under the key {other!r}" if other else "(not by ledgerpilot)"
            raise AlreadyPosted(
                f"document {document_id[:80]!r} is already posted as entry "
                f"{document.entry.id} {how}"
            )
        if self.mapping.documents.pending is not None and not self._is_pending(conn, document_id):
            raise EntryRefused(
                f"document {document_id[:80]!r} is not pending: the mapping's pending "
                f"condition ({self.mapping.documents.pending}) does not hold for it"
            )
        self._validate(conn, document, entry, posted_by)
        doc_key = self._document_key(conn, document_id)
        unit = minor_unit(document.currency)
        posted_at = entry.posted_at or dt.datetime.now(dt.UTC)
        total = sum((ln.debit for ln in entry.lines), Decimal(0))
        entry_params = {
            "document_key": doc_key,
            "document_id": document_id,
            "date": entry.date,
            "description": entry.description,
            "posting_key": key,
            "posted_by": posted_by or entry.posted_by,
            "posted_at": posted_at,
            "currency": document.currency,
            "total": total,
            "total_minor": _minor(total, unit),
        }
        entries_table = write.journal_entry.table or self.mapping.journal_entries.table
        returning = write.journal_entry.returning or self.mapping.journal_entries.key
        target = self._target(entries_table, write.journal_entry.values, returning)
        statement = (
            insert(target)
            .values(write_values(write.journal_entry.values))
            .returning(target.c[returning])
        )
        entry_key = conn.execute(statement, bound(entry_params)).scalar_one()
        lines_table = write.journal_line.table or self.mapping.journal_lines.table
        line_target = self._target(lines_table, write.journal_line.values)
        rows = []
        for position, ln in enumerate(entry.lines, start=1):
            amount = ln.debit - ln.credit
            rows.append(
                bound(
                    {
                        "entry_key": entry_key,
                        "position": position,
                        "account": ln.account,
                        "debit": ln.debit,
                        "credit": ln.credit,
                        "amount": amount,
                        "debit_minor": _minor(ln.debit, unit),
                        "credit_minor": _minor(ln.credit, unit),
                        "amount_minor": _minor(amount, unit),
                        "description": ln.description,
                        "document_key": doc_key,
                        "document_id": document_id,
                        "date": entry.date,
                        "posting_key": key,
                        "currency": document.currency,
                    }
                )
            )
        conn.execute(insert(line_target).values(write_values(write.journal_line.values)), rows)
        if write.document is not None:
            doc_spec = self.mapping.documents
            doc_target = self._target(doc_spec.table, write.document.values, doc_spec.key)
            key_column = (
                doc_target.c[doc_spec.key]
                if is_column_name(doc_spec.key)
                else literal_column(f"({doc_spec.key})")
            )
            conn.execute(
                update(doc_target)
                .where(key_column == bindparam("lp_document_key"))
                .values(write_values(write.document.values)),
                bound(
                    {
                        "document_key": doc_key,
                        "document_id": document_id,
                        "entry_key": entry_key,
                        "posting_key": key,
                        "date": entry.date,
                        "posted_by": posted_by or entry.posted_by,
                        "posted_at": posted_at,
                    }
                ),
            )
        return PostingResult(str(entry_key), True)

    def _target(self, name: str, values: dict[str, str], *extra: str) -> Any:
        columns = sorted({*values, *(c for c in extra if is_column_name(c))})
        return sql_table(
            name, *(sql_column(c) for c in columns), schema=self.mapping.mapping.schema_name
        )

    def _by_id(self, document_id: str) -> Any:
        def this(d: Subquery) -> list[Any]:
            return [d.c.external_id == bindparam("lp_external_id", document_id)]

        return this

    def _document_key(self, conn: Connection, document_id: str) -> Any:
        d = self.tables.documents_sub(None)
        return conn.execute(
            select(d.c.key).where(d.c.external_id == bindparam("lp_external_id", document_id))
        ).scalar_one()

    def _is_pending(self, conn: Connection, document_id: str) -> bool:
        d = self.tables.documents_sub(False)
        return (
            conn.execute(
                select(d.c.key).where(d.c.external_id == bindparam("lp_external_id", document_id))
            ).first()
            is not None
        )

    def _posting_key_of(self, conn: Connection, document_id: str) -> str | None:
        e, d = self.tables.entries_sub(), self.tables.documents_sub(None)
        found = conn.execute(
            select(e.c.posting_key)
            .select_from(e.join(d, e.c.document == d.c.key))
            .where(d.c.external_id == bindparam("lp_external_id", document_id))
            .order_by(e.c.key)
        ).first()
        return None if found is None or found[0] is None else str(found[0])

    def _validate(
        self, conn: Connection, document: Document, entry: JournalEntry, posted_by: str | None
    ) -> None:
        chart = self.tables.read_chart(conn)
        scheme = PostingScheme(
            document=document.id,
            kind=document.kind,
            explanation=entry.description,
            lines=entry.lines,
            currency=document.currency,
        )
        violations = validate(scheme, chart) + check_document_identity(scheme, chart, document)
        problem = unstorable(
            [posted_by or "", entry.description, *(ln.description for ln in entry.lines)]
        )
        if problem is not None:
            raise EntryRefused(f"the entry's text {problem}")
        if violations:
            listed = "; ".join(
                (f"line {v.line}: " if v.line else "") + v.message for v in violations
            )
            raise EntryRefused(f"entry for document {document.id!r} refused: {listed}", violations)

    # ------------------------------------------------------------ checking

    def check(self) -> CheckReport:
        """What the database or the mapping lacks; see :mod:`.mapping_check`."""
        from .mapping_check import check_mapped

        return check_mapped(self)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Database errors as connector errors: unavailable, or the mapping's SQL refused."""
        try:
            yield
        except exc.DBAPIError as error:
            first = str(error.orig).strip().splitlines()[0][:300] if str(error.orig) else "?"
            if is_transient(error):
                raise ConnectorUnavailable(
                    f"{what}: the database is unavailable ({first})", error.orig
                ) from error
            if isinstance(error, exc.IntegrityError):
                raise
            raise MappingError(
                f"{what}: the database refused the SQL of the mapping {self.mapping.label} "
                f"({first}); `ledgerpilot ais check` says what is missing"
            ) from error


def _minor(amount: Decimal, unit: int) -> int:
    """``amount`` in the currency's minor unit, exactly (an amount is quantized already)."""
    return int(amount.scaleb(unit).to_integral_value())


def _known(found: Any, document_id: str, key: str) -> PostingResult:
    entry_key, external_id = found
    if external_id is None or str(external_id) != document_id:
        raise PostingConflict(
            f"posting key {key[:80]!r} was already used for entry {entry_key} of document "
            f"{str(external_id)[:80]!r}, not {document_id[:80]!r}"
        )
    return PostingResult(str(entry_key), False)


def open_mapped(url: str, mapping_path: str | Path, *, verify: bool = True) -> MappedAIS:
    """Open the AIS at ``url`` through the mapping file at ``mapping_path``.

    Raises :class:`~.mapping_format.MappingError` for a bad mapping file and
    :class:`~.errors.AISNotFound` for a missing database, or (with ``verify``) a database
    that lacks a table the mapping names; ``ledgerpilot ais check`` tells more.
    """
    mapping = load_mapping(mapping_path)
    ais = MappedAIS(url, mapping)
    if not verify:
        return ais
    try:
        from .mapping_check import missing_tables

        missing = missing_tables(ais)
        if missing:
            raise AISNotFound(
                f"{ais.display_url} lacks the table(s) {', '.join(missing)} that the mapping "
                "names; `ledgerpilot ais check` lists everything the mapping lacks"
            )
    except BaseException:
        ais.close()
        raise
    return ais
