"""The audit on PostgreSQL: the database aggregates each entry's lines, Python judges entries.

An audit reads years of journal in date order; what its checks use of an entry's lines is
little: the history part its scheme (accounts with sides) and amount (total debit), the
entry part the first two digits of its line amounts (Benford) and whether it balances,
settles its document and books its VAT (the ledger's validation). :func:`read_summaries`
streams one row per posted document with those, aggregated by PostgreSQL as the rows go
(a lateral subquery over the entry's lines, by the index on ``journal_lines.entry_id``):
no journal or document line becomes a Python object.

The ledger's validation runs in SQL only as a pre-filter: the entries that could fail it
(:data:`AUDITED`'s flag, :data:`DOCUMENT_SUSPECTS`) are read in full afterwards
(:func:`read_documents`) and judged by the very same Python checks (``check_ledger``), so
their reasons are the plain path's by construction; the pre-filter is a superset (a
document line's VAT is a candidate when it is off by more than a cent could be once
rounded; see ``tests/audit/test_sql.py`` for a ledger broken each way).

Both rely on every amount being stored at its currency's scale (NUMERIC(20, 4) holding
cents, as the AIS writes them) and on currencies of at most two decimals: the plain path
quantizes each line on reading, SQL sums the stored values, and the two agree exactly then.
:data:`AUDITED` checks it row by row, and :func:`read_summaries` raises :class:`Inexact`
at the first row that breaks it: the audit takes the plain path instead.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.connectors.errors import database_errors
from ledgerpilot.connectors.reading import IN_CHUNK, document_of, list_documents
from ledgerpilot.connectors.schema import documents
from ledgerpilot.ledger import ChartOfAccounts, Document, Partner
from ledgerpilot.ledger.money import MINOR_UNITS
from ledgerpilot.ledger.validation import SETTLEMENT, TAX_SIDE, WHOLE_ENTRY_KINDS

from .digits import Digits
from .model import AuditSettings, Reason
from .surprise import Scheme

BATCH = 5000
"""Rows fetched at a time from the server-side cursor."""


class Inexact(Exception):
    """An amount the SQL path cannot read exactly (off its currency's scale, or a currency
    of more than two decimals): the audit takes the plain path instead."""


def applies(ais: object) -> bool:
    """Whether the SQL path can read ``ais``: a reference AIS on PostgreSQL."""
    return isinstance(ais, ReferenceAIS) and ais.engine.dialect.name == "postgresql"


def _bounds(since: dt.date | None, until: dt.date | None) -> dict[str, Any]:
    """``since`` (inclusive) and ``until`` (exclusive), open ends as the widest dates."""
    return {"since": since or dt.date.min, "until": until or dt.date.max}


# Decimal places per currency (a bound table of the currencies that do not have two), and
# by how much a document line's VAT may miss its rate before rounding could make it fail
# (see _ledger_params).
_UNITS = """unit(currency, places, slack) AS (
    SELECT * FROM unnest(%(currencies)s::text[], %(places)s::int[], %(slacks)s::numeric[]))"""

_SELECT = """
SELECT d.external_id, d.kind, d.number, d.date, d.currency,
       round(d.total_net, m.places), round(d.total_tax, m.places),
       round(d.total_gross, m.places), d.text,
       p.external_id, p.name, p.vat, p.country,
       e.id::text, e.date, e.description, e.posted_by, e.posted_at,
       round(g.amount, m.places), g.scheme"""

_FROM = """
FROM documents d
JOIN journal_entries e ON e.document_id = d.id
LEFT JOIN partners p ON p.id = d.partner_id
CROSS JOIN LATERAL (
    SELECT coalesce(max(places), 2) AS places FROM unit WHERE unit.currency = d.currency
) m"""

# A line's side in a scheme: "C" for a credit only, "D" otherwise (as scheme_of says).
_LINES = """
    SELECT sum(l.debit) AS amount,
           string_agg(l.account_code
                      || CASE WHEN l.credit <> 0 AND l.debit = 0 THEN 'C' ELSE 'D' END,
                      chr(31)) AS scheme"""

_WHERE = """
WHERE d.date >= %(since)s AND d.date < %(until)s
ORDER BY d.date, d.external_id"""

SUMMARIES = (
    "WITH "
    + _UNITS
    + _SELECT
    + _FROM
    + """
