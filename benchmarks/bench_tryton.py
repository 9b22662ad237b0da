"""Speed of the Tryton connector's reads: ``history()`` over about 100,000 journal lines.

Building a Tryton database of that size through Tryton's own workflow would take hours, so
the benchmark builds (or takes) a small one made by ``ledgerpilot tryton-demo`` (about 100
invoices posted by Tryton) and multiplies its posted invoices, their lines, taxes, moves
and move lines by SQL copies with shifted ids until the moves hold ``--lines`` lines. The
copies are Tryton rows like the originals (same accounts, parties, periods), which is all
the connector reads. Then it times ``count_history()`` and streaming ``history()`` and
prints documents and journal lines per second.

    python benchmarks/bench_tryton.py --sqlite var/tryton/books.sqlite --lines 100000
    python benchmarks/bench_tryton.py --postgres postgresql://postgres@127.0.0.1/books

Both databases are changed (grown) in place: give it a copy.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from sqlalchemy import create_engine, text

from ledgerpilot.connectors.tryton import TrytonAIS

STEP = 1_000_000
"""Id offset between copies (larger than any id of the original database)."""

COPIES = {
    "account_move": (
        "id, company, date, description, journal, number, origin, period, post_date, state,"
        " create_date, create_uid",
        "id + :off, company, date, description, journal, number,"
        " 'account.invoice,' || CAST(CAST(substr(origin, 17) AS INTEGER) + :off AS VARCHAR),"
        " period, post_date, state, create_date, create_uid",
        "state = 'posted' AND origin LIKE 'account.invoice,%'",
    ),
    "account_move_line": (
        "id, move, account, debit, credit, description, party, state, maturity_date,"
        " create_date, create_uid",
        "id + :off, move + :off, account, debit, credit, description, party, state,"
        " maturity_date, create_date, create_uid",
        "move IN (SELECT move FROM account_invoice WHERE id < :step AND move IS NOT NULL"
        " AND state IN ('posted', 'paid'))",
    ),
    "account_invoice": (
        "id, company, type, state, number, reference, invoice_date, accounting_date, party,"
        " currency, journal, account, move, invoice_address, description, create_date,"
        " create_uid",
        "id + :off, company, type, state, number, reference, invoice_date, accounting_date,"
        " party, currency, journal, account, move + :off, invoice_address, description,"
        " create_date, create_uid",
        "state IN ('posted', 'paid')",
    ),
    "account_invoice_line": (
        "id, invoice, type, quantity, unit_price, account, description, sequence, currency,"
        " company, invoice_type, create_date, create_uid",
        "id + :off, invoice + :off, type, quantity, unit_price, account, description,"
        " sequence, currency, company, invoice_type, create_date, create_uid",
        "invoice IN (SELECT id FROM account_invoice WHERE id < :step"
        " AND state IN ('posted', 'paid'))",
    ),
    '"account_invoice_line-account_tax"': (
        "id, line, tax, create_date, create_uid",
        "id + :off, line + :off, tax, create_date, create_uid",
        "line IN (SELECT l.id FROM account_invoice_line l JOIN account_invoice i"
        " ON i.id = l.invoice WHERE i.id < :step AND i.state IN ('posted', 'paid'))",
    ),
    "account_invoice_tax": (
        "id, invoice, tax, amount, base, account, description, manual, sequence,"
        " create_date, create_uid",
        "id + :off, invoice + :off, tax, amount, base, account, description, manual,"
        " sequence, create_date, create_uid",
        "invoice IN (SELECT id FROM account_invoice WHERE id < :step"
        " AND state IN ('posted', 'paid'))",
    ),
}


def grow(sqlalchemy_url: str, lines: int) -> int:
    """Copy the posted invoices until the posted moves hold ``lines`` lines; how many."""
    engine = create_engine(sqlalchemy_url)
    with engine.begin() as conn:
        per_copy = conn.execute(
            text(
                "SELECT count(*) FROM account_move_line l JOIN account_move m ON m.id = l.move"
                " WHERE m.state = 'posted' AND m.id < :step"
            ),
            {"step": STEP},
        ).scalar_one()
        have = conn.execute(
            text("SELECT max(id) FROM account_move WHERE id >= :step"), {"step": STEP}
        ).scalar_one()
        if have is not None:
            raise SystemExit("this database was grown already: give the benchmark a fresh copy")
        copies = max(0, -(-lines // per_copy) - 1)
        for n in range(1, copies + 1):
            for table, (columns, values, where) in COPIES.items():
                conn.execute(
                    text(
                        f"INSERT INTO {table} ({columns}) SELECT {values} FROM {table}"
                        f" WHERE id < :step AND {where}"
                    ),
                    {"off": n * STEP, "step": STEP},
                )
        total = conn.execute(
            text(
                "SELECT count(*) FROM account_move_line l JOIN account_move m ON m.id = l.move"
                " WHERE m.state = 'posted'"
            )
        ).scalar_one()
    engine.dispose()
    return int(total)


def measure(url: str) -> dict[str, Any]:
    """Time count_history and history on the Tryton AIS at ``url``."""
    with TrytonAIS(url) as ais:
        start = time.perf_counter()
        count = ais.count_history()
        counted = time.perf_counter() - start
        start = time.perf_counter()
        documents = lines = 0
        for document in ais.history():
            documents += 1
            lines += len(document.entry.lines) if document.entry else 0
        streamed = time.perf_counter() - start
    assert documents == count
    return {
        "documents": documents,
        "lines": lines,
        "count_s": round(counted, 3),
        "history_s": round(streamed, 2),
        "documents_per_s": round(documents / streamed),
        "lines_per_s": round(lines / streamed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="a Tryton SQLite file (a copy: it is grown)")
    where.add_argument("--postgres", help="a Tryton PostgreSQL URL (a copy: it is grown)")
    parser.add_argument("--lines", type=int, default=100_000, help="journal lines to read")
    args = parser.parse_args()
    if args.sqlite:
        raw, url = f"sqlite:///{args.sqlite}", f"tryton+sqlite:///{args.sqlite}"
    else:
        raw = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        url = "tryton+" + args.postgres
    start = time.perf_counter()
    total = grow(raw, args.lines)
    print(f"grown to {total} posted journal lines in {time.perf_counter() - start:.1f} s")
    print(measure(url))


if __name__ == "__main__":
    main()
