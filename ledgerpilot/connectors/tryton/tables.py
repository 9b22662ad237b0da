"""The Tryton tables (and the columns of them) that the connector reads, for SQLAlchemy Core.

Only the columns read are named; Tryton's tables have more. Numeric columns are left
untyped: Tryton stores ``Decimal`` as text on SQLite (bytes through the driver) and as
NUMERIC on PostgreSQL, and :func:`decimal` reads both without a float in between.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Date, DateTime, column, table

account = table(
    "account_account",
    column("id"),
    column("company"),
    column("code"),
    column("name"),
    column("type"),
    column("parent"),
    column("closed"),
    column("reconcile"),
    column("party_required"),
)
account_type = table(
    "account_account_type",
    column("id"),
    column("company"),
    column("name"),
    column("parent"),
    column("statement"),
    column("assets"),
    column("receivable"),
    column("payable"),
    column("revenue"),
    column("expense"),
)
tax = table(
    "account_tax",
    column("id"),
    column("company"),
    column("type"),
    column("rate"),
    column("invoice_account"),
    column("credit_note_account"),
)
invoice = table(
    "account_invoice",
    column("id"),
    column("company"),
    column("type"),
    column("state"),
    column("number"),
    column("reference"),
    column("invoice_date", Date),
    column("accounting_date", Date),
    column("create_date", DateTime),
    column("party"),
    column("currency"),
    column("description"),
    column("comment"),
    column("move"),
    column("journal"),
    column("account"),
)
invoice_line = table(
    "account_invoice_line",
    column("id"),
    column("invoice"),
    column("type"),
    column("sequence"),
    column("description"),
    column("quantity"),
    column("unit_price"),
)
line_tax = table("account_invoice_line-account_tax", column("line"), column("tax"))
invoice_tax = table("account_invoice_tax", column("invoice"), column("tax"), column("amount"))
move = table(
    "account_move",
    column("id"),
    column("company"),
    column("number"),
    column("date", Date),
    column("description"),
    column("origin"),
    column("state"),
    column("journal"),
    column("period"),
    column("post_date", Date),
    column("create_uid"),
)
move_line = table(
    "account_move_line",
    column("id"),
    column("move"),
    column("account"),
    column("debit"),
    column("credit"),
    column("description"),
    column("party"),
)
party = table("party_party", column("id"), column("code"), column("name"))
identifier = table(
    "party_identifier", column("id"), column("party"), column("code"), column("sequence")
)
address = table(
    "party_address", column("id"), column("party"), column("country"), column("sequence")
)
country = table("country_country", column("id"), column("code"))
company = table("company_company", column("id"), column("party"), column("currency"))
currency = table("currency_currency", column("id"), column("code"), column("digits"))
journal = table("account_journal", column("id"), column("code"), column("name"), column("type"))
period = table(
    "account_period",
    column("id"),
    column("fiscalyear"),
    column("start_date", Date),
    column("end_date", Date),
    column("state"),
    column("type"),
)
fiscalyear = table("account_fiscalyear", column("id"), column("company"), column("state"))
user = table("res_user", column("id"), column("login"), column("active"))

REQUIRED = {
    t.name: tuple(c.name for c in t.columns)
    for t in (
        account,
        account_type,
        tax,
        invoice,
        invoice_line,
        line_tax,
        invoice_tax,
        move,
        move_line,
        party,
        company,
        currency,
        journal,
        period,
        fiscalyear,
    )
}
"""The tables and columns without which the connector cannot work (``check`` looks)."""


def decimal(value: object) -> Decimal:
    """A Tryton numeric value as ``Decimal``: text or bytes on SQLite, NUMERIC elsewhere."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bytes):
        return Decimal(value.decode())
    if isinstance(value, float):
        # SQLite gives a float when a value was written without Tryton's adapter.
        return Decimal(repr(value))
    return Decimal(str(value))
