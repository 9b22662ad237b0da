"""What every AIS connector offers, and what a check on connect reports.

The rest of ledgerpilot (drafting, posting, evaluation, dataset curation, audit, the
workers) uses an AIS only through :class:`AIS`: the reference schema
(:class:`~.reference.ReferenceAIS`), Tryton (:mod:`.tryton`) and a schema described by a
declarative mapping (:mod:`.mapping`) all provide it. ``open_ais(url, mapping=None)`` picks
the connector from the URL (``tryton+...``) or the mapping file.

:class:`CheckReport` is what ``ledgerpilot ais check`` prints: what a database or mapping
lacks before any work starts (a missing table or column, no posting history, accounts
without types), each item an error (nothing can work) or a warning (some things will not).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from sqlalchemy import Engine

from ledgerpilot.ledger import ChartOfAccounts, Document, JournalEntry

from .posting import PostingResult


@runtime_checkable
class AIS(Protocol):
    """An accounting information system, as ledgerpilot reads and writes it."""

    @property
    def display_url(self) -> str:
        """Where it is, without a password: for messages and logs."""
        ...

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts."""
        ...

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """Documents waiting for a journal entry, by date then id (``entry`` is ``None``)."""
        ...

    def get_document(self, external_id: str) -> Document | None:
        """The document with this id, with its entry when posted; ``None`` if none."""
        ...

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterator[Document]:
        """Posted documents with their entries, by date then id, streamed.

        ``since`` inclusive, ``until`` exclusive, on the document date.
        """
        ...

    def count_history(self, since: dt.date | None = None, until: dt.date | None = None) -> int:
        """How many documents :meth:`history` would yield."""
        ...

    def post_entry(
        self, document_id: str, entry: JournalEntry, key: str, posted_by: str | None = None
    ) -> PostingResult:
        """Write an approved entry for a document, at most once per ``key``.

        Raises a :class:`~.errors.PostingError` subclass (and writes nothing) when the
        entry cannot be posted; see :meth:`ReferenceAIS.post_entry`.
        """
        ...

    def check(self) -> CheckReport:
        """What this AIS lacks for ledgerpilot's work; never raises for a lack."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class PooledConnector:
    """What every connector over one SQLAlchemy engine shares: closing its pool, use in a
    ``with`` block, and a ``repr`` that names the class and the password-free URL."""

    engine: Engine
    display_url: Any  # a property of each connector

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r})"


Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class CheckItem:
    """One finding of a check on connect."""

    severity: Severity
    """``error``: ledgerpilot cannot work with this AIS; ``warning``: some features will
    not work (say which); ``info``: a count or fact worth showing."""
    subject: str
    """What it is about: a concept (``journal entry``), a table, ``table.column``."""
    message: str
    """What is wrong or found, in words a user acts on."""


@dataclass(frozen=True)
class CheckReport:
    """The result of ``ledgerpilot ais check``: an AIS and what it lacks."""

    ais: str
    """The AIS's display URL (and mapping file, if any)."""
    kind: str
    """``reference``, ``tryton`` or ``mapping``."""
    items: tuple[CheckItem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when no item is an error."""
        return not any(item.severity == "error" for item in self.items)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``ais check --json``)."""
        return {
            "ais": self.ais,
            "kind": self.kind,
            "ok": self.ok,
            "items": [
                {"severity": i.severity, "subject": i.subject, "message": i.message}
                for i in self.items
            ],
        }
