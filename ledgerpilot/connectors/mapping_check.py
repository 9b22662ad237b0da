"""The check on connect of a mapped AIS: what the database or the mapping lacks.

In order, stopping where nothing further can be learnt: every table the mapping names
exists, every bare column name is a column of its table, every expression and condition
runs (each on its own, so that the report names the one that fails), and so do the write
section's tables, columns and expressions; then what the data says: an empty chart,
accounts without a type ledgerpilot knows, no posting history, nothing pending, amounts or
dates that cannot be read, entries on accounts outside the chart, documents with more
than one entry. Nothing is written.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, exc, func, inspect, literal_column, select
from sqlalchemy.sql import table as sql_table

from ledgerpilot.ledger import AccountType

from .base import CheckItem, CheckReport
from .errors import ConnectorError
from .mapping_format import BIND_PARAM, is_column_name
from .mapping_sql import bound, write_values

if TYPE_CHECKING:
    from .mapping import MappedAIS

SAMPLE = 500
"""Posted documents read in full by the check, to find values that cannot be read."""
SHOWN = 5
"""Examples named in one finding."""

# Values the write expressions are tried with (in a SELECT: nothing is written).
_SAMPLE_PARAMS: dict[str, Any] = {
    "document_key": 1,
    "document_id": "check",
    "date": dt.date(2000, 1, 1),
    "description": "check",
    "posting_key": "check",
    "posted_by": "check",
    "posted_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    "currency": "EUR",
    "total": Decimal("1.00"),
    "total_minor": 100,
    "entry_key": 1,
    "position": 1,
    "account": "check",
    "debit": Decimal("1.00"),
    "credit": Decimal("0.00"),
    "amount": Decimal("1.00"),
    "debit_minor": 100,
    "credit_minor": 0,
    "amount_minor": 100,
}


@dataclass(frozen=True)
class _Part:
    """One section of the mapping that reads or writes one table."""

    section: str
    """Where it is in the file: ``documents``, ``write.journal_line``."""
    concept: str
    """What it holds, in words: ``documents``, ``journal lines``."""
    table: str
    values: dict[str, str]
    """Mapping key (``columns.total_net``, ``key``) -> SQL value."""
    conditions: dict[str, str]
    """``where``, ``pending``, ``posted``, ``order_by`` -> SQL."""
    written: bool = False
    """True for a write section: its ``values`` keys are columns, its values expressions."""


def _parts(ais: MappedAIS) -> list[_Part]:
    m = ais.mapping
    found: list[_Part] = []

    def add(section: str, concept: str, spec: Any, extra: dict[str, str | None]) -> None:
        values = {f"columns.{k}": v for k, v in spec.columns.model_dump().items() if v}
        values.update({k: v for k, v in extra.items() if v})
        conditions = {
            name: getattr(spec, name)
            for name in ("where", "pending", "posted", "order_by")
            if getattr(spec, name, None)
        }
        found.append(_Part(section, concept, spec.table, values, conditions))

    add("accounts", "accounts", m.accounts, {})
    if m.partners is not None:
        add("partners", "partners", m.partners, {"key": m.partners.key})
    add("documents", "documents", m.documents, {"key": m.documents.key})
    if m.document_lines is not None:
        add("document_lines", "document lines", m.document_lines, {})
    add("journal_entries", "journal entries", m.journal_entries, {"key": m.journal_entries.key})
    add("journal_lines", "journal lines", m.journal_lines, {})
    if m.write is not None:
        w = m.write
        entry_table = w.journal_entry.table or m.journal_entries.table
        returning = w.journal_entry.returning or m.journal_entries.key
        found.append(
            _Part(
                "write.journal_entry",
                "posted entries",
                entry_table,
                {**w.journal_entry.values, "(returning)": returning},
                {},
                written=True,
            )
        )
        found.append(
            _Part(
                "write.journal_line",
                "posted lines",
                w.journal_line.table or m.journal_lines.table,
                dict(w.journal_line.values),
                {},
                written=True,
            )
        )
        if w.document is not None:
            found.append(
                _Part(
                    "write.document",
                    "documents",
                    m.documents.table,
                    dict(w.document.values),
                    {},
                    written=True,
                )
            )
    return found


def missing_tables(ais: MappedAIS) -> list[str]:
    """The tables the mapping names that the database lacks."""
    schema = ais.mapping.mapping.schema_name
    with ais.engine.connect() as conn:
        inspector = inspect(conn)
        names = dict.fromkeys(part.table for part in _parts(ais))
        return [name for name in names if not inspector.has_table(name, schema=schema)]


def check_mapped(ais: MappedAIS) -> CheckReport:
    """Everything :mod:`this module <.mapping_check>` checks, as a report."""
    items = list(_check(ais))
    return CheckReport(ais=ais.display_url, kind="mapping", items=tuple(items))


def _check(ais: MappedAIS) -> Iterator[CheckItem]:
    m = ais.mapping
    if m.mapping.name:
        yield CheckItem("info", "mapping", f"{m.mapping.name} ({m.source})")
    try:
        structural = list(_structure(ais))
    except exc.DBAPIError as error:
        yield CheckItem("error", "database", f"cannot be read: {_first_line(error)}")
        return
    yield from structural
    if any(item.severity == "error" for item in structural):
        return
    yield from _data(ais)


def _structure(ais: MappedAIS) -> Iterator[CheckItem]:
    schema = ais.mapping.mapping.schema_name
    with ais.engine.connect() as conn:
        inspector = inspect(conn)
        tables = {}
        for part in _parts(ais):
            if part.table not in tables:
                present = inspector.has_table(part.table, schema=schema)
                columns = (
                    [c["name"] for c in inspector.get_columns(part.table, schema=schema)]
                    if present
                    else []
                )
                tables[part.table] = (present, columns)
            present, columns = tables[part.table]
            if not present:
                yield CheckItem(
                    "error",
                    part.table,
                    f"table {part.table!r} ({part.concept}, [{part.section}]) is missing",
                )
                continue
            yield from _columns(ais, conn, part, columns)
    if ais.mapping.write is None:
        yield CheckItem(
            "warning",
            "write",
            "the mapping has no [write] section: ledgerpilot reads this AIS but cannot post "
            "approved entries to it",
        )
    else:
        yield from _posting_key_unique(ais)


def _has_column(name: str, columns: list[str], dialect: str) -> bool:
    if name in columns:
        return True
    return dialect == "sqlite" and name.lower() in {c.lower() for c in columns}


def _columns(
    ais: MappedAIS, conn: Connection, part: _Part, columns: list[str]
) -> Iterator[CheckItem]:
    dialect = conn.dialect.name
    table = sql_table(part.table, schema=ais.mapping.mapping.schema_name)
    for key, sql in part.values.items():
        where = f"{part.section}.{'values.' if part.written and key[0] != '(' else ''}{key}"
        if part.written:
            column = key if key != "(returning)" else sql
            if not _has_column(column, columns, dialect):
                yield CheckItem(
                    "error",
                    f"{part.table}.{column}",
                    f"column {part.table}.{column} ({where}) is missing",
                )
            elif key != "(returning)":
                yield from _probe_write(ais, part, where, sql)
            continue
        if is_column_name(sql):
            if not _has_column(sql, columns, dialect):
                yield CheckItem(
                    "error",
                    f"{part.table}.{sql}",
                    f"column {part.table}.{sql} ({part.concept}: {where}) is missing",
                )
            continue
        failure = _try(ais, select(literal_column(f"({sql})")).select_from(table).limit(1))
        if failure:
            yield CheckItem(
                "error", where, f"the expression {sql!r} ({part.concept}) fails: {failure}"
            )
    for name, sql in part.conditions.items():
        where = f"{part.section}.{name}"
        if name == "order_by" and is_column_name(sql) and not _has_column(sql, columns, dialect):
            yield CheckItem(
                "error", f"{part.table}.{sql}", f"column {part.table}.{sql} ({where}) is missing"
            )
            continue
        query: Any = (
            select(literal_column(f"({sql})")).select_from(table).limit(1)
            if name == "order_by"
            else select(literal_column("1"))
            .select_from(table)
            .where(literal_column(f"({sql})"))
            .limit(1)
        )
        failure = _try(ais, query)
        if failure:
            yield CheckItem(
                "error", where, f"the condition {sql!r} ({part.concept}) fails: {failure}"
            )


def _probe_write(ais: MappedAIS, part: _Part, where: str, sql: str) -> Iterator[CheckItem]:
    names = set(BIND_PARAM.findall(sql))
    fragment = write_values({"value": sql})["value"]
    query: Any = select(fragment)
    if part.section == "write.document":
        table = sql_table(part.table, schema=ais.mapping.mapping.schema_name)
        query = query.select_from(table).limit(1)
    params = bound({n: _SAMPLE_PARAMS[n] for n in names if n in _SAMPLE_PARAMS})
    failure = _try(ais, query, params)
    if failure:
        yield CheckItem("error", where, f"the expression {sql!r} fails: {failure}")


def _posting_key_unique(ais: MappedAIS) -> Iterator[CheckItem]:
    m = ais.mapping
    column = m.journal_entries.columns.posting_key
    if column is None or not is_column_name(column):
        return
    table = m.journal_entries.table
    with ais.engine.connect() as conn:
        inspector = inspect(conn)
        schema = m.mapping.schema_name
        unique: list[list[str | None]] = [
            list(c["column_names"]) for c in inspector.get_unique_constraints(table, schema)
        ]
        unique += [
            list(i["column_names"]) for i in inspector.get_indexes(table, schema) if i["unique"]
        ]
    if [column] not in unique:
        yield CheckItem(
            "info",
            f"{table}.{column}",
            f"no unique constraint on {table}.{column}: ledgerpilot serialises its own posts "
            "and finds a repeated key, but other programs writing keys there are not checked",
        )


def _data(ais: MappedAIS) -> Iterator[CheckItem]:
    try:
        chart = ais.chart()
        history = ais.count_history()
        pending = ais.count_pending()
    except ConnectorError as error:
        yield CheckItem("error", "reading", str(error))
        return
    m = ais.mapping
    if not len(chart):
        yield CheckItem(
            "error", "accounts", f"the chart is empty: no row of {m.accounts.table!r} is an account"
        )
    else:
        yield CheckItem("info", "accounts", f"{len(chart)} accounts")
    # A summary (view) account takes no postings: without a type it does no harm.
    untyped = [a for a in chart.accounts if a.postable and not isinstance(a.type, AccountType)]
    views = sum(1 for a in chart.accounts if not a.postable and not isinstance(a.type, AccountType))
    if views:
        yield CheckItem("info", "accounts", f"{views} summary account(s) without a type")
    if untyped:
        shown = ", ".join(f"{a.code} (type {a.type!r})" for a in untyped[:SHOWN])
        yield CheckItem(
            "warning",
            "accounts",
            f"{len(untyped)} postable account(s) without a type ledgerpilot knows: {shown}"
            f"{' ...' if len(untyped) > SHOWN else ''}; map their values in "
            "[accounts.type_values]; validation cannot tell their side or role",
        )
    if history:
        yield CheckItem("info", "history", f"{history} posted documents with their entries")
    else:
        yield CheckItem(
            "warning",
            "history",
            "no posting history: no document has a journal entry (check [journal_entries] "
            "and documents.posted); the memory backend, eval, audit and dataset build have "
            "nothing to learn from",
        )
    if pending:
        yield CheckItem("info", "pending", f"{pending} pending documents")
    else:
        condition = m.documents.pending
        yield CheckItem(
            "warning",
            "pending",
            f"the pending condition ({condition}) matches no document without an entry"
            if condition
            else "no document is pending (every document has a journal entry)",
        )
    yield from _sample(ais, chart)
    yield from _several_entries(ais)


def _sample(ais: MappedAIS, chart: Any) -> Iterator[CheckItem]:
    outside: dict[str, int] = {}
    unbalanced: list[str] = []
    try:
        for doc in itertools.islice(ais.history(), SAMPLE):
            assert doc.entry is not None
            if not doc.entry.is_balanced():
                unbalanced.append(doc.id)
            for line in doc.entry.lines:
                if line.account not in chart:
                    outside[line.account] = outside.get(line.account, 0) + 1
    except ConnectorError as error:
        yield CheckItem("error", "history", f"cannot be read: {error}")
        return
    if outside:
        shown = ", ".join(sorted(outside)[:SHOWN])
        yield CheckItem(
            "warning",
            "journal lines",
            f"entries of the first {SAMPLE} posted documents use {len(outside)} account(s) "
            f"outside the chart: {shown}",
        )
    if unbalanced:
        yield CheckItem(
            "warning",
            "journal entries",
            f"{len(unbalanced)} of the first {SAMPLE} posted entries do not balance "
            f"(e.g. document {unbalanced[0]!r}): check the debit/credit or amount columns",
        )


def _several_entries(ais: MappedAIS) -> Iterator[CheckItem]:
    e = ais.tables.entries_sub()
    query = (
        select(e.c.document)
        .where(e.c.document.is_not(None))
        .group_by(e.c.document)
        .having(func.count() > 1)
        .limit(SHOWN)
    )
    with ais.engine.connect() as conn:
        several = [row[0] for row in conn.execute(query)]
    if several:
        yield CheckItem(
            "warning",
            "journal entries",
            "documents with more than one journal entry (only the first is read): keys "
            + ", ".join(str(k) for k in several),
        )


def _try(ais: MappedAIS, query: Any, params: dict[str, Any] | None = None) -> str | None:
    """None if ``query`` runs, else the database's message (in a transaction of its own)."""
    try:
        with ais.engine.connect() as conn:
            conn.execute(query, params or {}).fetchall()
    except exc.DBAPIError as error:
        return _first_line(error)
    except exc.StatementError as error:
        return str(error).splitlines()[0][:300]
    return None


def _first_line(error: exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0][:300] if str(error.orig).strip() else "?"
