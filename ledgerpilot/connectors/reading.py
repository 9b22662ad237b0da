"""Reading documents, with their lines and entries, out of the reference schema.

Lists (pending documents, a few by id) are read with one query per table. History is
streamed: one query per table, all in the same order (document date, external id) and in
one snapshot, merged in Python, so that a million documents take three queries, not a
million.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Row, Select, Text, and_, select, type_coerce
from sqlalchemy.types import TypeDecorator

from ledgerpilot.ledger import (
    Account,
    AccountType,
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    JournalEntry,
    Partner,
)
from ledgerpilot.ledger.money import minor_unit

from .schema import accounts, document_lines, documents, journal_entries, journal_lines, partners

d, p, e = documents, partners, journal_entries
dl, jl = document_lines, journal_lines

ORDER = (d.c.date, d.c.external_id)
"""The order of every document listing: by date, then external id."""

IN_CHUNK = 500
"""Ids per ``IN (...)`` list: well below every database's limit on bound parameters."""


def _raw(column: Any) -> Any:
    # Money as the driver gives it (text on SQLite, Decimal on PostgreSQL), turned into a
    # quantized Decimal once, in to_document (and document_of), rather than twice.
    return type_coerce(column, _RawMoney()).label(column.name)


class _RawMoney(TypeDecorator[Any]):
    impl = Text
    cache_ok = True


# Row layouts, read by position in to_document (attribute access costs more per row).
_DOC_COLUMNS = (
    d.c.id,
    d.c.external_id,
    d.c.kind,
    d.c.number,
    d.c.date,
    d.c.currency,
    _raw(d.c.total_net),
    _raw(d.c.total_tax),
    _raw(d.c.total_gross),
    d.c.text,
    p.c.external_id.label("partner_external_id"),
    p.c.name.label("partner_name"),
    p.c.vat.label("partner_vat"),
    p.c.country.label("partner_country"),
    e.c.id.label("entry_id"),
    e.c.date.label("entry_date"),
    e.c.description.label("entry_description"),
    e.c.posted_by,
    e.c.posted_at,
)
_LINE_COLUMNS = (
    dl.c.document_id,
    dl.c.description,
    _raw(dl.c.net),
    _raw(dl.c.tax_rate),
    _raw(dl.c.tax),
)
_ENTRY_LINE_COLUMNS = (
    jl.c.entry_id,
    jl.c.account_code,
    _raw(jl.c.debit),
    _raw(jl.c.credit),
    jl.c.description,
)

_QUANTS = {n: Decimal(1).scaleb(-n) for n in range(0, 5)}


def read_chart(conn: Connection) -> ChartOfAccounts:
    """The chart stored in ``accounts``, in the order it was saved."""
    rows = conn.execute(select(accounts).order_by(accounts.c.id))
    return ChartOfAccounts(
        tuple(
            Account(
                code=r.code,
                name=r.name,
                type=_account_type(r.account_type),
                postable=r.postable,
                role=r.role,
                local_name=r.local_name,
                reconcile=r.reconcile,
            )
            for r in rows
        )
    )


def _account_type(value: str) -> AccountType | str:
    try:
        return AccountType(value)
    except ValueError:
        return value


def documents_query(
    where: ColumnElement[bool] | None = None, posted: bool | None = None
) -> Select[Any]:
    """Documents (joined to partner and entry) matching ``where``, in :data:`ORDER`.

    ``posted``: ``True`` only documents with an entry, ``False`` only pending ones,
    ``None`` both.
    """
    joined = d.outerjoin(p, d.c.partner_id == p.c.id)
    joined = (
        joined.join(e, e.c.document_id == d.c.id)
        if posted
        else joined.outerjoin(e, e.c.document_id == d.c.id)
    )
    query = select(*_DOC_COLUMNS).select_from(joined)
    return query.where(*_filters(where, posted)).order_by(*ORDER)


def _filters(where: ColumnElement[bool] | None, posted: bool | None) -> list[Any]:
    found: list[Any] = [] if where is None else [where]
    if posted is False:
        found.append(e.c.id.is_(None))
    elif posted:
        found.append(e.c.id.is_not(None))
    return found


