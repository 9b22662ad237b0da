"""Benford's law over an audit's lines: first-two-digit counts per group, and the entries
whose amounts make a nonconforming group's spikes.

Every line amount of at least ``benford_min_amount`` counts in the journal and in its
account, partner and user groups (Nigrini: test the whole, then the parts with enough
volume). A group whose first-two-digits test is nonconforming, with digits far above
Benford's share (:func:`ledgerpilot.audit.benford.spikes`), marks the entries with amounts
starting with those digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ..ledger import EntryLine
from . import benford
from .model import AuditSettings, Reason

REASONS_PER_ENTRY = 2
"""Benford reasons given at most to one entry (one spike is enough to look at it)."""

Digits = tuple[tuple[str, int], ...]
"""An entry's (account, first two digits) per line amount counted."""


@lru_cache(maxsize=65536)
def account_group(account: str) -> str:
    """The Benford group of an account: ``"account 4000"``."""
    return f"account {account}"


@lru_cache(maxsize=65536)
def groups_of(account: str | None, partner: str | None, user: str | None) -> tuple[str, ...]:
    """The Benford groups an amount counts in: the journal, its account, partner and user."""
    out = ["journal"] if account is None else ["journal", account_group(account)]
    if partner:
        out.append(f"partner {partner}")
    if user:
        out.append(f"user {user}")
    return tuple(out)


