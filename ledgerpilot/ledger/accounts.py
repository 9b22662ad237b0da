"""Accounts and the chart of accounts.

Charts come in the CSV format of Odoo's chart templates (``code,name,account_type,...``),
the format of the charts shipped with ledgerpilot. Two optional columns of ours refine it:
``postable`` (``True``/``False``) and ``role`` (``receivable``, ``payable``, ``liquidity``,
``tax`` or empty), which otherwise are inferred as documented on :func:`infer_role`.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class AccountType(StrEnum):
    """Odoo's account types; they say where an account sits in the balance sheet or P&L."""

    ASSET_RECEIVABLE = "asset_receivable"
    ASSET_CASH = "asset_cash"
    ASSET_CURRENT = "asset_current"
    ASSET_NON_CURRENT = "asset_non_current"
    ASSET_PREPAYMENTS = "asset_prepayments"
    ASSET_FIXED = "asset_fixed"
    LIABILITY_PAYABLE = "liability_payable"
    LIABILITY_CREDIT_CARD = "liability_credit_card"
    LIABILITY_CURRENT = "liability_current"
    LIABILITY_NON_CURRENT = "liability_non_current"
    EQUITY = "equity"
    EQUITY_UNAFFECTED = "equity_unaffected"
    INCOME = "income"
    INCOME_OTHER = "income_other"
    EXPENSE = "expense"
    EXPENSE_DEPRECIATION = "expense_depreciation"
    EXPENSE_DIRECT_COST = "expense_direct_cost"
    OFF_BALANCE = "off_balance"

    @property
    def normal_side(self) -> str:
        """``"debit"`` for assets and expenses, ``"credit"`` for the rest."""
        return "debit" if self.value.startswith(("asset", "expense")) else "credit"


ROLES = ("receivable", "payable", "liquidity", "tax")
"""Roles that validation relies on to check an entry against its document."""

