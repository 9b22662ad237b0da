"""The reference AIS schema: SQLAlchemy models of the tables ledgerpilot's own AIS keeps.

Six tables: ``accounts`` (the chart), ``partners``, ``documents`` and ``document_lines``
(what arrives to be posted), ``journal_entries`` and ``journal_lines`` (what was posted).
The migrations in :mod:`ledgerpilot.connectors.migrations` create exactly these tables;
a test compares the two.

Money is never a float: :class:`Money` is ``NUMERIC(20, 4)`` on PostgreSQL and canonical
text on SQLite, whose NUMERIC affinity would pass through a float.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from ledgerpilot.sqlplumbing import UTCDateTime

KEY_LENGTH = 200
"""Longest external id (of a document or a partner) the schema stores."""
CODE_LENGTH = 64
"""Longest account code, and longest document kind, the schema stores."""

# Constraint names fixed by convention, so that migrations and models agree on them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


def money_text(value: Decimal, scale: int = 4) -> str:
    """The canonical text of ``value`` with ``scale`` decimals, as SQLite stores money.

    Rounds half away from zero, as PostgreSQL's NUMERIC does; ``-0`` is written ``0``.
    """
    quantized = value.quantize(_SCALES[scale], rounding=ROUND_HALF_UP)
    if not quantized:
        return _ZEROS[scale]
    return str(quantized)


_SCALES = {n: Decimal(1).scaleb(-n) for n in range(0, 9)}
_ZEROS = {n: str(Decimal(0).quantize(q)) for n, q in _SCALES.items()}


class Money(TypeDecorator[Decimal]):
    """An exact decimal column: ``NUMERIC(precision, scale)``, or canonical TEXT on SQLite.

    Values come back as ``Decimal`` with ``scale`` decimals on both databases; the domain
    layer quantizes them to the currency.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 20, scale: int = 4) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, not a float")
        if dialect.name == "sqlite":
            return money_text(Decimal(value), self.scale)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            # A row written behind our back through SQLite's NUMERIC affinity.
            raise TypeError(f"money column holds the float {value!r}")
        return Decimal(value)


# External ids sort by code point on every database, so that both order documents alike.
Key = String(KEY_LENGTH).with_variant(String(KEY_LENGTH, collation="C"), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of the reference schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AccountRow(Base):
    """One account of the chart."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(Text)
    account_type: Mapped[str] = mapped_column(String(CODE_LENGTH))
    postable: Mapped[bool] = mapped_column(Boolean)
    role: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    reconcile: Mapped[bool] = mapped_column(Boolean)
    local_name: Mapped[str | None] = mapped_column(Text)


class PartnerRow(Base):
    """A supplier, customer, employee or bank."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(Key, unique=True)
    name: Mapped[str] = mapped_column(Text)
    vat: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)


class DocumentRow(Base):
    """A document to post (pending) or posted (it has a journal entry)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(Key, unique=True)
    kind: Mapped[str] = mapped_column(String(CODE_LENGTH))
    number: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date] = mapped_column(Date)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    currency: Mapped[str] = mapped_column(String(3))
    total_net: Mapped[Decimal] = mapped_column(Money())
    total_tax: Mapped[Decimal] = mapped_column(Money())
    total_gross: Mapped[Decimal] = mapped_column(Money())
    text: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        # (date, external_id): the order in which history and pending documents are read.
        Index("ix_documents_date", "date", "external_id"),
        Index("ix_documents_partner_id", "partner_id", "kind"),
        Index("ix_documents_kind", "kind", "date"),
    )


class DocumentLineRow(Base):
    """One line of a document."""

    __tablename__ = "document_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    net: Mapped[Decimal] = mapped_column(Money())
    # A VAT rate in percent, not money, but exact all the same.
    tax_rate: Mapped[Decimal] = mapped_column(Money(9, 4))
    tax: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (
        Index("ix_document_lines_document_id", "document_id", "position", unique=True),
    )


class JournalEntryRow(Base):
    """A posted journal entry; at most one per document."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    posting_key: Mapped[str | None] = mapped_column(Key, unique=True)
    """The idempotency key of :meth:`ReferenceAIS.post_entry`; ``None`` for loaded history."""
    posted_by: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_journal_entries_date", "date"),)


class JournalLineRow(Base):
    """One debit or credit line of a journal entry."""

    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    position: Mapped[int] = mapped_column(Integer)
    account_code: Mapped[str] = mapped_column(String(CODE_LENGTH), ForeignKey("accounts.code"))
    debit: Mapped[Decimal] = mapped_column(Money())
    credit: Mapped[Decimal] = mapped_column(Money())
    description: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_journal_lines_entry_id", "entry_id", "position", unique=True),
        Index("ix_journal_lines_account_code", "account_code"),
    )


metadata = Base.metadata
accounts: Table = metadata.tables["accounts"]
partners: Table = metadata.tables["partners"]
documents: Table = metadata.tables["documents"]
document_lines: Table = metadata.tables["document_lines"]
journal_entries: Table = metadata.tables["journal_entries"]
journal_lines: Table = metadata.tables["journal_lines"]
