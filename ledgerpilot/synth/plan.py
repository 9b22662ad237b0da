"""The company plan: everything about the synthetic company that is fixed before any document.

Partners with their trading profiles (what they sell or buy, how often, at what prices,
from when to when), the fixed-asset register, loans, staff numbers and pay, the clerks
who post, and the price index. Drawn once from ``Random(f"{seed}:plan")``, so the
documents of any year can be generated without generating the years before it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from ledgerpilot.ledger import Partner

from .partners import PartnerFactory, Profile, first_day, log_uniform
from .policies import AccountingPolicy
from .posting import cents_at

# Consumer-price inflation per year (an EU-like path); later years assume 2 %.
INFLATION: dict[int, float] = {
    2005: 0.022,
    2006: 0.022,
    2007: 0.021,
    2008: 0.033,
    2009: 0.003,
    2010: 0.016,
    2011: 0.030,
    2012: 0.025,
    2013: 0.013,
    2014: 0.004,
    2015: 0.001,
    2016: 0.002,
    2017: 0.015,
    2018: 0.018,
    2019: 0.012,
    2020: 0.003,
    2021: 0.026,
    2022: 0.092,
    2023: 0.064,
    2024: 0.024,
    2025: 0.022,
}


def price_index(year: int) -> float:
    """Prices of ``year`` relative to 2025 (1.0 in 2025, lower before, higher after)."""
    index = 1.0
    if year < 2025:
        for y in range(year + 1, 2026):
            index /= 1.0 + INFLATION.get(y, 0.02)
    else:
        for y in range(2026, year + 1):
            index *= 1.0 + INFLATION.get(y, 0.02)
    return index


@dataclass(frozen=True, slots=True)
class Asset:
    """A fixed asset: bought on a supplier invoice, depreciated straight-line."""

    code: str
    name: str
    asset_class: str
    """``it``, ``furniture``, ``vehicle`` or ``software``."""
    cost: int
    """Cost in cents (the net of its purchase invoice)."""
    acquired: dt.date
    months: int
    """Useful life in months; depreciation starts the month after acquisition."""
    yearly: bool
    """Depreciated once a year on 31 December instead of every month."""
    vendor: Profile | None
    """Who sold it (None for assets bought before the history starts)."""

    def monthly_amount(self, k: int) -> int:
        """Depreciation in cents of the ``k``-th month of its life (0-based); the last takes the rest."""
        if not 0 <= k < self.months:
            return 0
        base = self.cost // self.months
        return self.cost - base * (self.months - 1) if k == self.months - 1 else base

    def amount(self, year: int, month: int) -> int:
        """Depreciation in cents posted for ``month`` of ``year`` (0 when none is due then)."""
        first = self.acquired.year * 12 + self.acquired.month  # month index of the first charge
        if self.yearly:
            if month != 12:
                return 0
            return sum(self.monthly_amount(year * 12 + m - first) for m in range(1, 13))
        return self.monthly_amount(year * 12 + month - first)


@dataclass(frozen=True, slots=True)
class Loan:
    """A bank loan repaid in equal monthly principal instalments."""

    code: str
    amount: int
    """Principal in cents."""
    first: tuple[int, int]
    """(year, month) of the first instalment."""
    months: int
    rate: Decimal
    """Annual interest rate (``Decimal("0.045")`` for 4.5 %)."""

    def outstanding(self, year: int, month: int) -> int:
        """Principal in cents still owed at the start of ``month``, before its instalment."""
        k = (year * 12 + month) - (self.first[0] * 12 + self.first[1])
        if k < 0:
            return self.amount
        return max(self.amount - (self.amount // self.months) * k, 0) if k < self.months else 0

    def principal(self, year: int, month: int) -> int:
        """Principal in cents repaid by the instalment of ``month`` (0 when none falls due)."""
        k = (year * 12 + month) - (self.first[0] * 12 + self.first[1])
        if not 0 <= k < self.months:
            return 0
        base = self.amount // self.months
        return self.amount - base * (self.months - 1) if k == self.months - 1 else base

    def interest(self, year: int, month: int) -> int:
        """Interest in cents accrued over ``month`` on the principal owed after its instalment."""
        owed = self.outstanding(year, month) - self.principal(year, month)
        return cents_at(owed, self.rate / 12) if owed > 0 else 0


@dataclass(frozen=True, slots=True)
class Clerk:
    """Someone who posts in the AIS."""

    user: str
    weight: float
    first_year: int
    last_year: int
    error_rate: float
    """Probability of posting an invoice line to a plausible but wrong account."""


@dataclass
class CompanyPlan:
    """Everything fixed before the first document; see the module docstring."""

    policy: AccountingPolicy
    seed: int
    start_year: int
    years: int
    per_year: int
    change_date: dt.date
    suppliers: list[Profile] = field(default_factory=list)
    customers: list[Profile] = field(default_factory=list)
    special: dict[str, Partner] = field(default_factory=dict)
    """``bank``, ``tax_office``, ``social_office``."""
    assets: list[Asset] = field(default_factory=list)
    loans: list[Loan] = field(default_factory=list)
    headcount: dict[int, int] = field(default_factory=dict)
    salary: dict[int, float] = field(default_factory=dict)
    """Average monthly gross salary per year, in euros."""
    clerks: tuple[Clerk, ...] = ()
    chief: str = ""
    """The chief accountant: posts payroll, depreciation, VAT and closing entries."""

    @property
    def end_year(self) -> int:
        """The last year of the history."""
        return self.start_year + self.years - 1

    @property
    def profiles(self) -> list[Profile]:
        """Suppliers and customers in plan order."""
        return self.suppliers + self.customers


_CLERKS: dict[str, tuple[tuple[str, float, int, int, float], ...]] = {
    # user, weight, first year offset, last year offset (99: open), error rate
    "HR": (
        ("ana.horvat", 0.50, 0, 99, 0.015),
        ("marko.kovac", 0.32, 0, 99, 0.018),
        ("ivana.babic", 0.25, 3, 99, 0.02),
        ("student.ivic", 0.10, 2, 4, 0.07),
    ),
    "DE": (
        ("s.becker", 0.50, 0, 99, 0.015),
        ("m.schulz", 0.32, 0, 99, 0.018),
        ("j.wagner", 0.25, 3, 99, 0.02),
        ("aushilfe", 0.10, 2, 4, 0.07),
    ),
    "LU": (
        ("c.muller", 0.50, 0, 99, 0.015),
        ("l.weber", 0.32, 0, 99, 0.018),
        ("a.schmit", 0.25, 3, 99, 0.02),
        ("temp.staff", 0.10, 2, 4, 0.07),
    ),
}
_CHIEF = {"HR": "vesna.maric", "DE": "k.hoffmann", "LU": "p.thill"}

# Monthly contracts every company of this kind has, and more as it grows.
RECURRING_BASE = (
    "rent",
    "electricity",
    "phone",
    "software",
    "internet",
    "gas",
    "software",
    "water_waste",
    "hosting",
    "software",
    "cleaning",
)
RECURRING_EXTRA = (
    "software",
    "vehicle_lease",
    "it_maintenance",
    "software",
    "hosting",
    "bookkeeping",
    "phone",
    "vehicle_lease",
    "software",
)
ASSET_KINDS: tuple[tuple[str, str, float, float, int, int], ...] = (
    # class, name, low cost, high cost (2025 euros), life months low, high
    ("it", "Rack server", 4000, 12000, 36, 48),
    ("it", "Developer workstations", 2500, 9000, 36, 48),
    ("it", "Network equipment", 1500, 6000, 48, 60),
    ("furniture", "Office furniture", 2000, 14000, 96, 120),
    ("furniture", "Conference room equipment", 1500, 8000, 60, 96),
    ("vehicle", "Company car", 22000, 45000, 60, 72),
    ("vehicle", "Delivery van", 25000, 42000, 60, 72),
    ("software", "ERP software licence", 4000, 20000, 36, 60),
    ("software", "Design software perpetual licence", 1500, 6000, 36, 48),
)


def build_plan(
    policy: AccountingPolicy,
    seed: int,
    start_year: int,
    years: int,
    per_year: int,
    change_date: dt.date,
    extra_years: int = 1,
) -> CompanyPlan:
    """Draw the company plan for ``years`` of history plus ``extra_years`` of inbox."""
    rng = random.Random(f"{seed}:plan")
    plan = CompanyPlan(
        policy=policy,
        seed=seed,
        start_year=start_year,
        years=years,
        per_year=per_year,
        change_date=change_date,
    )
    home = policy.country
    size = per_year / 2500
    last_year = start_year + years - 1 + extra_years
    factory = PartnerFactory(home, per_year, rng)
    before = dt.date(start_year - 3, 1, 1)

    # Monthly contracts; each is replaced by a new provider now and then.
    n_recurring = max(4, round(len(RECURRING_BASE) * size**0.5))
    contracts = list(RECURRING_BASE[:n_recurring]) + [
        RECURRING_EXTRA[i % len(RECURRING_EXTRA)]
        for i in range(max(n_recurring - len(RECURRING_BASE), 0))
    ]
    for main in contracts:
        since = before
        while since.year <= last_year:
            until = None
            if rng.random() < 0.55:  # the contract changes hands within the span
                switch = rng.randint(start_year, last_year + 3)
                until = dt.date(switch, rng.randint(1, 12), 1) - dt.timedelta(days=1)
                if until <= since:
                    until = None
            plan.suppliers.append(factory.supplier("recurring", since, until, main))
            if until is None:
                break
            since = until + dt.timedelta(days=1)
    n_contracts = 3 + round(5 * (size**0.5))
    for _ in range(n_contracts):
        since = before
        until = None
        if rng.random() < 0.5:
            until = dt.date(rng.randint(start_year, last_year + 2), rng.randint(1, 12), 28)
        plan.customers.append(factory.customer("recurring", since, until))
        if until is not None and until.year <= last_year:  # a new client signs up later
            plan.customers.append(
                factory.customer("recurring", first_day(rng, until.year + (until.month > 6)), None)
            )

    # Suppliers and customers trading now and then; a tenth leave each year, more arrive.
    pools = {"supplier": round(48 * size), "customer": round(40 * size)}
    for role, pool in pools.items():
        make = factory.supplier if role == "supplier" else factory.customer
        target = pool
        active: list[Profile] = []
        for year in range(start_year, last_year + 1):
            for profile in active:
                if profile.until is None and rng.random() < 0.1:
                    profile.until = (
                        dt.date(year - 1, 12, 31)
                        if rng.random() < 0.5
                        else dt.date(year, rng.randint(1, 12), 28)
                    )
            active = [p for p in active if p.until is None]
            new = target - len(active) if year > start_year else pool
            for _ in range(max(new, 1)):
                pattern = "regular" if rng.random() < 0.4 else "occasional"
                since = before if year == start_year else first_day(rng, year)
                profile = make(pattern, since, None)
                active.append(profile)
                (plan.suppliers if role == "supplier" else plan.customers).append(profile)
            target = round(target * 1.02) + 1
            one_offs = round((22 if role == "supplier" else 12) * size)
            for _ in range(one_offs):
                day = first_day(rng, year)
                profile = make("one_off", day, day)
                (plan.suppliers if role == "supplier" else plan.customers).append(profile)

    for i, profile in enumerate(plan.profiles):
        profile.index = i

    # Tax office, social security, the bank.
    plan.special = {
        "bank": Partner("BANK-1", policy.bank_name, factory.namer.vat(home), home),
        "tax_office": Partner("TAX-1", policy.tax_office, None, home),
    }
    if policy.social_office:
        plan.special["social_office"] = Partner("SOC-1", policy.social_office, None, home)

    # Fixed assets: a few bought before the history, then some every year.
    it_vendors = [
        p
        for p in plan.suppliers
        if p.partner.country == home
        and p.pattern in ("regular", "occasional")
        and "merchandise" in p.categories
    ]
    dedicated = {
        "vehicle": factory.supplier("occasional", before, None, "vehicle_service"),
        "furniture": factory.supplier("occasional", before, None, "office_supplies"),
        "software": factory.supplier("occasional", before, None, "software"),
    }
    for profile in dedicated.values():
        profile.index = len(plan.suppliers) + len(plan.customers)
        profile.weight *= 0.3
        plan.suppliers.append(profile)
    per_year_assets = max(1.0, 2.0 * size**0.8)
    count = 0
    for year in range(start_year - 3, last_year + 1):
        for _ in range(int(per_year_assets) + (rng.random() < per_year_assets % 1)):
            klass, name, low, high, life_lo, life_hi = rng.choice(ASSET_KINDS)
            day = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
            cost = int(log_uniform(rng, low, high) * price_index(year) * 100)
            vendor: Profile | None = None
            if year >= start_year:
                if klass == "it":
                    fitting = [p for p in it_vendors if p.active(day)]
                    vendor = rng.choice(fitting) if fitting else dedicated["furniture"]
                else:
                    vendor = dedicated[klass]
            count += 1
            months = rng.randrange(life_lo, life_hi + 1, 12)
            yearly = klass == "furniture" and rng.random() < 0.5
            plan.assets.append(
                Asset(f"A{count:04d}", name, klass, cost, day, months, yearly, vendor)
            )

    # Loans: one taken before the history, one in its middle.
    plan.loans.append(
        Loan(
            "L1",
            int(60000 * size**0.8 * price_index(start_year) * 100),
            (start_year - 1, 3),
            84,
            Decimal("0.045"),
        )
    )
    mid = start_year + years // 3
    plan.loans.append(
        Loan(
            "L2",
            int(90000 * size**0.8 * price_index(mid) * 100),
            (mid, 4),
            120,
            Decimal("0.038") if mid < 2022 else Decimal("0.055"),
        )
    )

    # Staff and pay.
    heads = max(4, round(9 * size))
    base_salary = {"HR": 1900.0, "DE": 4700.0, "LU": 5400.0}[home]
    for year in range(start_year - 1, last_year + 2):
        plan.headcount[year] = heads
        plan.salary[year] = base_salary * price_index(year) * (1.012 ** (year - 2025))
        heads = max(
            3,
            heads + rng.choice((0, 0, 1, 1, 2)) * max(1, round(size**0.7)) - (rng.random() < 0.15),
        )

    plan.clerks = tuple(
        Clerk(user, weight, start_year + first, start_year + last, error)
        for user, weight, first, last, error in _CLERKS[home]
    )
    plan.chief = _CHIEF[home]
    return plan
