"""Connectors: reading from and writing to an accounting information system (AIS) over SQL.

A connector maps one AIS's tables onto the domain of :mod:`ledgerpilot.ledger`: it reads
the chart of accounts, the documents waiting to be posted and the posting history (posted
documents with their journal entries), and it writes an approved journal entry back, once
per posting key, in one transaction. Every connector offers the :class:`AIS` protocol, and
:func:`open_ais` picks one: :class:`ReferenceAIS` is the connector to ledgerpilot's own
reference schema (SQLite or PostgreSQL), which the synthetic company and the portable
interchange files (chart CSV + documents JSON Lines) are loaded into; :class:`MappedAIS`
reads (and posts into) any other SQL schema through a declarative mapping file
(:mod:`.mapping_format`); ``tryton+`` URLs open the Tryton connector. :func:`check_ais`
reports what an AIS or mapping lacks before any work starts.

Errors: :class:`ConnectorUnavailable` means "try again later" (the database is down or
busy); the other :class:`ConnectorError` subclasses say what is wrong.
"""

from .base import AIS, CheckItem, CheckReport
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
from .mapping import MappedAIS, open_mapped
from .mapping_format import AISMapping, MappingError, load_mapping
from .opening import check_ais, open_ais
from .posting import PostingResult
from .reference import AISSummary, ReferenceAIS, open_reference

__all__ = [
    "AIS",
    "AISMapping",
    "AISNotFound",
    "AISSummary",
    "AlreadyPosted",
    "CheckItem",
    "CheckReport",
    "ConnectorError",
    "ConnectorUnavailable",
    "DocumentNotFound",
    "EntryRefused",
    "ExportReport",
    "ImportReport",
    "LineError",
    "LoadReport",
    "MappedAIS",
    "MappingError",
    "PostingConflict",
    "PostingError",
    "PostingResult",
    "ReferenceAIS",
    "builtin_chart",
    "check_ais",
    "export",
    "import_files",
    "load_mapping",
    "open_ais",
    "open_mapped",
    "open_reference",
    "read_chart",
    "read_documents",
]
