"""Model-based surprise: how unlikely an entry's account scheme is, given the history before it.

A frequency model of posting schemes (the set of accounts with their sides) per partner and
document kind, backed off to the kind alone for partners with too little history. The
surprisal of a scheme is ``-log2 P`` with add-one (Laplace) smoothing over the schemes seen
plus one for "a scheme not seen yet":

    P(scheme | partner, kind) = (count(scheme) + 1) / (n + distinct + 1)

This is the "seldom-used accounts" and "unusual account combinations" test of AS 2401 .61
made quantitative. The per-token surprisal of a local language model is not implemented
here yet (left for later; the frequency model needs no model server).
"""

from __future__ import annotations

import math
from collections import Counter

from ..ledger import Document, JournalEntry
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
    """Counts of schemes per (partner, kind) and per kind, learnt entry by entry."""

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.by_partner: dict[tuple[str, str], Counter[Scheme]] = {}
        self.by_kind: dict[str, Counter[Scheme]] = {}
        self.partner_total: Counter[tuple[str, str]] = Counter()
        self.kind_total: Counter[str] = Counter()

    def observe(self, document: Document, scheme: Scheme) -> None:
        """Learn ``document``'s scheme."""
        if document.partner is not None:
            key = (document.partner.id, document.kind)
            seen = self.by_partner.get(key)
            if seen is None:  # not setdefault: it would make a Counter for every entry
                seen = self.by_partner[key] = Counter()
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
        little history). Rare: used in less than ``rare_combination_share`` of them.
        """
        judged = self.bits(document, scheme)
        if judged is None:
            return []
        bits, label, count, total = judged
        s = self.settings
        found = []
        if count == 0:
            shown = format_scheme(scheme)
            found.append(
                Reason(
                    "unseen_combination",
                    f"accounts {shown} never used for {label} in {total} earlier entries; "
                    f"usual: {self.usual(document)}",
                    s.weight("unseen_combination"),
                )
            )
        elif count / total < s.rare_combination_share:
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