CROSS JOIN LATERAL ("""
    + _LINES
    + """
    FROM journal_lines l WHERE l.entry_id = e.id
) g"""
    + _WHERE
)
"""One row per posted document: its header, and its entry's amount and scheme (``account``
and side per line, in no order, joined by \\x1f)."""

AUDITED = (
    "WITH "
    + _UNITS
    + """,
settle(kind, codes, sign) AS (
    SELECT kind, array_agg(code), min(sign)
    FROM unnest(%(settle_kinds)s::text[], %(settle_codes)s::text[], %(settle_signs)s::int[])
        AS s(kind, code, sign)
    GROUP BY kind),
tax_side(kind, sign) AS (SELECT * FROM unnest(%(tax_kinds)s::text[], %(tax_signs)s::int[])),
postable(code) AS (SELECT unnest(%(postable)s::text[]))"""
    + _SELECT
    + """,
       m.places <= 2 AND g.exact
           AND d.total_net = round(d.total_net, m.places)
           AND d.total_tax = round(d.total_tax, m.places)
           AND d.total_gross = round(d.total_gross, m.places),
       g.digits, d.id,
       d.date >= %(audited_from)s AND (
           g.n = 0 OR g.unpostable OR g.amount <> g.credit
           OR s.sign * g.settled <> d.total_gross
           OR (d.kind = ANY(%(whole_kinds)s::text[]) AND g.amount <> d.total_gross)
           OR (%(taxed)s AND CASE WHEN t.sign IS NOT NULL THEN t.sign * g.tax_debit <> d.total_tax
                                  ELSE d.total_tax <> 0 AND abs(g.tax_debit) <> d.total_tax END)
           OR d.total_net + d.total_tax <> d.total_gross)"""
    + _FROM
    + """
LEFT JOIN settle s ON s.kind = d.kind
LEFT JOIN tax_side t ON t.kind = d.kind
CROSS JOIN LATERAL ("""
    + _LINES
    + """,
           coalesce(bool_and(l.debit = round(l.debit, m.places)
                             AND l.credit = round(l.credit, m.places)), true) AS exact,
           count(*) AS n, sum(l.credit) AS credit,
           bool_or(l.account_code NOT IN (SELECT code FROM postable)) AS unpostable,
           sum(CASE WHEN l.account_code = ANY(%(tax_codes)s::text[])
                    THEN l.debit - l.credit ELSE 0 END) AS tax_debit,
           sum(CASE WHEN l.account_code = ANY(s.codes)
                    THEN l.debit - l.credit ELSE 0 END) AS settled,
           string_agg(CASE WHEN d.date >= %(audited_from)s AND v.amount <> 0
                                AND abs(v.amount) >= %(least)s
                           THEN l.account_code || chr(31)
                                || left(rpad(ltrim(replace(abs(v.amount)::text, '.', ''), '0'),
                                             2, '0'), 2)
                      END, chr(30) ORDER BY l.position) AS digits
    FROM journal_lines l
    CROSS JOIN LATERAL (
        SELECT CASE WHEN l.debit <> 0 THEN l.debit ELSE l.credit END AS amount) v
    WHERE l.entry_id = e.id
) g"""
    + _WHERE
)
""":data:`SUMMARIES`, whether every amount of the row is at its currency's scale, and for
the documents to audit (dated ``audited_from`` on) the entry part's figures: the first two
digits of each line amount Benford's tests count (``account`` \\x1f digits per line, in
line order, joined by \\x1e), the document's database id, and whether its entry could fail
the ledger's validation against its totals (:func:`~.checks.check_ledger`): no lines; an
account not postable; debits unlike credits; the settled or whole amount unlike the gross;
the VAT booked unlike the document's; net and VAT unlike the gross. A superset: the exact
test is Python's, on the document read in full (and :data:`DOCUMENT_SUSPECTS` adds those
whose own lines could fail it)."""

DOCUMENT_SUSPECTS = (
    "WITH "
    + _UNITS
    + """
