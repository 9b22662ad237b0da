"""The SQL of a declarative mapping: each concept as one normalised subquery, and rows to domain.

Every concept of :mod:`.mapping_format` becomes a ``SELECT`` over its one table whose
columns carry our names (``d.external_id``, ``d.total_net``, ``jl.account``, ...), so that
the user's expressions see only their own table, and the joins between concepts are
written once, here, on those names. Identifiers are quoted by SQLAlchemy; the user's
expressions go in as SQL text (trusted configuration); every value (a date bound, a
document id) is a bound parameter.

Amounts are read as text (``CAST(... AS TEXT)``) and turned into ``Decimal`` in Python,
so that SQLite's floats for computed expressions and PostgreSQL's ``NUMERIC`` arrive alike
and exactly; ``minor_units`` amounts are integers divided by the currency's minor unit,
in Decimal.

Documents are streamed as :mod:`.reading` streams them: three queries (documents, their
lines, their entries' lines) in one order, merged in Python.

On the write side, :func:`write_values` turns the ``[write]`` expressions into SQL
fragments whose ``:name`` parameters are renamed (``:lp_name``: SQLAlchemy reserves a
column's own name for its value in an INSERT) and typed, so that amounts bind exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Date,
    FromClause,
    Integer,
    Select,
    Subquery,
    Text,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import table as sql_table
from sqlalchemy.sql.expression import TableClause, TextClause

from ledgerpilot.ledger import (
    Account,
    AccountType,
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    infer_role,
)
from ledgerpilot.ledger.money import minor_unit
from ledgerpilot.sqlplumbing import UTCDateTime, to_utc

from .mapping_format import BIND_PARAM, AISMapping, MappingError, is_column_name
from .reading import DocumentHeader, document_of, merge_rows
from .schema import Money

D = Decimal
_QUANTS = {n: Decimal(1).scaleb(-n) for n in range(0, 5)}
_TRUE = frozenset({"1", "t", "true", "y", "yes", "on"})

Filter = Callable[[Subquery], list[ColumnElement[bool]]]
"""Extra conditions on the documents subquery (``d``) of a listing."""

# Row layout of the documents query, read by position.
_DOC_FIELDS = (
    "key",
    "external_id",
    "kind",
    "number",
    "date",
    "currency",
    "total_net",
    "total_tax",
    "total_gross",
    "text",
)
_PARTNER_FIELDS = ("external_id", "name", "vat", "country")
_ENTRY_FIELDS = ("key", "date", "description", "posted_by", "posted_at", "posting_key")


class MappedTables:
    """A mapping's concepts as SQLAlchemy selectables (see the module doc)."""

    def __init__(self, mapping: AISMapping) -> None:
        self.mapping = mapping
        schema = mapping.mapping.schema_name
        m = mapping
        self.accounts = self._table(
            m.accounts.table,
            schema,
            {"order_by": m.accounts.order_by, **m.accounts.columns.model_dump()},
        )
        self.partners = (
            None
            if m.partners is None
            else self._table(
                m.partners.table, schema, {"key": m.partners.key, **m.partners.columns.model_dump()}
            )
        )
        self.documents = self._table(
            m.documents.table, schema, {"key": m.documents.key, **m.documents.columns.model_dump()}
        )
        self.document_lines = (
            None
            if m.document_lines is None
            else self._table(m.document_lines.table, schema, m.document_lines.columns.model_dump())
        )
        self.entries = self._table(
            m.journal_entries.table,
            schema,
            {"key": m.journal_entries.key, **m.journal_entries.columns.model_dump()},
        )
        self.entry_lines = self._table(
            m.journal_lines.table, schema, m.journal_lines.columns.model_dump()
        )

    @staticmethod
    def _table(name: str, schema: str | None, values: dict[str, str | None]) -> TableClause:
        names = sorted({v for v in values.values() if v is not None and is_column_name(v)})
        return sql_table(name, *(sql_column(n) for n in names), schema=schema)

    # ------------------------------------------------------------ values

    @staticmethod
    def value(table: TableClause, sql: str | None) -> ColumnElement[Any]:
        """A mapping value on ``table``: its quoted column, or the expression; NULL if unset."""
        if sql is None:
            return null()
        if is_column_name(sql):
            return table.c[sql]
        return literal_column(f"({sql})")

    @classmethod
    def money(cls, table: TableClause, sql: str | None) -> ColumnElement[Any]:
        """An amount, as text (exact on both databases)."""
        if sql is None:
            return null()
        return cast(cls.value(table, sql), Text)

    @staticmethod
    def condition(sql: str | None) -> list[ColumnElement[bool]]:
        """A mapping's condition (``where``, ``pending``, ``posted``), as a list of 0 or 1."""
        return [] if sql is None else [literal_column(f"({sql})")]

    # ------------------------------------------------------------ the concepts

    def accounts_query(self) -> Select[Any]:
        """The chart's rows: code, name, type, postable, role, reconcile, local_name."""
        a, spec = self.accounts, self.mapping.accounts
        c = spec.columns
        v = self.value
        order = v(a, spec.order_by) if spec.order_by else v(a, c.code)
        return (
            select(
                v(a, c.code),
                v(a, c.name),
                v(a, c.type),
                v(a, c.postable),
                v(a, c.role),
                v(a, c.reconcile),
                v(a, c.local_name),
            )
            .select_from(a)
            .where(*self.condition(spec.where))
            .order_by(order)
        )

    def partners_sub(self) -> Subquery | None:
        """Partners: key, external_id, name, vat, country."""
        if self.partners is None or self.mapping.partners is None:
            return None
        p, spec = self.partners, self.mapping.partners
        v = self.value
        return (
            select(
                v(p, spec.key).label("key"),
                v(p, spec.columns.id).label("external_id"),
                v(p, spec.columns.name).label("name"),
                v(p, spec.columns.vat).label("vat"),
                v(p, spec.columns.country).label("country"),
            )
            .select_from(p)
            .where(*self.condition(spec.where))
            .subquery("p")
        )

    def documents_sub(self, posted: bool | None) -> Subquery:
        """Documents, with the ``pending`` (``posted=False``) or ``posted`` condition."""
        t, spec = self.documents, self.mapping.documents
        c = spec.columns
        v, money = self.value, self.money
        conditions = self.condition(spec.where)
        if posted is False:
            conditions += self.condition(spec.pending)
        elif posted:
            conditions += self.condition(spec.posted)
        return (
            select(
                v(t, spec.key).label("key"),
                v(t, c.id).label("external_id"),
                v(t, c.kind).label("kind"),
                v(t, c.number).label("number"),
                v(t, c.date).label("date"),
                v(t, c.partner).label("partner"),
                v(t, c.currency).label("currency"),
                money(t, c.total_net).label("total_net"),
                money(t, c.total_tax).label("total_tax"),
                money(t, c.total_gross).label("total_gross"),
                v(t, c.text).label("text"),
            )
            .select_from(t)
            .where(*conditions)
            .subquery("d")
        )

    def entries_sub(self) -> Subquery:
        """Journal entries: key, document, date, description, posting_key, posted_by, posted_at."""
        t, spec = self.entries, self.mapping.journal_entries
        c = spec.columns
        v = self.value
        return (
            select(
                v(t, spec.key).label("key"),
                v(t, c.document).label("document"),
                v(t, c.date).label("date"),
                v(t, c.description).label("description"),
                v(t, c.posting_key).label("posting_key"),
                v(t, c.posted_by).label("posted_by"),
                v(t, c.posted_at).label("posted_at"),
            )
            .select_from(t)
            .where(*self.condition(spec.where))
            .subquery("e")
        )

    def document_lines_sub(self) -> Subquery | None:
        """Document lines: document, position, description, net, tax_rate, tax."""
        if self.document_lines is None or self.mapping.document_lines is None:
            return None
        t, spec = self.document_lines, self.mapping.document_lines
        c = spec.columns
        v, money = self.value, self.money
        return (
            select(
                v(t, c.document).label("document"),
                v(t, c.position).label("position"),
                v(t, c.description).label("description"),
                money(t, c.net).label("net"),
                money(t, c.tax_rate).label("tax_rate"),
                money(t, c.tax).label("tax"),
            )
            .select_from(t)
            .where(*self.condition(spec.where))
            .subquery("dl")
        )

    def entry_lines_sub(self) -> Subquery:
        """Journal lines: entry, position, account, debit, credit, description.

        With a signed ``amount``, ``debit`` holds it and ``credit`` is NULL (split in Python).
        """
        t, spec = self.entry_lines, self.mapping.journal_lines
        c = spec.columns
        v, money = self.value, self.money
        debit = money(t, c.amount) if c.amount is not None else money(t, c.debit)
        return (
            select(
                v(t, c.entry).label("entry"),
                v(t, c.position).label("position"),
                v(t, c.account).label("account"),
                debit.label("debit"),
                money(t, c.credit).label("credit"),
                v(t, c.description).label("description"),
            )
            .select_from(t)
            .where(*self.condition(spec.where))
            .subquery("jl")
        )

    # ------------------------------------------------------------ listings

    def _entry_exists(self, d: Subquery, posted: bool | None) -> list[ColumnElement[bool]]:
        if posted is None:
            return []
        e = self.entries_sub()
        found = exists().where(e.c.document == d.c.key)
        return [found if posted else ~found]

    def documents_query(
        self, posted: bool | None, where: Filter | None = None, limit: int | None = None
    ) -> Select[Any]:
        """Documents with partner and entry columns, by date, id, key, entry key."""
        d, e = self.documents_sub(posted), self.entries_sub()
        p = self.partners_sub()
        partner_columns: list[ColumnElement[Any]] = (
            [p.c[name] for name in _PARTNER_FIELDS] if p is not None else [null()] * 4
        )
        joined: FromClause = d
        if p is not None:
            joined = joined.outerjoin(p, d.c.partner == p.c.key)
        joined = (
            joined.join(e, e.c.document == d.c.key)
            if posted
            else joined.outerjoin(e, e.c.document == d.c.key)
        )
        return (
            select(
                *(d.c[name] for name in _DOC_FIELDS),
                *partner_columns,
                *(e.c[name] for name in _ENTRY_FIELDS),
            )
            .select_from(joined)
            .where(*([] if where is None else where(d)))
            .where(*([e.c.key.is_(None)] if posted is False else []))
            .order_by(d.c.date, d.c.external_id, d.c.key, e.c.key)
            .limit(limit)
        )

    def lines_query(self, posted: bool | None, where: Filter | None = None) -> Select[Any] | None:
        """The lines of the documents of :meth:`documents_query`, in its order."""
        dl = self.document_lines_sub()
        if dl is None:
            return None
        d = self.documents_sub(posted)
        return (
            select(d.c.key, dl.c.description, dl.c.net, dl.c.tax_rate, dl.c.tax)
            .select_from(dl.join(d, dl.c.document == d.c.key))
            .where(*([] if where is None else where(d)), *self._entry_exists(d, posted))
            .order_by(d.c.date, d.c.external_id, d.c.key, dl.c.position)
        )

    def entry_lines_query(self, posted: bool | None, where: Filter | None = None) -> Select[Any]:
        """The entry lines of the documents of :meth:`documents_query`, in its order."""
        jl, d, e = self.entry_lines_sub(), self.documents_sub(posted), self.entries_sub()
        joined = jl.join(e, jl.c.entry == e.c.key).join(d, e.c.document == d.c.key)
        return (
            select(e.c.key, jl.c.account, jl.c.debit, jl.c.credit, jl.c.description)
            .select_from(joined)
            .where(*([] if where is None else where(d)))
            .order_by(d.c.date, d.c.external_id, d.c.key, e.c.key, jl.c.position)
        )

    def count_query(self, posted: bool | None, where: Filter | None = None) -> Select[Any]:
        """How many documents :meth:`stream` would yield."""
        d = self.documents_sub(posted)
        return (
            select(func.count())
            .select_from(d)
            .where(*([] if where is None else where(d)), *self._entry_exists(d, posted))
        )

    # ------------------------------------------------------------ reading

    def read_chart(self, conn: Connection) -> ChartOfAccounts:
        """The chart of accounts."""
        type_values = self.mapping.accounts.type_values
        has_role = self.mapping.accounts.columns.role is not None
        accounts = []
        for code, name, kind, postable, role, reconcile, local_name in conn.execute(
            self.accounts_query()
        ):
            code, name = _text(code), _text(name)
            type_text = _text(kind)
            account_type = _account_type(type_values.get(type_text, type_text))
            local = _optional_text(local_name)
            accounts.append(
                Account(
                    code=code,
                    name=name,
                    type=account_type,
                    postable=_flag(postable, True),
                    role=_optional_text(role)
                    if has_role
                    else infer_role(code, name, str(account_type), local),
                    local_name=local,
                    reconcile=_flag(reconcile, False),
                )
            )
        return ChartOfAccounts(tuple(accounts))

    def stream(
        self,
        conn: Connection,
        posted: bool | None,
        where: Filter | None = None,
        limit: int | None = None,
    ) -> Iterator[Document]:
        """Documents, merged from three queries; ``conn`` must hold one snapshot.

        The three results are closed when the stream ends or is abandoned (a ``limit``
        leaves the line queries unfinished; a server-side cursor must not outlive them).
        """
        results: list[CursorResult[Any]] = []
        try:
            lines_query = self.lines_query(posted, where)
            if lines_query is not None:
                results.append(conn.execute(lines_query))
            line_rows: Iterable[Sequence[Any]] = results[-1] if results else ()
            entry_rows: Iterable[Sequence[Any]] = ()
            if posted is not False:
                results.append(conn.execute(self.entry_lines_query(posted, where)))
                entry_rows = results[-1]
            doc_rows = conn.execute(self.documents_query(posted, where, limit))
            results.append(doc_rows)
            previous_key: Any = _NOTHING
            for row, doc_lines, entry_lines in merge_rows(doc_rows, line_rows, entry_rows):
                if row[0] == previous_key:
                    continue  # a second entry of one document: the first one is its entry
                previous_key = row[0]
                yield self.to_document(row, doc_lines, entry_lines)
        finally:
            for result in results:
                result.close()

    def to_document(
        self,
        row: Sequence[Any],
        lines: Sequence[Sequence[Any]],
        entry_lines: Sequence[Sequence[Any]],
    ) -> Document:
        """A domain :class:`Document` from a row of :meth:`documents_query` and its lines."""
        # After its key, the row holds a DocumentHeader's values, then the posting key.
        h = DocumentHeader._make(row[1:19])
        doc_id = _text(h.external_id)
        currency = _text(h.currency).strip().upper()
        unit = minor_unit(currency)
        q = _QUANTS.get(unit, _QUANTS[2])
        m = self.mapping
        doc_scale = unit if m.documents.minor_units else 0
        line_scale = unit if m.document_lines is not None and m.document_lines.minor_units else 0
        entry_scale = unit if m.journal_lines.minor_units else 0
        where = f"document {doc_id[:80]!r}"

        def amount(value: Any, scale: int, what: str) -> Decimal:
            return _amount(value, scale, f"{where}: {what}").quantize(q)

        typed: dict[str, Any] = {}
        if h.partner_id is not None:
            pid = _text(h.partner_id)
            typed.update(
                partner_id=pid,
                partner_name=_optional_text(h.partner_name) or pid,
                partner_vat=_optional_text(h.partner_vat),
                partner_country=_optional_text(h.partner_country),
            )
        entry_rows = []
        if h.entry_id is not None:
            signed = m.journal_lines.columns.amount is not None
            for _, account, debit, credit, description in entry_lines:
                if signed:
                    value = amount(debit, entry_scale, "journal line amount")
                    debit_value, credit_value = (value, D(0)) if value >= 0 else (D(0), -value)
                    debit_value, credit_value = debit_value.quantize(q), credit_value.quantize(q)
                else:
                    debit_value = amount(debit, entry_scale, "journal line debit")
                    credit_value = amount(credit, entry_scale, "journal line credit")
                entry_rows.append(
                    EntryLine(_text(account), debit_value, credit_value, _text(description))
                )
            typed.update(
                entry_id=_text(h.entry_id),
                entry_date=_date(h.entry_date, f"{where}: entry date"),
                entry_description=_text(h.entry_description),
                posted_by=_optional_text(h.posted_by),
                posted_at=_datetime(h.posted_at, f"{where}: posted_at"),
            )
        kind_text = _text(h.kind)
        date = _date(h.date, f"{where}: date")
        doc_lines = tuple(
            [
                DocumentLine(
                    _text(r[1]),
                    amount(r[2], line_scale, "line net"),
                    _rate(_amount(r[3], 0, f"{where}: tax rate")),
                    amount(r[4], line_scale, "line tax"),
                )
                for r in lines
            ]
        )
        header = h._replace(
            external_id=doc_id,
            kind=m.documents.kind_values.get(kind_text, kind_text),
            number=_text(h.number),
            date=date,
            currency=currency,
            total_net=amount(h.total_net, doc_scale, "total_net"),
            total_tax=amount(h.total_tax, doc_scale, "total_tax"),
            total_gross=amount(h.total_gross, doc_scale, "total_gross"),
            text=_text(h.text),
            **typed,
        )
        return document_of(header, doc_lines, tuple(entry_rows))


