"""Votes among historical entries: the parts of an entry, their options, and the template
the winners make.

The ``memory`` backend (:mod:`ledgerpilot.agent.backends.memory`) gathers *neighbours*
(historical documents with their templates, :mod:`ledgerpilot.agent.binding`) in tiers,
from the partner's own documents to any document of the kind. Each *part* of the new
entry is decided by a :class:`Vote` among the neighbours of the first tier that has an
answer: the *frame* (lines on the gross total or a fixed amount), the *open* lines (amounts
the text states, the balance), the VAT account of each rate, and each document line's
treatment. :func:`compose` turns the chosen options into a template for the new document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from ledgerpilot.ledger import Document

from .binding import Basis, LineRef, Side, Template, TemplateLine

Treatment = tuple[tuple[str, str, str, Decimal | None], ...]
"""A document line's postings: (account, side, ``net`` or ``self_tax``, self-assessed rate)."""

TIERS = ("partner", "mirrored", "local", "country", "noted", "kind")
"""Where votes come from, in order: the partner's documents of the same kind, of the mirrored
kind; other partners' documents from the same country with the same note, from the same
country, with the same note; any documents of the kind."""
TIER_FACTOR = {
    "partner": 1.0,
    "mirrored": 0.85,
    "local": 0.6,
    "country": 0.55,
    "noted": 0.5,
    "kind": 0.4,
}
"""How much a part of the entry is trusted, by where its votes came from."""
FOREIGN_TIERS = frozenset({"local", "country", "noted", "kind"})
OTHER_RATE = 0.3
"""Weight of a vote from a line at another VAT rate than the new document's line."""


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A historical document taking part in the vote."""

    document: Document
    template: Template
    weight: float
    similarity: float
    tier: str


class Vote:
    """Weights of the options of one part of the entry, and who supports each."""

    def __init__(self) -> None:
        self.weights: dict[Hashable, float] = {}
        self.support: dict[Hashable, list[Neighbour]] = {}

    def add(self, option: Hashable, weight: float, neighbour: Neighbour) -> None:
        """Count ``neighbour``'s vote for ``option`` with ``weight``."""
        self.weights[option] = self.weights.get(option, 0.0) + weight
        self.support.setdefault(option, []).append(neighbour)

    def __bool__(self) -> bool:
        return bool(self.weights)

    def ranked(self) -> list[tuple[Hashable, float]]:
        """Options with their share of the vote, best first (ties in a stable order)."""
        total = sum(self.weights.values()) or 1.0
        return sorted(
            ((o, w / total) for o, w in self.weights.items()), key=lambda p: (-p[1], repr(p[0]))
        )


@dataclass
class Part:
    """One decided part of the entry: its options best first and how sure the vote is."""

    slot: tuple[str, object]
    """``("frame", None)``, ``("line", index)`` or ``("tax", rate)``."""
    options: list[tuple[Hashable, float]]
    supporters: list[list[Neighbour]]
    tier: str
    closeness: float = 1.0
    choice: int = 0
    exact: bool = True
    """Whether the votes are on this very line description (or VAT rate); ``False`` when
    the nearest ones stood in."""

    @property
    def name(self) -> str:
        """The part in a bookkeeper's words (``"line 2"``, ``"VAT 25%"``)."""
        what, which = self.slot
        if what in ("line", "reverse charge"):
            return f"{what} {int(which) + 1}"  # type: ignore[call-overload]
        if what == "tax":
            return f"VAT {which}%"
        if what == "open":
            return "stated amounts"
        return "partner line"

    @property
    def confidence(self) -> float:
        """The chosen option's share of the vote, times backing, tier and closeness."""
        _, share = self.options[self.choice]
        backing = 1.0 - 0.3 / (len(self.supporters[self.choice]) + 1)
        return share * backing * TIER_FACTOR[self.tier] * self.closeness

    @property
    def value(self) -> Hashable:
        """The chosen option."""
        return self.options[self.choice][0]


def unique(neighbours: Iterable[Neighbour]) -> list[Neighbour]:
    """Each document once, with its weightiest standing."""
    best: dict[str, Neighbour] = {}
    for n in neighbours:
        found = best.get(n.document.id)
        if found is None or n.weight > found.weight:
            best[n.document.id] = n
    return list(best.values())