SELECT d.id
FROM documents d
JOIN journal_entries e ON e.document_id = d.id
JOIN document_lines x ON x.document_id = d.id
LEFT JOIN unit u ON u.currency = d.currency
WHERE d.date >= %(since)s AND d.date < %(until)s
GROUP BY d.id, d.total_net, d.total_tax, u.places, u.slack
HAVING sum(x.net) <> d.total_net OR sum(x.tax) <> d.total_tax
    OR bool_or(abs(x.net * x.tax_rate - 100 * x.tax) > coalesce(u.slack, 0.5)
               OR x.net <> round(x.net, coalesce(u.places, 2))
               OR x.tax <> round(x.tax, coalesce(u.places, 2)))"""
)
"""The posted documents dated ``since`` to ``until`` whose own lines could fail the
ledger's validation (:meth:`~ledgerpilot.ledger.Document.check`): lines unlike the totals,
a line's VAT off its rate by more than a cent could be once rounded, an amount off its
currency's scale. A superset, as :data:`AUDITED`'s."""

_SEP = chr(31)
_LINE_SEP = chr(30)


Audited = tuple[Digits, int | None]
"""What the entry part needs of a document to audit: its entry's Benford digits
(:data:`~.digits.Digits`), and its database id when the entry could fail the ledger's
validation (else ``None``)."""

Summary = tuple[Document, Scheme, Decimal, Audited | None]
"""A posted document (without its own lines, and its entry without its lines), its entry's
scheme and amount (total debit), and what the entry part needs of it (when asked for)."""


def read_summaries(
    ais: ReferenceAIS,
    since: dt.date | None,
    until: dt.date | None,
    audited: Audit | None = None,
) -> Generator[Summary, None, None]:
    """Posted documents dated ``since`` (inclusive) to ``until`` (exclusive), by date then
    id, each with its entry's scheme and amount; raises :class:`Inexact` (while streaming)
    at a document whose amounts SQL cannot sum as the plain path does.

    Neither the documents' own lines nor their entries' lines are read (``lines == ()``
    for both): what the history part uses of an entry's lines is its scheme and amount.
    ``audited``: also what the entry part needs of the documents it judges.
    """
    query, params = SUMMARIES, {**_units(), **_bounds(since, until)}
    if audited is not None:
        query = AUDITED
        params.update(audited.params())
    with database_errors("reading the journal"), ais.engine.connect() as conn, conn.begin():
        cursor = _cursor(conn)
        try:
            suspects: frozenset[int] | None = None
            if audited is not None:
                first = max(since or dt.date.min, audited.since or dt.date.min)
                found = cursor.connection.execute(
                    DOCUMENT_SUSPECTS, {**params, **_bounds(first, until)}
                )
                suspects = frozenset(row[0] for row in found)
            cursor.execute(query, params)
            yield from _summaries(cursor, suspects)
        finally:
            cursor.close()


@dataclass(frozen=True)
class Audit:
    """What the entry part's figures in :data:`AUDITED` depend on."""

    chart: ChartOfAccounts
    settings: AuditSettings
    since: dt.date | None
    """The first date judged (``None``: every document)."""

    def params(self) -> dict[str, Any]:
        """The bound values of :data:`AUDITED`: the chart and the validation's rules."""
        chart = self.chart
        settle_kinds, settle_codes, settle_signs = [], [], []
        for kind, (side, roles) in SETTLEMENT.items():
            # a kind whose settling accounts the chart does not mark is not checked
            for code in sorted(frozenset().union(*(chart.with_role(r) for r in roles))):
                settle_kinds.append(kind)
                settle_codes.append(code)
                settle_signs.append(1 if side == "debit" else -1)
        tax_codes = sorted(chart.with_role("tax"))
        return {
            "audited_from": self.since or dt.date.min,
            "least": self.settings.benford_min_amount,
            "postable": [a.code for a in chart.accounts if a.postable],
            "tax_codes": tax_codes,
            "taxed": bool(tax_codes),
            "settle_kinds": settle_kinds,
            "settle_codes": settle_codes,
            "settle_signs": settle_signs,
            "whole_kinds": sorted(WHOLE_ENTRY_KINDS),
            "tax_kinds": list(TAX_SIDE),
            "tax_signs": [1 if side == "debit" else -1 for side in TAX_SIDE.values()],
        }


