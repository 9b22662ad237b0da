"""The declarative mapping format: a TOML file that says where ledgerpilot's concepts live.

A mapping lets ledgerpilot read (and, with a ``[write]`` section, post into) an AIS whose
tables are not the reference schema, without code: ``--ais URL --mapping FILE.toml``.
:mod:`.mapping` runs it; ``mappings/reference.toml`` maps the reference schema onto itself
and is the worked example. Every key is checked: an unknown or misspelt key is an error
naming the key and the file.

**Values.** A value under ``columns`` (and ``key``, ``where``, ``pending``, ``posted``,
``order_by``) is SQL, the mapping author's own trusted configuration: a bare name
(``total_net``) is a column of the section's table, quoted as the database needs; anything
else (``"CAST(net_cents AS NUMERIC) / 100"``, ``"status = 'open'"``, ``"'EUR'"``) is an
SQL expression evaluated on one row of that table, which may name the table itself
(``documents.id``) in a correlated subquery. ``true``, ``false`` and ``null`` are literals.

``[mapping]``
    ``name`` what the mapping is for (shown by ``ledgerpilot ais check``); ``schema`` the
    database schema (PostgreSQL) holding every table, when not the default one.

``[accounts]`` the chart of accounts
    ``table``; ``where`` which rows are accounts (optional); ``order_by`` the chart's order
    (default: the code). ``[accounts.columns]``: ``code``, ``name``, ``type`` (required);
    ``postable`` (default true), ``role`` (default: inferred from type and name, see
    :func:`ledgerpilot.ledger.infer_role`), ``reconcile`` (default false), ``local_name``.
    ``[accounts.type_values]`` maps the AIS's type values (as text) onto ledgerpilot's
    account types (:class:`ledgerpilot.ledger.AccountType`: ``asset_receivable``,
    ``expense``, ...); a value neither mapped nor a known type is kept, and ``ais check``
    reports those accounts as accounts without a type.

``[partners]`` suppliers, customers, banks (optional)
    ``table``; ``key`` what documents refer to (usually the primary key); ``where``.
    ``[partners.columns]``: ``id`` (the partner's id as shown), ``name``; ``vat``,
    ``country`` (optional).

``[documents]`` what arrives to be posted, and what was posted
    ``table``; ``key`` what document lines and journal entries refer to; ``where``.
    ``pending``: the condition for a document waiting for its entry (default: any document
    without a journal entry; a document with an entry is never pending). ``posted``: the
    condition for a posted document of the history (default: any document with a journal
    entry). ``minor_units``: true when the amounts are integers of the currency's minor
    unit (cents); they are divided exactly, in Decimal. ``[documents.columns]``: ``id``
    (the document's id as shown, unique), ``kind``, ``number``, ``date``, ``currency``,
    ``total_net``, ``total_tax``, ``total_gross``; ``partner`` (the partner's ``key``;
    with ``[partners]``), ``text`` (optional). ``[documents.kind_values]`` maps the AIS's
    kind values onto ledgerpilot's kinds (``supplier_invoice``, ``sales_invoice``, ...).

``[document_lines]`` (optional: documents without lines are read without them)
    ``table``; ``where``; ``minor_units``. ``[document_lines.columns]``: ``document`` (the
    document's ``key``), ``position`` (orders the lines), ``net``, ``tax_rate`` (in
    percent: 25 for 25 %); ``description``, ``tax`` (optional, default empty and 0).

``[journal_entries]`` posted entries
    ``table``; ``key`` what journal lines refer to; ``where`` (e.g. only posted moves).
    ``[journal_entries.columns]``: ``document`` (the document's ``key``), ``date``;
    ``description``, ``posting_key`` (where ledgerpilot's posting key is kept: required
    for posting), ``posted_by``, ``posted_at`` (optional).

``[journal_lines]`` debit and credit lines
    ``table``; ``where``; ``minor_units``. ``[journal_lines.columns]``: ``entry`` (the
    entry's ``key``), ``position``, ``account`` (the account's code), and either ``debit``
    and ``credit`` or one signed ``amount`` (positive: debit, negative: credit);
    ``description`` (optional).

``[write]`` how an approved entry is posted (optional: without it the AIS is read-only)
    One transaction per entry: the entry row, its lines, then the document's update.
    Values here are SQL expressions over bound parameters (``:posting_key``), so every
    value of the entry reaches the database as a parameter, never as SQL text.

    ``[write.journal_entry]``: ``table`` (default: the journal entries' table),
    ``returning`` (the column holding the new entry's key, read back with ``RETURNING``;
    default: the entries' ``key``), ``values`` (column = expression). Parameters:
    ``:document_key``, ``:document_id``, ``:date``, ``:description``, ``:posting_key``,
    ``:posted_by``, ``:posted_at``, ``:currency``, ``:total``, ``:total_minor``.

    ``[write.journal_line]``: ``table`` (default: the journal lines' table), ``values``.
    Parameters: ``:entry_key``, ``:position`` (1, 2, ...), ``:account``, ``:debit``,
    ``:credit``, ``:amount`` (debit minus credit), ``:debit_minor``, ``:credit_minor``,
    ``:amount_minor`` (integers of the minor unit: exact cents for integer columns),
    ``:description``, and ``:document_key``, ``:document_id``, ``:date``,
    ``:posting_key``, ``:currency``.

    ``[write.document]`` (optional): ``values`` set on the document's row after posting
    (e.g. ``status = "'BOOKED'"``). Parameters: ``:document_key``, ``:document_id``,
    ``:entry_key``, ``:posting_key``, ``:date``, ``:posted_by``, ``:posted_at``.

    Decimal parameters are exact: ``NUMERIC`` on PostgreSQL, canonical text on SQLite
    (write ``:amount_minor`` for an integer column of cents rather than ``:amount * 100``,
    which SQLite would compute in floating point).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ledgerpilot.ledger import AccountType

from .errors import ConnectorError

BIND_PARAM = re.compile(r"(?<![:\w\x5c]):(\w+)(?![:\w])", re.UNICODE)
"""A ``:name`` bound parameter, found exactly as SQLAlchemy's ``text()`` finds it."""

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERALS = frozenset({"true", "false", "null"})

