"""Speed of the reference AIS connector: bulk ``load()`` and streamed ``history()``.

Generates N synthetic-looking documents in memory (three document lines and four journal
lines each, like the synthetic company's), loads them into a temporary SQLite file and a
temporary PostgreSQL database, streams them back, and prints documents per second.

    python benchmarks/bench_connectors.py --documents 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from ledgerpilot.connectors import ReferenceAIS, builtin_chart, loading
from ledgerpilot.ledger import Document, DocumentLine, EntryLine, JournalEntry, Partner

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
CENT = Decimal("0.01")


def synthetic_documents(count: int) -> Iterator[Document]:
    """``count`` balanced supplier and sales invoices over four years, deterministic."""
    partners = [
        Partner(f"P{n:04d}", f"Partner {n} d.o.o.", f"HR{n:011d}", "HR") for n in range(500)
    ]
    start = dt.date(2021, 1, 1)
    for i in range(count):
        date = start + dt.timedelta(days=i * 1461 // max(count, 1))
        nets = [Decimal(100 + (i * 37 + k * 11) % 900) + Decimal(i % 100) * CENT for k in range(3)]
        taxes = [(net * Decimal("0.25")).quantize(CENT) for net in nets]
        net, tax = sum(nets, Decimal(0)), sum(taxes, Decimal(0))
        gross = net + tax
        sales = i % 3 == 0
        if sales:
            entry_lines = (
                EntryLine("1210", debit=gross),
                EntryLine("4000", credit=nets[0]),
                EntryLine("4000", credit=nets[1] + nets[2]),
                EntryLine("2510", credit=tax),
            )
        else:
            entry_lines = (
                EntryLine("6000", debit=nets[0] + nets[1]),
                EntryLine("6120", debit=nets[2]),
                EntryLine("1310", debit=tax),
                EntryLine("2110", credit=gross),
            )
        yield Document(
            id=f"DOC-{i:08d}",
            kind="sales_invoice" if sales else "supplier_invoice",
            number=f"R-{i}",
            date=date,
            partner=partners[i % len(partners)],
            currency="EUR",
            lines=tuple(
                DocumentLine(f"Item {k}", n, Decimal(25), t)
                for k, (n, t) in enumerate(zip(nets, taxes, strict=True))
            ),
            total_net=net,
            total_tax=tax,
            total_gross=gross,
            text=f"Invoice {i}",
            entry=JournalEntry(date=date, lines=entry_lines, description=f"Invoice {i}"),
        )


def measure(url: str, count: int) -> tuple[float, float]:
    """Load ``count`` documents into a new AIS at ``url``; docs/s of load and of history."""
    with ReferenceAIS.create(url) as ais:
        docs = list(synthetic_documents(count))
        started = time.perf_counter()
        report = ais.load(docs, chart=builtin_chart("generic"))
        load_s = time.perf_counter() - started
        assert report.inserted == count, report.rejected[:3]
        started = time.perf_counter()
        streamed = sum(1 for _ in ais.history())
        history_s = time.perf_counter() - started
        assert streamed == count
    return count / load_s, count / history_s


@contextmanager
def postgres_database(skip: bool = False) -> Iterator[str | None]:
    """A temporary PostgreSQL database, or ``None`` when skipped or unreachable."""
    if skip:
        yield None
        return
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # the benchmark reports and goes on without PostgreSQL
        print(f"PostgreSQL unavailable: {exc}")
        yield None
        return
    name = f"lp_bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--documents",
        type=int,
        default=100_000,
        help="documents to load and stream (default 100000)",
    )
    parser.add_argument(
        "--no-helper",
        action="store_true",
        help="write SQLite batches in this process, not in the helper process",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    args = parser.parse_args()
    if args.no_helper:
        loading.HELPER_AFTER_BATCHES = None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite", *measure(f"sqlite:///{Path(tmp) / 'ais.sqlite'}", args.documents)))
    with postgres_database(skip=args.skip_postgres) as url:
        if url is not None:
            rows.append(("PostgreSQL", *measure(url, args.documents)))
    print(f"\n{args.documents} documents (3 document lines, 4 journal lines each)")
    print(f"{'database':<12}{'load docs/s':>14}{'history docs/s':>16}")
    for name, load, history in rows:
        print(f"{name:<12}{load:>14,.0f}{history:>16,.0f}")


if __name__ == "__main__":
    main()
