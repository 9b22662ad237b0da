"""Accounting policies: which account a careful bookkeeper posts each thing to, per chart.

One :class:`AccountingPolicy` per built-in chart (``hr``, ``generic``, ``de_skr03``). An
account *rule* is either an account code or a mapping keyed by the partner's VAT regime
(``domestic``, ``eu``, ``foreign``) or by the VAT *band* of the line's rate (``"25"``,
``"13"``, ``"5"`` in Croatia; ``"19"``, ``"7"`` in Germany), nested as needed, with ``"*"``
as the fallback. docs/synthetic-company.md shows the same tables for readers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ledgerpilot.ledger import Account, AccountType

Rule = str | Mapping[str, "Rule"]

PAYROLL_PARTS = ("net", "tax", "employee", "employer")
"""Payroll components: net pay, income tax withheld, employee and employer contributions."""


def resolve(rule: Rule, regime: str, band: str) -> str:
    """The account code that ``rule`` gives for a partner ``regime`` and a VAT ``band``."""
    while not isinstance(rule, str):
        if regime in rule:
            rule = rule[regime]
        elif band in rule:
            rule = rule[band]
        else:
            rule = rule["*"]
    return rule


@dataclass(frozen=True)
class PolicyChange:
    """A bookkeeping policy change: ``category`` moves from ``old`` to ``new`` on a date."""

    category: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class PayrollLine:
    """One line of the payroll entry or of a payroll payment: an account and what it sums."""

    account: str
    parts: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class AccountingPolicy:
    """How the company books everything on one chart of accounts."""

    chart: str
    country: str
    company: str
    city: str
    bank_name: str
    tax_office: str
    social_office: str | None
    """Where social security is paid when it is not the tax office (German health insurers)."""
    band: Callable[[int], str]
    bank: str
    payable: Mapping[str, str]
    """Per regime, plus ``utility`` where the chart keeps utility suppliers apart."""
    receivable: Mapping[str, str]
    expense: Mapping[str, Rule]
    revenue: Mapping[str, Rule]
    policy_change: PolicyChange
    input_vat: Rule
    output_vat: Rule
    self_assessed: Mapping[str, tuple[Rule, Rule] | None]
    """``"eu goods"``, ``"eu services"``, ``"foreign goods"``, ``"foreign services"`` ->
    (input VAT rule, output VAT rule), or ``None`` where nothing is self-assessed."""
    vat_payable: str
    vat_receivable: str
    vat_due_day: int
    """Day of the following month on which the VAT of a month is paid."""
    payroll_descriptions: Mapping[str, str]
    payroll_debit: tuple[PayrollLine, ...]
    payroll_credit: tuple[PayrollLine, ...]
    payroll_payments: tuple[tuple[str, tuple[PayrollLine, ...]], ...]
    """(payee: ``employees``, ``tax_office`` or ``social_office``; lines it settles)."""
    payroll_rates: Mapping[str, Decimal]
    """Share of gross pay of each of ``tax``, ``employee``, ``employer``."""
    depreciation: Mapping[str, tuple[str, str | None, str]]
    """Asset class -> (asset account, accumulated depreciation or None when written off
    directly against the asset, depreciation expense)."""
    loan: str
    interest_expense: str
    interest_payable: str
    accrued_expenses: str
    bank_fees: str
    revenue_fallback: str
    """A plausible wrong revenue account for a hurried clerk where all revenue shares one."""
    expense_fallback: str
    """The catch-all expense account a hurried clerk reaches for."""
    opened: tuple[Account, ...] = ()
    """Accounts the company opened itself on top of the template chart."""


def _band_hr(rate: int) -> str:
    return "25" if rate >= 20 else "13" if rate >= 10 else "5" if rate > 0 else "0"


def _band_de(rate: int) -> str:
    return "19" if rate >= 16 else "7" if rate > 0 else "0"


def _band_flat(rate: int) -> str:
    return "*"


HR = AccountingPolicy(
    chart="hr",
    country="HR",
    company="Jadran Digital d.o.o.",
    city="Zagreb",
    bank_name="Zagrebačka banka d.d.",
    tax_office="Ministarstvo financija, Porezna uprava",
    social_office=None,
    band=_band_hr,
    bank="100000",
    payable={"domestic": "220000", "eu": "221000", "foreign": "221000", "utility": "223000"},
    receivable={"domestic": "120000", "eu": "121000", "foreign": "121000"},
    expense={
        "merchandise": "710000",
        "subcontracting": "411000",
        "rent": "414000",
        "service_charges": "417000",
        "electricity": "407000",
        "gas": "407000",
        "water_waste": "417000",
        "phone": "410000",
        "internet": "410000",
        "software": "468000",
        "hosting": "419000",
        "office_supplies": "401000",
        "small_equipment": "404000",
        "books": "469000",
        "travel_hotel": "460000",
        "travel_transport": "460000",
        "vehicle_fuel": "407000",
        "vehicle_service": "412000",
        "vehicle_lease": "414000",
        "insurance": "464000",
        "legal": "416000",
        "bookkeeping": "416000",
        "audit": "416000",
        "marketing": "415000",
        "catering": "418000",
        "training": "419000",
        "cleaning": "412000",
        "courier": "410000",
        "it_maintenance": "412000",
    },
    revenue={
        "consulting": {"domestic": "751000", "*": "754000"},
        "development": {"domestic": "751000", "*": "754000"},
        "support": {"domestic": "751000", "*": "754000"},
        "training_sales": {"domestic": "751000", "*": "754000"},
        "hardware": {"domestic": "760000", "*": "761000"},
        "books_sales": {"domestic": "760000", "*": "761000"},
    },
    policy_change=PolicyChange(
        "software", "419000", "468000", "software subscriptions are licences: cost of usage rights"
    ),
    input_vat="140000",
    output_vat="240000",
    self_assessed={
        "eu goods": (
            {"25": "140220", "13": "140210", "5": "140200"},
            {"25": "240220", "13": "240210", "5": "240200"},
        ),
        "eu services": (
            {"25": "140320", "13": "140310", "5": "140300"},
            {"25": "240320", "13": "240310", "5": "240300"},
        ),
        "foreign goods": ("140500", "240500"),
        "foreign services": (
            {"25": "140420", "13": "140410", "5": "140400"},
            {"25": "240420", "13": "240410", "5": "240400"},
        ),
    },
    vat_payable="240700",
    vat_receivable="140700",
    vat_due_day=20,
    payroll_descriptions={
        "net": "Net salaries",
        "tax": "Income tax and surtax withheld",
        "employee": "Pension contributions from salaries",
        "employer": "Health insurance contribution on salaries",
    },
    payroll_debit=(
        PayrollLine("420000", ("net",), "Net salaries"),
        PayrollLine("421000", ("tax",), "Income tax and surtax"),
        PayrollLine("422000", ("employee",), "Contributions from salaries"),
        PayrollLine("423000", ("employer",), "Contributions on salaries"),
    ),
    payroll_credit=(
        PayrollLine("230000", ("net",), "Net salaries payable"),
        PayrollLine("241000", ("tax",), "Income tax and surtax payable"),
        PayrollLine("242000", ("employee",), "Pension contributions payable"),
        PayrollLine("242000", ("employer",), "Health insurance contribution payable"),
    ),
    payroll_payments=(
        ("employees", (PayrollLine("230000", ("net",), "Net salaries"),)),
        (
            "tax_office",
            (
                PayrollLine("241000", ("tax",), "Income tax and surtax"),
                PayrollLine("242000", ("employee", "employer"), "Contributions"),
            ),
        ),
    ),
    payroll_rates={
        "tax": Decimal("0.085"),
        "employee": Decimal("0.20"),
        "employer": Decimal("0.165"),
    },
    depreciation={
        "it": ("031000", "039000", "431000"),
        "furniture": ("031000", "039000", "431000"),
        "vehicle": ("032000", "039000", "432000"),
        "software": ("012000", "019000", "430000"),
    },
    loan="252000",
    interest_expense="473000",
    interest_payable="232000",
    accrued_expenses="290000",
    bank_fees="465000",
    revenue_fallback="758000",
    expense_fallback="419000",
)

DE_SKR03 = AccountingPolicy(
    chart="de_skr03",
    country="DE",
    company="Rheinblick Systemhaus GmbH",
    city="Köln",
    bank_name="Sparkasse KölnBonn",
    tax_office="Finanzamt Köln-Mitte",
    social_office="AOK Rheinland/Hamburg",
    band=_band_de,
    bank="1210",
    payable={"domestic": "1610", "eu": "1610", "foreign": "1610"},
    receivable={"domestic": "1410", "eu": "1410", "foreign": "1410"},
    expense={
        "merchandise": {
            "domestic": {"19": "3400", "7": "3300", "*": "3400"},
            "eu": {"7": "3420", "*": "3425"},
            "foreign": "3200",
        },
        "subcontracting": {"domestic": "3100", "eu": "3123", "foreign": "3125"},
        "rent": "4210",
        "service_charges": "4280",
        "electricity": "4240",
        "gas": "4230",
        "water_waste": "4240",
        "phone": "4920",
        "internet": "4925",
        "software": "4964",
        "hosting": "4925",
        "office_supplies": "4930",
        "small_equipment": "4855",
        "books": "4940",
        "travel_hotel": "4666",
        "travel_transport": "4663",
        "vehicle_fuel": "4530",
        "vehicle_service": "4540",
        "vehicle_lease": "4570",
        "insurance": "4360",
        "legal": "4950",
        "bookkeeping": "4955",
        "audit": "4957",
        "marketing": "4600",
        "catering": "4650",
        "training": "4945",
        "cleaning": "4250",
        "courier": "4910",
        "it_maintenance": "4806",
    },
    revenue={
        "consulting": {"domestic": {"7": "8300", "*": "8400"}, "eu": "8336", "foreign": "8338"},
        "development": {"domestic": {"7": "8300", "*": "8400"}, "eu": "8336", "foreign": "8338"},
        "support": {"domestic": {"7": "8300", "*": "8400"}, "eu": "8336", "foreign": "8338"},
        "training_sales": {"domestic": {"7": "8300", "*": "8400"}, "eu": "8336", "foreign": "8338"},
        "hardware": {"domestic": {"7": "8300", "*": "8400"}, "eu": "8125", "foreign": "8120"},
        "books_sales": {"domestic": {"7": "8300", "*": "8400"}, "eu": "8125", "foreign": "8120"},
    },
    policy_change=PolicyChange(
        "software",
        "4900",
        "4964",
        "software subscriptions are licences (zeitlich befristete "
        "Überlassung von Rechten), not other operating expenses",
    ),
    input_vat={"7": "1571", "*": "1576"},
    output_vat={"7": "1771", "*": "1776"},
    self_assessed={
        "eu goods": ({"7": "1572", "*": "1574"}, {"7": "1772", "*": "1774"}),
        "eu services": ({"7": "1578", "*": "1577"}, {"7": "1785", "*": "1787"}),
        "foreign goods": None,  # import VAT is paid to customs, not on the supplier invoice
        "foreign services": ({"7": "1578", "*": "1577"}, {"7": "1785", "*": "1787"}),
    },
    vat_payable="1780",
    vat_receivable="1545",
    vat_due_day=10,
    payroll_descriptions={
        "net": "Net salaries",
        "tax": "Wage tax and solidarity surcharge withheld",
        "employee": "Employee social security contributions",
        "employer": "Employer social security contributions",
    },
    payroll_debit=(
        PayrollLine("4120", ("net", "tax", "employee"), "Gross salaries"),
        PayrollLine("4130", ("employer",), "Employer social security contributions"),
    ),
    payroll_credit=(
        PayrollLine("1740", ("net",), "Net salaries payable"),
        PayrollLine("1741", ("tax",), "Wage tax payable"),
        PayrollLine("1742", ("employee", "employer"), "Social security payable"),
    ),
    payroll_payments=(
        ("employees", (PayrollLine("1740", ("net",), "Net salaries"),)),
        ("tax_office", (PayrollLine("1741", ("tax",), "Wage tax"),)),
        (
            "social_office",
            (PayrollLine("1742", ("employee", "employer"), "Social security contributions"),),
        ),
    ),
    payroll_rates={
        "tax": Decimal("0.14"),
        "employee": Decimal("0.205"),
        "employer": Decimal("0.21"),
    },
    depreciation={
        "it": ("0490", None, "4830"),
        "furniture": ("0420", None, "4830"),
        "vehicle": ("0320", None, "4832"),
        "software": ("0027", None, "4822"),
    },
    loan="0630",
    interest_expense="2120",
    interest_payable="1700",
    accrued_expenses="0977",
    bank_fees="4970",
    revenue_fallback="8200",
    expense_fallback="4900",
)

GENERIC = AccountingPolicy(
    chart="generic",
    country="LU",
    company="Moselle Data S.à r.l.",
    city="Luxembourg",
    bank_name="Banque et Caisse d'Épargne de l'État",
    tax_office="Administration de l'enregistrement, des domaines et de la TVA",
    social_office=None,
    band=_band_flat,
    bank="101401",
    payable={"domestic": "2110", "eu": "2110", "foreign": "2110"},
    receivable={"domestic": "1210", "eu": "1210", "foreign": "1210"},
    expense={
        "merchandise": "5000",
        "subcontracting": "5000",
        "rent": "6120",
        "service_charges": "6120",
        "electricity": "6000",
        "gas": "6000",
        "water_waste": "6000",
        "phone": "6000",
        "internet": "6000",
        "software": "6000",
        "hosting": "6000",
        "office_supplies": "6000",
        "small_equipment": "6110",
        "books": "6000",
        "travel_hotel": "6000",
        "travel_transport": "6000",
        "vehicle_fuel": "6000",
        "vehicle_service": "6000",
        "vehicle_lease": "6000",
        "insurance": "6000",
        "legal": "6000",
        "bookkeeping": "6000",
        "audit": "6000",
        "marketing": "9620",
        "catering": "6000",
        "training": "6000",
        "cleaning": "6000",
        "courier": "6000",
        "it_maintenance": "6000",
    },
    revenue={
        key: "4000"
        for key in (
            "consulting",
            "development",
            "support",
            "training_sales",
            "hardware",
            "books_sales",
        )
    },
    policy_change=PolicyChange(
        "marketing", "6000", "9620", "advertising is reported as a sales expense"
    ),
    input_vat="1310",
    output_vat="2510",
    self_assessed={
        "eu goods": ("1310", "2510"),
        "eu services": ("1310", "2510"),
        "foreign goods": None,
        "foreign services": ("1310", "2510"),
    },
    vat_payable="2520",
    vat_receivable="1320",
    vat_due_day=15,
    payroll_descriptions={
        "net": "Net salaries",
        "tax": "Income tax withheld",
        "employee": "Employee social security contributions",
        "employer": "Employer social security contributions",
    },
    payroll_debit=(
        PayrollLine("6300", ("net", "tax", "employee"), "Gross salaries"),
        PayrollLine("6300", ("employer",), "Employer social security contributions"),
    ),
    payroll_credit=(
        PayrollLine("2300", ("net",), "Net salaries payable"),
        PayrollLine("2301", ("tax", "employee"), "Employee payroll taxes"),
        PayrollLine("2302", ("employer",), "Employer payroll taxes"),
    ),
    payroll_payments=(
        ("employees", (PayrollLine("2300", ("net",), "Net salaries"),)),
        (
            "tax_office",
            (
                PayrollLine("2301", ("tax", "employee"), "Employee payroll taxes"),
                PayrollLine("2302", ("employer",), "Employer payroll taxes"),
            ),
        ),
    ),
    payroll_rates={
        "tax": Decimal("0.15"),
        "employee": Decimal("0.125"),
        "employer": Decimal("0.13"),
    },
    depreciation={
        key: ("1510", "1511", "6500") for key in ("it", "furniture", "vehicle", "software")
    },
    loan="2910",
    interest_expense="6210",
    interest_payable="2010",
    accrued_expenses="2010",
    bank_fees="6200",
    revenue_fallback="4500",
    expense_fallback="6110",
    opened=(
        Account("101401", "Bank", AccountType.ASSET_CASH, role="liquidity", reconcile=True),
        Account("1511", "Accumulated Depreciation", AccountType.ASSET_FIXED),
        Account("6210", "Interest Expense", AccountType.EXPENSE),
        Account("6500", "Depreciation Expense", AccountType.EXPENSE_DEPRECIATION),
    ),
)

POLICIES: dict[str, AccountingPolicy] = {"hr": HR, "generic": GENERIC, "de_skr03": DE_SKR03}
"""The accounting policy of the synthetic company on each built-in chart."""


def policy_change_date(start_year: int, years: int) -> dt.date:
    """When the policy change takes effect: mid-history, so both sides are in the history."""
    if years >= 2:
        return dt.date(start_year + years // 2, 1, 1)
    return dt.date(start_year, 7, 1)
