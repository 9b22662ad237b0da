"""Model-based surprise: how unlikely an entry's account scheme is, given the history before it.

A frequency model of posting schemes (the set of accounts with their sides) per partner and
document kind, backed off to the kind alone for partners with too little history. The
surprisal of a scheme is ``-log2 P`` with add-one (Laplace) smoothing over the schemes seen
plus one for "a scheme not seen yet":

    P(scheme | partner, kind) = (count(scheme) + 1) / (n + distinct + 1)

This is the "seldom-used accounts" and "unusual account combinations" test of AS 2401 .61
made quantitative. The per-token surprisal of a local language model, which also reads the
document, is :mod:`.lm_surprise` (run when a model is configured; this one needs none).
"""

from __future__ import annotations

import math
from collections import Counter

from ..ledger import ChartOfAccounts, Document, JournalEntry
from .model import AuditSettings, Reason

Scheme = tuple[tuple[str, str], ...]
"""An entry's accounts with their sides, sorted: ``(("1200", "D"), ("7500", "C"))``."""


def scheme_of(entry: JournalEntry) -> Scheme:
    """The entry's posting scheme: its distinct (account, side) pairs, sorted."""
    return tuple(
        sorted({(ln.account, "C" if ln.credit and not ln.debit else "D") for ln in entry.lines})
    )


def format_scheme(scheme: Scheme) -> str:
    """``"1200 D / 7500 C"``: a scheme as a bookkeeper reads it."""
    return " / ".join(f"{account} {side}" for account, side in scheme)


def surprisal(count: int, total: int, distinct: int) -> float:
    """``-log2 P`` of a scheme seen ``count`` times in ``total`` entries with ``distinct`` schemes.

    Add-one smoothing over the ``distinct`` schemes and one unseen: ``surprisal(0, 0, 0) == 0``
    (no history: nothing can surprise), ``surprisal(0, 6, 1) == 3.0`` (1/8).
    """
    return -math.log2((count + 1) / (total + distinct + 1))


