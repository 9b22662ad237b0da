"""Account types: ledgerpilot's (Odoo's) types onto Tryton's type tree, and back.

Tryton describes an account by a type in a tree (``account.account.type``) with a few
flags (``receivable``, ``payable``, ``revenue``, ``expense``, ``assets``) and a statement
(``balance``, ``income``, ``off-balance``); an account without a type takes no moves.
:data:`TYPES` says where each of our types hangs in Tryton's own "Universal Chart of
Account Types" template and with which flags, so that a chart written into Tryton reads back
with the same types. :func:`our_type` reads any Tryton type tree: our own names first, then
the flags, then words in the names of the type and its parents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledgerpilot.ledger import AccountType

T = AccountType


@dataclass(frozen=True)
class TrytonType:
    """How one of our account types is made in Tryton."""

    name: str
    """The type's name in Tryton (read back to recognise it)."""
    parent: str
    """XML id (in the ``account`` module) of the universal type template it hangs under."""
    statement: str
    assets: bool = False
    receivable: bool = False
    payable: bool = False
    revenue: bool = False
    expense: bool = False

    def values(self) -> dict[str, Any]:
        """The fields of ``account.account.type`` (without company and parent)."""
        return {
            "name": self.name,
            "statement": self.statement,
            "assets": self.assets,
            "receivable": self.receivable,
            "payable": self.payable,
            "revenue": self.revenue,
            "expense": self.expense,
        }


_ASSET, _LIABILITY, _INCOME = "balance", "balance", "income"

TYPES: dict[AccountType, TrytonType] = {
    T.ASSET_RECEIVABLE: TrytonType(
        "Receivables", "account_type_template_accounts_receivable_en", _ASSET, True, True
    ),
    T.ASSET_CASH: TrytonType("Bank and cash", "account_type_template_cash_en", _ASSET, True),
    T.ASSET_CURRENT: TrytonType(
        "Other current assets", "account_type_template_current_assets_en", _ASSET, True
    ),
    T.ASSET_PREPAYMENTS: TrytonType(
        "Prepayments", "account_type_template_prepaid_expenses_en", _ASSET, True
    ),
    T.ASSET_NON_CURRENT: TrytonType(
        "Other non-current assets", "account_type_template_non_current_assets_en", _ASSET, True
    ),
    T.ASSET_FIXED: TrytonType("Fixed assets", "account_type_template_property_en", _ASSET, True),
    T.LIABILITY_PAYABLE: TrytonType(
        "Payables", "account_type_template_payable_en", _LIABILITY, payable=True
    ),
    T.LIABILITY_CREDIT_CARD: TrytonType(
        "Credit cards", "account_type_template_financial_liabilities_en", _LIABILITY
    ),
    T.LIABILITY_CURRENT: TrytonType(
        "Other current liabilities", "account_type_template_current_liabilities_en", _LIABILITY
    ),
    T.LIABILITY_NON_CURRENT: TrytonType(
        "Non-current liabilities", "account_type_template_financial_liabilities_en", _LIABILITY
    ),
    T.EQUITY: TrytonType("Equity", "account_type_template_capital_en", _LIABILITY),
    T.EQUITY_UNAFFECTED: TrytonType(
        "Current year earnings", "account_type_template_capital_en", _LIABILITY
    ),
    T.INCOME: TrytonType("Income", "account_type_template_revenue_en", _INCOME, revenue=True),
    T.INCOME_OTHER: TrytonType(
        "Other income", "account_type_template_other_revenues_en", _INCOME, revenue=True
    ),
    T.EXPENSE: TrytonType("Expenses", "account_type_template_expenses_en", _INCOME, expense=True),
    T.EXPENSE_DEPRECIATION: TrytonType(
        "Depreciation", "account_type_template_depreciation_en", _INCOME, expense=True
    ),
    T.EXPENSE_DIRECT_COST: TrytonType(
        "Cost of revenue", "account_type_template_cos_en", _INCOME, expense=True
    ),
    T.OFF_BALANCE: TrytonType("Off-balance", "account_type_template_off_balance_en", "off-balance"),
}
"""Our account types as Tryton types, each under a type of Tryton's universal template."""