def _units() -> dict[str, Any]:
    """The currencies whose minor unit is not two decimals, as bound arrays.

    ``slacks``: a document line's VAT fails when ``|net x rate / 100 - tax| > 0.01`` once
    ``net x rate / 100`` is rounded to the currency's unit, which moves it by half a unit at
    most: it can fail only if ``|net x rate - 100 x tax| > 1 - 100 x half a unit`` (0.5 for
    cents).
    """
    odd = sorted((c, n) for c, n in MINOR_UNITS.items() if n != 2)
    return {
        "currencies": [c for c, _ in odd],
        "places": [n for _, n in odd],
        "slacks": [Decimal(1) - 50 * Decimal(1).scaleb(-n) for _, n in odd],
    }


_CURSORS = itertools.count()


def _cursor(conn: Any) -> Any:
    """A server-side cursor in the connection's transaction, set for streaming an
    analytical query: UTC times, no JIT (its compile time is most of a short query's), no
    parallel workers (the audit's own processes have the cores)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute("SET LOCAL TimeZone = 'UTC'")
    driver.execute("SET LOCAL jit = off")
    driver.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    cursor = driver.cursor(name=f"audit_{next(_CURSORS)}")
    cursor.itersize = BATCH
    return cursor


ZERO = Decimal(0)


def _summaries(cursor: Any, suspects: frozenset[int] | None) -> Iterator[Summary]:
    """The rows of :data:`SUMMARIES`, or of :data:`AUDITED` when ``suspects`` (the
    documents :data:`DOCUMENT_SUSPECTS` found) is given, as :data:`Summary` tuples."""
    partners: dict[str, Partner] = {}
    schemes: dict[str, Scheme] = {}
    digit_tuples: dict[str, Digits] = {}
    while rows := cursor.fetchmany(BATCH):
        for row in rows:
            amount, sides = row[18], row[19]
            if sides is None:  # an entry without lines
                scheme: Scheme = ()
                amount = ZERO
            else:
                scheme = schemes.get(sides)  # type: ignore[assignment]
                if scheme is None:
                    scheme = schemes[sides] = _scheme(sides)
            document = document_of(row[:18], (), (), known_partners=partners)
            found: Audited | None = None
            if suspects is not None:
                exact, text_digits, db_id, suspect = row[20:]
                if not exact:
                    raise Inexact(f"document {document.id!r} has an amount off its scale")
                digits: Digits = ()
                if text_digits is not None:
                    digits = digit_tuples.get(text_digits)  # type: ignore[assignment]
                    if digits is None:
                        digits = _digits(text_digits)
                        if len(digit_tuples) < DIGITS_CACHED:
                            digit_tuples[text_digits] = digits
                found = (digits, db_id if suspect or db_id in suspects else None)
            yield document, scheme, amount, found


DIGITS_CACHED = 100_000
"""The most distinct digit lists :func:`_summaries` keeps for reuse."""


def _scheme(sides: str) -> Scheme:
    """The scheme of an entry whose lines are ``sides`` (account and side per line)."""
    return tuple(sorted({(part[:-1], part[-1]) for part in sides.split(_SEP)}))


def _digits(text: str) -> Digits:
    """An entry's (account, first two digits) per line, from ``account \\x1f digits`` joined
    by \\x1e."""
    found = []
    for part in text.split(_LINE_SEP):
        account, _, ftd = part.rpartition(_SEP)
        found.append((account, int(ftd)))
    return tuple(found)


def read_documents(ais: ReferenceAIS, ids: Sequence[int]) -> list[Document]:
    """The posted documents with these database ids, read in full (lines and all)."""
    found: list[Document] = []
    with database_errors("reading documents"), ais.engine.connect() as conn:
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            found.extend(list_documents(conn, documents.c.id.in_(chunk), posted=True))
    return found


def ending_reason(amount: Decimal, ending: int, count: int, s: AuditSettings) -> Reason:
    """The reason of an entry whose amount ends like ``count`` amounts of the period."""
    return Reason(
        "repeated_ending",
        f"{amount:,.2f} ends in {ending / 100:.2f}, like {count} amounts of the period",
        s.weight("repeated_ending"),
    )
