"""The synthetic company: its chart, partners, streamed history, inbox and hidden truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from ledgerpilot.connectors.charts import builtin_chart
from ledgerpilot.ledger import ChartOfAccounts, Document, Partner

from . import vat
from .noise import Slip
from .partners import Profile
from .plan import CompanyPlan, build_plan
from .policies import POLICIES, AccountingPolicy, policy_change_date
from .posting import Bookkeeper
from .year import YearRun

LAST_HISTORY_YEAR = 2025
"""By default the history ends on 31 December of this year and the inbox follows it."""


class SyntheticCompany:
    """A company with years of posted history and an inbox of documents still to post.

    Everything is drawn from ``seed``: the same arguments give the same company, byte for
    byte. The history is streamed (:meth:`history`), never held in memory.
    """

    def __init__(self, plan: CompanyPlan, chart: ChartOfAccounts, inbox_size: int) -> None:
        self.plan = plan
        self.chart = chart
        """The chart, with the accounts the company opened itself (:attr:`opened_accounts`)."""
        self.inbox_size = inbox_size
        self._book = Bookkeeper(plan.policy, plan.change_date)

    @property
    def policy(self) -> AccountingPolicy:
        """How the company books on its chart."""
        return self.plan.policy

    @property
    def name(self) -> str:
        """The company's name."""
        return self.plan.policy.company

    @property
    def country(self) -> str:
        """The company's country (ISO code)."""
        return self.plan.policy.country

    @property
    def start_year(self) -> int:
        """The first year of the history."""
        return self.plan.start_year

    @property
    def end_year(self) -> int:
        """The last year of the history; the inbox starts on 1 January after it."""
        return self.plan.end_year

    @property
    def opened_accounts(self) -> tuple[str, ...]:
        """Codes of the accounts the company added to the template chart."""
        return tuple(a.code for a in self.plan.policy.opened)

    @property
    def policy_change(self) -> tuple[dt.date, str, str, str]:
        """(date, category, old account, new account) of the bookkeeping policy change."""
        change = self.plan.policy.policy_change
        return self.plan.change_date, change.category, change.old, change.new

    @property
    def profiles(self) -> list[Profile]:
        """Every supplier and customer with its trading profile."""
        return self.plan.profiles

    @cached_property
    def partners(self) -> list[Partner]:
        """Every partner: suppliers, customers, then the bank and the authorities."""
        return [p.partner for p in self.plan.profiles] + list(self.plan.special.values())

    def history(self) -> Iterator[Document]:
        """Every historical document with its posted entry, in date order (a generator)."""
        return self._history(None)

    def history_slips(self) -> list[Slip]:
        """The deviations of the history from careful posting (one pass over the history)."""
        slips: list[Slip] = []
        for _ in self._history(slips):
            pass
        return slips

    def _history(self, slips: list[Slip] | None) -> Iterator[Document]:
        carry: list[Any] = []
        for year in range(self.plan.start_year, self.plan.end_year + 1):
            run = YearRun(self.plan, self._book, year, carry, noisy=True, slips=slips)
            yield from run.run()
            carry = run.carry_out

    @cached_property
    def truth(self) -> list[Document]:
        """The inbox documents with the entries a careful bookkeeper posts for them.

        Computed from the last year of the history alone (its follow-ups carry into the
        inbox), which gives exactly what continuing the whole history would.
        """
        if self.inbox_size == 0:
            return []
        last = self.plan.end_year
        run = YearRun(self.plan, self._book, last, [], noisy=False)
        for _ in run.run():
            pass
        carry = run.carry_out
        found: list[Document] = []
        year = last + 1
        while len(found) < self.inbox_size:
            run = YearRun(self.plan, self._book, year, carry, noisy=False)
            for doc in run.run():
                found.append(doc)
                if len(found) == self.inbox_size:
                    break
            carry = run.carry_out
            year += 1
        return found

    @cached_property
    def inbox(self) -> list[Document]:
        """The pending documents after the history, in date order, without entries."""
        return [dataclasses.replace(doc, entry=None) for doc in self.truth]


def _check_policy(chart: ChartOfAccounts, policy: AccountingPolicy) -> None:
    """Refuse a policy that names an account the chart lacks or that takes no postings."""
    codes: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str):
            codes.add(value)
        elif isinstance(value, dict):
            for inner in value.values():
                collect(inner)
        elif isinstance(value, tuple):
            for inner in value:
                collect(inner)

    for rules in (policy.expense, policy.revenue, policy.payable, policy.receivable):
        collect(dict(rules))
    collect(dict(policy.self_assessed))
    collect((policy.input_vat, policy.output_vat))
    for ln in policy.payroll_debit + policy.payroll_credit:
        codes.add(ln.account)
    for asset_account, accumulated, expense in policy.depreciation.values():
        codes.update(c for c in (asset_account, accumulated, expense) if c)
    codes.update(
        (
            policy.bank,
            policy.vat_payable,
            policy.vat_receivable,
            policy.loan,
            policy.interest_expense,
            policy.interest_payable,
            policy.accrued_expenses,
            policy.bank_fees,
            policy.revenue_fallback,
            policy.expense_fallback,
            policy.policy_change.old,
            policy.policy_change.new,
        )
    )
    bad = sorted(c for c in codes if c not in chart or not chart[c].postable)
    if bad:
        raise ValueError(
            f"the {policy.chart} policy names accounts the chart lacks or cannot "
            f"post to: {', '.join(bad)}"
        )


