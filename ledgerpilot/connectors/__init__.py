"""Connectors: reading from and writing to an accounting information system (AIS) over SQL.

A connector maps one AIS's tables onto the domain of :mod:`ledgerpilot.ledger`: it reads
the chart of accounts, the documents waiting to be posted and the posting history (posted
documents with their journal entries), and it writes an approved journal entry back, once
per posting key, in one transaction. :class:`ReferenceAIS` is the connector to ledgerpilot's
own reference schema (SQLite or PostgreSQL), which the synthetic company and the portable
interchange files (chart CSV + documents JSON Lines) are loaded into.

Errors: :class:`ConnectorUnavailable` means "try again later" (the database is down or
busy); the other :class:`ConnectorError` subclasses say what is wrong.
"""

from .charts import builtin_chart, read_chart
from .errors import (
    AISNotFound,
    AlreadyPosted,
    ConnectorError,
    ConnectorUnavailable,
    DocumentNotFound,
    EntryRefused,
    PostingConflict,
    PostingError,
)
from .interchange import (
    ExportReport,
    ImportReport,
    LineError,
    export,
    import_files,
    read_documents,
)
from .loading import LoadReport
from .posting import PostingResult
from .reference import AISSummary, ReferenceAIS, open_ais

__all__ = [
    "AISNotFound",
    "AISSummary",
    "AlreadyPosted",
    "ConnectorError",
    "ConnectorUnavailable",
    "DocumentNotFound",
    "EntryRefused",
    "ExportReport",
    "ImportReport",
    "LineError",
    "LoadReport",
    "PostingConflict",
    "PostingError",
    "PostingResult",
    "ReferenceAIS",
    "builtin_chart",
    "export",
    "import_files",
    "open_ais",
    "read_chart",
    "read_documents",
]