# Names of VAT accounts in the languages of the shipped charts. "VAT key possible" marks
# SKR03 real-estate accounts that merely may carry VAT, so it is excluded.
_TAX_NAME = re.compile(
    r"\bVAT\b(?! key)|input ?tax|^tax (paid|received|receivable|payable)\b|"
    r"vorsteuer|umsatzsteuer|pretporez|\bPDV\b|porez na dodanu",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Account:
    """One account of the chart."""

    code: str
    """The account number as the company writes it (``"1200"``, ``"120000"``)."""
    name: str
    """The account's name (English in the shipped charts)."""
    type: AccountType | str
    """Odoo account type; an unknown type string is kept as given."""
    postable: bool = True
    """False for summary accounts that only add up others."""
    role: str | None = None
    """``receivable``, ``payable``, ``liquidity``, ``tax`` or ``None``."""
    local_name: str | None = None
    """The name in the chart's own language, when the chart has one."""
    reconcile: bool = False
    """Whether open items on it are matched (receivables, payables, clearing accounts)."""

    @property
    def account_class(self) -> str:
        """The first two digits: the account class of Zupan's posting-scheme metrics."""
        return self.code[:2]


# Only balance-sheet accounts of these types hold VAT or money in the bank; names that say
# "VAT" on revenue or expense accounts ("Revenue, 19 % VAT") describe the rate, not the role.
_TAX_TYPES = frozenset(
    {"asset_current", "asset_receivable", "liability_current", "liability_payable"}
)
# Names that mention VAT without being VAT accounts: goods valued with VAT included,
# non-deductible VAT (a cost), SKR03 real-estate accounts that may carry a VAT key.
_NOT_TAX_NAME = re.compile(r"VAT included|not deductible|non-deductible|VAT key", re.IGNORECASE)
_LIQUIDITY_NAME = re.compile(r"^(bank|cash|petty cash)\b", re.IGNORECASE)


def infer_role(
    code: str,
    name: str,
    account_type: str,
    local_name: str | None,
    tax_codes: frozenset[str] = frozenset(),
) -> str | None:
    """The role of an account when the chart does not state it.

    ``tax``: the accounts the chart's tax file posts VAT to (``tax_codes``), and current
    asset or liability accounts whose name says VAT, input tax, Vorsteuer, Umsatzsteuer,
    pretporez or PDV (but not "VAT included", "non-deductible", "VAT key"). ``receivable`` / ``payable`` from the types
    ``asset_receivable`` / ``liability_payable``. ``liquidity`` for ``asset_cash`` and
    ``liability_credit_card``, and current assets named "Bank ...", "Cash ..." or
    "Petty cash ..." (charts such as SKR03 type their banks as plain current assets).
    """
    if tax_codes and code in tax_codes:
        return "tax"
    if (
        account_type in _TAX_TYPES
        and not _NOT_TAX_NAME.search(name)
        and (_TAX_NAME.search(name) or (local_name and _TAX_NAME.search(local_name)))
    ):
        return "tax"
    if account_type == AccountType.ASSET_RECEIVABLE:
        return "receivable"
    if account_type == AccountType.LIABILITY_PAYABLE:
        return "payable"
    if account_type in (AccountType.ASSET_CASH, AccountType.LIABILITY_CREDIT_CARD):
        return "liquidity"
    if account_type == AccountType.ASSET_CURRENT and _LIQUIDITY_NAME.search(name):
        return "liquidity"
    return None


def _account_type(value: str) -> AccountType | str:
    try:
        return AccountType(value)
    except ValueError:
        return value


def _flag(value: str | None) -> bool | None:
    if value is None or value.strip() == "":
        return None
    return value.strip().lower() in ("true", "1", "yes", "y")


@dataclass(frozen=True)
class ChartOfAccounts:
    """A company's chart of accounts: lookup by code and by class prefix."""

    accounts: tuple[Account, ...]
    _by_code: Mapping[str, Account] = field(init=False, repr=False, compare=False)
    _by_role: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {a.code: a for a in self.accounts})
        roles: dict[str, set[str]] = {}
        for a in self.accounts:
            if a.role:
                roles.setdefault(a.role, set()).add(a.code)
        object.__setattr__(self, "_by_role", {r: frozenset(c) for r, c in roles.items()})

    def __len__(self) -> int:
        return len(self.accounts)

    def __iter__(self) -> Iterator[Account]:
        return iter(self.accounts)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Account | None:
        """The account with this code, or ``None``."""
        return self._by_code.get(code)

    def __getitem__(self, code: str) -> Account:
        return self._by_code[code]

    def by_prefix(self, prefix: str) -> list[Account]:
        """Accounts whose code starts with ``prefix`` (a class or group), in chart order."""
        return [a for a in self.accounts if a.code.startswith(prefix)]

    def with_role(self, role: str) -> frozenset[str]:
        """Codes of the accounts that have ``role``."""
        return self._by_role.get(role, frozenset())

    def extended(self, accounts: Iterable[Account]) -> ChartOfAccounts:
        """A chart with ``accounts`` added (a company opening its bank accounts, say)."""
        new = [a for a in accounts if a.code not in self._by_code]
        return ChartOfAccounts(self.accounts + tuple(new))

    @classmethod
    def from_csv(cls, text: str, tax_codes: Iterable[str] = ()) -> ChartOfAccounts:
        """Read a chart in the CSV format of ../shared/charts (Odoo chart templates).

        Rows without a code are skipped (Odoo files end with stray rows). ``tax_codes`` are
        account codes the chart's tax file points at; they get the ``tax`` role. An account
        is non-postable when a ``postable`` column says so or, without that column, when
        its code is a strict prefix of another code (a group account).
        Raises ``ValueError`` when the header lacks ``code``, ``name`` or ``account_type``
        or when a code appears twice.
        """
        reader = csv.DictReader(io.StringIO(text))
        missing = {"code", "name", "account_type"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"chart CSV lacks the column(s) {', '.join(sorted(missing))}")
        taxes = frozenset(tax_codes)
        rows = [r for r in reader if (r.get("code") or "").strip()]
        codes = [r["code"].strip() for r in rows]
        seen: set[str] = set()
        for code in codes:
            if code in seen:
                raise ValueError(f"chart CSV has account {code} twice")
            seen.add(code)
        sorted_codes = sorted(codes)
        group_codes = {
            c for c, nxt in itertools.pairwise(sorted_codes) if nxt.startswith(c) and nxt != c
        }
        accounts = []
        for row in rows:
            code = row["code"].strip()
            name = (row.get("name") or "").strip()
            local = (row.get("local_name") or "").strip() or next(
                (
                    v.strip()
                    for k, v in row.items()
                    if k and k.startswith("name@") and v and v.strip()
                ),
                None,
            )
            account_type = (row.get("account_type") or "").strip()
            postable = _flag(row.get("postable"))
            role = (row.get("role") or "").strip() or None
            accounts.append(
                Account(
                    code=code,
                    name=name,
                    type=_account_type(account_type),
                    postable=(code not in group_codes) if postable is None else postable,
                    role=role
                    if "role" in row
                    else infer_role(code, name, account_type, local, taxes),
                    local_name=local,
                    reconcile=bool(_flag(row.get("reconcile"))),
                )
            )
        return cls(tuple(accounts))

    def to_csv(self) -> str:
        """This chart in the interchange CSV format, with our ``postable`` and ``role`` columns."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["code", "name", "account_type", "postable", "role", "reconcile", "local_name"]
        )
        for a in self.accounts:
            writer.writerow(
                [
                    a.code,
                    a.name,
                    str(a.type),
                    str(a.postable),
                    a.role or "",
                    str(a.reconcile),
                    a.local_name or "",
                ]
            )
        return out.getvalue()


def tax_codes_from_odoo_taxes(text: str, chart_csv: str) -> frozenset[str]:
    """Account codes that an Odoo tax template file (``taxes.csv``) posts VAT to.

    The tax file names accounts by their template id (``hr_240000``); the chart CSV maps those
    ids to codes.
    """
    ids = {r["id"]: r["code"] for r in csv.DictReader(io.StringIO(chart_csv)) if r.get("id")}
    found = set()
    for row in csv.DictReader(io.StringIO(text)):
        ref = (row.get("repartition_line_ids/account_id") or "").strip()
        if ref and ref in ids:
            found.add(ids[ref])
    return frozenset(found)
