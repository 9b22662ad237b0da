"""A made-up "legacy" AIS schema, read and posted into through a mapping file, end to end.

The schema is deliberately unlike the reference one: other table and column names, amounts
in integer cents, one signed amount per journal line instead of debit and credit, a status
column saying what is pending, account classes as codes that need a value map, VAT rates
in basis points. A synthetic company is written into it; then ledgerpilot reads it back
through the mapping exactly as it was generated, and ``ais check``, ``draft`` (memory
backend), ``eval``, ``audit``, ``dataset build`` and ``post`` run on it from the command
line (``--ais URL --mapping FILE``), the post landing as a batch with signed cents and the
voucher marked booked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
    text,
)
from typer.testing import CliRunner

from ledgerpilot.cli import app
from ledgerpilot.connectors import (
    AlreadyPosted,
    EntryRefused,
    MappedAIS,
    PostingConflict,
    open_ais,
)
from ledgerpilot.ledger import ChartOfAccounts, Document, JournalEntry
from ledgerpilot.ledger.money import minor_unit
from ledgerpilot.review import ProposalStore
from ledgerpilot.sqlplumbing import to_utc
from ledgerpilot.synth import SyntheticCompany, generate

from .conftest import BOTH

# ------------------------------------------------------------------ the legacy schema

legacy = MetaData()
gl_account = Table(
    "gl_account",
    legacy,
    Column("acct_no", String(20), primary_key=True),
    Column("title", Text, nullable=False),
    Column("acct_class", String(8)),
    Column("is_header", Integer, nullable=False),
    Column("open_items", Integer, nullable=False),
)
business_partner = Table(
    "business_partner",
    legacy,
    Column("bp_id", Integer, primary_key=True),
    Column("bp_code", String(200), unique=True, nullable=False),
    Column("bp_name", Text, nullable=False),
    Column("tax_no", Text),
    Column("country_code", String(2)),
)
voucher = Table(
    "voucher",
    legacy,
    Column("voucher_id", Integer, primary_key=True),
    Column("voucher_ref", String(200), unique=True, nullable=False),
    Column("doc_type", String(2), nullable=False),
    Column("printed_no", Text),
    Column("voucher_date", Date, nullable=False),
    Column("bp_id", ForeignKey("business_partner.bp_id")),
    Column("curr", String(3), nullable=False),
    Column("net_cents", BigInteger, nullable=False),
    Column("vat_cents", BigInteger, nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("memo", Text),
    Column("status", String(10), nullable=False),
)
voucher_item = Table(
    "voucher_item",
    legacy,
    Column("item_id", Integer, primary_key=True),
    Column("voucher_id", ForeignKey("voucher.voucher_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("item_text", Text),
    Column("net_cents", BigInteger, nullable=False),
    Column("vat_bp", Integer, nullable=False),
    Column("vat_cents", BigInteger, nullable=False),
)
gl_batch = Table(
    "gl_batch",
    legacy,
    Column("batch_id", Integer, primary_key=True),
    Column("voucher_id", ForeignKey("voucher.voucher_id")),
    Column("booking_date", Date, nullable=False),
    Column("memo", Text),
    Column("ext_ref", String(200), unique=True),
    Column("entered_by", Text),
    Column("entered_at", DateTime),
)
gl_posting = Table(
    "gl_posting",
    legacy,
    Column("posting_id", Integer, primary_key=True),
    Column("batch_id", ForeignKey("gl_batch.batch_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("acct_no", String(20), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("memo", Text),
)

ACCOUNT_CLASSES = {
    "asset_receivable": "AR",
    "asset_cash": "BANK",
    "asset_current": "CA",
    "asset_non_current": "NCA",
    "asset_prepayments": "PRE",
    "asset_fixed": "FA",
    "liability_payable": "AP",
    "liability_credit_card": "CARD",
    "liability_current": "CL",
    "liability_non_current": "NCL",
    "equity": "EQ",
    "equity_unaffected": "EQU",
    "income": "REV",
    "income_other": "OREV",
    "expense": "EXP",
    "expense_depreciation": "DEPR",
    "expense_direct_cost": "COGS",
    "off_balance": "OFF",
}
DOC_TYPES = {
    "supplier_invoice": "PI",
    "supplier_credit_note": "PC",
    "sales_invoice": "SI",
    "sales_credit_note": "SC",
    "bank_payment": "BP",
    "bank_receipt": "BR",
    "payroll": "PY",
    "depreciation": "DP",
    "other": "OT",
}


def _toml_table(name: str, values: dict[str, str]) -> str:
    body = "\n".join(f'"{code}" = "{ours}"' for ours, code in values.items())
    return f"[{name}]\n{body}\n"


LEGACY_MAPPING = (
    """# A legacy AIS: vouchers, batches and signed postings in cents.
