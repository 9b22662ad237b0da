"""The bookkeeping domain, pure Python: money, accounts, documents, entries, validation.

Nothing here does I/O or knows of SQL, models or queues; every other package builds on it.
"""

from .accounts import ROLES, Account, AccountType, ChartOfAccounts, infer_role
from .documents import KINDS, Document, DocumentError, DocumentLine, Partner
from .entries import (
    POSTING_SCHEME_JSON_SCHEMA,
    EntryLine,
    JournalEntry,
    PostingScheme,
    SchemeError,
    parse_scheme,
    totals,
)
from .money import AmountError, format_amount, parse_amount, quantize, tax_on
from .validation import CHECKS, check_scheme, validate
from .violations import CODES, Violation

__all__ = [
    "CHECKS",
    "CODES",
    "KINDS",
    "POSTING_SCHEME_JSON_SCHEMA",
    "ROLES",
    "Account",
    "AccountType",
    "AmountError",
    "ChartOfAccounts",
    "Document",
    "DocumentError",
    "DocumentLine",
    "EntryLine",
    "JournalEntry",
    "Partner",
    "PostingScheme",
    "SchemeError",
    "Violation",
    "check_scheme",
    "format_amount",
    "infer_role",
    "parse_amount",
    "parse_scheme",
    "quantize",
    "tax_on",
    "totals",
    "validate",
]
