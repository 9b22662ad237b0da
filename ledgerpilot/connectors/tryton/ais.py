"""The Tryton connector: a Tryton database as an :class:`~ledgerpilot.connectors.base.AIS`.

Reads go through SQLAlchemy Core over Tryton's tables (:mod:`.reading`), fast and without
Tryton's server code; writes go through Tryton's own model layer (:mod:`.writing`,
:mod:`.runtime`). The URL is ``tryton+`` and the SQLAlchemy URL of the Tryton database:
``tryton+sqlite:////path/NAME.sqlite`` or ``tryton+postgresql://user@host/NAME``, with
``?company=ID`` to choose the company and ``?post=draft`` to leave approved entries as
draft moves for a Tryton user to post (default ``posted``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from sqlalchemy import Engine, exc, inspect, select

from ledgerpilot.ledger import ChartOfAccounts, Document, JournalEntry, PostingScheme, validate
from ledgerpilot.ledger.text import unstorable
from ledgerpilot.ledger.validation import check_document_identity

from ..base import CheckItem, CheckReport, PooledConnector
from ..database import make_engine
from ..errors import (
    AISNotFound,
    AlreadyPosted,
    ConnectorError,
    ConnectorUnavailable,
    DocumentNotFound,
    EntryRefused,
    PostingConflict,
    PostingError,
    is_missing,
    is_transient,
)
from ..posting import PostingResult
from ..schema import KEY_LENGTH
from . import reading, runtime
from . import tables as t
from .writing import write_move


class TrytonAIS(PooledConnector):
    """A Tryton database (``account_invoice`` active) at a ``tryton+`` URL; see the module."""

    def __init__(self, url: str, post: runtime.PostMode | None = None) -> None:
        self.target = runtime.parse_url(url, post)
        self.engine: Engine = make_engine(self.target.read_url)
        """The SQLAlchemy engine the connector reads through."""
        self._locks: dict[str, Any] = {}

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return self.target.display_url

    @property
    def post_mode(self) -> runtime.PostMode:
        """``posted`` or ``draft``: what becomes of an approved entry in Tryton."""
        return self.target.post

    @cached_property
    def company(self) -> reading.Company:
        """The company read and written (``?company=ID``, or the only one)."""
        with self._errors("reading the company"), self.engine.connect() as conn:
            return reading.company(conn, self.target.company)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except exc.DBAPIError as error:
            first = str(error.orig).strip().splitlines()[0][:300] if str(error.orig) else "?"
            if is_missing(error):
                raise AISNotFound(
                    f"{what}: no Tryton database with the accounting modules at "
                    f"{self.display_url} ({first})"
                ) from error
            if is_transient(error):
                raise ConnectorUnavailable(
                    f"{what}: the database is unavailable ({first})", error.orig
                ) from error
            raise

    # ------------------------------------------------------------ reading

    def chart(self) -> ChartOfAccounts:
        """The company's chart of accounts, by code."""
        with self._errors("reading the chart"), self.engine.connect() as conn:
            return reading.chart(conn, self.company.id)

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """Draft and validated invoices without an entry, by date then id."""
        query = reading.invoice_query(self.company.id, reading.pending_filter())
        if limit is not None:
            query = query.limit(max(0, limit))
        with self._errors("reading pending documents"), self.engine.connect() as conn:
            return list(reading.documents(conn, conn.execute(query).all(), with_entry=False))

    def get_document(self, external_id: str) -> Document | None:
        """The invoice (``invoice-ID``) or move (``move-ID``), with its entry; ``None``."""
        with self._errors(f"reading document {external_id[:80]!r}"), self.engine.connect() as conn:
            return reading.get_document(conn, self.company, external_id)

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterator[Document]:
        """Posted invoices and other posted moves, with their entries, by date then id."""
        company = self.company
        with self._errors("reading the posting history"), self.engine.connect() as conn:
            conn = conn.execution_options(yield_per=reading.BATCH)
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield from reading.history(conn, company, since, until)

    def count_history(self, since: dt.date | None = None, until: dt.date | None = None) -> int:
        """How many documents :meth:`history` would yield."""
        with self._errors("counting the posting history"), self.engine.connect() as conn:
            return reading.count_history(conn, self.company.id, since, until)

    def count_pending(self) -> int:
        """How many invoices :meth:`pending_documents` would give."""
        with self._errors("counting pending documents"), self.engine.connect() as conn:
            return reading.invoice_count(conn, self.company.id, reading.pending_filter())

    # ------------------------------------------------------------ writing

    def post_entry(
        self, document_id: str, entry: JournalEntry, key: str, posted_by: str | None = None
    ) -> PostingResult:
        """Write an approved entry as the invoice's Tryton move, at most once per ``key``.

        A key seen before returns its move with ``created=False`` and writes nothing.
        Raises (and writes nothing) :class:`~..errors.DocumentNotFound`,
        :class:`~..errors.AlreadyPosted` (the invoice has a posted move, or one written
        under another key), :class:`~..errors.PostingConflict` (the key belongs to another
        document's move) or :class:`~..errors.EntryRefused` (the entry does not validate
        against the chart and the document, or Tryton refuses it: no open period, say).
        The move is written as the Tryton user whose login is ``posted_by`` when there is
        one (Tryton records who created a move), else as Tryton's admin.
        """
        if not key or len(key) > KEY_LENGTH or "]" in key or not key.isprintable():
            raise PostingError(
                f"the posting key must have 1 to {KEY_LENGTH} printable characters, without ']'"
            )
        parsed = reading.parse_id(document_id)
        known = self._move_by_key(key)
        if known is not None:
            owner, move_id = known
            if owner != document_id:
                raise PostingConflict(
                    f"posting key {key[:80]!r} was already used for move {move_id} of "
                    f"{owner[:80]!r}, not {document_id[:80]!r}"
                )
            return PostingResult(move_id, False)
        document = self.get_document(document_id)
        if parsed is None or document is None:
            raise DocumentNotFound(f"there is no document {document_id[:80]!r} in the AIS")
        if parsed[0] == "move":
            raise AlreadyPosted(f"document {document_id!r} is a posted move")
        if document.entry is not None:
            raise AlreadyPosted(
                f"document {document_id[:80]!r} is already posted as move {document.entry.id}"
            )
        self._validate(document, entry)
        company = self.company
        invoice_id = parsed[1]
        # The invoice's row is locked from the start (two posts of one document wait for
        # each other); what else trytond asked to lock (sequences, journal periods) is kept
        # for the next post, so that only the first one restarts its transaction.
        locks: dict[str, Any] = {
            "_lock_tables": list(self._locks.get("_lock_tables", [])),
            "_lock_records": {
                **{k: list(v) for k, v in self._locks.get("_lock_records", {}).items()},
                "account_invoice": [invoice_id],
            },
        }
        try:
            result = runtime.run(
                self.target,
                lambda pool: write_move(
                    pool, company.id, invoice_id, document_id, entry, key, self.target.post
                ),
                {"company": company.id, "_skip_warnings": True},
                locks=locks,
                user=self._user(posted_by),
            )
        except ConnectorError:
            raise
        except Exception as error:
            raise _translated(error, document_id) from error
        records = dict(locks.get("_lock_records", {}))
        records.pop("account_invoice", None)
        self._locks = {"_lock_tables": locks.get("_lock_tables", []), "_lock_records": records}
        return result

    def _user(self, login: str | None) -> int:
        """The Tryton user with this login (moves record who wrote them), else admin."""
        if not login:
            return runtime.ADMIN
        u = t.user
        with self._errors("looking up the Tryton user"), self.engine.connect() as conn:
            found = conn.execute(
                select(u.c.id).where(u.c.login == login, u.c.active.is_not(False))
            ).scalar()
        return int(found) if found is not None else runtime.ADMIN

    def _move_by_key(self, key: str) -> tuple[str, str] | None:
        """(document id, move id) of the move written under ``key``; ``None``: none."""
        text = reading.marker(key)
        m = t.move
        with self._errors("looking up the posting key"), self.engine.connect() as conn:
            rows = conn.execute(
                select(m.c.id, m.c.origin, m.c.description).where(
                    m.c.company == self.company.id, m.c.description.like(f"%{text}")
                )
            ).all()
        for row in rows:
            if (row.description or "").endswith(text):
                model, _, number = str(row.origin or "").partition(",")
                owner = f"invoice-{number}" if model == "account.invoice" else f"move-{row.id}"
                return owner, str(row.id)
        return None

    def _validate(self, document: Document, entry: JournalEntry) -> None:
        chart = self.chart()
        scheme = PostingScheme(
            document=document.id,
            kind=document.kind,
            explanation=entry.description,
            lines=entry.lines,
            currency=document.currency,
        )
        violations = validate(scheme, chart) + check_document_identity(scheme, chart, document)
        problem = unstorable([entry.description, *(ln.description for ln in entry.lines)])
        if problem is not None:
            raise EntryRefused(f"the entry's text {problem}")
        if violations:
            listed = "; ".join(
                (f"line {v.line}: " if v.line else "") + v.message for v in violations
            )
            raise EntryRefused(f"entry for document {document.id!r} refused: {listed}", violations)

    # ------------------------------------------------------------ check on connect

    def check(self) -> CheckReport:
        """What this Tryton database lacks for ledgerpilot's work; never raises for a lack."""
        items: list[CheckItem] = []
        add = items.append
        try:
            with self.engine.connect() as conn:
                have = inspect(conn)
                tables = set(have.get_table_names())
                missing_tables = [name for name in t.REQUIRED if name not in tables]
                for name in missing_tables:
                    add(
                        CheckItem(
                            "error",
                            name,
                            "table missing: is Tryton's account_invoice module active?",
                        )
                    )
                for name, columns in t.REQUIRED.items():
                    if name in missing_tables:
                        continue
                    found = {c["name"] for c in have.get_columns(name)}
                    for column in columns:
                        if column not in found:
                            add(CheckItem("error", f"{name}.{column}", "column missing"))
                if "account_statement_line" in tables:
                    add(
                        CheckItem(
                            "info",
                            "bank statement",
                            "Tryton's bank statements are not read (only invoices and moves)",
                        )
                    )
                if any(i.severity == "error" for i in items):
                    return CheckReport(self.display_url, "tryton", tuple(items))
                try:
                    company = reading.company(conn, self.target.company)
                except ConnectorError as error:
                    add(CheckItem("error", "company", str(error)))
                    return CheckReport(self.display_url, "tryton", tuple(items))
                add(
                    CheckItem(
                        "info", "company", f"{company.name} (id {company.id}, {company.currency})"
                    )
                )
                self._check_chart(conn, company, add)
                self._check_periods(conn, company, add)
                self._check_documents(conn, company, add)
        except (exc.DBAPIError, ConnectorError) as error:
            add(CheckItem("error", "database", f"cannot read {self.display_url}: {error}"))
            return CheckReport(self.display_url, "tryton", tuple(items))
        self._check_writing(add)
        return CheckReport(self.display_url, "tryton", tuple(items))

    def _check_chart(self, conn: Any, company: reading.Company, add: Any) -> None:
        a, ty = t.account, t.account_type
        rows = conn.execute(
            select(a.c.code, a.c.type, ty.c.statement)
            .select_from(a.outerjoin(ty, ty.c.id == a.c.type))
            .where(a.c.company == company.id)
        ).all()
        if not rows:
            add(
                CheckItem(
                    "error", "account", "the company has no accounts: create its chart in Tryton"
                )
            )
            return
        if not any(r.type is not None for r in rows):
            add(
                CheckItem(
                    "error", "account.type", "no account has a type: Tryton cannot post to any"
                )
            )
        # A chart's root has the root type (no statement) and rarely a code: not a lack.
        uncoded = [r for r in rows if r.statement and not (r.code or "").strip()]
        if uncoded:
            add(
                CheckItem(
                    "warning",
                    "account.code",
                    f"{len(uncoded)} accounts with a type have no code; ledgerpilot cannot "
                    "name them in an entry",
                )
            )
        chart = reading.chart(conn, company.id)
        postable = sum(1 for acc in chart if acc.postable)
        add(CheckItem("info", "chart", f"{len(chart)} accounts with a code, {postable} postable"))
        for role in ("receivable", "payable", "tax"):
            if not chart.with_role(role):
                add(
                    CheckItem(
                        "warning",
                        "chart",
                        f"no {role} account: entries cannot be checked against documents",
                    )
                )

    def _check_periods(self, conn: Any, company: reading.Company, add: Any) -> None:
        p, f = t.period, t.fiscalyear
        open_periods = conn.execute(
            select(p.c.start_date, p.c.end_date)
            .select_from(p.join(f, f.c.id == p.c.fiscalyear))
            .where(f.c.company == company.id, p.c.state == "open", p.c.type == "standard")
            .order_by(p.c.start_date)
        ).all()
        if not open_periods:
            add(CheckItem("warning", "period", "no open period: approved entries cannot be posted"))
        else:
            add(
                CheckItem(
                    "info",
                    "period",
                    f"open periods from {open_periods[0].start_date} to {open_periods[-1].end_date}",
                )
            )

    def _check_documents(self, conn: Any, company: reading.Company, add: Any) -> None:
        history = reading.count_history(conn, company.id, None, None)
        pending = reading.invoice_count(conn, company.id, reading.pending_filter())
        if history == 0:
            add(
                CheckItem(
                    "warning",
                    "journal entry",
                    "no posting history: the memory backend has nothing to learn from",
                )
            )
        add(CheckItem("info", "history", f"{history} posted documents"))
        add(CheckItem("info", "pending", f"{pending} invoices waiting for an entry"))
        i, c = t.invoice, t.currency
        foreign = (
            conn.execute(
                select(c.c.code)
                .select_from(i.join(c, c.c.id == i.c.currency))
                .where(i.c.company == company.id, c.c.code != company.currency)
                .distinct()
            )
            .scalars()
            .all()
        )
        if foreign:
            add(
                CheckItem(
                    "warning",
                    "invoice.currency",
                    f"invoices in {', '.join(sorted(foreign))}: their moves are in {company.currency}, so their entries are read in the company currency",
                )
            )

    def _check_writing(self, add: Any) -> None:
        try:
            runtime.configure(self.target)
        except ConnectorError as error:
            add(
                CheckItem(
                    "warning", "writing", f"approved entries cannot be posted from here: {error}"
                )
            )
            return
        add(
            CheckItem(
                "info",
                "writing",
                f"approved entries are written as Tryton moves ({self.target.post})",
            )
        )


