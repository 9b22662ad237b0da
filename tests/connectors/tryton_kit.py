"""Kit for the Tryton connector's tests: one real Tryton database, built once, copied per test.

Building a Tryton database takes about a minute on two cores (half of it trytond-admin's
initialisation), so it is built once per source version of the builder and kept in
pytest's cache folder (``.pytest_cache/d/tryton``), under a lock that xdist workers share.
Each test gets a copy with a file name of its own: trytond keeps its pool and caches per
database name.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import column, select, table

from ledgerpilot import synth
from ledgerpilot.connectors.tryton import TrytonAIS, runtime
from ledgerpilot.connectors.tryton import demo as tryton_demo
from ledgerpilot.connectors.tryton import tables as t
from ledgerpilot.connectors.tryton import types as tryton_types
from ledgerpilot.ledger import Document, EntryLine, JournalEntry
from ledgerpilot.synth import SyntheticCompany, generate

CHART, YEARS, INBOX, SEED, PER_YEAR = "hr", 1, 20, 7, 150
"""The synthetic company the database is made from: about 100 invoices posted in 2025 and
9 pending in January 2026 (the inbox's other documents are not invoices)."""

R = TypeVar("R")


@cache
def company() -> SyntheticCompany:
    """The synthetic company of the test database."""
    return generate(CHART, years=YEARS, inbox=INBOX, seed=SEED, per_year=PER_YEAR)


def _cache_key() -> str:
    """Changes with the builder, the synthetic company's code and charts, and trytond."""
    digest = hashlib.sha256()
    for module in (tryton_demo, tryton_types):
        digest.update(Path(module.__file__ or "").read_bytes())
    package = Path(synth.__file__ or "").parent.parent
    for source in sorted((*package.glob("synth/*.py"), *package.glob("charts/**/*.csv"))):
        digest.update(source.read_bytes())
    digest.update(f"{version('trytond')} {CHART} {YEARS} {INBOX} {SEED} {PER_YEAR}".encode())
    return digest.hexdigest()[:16]


def built_database(folder: Path) -> tuple[Path, tryton_demo.BuildReport | None]:
    """The cached Tryton database in ``folder``, built first when absent; and the report
    of the build when this call made it."""
    folder.mkdir(parents=True, exist_ok=True)
    key = _cache_key()
    done = folder / f"demo_{key}.sqlite"
    with open(folder / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return done, None
        work = folder / f"building_{key}.sqlite"
        for stale in folder.glob(f"building_{key}.sqlite*"):
            stale.unlink()
        synthetic = company()
        report = tryton_demo.build(
            work, synthetic.chart, synthetic.history(), synthetic.truth, synthetic.name
        )
        _checkpoint(work)
        work.replace(done)
        for leftover in folder.glob("*.sqlite*"):
            # Write-ahead logs of the build, and databases of older builder versions.
            if leftover != done:
                leftover.unlink()
        return done, report


def _checkpoint(path: Path) -> None:
    """Fold SQLite's write-ahead log into the file, so that the file alone is the database."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def copy_of(source: Path, folder: Path, name: str, query: str = "") -> str:
    """A copy of the database ``source`` as ``folder/NAME.sqlite``; its ``tryton+`` URL."""
    target = folder / f"{name}.sqlite"
    shutil.copyfile(source, target)
    return f"tryton+sqlite:///{target}{query}"


def in_tryton(ais: TrytonAIS, work: Callable[[Any], R]) -> R:
    """``work(pool)`` in a read-only trytond transaction: Tryton's own view of the database."""
    return runtime.run(ais.target, work, {"company": ais.company.id}, readonly=True)


def entry_from_invoice(ais: TrytonAIS, document: Document) -> JournalEntry:
    """The entry a bookkeeper would approve for a pending invoice, from what Tryton holds.

    Each line on its invoice line's account, VAT on the accounts of the invoice's taxes,
    the total on the invoice's payable or receivable account: what Tryton's own workflow
    would post, made here without it.
    """
    invoice_id = int(document.id.removeprefix("invoice-"))
    with ais.engine.connect() as conn:
        line_accounts = _line_accounts(conn, invoice_id)
        control = conn.execute(
            select(t.account.c.code)
            .select_from(t.invoice.join(t.account, t.account.c.id == t.invoice.c.account))
            .where(t.invoice.c.id == invoice_id)
        ).scalar_one()
    debit_side = document.kind in ("supplier_invoice", "sales_credit_note")
    tax_account = _tax_account(ais, document)

    def side(amount: Decimal, debit: bool) -> dict[str, Decimal]:
        return {"debit": amount} if debit else {"credit": amount}

    lines = [
        EntryLine(code, description=ln.description, **side(ln.net, debit_side))
        for code, ln in zip(line_accounts, document.lines, strict=True)
    ]
    if document.total_tax:
        lines.append(
            EntryLine(tax_account, description="VAT", **side(document.total_tax, debit_side))
        )
    lines.append(
        EntryLine(
            control, description=document.number, **side(document.total_gross, not debit_side)
        )
    )
    return JournalEntry(
        date=document.date, lines=tuple(lines), description=f"Invoice {document.number}"
    )


_line = table(
    "account_invoice_line",
    column("id"),
    column("invoice"),
    column("type"),
    column("account"),
    column("sequence"),
)


def _line_accounts(conn: Any, invoice_id: int) -> list[str]:
    line = _line
    return list(
        conn.execute(
            select(t.account.c.code)
            .select_from(line.join(t.account, t.account.c.id == line.c.account))
            .where(line.c.invoice == invoice_id, line.c.type == "line")
            .order_by(line.c.sequence, line.c.id)
        ).scalars()
    )


def _tax_account(ais: TrytonAIS, document: Document) -> str:
    direction = "Input" if document.kind.startswith("supplier") else "Output"

    def find(pool: Any) -> str:
        Tax = pool.get("account.tax")
        (tax, *_) = Tax.search([("name", "like", f"{direction} VAT%")])
        return str(tax.invoice_account.code)

    return in_tryton(ais, find)
