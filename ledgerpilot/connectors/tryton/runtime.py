"""Tryton's own server code (trytond) inside this process, on the database of a ``tryton+`` URL.

Writes go through trytond's model layer (``Pool`` and ``Transaction``) so that Tryton's own
invariants hold: balanced moves, open periods, party-required accounts, move numbers from
the fiscal year's sequence, the invoice workflow. trytond configures itself per process:
its database backend (SQLite or PostgreSQL) is fixed when ``trytond.backend`` is first
imported, so one process works with Tryton databases of one backend kind. On SQLite the
database is a file ``<name>.sqlite`` in a folder that trytond reads from its configuration
at each connection, so databases in several folders can be used one after the other; their
names (the file names) must differ, because trytond keeps its pool and caches by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy.engine import URL, make_url

from ..errors import ConnectorError

PREFIX = "tryton+"
"""What an AIS URL starts with when it names a Tryton database."""

PostMode = Literal["draft", "posted"]
POST_MODES: tuple[PostMode, ...] = ("draft", "posted")

ADMIN = 1
"""The id of Tryton's ``admin`` user, who ledgerpilot's writes run as."""

_lock = threading.RLock()
T = TypeVar("T")


class TrytonUnavailable(ConnectorError):
    """trytond is not installed, or this process already runs it on another backend."""


@dataclass(frozen=True)
class TrytonTarget:
    """Where a Tryton database is, read from a ``tryton+`` URL, and how to write into it."""

    url: str
    """The URL as given, with ``tryton+``."""
    read_url: URL
    """The SQLAlchemy URL the connector reads through (password included)."""
    backend: Literal["sqlite", "postgresql"]
    database: str
    """Tryton's name for the database: the file name without ``.sqlite``, or the PostgreSQL
    database name."""
    folder: str | None
    """SQLite: the folder that holds ``<database>.sqlite``."""
    trytond_uri: str
    """trytond's ``[database] uri``: the server without a database name."""
    company: int | None
    """The company to read and write (``?company=ID``); ``None``: the only one."""
    post: PostMode
    """``posted``: an approved entry is posted in Tryton; ``draft``: it waits there as a
    draft move for a Tryton user to post (``?post=draft``)."""

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        shown = self.read_url.render_as_string(hide_password=True)
        if self.read_url.drivername == "postgresql+psycopg":
            shown = "postgresql" + shown.removeprefix("postgresql+psycopg")
        return PREFIX + shown


def parse_url(url: str, post: PostMode | None = None) -> TrytonTarget:
    """Read a ``tryton+sqlite:////path/name.sqlite`` or ``tryton+postgresql://...`` URL.

    Query parameters: ``company=ID`` (the company; default the only one) and
    ``post=draft|posted`` (default ``posted``; the ``post`` argument overrides it).
    Raises :class:`~..errors.ConnectorError` with the reason for a URL it cannot use.
    """
    if not url.startswith(PREFIX):
        raise ConnectorError(f"a Tryton AIS URL starts with {PREFIX!r}, got {url[:80]!r}")
    try:
        parsed = make_url(url.removeprefix(PREFIX))
    except Exception as exc:  # SQLAlchemy raises ArgumentError and ValueError alike
        raise ConnectorError(f"not a database URL: {url[:200]!r} ({exc})") from None
    query = dict(parsed.query)
    company_text = query.pop("company", None)
    mode = post or query.pop("post", "posted")
    query.pop("post", None)
    if isinstance(company_text, tuple) or isinstance(mode, tuple):
        raise ConnectorError("company and post may each be given once in the URL")
    if mode not in POST_MODES:
        raise ConnectorError(f"post must be 'draft' or 'posted', got {mode!r}")
    company: int | None = None
    if company_text is not None:
        if not company_text.isdigit():
            raise ConnectorError(f"company must be a Tryton company id, got {company_text!r}")
        company = int(company_text)
    parsed = parsed.set(query=query)
    dialect = parsed.get_backend_name()
    if dialect == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or path.suffix != ".sqlite":
            raise ConnectorError(
                "a Tryton SQLite database is a file named NAME.sqlite "
                f"(tryton+sqlite:////path/NAME.sqlite), got {parsed.database!r}"
            )
        path = path.resolve()
        return TrytonTarget(
            url=url,
            read_url=parsed.set(database=str(path)),
            backend="sqlite",
            database=path.stem,
            folder=str(path.parent),
            trytond_uri="sqlite://",
            company=company,
            post=mode,
        )
    if dialect == "postgresql":
        if not parsed.database:
            raise ConnectorError("the PostgreSQL URL names no database")
        server = URL.create(
            "postgresql", parsed.username, parsed.password, parsed.host, parsed.port
        )
        return TrytonTarget(
            url=url,
            read_url=parsed.set(drivername="postgresql+psycopg"),
            backend="postgresql",
            database=parsed.database,
            folder=None,
            trytond_uri=server.render_as_string(hide_password=False).rstrip("/") + "/",
            company=company,
            post=mode,
        )
    raise ConnectorError(f"Tryton runs on SQLite or PostgreSQL, not {dialect!r}")


def configure(target: TrytonTarget) -> None:
    """Point trytond's configuration at ``target``; refuse a second backend kind."""
    try:
        from trytond import config
    except ImportError:
        raise TrytonUnavailable(
            "trytond is not installed: pip install 'ledgerpilot[tryton]'"
        ) from None
    import sys

    loaded = sys.modules.get("trytond.backend")
    if loaded is not None and loaded.name != target.backend:
        raise TrytonUnavailable(
            f"this process already runs Tryton on {loaded.name}; a Tryton database on "
            f"{target.backend} needs a process of its own"
        )
    config.set("database", "uri", target.trytond_uri)
    if target.folder is not None:
        config.set("database", "path", target.folder)


def pool(target: TrytonTarget) -> Any:
    """trytond's pool for ``target``'s database, loaded once per process."""
    configure(target)
    from trytond.pool import Pool

    with _lock:
        if target.database not in Pool.database_list():
            Pool(target.database).init()
    return Pool(target.database)


def run(
    target: TrytonTarget,
    work: Callable[[Any], T],
    context: dict[str, Any] | None = None,
    *,
    readonly: bool = False,
    locks: dict[str, Any] | None = None,
    user: int = ADMIN,
) -> T:
    """``work(pool)`` in one trytond transaction on ``target``, as ``user`` (Tryton's admin).

    Commits when ``work`` returns, rolls back when it raises. Like Tryton's own request
    dispatcher, it runs ``work`` again in a new transaction when trytond asks for tables
    or records to be locked first (a singleton's creation, a sequence, ...). ``locks``:
    what to lock from the start, updated in place with what trytond asked for, so that a
    caller that keeps it pays for a retry once, not on every call.
    """
    pool(target)
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    extras: dict[str, Any] = {} if locks is None else locks
    while True:
        with _lock:
            # trytond reads the SQLite folder from its configuration when it connects.
            configure(target)
            started = Transaction().start(
                target.database, user, readonly=readonly, context=context, **extras
            )
        with started as transaction:
            try:
                return work(Pool())
            except TransactionError as error:
                transaction.rollback()
                error.fix(extras)
                continue