def stream_documents(
    conn: Connection, where: ColumnElement[bool] | None = None, posted: bool | None = None
) -> Iterator[Document]:
    """Documents matching ``where`` in :data:`ORDER`, streamed with three queries.

    ``conn`` must hold one snapshot for all three (a SQLite transaction, or a PostgreSQL
    transaction at REPEATABLE READ), or the three lists could disagree.
    """
    lines_join = dl.join(d, dl.c.document_id == d.c.id)
    lines_join = (
        lines_join.join(e, e.c.document_id == d.c.id)
        if posted
        else lines_join.outerjoin(e, e.c.document_id == d.c.id)
    )
    line_rows = conn.execute(
        select(*_LINE_COLUMNS)
        .select_from(lines_join)
        .where(*_filters(where, posted))
        .order_by(*ORDER, dl.c.position)
    )
    entry_rows: Iterable[Row[Any]] = ()
    if posted is not False:
        entry_join = jl.join(e, jl.c.entry_id == e.c.id).join(d, e.c.document_id == d.c.id)
        entry_rows = conn.execute(
            select(*_ENTRY_LINE_COLUMNS)
            .select_from(entry_join)
            .where(*_filters(where, posted))
            .order_by(*ORDER, jl.c.position)
        )
    doc_rows = conn.execute(documents_query(where, posted))
    for row, doc_lines, entry_lines in merge_rows(doc_rows, line_rows, entry_rows):
        yield to_document(row, doc_lines, entry_lines)


def merge_rows(
    doc_rows: Iterable[Sequence[Any]],
    line_rows: Iterable[Sequence[Any]],
    entry_line_rows: Iterable[Sequence[Any]],
) -> Iterator[tuple[Sequence[Any], list[Sequence[Any]], list[Sequence[Any]]]]:
    """Each documents row with its document's line rows and its entry's line rows.

    The three are in one order; a documents row holds its document's key first and its
    entry's key (``None``: no entry) at position 14, a line row its document's key first, an
    entry line row its entry's key first.
    """
    lines_iter, entry_iter = iter(line_rows), iter(entry_line_rows)
    line = next(lines_iter, None)
    entry_line = next(entry_iter, None)
    for row in doc_rows:
        doc_key, entry_key = row[0], row[14]
        doc_lines = []
        while line is not None and line[0] == doc_key:
            doc_lines.append(line)
            line = next(lines_iter, None)
        entry_lines = []
        if entry_key is not None:
            while entry_line is not None and entry_line[0] == entry_key:
                entry_lines.append(entry_line)
                entry_line = next(entry_iter, None)
        yield row, doc_lines, entry_lines


def documents_by_ids(conn: Connection, ids: Sequence[int]) -> list[Document]:
    """The documents with these database ids, in :data:`ORDER`."""
    found: list[Document] = []
    for start in range(0, len(ids), IN_CHUNK):
        chunk = list(ids[start : start + IN_CHUNK])
        found.extend(list_documents(conn, d.c.id.in_(chunk)))
    found.sort(key=lambda doc: (doc.date, doc.id))
    return found


def list_documents(
    conn: Connection,
    where: ColumnElement[bool] | None = None,
    posted: bool | None = None,
    limit: int | None = None,
) -> list[Document]:
    """Documents matching ``where`` in :data:`ORDER`, up to ``limit``, read into a list."""
    rows = conn.execute(documents_query(where, posted).limit(limit)).all()
    doc_ids = [r.id for r in rows]
    entry_ids = [r.entry_id for r in rows if r.entry_id is not None]
    lines: dict[int, list[Sequence[Any]]] = defaultdict(list)
    entry_lines: dict[int | None, list[Sequence[Any]]] = defaultdict(list)
    for start in range(0, len(doc_ids), IN_CHUNK):
        for line in conn.execute(
            select(*_LINE_COLUMNS)
            .where(dl.c.document_id.in_(doc_ids[start : start + IN_CHUNK]))
            .order_by(dl.c.document_id, dl.c.position)
        ):
            lines[line.document_id].append(line)
    for start in range(0, len(entry_ids), IN_CHUNK):
        for line in conn.execute(
            select(*_ENTRY_LINE_COLUMNS)
            .where(jl.c.entry_id.in_(entry_ids[start : start + IN_CHUNK]))
            .order_by(jl.c.entry_id, jl.c.position)
        ):
            entry_lines[line.entry_id].append(line)
    return [to_document(r, lines.get(r.id, ()), entry_lines.get(r.entry_id, ())) for r in rows]


