"""What can go wrong in a connector, as exceptions a caller can branch on.

Workers retry on :class:`ConnectorUnavailable` (the database is down or busy) and quarantine
on the rest. :func:`database_errors` turns SQLAlchemy's errors into these.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from ledgerpilot.ledger import Violation

# SQLSTATE codes of PostgreSQL errors worth a retry: connection exceptions (class 08),
# shutdowns, too many connections, serialization failures and deadlocks.
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})
_MISSING_SQLSTATES = frozenset({"3D000", "42P01"})  # no such database, no such table


class ConnectorError(Exception):
    """Something a connector could not do; the message says what and why."""


class ConnectorUnavailable(ConnectorError):
    """The database cannot be reached or is busy right now; trying again later may work."""

    def __init__(self, message: str, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original
        """The driver's exception."""


class AISNotFound(ConnectorError):
    """There is no AIS at this URL: no database file, no database, or no reference schema."""


class PostingError(ConnectorError):
    """An entry that was not posted; nothing was written."""


class DocumentNotFound(PostingError):
    """The document to post does not exist in the AIS."""


class AlreadyPosted(PostingError):
    """The document already has a journal entry, posted under another key."""


class PostingConflict(PostingError):
    """The posting key was already used for an entry of another document."""


class EntryRefused(PostingError):
    """The entry does not validate against the chart (unbalanced, unknown accounts, ...)."""

    def __init__(self, message: str, violations: list[Violation] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []
        """The :class:`~ledgerpilot.ledger.Violation` values that refused it."""


def is_transient(error: exc.DBAPIError) -> bool:
    """Whether ``error`` says the database is unreachable or busy, not that the request is bad."""
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    if type(error.orig).__module__.startswith("sqlite3"):
        # SQLite: only a busy database is worth a retry; a missing table or file is not.
        return "locked" in text or "busy" in text
    code = _sqlstate(error)
    if code is None:
        # A failure on the client's side: refused, timed out, server closed the connection.
        return isinstance(error, (exc.OperationalError, exc.InterfaceError))
    return code.startswith("08") or code in _TRANSIENT_SQLSTATES


def is_missing(error: exc.DBAPIError) -> bool:
    """Whether ``error`` says that the database or one of its tables does not exist."""
    if _sqlstate(error) in _MISSING_SQLSTATES:
        return True
    text = str(error.orig).lower()
    return (
        "no such table" in text
        or "unable to open database file" in text
        or ("database" in text and "does not exist" in text)
    )


def _sqlstate(error: exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Raise :class:`ConnectorUnavailable` / :class:`AISNotFound` for the matching errors."""
    try:
        yield
    except exc.DBAPIError as error:
        if is_missing(error):
            raise AISNotFound(f"{what}: no reference AIS there ({_first_line(error)})") from error
        if is_transient(error):
            raise ConnectorUnavailable(
                f"{what}: the database is unavailable ({_first_line(error)})", error.orig
            ) from error
        raise


def _first_line(error: exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0][:300] if str(error.orig).strip() else "?"