def generate(
    chart_name: str,
    years: int,
    inbox: int,
    seed: int,
    per_year: int = 2500,
    start_year: int | None = None,
) -> SyntheticCompany:
    """A synthetic company on chart ``chart_name`` (``hr``, ``generic`` or ``de_skr03``).

    ``years`` of history of about ``per_year`` documents each, ending on 31 December of
    ``start_year + years - 1`` (by default 2025), then ``inbox`` pending documents. Cheap:
    documents are made when :meth:`SyntheticCompany.history` is iterated or the inbox read.
    """
    if chart_name not in POLICIES:
        raise ValueError(
            f"no synthetic company for chart {chart_name!r}; choose one of {', '.join(POLICIES)}"
        )
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    if inbox < 0:
        raise ValueError(f"inbox must not be negative, got {inbox}")
    if per_year < 100:
        raise ValueError(f"per_year must be at least 100, got {per_year}")
    if start_year is None:
        start_year = LAST_HISTORY_YEAR + 1 - years
    if not 2000 <= start_year <= 2100:
        raise ValueError(f"start_year {start_year} is outside 2000..2100")
    policy = POLICIES[chart_name]
    chart = builtin_chart(chart_name).extended(policy.opened)
    _check_policy(chart, policy)
    extra = 1 + inbox // max(per_year, 1)
    plan = build_plan(
        policy,
        seed,
        start_year,
        years,
        per_year,
        policy_change_date(start_year, years),
        extra_years=extra,
    )
    return SyntheticCompany(plan, chart, inbox)


def write_truth(path: str | Path, documents: Iterable[Document]) -> int:
    """Write ``documents`` as interchange JSON Lines (one document per line); returns the count."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for doc in documents:
            out.write(json.dumps(doc.to_json(), ensure_ascii=False, sort_keys=False))
            out.write("\n")
            count += 1
    return count


def summary(company: SyntheticCompany) -> dict[str, Any]:
    """Counts that describe the company (one pass over the history).

    Documents per kind and per year, partners by role and VAT regime, partners first seen
    per year (inbox year included), inbox size, the noise by kind, the policy change and
    the VAT rate changes within the span.
    """
    by_kind: dict[str, int] = {}
    by_year: dict[int, dict[str, int]] = {}
    first_seen: dict[str, int] = {}
    slips: list[Slip] = []
    total = 0
    for doc in company._history(slips):
        total += 1
        by_kind[doc.kind] = by_kind.get(doc.kind, 0) + 1
        kinds = by_year.setdefault(doc.date.year, {})
        kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
        if doc.partner is not None and doc.partner.id not in first_seen:
            first_seen[doc.partner.id] = doc.date.year
    for doc in company.truth:
        if doc.partner is not None and doc.partner.id not in first_seen:
            first_seen[doc.partner.id] = doc.date.year
    new_per_year: dict[int, int] = {}
    for year in first_seen.values():
        new_per_year[year] = new_per_year.get(year, 0) + 1
    end = dt.date(company.end_year, 12, 31)
    partners: dict[str, dict[str, int]] = {"supplier": {}, "customer": {}}
    for profile in company.profiles:
        if profile.partner.id not in first_seen:
            continue
        regime = vat.regime(company.country, profile.partner.country, end)
        counts = partners[profile.role]
        counts[regime] = counts.get(regime, 0) + 1
    noise: dict[str, int] = {}
    for slip in slips:
        noise[slip.kind] = noise.get(slip.kind, 0) + 1
    change_day, category, old, new = company.policy_change
    return {
        "chart": company.policy.chart,
        "company": company.name,
        "country": company.country,
        "years": [company.start_year, company.end_year],
        "history_documents": total,
        "by_kind": dict(sorted(by_kind.items())),
        "by_year": {y: dict(sorted(k.items())) for y, k in sorted(by_year.items())},
        "partners": partners,
        "new_partners_per_year": dict(sorted(new_per_year.items())),
        "inbox": len(company.truth),
        "inbox_kinds": _count(doc.kind for doc in company.truth),
        "noise": dict(sorted(noise.items())),
        "noisy_documents": len({s.document for s in slips}),
        "policy_change": {
            "date": change_day.isoformat(),
            "category": category,
            "old": old,
            "new": new,
        },
        "vat_changes": [
            {"date": day.isoformat(), "class": cls, "old": a, "new": b}
            for day, cls, a, b in vat.changes(
                company.country,
                dt.date(company.start_year, 1, 1),
                dt.date(company.end_year + 1, 12, 31),
            )
        ],
        "opened_accounts": list(company.opened_accounts),
    }


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