def first_vote(
    tiers: dict[str, list[Neighbour]], cast: Callable[[Neighbour, Vote], None]
) -> tuple[Vote, str] | None:
    """The vote of the first tier whose neighbours ``cast`` anything, and that tier."""
    for tier in TIERS:
        vote = Vote()
        for n in tiers[tier]:
            cast(n, vote)
        if vote:
            return vote, tier
    return None


def make_part(slot: tuple[str, object], vote: Vote, tier: str, closeness: float = 1.0) -> Part:
    """A part from a vote; within the partner's tiers, the winners' similarity counts too."""
    options = vote.ranked()
    supporters = [vote.support[option] for option, _ in options]
    if tier in ("partner", "mirrored"):
        closeness *= max(n.similarity for n in supporters[0]) ** 0.25
    return Part(slot, options, supporters, tier, closeness)


def mirrored(template: Template) -> Template:
    """The template with every side reversed: a credit note posted like its invoice."""
    flip = {"debit": "credit", "credit": "debit"}
    lines = tuple(replace(tl, side=flip[tl.side]) for tl in template.lines)  # type: ignore[arg-type]
    shared = tuple(flip[s] for s in template.shared)
    return replace(template, lines=lines, shared=shared)  # type: ignore[arg-type]


FRAME_BASES = frozenset({"gross", "fixed"})
OPEN_BASES = frozenset({"stated", "balance"})


def frame_of(template: Template) -> Hashable:
    """The lines that depend on no document line, VAT rate or stated amount."""
    return tuple(
        (tl.account, tl.side, tl.basis.what, tl.basis.amount)
        for tl in template.lines
        if tl.basis.what in FRAME_BASES
    )


def open_part(tiers: dict[str, list[Neighbour]]) -> Part | None:
    """Lines whose amounts the document decides only as a whole: every account whose amount
    the neighbours' texts state (a VAT return's balances), on its usual side, and on each
    side the account that takes what balances the entry (a VAT refund claim).

    All of them are kept: on a new document an account its text does not state comes out
    as zero, and only one side can have a balance to take.
    """
    sides: dict[tuple[str, str], Vote] = {}
    for tier in TIERS:
        for n in tiers[tier]:
            for tl in n.template.lines:
                if tl.basis.what == "stated":
                    sides.setdefault(("stated", tl.account), Vote()).add(
                        tl.side, n.weight * TIER_FACTOR[tier], n
                    )
                elif tl.basis.what == "balance":
                    sides.setdefault(("balance", tl.side), Vote()).add(
                        tl.account, n.weight * TIER_FACTOR[tier], n
                    )
    if not sides:
        return None
    lines = []
    vote = Vote()
    for (what, which), found in sorted(sides.items()):
        winner = found.ranked()[0][0]
        if what == "stated":
            lines.append((which, str(winner), "stated", None))
        else:
            lines.append((str(winner), which, "balance", None))
        for n in found.support[winner]:
            vote.add(None, n.weight, n)
    tier = min((n.tier for n in vote.support[None]), key=TIERS.index)
    return Part(("open", None), [(tuple(lines), 1.0)], [vote.support[None]], tier)


def treatment(
    template: Template, ref: LineRef, rate: Decimal, what: str
) -> tuple[Treatment, bool] | None:
    """How ``template`` posts the line ``ref`` (else its first line of that description):
    its ``net`` or ``self_tax`` postings, and whether that line had VAT rate ``rate``.

    Looked up, not searched for (:meth:`Template.lines_taking`): it is asked for every line
    of a new document of each neighbour.
    """
    position = template.position(ref)
    if position is None:
        ref = (ref[0], 0)
        position = template.position(ref)
        if position is None:
            return None
    postings = tuple(
        (tl.account, tl.side, tl.basis.what, tl.basis.self_rate)
        for tl in template.lines_taking(ref, what)
    )
    return postings, template.rates[position] == rate


def tax_part(tiers: dict[str, list[Neighbour]], rate: Decimal) -> Part | None:
    """The vote on the account of the document's VAT at ``rate``; when no tier books VAT at
    that rate, the VAT accounts of other rates stand in (and the part is not exact)."""

    def cast(n: Neighbour, vote: Vote, any_rate: bool) -> None:
        rates = {r for r in n.template.rates}
        for tl in n.template.lines:
            if tl.basis.what != "tax":
                continue
            if tl.basis.scope == "rate" and (tl.basis.rate == rate or any_rate):
                vote.add(
                    (tl.account, tl.side, "rate"),
                    n.weight * (1 if tl.basis.rate == rate else OTHER_RATE),
                    n,
                )
            elif tl.basis.scope == "all" and (rate in rates or any_rate):
                vote.add((tl.account, tl.side, "all"), n.weight, n)

    for any_rate in (False, True):
        for tier in TIERS:
            vote = Vote()
            for n in tiers[tier]:
                cast(n, vote, any_rate)
            if vote:
                part = make_part(("tax", rate), vote, tier)
                if any_rate:
                    part.closeness *= 0.5
                    part.exact = False
                return part
    return None


