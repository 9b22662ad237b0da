"""Reading the posted journal for an audit, straight from the reference schema.

An audit reads every posted document of years of history once, in date order; most of
them only teach the history models, which need the entry and the document's header but
never the document's own lines. :func:`read_journal` reads the reference schema with the
same three ordered queries as :meth:`ReferenceAIS.history` (one snapshot, streamed), but
reads the document lines only for the documents to judge (``judge_from`` on), takes the
rows straight from the database driver's cursor a batch at a time (no SQLAlchemy row
objects: half the reading's time), and shares one :class:`Partner` per partner. The
documents it yields are equal to those of :meth:`ReferenceAIS.history`, except that
documents dated before ``judge_from`` come without their lines (``lines == ()``).

Other AIS connectors are read through their own ``history()``. :func:`entries_of` fetches
the entries that findings name, for the report, without reading the period again.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Text, and_, select, type_coerce
from sqlalchemy.types import TypeDecorator

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.connectors.errors import database_errors
from ledgerpilot.connectors.reading import (
    IN_CHUNK,
    ORDER,
    date_range,
    document_of,
    documents_query,
    list_documents,
)
from ledgerpilot.connectors.schema import document_lines, documents, journal_entries, journal_lines
from ledgerpilot.ledger import Document, DocumentLine, EntryLine, JournalEntry, Partner
from ledgerpilot.ledger.money import minor_unit

d, e, dl, jl = documents, journal_entries, document_lines, journal_lines

BATCH = 5000
"""Rows fetched at a time (server-side cursors on PostgreSQL)."""

_QUANTS = {n: Decimal(1).scaleb(-n) for n in range(0, 5)}
D = Decimal


class _Raw(TypeDecorator[Any]):
    """Money as the driver gives it (text on SQLite, Decimal on PostgreSQL): made a Decimal
    of the currency's decimals once, here."""

    impl = Text
    cache_ok = True


def _raw(column: Any) -> Any:
    return type_coerce(column, _Raw()).label(column.name)


def read_journal(
    ais: ReferenceAIS,
    since: dt.date | None,
    until: dt.date | None,
    judge_from: dt.date | None,
) -> Iterator[Document]:
    """Posted documents dated ``since`` (inclusive) to ``until`` (exclusive), by date then id,
    with their entries; the lines of those dated before ``judge_from`` are not read."""
    with database_errors("reading the journal"), ais.engine.connect() as conn:
        conn = conn.execution_options(yield_per=BATCH)
        if conn.dialect.name == "postgresql":
            # One snapshot for the three queries, as the connector reads history.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute("SET LOCAL TimeZone = 'UTC'")
            yield from _stream(conn, date_range(since, until), judge_from)


def _stream(
    conn: Connection, where: ColumnElement[bool] | None, judge_from: dt.date | None
) -> Iterator[Document]:
    posted = [e.c.id.is_not(None)] if where is None else [where, e.c.id.is_not(None)]
    judged = posted if judge_from is None else [*posted, d.c.date >= judge_from]
    entry_rows = _rows(
        conn,
        select(jl.c.entry_id, jl.c.account_code, _raw(jl.c.debit), _raw(jl.c.credit))
        .add_columns(jl.c.description)
        .select_from(jl.join(e, jl.c.entry_id == e.c.id).join(d, e.c.document_id == d.c.id))
        .where(*posted)
        .order_by(*ORDER, jl.c.position),
    )
    line_rows = _rows(
        conn,
        select(dl.c.document_id, dl.c.description, _raw(dl.c.net), _raw(dl.c.tax_rate))
        .add_columns(_raw(dl.c.tax))
        .select_from(dl.join(d, dl.c.document_id == d.c.id).join(e, e.c.document_id == d.c.id))
        .where(and_(*judged))
        .order_by(*ORDER, dl.c.position),
    )
    doc_rows = _rows(conn, documents_query(where, posted=True))
    as_text = conn.dialect.name != "postgresql"
    entry_line = next(entry_rows, None)
    line = next(line_rows, None)
    partners: dict[str, Partner] = {}
    quants: dict[str, Decimal] = {}
    for row in doc_rows:
        doc_id, entry_id = row[0], row[14]
        q = quants.get(row[5])
        if q is None:
            q = quants[row[5]] = _QUANTS.get(minor_unit(row[5]), _QUANTS[2])
        lines = []
        while entry_line is not None and entry_line[0] == entry_id:
            lines.append(
                EntryLine(
                    entry_line[1],
                    D(entry_line[2]).quantize(q),
                    D(entry_line[3]).quantize(q),
                    entry_line[4],
                )
            )
            entry_line = next(entry_rows, None)
        doc_lines_found = []
        while line is not None and line[0] == doc_id:
            doc_lines_found.append(
                DocumentLine(
                    line[1], D(line[2]).quantize(q), _rate(D(line[3])), D(line[4]).quantize(q)
                )
            )
            line = next(line_rows, None)
        yield document_of(
            row[1:],
            tuple(doc_lines_found),
            tuple(lines),
            q=q,
            known_partners=partners,
            iso_text=as_text,
        )