[mapping]
name = "legacy vouchers"

[accounts]
table = "gl_account"
where = "acct_class IS NOT NULL OR is_header = 1"

[accounts.columns]
code = "acct_no"
name = "title"
type = "acct_class"
postable = "is_header = 0"
reconcile = "open_items = 1"

[partners]
table = "business_partner"
key = "bp_id"

[partners.columns]
id = "bp_code"
name = "bp_name"
vat = "tax_no"
country = "country_code"

[documents]
table = "voucher"
key = "voucher_id"
pending = "status = 'OPEN'"
posted = "status = 'BOOKED'"
minor_units = true

[documents.columns]
id = "voucher_ref"
kind = "doc_type"
number = "printed_no"
date = "voucher_date"
partner = "bp_id"
currency = "curr"
total_net = "net_cents"
total_tax = "vat_cents"
total_gross = "gross_cents"
text = "memo"

[document_lines]
table = "voucher_item"
minor_units = true

[document_lines.columns]
document = "voucher_id"
position = "line_no"
description = "item_text"
net = "net_cents"
tax_rate = "vat_bp / 100.0"
tax = "vat_cents"

[journal_entries]
table = "gl_batch"
key = "batch_id"

[journal_entries.columns]
document = "voucher_id"
date = "booking_date"
description = "memo"
posting_key = "ext_ref"
posted_by = "entered_by"
posted_at = "entered_at"

[journal_lines]
table = "gl_posting"
minor_units = true

[journal_lines.columns]
entry = "batch_id"
position = "seq"
account = "acct_no"
amount = "amount_cents"
description = "memo"

[write.journal_entry]
returning = "batch_id"

[write.journal_entry.values]
voucher_id = ":document_key"
booking_date = ":date"
memo = ":description"
ext_ref = ":posting_key"
entered_by = ":posted_by"
entered_at = ":posted_at"

[write.journal_line.values]
batch_id = ":entry_key"
seq = ":position"
acct_no = ":account"
amount_cents = ":amount_minor"
memo = ":description"

[write.document.values]
status = "'BOOKED'"

