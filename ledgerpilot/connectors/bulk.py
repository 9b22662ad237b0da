"""Rows for the bulk path: primary keys, ready-made tuples, and writing them fast.

Primary keys are assigned here, not returned by the database: on SQLite counting on from
``max(id)`` read once (each batch checks that no other writer took them meanwhile), on
PostgreSQL drawn from the tables' own sequences. Rows are tuples of values the driver
takes as they are (money as canonical text on SQLite), written with one ``executemany``
per table and batch on SQLite and with ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, text, update

from ledgerpilot.ledger import ChartOfAccounts, Document

from .errors import ConnectorError
from .schema import accounts, document_lines, documents, journal_entries, journal_lines, partners

TABLES = (partners, documents, document_lines, journal_entries, journal_lines)
"""The tables the bulk path writes, in the order their foreign keys need."""


@dataclass
class Rows:
    """One batch of rows, in :data:`TABLES` order, plus partner updates."""

    tables: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {t.name: [] for t in TABLES}
    )
    partner_updates: list[dict[str, Any]] = field(default_factory=list)

    def for_helper(self) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
        """The tables as :mod:`.sqlite_writer` takes them (plain strings, no SQLAlchemy)."""
        return [
            (str(t.name), [str(c.name) for c in t.columns], self.tables[t.name]) for t in TABLES
        ]

    def partner_tuples(self) -> list[tuple[Any, ...]]:
        """Partner updates as ``(name, vat, country, id)``."""
        return [(u["n"], u["v"], u["c"], u["pk"]) for u in self.partner_updates]


class Ids:
    """Hands out primary keys for the bulk path."""

    def __init__(self, conn: Connection) -> None:
        self.postgres = conn.dialect.name == "postgresql"
        self.next: dict[str, int] = {}
        if not self.postgres:
            for table in TABLES:
                top = conn.execute(select(func.max(table.c.id))).scalar() or 0
                self.next[table.name] = top + 1

    def take(self, conn: Connection, table: Table, count: int) -> Sequence[int]:
        """``count`` fresh primary keys of ``table``."""
        if count == 0:
            return ()
        if self.postgres:
            # Sequences are not transactional: these ids are ours whatever happens. One
            # array rather than a row per id.
            taken: list[int] = conn.execute(
                text(
                    "SELECT array_agg(nextval(pg_get_serial_sequence(:t, 'id'))) "
                    "FROM generate_series(1, :n)"
                ),
                {"t": table.name, "n": count},
            ).scalar_one()
            return taken
        first = self.next[table.name]
        self.next[table.name] = first + count
        return range(first, first + count)


def _money4(value: Decimal, places: Decimal = Decimal("0.0001")) -> str:
    # schema.money_text, faster: the caller's context rounds half up, like NUMERIC.
    return str(value.quantize(places)) if value else "0.0000"


def _same(value: Any) -> Any:
    return value


def _sqlite_stamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")  # SQLAlchemy's SQLite DATETIME format


def build_rows(
    conn: Connection,
    ids: Ids,
    new: Sequence[Document],
    attach: Sequence[tuple[int, Document]],
    partner_ids: dict[str, int],
    imported_at: dt.datetime,
    stored: dict[str, tuple[int, bool]],
) -> Rows:
    """Rows for new documents (with lines and entries) and for entries to attach.

    Records each new document's database id in ``stored``.
    """
    sqlite = not ids.postgres
    money: Callable[[Decimal], Any] = _money4 if sqlite else _same
    day: Callable[[dt.date], Any] = dt.date.isoformat if sqlite else _same
    stamp: Callable[[dt.datetime | None], Any] = _sqlite_stamp if sqlite else _same
    now = stamp(imported_at)
    rows = Rows()
    doc_rows, line_rows = rows.tables["documents"], rows.tables["document_lines"]
    entry_rows, jl_rows = rows.tables["journal_entries"], rows.tables["journal_lines"]
    doc_ids = ids.take(conn, documents, len(new))
    line_id = ids.take(conn, document_lines, sum(len(doc.lines) for doc in new))
    with_entry = list(attach)
    n = 0
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        for db_id, doc in zip(doc_ids, new, strict=True):
            partner = doc.partner
            doc_rows.append(
                (
                    db_id,
                    doc.id,
                    doc.kind,
                    doc.number,
                    day(doc.date),
                    None if partner is None else partner_ids[partner.id],
                    doc.currency,
                    money(doc.total_net),
                    money(doc.total_tax),
                    money(doc.total_gross),
                    doc.text,
                    now,
                )
            )
            for position, ln in enumerate(doc.lines, start=1):
                line_rows.append(
                    (
                        line_id[n],
                        db_id,
                        position,
                        ln.description,
                        money(ln.net),
                        money(ln.tax_rate),
                        money(ln.tax),
                    )
                )
                n += 1
            if doc.entry is not None:
                with_entry.append((db_id, doc))
            stored[doc.id] = (db_id, doc.entry is not None)
        entry_ids = ids.take(conn, journal_entries, len(with_entry))
        jl_id = ids.take(
            conn, journal_lines, sum(len(doc.entry.lines) for _, doc in with_entry if doc.entry)
        )
        n = 0
        for entry_id, (doc_id, doc) in zip(entry_ids, with_entry, strict=True):
            entry = doc.entry
            assert entry is not None
            entry_rows.append(
                (
                    entry_id,
                    doc_id,
                    day(entry.date),
                    entry.description,
                    None,
                    entry.posted_by,
                    stamp(entry.posted_at),
                )
            )
            for position, jln in enumerate(entry.lines, start=1):
                jl_rows.append(
                    (
                        jl_id[n],
                        entry_id,
                        position,
                        jln.account,
                        money(jln.debit),
                        money(jln.credit),
                        jln.description,
                    )
                )
                n += 1
    return rows


def write_rows(conn: Connection, rows: Rows) -> None:
    """Write a batch on ``conn``, inside its transaction."""
    if conn.dialect.name != "postgresql":
        _check_ids_free(conn, rows)
    for table in TABLES:
        _insert(conn, table, rows.tables[table.name])
    if rows.partner_updates:
        conn.execute(
            update(partners)
            .where(partners.c.id == bindparam("pk"))
            .values(name=bindparam("n"), vat=bindparam("v"), country=bindparam("c")),
            rows.partner_updates,
        )


def _check_ids_free(conn: Connection, rows: Rows) -> None:
    for table in TABLES:
        table_rows = rows.tables[table.name]
        if table_rows:
            top = conn.execute(select(func.max(table.c.id))).scalar() or 0
            if top >= table_rows[0][0]:
                raise ConnectorError(
                    f"another program wrote to {table.name} during the load; load again "
                    "(documents already written will be skipped)"
                )


def _insert(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    names = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        from psycopg import sql

        raw = conn.connection.driver_connection
        assert raw is not None
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", rows)


_ACCOUNT_FIELDS = ("name", "account_type", "postable", "role", "reconcile", "local_name")


def write_chart(conn: Connection, chart: ChartOfAccounts) -> int:
    """Insert the chart's new accounts and update changed ones; how many were written."""
    stored = {r.code: r for r in conn.execute(select(accounts))}
    new, changed = [], []
    for a in chart:
        values = {
            "code": a.code,
            "name": a.name,
            "account_type": str(a.type),
            "postable": a.postable,
            "role": a.role,
            "reconcile": a.reconcile,
            "local_name": a.local_name,
        }
        row = stored.get(a.code)
        if row is None:
            new.append(values)
        elif any(getattr(row, k) != v for k, v in values.items()):
            changed.append({"pk": row.id, **{f"v_{k}": values[k] for k in _ACCOUNT_FIELDS}})
    if new:
        conn.execute(accounts.insert(), new)
    if changed:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == bindparam("pk"))
            .values({k: bindparam(f"v_{k}") for k in _ACCOUNT_FIELDS}),
            changed,
        )
    return len(new) + len(changed)