ENTRY_PARAMS = frozenset(
    {
        "document_key",
        "document_id",
        "date",
        "description",
        "posting_key",
        "posted_by",
        "posted_at",
        "currency",
        "total",
        "total_minor",
    }
)
"""Parameters of ``[write.journal_entry]`` values."""
LINE_PARAMS = frozenset(
    {
        "entry_key",
        "position",
        "account",
        "debit",
        "credit",
        "amount",
        "debit_minor",
        "credit_minor",
        "amount_minor",
        "description",
        "document_key",
        "document_id",
        "date",
        "posting_key",
        "currency",
    }
)
"""Parameters of ``[write.journal_line]`` values."""
DOCUMENT_PARAMS = frozenset(
    {"document_key", "document_id", "entry_key", "posting_key", "date", "posted_by", "posted_at"}
)
"""Parameters of ``[write.document]`` values."""


class MappingError(ConnectorError):
    """A mapping file that cannot be used: missing, not TOML, or with bad keys or values."""


def is_column_name(sql: str) -> bool:
    """Whether a mapping value is a bare column name rather than an SQL expression."""
    return bool(_BARE_NAME.fullmatch(sql)) and sql.lower() not in _LITERALS


def bind_names(sql: str) -> list[str]:
    """The ``:name`` parameters an SQL fragment uses, in order of first use."""
    return list(dict.fromkeys(BIND_PARAM.findall(sql)))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Sql = Annotated[str, Field(min_length=1)]
"""An SQL value of a mapping: a bare column name or an expression (see the module doc)."""


class _TableSection(_Section):
    table: Sql
    where: Sql | None = None


class AccountColumns(_Section):
    """Where an account's fields are."""

    code: Sql
    name: Sql
    type: Sql
    postable: Sql | None = None
    role: Sql | None = None
    reconcile: Sql | None = None
    local_name: Sql | None = None


class AccountsMap(_TableSection):
    """``[accounts]``: the chart of accounts."""

    order_by: Sql | None = None
    columns: AccountColumns
    type_values: dict[str, str] = Field(default_factory=dict)

    @field_validator("type_values")
    @classmethod
    def _known_types(cls, values: dict[str, str]) -> dict[str, str]:
        known = {t.value for t in AccountType}
        for source, target in values.items():
            if target not in known:
                raise ValueError(
                    f"{source!r} maps to {target!r}, which is no account type; "
                    f"choose one of {', '.join(sorted(known))}"
                )
        return values


class PartnerColumns(_Section):
    """Where a partner's fields are."""

    id: Sql
    name: Sql
    vat: Sql | None = None
    country: Sql | None = None


class PartnersMap(_TableSection):
    """``[partners]``: suppliers, customers, banks."""

    key: Sql
    columns: PartnerColumns


class DocumentColumns(_Section):
    """Where a document's fields are."""

    id: Sql
    kind: Sql
    number: Sql
    date: Sql
    currency: Sql
    total_net: Sql
    total_tax: Sql
    total_gross: Sql
    partner: Sql | None = None
    text: Sql | None = None


class DocumentsMap(_TableSection):
    """``[documents]``: documents, pending and posted."""

    key: Sql
    pending: Sql | None = None
    posted: Sql | None = None
    minor_units: bool = False
    columns: DocumentColumns
    kind_values: dict[str, str] = Field(default_factory=dict)


class DocumentLineColumns(_Section):
    """Where a document line's fields are."""

    document: Sql
    position: Sql
    net: Sql
    tax_rate: Sql
    description: Sql | None = None
    tax: Sql | None = None


class DocumentLinesMap(_TableSection):
    """``[document_lines]``: the lines of documents."""

    minor_units: bool = False
    columns: DocumentLineColumns


class EntryColumns(_Section):
    """Where a journal entry's fields are."""

    document: Sql
    date: Sql
    description: Sql | None = None
    posting_key: Sql | None = None
    posted_by: Sql | None = None
    posted_at: Sql | None = None


class EntriesMap(_TableSection):
    """``[journal_entries]``: posted entries."""

    key: Sql
    columns: EntryColumns