"""
    + _toml_table("accounts.type_values", ACCOUNT_CLASSES)
    + "\n"
    + _toml_table("documents.kind_values", DOC_TYPES)
)


def write_mapping(directory: Path, text: str = LEGACY_MAPPING) -> Path:
    """The legacy mapping as a file in ``directory``."""
    path = directory / "legacy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _cents(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(minor_unit(currency)))


def load_legacy(engine: Engine, chart: ChartOfAccounts, documents: Iterable[Document]) -> None:
    """Create the legacy tables and write the chart and the documents into them."""
    legacy.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(gl_account),
            [
                {
                    "acct_no": a.code,
                    "title": a.name,
                    "acct_class": ACCOUNT_CLASSES[str(a.type)],
                    "is_header": 0 if a.postable else 1,
                    "open_items": 1 if a.reconcile else 0,
                }
                for a in chart
            ],
        )
        partners: dict[str, int] = {}
        rows: dict[str, list[dict[str, object]]] = {
            "business_partner": [],
            "voucher": [],
            "voucher_item": [],
            "gl_batch": [],
            "gl_posting": [],
        }
        for n, doc in enumerate(documents, start=1):
            c = doc.currency
            bp_id = None
            if doc.partner is not None:
                bp_id = partners.get(doc.partner.id)
                if bp_id is None:
                    bp_id = partners[doc.partner.id] = len(partners) + 1
                    rows["business_partner"].append(
                        {
                            "bp_id": bp_id,
                            "bp_code": doc.partner.id,
                            "bp_name": doc.partner.name,
                            "tax_no": doc.partner.vat,
                            "country_code": doc.partner.country,
                        }
                    )
            rows["voucher"].append(
                {
                    "voucher_id": n,
                    "voucher_ref": doc.id,
                    "doc_type": DOC_TYPES[doc.kind],
                    "printed_no": doc.number,
                    "voucher_date": doc.date,
                    "bp_id": bp_id,
                    "curr": c,
                    "net_cents": _cents(doc.total_net, c),
                    "vat_cents": _cents(doc.total_tax, c),
                    "gross_cents": _cents(doc.total_gross, c),
                    "memo": doc.text or None,
                    "status": "OPEN" if doc.entry is None else "BOOKED",
                }
            )
            rows["voucher_item"] += [
                {
                    "voucher_id": n,
                    "line_no": k,
                    "item_text": ln.description,
                    "net_cents": _cents(ln.net, c),
                    "vat_bp": int(ln.tax_rate * 100),
                    "vat_cents": _cents(ln.tax, c),
                }
                for k, ln in enumerate(doc.lines, start=1)
            ]
            if doc.entry is None:
                continue
            rows["gl_batch"].append(
                {
                    "batch_id": n,
                    "voucher_id": n,
                    "booking_date": doc.entry.date,
                    "memo": doc.entry.description,
                    "ext_ref": None,
                    "entered_by": doc.entry.posted_by,
                    "entered_at": doc.entry.posted_at,
                }
            )
            rows["gl_posting"] += [
                {
                    "batch_id": n,
                    "seq": k,
                    "acct_no": ln.account,
                    "amount_cents": _cents(ln.debit - ln.credit, c),
                    "memo": ln.description,
                }
                for k, ln in enumerate(doc.entry.lines, start=1)
            ]
        for name, table_rows in rows.items():
            if table_rows:
                conn.execute(insert(legacy.tables[name]), table_rows)
        if conn.dialect.name == "postgresql":
            # Ids were given explicitly: move the sequences past them, as a real AIS has.
            for name, key in (
                ("business_partner", "bp_id"),
                ("voucher", "voucher_id"),
                ("voucher_item", "item_id"),
                ("gl_batch", "batch_id"),
                ("gl_posting", "posting_id"),
            ):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', '{key}'), "
                        f"(SELECT max({key}) FROM {name}))"
                    )
                )


def small_company() -> SyntheticCompany:
    """Two years of a small company on the generic chart, eight documents in the inbox."""
    return generate("generic", years=2, inbox=8, seed=5, per_year=120)


@pytest.fixture(scope="module")
def company() -> SyntheticCompany:
    return small_company()


def _legacy(url: str, company: SyntheticCompany) -> str:
    engine = create_engine(url)
    try:
        load_legacy(engine, company.chart, [*company.history(), *company.inbox])
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=BOTH)
def legacy_url(request: pytest.FixtureRequest, company: SyntheticCompany) -> str:
    """The company in the legacy schema: a SQLite file, then a fresh PostgreSQL database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return _legacy(str(request.getfixturevalue(fixture)), company)


@pytest.fixture
def legacy_sqlite_url(tmp_path: Path, company: SyntheticCompany) -> str:
    """The company in the legacy schema, in a SQLite file."""
    return _legacy(f"sqlite:///{tmp_path / 'legacy.sqlite'}", company)


def _without_id(doc: Document) -> Document:
    assert doc.entry is not None
    return dataclasses.replace(doc, entry=dataclasses.replace(doc.entry, id=None))


def _as_generated(doc: Document) -> Document:
    """``doc`` as read back: entries get their AIS id, times come back in UTC."""
    if doc.entry is None:
        return doc
    entry: JournalEntry = doc.entry
    posted_at = None if entry.posted_at is None else to_utc(entry.posted_at)
    return dataclasses.replace(doc, entry=dataclasses.replace(entry, id=None, posted_at=posted_at))


# ------------------------------------------------------------------ reading


def test_the_legacy_schema_reads_back_as_generated(
    legacy_url: str, tmp_path: Path, company: SyntheticCompany
) -> None:
    with open_ais(legacy_url, write_mapping(tmp_path)) as ais:
        assert isinstance(ais, MappedAIS)
        # Types through the value map, roles inferred, in code order (no order_by given).
        by_code = tuple(sorted(company.chart, key=lambda a: a.code))
        assert ais.chart() == ChartOfAccounts(by_code)
        history = list(ais.history())
        generated = sorted(company.history(), key=lambda d: (d.date, d.id))
        assert len(history) == len(generated) == ais.count_history()
        assert all(d.entry is not None and d.entry.id for d in history)
        assert [_without_id(d) for d in history] == [_as_generated(d) for d in generated]
        pending = ais.pending_documents()
        assert pending == sorted(company.inbox, key=lambda d: (d.date, d.id))
        assert [d.id for d in ais.pending_documents(limit=3)] == [d.id for d in pending[:3]]
        some = generated[17]
        got = ais.get_document(some.id)
        assert got is not None and got.total_gross == some.total_gross
        assert got.entry is not None and got.entry.lines == some.entry.lines  # type: ignore[union-attr]
        assert ais.get_document("no such voucher") is None
        since = dt.date(generated[-1].date.year, 1, 1)
        assert ais.count_history(since=since) == sum(d.date >= since for d in generated)
        assert [d.id for d in ais.history(since=since)] == [
            d.id for d in generated if d.date >= since
        ]


