"""Every check on hand-made ledgers: literal expected findings, none on the clean ledger.

The clean ledger is 30 weekly supplier invoices of one supplier (Tuesdays 2024-01-09 to
2024-07-30, posted the same day at 10:00 by ana); the first 20 are history, the audit
covers the last 10 (from 2024-05-28) plus whatever a test adds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from ledgerpilot.audit import AuditResult, AuditSettings, run_audit
from ledgerpilot.ledger import Document, EntryLine, Partner
from tests.audit.journal import CHART, START, clean, invoice, manual, with_entry

SINCE = START + dt.timedelta(weeks=20)  # 2024-05-28


def audit(
    extra: list[Document], base: list[Document] | None = None, **settings: object
) -> AuditResult:
    docs = sorted([*(clean() if base is None else base), *extra], key=lambda d: (d.date, d.id))
    return run_audit(docs, CHART, since=SINCE, settings=AuditSettings(**settings))  # type: ignore[arg-type]


def fired(result: AuditResult) -> dict[str, tuple[str, ...]]:
    return {f.document: tuple(sorted(f.checks)) for f in result.findings}


def details(result: AuditResult, document: str, check: str) -> list[str]:
    (f,) = [f for f in result.findings if f.document == document]
    return [r.detail for r in f.reasons if r.check == check]


def test_clean_ledger_has_no_findings() -> None:
    result = audit([])
    assert result.entries_scanned == 10
    assert result.findings == []
    assert all(c["fired"] == 0 for c in result.checks.values())
    assert result.period == (SINCE, dt.date(2024, 7, 30))


def test_weekend_and_holiday() -> None:
    saturday = invoice(100, dt.date(2024, 6, 1), Decimal("512.34"))
    holiday = invoice(101, dt.date(2024, 7, 2), Decimal("498.76"), at=dt.datetime(2024, 8, 5, 9))
    sunday_voucher = manual(102, dt.date(2024, 6, 2), Decimal("120.55"), at=None)
    routine = replace(
        manual(103, dt.date(2024, 6, 30), Decimal("250.40"), debit="4100", credit="9000"),
        kind="depreciation",
    )
    routine = with_entry(routine, posted_at=dt.datetime(2024, 7, 1, 9))
    result = audit([saturday, holiday, sunday_voucher, routine])
    assert fired(result) == {
        "D100": ("weekend_or_holiday",),
        "D101": ("weekend_or_holiday",),
        "D102": ("weekend_or_holiday",),
    }
    assert details(result, "D100", "weekend_or_holiday") == ["posted on 2024-06-01, a Saturday"]
    assert details(result, "D101", "weekend_or_holiday") == [
        "posted on 2024-08-05, a public holiday (Victory and Homeland Thanksgiving Day)"
    ]
    assert details(result, "D102", "weekend_or_holiday") == ["dated 2024-06-02, a Sunday"]


def test_holidays_follow_the_country() -> None:
    whit_monday = invoice(100, dt.date(2024, 5, 20), Decimal("512.34"))
    base = clean()
    assert fired(run_audit([*base[:19], whit_monday, *base[19:]], CHART)) == {}
    result = run_audit(
        [*base[:19], whit_monday, *base[19:]], CHART, settings=AuditSettings(country="DE")
    )
    assert fired(result) == {"D100": ("weekend_or_holiday",)}
    assert details(result, "D100", "weekend_or_holiday") == [
        "posted on 2024-05-20, a public holiday (Pfingstmontag)"
    ]


def test_unusual_hour() -> None:
    late = invoice(100, dt.date(2024, 6, 5), Decimal("512.34"), at=dt.datetime(2024, 6, 5, 23, 15))
    result = audit([late])
    assert fired(result) == {"D100": ("unusual_hour",)}
    assert details(result, "D100", "unusual_hour") == ["posted at 23:15, outside 07:00-20:00"]


def test_round_amount_and_just_below_threshold() -> None:
    round_one = invoice(100, dt.date(2024, 6, 5), Decimal("1600"))  # gross 2,000.00
    below = invoice(101, dt.date(2024, 6, 26), Decimal("3992"))  # gross 4,990.00
    result = audit([round_one, below])
    assert fired(result) == {"D100": ("round_amount",), "D101": ("just_below_threshold",)}
    # S1 billed at most 821.51 (gross of net 657.21) in its 22 invoices before D100, and
    # 2,000.00 (D100) before D101: both amounts are beyond its range, and weigh 1.5 times.
    assert details(result, "D100", "round_amount") == [
        "2,000.00 is a round amount, 2.4 times the largest of partner S1's 22 earlier "
        "amounts (821.51)"
    ]
    assert details(result, "D101", "just_below_threshold") == [
        "4,990.00 is just below the approval threshold of 5,000.00, 2.5 times the largest of "
        "partner S1's 26 earlier amounts (2,000.00)"
    ]
    assert [(f.document, f.score) for f in result.findings] == [("D100", 3.75), ("D101", 3.0)]
    # Without a partner's history to compare with, the plain tests at their plain weights.
    stranger = replace(round_one, partner=Partner("S9", "Novi d.o.o."))
    result = audit([stranger])
    assert details(result, "D100", "round_amount") == ["2,000.00 is a round amount"]
    assert [f.score for f in result.findings] == [2.5]


def test_repeated_endings() -> None:
    nines = manual(100, dt.date(2024, 6, 5), Decimal("1999.99"))
    same_ending = [
        manual(110 + i, dt.date(2024, 6, 10 + i), Decimal(f"{i + 1}01.37")) for i in range(5)
    ]
    result = audit([nines, *same_ending])
    assert fired(result) == {
        "D100": ("repeated_ending",),
        **{f"D{110 + i}": ("repeated_ending",) for i in range(5)},
    }
    assert details(result, "D100", "repeated_ending") == ["1,999.99 ends in 5 repeated digits"]
    assert details(result, "D112", "repeated_ending") == [
        "301.37 ends in 1.37, like 5 amounts of the period"
    ]


def test_duplicates_by_amount_and_by_reference() -> None:
    base = clean()
    original = base[21]  # D21 of 2024-06-04
    copy = invoice(100, dt.date(2024, 6, 7), Decimal(300 + 17 * 21) + Decimal("0.21"))
    same_reference = invoice(101, dt.date(2024, 6, 20), Decimal("640.00"), reference="R-22")
    far_copy = invoice(102, dt.date(2024, 6, 20), Decimal(300 + 17 * 20) + Decimal("0.20"))
    result = audit([copy, same_reference, far_copy], base)
    assert original.entry is not None
    assert fired(result) == {"D100": ("duplicate",), "D101": ("duplicate",)}
    assert details(result, "D100", "duplicate") == [
        "same partner S1, kind and amount 821.51 as document D21 of 2024-06-04"
    ]
    assert details(result, "D101", "duplicate") == [
        "reference 'R-22' of partner S1 was already posted as document D22 of 2024-06-11"
    ]


def test_split_invoices() -> None:
    first = invoice(100, dt.date(2024, 6, 5), Decimal("2400.40"))  # gross 3,000.50
    second = invoice(101, dt.date(2024, 6, 7), Decimal("1800.08"))  # gross 2,250.10
    result = audit([first, second])
    assert fired(result) == {"D100": ("split_invoice",), "D101": ("split_invoice",)}
    expected = [
        "2 supplier invoices of partner S1 within 3 days, each below 5,000.00, add up to "
        "5,250.60 (D100, D101); each more than 1.5 times the largest of the partner's 22 "
        "earlier invoices (821.51)"
    ]
    assert details(result, "D101", "split_invoice") == expected
    assert details(result, "D100", "split_invoice") == expected
    apart = invoice(101, dt.date(2024, 6, 20), Decimal("1800.08"))
    assert fired(audit([first, apart])) == {}
    # Parts no larger than 5 times the supplier's usual invoice (about 700.00) are ordinary.
    assert fired(audit([first, second], split_unusual_size=Decimal(5))) == {}


def test_unseen_and_rare_account_combinations() -> None:
    services = invoice(100, dt.date(2024, 6, 5), Decimal("512.34"), expense="4100")
    result = audit([services])
    assert fired(result) == {"D100": ("unseen_combination", "user_new_account")}
    assert details(result, "D100", "unseen_combination") == [
        "accounts 1400 D / 2200 C / 4100 D never used for partner S1 (supplier invoice) in "
        "22 earlier entries; usual: 1400 D / 2200 C / 4000 D (22x)"
    ]
    assert details(result, "D100", "user_new_account") == [
        "ana has never posted to account 4100 in 22 earlier entries"
    ]

    once_before = invoice(90, dt.date(2024, 2, 14), Decimal("222.22"), expense="4100")
    result = audit([once_before, services])
    assert fired(result) == {"D100": ("rare_combination",)}
    assert details(result, "D100", "rare_combination") == [
        "accounts 1400 D / 2200 C / 4100 D used 1 times in 23 earlier entries of partner S1 "
        "(supplier invoice)"
    ]
    # (1 + 1) / (23 + 2 + 1): 3.7 bits
    result = audit(
        [once_before, services], surprise_bits=3.5, rare_combination_share=0.01, min_score=0.0
    )
    assert fired(result) == {"D100": ("surprise",)}
    assert details(result, "D100", "surprise") == [
        "3.7 bits of surprisal for the scheme given partner S1 (supplier invoice)'s history"
    ]


def test_users_who_rarely_post() -> None:
    stranger = invoice(100, dt.date(2024, 6, 5), Decimal("512.34"), user="ivo")
    result = audit([stranger], min_history=2)
    assert fired(result) == {"D100": ("rare_user",)}
    assert details(result, "D100", "rare_user") == ["ivo posted only 1 of 31 entries"]


def test_period_end_and_post_closing() -> None:
    terse = manual(100, dt.date(2024, 6, 28), Decimal("812.40"), description="adj")
    late = invoice(101, dt.date(2024, 6, 12), Decimal("512.34"), at=dt.datetime(2024, 7, 15, 10))
    late_manual = manual(
        102, dt.date(2024, 6, 13), Decimal("93.17"), at=dt.datetime(2024, 7, 16, 10)
    )
    result = audit([terse, late, late_manual])
    assert fired(result) == {
        "D100": ("period_end_manual",),
        "D101": ("post_closing",),
        "D102": ("post_closing",),
    }
    assert details(result, "D100", "period_end_manual") == [
        "manual entry on 2024-06-28, at the end of the month, described only as 'adj'"
    ]
    assert details(result, "D101", "post_closing") == [
        "posted on 2024-07-15, 15 days after its month (2024-06) ended"
    ]
    assert details(result, "D102", "post_closing") == [
        "posted on 2024-07-16, 16 days after its month (2024-06) ended, a manual entry"
    ]
    weights = {f.document: f.score for f in result.findings}
    assert weights["D102"] == 1.5 * weights["D101"]


def test_ledger_validation_findings() -> None:
    good = invoice(100, dt.date(2024, 6, 5), Decimal("400.00"))  # VAT 100.00, gross 500.00
    unbalanced = with_entry(
        good,
        lines=(
            EntryLine("4000", debit=Decimal("401.00")),
            EntryLine("1400", debit=Decimal("100.00")),
            EntryLine("2200", credit=Decimal("500.00")),
        ),
    )
    wrong_vat = with_entry(
        invoice(101, dt.date(2024, 6, 6), Decimal("400.00")),
        lines=(
            EntryLine("4000", debit=Decimal("420.00")),
            EntryLine("1400", debit=Decimal("80.00")),
            EntryLine("2200", credit=Decimal("500.00")),
        ),
    )
    summary_account = invoice(102, dt.date(2024, 6, 26), Decimal("512.34"), expense="4")
    result = audit([unbalanced, wrong_vat, summary_account])
    assert fired(result) == {
        "D100": ("unbalanced",),
        "D101": ("vat_arithmetic",),
        "D102": ("non_postable_account", "unseen_combination", "user_new_account"),
    }
    assert details(result, "D100", "unbalanced") == [
        "debits 501.00 and credits 500.00 differ by 1.00"
    ]
    assert details(result, "D101", "vat_arithmetic") == [
        "VAT booked is 80.00, the document's VAT is 100.00"
    ]
    assert details(result, "D102", "non_postable_account") == [
        "line 1: account 4 (Expenses (summary)) takes no postings"
    ]


def test_benford_spike_marks_the_entries_behind_it() -> None:
    weekdays = [dt.date(2024, 6, 3 + week * 7 + day) for week in range(3) for day in range(5)]
    sevens = [manual(100 + i, day, 770 + i * Decimal("0.61")) for i, day in enumerate(weekdays)]
    assert fired(audit(sevens)) == {}  # too few amounts to judge by default
    assert fired(audit(sevens, benford_min_count=50)) == {}  # a spike alone scores too little
    result = audit(sevens, benford_min_count=50, min_score=0.0)
    assert result.checks["benford"]["fired"] == 16
    # D28 (net 776.28) is a clean invoice whose amount starts with 77 too.
    assert set(fired(result)) == {"D28", *(f"D{100 + i}" for i in range(15))}
    assert all(checks == ("benford",) for checks in fired(result).values())
    (detail,) = details(result, "D100", "benford")  # account 4900 has too few amounts
    assert detail.startswith("amounts starting with 77 are over-represented in journal")
    assert detail.endswith("nonconformity)")
    journal = result.checks["benford"]["journal"]
    assert journal["spikes"] == [77]
    assert journal["first_two_digits"]["verdict"] == "nonconformity"


def test_a_reference_reused_in_a_new_year() -> None:
    december = invoice(100, dt.date(2024, 12, 17), Decimal("500.00"), reference="7-1-1")
    january = invoice(101, dt.date(2025, 1, 14), Decimal("600.00"), reference="7-1-1")
    assert fired(audit([december, january])) == {}  # numbering restarts every January
    again = invoice(102, dt.date(2025, 1, 21), Decimal("500.00"), reference="7-1-1")
    result = audit([december, again])
    assert fired(result) == {"D102": ("duplicate",)}