class EntryLineColumns(_Section):
    """Where a journal line's fields are: ``debit`` and ``credit``, or a signed ``amount``."""

    entry: Sql
    position: Sql
    account: Sql
    debit: Sql | None = None
    credit: Sql | None = None
    amount: Sql | None = None
    description: Sql | None = None

    @model_validator(mode="after")
    def _one_way_of_amounts(self) -> Self:
        pair = self.debit is not None and self.credit is not None
        if pair == (self.amount is not None) or (self.debit is None) != (self.credit is None):
            raise ValueError("give either debit and credit, or one signed amount")
        return self


class EntryLinesMap(_TableSection):
    """``[journal_lines]``: the debit and credit lines of entries."""

    minor_units: bool = False
    columns: EntryLineColumns


class WriteTable(_Section):
    """Where one statement of a posting writes, and what."""

    table: str | None = Field(None, min_length=1)
    values: dict[str, str] = Field(min_length=1)


class WriteEntry(WriteTable):
    """``[write.journal_entry]``."""

    returning: str | None = Field(None, min_length=1)


class WriteDocument(_Section):
    """``[write.document]``."""

    values: dict[str, str] = Field(min_length=1)


class WriteMap(_Section):
    """``[write]``: how an approved entry is posted."""

    journal_entry: WriteEntry
    journal_line: WriteTable
    document: WriteDocument | None = None

    @model_validator(mode="after")
    def _known_parameters(self) -> Self:
        parts: list[tuple[str, WriteTable | WriteDocument, frozenset[str]]] = [
            ("journal_entry", self.journal_entry, ENTRY_PARAMS),
            ("journal_line", self.journal_line, LINE_PARAMS),
        ]
        if self.document is not None:
            parts.append(("document", self.document, DOCUMENT_PARAMS))
        for name, part, allowed in parts:
            for column, sql in part.values.items():
                unknown = [p for p in bind_names(sql) if p not in allowed]
                if unknown:
                    raise ValueError(
                        f"write.{name}.values.{column}: unknown parameter :{unknown[0]}; "
                        f"the parameters are :{', :'.join(sorted(allowed))}"
                    )
        used = [p for sql in self.journal_entry.values.values() for p in bind_names(sql)]
        if "posting_key" not in used:
            raise ValueError(
                "write.journal_entry.values must store :posting_key, or a repeated post "
                "could not be recognised"
            )
        return self


class MappingInfo(_Section):
    """``[mapping]``: about the mapping."""

    name: str = ""
    schema_name: str | None = Field(None, alias="schema", min_length=1)


class AISMapping(_Section):
    """A whole mapping file, validated."""

    mapping: MappingInfo = Field(default_factory=MappingInfo)
    accounts: AccountsMap
    partners: PartnersMap | None = None
    documents: DocumentsMap
    document_lines: DocumentLinesMap | None = None
    journal_entries: EntriesMap
    journal_lines: EntryLinesMap
    write: WriteMap | None = None
    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.partners is None) != (self.documents.columns.partner is None):
            raise ValueError(
                "documents.columns.partner and [partners] go together: give both or neither"
            )
        if self.write is not None:
            if self.journal_entries.columns.posting_key is None:
                raise ValueError(
                    "[write] needs journal_entries.columns.posting_key, to recognise an "
                    "entry posted before"
                )
            if self.write.journal_entry.returning is None and not is_column_name(
                self.journal_entries.key
            ):
                raise ValueError(
                    "write.journal_entry.returning is needed: journal_entries.key is an "
                    "expression, not a column that the insert can return"
                )
        return self

    @property
    def source(self) -> Path | None:
        """The file it was read from (set by :func:`load_mapping`)."""
        return self._source

    @property
    def label(self) -> str:
        """The mapping's name and file, for messages."""
        where = str(self._source) if self._source else "<mapping>"
        return f"{self.mapping.name} ({where})" if self.mapping.name else where


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _explain(error: ValidationError, source: str) -> MappingError:
    lines = []
    for item in error.errors():
        key = _location(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {key!r}")
        elif item["type"] == "missing":
            lines.append(f"{source}: missing key {key!r}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            where = "" if key == "(top level)" else f"{key}: "
            lines.append(f"{source}: {where}{message}")
    return MappingError("\n".join(lines))


def parse_mapping(data: dict[str, Any], source: str = "<mapping>") -> AISMapping:
    """An :class:`AISMapping` from parsed TOML; errors name ``source`` and the key."""
    try:
        return AISMapping.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def load_mapping(path: str | Path) -> AISMapping:
    """Read and validate a mapping file; raises :class:`MappingError` saying what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise MappingError(f"{path}: no such mapping file") from None
    except IsADirectoryError:
        raise MappingError(f"{path}: is a directory, not a mapping file") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # tomllib reads bytes as UTF-8 and lets this through
        raise MappingError(
            f"{path}: not UTF-8 text (byte {exc.start + 1}); a mapping file is TOML in UTF-8"
        ) from None
    mapping = parse_mapping(data, str(path))
    mapping._source = path
    return mapping