def test_posting_writes_signed_cents_and_books_the_voucher(
    legacy_url: str, tmp_path: Path, company: SyntheticCompany
) -> None:
    first, second = company.truth[0], company.truth[1]
    assert first.entry is not None and second.entry is not None
    with open_ais(legacy_url, write_mapping(tmp_path)) as ais:
        posted = ais.post_entry(first.id, first.entry, "proposal-1", "ana")
        assert posted.created
        assert ais.post_entry(first.id, first.entry, "proposal-1", "ana") == dataclasses.replace(
            posted, created=False
        )
        with pytest.raises(PostingConflict):
            ais.post_entry(second.id, second.entry, "proposal-1")
        with pytest.raises(AlreadyPosted, match="proposal-1"):
            ais.post_entry(first.id, first.entry, "proposal-2")
        unbalanced = dataclasses.replace(second.entry, lines=second.entry.lines[1:])
        with pytest.raises(EntryRefused):
            ais.post_entry(second.id, unbalanced, "proposal-3")
        read = ais.get_document(first.id)
        assert read is not None and read.entry is not None
        assert read.entry.id == posted.entry_id
        assert read.entry.lines == first.entry.lines
        assert read.entry.posted_by == "ana"
        assert [d.id for d in ais.pending_documents()] == [
            d.id for d in sorted(company.inbox, key=lambda d: (d.date, d.id)) if d.id != first.id
        ]
        assert ais.count_history() == len(list(company.history())) + 1
    engine = create_engine(legacy_url)
    try:
        with engine.connect() as conn:
            batch = conn.execute(select(gl_batch).where(gl_batch.c.ext_ref == "proposal-1")).one()
            cents = dict(
                conn.execute(
                    select(gl_posting.c.acct_no, gl_posting.c.amount_cents).where(
                        gl_posting.c.batch_id == batch.batch_id
                    )
                ).all()
            )
            expected: dict[str, int] = {}
            for ln in first.entry.lines:
                expected[ln.account] = expected.get(ln.account, 0) + _cents(
                    ln.debit - ln.credit, first.currency
                )
            assert cents == expected
            assert (
                conn.execute(
                    select(voucher.c.status).where(voucher.c.voucher_ref == first.id)
                ).scalar_one()
                == "BOOKED"
            )
            assert (
                conn.execute(
                    select(voucher.c.status).where(voucher.c.voucher_ref == second.id)
                ).scalar_one()
                == "OPEN"
            )  # refused: nothing written
    finally:
        engine.dispose()


def test_computed_amounts_read_exactly_on_sqlite(
    legacy_sqlite_url: str, tmp_path: Path, company: SyntheticCompany
) -> None:
    """Amounts computed in SQL (floats on SQLite) read as the same exact Decimals."""
    computed = LEGACY_MAPPING.replace(
        'total_net = "net_cents"', 'total_net = "net_cents / 100.0"'
    ).replace('total_tax = "vat_cents"', 'total_tax = "vat_cents * 0.01"')
    computed = computed.replace(
        "minor_units = true\n\n[documents.columns]", "[documents.columns]"
    ).replace('total_gross = "gross_cents"', 'total_gross = "CAST(gross_cents AS REAL) / 100"')
    assert "net_cents / 100.0" in computed and computed.count("minor_units = true") == 2
    with open_ais(legacy_sqlite_url, write_mapping(tmp_path, computed)) as ais:
        read = {d.id: d for d in ais.history()}
    for doc in company.history():
        got = read[doc.id]
        assert (got.total_net, got.total_tax, got.total_gross) == (
            doc.total_net,
            doc.total_tax,
            doc.total_gross,
        )
        assert all(isinstance(x, Decimal) for x in (got.total_net, got.total_gross))


# ------------------------------------------------------------------ the command line


