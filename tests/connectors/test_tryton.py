"""The Tryton connector on a real Tryton database, checked against Tryton's own model layer.

The database is built by :mod:`ledgerpilot.connectors.tryton.demo` (trytond-admin, Tryton's
universal chart template plus the synthetic company's chart, a year of invoices posted by
Tryton's invoice workflow, an inbox of validated and draft invoices), once per builder
version (see :mod:`tests.connectors.tryton_kit`), and copied for each test that writes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trytond", reason="the tryton extra is not installed")

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.drafting import decide, draft_pending
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.connectors import (
    AlreadyPosted,
    ConnectorError,
    DocumentNotFound,
    EntryRefused,
    PostingConflict,
)
from ledgerpilot.connectors.base import AIS
from ledgerpilot.connectors.tryton import TrytonAIS, open_tryton, parse_url, runtime
from ledgerpilot.connectors.tryton.demo import INVOICE_KINDS
from ledgerpilot.ledger import AccountType, EntryLine, JournalEntry
from ledgerpilot.review import ProposalStore
from tests.agent.drafting_kit import add_reviewers, approve
from tests.connectors import tryton_kit as kit

pytestmark = pytest.mark.filterwarnings(
    "ignore:trytond.config.config is deprecated:DeprecationWarning"
)

HISTORY_INVOICES = sum(1 for d in kit.company().history() if d.kind in INVOICE_KINDS)
INBOX_INVOICES = sum(1 for d in kit.company().truth if d.kind in INVOICE_KINDS)


@pytest.fixture(scope="session")
def tryton_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built Tryton database (from pytest's cache, or built now)."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tryton") if cache is not None else tmp_path_factory.mktemp("tryton")
    path, _ = kit.built_database(Path(folder))
    return path


@pytest.fixture(scope="module")
def shared(tryton_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonAIS]:
    """A copy for the tests that only read."""
    folder = tmp_path_factory.mktemp("tryton_read")
    with open_tryton(kit.copy_of(tryton_db, folder, f"read_{folder.name}")) as ais:
        yield ais


def fresh(tryton_db: Path, tmp_path: Path, query: str = "") -> TrytonAIS:
    """A copy of its own for a test that writes."""
    return open_tryton(kit.copy_of(tryton_db, tmp_path, f"w_{tmp_path.name}", query))


def tryton_moves(ais: TrytonAIS) -> int:
    """How many moves Tryton holds."""
    return kit.in_tryton(ais, lambda pool: pool.get("account.move").search_count([]))


# ------------------------------------------------------------ URL


def test_the_url_names_the_database_the_company_and_the_post_setting(tmp_path: Path) -> None:
    target = parse_url(f"tryton+sqlite:///{tmp_path}/acme.sqlite?company=2&post=draft")
    assert (target.backend, target.database, target.folder) == ("sqlite", "acme", str(tmp_path))
    assert (target.company, target.post) == (2, "draft")
    assert str(target.read_url) == f"sqlite:///{tmp_path}/acme.sqlite"
    pg = parse_url("tryton+postgresql://lp:secret@db.example:5433/books")
    assert (pg.backend, pg.database, pg.trytond_uri) == (
        "postgresql",
        "books",
        "postgresql://lp:secret@db.example:5433/",
    )
    assert pg.display_url == "tryton+postgresql://lp:***@db.example:5433/books"
    assert pg.post == "posted"
    for bad in (
        "sqlite:///x.sqlite",
        f"tryton+sqlite:///{tmp_path}/acme.db",
        "tryton+sqlite:///a.sqlite?post=later",
        "tryton+sqlite:///a.sqlite?company=first",
        "tryton+mysql://h/db",
    ):
        with pytest.raises(ConnectorError):
            parse_url(bad)


# ------------------------------------------------------------ reading


def test_the_chart_is_ours_with_types_roles_and_postable_flags_plus_trytons_template(
    shared: TrytonAIS,
) -> None:
    assert isinstance(shared, AIS)
    chart = shared.chart()
    ours = kit.company().chart
    for account in ours:
        read = chart[account.code]
        assert read.name == account.name
        assert read.postable == account.postable, account.code
        if account.postable:
            assert read.type == account.type, account.code
    assert chart["120000"].role == "receivable" and chart["220000"].role == "payable"
    assert {"140000", "240000"} <= chart.with_role("tax")
    # Tryton's own universal chart came with the template: its cash account and a view.
    assert chart["1.1.1"].type == AccountType.ASSET_CASH and chart["1.1.1"].postable
    assert not chart["1.1.0"].postable
    assert len(chart) > len(ours)


def test_pending_invoices_are_documents_with_the_totals_tryton_computes(
    shared: TrytonAIS,
) -> None:
    pending = shared.pending_documents()
    assert len(pending) == INBOX_INVOICES == shared.count_pending()
    assert [d.date for d in pending] == sorted(d.date for d in pending)
    assert {d.kind for d in pending} == {"supplier_invoice", "sales_invoice"}
    assert shared.pending_documents(limit=2) == pending[:2]

    def totals(pool: Any) -> dict[str, tuple[str, tuple[Decimal, Decimal, Decimal]]]:
        Invoice = pool.get("account.invoice")
        return {
            f"invoice-{i.id}": (i.state, (i.untaxed_amount, i.tax_amount, i.total_amount))
            for i in Invoice.search([("state", "in", ["draft", "validated"])])
        }

    tryton = kit.in_tryton(shared, totals)
    assert {state for state, _ in tryton.values()} == {"draft", "validated"}
    for document in pending:
        assert document.entry is None
        assert document.check() == []
        assert (document.total_net, document.total_tax, document.total_gross) == tryton[
            document.id
        ][1]
        assert document.partner is not None and document.partner.id.startswith(("SUP", "CUS"))
        assert all(ln.tax_rate in (0, 5, 13, 25) for ln in document.lines)


def test_the_history_is_what_trytons_invoice_workflow_posted(shared: TrytonAIS) -> None:
    history = list(shared.history())
    assert len(history) == HISTORY_INVOICES == shared.count_history()
    assert [d.date for d in history] == sorted(d.date for d in history)

    def moves(pool: Any) -> dict[str, list[tuple[str, Decimal, Decimal]]]:
        Move = pool.get("account.move")
        return {
            str(m.id): sorted((ln.account.code, ln.debit, ln.credit) for ln in m.lines)
            for m in Move.search([("state", "=", "posted")])
        }

    posted = kit.in_tryton(shared, moves)
    for document in history:
        assert document.entry is not None and document.entry.is_balanced()
        assert document.check() == []
        lines = sorted((ln.account, ln.debit, ln.credit) for ln in document.entry.lines)
        assert lines == posted[str(document.entry.id)]
        gross = sum(ln.debit for ln in document.entry.lines)
        assert gross == document.total_gross
    first_half = shared.count_history(until=dt.date(2025, 7, 1))
    assert 0 < first_half < len(history)
    assert first_half + shared.count_history(since=dt.date(2025, 7, 1)) == len(history)
    assert len(list(shared.history(since=dt.date(2025, 7, 1)))) == len(history) - first_half
    (one,) = [d for d in history if d.id == history[5].id]
    assert shared.get_document(one.id) == one
    assert shared.get_document("invoice-999999") is None
    assert shared.get_document("SI-2025-000001") is None


def test_the_check_on_connect_reports_what_the_database_holds(shared: TrytonAIS) -> None:
    report = shared.check()
    assert report.ok and report.kind == "tryton"
    assert [i for i in report.items if i.severity != "info"] == []
    facts = {i.subject: i.message for i in report.items}
    assert facts["history"] == f"{HISTORY_INVOICES} posted documents"
    assert facts["pending"] == f"{INBOX_INVOICES} invoices waiting for an entry"
    assert "posted" in facts["writing"]


def test_open_ais_and_check_ais_dispatch_a_tryton_url(shared: TrytonAIS) -> None:
    from ledgerpilot.connectors import check_ais, open_ais

    with open_ais(shared.target.url) as ais:
        assert isinstance(ais, TrytonAIS)
        assert ais.count_history() == HISTORY_INVOICES
    report = check_ais(shared.target.url)
    assert report.ok and report.kind == "tryton"


def test_a_missing_tryton_database_is_reported(tmp_path: Path) -> None:
    from ledgerpilot.connectors import AISNotFound

    with pytest.raises(AISNotFound):
        open_tryton(f"tryton+sqlite:///{tmp_path}/none.sqlite")
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(AISNotFound, match="not a Tryton database"):
        open_tryton(f"tryton+sqlite:///{empty}")


def test_tryton_demo_refuses_to_overwrite_a_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    taken = tmp_path / "books.sqlite"
    taken.write_text("not mine")
    result = CliRunner().invoke(app, ["tryton-demo", "--out", str(taken)])
    assert result.exit_code == 2
    assert "exists already" in result.output
    assert taken.read_text() == "not mine"


def test_the_check_names_a_missing_table(tryton_db: Path, tmp_path: Path) -> None:
    import sqlite3

    url = kit.copy_of(tryton_db, tmp_path, f"broken_{tmp_path.name}")
    conn = sqlite3.connect(tmp_path / f"broken_{tmp_path.name}.sqlite")
    conn.execute("DROP TABLE account_invoice_tax")
    conn.commit()
    conn.close()
    with TrytonAIS(url) as ais:
        report = ais.check()
    assert not report.ok
    assert ("error", "account_invoice_tax") in {(i.severity, i.subject) for i in report.items}


# ------------------------------------------------------------ writing


def test_an_approved_entry_becomes_the_invoices_posted_move_once(
    tryton_db: Path, tmp_path: Path
) -> None:
    with fresh(tryton_db, tmp_path) as ais:
        pending = ais.pending_documents()
        supplier = next(d for d in pending if d.kind == "supplier_invoice")
        sales = next(d for d in pending if d.kind == "sales_invoice")
        before_moves = tryton_moves(ais)
        entry = kit.entry_from_invoice(ais, supplier)
        result = ais.post_entry(supplier.id, entry, "proposal-1", posted_by="ana")
        assert result.created

        def seen(pool: Any) -> dict[str, Any]:
            Move = pool.get("account.move")
            Invoice = pool.get("account.invoice")
            move = Move(int(result.entry_id))
            invoice = Invoice(int(supplier.id.removeprefix("invoice-")))
            return {
                "state": move.state,
                "number": move.number,
                "balance": sum(ln.debit - ln.credit for ln in move.lines),
                "in_period": move.period.start_date <= move.date <= move.period.end_date,
                "period_open": move.period.state == "open",
                "journal": move.journal.id == invoice.journal.id,
                "origin": str(move.origin),
                "invoice": (invoice.state, invoice.move.id),
                "lines": sorted((ln.account.code, ln.debit, ln.credit) for ln in move.lines),
                "parties": {ln.account.code: ln.party and ln.party.code for ln in move.lines},
            }

        move = kit.in_tryton(ais, seen)
        assert move["state"] == "posted" and move["number"]
        assert move["balance"] == 0 and move["in_period"] and move["period_open"]
        assert move["journal"] and move["origin"] == f"account.invoice,{supplier.id[8:]}"
        assert move["invoice"] == ("posted", int(result.entry_id))
        assert move["lines"] == sorted((ln.account, ln.debit, ln.credit) for ln in entry.lines)
        control = entry.lines[-1].account
        assert move["parties"][control] == supplier.partner.id  # type: ignore[union-attr]
        # Tryton's own draft move of the validated invoice gave way to ours.
        assert tryton_moves(ais) == before_moves
        assert supplier.id not in {d.id for d in ais.pending_documents()}
        assert ais.count_history() == HISTORY_INVOICES + 1
        read = ais.get_document(supplier.id)
        assert read is not None and read.entry is not None
        assert read.entry.id == result.entry_id and read.entry.description == entry.description
        # Again with the same key: nothing written; another key: refused; the key elsewhere: conflict.
        again = ais.post_entry(supplier.id, entry, "proposal-1")
        assert (again.entry_id, again.created) == (result.entry_id, False)
        with pytest.raises(AlreadyPosted, match="already posted as move"):
            ais.post_entry(supplier.id, entry, "proposal-2")
        with pytest.raises(PostingConflict):
            ais.post_entry(sales.id, kit.entry_from_invoice(ais, sales), "proposal-1")
        assert tryton_moves(ais) == before_moves
        # A draft sales invoice: Tryton numbers and posts it with our move.
        done = ais.post_entry(sales.id, kit.entry_from_invoice(ais, sales), "proposal-3")
        assert done.created and tryton_moves(ais) == before_moves + 1
        number = kit.in_tryton(
            ais, lambda pool: pool.get("account.invoice")(int(sales.id[8:])).number
        )
        assert number and number.startswith("2026/")


def test_under_post_draft_the_move_waits_for_a_tryton_user(tryton_db: Path, tmp_path: Path) -> None:
    with fresh(tryton_db, tmp_path, "?post=draft") as ais:
        assert ais.post_mode == "draft"
        document = next(d for d in ais.pending_documents() if d.kind == "sales_invoice")
        result = ais.post_entry(document.id, kit.entry_from_invoice(ais, document), "p-9")
        state = kit.in_tryton(
            ais,
            lambda pool: (
                pool.get("account.move")(int(result.entry_id)).state,
                pool.get("account.invoice")(int(document.id[8:])).state,
            ),
        )
        assert state == ("draft", "validated")
        assert document.id not in {d.id for d in ais.pending_documents()}
        assert ais.count_history() == HISTORY_INVOICES
        read = ais.get_document(document.id)
        assert read is not None and read.entry is not None and read.entry.id == result.entry_id
        again = ais.post_entry(document.id, kit.entry_from_invoice(ais, document), "p-9")
        assert (again.entry_id, again.created) == (result.entry_id, False)


def test_refused_entries_write_nothing(tryton_db: Path, tmp_path: Path) -> None:
    with fresh(tryton_db, tmp_path) as ais:
        document = ais.pending_documents()[0]
        entry = kit.entry_from_invoice(ais, document)
        before = tryton_moves(ais)
        unbalanced = JournalEntry(
            entry.date, (*entry.lines[:-1], EntryLine(entry.lines[-1].account, credit=Decimal("1")))
        )
        with pytest.raises(EntryRefused) as refused:
            ais.post_entry(document.id, unbalanced, "k-1")
        assert "unbalanced" in {v.code for v in refused.value.violations}
        with pytest.raises(EntryRefused, match="Tryton refused"):
            # No fiscal year in 2031: Tryton finds no period.
            ais.post_entry(document.id, JournalEntry(dt.date(2031, 1, 5), entry.lines), "k-2")
        with pytest.raises(DocumentNotFound):
            ais.post_entry("invoice-999999", entry, "k-3")
        with pytest.raises(DocumentNotFound):
            ais.post_entry("SI-1", entry, "k-4")
        assert tryton_moves(ais) == before
        assert document.id in {d.id for d in ais.pending_documents()}


def test_the_inbox_drafts_with_the_memory_backend_and_an_approval_posts_in_tryton(
    tryton_db: Path, tmp_path: Path
) -> None:
    def memory(ais: Any) -> MemoryBackend:
        return MemoryBackend(HistoryIndex.build(ais.history(), ais.chart()))

    with (
        fresh(tryton_db, tmp_path) as ais,
        ProposalStore.create(f"sqlite:///{tmp_path / 'store.sqlite'}") as store,
    ):
        add_reviewers(store)
        pending = [d.id for d in ais.pending_documents()]
        outcomes = list(draft_pending(ais, store, memory))
        assert [o.document_id for o in outcomes] == pending
        proposed = [o for o in outcomes if o.status == "proposed"]
        assert len(proposed) >= len(pending) // 2
        history = {d.id for d in ais.history()}
        for outcome in proposed:
            assert outcome.violations == ()
            assert outcome.evidence and set(outcome.evidence) <= history
        chosen = proposed[0]
        assert chosen.proposal_id is not None
        # The approver has a Tryton login too: the move is written in her name.
        runtime.run(
            ais.target,
            lambda pool: pool.get("res.user").create([{"login": "ana", "name": "Ana"}]),
        )
        done = decide(store, ais, chosen.proposal_id, approve("ana"))
        assert done.proposal.status == "posted"
        read = ais.get_document(chosen.document_id)
        assert read is not None and read.entry is not None
        assert read.entry.posted_by == "ana"
        move_id = int(str(read.entry.id))
        assert str(move_id) == done.proposal.ais_entry_id
        state = kit.in_tryton(ais, lambda pool: pool.get("account.move")(move_id).state)
        assert state == "posted"


# ------------------------------------------------------------ PostgreSQL

PG_OPT_IN = "LEDGERPILOT_TEST_TRYTON_PG"


@pytest.mark.postgres
@pytest.mark.slow
def test_the_connector_reads_and_posts_on_postgresql(fresh_postgres_url: str) -> None:
    """Runs when the built database is on the server as a template, or when asked to build it
    (trytond-admin takes minutes on PostgreSQL: set LEDGERPILOT_TEST_TRYTON_PG=1 once)."""
    from psycopg import sql

    from tests.conftest import _admin_connect

    url = "tryton+" + fresh_postgres_url.replace("postgresql+psycopg://", "postgresql://")
    name = fresh_postgres_url.rsplit("/", 1)[1]
    template = f"lp_tryton_template_{kit._cache_key()}"
    with _admin_connect() as conn:
        templates = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'lp_tryton_template_%'"
        ).fetchall()
    if (template,) not in templates:
        if os.environ.get(PG_OPT_IN, "") != "1":
            pytest.skip(
                f"no Tryton template database on the server yet; {PG_OPT_IN}=1 builds it "
                "(trytond-admin takes minutes on PostgreSQL)"
            )
        # Build into this test's database, then keep a copy as the template for next time.
        _run_pg("build", url)
        with _admin_connect() as conn:
            for (old,) in templates:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(old)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(template), sql.Identifier(name)
                )
            )
    else:
        with _admin_connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
    seen = json.loads(_run_pg("post", url).strip().splitlines()[-1])
    assert seen["ok"] and seen["chart"] > 600
    assert (seen["pending"], seen["history"]) == (INBOX_INVOICES, HISTORY_INVOICES)
    assert seen["balanced"] and seen["consistent"]
    assert seen["created"] == [True, False] and seen["same_move"] and seen["refused"]
    assert seen["tryton"] == {
        "state": "posted",
        "balance": "0.00",
        "in_period": True,
        "invoice": "posted",
    }
    assert seen["after"] == [INBOX_INVOICES - 1, HISTORY_INVOICES + 1]


def _run_pg(command: str, url: str) -> str:
    """Run tests/connectors/tryton_pg_check.py in a process of its own; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.connectors.tryton_pg_check", command, url],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