def current_rates(
    tiers: dict[str, list[Neighbour]], part: Part, ref: LineRef, rate: Decimal
) -> Part:
    """The self-assessed VAT of the winning treatment at the rate of the latest posting of
    this line on those accounts, by anyone: when the domestic rate changes, every partner's
    reverse charge changes with it."""
    chosen = cast(Treatment, part.value)
    if not chosen:
        return part
    newest = max(n.document.date for n in part.supporters[part.choice])
    accounts = {(a, s) for a, s, _, _ in chosen}
    latest: tuple[dt.date, Treatment] | None = None
    for tier in TIERS:
        for n in tiers[tier]:
            if n.document.date <= newest or (latest and n.document.date <= latest[0]):
                continue
            found = treatment(n.template, ref, rate, "self_tax")
            if found and found[1] and {(a, s) for a, s, _, _ in found[0]} == accounts:
                latest = (n.document.date, found[0])
    if latest is None or latest[1] == chosen:
        return part
    options = [(latest[1], part.options[part.choice][1]), *part.options]
    supporters = [part.supporters[part.choice], *part.supporters]
    return replace(part, options=options, supporters=supporters, choice=0)


def alternatives(parts: list[Part]) -> Iterable[list[Part]]:
    """The winning parts, then each part in turn with its runner-up options (weakest first)."""
    yield parts
    order = sorted(range(len(parts)), key=lambda i: parts[i].confidence)
    for i in order:
        for choice in range(1, min(len(parts[i].options), 3)):
            changed = list(parts)
            changed[i] = replace(parts[i], choice=choice)
            yield changed


def supporters_of(parts: Sequence[Part]) -> list[Neighbour]:
    """The neighbours behind the chosen options, most weighty first."""
    found = unique(n for p in parts for n in p.supporters[p.choice])
    return sorted(found, key=lambda n: (-n.weight, n.document.id))


def compose(
    parts: Sequence[Part],
    refs: Sequence[LineRef],
    doc: Document,
    current_rate: Callable[[Decimal], Decimal] | None = None,
) -> Template:
    """The template the chosen options make: line postings, VAT lines, then the frame.

    ``current_rate`` maps a retired VAT rate of self-assessed VAT to the one in use now.
    """
    lines: list[TemplateLine] = []
    frame: list[TemplateLine] = []
    taxes: list[TemplateLine] = []
    self_taxed: dict[tuple[str, Side, Decimal | None], list[LineRef]] = {}
    for part in parts:
        what, which = part.slot
        value = cast(tuple[Any, ...], part.value)
        if what in ("frame", "open"):
            for account, side, basis, amount in value:
                frame.append(TemplateLine(account, side, Basis(basis, amount=amount)))
        elif what in ("line", "reverse charge"):
            position = cast(int, which)
            ref = refs[position]
            for account, side, basis, rate in value:
                if basis == "self_tax" and rate is not None and current_rate is not None:
                    rate = current_rate(rate)
                if basis == "net":
                    description = doc.lines[position].description
                    lines.append(
                        TemplateLine(account, side, Basis("net", "lines", (ref,)), description)
                    )
                else:
                    self_taxed.setdefault((account, side, rate), []).append(ref)
        else:
            rate = cast(Decimal, which)
            account, side, _ = value
            taxes.append(
                TemplateLine(account, side, Basis("tax", "rate", rate=rate), f"VAT {percent(rate)}")
            )
    for (account, side, self_rate), taken in self_taxed.items():
        basis = Basis("self_tax", "lines", tuple(taken), self_rate=self_rate)
        description = f"Reverse-charge VAT {percent(self_rate)}"
        taxes.append(TemplateLine(account, side, basis, description))
    return Template(doc.id, doc.kind, tuple(lines + taxes + frame), tuple(refs), (), ())


def percent(rate: Decimal | None) -> str:
    """``Decimal("25")`` -> ``"25%"``."""
    return f"{(rate or Decimal(0)).normalize():f}%"
