"""The audit's fast paths give what the plain ones give: the journal read straight from the
reference schema, the two parts run in two processes, the Benford counts per group, and on
PostgreSQL the audit over one row per entry (``tests/audit/test_sql.py`` for that one)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal

import pytest

from ledgerpilot.audit import AuditSettings, audit_ais, run_audit
from ledgerpilot.audit.benford import leading_digits
from ledgerpilot.audit.digits import DigitCounts
from ledgerpilot.audit.reading import read_journal
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.ledger import EntryLine
from ledgerpilot.synth import generate
from tests.conftest import _temporary_database

SINCE = dt.date(2025, 1, 1)
LINES_FROM = dt.date(2025, 7, 1)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def company_ais(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceAIS]:
    """Two years of a synthetic company (about 1,200 documents) in a SQLite, then a
    PostgreSQL, AIS (the journal is read differently from each)."""
    made = generate("hr", 2, 0, seed=3, per_year=600)
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('fast') / 'ais.sqlite'}"
        else:
            url = stack.enter_context(_temporary_database())
        ais = stack.enter_context(ReferenceAIS.create(url))
        ais.load(made.history(), chart=made.chart)
        yield ais


def test_the_journal_read_for_the_audit_is_the_ais_history(company_ais: ReferenceAIS) -> None:
    until = dt.date(2025, 10, 1)
    plain = list(company_ais.history(since=SINCE, until=until))
    fast = list(read_journal(company_ais, SINCE, until, LINES_FROM))
    assert len(fast) == len(plain) > 400
    for a, b in zip(plain, fast, strict=True):
        if a.date >= LINES_FROM:
            assert b == a
        else:  # the history's documents come without their own lines
            assert b.lines == () and a.lines
            assert b == dataclasses.replace(a, lines=())
    everything = list(read_journal(company_ais, None, None, None))
    assert everything == list(company_ais.history())


def test_the_two_parts_in_two_processes_find_what_one_pass_finds(
    company_ais: ReferenceAIS,
) -> None:
    settings = AuditSettings(min_score=0.0)  # every finding, even a Benford spike alone
    one = audit_ais(company_ais, since=SINCE, settings=settings, parallel=False)
    two = audit_ais(company_ais, since=SINCE, settings=settings, parallel=True)
    plain = run_audit(company_ais.history(), company_ais.chart(), since=SINCE, settings=settings)
    assert one.entries_scanned > 500 and len(one.findings) > 20
    fired = {r.check for f in one.findings for r in f.reasons}
    assert {"benford", "round_amount"} & fired  # checks of the entry part
    assert {"unseen_combination", "weekend_or_holiday"} <= fired  # and of the history part
    as_text = json.dumps(one.as_json(), sort_keys=True, default=str)
    assert json.dumps(two.as_json(), sort_keys=True, default=str) == as_text
    assert json.dumps(plain.as_json(), sort_keys=True, default=str) == as_text
    assert [f.reasons for f in two.findings] == [f.reasons for f in one.findings]
    # On PostgreSQL the above took the SQL path (audit/sql.py); the plain one is still there.
    for parallel in (False, True):
        without = audit_ais(
            company_ais, since=SINCE, settings=settings, parallel=parallel, sql=False
        )
        assert json.dumps(without.as_json(), sort_keys=True, default=str) == as_text


def _recount(
    entries: list[tuple[tuple[EntryLine, ...], str | None, str | None]],
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """The Benford counts per group the straightforward way: every line in each of its
    groups, and once per entry and group for spikes."""
    lines: dict[str, list[int]] = {}
    once: dict[str, list[int]] = {}
    for entry_lines, partner, user in entries:
        seen: set[tuple[str, int]] = set()
        for ln in entry_lines:
            ftd = leading_digits(ln.debit or ln.credit, 2)
            if ftd is None or abs(ln.debit or ln.credit) < 10:
                continue
            groups = ["journal", f"partner {partner}" if partner else None]
            groups += [f"user {user}" if user else None, f"account {ln.account}"]
            for group in filter(None, groups):
                lines.setdefault(group, [0] * 90)[ftd - 10] += 1
                once.setdefault(group, [0] * 90)
                if (group, ftd) not in seen:
                    seen.add((group, ftd))
                    once[group][ftd - 10] += 1
    return lines, once


def test_benford_counts_per_group_count_each_line_and_each_entry_once() -> None:
    def line(account: str, debit: str = "0", credit: str = "0") -> EntryLine:
        return EntryLine(account, Decimal(debit), Decimal(credit))

    entries = [
        # the gross 1,250.00 twice on one entry: twice for the test, once for spikes
        ((line("4000", "1000.00"), line("1400", "250.00"), line("2200", "0", "1250.00"),
          line("1000", "1250.00")), "S1", "ana"),
        ((line("4000", "1234.56"), line("2200", "0", "1234.56"), line("9000", "9.99")),
         "S1", "ivo"),
        ((line("4100", "125.00"), line("1000", "0", "125.00")), None, "ana"),
        ((line("4100", "0.50"),), "S2", None),
    ]  # fmt: skip
    counts = DigitCounts()
    digits = [counts.add(lines, p, u, Decimal("10")) for lines, p, u in entries]
    assert digits == [
        (("4000", 10), ("1400", 25), ("2200", 12), ("1000", 12)),
        (("4000", 12), ("2200", 12)),
        (("4100", 12), ("1000", 12)),
        (),
    ]
    lines, once = counts.groups()
    assert (lines, once) == _recount(entries)
    assert list(lines) == [
        "journal",
        "partner S1",
        "user ana",
        "account 4000",
        "account 1400",
        "account 2200",
        "account 1000",
        "user ivo",
        "account 4100",
    ]
    assert lines["journal"][12 - 10] == 6 and once["journal"][12 - 10] == 3
    assert lines["account 1000"][12 - 10] == 2 and once["account 1000"][12 - 10] == 2
    assert sum(lines["user ana"]) == 6 and sum(once["user ana"]) == 4


def test_beside_another_thread_the_second_process_starts_afresh(
    company_ais: ReferenceAIS,
) -> None:
    # A progress bar's refresh thread may hold a lock when the process forks: a fresh
    # interpreter (spawn) runs the entry part then, with the same result.
    stop = threading.Event()
    beside = threading.Thread(target=stop.wait, daemon=True)
    beside.start()
    try:
        two = audit_ais(company_ais, since=SINCE, parallel=True)
    finally:
        stop.set()
        beside.join()
    one = audit_ais(company_ais, since=SINCE, parallel=False)
    assert two.as_json() == one.as_json()
