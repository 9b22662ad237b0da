"""The small parts behind the checks: endings, surprisal, scores, month ends."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal

import pytest

from ledgerpilot.audit import AuditSettings, Reason
from ledgerpilot.audit.checks import (
    check_amount,
    ending_key,
    frequent_endings,
    month_end,
    repeated_tail,
)
from ledgerpilot.audit.score import finding, rank, score
from ledgerpilot.audit.surprise import format_scheme, scheme_of, surprisal
from ledgerpilot.ledger import EntryLine, JournalEntry


def test_repeated_tails_and_endings() -> None:
    assert repeated_tail(Decimal("1999.99")) == 5
    assert repeated_tail(Decimal("7777.77")) == 6
    assert repeated_tail(Decimal("1000.00")) == 0
    assert repeated_tail(Decimal("12.34")) == 1
    assert ending_key(Decimal("1234.56")) == 456
    assert ending_key(Decimal("5.07")) == 507


def test_frequent_endings_need_count_and_share() -> None:
    s = AuditSettings()
    endings = Counter({137: 5, 456: 3, 200: 9, **{e: 1 for e in range(500, 900)}})
    assert frequent_endings(endings, s) == {137: 5}  # 456: too few; 200: no cents
    assert frequent_endings(Counter(), s) == {}


def test_amount_checks_at_their_edges() -> None:
    s = AuditSettings()
    names = lambda a: [r.check for r in check_amount(Decimal(a), s)]  # noqa: E731
    assert names("4750.00") == ["just_below_threshold"]
    assert names("4749.99") == []
    assert names("5000.00") == ["round_amount"]
    assert names("999.00") == []  # below round_amount_min
    assert names("9999.99") == ["repeated_ending", "just_below_threshold"]


def test_surprisal_by_hand() -> None:
    assert surprisal(0, 0, 0) == 0.0
    assert surprisal(0, 6, 1) == 3.0  # 1 / 8
    assert surprisal(6, 6, 1) == pytest.approx(-math.log2(7 / 8))
    assert surprisal(1, 23, 2) == pytest.approx(math.log2(13))


def test_scheme_of_an_entry() -> None:
    entry = JournalEntry(
        dt.date(2024, 1, 2),
        (
            EntryLine("4000", debit=Decimal("10")),
            EntryLine("4000", debit=Decimal("5")),
            EntryLine("2200", credit=Decimal("15")),
        ),
    )
    assert scheme_of(entry) == (("2200", "C"), ("4000", "D"))
    assert format_scheme(scheme_of(entry)) == "2200 C / 4000 D"


def test_score_counts_each_check_once_at_its_strongest() -> None:
    reasons = [
        Reason("duplicate", "same amount as D1", 3.0),
        Reason("duplicate", "same reference as D2", 3.0),
        Reason("benford", "in journal", 0.5),
        Reason("benford", "in account 4000", 0.25),
    ]
    assert score(reasons) == 3.5
    # Never seen, rare and surprising: one signal about the account combination, not three.
    novelty = [
        Reason("unseen_combination", "never used for the kind", 2.0),
        Reason("surprise", "9 bits", 1.5),
        Reason("rare_combination", "used twice", 1.0),
    ]
    assert score(novelty) == 2.0
    assert score([*novelty, Reason("vat_arithmetic", "tax 25 % of net", 3.0)]) == 5.0
    day = dt.date(2024, 1, 2)
    small = finding(
        entry="E1",
        document="D1",
        date=day,
        reasons=reasons,
        partner=None,
        kind="other",
        amount=Decimal("10"),
    )
    large = finding(
        entry="E2",
        document="D2",
        date=day,
        reasons=reasons[:1] + reasons[2:3],
        partner=None,
        kind="other",
        amount=Decimal("20"),
    )
    assert small.reasons[0].check == "duplicate" and small.reasons[-1].weight == 0.25
    assert [f.entry for f in rank([small, large])] == ["E2", "E1"]
    assert small.as_json()["reasons"][0] == {
        "check": "duplicate",
        "detail": "same amount as D1",
        "weight": 3.0,
    }


def test_month_end() -> None:
    assert month_end(dt.date(2024, 2, 10)) == dt.date(2024, 2, 29)
    assert month_end(dt.date(2023, 12, 31)) == dt.date(2023, 12, 31)


def test_night_postings_and_the_companys_habits() -> None:
    from ledgerpilot.audit.checks import PostingDays, check_timing
    from tests.audit.journal import invoice

    s = AuditSettings()
    night = invoice(1, dt.date(2024, 6, 5), Decimal("100"), at=dt.datetime(2024, 6, 5, 3, 10))
    (reason,) = check_timing(night, s)
    assert (reason.detail, reason.weight) == ("posted at 03:10, in the night", 2.5)

    days = PostingDays(s)
    for i in range(98):
        days.observe(invoice(i, dt.date(2024, 6, 4), Decimal("100")).entry)  # type: ignore[arg-type]
    for i in range(2):
        days.observe(invoice(i, dt.date(2024, 4, 1), Decimal("100")).entry)  # type: ignore[arg-type]
    assert days.shares() == {"public holiday": 0.02}
    easter_monday = invoice(2, dt.date(2024, 4, 1), Decimal("100"))
    (usual,) = check_timing(easter_monday, s, days.shares())
    assert usual.detail == (
        "posted on 2024-04-01, a public holiday (Easter Monday) (as 2.0% of earlier postings)"
    )
    assert usual.weight == 1.25
    sunday = invoice(3, dt.date(2024, 4, 7), Decimal("100"))
    (rare,) = check_timing(sunday, s, days.shares())
    assert (rare.detail, rare.weight) == ("posted on 2024-04-07, a Sunday", 2.5)