_BY_NAME = {t.name.lower(): ours for ours, t in TYPES.items()}


@dataclass(frozen=True)
class TypeRow:
    """One row of ``account_account_type``, as read."""

    id: int
    name: str
    parent: int | None
    statement: str | None
    assets: bool
    receivable: bool
    payable: bool
    revenue: bool
    expense: bool


def our_type(type_id: int, rows: dict[int, TypeRow]) -> AccountType:
    """Our account type for the Tryton type ``type_id`` of the tree ``rows``."""
    row = rows[type_id]
    chain: list[TypeRow] = []
    seen: set[int] = set()
    current: TypeRow | None = row
    while current is not None and current.id not in seen:
        seen.add(current.id)
        chain.append(current)
        current = rows.get(current.parent) if current.parent is not None else None
    known = _BY_NAME.get(row.name.strip().lower())
    if known is not None:
        return known
    if row.receivable:
        return T.ASSET_RECEIVABLE
    if row.payable:
        return T.LIABILITY_PAYABLE
    statement = next((r.statement for r in chain if r.statement), None)
    if statement == "off-balance":
        return T.OFF_BALANCE
    names = [r.name.strip().lower() for r in chain]
    if statement == "income":
        if row.revenue:
            return T.INCOME_OTHER if _first(names, _OTHER) else T.INCOME
        found = _first(names, _INCOME_WORDS)
        return found if found is not None else T.EXPENSE
    if row.assets or any(_ASSETS.match(name) for name in names):
        found = _first(names, _ASSET_WORDS)
        return found if found is not None else T.ASSET_CURRENT
    found = _first(names, _LIABILITY_WORDS)
    return found if found is not None else T.LIABILITY_CURRENT


# Words in type names, tried on the type's own name first, then on its parents' (the first
# that matches decides): a type named "Financial assets (excluding ... cash and cash
# equivalents)" is not cash, so the words are anchored where names are ambiguous.
_ASSETS = re.compile(r"(current |non-current )?assets\b")
_OTHER = [(re.compile(r"^other|non-operating|gain"), T.INCOME_OTHER)]
_INCOME_WORDS = [
    (re.compile(r"^other (revenue|income)|gains?\b|^revenue|income\b(?! tax)"), T.INCOME_OTHER),
    (re.compile(r"depreciation|amorti[sz]ation"), T.EXPENSE_DEPRECIATION),
    (re.compile(r"^cost of (sales|revenue|goods)"), T.EXPENSE_DIRECT_COST),
    (re.compile(r"expense|cost|loss"), T.EXPENSE),
]
_ASSET_WORDS = [
    (re.compile(r"^(cash|bank)|petty cash|cash at bank"), T.ASSET_CASH),
    (re.compile(r"^prepaid|prepayment"), T.ASSET_PREPAYMENTS),
    (re.compile(r"^property|plant and equipment|fixed asset"), T.ASSET_FIXED),
    (
        re.compile(r"non-current|intangible|^financial assets|^investment|biological"),
        T.ASSET_NON_CURRENT,
    ),
    (re.compile(r"^current assets|receivable|inventor|accrued"), T.ASSET_CURRENT),
]
_LIABILITY_WORDS = [
    (re.compile(r"^equity|capital|reserves|retained|non-controlling"), T.EQUITY),
    (re.compile(r"non-current|^financial liabilities|long-term|loans?\b"), T.LIABILITY_NON_CURRENT),
    (
        re.compile(r"^liabilities|payable|provision|tax|unearned|interest|creditor"),
        T.LIABILITY_CURRENT,
    ),
]


def _first(
    names: list[str], words: list[tuple[re.Pattern[str], AccountType]]
) -> AccountType | None:
    for name in names:
        for pattern, found in words:
            if pattern.search(name):
                return found
    return None