class DigitCounts:
    """First-two-digit counts of the audited lines, per Benford group.

    For the spike test an amount repeated on an entry's own lines (the gross on payables
    and on the bank) counts once per entry: it says nothing about how amounts are made up.
    The partner and user of an entry are those of all its lines, so lines are counted per
    (partner, user) and per account, and the journal, partner and user groups are summed
    from the first at the end: two increments a line instead of four lookups.
    """

    def __init__(self) -> None:
        self.by_pair: dict[tuple[str | None, str | None], tuple[list[int], list[int]]] = {}
        self.by_account: dict[str, tuple[list[int], list[int]]] = {}
        self.order: dict[str, None] = {}
        """Every group, in the order its first amount came (the summary's order)."""

    def add(
        self, lines: Iterable[EntryLine], partner: str | None, user: str | None, least: Decimal
    ) -> Digits:
        """Count the lines' first two digits (amounts of at least ``least``); the entry's
        (account, digits) pairs."""
        digits = []
        for ln in lines:
            value = ln.debit or ln.credit
            if abs(value) >= least:
                ftd = benford.leading_digits(value, 2)
                if ftd is not None:
                    digits.append((ln.account, ftd))
        if not digits:
            return ()
        return self.add_digits(tuple(digits), partner, user)

    def add_digits(self, digits: Digits, partner: str | None, user: str | None) -> Digits:
        """Count an entry's (account, first two digits) pairs, as :meth:`add` gives them
        (the SQL path reads them so); ``digits``."""
        if not digits:
            return ()
        order = self.order
        pair = self.by_pair.get((partner, user))
        if pair is None:
            pair = self.by_pair[(partner, user)] = ([0] * 90, [0] * 90)
            for group in groups_of(None, partner, user):
                order.setdefault(group, None)
        pair_lines, pair_once = pair
        seen_digits: set[int] = set()
        seen_lines: set[tuple[str, int]] = set()
        for account, ftd in digits:
            i = ftd - 10
            counts = self.by_account.get(account)
            if counts is None:
                counts = self.by_account[account] = ([0] * 90, [0] * 90)
                order[account_group(account)] = None
            counts[0][i] += 1
            pair_lines[i] += 1
            if ftd not in seen_digits:
                seen_digits.add(ftd)
                pair_once[i] += 1
            if (account, ftd) not in seen_lines:
                seen_lines.add((account, ftd))
                counts[1][i] += 1
        return digits

    def groups(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Counts per group (``journal``, ``account A``, ``partner P``, ``user U``), in the
        order the groups were met: every line, and once per entry (for spikes)."""
        lines: dict[str, list[int]] = {g: [0] * 90 for g in self.order}
        once: dict[str, list[int]] = {g: [0] * 90 for g in self.order}
        for (partner, user), (pair_lines, pair_once) in self.by_pair.items():
            for group in groups_of(None, partner, user):
                _add(lines[group], pair_lines)
                _add(once[group], pair_once)
        for account, (account_lines, account_once) in self.by_account.items():
            group = account_group(account)
            _add(lines[group], account_lines)
            _add(once[group], account_once)
        return lines, once


def _add(total: list[int], counts: list[int]) -> None:
    for i, n in enumerate(counts):
        total[i] += n


Spikes = dict[str, tuple[set[int], str]]
"""Per nonconforming group: its over-represented first two digits, and its MAD in words."""


def judge_groups(counts: DigitCounts, s: AuditSettings) -> tuple[dict[str, Any], Spikes]:
    """Benford's tests for the journal and each group with ``benford_min_count`` amounts:
    the summary (``journal``, ``groups``, ``min_count``), and the spikes of the
    nonconforming ones."""
    line_counts, once_counts = counts.groups()
    journal = benford.test(line_counts.get("journal", [0] * 90))
    groups: dict[str, dict[str, Any]] = {}
    spikes: Spikes = {}
    for name, group_counts in line_counts.items():
        if name == "journal":
            stats = journal
        elif sum(group_counts) < s.benford_min_count:
            continue
        else:
            stats = groups[name] = benford.test(group_counts)
        two = stats["first_two_digits"]
        # Too few amounts make any sample look nonconforming (Nigrini): judge none of them.
        if two["verdict"] != benford.VERDICTS[-1] or stats["count"] < s.benford_min_count:
            continue
        over = benford.spikes(once_counts[name], s.benford_spike_z, s.benford_spike_ratio)
        if over:
            spikes[name] = (set(over), f"MAD {two['mad']:.4f}, {two['verdict']}")
        stats["spikes"] = over
    return {"journal": journal, "groups": groups, "min_count": s.benford_min_count}, spikes


class SpikeIndex:
    """The spikes by kind of group, to tell quickly whether an entry's amounts start with
    any of its groups' spike digits (most entries' do not): :meth:`hits` is true exactly
    when :func:`spike_reasons` gives reasons."""

    def __init__(self, spikes: Mapping[str, tuple[set[int], str]]) -> None:
        self.journal: set[int] = set()
        self.accounts: dict[str, set[int]] = {}
        self.partners: dict[str, set[int]] = {}
        self.users: dict[str, set[int]] = {}
        for group, (digits, _) in spikes.items():
            kind, _, name = group.partition(" ")
            if group == "journal":
                self.journal = digits
            elif kind == "account":
                self.accounts[name] = digits
            elif kind == "partner":
                self.partners[name] = digits
            elif kind == "user":
                self.users[name] = digits

    def hits(self, digits: Digits, partner: str | None, user: str | None) -> bool:
        """Whether an entry's (account, first two digits) make a spike of one of its
        groups (the journal, the line's account, the entry's partner and user)."""
        journal, accounts = self.journal, self.accounts
        of_partner = self.partners.get(partner) if partner else None
        of_user = self.users.get(user) if user else None
        for account, ftd in digits:
            if ftd in journal:
                return True
            of_account = accounts.get(account)
            if of_account is not None and ftd in of_account:
                return True
            if of_partner is not None and ftd in of_partner:
                return True
            if of_user is not None and ftd in of_user:
                return True
        return False


def spike_reasons(
    digits: Digits,
    partner: str | None,
    user: str | None,
    spikes: Mapping[str, tuple[set[int], str]],
    s: AuditSettings,
) -> list[Reason]:
    """The Benford reasons of an entry whose amounts start with a group's spike digits."""
    found: list[Reason] = []
    named: set[str] = set()
    for account, ftd in digits:
        for group in groups_of(account, partner, user):
            hit = spikes.get(group)
            if hit is not None and ftd in hit[0] and group not in named:
                named.add(group)
                found.append(
                    Reason(
                        "benford",
                        f"amounts starting with {ftd} are over-represented in {group} "
                        f"(first two digits {hit[1]})",
                        s.weight("benford"),
                    )
                )
                if len(found) >= REASONS_PER_ENTRY:
                    return found
    return found