class _Nothing:
    pass


_NOTHING = _Nothing()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_text(value: Any) -> str | None:
    text = _text(value)
    return text or None


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def _account_type(value: str) -> AccountType | str:
    try:
        return AccountType(value)
    except ValueError:
        return value


def _amount(value: Any, scale: int, what: str) -> Decimal:
    """An amount read as text (or a number) into an exact Decimal, ``scale`` decimals shifted."""
    if value is None or value == "":
        return D(0)
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = D(value)
    except (InvalidOperation, TypeError, ValueError):
        raise MappingError(f"{what}: {str(value)[:40]!r} is not a number") from None
    if not amount.is_finite():
        raise MappingError(f"{what}: {value!r} is not a number")
    return amount.scaleb(-scale) if scale else amount


def _rate(rate: Decimal) -> Decimal:
    integral = rate.to_integral_value()
    return integral if rate == integral else rate.normalize()


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MappingError(f"{what}: {str(value)[:40]!r} is not a date") from None


def _datetime(value: Any, what: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return to_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    try:
        return to_utc(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        raise MappingError(f"{what}: {str(value)[:40]!r} is not a date and time") from None


def date_param(value: dt.date, dialect: str) -> Any:
    """A date as a bound value: ISO text on SQLite (as dates are stored there), else a date."""
    return value.isoformat() if dialect == "sqlite" else value


# The SQL types of the write parameters: exact money (NUMERIC, or text on SQLite), dates
# and times as each database keeps them; the rest as the driver passes them.
_PARAM_TYPES: dict[str, Any] = {
    "date": Date(),
    "posted_at": UTCDateTime(),
    "total": Money(),
    "debit": Money(),
    "credit": Money(),
    "amount": Money(),
    "total_minor": Integer(),
    "debit_minor": Integer(),
    "credit_minor": Integer(),
    "amount_minor": Integer(),
    "position": Integer(),
}
_PREFIX = "lp_"  # bound names of ours, never a column name of the user's tables


def write_values(values: dict[str, str]) -> dict[str, TextClause]:
    """The user's value expressions, their ``:name`` parameters renamed to ours and typed."""
    found = {}
    for column, sql in values.items():
        renamed = BIND_PARAM.sub(lambda m: f":{_PREFIX}{m.group(1)}", sql)
        fragment = text(renamed)
        names = [n.removeprefix(_PREFIX) for n in BIND_PARAM.findall(renamed)]
        found[column] = fragment.bindparams(
            *(bindparam(f"{_PREFIX}{n}", type_=_PARAM_TYPES.get(n)) for n in dict.fromkeys(names))
        )
    return found


def bound(params: dict[str, Any]) -> dict[str, Any]:
    """Values for the parameters of :func:`write_values`, under their renamed names."""
    return {f"{_PREFIX}{name}": value for name, value in params.items()}