def _cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_draft_eval_audit_dataset_and_post_work_through_the_mapping(
    legacy_sqlite_url: str, tmp_path: Path, company: SyntheticCompany
) -> None:
    legacy_url = legacy_sqlite_url
    mapping = write_mapping(tmp_path)
    where = ("--ais", legacy_url, "--mapping", mapping)
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"

    code, output = _cli("ais", "check", *where, "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["ok"] and report["kind"] == "mapping"
    assert {"history", "pending", "accounts"} <= {i["subject"] for i in report["items"]}

    code, output = _cli("draft", *where, "--store", store, "--json")
    assert code == 0, output
    drafted = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(drafted) == len(company.inbox)

    holdout = f"{company.inbox[0].date.year - 1}-07-01"
    code, output = _cli("eval", *where, "--holdout-from", holdout, "--no-baseline", "--json")
    assert code == 0, output
    result = json.loads(output[output.index("{") :])
    assert result["documents"] > 20
    assert result["metrics"]["exact_accounts"] > 0.5  # memory recalls the company's habits

    code, output = _cli("audit", *where, "--out", tmp_path / "audit", "--json")
    assert code == 0, output
    assert (tmp_path / "audit" / "report.html").is_file()
    assert json.loads(output[output.index("{") :])["entries_scanned"] > 100

    code, output = _cli(
        "dataset", "build", *where, "--holdout-from", holdout, "--out", tmp_path / "ds", "--json"
    )
    assert code == 0, output
    card = json.loads(output[output.index("{") :])
    assert sum(card["counts"]["train"].values()) > 0
    assert (tmp_path / "ds" / "train.jsonl").is_file()

    # Approve the clean drafts, then post them through the queue's settling, twice.
    with ProposalStore.create(store) as proposals:
        proposals.add_user("ana", "approver", "a long enough password 1")
        approved = []
        for outcome in drafted:
            found = proposals.active_for(outcome["document"])
            assert found is not None
            if found.status in ("proposed", "needs_review") and not found.violations:
                proposals.approve(found.id, user="ana")
                approved.append(found)
    assert approved, "memory should draft some of the inbox cleanly"
    code, output = _cli("post", *where, "--store", store, "--json")
    assert code == 0, output
    posted = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {p["status"] for p in posted} == {"posted"}
    assert len(posted) == len(approved)
    code, output = _cli("post", *where, "--store", store, "--json")
    assert code == 0 and "{" not in output  # nothing approved waits any more

    engine = create_engine(legacy_url)
    try:
        with engine.connect() as conn:
            for proposal in approved:
                batch = conn.execute(
                    select(gl_batch).where(gl_batch.c.ext_ref == proposal.id)
                ).one()
                amounts = (
                    conn.execute(
                        select(gl_posting.c.amount_cents).where(
                            gl_posting.c.batch_id == batch.batch_id
                        )
                    )
                    .scalars()
                    .all()
                )
                assert sum(amounts) == 0 and all(isinstance(a, int) for a in amounts)
                status = conn.execute(
                    select(voucher.c.status).where(voucher.c.voucher_id == batch.voucher_id)
                ).scalar_one()
                assert status == "BOOKED"
            assert conn.execute(select(gl_batch.c.ext_ref)).scalars().all().count(None) == len(
                list(company.history())
            )
    finally:
        engine.dispose()
    with open_ais(legacy_url, mapping) as ais:
        assert len(ais.pending_documents()) == len(company.inbox) - len(approved)
        for proposal in approved:
            doc = ais.get_document(proposal.document_id)
            assert doc is not None and doc.entry is not None
            assert doc.entry.posted_by == "ana"
            assert doc.entry.is_balanced()


def test_the_workers_open_the_ais_through_the_mapping_setting(
    legacy_sqlite_url: str, tmp_path: Path, company: SyntheticCompany
) -> None:
    from ledgerpilot.config import Settings
    from ledgerpilot.workers.runtime import WorkerRuntime

    settings = Settings(
        data_dir=tmp_path,
        ais_url=legacy_sqlite_url,
        ais_mapping=write_mapping(tmp_path),
        store_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
    )
    runtime = WorkerRuntime(settings)
    try:
        first = company.inbox[0]
        found = runtime.ais().get_document(first.id)
        assert found is not None and found.total_gross == first.total_gross
        _, chart = runtime.backend()  # built from the history read through the mapping
        assert len(chart) == len(company.chart)
    finally:
        runtime.close()
