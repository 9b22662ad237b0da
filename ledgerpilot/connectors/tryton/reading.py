"""Reading a Tryton database with SQLAlchemy Core: the chart, invoices as documents, moves.

A Tryton invoice (``account.invoice``) is a :class:`~ledgerpilot.ledger.Document` with the
id ``invoice-<id>``: type ``in`` is a supplier invoice, ``out`` a sales invoice, and one
whose lines add up below zero (Tryton's credit notes are invoices with negative
quantities) the matching credit note, read with positive amounts. Its entry is its move
(``account_invoice.move``, whose ``origin`` is ``account.invoice,<id>``) once that move is
posted, or once ledgerpilot wrote it (a draft under the ``post=draft`` setting). A posted
move that is no invoice's move (a manual entry, a bank statement's, a cancellation) is a
document of kind ``other`` with the id ``move-<id>`` and no lines.

Pending: invoices in the states ``draft`` and ``validated`` without such an entry (a
validated supplier invoice has a draft move that Tryton itself proposed; it is pending).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, not_, or_, select

from ledgerpilot.ledger import (
    Account,
    AccountType,
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    JournalEntry,
    Partner,
    infer_role,
    quantize,
)

from ..errors import ConnectorError
from . import tables as t
from .types import TypeRow, our_type

MARK = "[ledgerpilot:"
"""How a move that ledgerpilot wrote carries its posting key: ``... [ledgerpilot:KEY]``."""

BATCH = 500
"""Invoices (or moves) read at a time; their lines are fetched per batch."""


def marker(key: str) -> str:
    """The text a move written under ``key`` ends its description with."""
    return f"{MARK}{key}]"


def split_description(text: str | None) -> tuple[str, str | None]:
    """A move's description without ledgerpilot's marker, and the posting key in it."""
    text = text or ""
    at = text.rfind(MARK)
    if at < 0 or not text.endswith("]"):
        return text, None
    return text[:at].rstrip(), text[at + len(MARK) : -1]


@dataclass(frozen=True)
class Company:
    """The Tryton company that is read and written."""

    id: int
    name: str
    currency: str
    digits: int


def company(conn: Connection, wanted: int | None) -> Company:
    """The company ``wanted``, or the only one; raises :class:`ConnectorError` otherwise."""
    rows = conn.execute(
        select(t.company.c.id, t.party.c.name, t.currency.c.code, t.currency.c.digits)
        .select_from(
            t.company.join(t.party, t.party.c.id == t.company.c.party).join(
                t.currency, t.currency.c.id == t.company.c.currency
            )
        )
        .order_by(t.company.c.id)
    ).all()
    if not rows:
        raise ConnectorError("this Tryton database has no company yet")
    if wanted is None:
        if len(rows) > 1:
            listed = ", ".join(f"{r.id} ({r.name})" for r in rows)
            raise ConnectorError(
                f"this Tryton database has the companies {listed}: choose one with ?company=ID"
            )
        row = rows[0]
    else:
        found = [r for r in rows if r.id == wanted]
        if not found:
            raise ConnectorError(f"this Tryton database has no company {wanted}")
        row = found[0]
    return Company(int(row.id), str(row.name), str(row.code), int(row.digits or 2))


# ------------------------------------------------------------ chart


def chart(conn: Connection, company_id: int) -> ChartOfAccounts:
    """The company's accounts that have a code, by code; see :mod:`.types` for the types.

    An account is postable when it has a type and is not closed (what Tryton allows moves
    on); one without a type (a view account) takes the type of its first typed descendant.
    """
    types = {
        r.id: TypeRow(
            int(r.id),
            str(r.name or ""),
            r.parent,
            r.statement,
            bool(r.assets),
            bool(r.receivable),
            bool(r.payable),
            bool(r.revenue),
            bool(r.expense),
        )
        for r in conn.execute(select(t.account_type).where(t.account_type.c.company == company_id))
    }
    rows = conn.execute(
        select(t.account).where(t.account.c.company == company_id).order_by(t.account.c.code)
    ).all()
    tax_codes = frozenset(
        r.code
        for r in conn.execute(
            select(t.account.c.code).where(
                t.account.c.id.in_(
                    select(t.tax.c.invoice_account)
                    .where(t.tax.c.company == company_id)
                    .union(select(t.tax.c.credit_note_account).where(t.tax.c.company == company_id))
                )
            )
        )
        if r.code
    )
    children: dict[int, list[Any]] = {}
    for r in rows:
        if r.parent is not None:
            children.setdefault(r.parent, []).append(r)

    def typed(row: Any) -> AccountType:
        queue = [row]
        while queue:
            current = queue.pop(0)
            if current.type is not None and current.type in types:
                return our_type(current.type, types)
            queue.extend(children.get(current.id, ()))
        return AccountType.OFF_BALANCE

    accounts = []
    for r in rows:
        code = (r.code or "").strip()
        if not code:
            continue
        kind = typed(r)
        name = str(r.name or code)
        accounts.append(
            Account(
                code=code,
                name=name,
                type=kind,
                postable=r.type is not None and not r.closed,
                role=infer_role(code, name, str(kind), None, tax_codes),
                reconcile=bool(r.reconcile),
            )
        )
    return ChartOfAccounts(tuple(accounts))


# ------------------------------------------------------------ documents

i, m = t.invoice, t.move


def _ours(description: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.coalesce(description, "").like(f"%{MARK}%")


def pending_filter() -> ColumnElement[bool]:
    """Invoices waiting for an entry: draft or validated, no posted or ledgerpilot move."""
    return and_(
        i.c.state.in_(("draft", "validated")),
        or_(
            i.c.move.is_(None),
            i.c.move.in_(select(m.c.id).where(m.c.state == "draft", not_(_ours(m.c.description)))),
        ),
    )


def posted_filter() -> ColumnElement[bool]:
    """Invoices whose move is posted (Tryton's states ``posted`` and ``paid``)."""
    return i.c.move.in_(select(m.c.id).where(m.c.state == "posted"))


def date_range(column: Any, since: dt.date | None, until: dt.date | None) -> list[Any]:
    """``since <= column < until``, as conditions."""
    out = []
    if since is not None:
        out.append(column >= since)
    if until is not None:
        out.append(column < until)
    return out


def _invoice_date() -> ColumnElement[Any]:
    return func.coalesce(i.c.invoice_date, i.c.accounting_date, func.date(i.c.create_date))


def invoice_query(company_id: int, *where: Any) -> Any:
    """Invoices of the company meeting ``where``, by date then id."""
    return (
        select(
            i.c.id,
            i.c.type,
            i.c.state,
            i.c.number,
            i.c.reference,
            i.c.invoice_date,
            i.c.accounting_date,
            i.c.create_date,
            i.c.description,
            i.c.comment,
            i.c.move,
            i.c.party,
            t.currency.c.code.label("currency"),
            t.currency.c.digits,
        )
        .select_from(i.join(t.currency, t.currency.c.id == i.c.currency))
        .where(i.c.company == company_id, *where)
        .order_by(_invoice_date(), i.c.id)
    )


def invoice_count(conn: Connection, company_id: int, *where: Any) -> int:
    """How many invoices of the company meet ``where``."""
    return int(
        conn.execute(
            select(func.count()).select_from(i).where(i.c.company == company_id, *where)
        ).scalar_one()
    )


def documents(conn: Connection, rows: Iterable[Any], *, with_entry: bool) -> Iterator[Document]:
    """The invoices of ``rows`` (from :func:`invoice_query`) as documents, read in batches."""
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield from _invoice_batch(conn, batch, with_entry)
            batch = []
    if batch:
        yield from _invoice_batch(conn, batch, with_entry)


def _invoice_batch(conn: Connection, rows: list[Any], with_entry: bool) -> list[Document]:
    ids = [r.id for r in rows]
    lines: dict[int, list[Any]] = {}
    for r in conn.execute(
        select(t.invoice_line)
        .where(t.invoice_line.c.invoice.in_(ids), t.invoice_line.c.type == "line")
        .order_by(t.invoice_line.c.invoice, t.invoice_line.c.sequence, t.invoice_line.c.id)
    ):
        lines.setdefault(r.invoice, []).append(r)
    line_ids = [r.id for group in lines.values() for r in group]
    rates: dict[int, Decimal] = {}
    for chunk in _chunks(line_ids):
        for r in conn.execute(
            select(t.line_tax.c.line, t.tax.c.type, t.tax.c.rate)
            .select_from(t.line_tax.join(t.tax, t.tax.c.id == t.line_tax.c.tax))
            .where(t.line_tax.c.line.in_(chunk))
        ):
            if r.type == "percentage":
                rates[r.line] = rates.get(r.line, Decimal(0)) + t.decimal(r.rate) * 100
    taxes: dict[int, Decimal] = {}
    for r in conn.execute(
        select(t.invoice_tax.c.invoice, t.invoice_tax.c.amount).where(
            t.invoice_tax.c.invoice.in_(ids)
        )
    ):
        taxes[r.invoice] = taxes.get(r.invoice, Decimal(0)) + t.decimal(r.amount)
    partners = _partners(conn, {r.party for r in rows})
    entries = {}
    if with_entry:
        for currency in {r.currency for r in rows}:
            moves = [r.move for r in rows if r.move is not None and r.currency == currency]
            entries.update(_entries(conn, moves, str(currency)))
    out = []
    for row in rows:
        entry = entries.get(row.move) if row.move is not None else None
        out.append(
            _document(
                row, lines.get(row.id, []), rates, taxes.get(row.id), partners.get(row.party), entry
            )
        )
    return out


def _document(
    row: Any,
    lines: list[Any],
    rates: dict[int, Decimal],
    tax_total: Decimal | None,
    partner: Partner | None,
    entry: JournalEntry | None,
) -> Document:
    quantum = Decimal(1).scaleb(-int(row.digits if row.digits is not None else 2))
    amounts = [
        (
            r,
            (t.decimal(repr(float(r.quantity or 0))) * t.decimal(r.unit_price)).quantize(
                quantum, ROUND_HALF_EVEN
            ),
        )
        for r in lines
    ]
    sign = -1 if sum((a for _, a in amounts), Decimal(0)) < 0 else 1
    doc_lines = []
    for r, amount in amounts:
        rate = rates.get(r.id, Decimal(0))
        net = sign * amount
        doc_lines.append(
            DocumentLine(
                description=str(r.description or "").strip(),
                net=net,
                tax_rate=rate.normalize() if rate else Decimal(0),
                tax=(net * rate / 100).quantize(quantum, ROUND_HALF_EVEN),
            )
        )
    total_tax = (
        sign * tax_total if tax_total is not None else sum((ln.tax for ln in doc_lines), Decimal(0))
    )
    doc_lines = _settle_tax(doc_lines, total_tax.quantize(quantum))
    total_net = sum((ln.net for ln in doc_lines), Decimal(0))
    kind = {
        ("in", 1): "supplier_invoice",
        ("in", -1): "supplier_credit_note",
        ("out", 1): "sales_invoice",
        ("out", -1): "sales_credit_note",
    }[(row.type, sign)]
    if row.type == "in":
        number = row.reference or row.number or f"draft {row.id}"
    else:
        number = row.number or f"draft {row.id}"
    date = (
        row.invoice_date
        or row.accounting_date
        or (row.create_date.date() if row.create_date else None)
    )
    if date is None:
        raise ConnectorError(f"Tryton invoice {row.id} has no date")
    return Document(
        id=f"invoice-{row.id}",
        kind=kind,
        number=str(number),
        date=date,
        partner=partner,
        currency=str(row.currency),
        lines=tuple(doc_lines),
        total_net=total_net,
        total_tax=total_tax.quantize(quantum),
        total_gross=total_net + total_tax.quantize(quantum),
        text=str(row.description or row.comment or "").strip(),
        entry=entry,
    )


def _settle_tax(lines: list[DocumentLine], total: Decimal) -> list[DocumentLine]:
    """Lines whose VAT adds up to the invoice's (Tryton may round per invoice, not per line)."""
    difference = total - sum((ln.tax for ln in lines), Decimal(0))
    taxed = [n for n, ln in enumerate(lines) if ln.tax_rate]
    if not difference or not taxed:
        return lines
    largest = max(taxed, key=lambda n: abs(lines[n].net))
    line = lines[largest]
    out = list(lines)
    out[largest] = DocumentLine(line.description, line.net, line.tax_rate, line.tax + difference)
    return out


def _chunks(values: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _partners(conn: Connection, ids: set[Any]) -> dict[Any, Partner]:
    wanted = [p for p in ids if p is not None]
    if not wanted:
        return {}
    vat: dict[Any, str] = {}
    for r in conn.execute(
        select(t.identifier.c.party, t.identifier.c.code)
        .where(t.identifier.c.party.in_(wanted))
        .order_by(t.identifier.c.party, t.identifier.c.sequence.desc(), t.identifier.c.id.desc())
    ):
        if r.code:
            vat[r.party] = str(r.code)
    countries: dict[Any, str] = {}
    for r in conn.execute(
        select(t.address.c.party, t.country.c.code)
        .select_from(t.address.join(t.country, t.country.c.id == t.address.c.country))
        .where(t.address.c.party.in_(wanted))
        .order_by(t.address.c.party, t.address.c.sequence.desc(), t.address.c.id.desc())
    ):
        if r.code:
            countries[r.party] = str(r.code)
    return {
        r.id: Partner(
            id=str(r.code or f"party-{r.id}"),
            name=str(r.name or r.code or r.id),
            vat=vat.get(r.id),
            country=countries.get(r.id),
        )
        for r in conn.execute(select(t.party).where(t.party.c.id.in_(wanted)))
    }


def _entries(conn: Connection, move_ids: list[Any], currency: str) -> dict[Any, JournalEntry]:
    """The moves as journal entries: posted ones, and drafts that ledgerpilot wrote."""
    if not move_ids:
        return {}
    lines: dict[Any, list[EntryLine]] = {}
    moves: dict[Any, Any] = {}
    for chunk in _chunks(move_ids):
        for r in conn.execute(
            select(m.c.id, m.c.date, m.c.description, m.c.state, m.c.post_date, t.user.c.login)
            .select_from(m.outerjoin(t.user, t.user.c.id == m.c.create_uid))
            .where(m.c.id.in_(chunk))
        ):
            if r.state == "posted" or split_description(r.description)[1] is not None:
                moves[r.id] = r
        for ln in conn.execute(
            select(
                t.move_line.c.move,
                t.account.c.code,
                t.move_line.c.debit,
                t.move_line.c.credit,
                t.move_line.c.description,
            )
            .select_from(t.move_line.join(t.account, t.account.c.id == t.move_line.c.account))
            .where(t.move_line.c.move.in_(chunk))
            .order_by(t.move_line.c.move, t.move_line.c.id)
        ):
            lines.setdefault(ln.move, []).append(
                EntryLine(
                    account=str(ln.code or ""),
                    debit=quantize(t.decimal(ln.debit), currency),
                    credit=quantize(t.decimal(ln.credit), currency),
                    description=str(ln.description or ""),
                )
            )
    out = {}
    for move_id, r in moves.items():
        text, _ = split_description(r.description)
        out[move_id] = JournalEntry(
            date=r.date,
            lines=tuple(lines.get(move_id, ())),
            description=text,
            id=str(move_id),
            posted_by=r.login,
            posted_at=(
                dt.datetime.combine(r.post_date, dt.time(), tzinfo=dt.UTC) if r.post_date else None
            ),
        )
    return out


# ------------------------------------------------------------ moves without an invoice


def other_moves_filter(company_id: int) -> list[Any]:
    """Posted moves of the company that are no invoice's move."""
    return [
        m.c.company == company_id,
        m.c.state == "posted",
        m.c.id.not_in(select(i.c.move).where(i.c.move.is_not(None))),
    ]


def move_documents(conn: Connection, rows: Iterable[Any], currency: str) -> Iterator[Document]:
    """Moves (id, date, description) as documents of kind ``other`` with their entries."""
    batch: list[Any] = []

    def flush() -> Iterator[Document]:
        entries = _entries(conn, [r.id for r in batch], currency)
        for r in batch:
            entry = entries[r.id]
            total = sum((ln.debit for ln in entry.lines), Decimal(0))
            yield Document(
                id=f"move-{r.id}",
                kind="other",
                number=str(r.number or r.id),
                date=r.date,
                partner=None,
                currency=currency,
                lines=(),
                total_net=total,
                total_tax=Decimal(0),
                total_gross=total,
                text=entry.description,
                entry=entry,
            )

    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def history(
    conn: Connection, company: Company, since: dt.date | None, until: dt.date | None
) -> Iterator[Document]:
    """Posted invoices and other posted moves with their entries, by date then id."""
    invoices = documents(
        conn,
        conn.execute(
            invoice_query(company.id, posted_filter(), *date_range(_invoice_date(), since, until))
        ),
        with_entry=True,
    )
    others = move_documents(
        conn,
        conn.execute(
            select(m.c.id, m.c.date, m.c.number)
            .where(*other_moves_filter(company.id), *date_range(m.c.date, since, until))
            .order_by(m.c.date, m.c.id)
        ),
        company.currency,
    )

    def key(doc: Document) -> tuple[dt.date, int, int]:
        prefix, _, number = doc.id.partition("-")
        return doc.date, 0 if prefix == "invoice" else 1, int(number)

    return heapq.merge(invoices, others, key=key)


def count_history(
    conn: Connection, company_id: int, since: dt.date | None, until: dt.date | None
) -> int:
    """How many documents :func:`history` yields."""
    invoices = invoice_count(
        conn, company_id, posted_filter(), *date_range(_invoice_date(), since, until)
    )
    others = conn.execute(
        select(func.count())
        .select_from(m)
        .where(*other_moves_filter(company_id), *date_range(m.c.date, since, until))
    ).scalar_one()
    return invoices + int(others)


def parse_id(document_id: str) -> tuple[str, int] | None:
    """``("invoice", 12)`` for ``invoice-12``, ``("move", 7)`` for ``move-7``; else ``None``."""
    prefix, _, number = document_id.partition("-")
    if prefix not in ("invoice", "move") or not number.isdigit() or len(number) > 18:
        return None
    return prefix, int(number)


def get_document(conn: Connection, company: Company, document_id: str) -> Document | None:
    """The invoice or move document with this id, with its entry; ``None`` if none."""
    parsed = parse_id(document_id)
    if parsed is None:
        return None
    prefix, number = parsed
    if prefix == "invoice":
        rows = conn.execute(invoice_query(company.id, i.c.id == number)).all()
        found = list(documents(conn, rows, with_entry=True))
        return found[0] if found else None
    rows = conn.execute(
        select(m.c.id, m.c.date, m.c.number).where(
            *other_moves_filter(company.id), m.c.id == number
        )
    ).all()
    moved = list(move_documents(conn, rows, company.currency))
    return moved[0] if moved else None