def _rows(conn: Connection, query: Select[Any]) -> Iterator[Sequence[Any]]:
    """The query's rows as the driver's tuples, a batch at a time: no row objects and no
    result processing, half the reading's time.

    PostgreSQL's driver gives every column its Python type (the session's time zone is
    UTC, so times come in UTC as :class:`~ledgerpilot.sqlplumbing.UTCDateTime` gives them),
    through a server-side cursor. SQLite's gives dates and times as the ISO text SQLAlchemy
    stored: :func:`~ledgerpilot.connectors.reading.document_of` reads them.
    """
    compiled = query.compile(dialect=conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "postgresql":
        with driver.cursor(name=f"audit_{next(_CURSORS)}") as cursor:
            cursor.itersize = BATCH
            cursor.execute(str(compiled), compiled.params)
            while batch := cursor.fetchmany(BATCH):
                yield from batch
        return
    # SQLite stores dates as ISO text, as SQLAlchemy's SQLite dialect writes them.
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    params = [v.isoformat() if isinstance(v, dt.date) else v for v in params]
    cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), params)
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        cursor.close()


_CURSORS = itertools.count()


def _rate(rate: Decimal) -> Decimal:
    # Stored with four decimals: "25.0000" is the rate 25, "5.5000" the rate 5.5.
    integral = rate.to_integral_value()
    return integral if rate == integral else rate.normalize()


def journal_of(
    ais: Any, since: dt.date | None, until: dt.date | None, judge_from: dt.date | None
) -> Iterable[Document]:
    """The posted documents of ``ais`` from ``since`` to ``until`` (exclusive): read with
    :func:`read_journal` from a reference AIS, through ``history()`` from any other."""
    if isinstance(ais, ReferenceAIS):
        return read_journal(ais, since, until, judge_from)
    documents: Iterable[Document] = ais.history(since=since, until=until)
    return documents


def entries_of(
    ais: Any, entry_ids: Iterable[str], since: dt.date | None, until: dt.date | None
) -> dict[str, JournalEntry]:
    """The journal entries that findings name (``Finding.entry``), by that name, for the
    report's lines: from a reference AIS by id, :data:`IN_CHUNK` at a time; from any other
    by reading its history from ``since`` to ``until`` (exclusive) again."""
    wanted = set(entry_ids)
    found: dict[str, JournalEntry] = {}
    if not wanted:
        return found
    if isinstance(ais, ReferenceAIS):
        ids = sorted(int(i) for i in wanted if i.isdigit())
        with database_errors("reading the findings' entries"), ais.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                for document in list_documents(conn, e.c.id.in_(chunk), posted=True):
                    if document.entry is not None and document.entry.id in wanted:
                        found[document.entry.id] = document.entry
        return found
    for document in ais.history(since=since, until=until):
        entry = document.entry
        if entry is not None and (entry.id or document.id) in wanted:
            found[entry.id or document.id] = entry
    return found