def _translated(error: Exception, document_id: str) -> Exception:
    """trytond's database errors as connector errors; others unchanged."""
    try:
        from trytond import backend
    except ImportError:  # pragma: no cover - trytond is imported by the time this runs
        return error
    text = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    if isinstance(error, backend.DatabaseOperationalError):
        lowered = text.lower()
        if any(w in lowered for w in ("doesn't exist", "does not exist", "no such table")):
            return AISNotFound(f"posting {document_id[:80]!r}: {text}")
        return ConnectorUnavailable(
            f"posting {document_id[:80]!r}: the database is unavailable ({text})", error
        )
    if isinstance(error, (backend.DatabaseIntegrityError, backend.DatabaseDataError)):
        return EntryRefused(f"Tryton's database refused the entry for {document_id[:80]!r}: {text}")
    return error


def open_tryton(url: str, post: runtime.PostMode | None = None) -> TrytonAIS:
    """Open the Tryton database at ``url`` (``tryton+...``); raise when there is none.

    Raises :class:`~..errors.AISNotFound` for a missing file or database or one without
    Tryton's accounting tables, and :class:`~..errors.ConnectorError` for a URL it cannot
    use or a company that cannot be chosen.
    """
    ais = TrytonAIS(url, post)
    try:
        with ais._errors(f"opening {ais.display_url}"), ais.engine.connect() as conn:
            if not inspect(conn).has_table("account_invoice"):
                raise AISNotFound(
                    f"{ais.display_url} is not a Tryton database with the account_invoice module"
                )
        _ = ais.company
    except BaseException:
        ais.close()
        raise
    return ais