class DocumentHeader(NamedTuple):
    """The values of a documents row after its database id, in :data:`_DOC_COLUMNS`'s order:
    what :func:`document_of` reads (a mapped AIS's rows are read into one by name)."""

    external_id: Any
    kind: Any
    number: Any
    date: Any
    currency: Any
    total_net: Any
    total_tax: Any
    total_gross: Any
    text: Any
    partner_id: Any
    partner_name: Any
    partner_vat: Any
    partner_country: Any
    entry_id: Any
    entry_date: Any
    entry_description: Any
    posted_by: Any
    posted_at: Any


def to_document(
    row: Sequence[Any], lines: Iterable[Sequence[Any]], entry_lines: Iterable[Sequence[Any]]
) -> Document:
    """A domain :class:`Document` from a documents row and its line rows (see the layouts)."""
    q = _QUANTS.get(minor_unit(row[5]), _QUANTS[2])
    return document_of(
        row[1:],
        tuple(
            [
                DocumentLine(r[1], D(r[2]).quantize(q), _rate(D(r[3])), D(r[4]).quantize(q))
                for r in lines
            ]
        ),
        tuple(
            [EntryLine(r[1], D(r[2]).quantize(q), D(r[3]).quantize(q), r[4]) for r in entry_lines]
        ),
        q=q,
    )


def document_of(
    header: Sequence[Any],
    lines: tuple[DocumentLine, ...],
    entry_lines: tuple[EntryLine, ...],
    *,
    q: Decimal | None = None,
    known_partners: dict[Any, Partner] | None = None,
    iso_text: bool = False,
) -> Document:
    """A domain :class:`Document` from a row's :class:`DocumentHeader` values and its lines,
    already read; with its entry (of ``entry_lines``) when the row has an entry id.

    ``q``: the totals are made Decimals of that quantum (``None``: taken as they are).
    ``known_partners``: one :class:`Partner` per partner id, kept there across calls
    (``None``: a new one per document). ``iso_text``: dates and times come as ISO text,
    times in UTC without their zone (SQLite's rows read through its driver).
    """
    (
        external_id,
        kind,
        number,
        date,
        currency,
        total_net,
        total_tax,
        total_gross,
        text,
        partner_id,
        partner_name,
        partner_vat,
        partner_country,
        entry_id,
        entry_date,
        entry_description,
        posted_by,
        posted_at,
    ) = header
    if iso_text:  # as SQLAlchemy stores them on SQLite (UTCDateTime: UTC without its zone)
        date = dt.date.fromisoformat(date)
        if entry_id is not None:
            entry_date = dt.date.fromisoformat(entry_date)
        if posted_at is not None:
            posted_at = dt.datetime.fromisoformat(posted_at).replace(tzinfo=dt.UTC)
    partner = None
    if partner_id is not None:
        partner = None if known_partners is None else known_partners.get(partner_id)
        if partner is None:
            partner = Partner(partner_id, partner_name, partner_vat, partner_country)
            if known_partners is not None:
                known_partners[partner_id] = partner
    entry = None
    if entry_id is not None:
        entry = JournalEntry(
            entry_date, entry_lines, entry_description, str(entry_id), posted_by, posted_at
        )
    if q is not None:
        total_net = D(total_net).quantize(q)
        total_tax = D(total_tax).quantize(q)
        total_gross = D(total_gross).quantize(q)
    return Document(
        external_id,
        kind,
        number,
        date,
        partner,
        currency,
        lines,
        total_net,
        total_tax,
        total_gross,
        text,
        entry,
    )


D = Decimal


def _rate(rate: Decimal) -> Decimal:
    # Stored with four decimals: "25.0000" is the rate 25, "5.5000" the rate 5.5.
    integral = rate.to_integral_value()
    return integral if rate == integral else rate.normalize()


def date_range(since: dt.date | None, until: dt.date | None) -> ColumnElement[bool] | None:
    """The condition ``since <= date < until`` on documents (either bound may be absent)."""
    parts = []
    if since is not None:
        parts.append(d.c.date >= since)
    if until is not None:
        parts.append(d.c.date < until)
    return and_(*parts) if parts else None
