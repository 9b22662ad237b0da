"""What moves a finding up or down the ranking: the partner's range of amounts, the habits of
the company, its users and partners, and how unfamiliar an account is; on hand-made ledgers
with literal expected findings.

The base ledger is that of ``test_checks``: 30 weekly invoices of supplier S1 (Tuesdays
2024-01-09 to 2024-07-30, gross about 400 to 1,000, posted at 10:00 by ana), audited from
2024-05-28.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from ledgerpilot.audit import AuditSettings, run_audit
from ledgerpilot.audit.checks import (
    PartnerRange,
    PostingDays,
    UserHours,
    Users,
    check_timing,
)
from ledgerpilot.audit.model import Reason
from ledgerpilot.audit.score import score
from ledgerpilot.ledger import Document, EntryLine, Partner
from tests.audit.journal import CHART, START, clean, invoice, manual, with_entry
from tests.audit.test_checks import SINCE, audit, details, fired


def scores(result: object) -> dict[str, float]:
    return {f.document: f.score for f in result.findings}  # type: ignore[attr-defined]


def with_lines(document: Document, *lines: EntryLine) -> Document:
    return with_entry(document, lines=lines)


def weekly(
    partner: Partner, first: int, weeks: int, gross: Decimal, **kw: object
) -> list[Document]:
    """``weeks`` weekly invoices of ``partner`` from START, each of ``gross`` plus a cent a
    week (net at 25% VAT), numbered from ``first``."""
    out = []
    for i in range(weeks):
        net = ((gross + Decimal(i) / 100) / Decimal("1.25")).quantize(Decimal("0.01"))
        out.append(
            invoice(first + i, START + dt.timedelta(weeks=i, days=1), net, partner=partner, **kw)  # type: ignore[arg-type]
        )
    return out


# ------------------------------------------------------------ amounts and the partner's range


def test_partner_range_judges_an_amount_against_the_largest_earlier_one() -> None:
    s = AuditSettings()
    usual = PartnerRange("S1", 10, Decimal("4000.00"), 0)
    assert usual.judge(Decimal("6500.00"), s) == (
        1.5,
        ", 1.6 times the largest of partner S1's 10 earlier amounts (4,000.00)",
    )
    assert usual.judge(Decimal("4990.00"), s) == (1.0, "")  # above it, not far above it
    assert usual.judge(Decimal("3000.00"), s) == (
        1.0,
        ", within partner S1's usual range (up to 4,000.00 in 10 earlier amounts)",
    )


def test_just_below_an_amount_the_partner_reaches_weighs_less() -> None:
    big = Partner("S2", "Strojevi d.o.o.")
    history = weekly(big, 200, 20, Decimal("5125.00"))  # 5,125.00 to 5,125.19
    below = invoice(300, dt.date(2024, 6, 5), Decimal("3992"), partner=big)  # gross 4,990.00
    result = audit([*history, below])
    assert fired(result) == {"D300": ("just_below_threshold",)}
    assert details(result, "D300", "just_below_threshold") == [
        "4,990.00 is just below the approval threshold of 5,000.00, within partner S2's "
        "usual range (up to 5,125.19 in 20 earlier amounts)"
    ]
    assert scores(result)["D300"] == pytest.approx(2.0 / 1.5)


def test_a_round_amount_from_a_partner_who_bills_round_amounts_weighs_less() -> None:
    landlord = Partner("S3", "Nekretnine d.o.o.")
    rents = [
        invoice(
            200 + i, START + dt.timedelta(weeks=4 * i, days=2), Decimal("1600"), partner=landlord
        )
        for i in range(5)
    ]  # 2,000.00 a month
    more = invoice(300, dt.date(2024, 6, 5), Decimal("2400"), partner=landlord)  # 3,000.00
    result = audit([*rents, more])
    assert fired(result) == {"D300": ("round_amount",)}
    assert details(result, "D300", "round_amount") == [
        "3,000.00 is a round amount (as 5 of partner S3's 5 earlier amounts)"
    ]
    assert scores(result)["D300"] == pytest.approx(2.5 / 1.5)


def test_just_below_is_tested_on_what_an_approval_limit_governs() -> None:
    sale = with_lines(
        invoice(300, dt.date(2024, 6, 5), Decimal("3992"), kind="sales_invoice", user=None),
        EntryLine("1200", debit=Decimal("4990.00")),
        EntryLine("7000", credit=Decimal("3992.00")),
        EntryLine("2400", credit=Decimal("998.00")),
    )
    assert fired(audit([sale])) == {}  # what a customer is invoiced is not approved
    assert fired(audit([sale], approval_kinds=frozenset({"sales_invoice"}))) == {
        "D300": ("just_below_threshold",)
    }


# ------------------------------------------------------------ duplicates


def test_same_partner_reference_and_amount_is_the_strongest_duplicate() -> None:
    base = clean()
    copy = replace(
        invoice(100, dt.date(2024, 6, 6), Decimal(300 + 17 * 21) + Decimal("0.21")),
        number="R-21",
    )
    result = audit([copy], base)
    assert fired(result) == {"D100": ("duplicate",)}
    assert details(result, "D100", "duplicate") == [
        "same partner S1, reference 'R-21' and amount 821.51 as document D21 of 2024-06-04"
    ]
    assert scores(result) == {"D100": 4.5}


def test_a_partner_who_repeats_amounts_within_the_window_weighs_less() -> None:
    # 120 invoices of S4 on Tuesdays and Thursdays; twice an amount came again two days on.
    regular = Partner("S4", "Tisak d.o.o.")
    history = []
    for i in range(120):
        day = dt.date(2023, 1, 3) + dt.timedelta(weeks=i // 2, days=2 * (i % 2))
        net = Decimal(400 + (i - 1 if i in (21, 61) else i))  # as two days before
        history.append(invoice(1000 + i, day, net, partner=regular))
    again = invoice(2000, dt.date(2024, 6, 6), Decimal("777"), partner=regular)
    first = invoice(1999, dt.date(2024, 6, 4), Decimal("777"), partner=regular)
    result = audit([*history, first, again])
    assert fired(result)["D2000"] == ("duplicate",)
    assert details(result, "D2000", "duplicate") == [
        "same partner S4, kind and amount 971.25 as document D1999 of 2024-06-04 "
        "(as 2 of the partner's 121 earlier entries did)"
    ]
    assert scores(result)["D2000"] == 1.5
    # S1 never repeated an amount: the same test weighs in full.
    copy = invoice(100, dt.date(2024, 6, 7), Decimal(300 + 17 * 21) + Decimal("0.21"))
    assert scores(audit([copy])) == {"D100": 3.0}


# ------------------------------------------------------------ splits


def test_split_parts_of_a_size_the_partner_has_billed_weigh_less() -> None:
    big_one = invoice(90, dt.date(2024, 2, 14), Decimal("2800"))  # 3,500.00 in S1's history
    first = invoice(100, dt.date(2024, 6, 5), Decimal("2080"))  # 2,600.00
    second = invoice(101, dt.date(2024, 6, 7), Decimal("2160"))  # 2,700.00
    result = audit([big_one, first, second])
    assert fired(result) == {"D100": ("split_invoice",), "D101": ("split_invoice",)}
    assert details(result, "D101", "split_invoice") == [
        "2 supplier invoices of partner S1 within 3 days, each below 5,000.00, add up to "
        "5,300.00 (D100, D101); each within the partner's usual range (up to 3,500.00 in 23 "
        "earlier invoices)"
    ]
    assert scores(result) == {"D100": 2.0, "D101": 2.0}


def test_parts_far_smaller_than_the_partners_usual_invoice_are_a_split_too() -> None:
    # S6 bills about 13,000 a week (above the 10,000 limit); then three parts of about 3,800.
    large = Partner("S6", "Gradnja d.o.o.")
    history = weekly(large, 200, 20, Decimal("13000.00"))
    parts = [
        invoice(300 + i, dt.date(2024, 6, 4) + dt.timedelta(days=i), net, partner=large)
        for i, net in enumerate((Decimal("3040"), Decimal("3060"), Decimal("3020")))
    ]  # 3,800.00, 3,825.00 and 3,775.00: 11,400.00
    result = audit([*history, *parts])
    assert fired(result) == {f"D{300 + i}": ("split_invoice",) for i in range(3)}
    assert details(result, "D302", "split_invoice") == [
        "3 supplier invoices of partner S6 within 3 days, each below 10,000.00, add up to "
        "11,400.00 (D300, D301, D302); each less than the partner's average invoice "
        "(12,164.86) divided by 1.5"
    ]
    assert scores(result)["D300"] == 3.0


# ------------------------------------------------------------ calendar and hours


def test_a_manual_entry_dated_on_a_weekend_month_end_and_posted_on_a_workday() -> None:
    # 30 June 2024 is a Sunday: closing entries are dated on the month's last day.
    accrual = manual(100, dt.date(2024, 6, 30), Decimal("812.40"), at=dt.datetime(2024, 7, 1, 9))
    on_sunday = manual(101, dt.date(2024, 6, 30), Decimal("93.17"), at=dt.datetime(2024, 6, 30, 9))
    result = audit([accrual, on_sunday])
    assert fired(result) == {"D101": ("weekend_or_holiday",)}
    assert details(result, "D101", "weekend_or_holiday") == ["dated 2024-06-30, a Sunday"]


def test_a_public_holiday_the_company_worked_on_weighs_little() -> None:
    # Six invoices posted on Victory Day (Monday 5 August 2024), one on Statehood Day.
    worked = [
        invoice(100 + i, dt.date(2024, 8, 1), Decimal(500 + i), at=dt.datetime(2024, 8, 5, 10))
        for i in range(6)
    ]
    alone = invoice(110, dt.date(2024, 5, 29), Decimal("512.34"), at=dt.datetime(2024, 5, 30, 9))
    result = audit([*worked, alone])
    assert fired(result) == {
        **{f"D{100 + i}": ("weekend_or_holiday",) for i in range(6)},
        "D110": ("weekend_or_holiday",),
    }
    assert details(result, "D100", "weekend_or_holiday") == [
        "posted on 2024-08-05, a public holiday (Victory and Homeland Thanksgiving Day); 6 "
        "entries were posted that day, a working day for the company"
    ]
    assert scores(result)["D100"] == pytest.approx(0.5)
    assert details(result, "D110", "weekend_or_holiday") == [
        "posted on 2024-05-30, a public holiday (Statehood Day)"
    ]
    assert scores(result)["D110"] == 2.5


def test_a_public_holiday_on_a_weekend_is_judged_as_the_weekend() -> None:
    s = AuditSettings()
    days = PostingDays(s)
    for i in range(95):
        days.observe(invoice(i, dt.date(2024, 6, 4), Decimal("100")).entry)  # type: ignore[arg-type]
    for i in range(5):
        days.observe(invoice(i, dt.date(2024, 4, 1), Decimal("100")).entry)  # type: ignore[arg-type]
    assert days.shares() == {"public holiday": 0.05}  # Easter Monday: a usual holiday
    christmas = invoice(1, dt.date(2021, 12, 24), Decimal("100"), at=dt.datetime(2021, 12, 25, 10))
    (reason,) = check_timing(christmas, s, days.shares())
    assert (reason.detail, reason.weight) == (
        "posted on 2021-12-25, a public holiday (Christmas Day)",
        2.5,
    )  # a Saturday: the company never posts on Saturdays


def test_a_user_who_often_posts_late_keeps_their_own_hours() -> None:
    s = AuditSettings()
    users = Users(s)
    for i in range(100):
        at = dt.datetime(2024, 3, 5, 21 if i < 3 else 10)
        users.observe(invoice(i, dt.date(2024, 3, 5), Decimal("100"), user="ivo", at=at).entry)  # type: ignore[arg-type]
    assert users.hours("ivo") == UserHours("ivo", 100, 3, 0)
    late = invoice(
        200, dt.date(2024, 6, 5), Decimal("100"), user="ivo", at=dt.datetime(2024, 6, 5, 21, 30)
    )
    (reason,) = check_timing(late, s, hours=users.hours("ivo"))
    assert (reason.detail, reason.weight) == (
        "posted at 21:30, outside 07:00-20:00 (as 3.0% of ivo's earlier postings)",
        0.625,
    )
    night = invoice(
        201, dt.date(2024, 6, 5), Decimal("100"), user="ivo", at=dt.datetime(2024, 6, 5, 3)
    )
    (reason,) = check_timing(night, s, hours=users.hours("ivo"))
    assert (reason.detail, reason.weight) == ("posted at 03:00, in the night", 2.5)
    # Once in 100 postings is no habit: it may have been chance, or the very thing to see.
    once = Users(s)
    for i in range(100):
        at = dt.datetime(2024, 3, 5, 21 if i == 0 else 10)
        once.observe(invoice(i, dt.date(2024, 3, 5), Decimal("100"), user="ivo", at=at).entry)  # type: ignore[arg-type]
    (reason,) = check_timing(late, s, hours=once.hours("ivo"))
    assert (reason.detail, reason.weight) == ("posted at 21:30, outside 07:00-20:00", 1.25)


# ------------------------------------------------------------ unfamiliar accounts


def test_a_new_mix_of_accounts_the_partner_has_used_weighs_less() -> None:
    services = invoice(90, dt.date(2024, 2, 14), Decimal("222.22"), expense="4100")
    both = with_lines(
        invoice(100, dt.date(2024, 6, 5), Decimal("500.00")),
        EntryLine("4000", debit=Decimal("300.00")),
        EntryLine("4100", debit=Decimal("200.00")),
        EntryLine("1400", debit=Decimal("125.00")),
        EntryLine("2200", credit=Decimal("625.00")),
    )
    result = audit([services, both])
    assert fired(result) == {"D100": ("unseen_combination",)}
    assert details(result, "D100", "unseen_combination") == [
        "accounts 1400 D / 2200 C / 4000 D / 4100 D never used together for partner S1 "
        "(supplier invoice) in 23 earlier entries, though each of them was used for it "
        "before; usual: 1400 D / 2200 C / 4000 D (22x)"
    ]
    assert scores(result) == {"D100": 1.0}


def others(*expenses: str) -> list[Document]:
    """One invoice in the history from each of partners P1, P2, ... on these accounts."""
    return [
        invoice(
            400 + i,
            START + dt.timedelta(days=1),
            Decimal("100"),
            partner=Partner(f"P{i + 1}", f"Partner {i + 1}"),
            expense=account,
            user="marko",
        )
        for i, account in enumerate(expenses)
    ]


def test_an_account_unrelated_to_the_partners_weighs_more() -> None:
    # Five other partners post to 4000 as S1 does; none of them ever posted to 4900.
    odd = invoice(100, dt.date(2024, 6, 5), Decimal("512.34"), expense="4900")
    result = audit([*others("4000", "4000", "4000", "4000", "4000", "4900"), odd])
    assert fired(result) == {"D100": ("unseen_combination", "user_new_account")}
    assert details(result, "D100", "unseen_combination") == [
        "accounts 1400 D / 2200 C / 4900 D never used for partner S1 (supplier invoice) in "
        "22 earlier entries; account 4900 is unrelated to the partner's: none of the 5 other "
        "partners posting to 4000 ever posted to it; usual: 1400 D / 2200 C / 4000 D (22x)"
    ]
    assert scores(result) == {"D100": 3.0}  # one unfamiliar account (the user's too): 2 x 1.5
    # P1 posts to 4000 and to 4900 too: 4900 is related to S1's accounts, the usual weight.
    related = others("4000", "4000", "4000", "4000", "4000", "4900")
    related.append(
        replace(
            related[0],
            id="D499",
            entry=replace(
                related[0].entry,
                lines=(  # type: ignore[arg-type]
                    EntryLine("4900", debit=Decimal("100.00")),
                    EntryLine("1400", debit=Decimal("25.00")),
                    EntryLine("2200", credit=Decimal("125.00")),
                ),
            ),
        )
    )
    result = audit([*related, odd])
    assert scores(result) == {"D100": 2.0}


def test_a_combination_used_more_than_a_handful_of_times_is_not_rare() -> None:
    once_before = invoice(90, dt.date(2024, 2, 14), Decimal("222.22"), expense="4100")
    services = invoice(100, dt.date(2024, 6, 5), Decimal("512.34"), expense="4100")
    assert fired(audit([once_before, services])) == {"D100": ("rare_combination",)}
    assert fired(audit([once_before, services], rare_combination_max=0)) == {}


def test_an_account_new_to_the_user_and_to_the_partner_is_one_signal() -> None:
    novelty = [
        Reason("unseen_combination", "4100 never used for S1", 2.0),
        Reason("user_new_account", "ana never posted to 4100", 1.5),
    ]
    assert score(novelty) == 2.0
    assert score([novelty[1], Reason("rare_user", "ivo posted 1 of 300", 2.5)]) == 4.0


def test_the_clean_ledger_stays_clean() -> None:
    assert run_audit(clean(), CHART, since=SINCE).findings == []