class SchemeModel:
    """Counts of schemes per (partner, kind) and per kind, learnt entry by entry; and which
    partners of each kind have posted to each account (``chart``: for the accounts' types)."""

    def __init__(self, settings: AuditSettings, chart: ChartOfAccounts | None = None) -> None:
        self.settings = settings
        self.chart = chart
        self.by_partner: dict[tuple[str, str], Counter[Scheme]] = {}
        self.by_kind: dict[str, Counter[Scheme]] = {}
        self.partner_total: Counter[tuple[str, str]] = Counter()
        self.kind_total: Counter[str] = Counter()
        self.partners_of: dict[tuple[str, str], set[str]] = {}
        """(kind, account) -> the partners whose entries of that kind posted to it."""

    def observe(self, document: Document, scheme: Scheme) -> None:
        """Learn ``document``'s scheme."""
        if document.partner is not None:
            key = (document.partner.id, document.kind)
            seen = self.by_partner.get(key)
            if seen is None:  # not setdefault: it would make a Counter for every entry
                seen = self.by_partner[key] = Counter()
            if scheme not in seen:  # a new scheme for the partner: maybe new accounts
                for account, _ in scheme:
                    users = self.partners_of.get((document.kind, account))
                    if users is None:
                        users = self.partners_of[(document.kind, account)] = set()
                    users.add(key[0])
            seen[scheme] += 1
            self.partner_total[key] += 1
        by_kind = self.by_kind.get(document.kind)
        if by_kind is None:
            by_kind = self.by_kind[document.kind] = Counter()
        by_kind[scheme] += 1
        self.kind_total[document.kind] += 1

    def bits(self, document: Document, scheme: Scheme) -> tuple[float, str, int, int] | None:
        """Surprisal of ``scheme``, whose history it was judged on, its count and that total.

        ``None`` when neither the partner nor the kind has ``min_history`` entries.
        """
        need = self.settings.min_history
        if document.partner is not None:
            key = (document.partner.id, document.kind)
            total = self.partner_total[key]
            if total >= need:
                seen = self.by_partner[key]
                count = seen.get(scheme, 0)
                label = f"partner {document.partner.id} ({document.kind.replace('_', ' ')})"
                return surprisal(count, total, len(seen)), label, count, total
        total = self.kind_total[document.kind]
        if total < need:
            return None
        seen = self.by_kind[document.kind]
        count = seen.get(scheme, 0)
        return surprisal(count, total, len(seen)), f"kind {document.kind}", count, total

    def _known(self, document: Document, scheme: Scheme) -> bool:
        """Whether every (account, side) of ``scheme`` was used before by the history it is
        judged on (the partner's, as :meth:`bits` chooses, or the kind's): a new combination
        of familiar accounts, not an account new to it (AS 2401 .61: "seldom-used
        accounts")."""
        seen = self.by_kind[document.kind]
        if document.partner is not None:
            key = (document.partner.id, document.kind)
            if self.partner_total[key] >= self.settings.min_history:
                seen = self.by_partner[key]
        wanted = set(scheme)
        for known in seen:
            wanted.difference_update(known)
            if not wanted:
                return True
        return False

    def _unrelated(self, document: Document, scheme: Scheme) -> str:
        """Why an account of ``scheme`` new to the partner is unrelated to its accounts, or
        ``""``: no other partner of the kind that posts to the partner's accounts of the same
        type (the expense accounts for an expense account) has ever posted to it, and
        ``min_history`` partners at least post to those.

        AS 2401 .61's "entries made to unrelated ... accounts": a clerk's slip goes to a
        neighbouring account, one that partners billing the same things use too; an account
        that no such partner ever uses is unrelated to what this partner sells.
        """
        partner = document.partner
        if partner is None or self.chart is None:
            return ""
        key = (partner.id, document.kind)
        if self.partner_total[key] < self.settings.min_history:
            return ""  # judged on the kind's history: nothing is the partner's own yet
        own: set[str] = set()
        for known in self.by_partner[key]:
            own.update(account for account, _ in known)
        empty: set[str] = set()
        for account in sorted({account for account, _ in scheme} - own):
            new = self.chart.get(account)
            if new is None:
                continue  # not in the chart: the ledger check says so
            same = sorted(a for a in own if (o := self.chart.get(a)) and o.type == new.type)
            if not same:
                continue  # a type the partner never used: nothing to relate it to
            others: set[str] = set()
            for a in same:
                others |= self.partners_of.get((document.kind, a), empty)
            others.discard(partner.id)
            if len(others) < self.settings.min_history:
                continue
            if not others & self.partners_of.get((document.kind, account), empty):
                return (
                    f"account {account} is unrelated to the partner's: none of the "
                    f"{len(others)} other partners posting to {', '.join(same)} ever "
                    f"posted to it"
                )
        return ""

    def usual(self, document: Document) -> str:
        """The most common scheme of the partner (or kind), for the reason's text."""
        seen = None
        if document.partner is not None:
            seen = self.by_partner.get((document.partner.id, document.kind))
        if not seen:
            seen = self.by_kind.get(document.kind)
        if not seen:
            return ""
        scheme, count = seen.most_common(1)[0]
        return f"{format_scheme(scheme)} ({count}x)"

    def check(self, document: Document, scheme: Scheme) -> list[Reason]:
        """Unseen or rare account combinations, and the surprisal when above ``surprise_bits``
        (weighing ``weight("surprise")`` per bit above it, up to ``surprise_max_bits``).

        Unseen: never used for this partner and kind (or this kind, for a partner with too
        little history); ``known_accounts_weight`` of the weight when each of its accounts
        was used on that side before (a new mix of familiar accounts, as a partner's
        invoices for several of its goods at once give), ``unrelated_account_weight`` times
        it when an account new to the partner is unrelated to its own (:meth:`_unrelated`).
        Rare: used in less than
        ``rare_combination_share`` of them, and ``rare_combination_max`` times at most (a
        scheme used hundreds of times is not seldom used, whatever its share of a kind's
        thousands of entries).
        """
        judged = self.bits(document, scheme)
        if judged is None:
            return []
        bits, label, count, total = judged
        s = self.settings
        found = []
        if count == 0:
            shown = format_scheme(scheme)
            weight = s.weight("unseen_combination")
            if self._known(document, scheme):
                weight *= s.known_accounts_weight
                detail = (
                    f"accounts {shown} never used together for {label} in {total} earlier "
                    f"entries, though each of them was used for it before"
                )
            else:
                detail = f"accounts {shown} never used for {label} in {total} earlier entries"
                unrelated = self._unrelated(document, scheme)
                if unrelated:
                    weight *= s.unrelated_account_weight
                    detail += f"; {unrelated}"
            found.append(
                Reason("unseen_combination", f"{detail}; usual: {self.usual(document)}", weight)
            )
        elif count / total < s.rare_combination_share and count <= s.rare_combination_max:
            shown = format_scheme(scheme)
            found.append(
                Reason(
                    "rare_combination",
                    f"accounts {shown} used {count} times in {total} earlier entries of {label}",
                    s.weight("rare_combination"),
                )
            )
        if bits > s.surprise_bits:
            found.append(
                Reason(
                    "surprise",
                    f"{bits:.1f} bits of surprisal for the scheme given {label}'s history",
                    s.weight("surprise") * min(bits - s.surprise_bits, s.surprise_max_bits),
                )
            )
        return found
