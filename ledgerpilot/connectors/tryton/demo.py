"""A real Tryton database made from documents with their entries (the synthetic company's).

:func:`build` creates the database the way a Tryton administrator does (``trytond-admin
-u account_invoice --activate-dependencies --email ...``), then, through Tryton's own model
layer: the company and its currency; Tryton's "Universal Chart of Accounts" template (the
create-chart wizard) plus the chart given, each account with a type of
:data:`~.types.TYPES`; fiscal years with monthly periods and their sequences; the VAT
rates the documents use as Tryton taxes; the parties; and the invoices. Posted documents
become invoices that Tryton itself posts (its invoice workflow writes their moves), pending
ones stay validated or draft invoices.

Only invoices are made (supplier and customer invoices and credit notes); bank lines,
payroll and the other kinds have no Tryton document of their own here. Where Tryton would
refuse an invoice line's account (a supplier invoice line on a fixed-asset account needs
Tryton's ``account_asset`` module), the most used expense or revenue account of the history
takes its place, and :class:`BuildReport` counts it.

Initialising a Tryton database takes about half a minute; tests copy a built file.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from ledgerpilot.ledger import Account, AccountType, ChartOfAccounts, Document

from ..errors import ConnectorError
from . import runtime
from .types import TYPES

INVOICE_KINDS = {
    "supplier_invoice": ("in", 1),
    "supplier_credit_note": ("in", -1),
    "sales_invoice": ("out", 1),
    "sales_credit_note": ("out", -1),
}
"""Our document kinds that are Tryton invoices: (Tryton's invoice type, sign of quantity)."""

ADMIN_EMAIL = "admin@example.com"
BATCH = 500
"""Invoices created and posted per call into Tryton (its checks run per call, not per
invoice, so that large calls are much faster)."""


@dataclass
class BuildReport:
    """What :func:`build` made."""

    url: str
    """The ``tryton+`` URL of the database."""
    admin_password: str
    """The password of Tryton's ``admin`` user."""
    accounts: int = 0
    parties: int = 0
    taxes: int = 0
    posted: int = 0
    """Invoices posted by Tryton (the history)."""
    validated: int = 0
    draft: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Documents not made, by kind (kinds that are not invoices)."""
    replaced_accounts: int = 0
    """Invoice lines whose account Tryton would refuse, booked on a fallback account."""
    seconds_init: float = 0.0
    seconds_fill: float = 0.0


def build(
    where: str | Path,
    chart: ChartOfAccounts,
    history: Iterable[Document],
    inbox: Iterable[Document],
    company_name: str = "Demo Company",
    currency: str = "EUR",
    *,
    validated_share: float = 0.5,
    admin_password: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Make a Tryton database from these documents, at ``where``.

    ``where``: a new SQLite file ``NAME.sqlite``, or the ``tryton+`` URL of an empty
    database (a PostgreSQL one made with ``CREATE DATABASE``, say). ``history``: posted
    documents with their entries; ``inbox``: pending ones (with their entries, when known,
    for the accounts of the invoice lines), of which the first ``validated_share`` are
    validated in Tryton and the rest left as drafts. ``on_progress`` gets a line per step.
    """
    import time

    if str(where).startswith(runtime.PREFIX):
        url = str(where)
    else:
        target_path = Path(where).resolve()
        if target_path.suffix != ".sqlite":
            raise ConnectorError(f"a Tryton SQLite database is named NAME.sqlite, not {where}")
        if target_path.exists():
            raise ConnectorError(f"{target_path} exists already")
        url = f"tryton+sqlite:///{target_path}"
    password = admin_password or secrets.token_urlsafe(12)
    report = BuildReport(url=url, admin_password=password)
    say = on_progress or (lambda _: None)
    target = runtime.parse_url(url)
    start = time.perf_counter()
    say("creating the Tryton database (trytond-admin)")
    create_database(target, password)
    report.seconds_init = time.perf_counter() - start
    start = time.perf_counter()
    history_docs = [d for d in history if _keep(d, report)]
    inbox_docs = [d for d in inbox if _keep(d, report)]
    _fill(
        target,
        chart,
        history_docs,
        inbox_docs,
        company_name,
        currency,
        validated_share,
        report,
        say,
    )
    report.seconds_fill = time.perf_counter() - start
    return report


def _keep(document: Document, report: BuildReport) -> bool:
    if document.kind in INVOICE_KINDS:
        return True
    report.skipped[document.kind] += 1
    return False


def create_database(target: runtime.TrytonTarget, password: str) -> None:
    """``trytond-admin -d NAME -u account_invoice --activate-dependencies --email ...``."""
    runtime.configure(target)
    import trytond.admin
    from trytond.commandline import get_parser_admin

    if target.folder is not None:
        # trytond-admin initialises an existing, empty SQLite file.
        Path(target.folder, f"{target.database}.sqlite").touch(exist_ok=False)
    options = get_parser_admin().parse_args(
        [
            "-d",
            target.database,
            "-u",
            "account_invoice",
            "--activate-dependencies",
            "--email",
            ADMIN_EMAIL,
        ]
    )
    # trytond-admin reads the new admin password from the file TRYTONPASSFILE names.
    with tempfile.NamedTemporaryFile("w", suffix=".pass", delete=False) as passfile:
        passfile.write(password + "\n")
    previous = os.environ.get("TRYTONPASSFILE")
    os.environ["TRYTONPASSFILE"] = passfile.name
    try:
        trytond.admin.run(options)
    finally:
        os.unlink(passfile.name)
        if previous is None:
            os.environ.pop("TRYTONPASSFILE", None)
        else:
            os.environ["TRYTONPASSFILE"] = previous


# ------------------------------------------------------------ filling


def _fill(
    target: runtime.TrytonTarget,
    chart: ChartOfAccounts,
    history: list[Document],
    inbox: list[Document],
    company_name: str,
    currency_code: str,
    validated_share: float,
    report: BuildReport,
    say: Callable[[str], None],
) -> None:
    say("company")
    company_id = runtime.run(
        target, lambda pool: _company(pool, company_name, currency_code), {"_skip_warnings": True}
    )
    context = {"company": company_id, "_skip_warnings": True, "_record_cache_size": 20_000}
    runtime.run(target, _configuration, context)
    documents = history + inbox
    years = sorted(
        {d.date.year for d in documents} | {d.entry.date.year for d in history if d.entry}
    )

    sequences: list[int] = []

    def setup(pool: Any) -> tuple[dict[str, int], dict[tuple[str, Decimal], int], dict[str, int]]:
        say("chart of accounts (Tryton's universal template, then ours)")
        accounts = _chart(pool, company_id, chart)
        say(f"fiscal years {years[0]}-{years[-1]} with monthly periods")
        sequences.clear()
        for year in years:
            sequences.extend(_fiscal_year(pool, company_id, year))
        say("taxes")
        taxes = _taxes(pool, company_id, history, chart, accounts)
        say("parties")
        parties = _parties(pool, company_id, documents, history, chart, accounts)
        return accounts, taxes, parties

    accounts, taxes, parties = runtime.run(target, setup, context)
    report.accounts, report.taxes, report.parties = len(accounts), len(taxes), len(parties)
    fallback = _fallbacks(history, chart)
    maker = _InvoiceMaker(chart, accounts, taxes, parties, fallback, company_id, report)
    # What posting locks (learnt from trytond's requests to restart, taken from the start
    # so that a large batch is not made twice): the sequences and the journal periods.
    locks: dict[str, Any] = {
        "_lock_tables": ["account_journal_period"],
        "_lock_records": {"ir_sequence_strict": sequences},
    }

    def post(pool: Any, *, batch: list[Document]) -> int:
        invoices = maker.create(pool, batch)
        pool.get("account.invoice").post(invoices)
        return len(invoices)

    for start in range(0, len(history), BATCH):
        batch = history[start : start + BATCH]
        say(f"posting invoices {start + 1}-{start + len(batch)} of {len(history)} in Tryton")
        report.posted += runtime.run(target, partial(post, batch=batch), context, locks=locks)
    validated = round(len(inbox) * validated_share)

    def pending(pool: Any) -> int:
        invoices = maker.create(pool, inbox)
        if validated:
            pool.get("account.invoice").validate_invoice(invoices[:validated])
        return len(invoices)

    say(f"{len(inbox)} pending invoices, {validated} of them validated")
    made = runtime.run(target, pending, context, locks=locks)
    report.validated, report.draft = validated, made - validated


def _company(pool: Any, name: str, currency_code: str) -> int:
    Currency = pool.get("currency.currency")
    Party = pool.get("party.party")
    Company = pool.get("company.company")
    User = pool.get("res.user")
    found = Currency.search([("code", "=", currency_code)])
    if found:
        currency = found[0]
    else:
        (currency,) = Currency.create(
            [
                {
                    "name": currency_code,
                    "code": currency_code,
                    "symbol": currency_code,
                    "rounding": Decimal("0.01"),
                    "digits": 2,
                }
            ]
        )
    (party,) = Party.create([{"name": name}])
    (company,) = Company.create([{"party": party.id, "currency": currency.id}])
    (admin,) = User.search([("login", "=", "admin")])
    User.write([admin], {"companies": [("add", [company.id])], "company": company.id})
    return int(company.id)


def _configuration(pool: Any) -> None:
    """Tax rounded per line, as the documents round it (a singleton: its own transaction)."""
    Configuration = pool.get("account.configuration")
    configuration = Configuration(1)
    configuration.tax_rounding = "line"
    configuration.save()


def _chart(pool: Any, company_id: int, chart: ChartOfAccounts) -> dict[str, int]:
    """Tryton's universal chart, then our accounts under its root; our codes -> account ids."""
    ModelData = pool.get("ir.model.data")
    AccountTemplate = pool.get("account.account.template")
    TypeTemplate = pool.get("account.account.type.template")
    Type = pool.get("account.account.type")
    AccountModel = pool.get("account.account")
    CreateChart = pool.get("account.create_chart", type="wizard")

    root_template = AccountTemplate(ModelData.get_id("account", "account_template_root_en"))
    session_id, _, _ = CreateChart.create()
    CreateChart.execute(
        session_id,
        {"account": {"account_template": root_template.id, "company": company_id}},
        "create_account",
    )
    CreateChart.delete(session_id)

    # One type of ours under each universal type it belongs to.
    type_ids: dict[AccountType, int] = {}
    for ours, spec in TYPES.items():
        template = TypeTemplate(ModelData.get_id("account", spec.parent))
        (parent,) = Type.search([("template", "=", template.id), ("company", "=", company_id)])
        (made,) = Type.create([{**spec.values(), "parent": parent.id, "company": company_id}])
        type_ids[ours] = made.id
    (root,) = AccountModel.search(
        [("template", "=", root_template.id), ("company", "=", company_id)]
    )
    ids: dict[str, int] = {}
    # Parents first, one call per level: an account hangs under the longest code of the
    # chart that prefixes it (or under the template's root).
    levels: dict[int, list[Account]] = {}
    for account in chart:
        depth = sum(1 for n in range(1, len(account.code)) if account.code[:n] in chart)
        levels.setdefault(depth, []).append(account)
    for depth in sorted(levels):
        rows = []
        for account in levels[depth]:
            parent = next(
                (
                    ids[account.code[:n]]
                    for n in range(len(account.code) - 1, 0, -1)
                    if account.code[:n] in ids
                ),
                root.id,
            )
            ours = (
                account.type if isinstance(account.type, AccountType) else AccountType.OFF_BALANCE
            )
            control = account.postable and account.role in ("receivable", "payable")
            rows.append(
                {
                    "company": company_id,
                    "code": account.code,
                    "name": account.name,
                    "parent": parent,
                    "type": type_ids[ours] if account.postable else None,
                    "reconcile": account.postable and (account.reconcile or control),
                    "party_required": control and TYPES[ours].statement == "balance",
                }
            )
        for made in AccountModel.create(rows):
            ids[made.code] = made.id
    return ids


def _fiscal_year(pool: Any, company_id: int, year: int) -> list[int]:
    """The fiscal year ``year`` with monthly periods; the ids of its sequences."""
    ModelData = pool.get("ir.model.data")
    Sequence = pool.get("ir.sequence.strict")
    FiscalYear = pool.get("account.fiscalyear")
    move_type = ModelData.get_id("account", "sequence_type_account_move")
    invoice_type = ModelData.get_id("account_invoice", "sequence_type_account_invoice")
    move_seq, invoice_seq, credit_seq = Sequence.create(
        [
            {"name": f"Moves {year}", "sequence_type": move_type, "company": company_id},
            {
                "name": f"Invoices {year}",
                "sequence_type": invoice_type,
                "company": company_id,
                "prefix": f"{year}/",
            },
            {
                "name": f"Credit notes {year}",
                "sequence_type": invoice_type,
                "company": company_id,
                "prefix": f"CN{year}/",
            },
        ]
    )
    (fiscal_year,) = FiscalYear.create(
        [
            {
                "name": str(year),
                "company": company_id,
                "start_date": dt.date(year, 1, 1),
                "end_date": dt.date(year, 12, 31),
                "move_sequence": move_seq.id,
                "invoice_sequences": [
                    (
                        "create",
                        [
                            {
                                "company": company_id,
                                "in_invoice_sequence": invoice_seq.id,
                                "out_invoice_sequence": invoice_seq.id,
                                "in_credit_note_sequence": credit_seq.id,
                                "out_credit_note_sequence": credit_seq.id,
                            }
                        ],
                    )
                ],
            }
        ]
    )
    FiscalYear.create_period([fiscal_year])
    return [move_seq.id, invoice_seq.id, credit_seq.id]


def _single_rate(document: Document) -> Decimal | None:
    rates = {ln.tax_rate for ln in document.lines if ln.tax_rate}
    return rates.pop() if len(rates) == 1 else None


def _taxes(
    pool: Any,
    company_id: int,
    history: list[Document],
    chart: ChartOfAccounts,
    accounts: dict[str, int],
) -> dict[tuple[str, Decimal], int]:
    """A Tryton tax per (invoice type, VAT rate), on the VAT account the history posts it to."""
    Tax = pool.get("account.tax")
    used: dict[tuple[str, Decimal], Counter[str]] = {}
    for document in history:
        direction = INVOICE_KINDS[document.kind][0]
        rates = {ln.tax_rate for ln in document.lines if ln.tax_rate}
        for rate in rates:
            used.setdefault((direction, rate), Counter())
        single = _single_rate(document)
        if single is None or document.entry is None:
            continue
        for line in document.entry.lines:
            if line.account in chart and chart[line.account].role == "tax":
                used[(direction, single)][line.account] += 1
    fallback = {
        direction: Counter(
            c for (d, _), counts in used.items() if d == direction for c in counts.elements()
        )
        for direction in ("in", "out")
    }
    made: dict[tuple[str, Decimal], int] = {}
    for (direction, rate), counts in sorted(used.items()):
        common = (counts or fallback[direction]).most_common(1)
        if not common:
            raise ConnectorError(f"no VAT account is posted to for {rate}% in the history")
        account = accounts[common[0][0]]
        label = "Input VAT" if direction == "in" else "Output VAT"
        name = f"{label} {rate.normalize():f}%"
        (tax,) = Tax.create(
            [
                {
                    "company": company_id,
                    "name": name,
                    "description": name,
                    "type": "percentage",
                    "rate": rate / 100,
                    "invoice_account": account,
                    "credit_note_account": account,
                }
            ]
        )
        made[(direction, rate)] = tax.id
    return made


def _parties(
    pool: Any,
    company_id: int,
    documents: list[Document],
    history: list[Document],
    chart: ChartOfAccounts,
    accounts: dict[str, int],
) -> dict[str, int]:
    """A Tryton party per partner, with the payable or receivable account its entries use."""
    Party = pool.get("party.party")
    Country = pool.get("country.country")
    control: dict[str, Counter[str]] = {}
    for document in history:
        if document.partner is None or document.entry is None:
            continue
        for line in document.entry.lines:
            role = chart[line.account].role if line.account in chart else None
            if role in ("payable", "receivable"):
                control.setdefault(f"{document.partner.id}/{role}", Counter())[line.account] += 1
    countries: dict[str, int] = {}
    values = []
    seen: set[str] = set()
    for document in documents:
        partner = document.partner
        if partner is None or partner.id in seen:
            continue
        seen.add(partner.id)
        row: dict[str, Any] = {"name": partner.name, "code": partner.id}
        if partner.vat:
            row["identifiers"] = [("create", [{"type": None, "code": partner.vat}])]
        address: dict[str, Any] = {}
        if partner.country:
            if partner.country not in countries:
                (country,) = Country.create([{"name": partner.country, "code": partner.country}])
                countries[partner.country] = country.id
            address["country"] = countries[partner.country]
        row["addresses"] = [("create", [address])]
        for role, field_name in (
            ("payable", "account_payable"),
            ("receivable", "account_receivable"),
        ):
            counts = control.get(f"{partner.id}/{role}")
            if counts:
                row[field_name] = accounts[counts.most_common(1)[0][0]]
        values.append(row)
    made = Party.create(values)
    default = _default_control(control)
    Configuration = pool.get("account.configuration")
    configuration = Configuration(1)
    for role, field_name in (
        ("payable", "default_account_payable"),
        ("receivable", "default_account_receivable"),
    ):
        if default.get(role):
            setattr(configuration, field_name, accounts[default[role]])
    configuration.save()
    return {p.code: p.id for p in made}


def _default_control(control: dict[str, Counter[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for role in ("payable", "receivable"):
        total: Counter[str] = Counter()
        for key, counts in control.items():
            if key.endswith("/" + role):
                total.update(counts)
        if total:
            out[role] = total.most_common(1)[0][0]
    return out


def _fallbacks(history: list[Document], chart: ChartOfAccounts) -> dict[str, str]:
    """The most used expense and revenue accounts of the history, by invoice type."""
    wanted = {"in": _EXPENSE_TYPES, "out": _REVENUE_TYPES}
    counts: dict[str, Counter[str]] = {"in": Counter(), "out": Counter()}
    for document in history:
        direction = INVOICE_KINDS[document.kind][0]
        if document.entry is None:
            continue
        for line in document.entry.lines:
            account = chart.get(line.account)
            if account is not None and account.type in wanted[direction]:
                counts[direction][line.account] += 1
    return {d: c.most_common(1)[0][0] for d, c in counts.items() if c}


_EXPENSE_TYPES = frozenset(t for t, spec in TYPES.items() if spec.expense)
_REVENUE_TYPES = frozenset(t for t, spec in TYPES.items() if spec.revenue)


class _InvoiceMaker:
    """Makes Tryton invoices from documents (with their entries, when posted)."""

    def __init__(
        self,
        chart: ChartOfAccounts,
        accounts: dict[str, int],
        taxes: dict[tuple[str, Decimal], int],
        parties: dict[str, int],
        fallback: dict[str, str],
        company_id: int,
        report: BuildReport,
    ) -> None:
        self.chart = chart
        self.accounts = accounts
        self.taxes = taxes
        self.parties = parties
        self.fallback = fallback
        self.company_id = company_id
        self.report = report

    def create(self, pool: Any, documents: list[Document]) -> list[Any]:
        Invoice = pool.get("account.invoice")
        Party = pool.get("party.party")
        Journal = pool.get("account.journal")
        Company = pool.get("company.company")
        company = Company(self.company_id)
        journals = {
            "in": Journal.search([("type", "=", "expense")], limit=1)[0].id,
            "out": Journal.search([("type", "=", "revenue")], limit=1)[0].id,
        }
        values = []
        for document in documents:
            direction, sign = INVOICE_KINDS[document.kind]
            if document.partner is None:
                raise ConnectorError(f"document {document.id} has no partner; Tryton needs one")
            party = Party(self.parties[document.partner.id])
            control = (
                party.account_payable_used if direction == "in" else party.account_receivable_used
            )
            lines = [
                {
                    "type": "line",
                    "company": self.company_id,
                    "currency": company.currency.id,
                    "invoice_type": direction,
                    "party": party.id,
                    "description": line.description,
                    "quantity": float(sign),
                    "unit_price": line.net,
                    "account": self._line_account(document, n, direction),
                    "taxes": [("add", [self.taxes[(direction, line.tax_rate)]])]
                    if line.tax_rate
                    else [],
                }
                for n, line in enumerate(document.lines)
            ]
            values.append(
                {
                    "company": self.company_id,
                    "type": direction,
                    "party": party.id,
                    "invoice_address": party.address_get(type="invoice").id,
                    "currency": company.currency.id,
                    "journal": journals[direction],
                    "account": control.id,
                    "invoice_date": document.date,
                    "accounting_date": document.entry.date if document.entry else None,
                    "reference": document.number if direction == "in" else None,
                    "description": document.text[:250] or None,
                    "lines": [("create", lines)],
                }
            )
        return list(Invoice.create(values))

    def _line_account(self, document: Document, n: int, direction: str) -> int:
        wanted = _EXPENSE_TYPES if direction == "in" else _REVENUE_TYPES
        account = None
        if document.entry is not None and n < len(document.entry.lines):
            account = self.chart.get(document.entry.lines[n].account)
        if account is not None and account.type in wanted and account.postable:
            return self.accounts[account.code]
        if document.entry is not None:
            self.report.replaced_accounts += 1
        return self.accounts[self.fallback[direction]]
