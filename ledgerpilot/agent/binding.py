"""Amount binding: a historical entry as a template relative to its document, bound anew.

*Numbers come from the document.* A posted entry is turned into a :class:`Template`: for
each entry line its account, its side and the *basis* of its amount, read off the
document it posted (the gross total, the VAT at a rate, the net of some document lines,
VAT self-assessed at a rate on some lines' nets, or, when nothing on the document
explains it, a fixed amount). :func:`bind` computes every amount of a template from
another document with Decimal arithmetic, and says so (an :class:`Unbindable` value)
when the template does not fit that document: it needs a line or a VAT rate the document
lacks, or the document has lines or VAT the template has no place for.

Document lines are named by their *description key* (:func:`description_key`: the words
of the description, without numbers, periods or punctuation), so that "Office rent
01/2024" and "Office rent 02/2024" are the same line of a recurring invoice.

How synth posts (see ``docs/synthetic-company.md``) is what a careful bookkeeper does
anywhere: one line per document line on its expense or revenue account (the net), one
VAT line per account and rate (the line VAT summed), for reverse charge a pair of lines
with the VAT self-assessed on the nets at the domestic rate, and the partner or bank line
with the gross total; payroll-like documents post subsets of their lines on each side.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Literal, NamedTuple

from ledgerpilot.ledger import ChartOfAccounts, Document, EntryLine, PostingScheme, quantize
from ledgerpilot.ledger.validation import SETTLEMENT, TAX_SIDE, WHOLE_ENTRY_KINDS

BasisKind = Literal["gross", "net", "tax", "self_tax", "stated", "balance", "fixed"]
Scope = Literal["all", "rate", "lines"]
Side = Literal["debit", "credit"]
LineRef = tuple[str, int]
"""A document line by its description key and which occurrence of that key it is (0, 1, ..)."""

ZERO = Decimal(0)
HUNDRED = Decimal(100)
SETTLING_ROLES = frozenset({"payable", "receivable", "liquidity"})
INVOICE_KINDS = frozenset(TAX_SIDE)

MAX_SUBSET_LINES = 12
"""Above this many document lines, subsets are not searched (2**12 sums at most)."""
MAX_RATE = Decimal(30)
"""No VAT rate in the world is above this; a self-assessed "rate" above it is a coincidence."""
MAX_SELF_TAX_SUBSET = 4
"""Largest subset of lines tried (besides all lines and all zero-rate lines) for self-assessed VAT."""

_WORD = re.compile(r"[^\W\d_]{2,}")


def line_refs(document: Document) -> tuple[LineRef, ...]:
    """Each line of ``document`` as (description key, occurrence of that key so far)."""
    seen: dict[str, int] = {}
    out = []
    for ln in document.lines:
        key = description_key(ln.description)
        n = seen.get(key, 0)
        seen[key] = n + 1
        out.append((key, n))
    return tuple(out)


def positions(refs: Sequence[LineRef]) -> dict[LineRef, int]:
    """Where each line of ``refs`` (:func:`line_refs`, so each one once) is in the document."""
    return {ref: j for j, ref in enumerate(refs)}


@lru_cache(maxsize=200_000)
def description_key(description: str) -> str:
    """The words of a line description, lower case, without numbers and punctuation.

    ``"Mobile tariff (2 pcs) 01/2024"`` -> ``"mobile tariff pcs"``: the same line of a
    recurring document keeps its key from one period to the next. One-letter words go too.
    """
    return " ".join(_WORD.findall(description.lower()))


@dataclass(frozen=True, slots=True)
class Basis:
    """Where an entry line's amount comes from, relative to its document."""

    what: BasisKind
    """``gross`` total, ``net`` of lines, their ``tax``, ``self_tax`` (reverse charge), the
    amount the document's text ``stated`` beside the line's account code (a VAT return's
    balances), the ``balance`` of the other lines, or a ``fixed`` amount."""
    scope: Scope = "all"
    """Which document lines ``net``/``tax``/``self_tax`` take: ``all``, those at ``rate``, or
    the ``lines`` named."""
    lines: tuple[LineRef, ...] = ()
    """The document lines taken on the template's own document, in document order; with
    scope ``lines``, the lines to take on another document."""
    rate: Decimal | None = None
    """Scope ``rate``: the document VAT rate of the lines taken."""
    self_rate: Decimal | None = None
    """``self_tax``: the rate at which VAT is self-assessed on each line's net."""
    amount: Decimal | None = None
    """``fixed``: the amount."""

    def describe(self) -> str:
        """The basis in a bookkeeper's words (``"VAT at 25%"``)."""
        which = {
            "all": "all lines",
            "rate": f"the lines at {_pct(self.rate)}",
            "lines": " + ".join(f"'{k}'" for k, _ in self.lines) or "no lines",
        }[self.scope]
        if self.what == "gross":
            return "gross total"
        if self.what == "net":
            return f"net of {which}"
        if self.what == "tax":
            return f"VAT of {which}"
        if self.what == "self_tax":
            return f"VAT self-assessed at {_pct(self.self_rate)} on {which}"
        if self.what == "stated":
            return "the amount the text states for the account"
        if self.what == "balance":
            return "what balances the entry"
        return f"fixed amount {self.amount}"


def _pct(rate: Decimal | None) -> str:
    return f"{(rate or ZERO).normalize():f}%"


@dataclass(frozen=True, slots=True)
class TemplateLine:
    """One line of a template: account, side, and where its amount comes from."""

    account: str
    side: Side
    basis: Basis
    description: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """A historical entry expressed relative to the document it posted."""

    document: str
    """The id of the historical document."""
    kind: str
    lines: tuple[TemplateLine, ...]
    refs: tuple[LineRef, ...]
    """That document's lines, in document order, as (description key, occurrence)."""
    rates: tuple[Decimal, ...]
    """VAT rates of that document's lines, in document order."""
    shared: tuple[Side, ...] = ()
    """Sides on which the entry takes every document line's net exactly once: on another
    document too, each of its lines must find its place there."""
    _index: _TemplateIndex | None = field(default=None, init=False, repr=False, compare=False)
    """Made on first use: votes ask of every line of a new document how a template posts it."""

    @property
    def exact(self) -> bool:
        """Whether every amount was explained by the document (no ``fixed`` line)."""
        return all(ln.basis.what != "fixed" for ln in self.lines)

    def position(self, ref: LineRef) -> int | None:
        """Where the line ``ref`` was on the template's own document, ``None`` if absent."""
        return self._indexed().positions.get(ref)

    def lines_taking(self, ref: LineRef, what: str) -> tuple[TemplateLine, ...]:
        """The template's lines of basis ``what`` that take the document line ``ref``, in order."""
        return self._indexed().taking.get((ref, what), ())

    def _indexed(self) -> _TemplateIndex:
        index = self._index
        if index is None:
            index = _TemplateIndex.of(self)
            object.__setattr__(self, "_index", index)  # a cache: the template stays the same
        return index


class _TemplateIndex(NamedTuple):
    """A template's lookups by document line, so that asking costs no scan of its lines."""

    positions: dict[LineRef, int]
    taking: dict[tuple[LineRef, str], tuple[TemplateLine, ...]]

    @classmethod
    def of(cls, template: Template) -> _TemplateIndex:
        found: dict[LineRef, int] = {}
        for j, ref in enumerate(template.refs):
            found.setdefault(ref, j)
        taking: dict[tuple[LineRef, str], list[TemplateLine]] = {}
        for tl in template.lines:
            for ref in dict.fromkeys(tl.basis.lines):
                taking.setdefault((ref, tl.basis.what), []).append(tl)
        return cls(found, {key: tuple(lines) for key, lines in taking.items()})


def postings(lines: Iterable[EntryLine]) -> dict[tuple[str, str], Decimal]:
    """(account, side) -> amount, lines on the same account and side added up: two schemes
    with the same postings post the same entry, whatever their layout."""
    found: dict[tuple[str, str], Decimal] = {}
    for ln in lines:
        for side, amount in (("debit", ln.debit), ("credit", ln.credit)):
            if amount:
                found[(ln.account, side)] = found.get((ln.account, side), ZERO) + amount
    return found


class Unbindable(NamedTuple):
    """Why a template cannot be bound to a document."""

    reason: str


# ---------------------------------------------------------------- template


def _role(chart: ChartOfAccounts | None, code: str) -> str | None:
    if chart is None:
        return None
    account = chart.get(code)
    return None if account is None else account.role


def make_template(document: Document, chart: ChartOfAccounts | None = None) -> Template:
    """Express ``document``'s posted entry as a template relative to ``document``.

    Per side of the entry: lines equal to the gross total on a settling account (payable,
    receivable, bank; any account for payroll, depreciation and other entries) take the
    ``gross``; lines on VAT accounts equal to the VAT at one rate (or all VAT) take that
    ``tax``; the remaining lines share out the document lines by their nets (one line per
    entry line where the amounts and descriptions say so, else the smallest subset that
    adds up); lines on VAT accounts still unexplained are tried as VAT self-assessed at
    some rate on some lines' nets (reverse charge); then the net at a rate or in total;
    what remains is ``fixed``. Without ``chart`` account roles are unknown and every line
    is tried every way. Raises ``ValueError`` for a document without its entry.
    """
    if document.entry is None:
        raise ValueError(f"document {document.id!r} has no posted entry to learn from")
    refs = line_refs(document)
    bases: list[Basis | None] = [None] * len(document.entry.lines)
    for i, ln in enumerate(document.entry.lines):
        if ln.account in document.text and stated_amount(document.text, ln.account) == ln.amount:
            bases[i] = Basis("stated")
    figures = _Figures.of(document, refs)
    shared: list[Side] = []
    for side in ("debit", "credit"):
        if _solve_side(document, chart, side, figures, bases):
            shared.append(side)
    unexplained = [i for i, b in enumerate(bases) if b is None]
    if len(unexplained) == 1:
        bases[unexplained[0]] = Basis("balance")
    lines = tuple(
        TemplateLine(
            ln.account,
            "credit" if ln.side == "credit" else "debit",
            basis or Basis("fixed", amount=ln.amount),
            ln.description,
        )
        for ln, basis in zip(document.entry.lines, bases, strict=True)
    )
    rates = tuple(ln.tax_rate for ln in document.lines)
    return Template(document.id, document.kind, lines, refs, rates, tuple(shared))


class _Figures(NamedTuple):
    """A document's lines summed and grouped by VAT rate, made once per template."""

    refs: tuple[LineRef, ...]
    tax_by_rate: dict[Decimal, Decimal]
    """VAT per rate, over the lines that have VAT."""
    net_by_rate: dict[Decimal, Decimal]
    at_rate: dict[Decimal, list[int]]
    """The positions of the lines at each rate, in document order."""

    @classmethod
    def of(cls, doc: Document, refs: tuple[LineRef, ...]) -> _Figures:
        tax_by_rate: dict[Decimal, Decimal] = {}
        net_by_rate: dict[Decimal, Decimal] = {}
        at_rate: dict[Decimal, list[int]] = {}
        for j, line in enumerate(doc.lines):
            if line.tax:
                tax_by_rate[line.tax_rate] = tax_by_rate.get(line.tax_rate, ZERO) + line.tax
            net_by_rate[line.tax_rate] = net_by_rate.get(line.tax_rate, ZERO) + line.net
            at_rate.setdefault(line.tax_rate, []).append(j)
        return cls(refs, tax_by_rate, net_by_rate, at_rate)

    def refs_at(self, rate: Decimal) -> tuple[LineRef, ...]:
        """The lines at ``rate``, in document order."""
        return tuple(self.refs[j] for j in self.at_rate.get(rate, ()))


def _solve_side(
    doc: Document,
    chart: ChartOfAccounts | None,
    side: Side,
    figures: _Figures,
    bases: list[Basis | None],
) -> bool:
    """Find the bases of ``side``'s lines; whether they share out every document line."""
    assert doc.entry is not None
    refs = figures.refs
    entry = [
        (i, ln)
        for i, ln in enumerate(doc.entry.lines)
        if ln.side == side and ln.amount and bases[i] is None
    ]
    gross = doc.total_gross
    whole = doc.kind in WHOLE_ENTRY_KINDS or doc.kind not in SETTLEMENT
    pending = []
    for i, ln in entry:
        role = _role(chart, ln.account)
        settles = whole or role in SETTLING_ROLES or (chart is None and ln.amount != doc.total_net)
        if ln.amount == gross and settles and role != "tax":
            bases[i] = Basis("gross")
            continue
        if role == "tax" or chart is None:
            basis = _tax_basis(ln.amount, figures, doc)
            if basis is not None:
                bases[i] = basis
                continue
        pending.append((i, ln))
    taken = _share_lines(doc, figures, pending, bases)
    for i, ln in pending:
        if bases[i] is None and (chart is None or _role(chart, ln.account) == "tax"):
            bases[i] = _self_tax_basis(ln.amount, doc, refs)
    for i, ln in pending:
        if bases[i] is None:
            bases[i] = _total_basis(ln.amount, figures, doc) or _tax_basis(ln.amount, figures, doc)
    return bool(doc.lines) and all(count == 1 for count in taken)


def _tax_basis(amount: Decimal, figures: _Figures, doc: Document) -> Basis | None:
    for rate, tax in figures.tax_by_rate.items():
        if tax == amount:
            return Basis("tax", "rate", figures.refs_at(rate), rate=rate)
    if doc.total_tax and amount == doc.total_tax:
        return Basis("tax", "all", figures.refs)
    return None


def _share_lines(
    doc: Document,
    figures: _Figures,
    pending: list[tuple[int, EntryLine]],
    bases: list[Basis | None],
) -> list[int]:
    """Give entry lines the document lines whose nets make their amounts (each line once).

    Returns how many times each document line was taken. Document lines are looked up by
    amount and words, not searched for: an entry of thousands of lines costs thousands of
    steps, not millions.
    """
    refs = figures.refs
    n = len(doc.lines)
    nets = [ln.net for ln in doc.lines]
    keys = [r[0] for r in refs]
    free = [True] * n
    taken = [0] * n

    def take(i: int, chosen: Sequence[int]) -> None:
        for j in chosen:
            free[j] = False
            taken[j] += 1
        bases[i] = _net_basis(doc, figures, sorted(chosen))

    def first_free(queue: deque[int] | None) -> int | None:
        """The first line of ``queue`` (in document order) still free; taken ones go."""
        while queue and not free[queue[0]]:
            queue.popleft()
        return queue[0] if queue else None

    by_amount: dict[Decimal, deque[int]] = {}
    by_amount_and_words: dict[tuple[Decimal, str], deque[int]] = {}
    by_words: dict[str, list[int]] = {}
    for j in range(n):
        by_amount.setdefault(nets[j], deque()).append(j)
        by_amount_and_words.setdefault((nets[j], keys[j]), deque()).append(j)
        by_words.setdefault(keys[j], []).append(j)
    # One document line per entry line: same amount, and the same words where possible.
    for same_words in (True, False):
        for i, ln in pending:
            if bases[i] is not None:
                continue
            if same_words:
                match = first_free(
                    by_amount_and_words.get((ln.amount, description_key(ln.description)))
                )
            else:
                match = first_free(by_amount.get(ln.amount))
            if match is not None:
                take(i, [match])
    # Several document lines with the entry line's words, merged. Only a merge takes lines
    # here, and it takes every free line of its words: each words' free lines are found once.
    merged: dict[str, tuple[list[int], Decimal]] = {}
    for i, ln in pending:
        if bases[i] is not None:
            continue
        key = description_key(ln.description)
        if key not in merged:
            same = [j for j in by_words.get(key, ()) if free[j]]
            merged[key] = (same, sum((nets[j] for j in same), ZERO))
        same, total = merged[key]
        if len(same) > 1 and total == ln.amount:
            take(i, same)
            merged[key] = ([], ZERO)
    # The smallest subset of the remaining lines that adds up.
    left = [j for j in range(n) if free[j]]
    if len(left) <= MAX_SUBSET_LINES:
        for i, ln in sorted(pending, key=lambda p: -p[1].amount):
            if bases[i] is not None or not left:
                continue
            found = _subset(left, nets, ln.amount)
            if found is not None:
                take(i, found)
                left = [j for j in left if free[j]]
    return taken


def _subset(free: list[int], nets: list[Decimal], amount: Decimal) -> tuple[int, ...] | None:
    for size in range(2, len(free) + 1):
        for combo in itertools.combinations(free, size):
            if sum(nets[j] for j in combo) == amount:
                return combo
    return None


def _net_basis(doc: Document, figures: _Figures, chosen: Sequence[int]) -> Basis:
    refs = figures.refs
    taken = tuple(refs[j] for j in chosen)
    n = len(doc.lines)
    if len(chosen) == n > 1:
        return Basis("net", "all", taken)
    rates = {doc.lines[j].tax_rate for j in chosen}
    if len(rates) == 1 and len(chosen) > 1:
        rate = next(iter(rates))
        at_rate = figures.at_rate[rate]
        if at_rate == list(chosen) and len({refs[j][0] for j in at_rate}) > 1:
            return Basis("net", "rate", taken, rate=rate)
    return Basis("net", "lines", taken)


def _self_tax_basis(amount: Decimal, doc: Document, refs: tuple[LineRef, ...]) -> Basis | None:
    n = len(doc.lines)
    if n == 0:
        return None
    everything = tuple(range(n))
    zero_rated = tuple(j for j in everything if not doc.lines[j].tax_rate)
    tried: list[tuple[int, ...]] = [everything]
    if zero_rated and zero_rated != everything:
        tried.append(zero_rated)
    if n <= MAX_SUBSET_LINES:
        for size in range(1, min(n, MAX_SELF_TAX_SUBSET + 1)):
            tried.extend(c for c in itertools.combinations(everything, size) if c not in tried)
    for combo in tried:
        base = sum((doc.lines[j].net for j in combo), ZERO)
        if base <= 0:
            continue
        for rate in _rate_guesses(amount * HUNDRED / base):
            total = sum((_tax(doc.lines[j].net, rate, doc.currency) for j in combo), ZERO)
            if total == amount:
                taken = tuple(refs[j] for j in combo)
                scope: Scope = "all" if combo == everything and n > 1 else "lines"
                return Basis("self_tax", scope, taken, self_rate=rate)
    return None


def _tax(net: Decimal, rate: Decimal, currency: str) -> Decimal:
    return quantize(net * rate / HUNDRED, currency)


def _rate_guesses(guess: Decimal) -> list[Decimal]:
    """Rates near ``guess``: whole, half and tenth percents, up to 30 %."""
    if not Decimal("0.1") <= guess <= MAX_RATE:
        return []
    out: list[Decimal] = []
    for step in (Decimal(1), Decimal("0.5"), Decimal("0.1")):
        rate = ((guess / step).quantize(Decimal(1)) * step).normalize()
        rate = Decimal(f"{rate:f}")
        if 0 < rate <= MAX_RATE and rate not in out:
            out.append(rate)
    return out


def _total_basis(amount: Decimal, figures: _Figures, doc: Document) -> Basis | None:
    if doc.lines and amount == doc.total_net:
        return Basis("net", "all", figures.refs)
    for rate, net in figures.net_by_rate.items():
        if net == amount:
            return Basis("net", "rate", figures.refs_at(rate), rate=rate)
    if amount == doc.total_gross:
        return Basis("gross")
    return None


# ---------------------------------------------------------------- binding


def select(
    basis: Basis,
    document: Document,
    refs: Sequence[LineRef],
    where: Mapping[LineRef, int] | None = None,
) -> list[int] | Unbindable:
    """Indices of ``document``'s lines that ``basis`` takes (``refs``: :func:`line_refs`;
    ``where``: their :func:`positions`, which a caller asking for many bases makes once)."""
    n = len(document.lines)
    if basis.scope == "all":
        return list(range(n))
    if basis.scope == "rate":
        found = [j for j in range(n) if document.lines[j].tax_rate == basis.rate]
        if not found:
            return Unbindable(f"it takes the lines at {_pct(basis.rate)}; the document has none")
        return found
    if where is None:
        where = positions(refs)
    chosen = []
    for ref in basis.lines:
        j = where.get(ref)
        if j is None:
            return Unbindable(f"it takes a line '{ref[0]}' that the document lacks")
        chosen.append(j)
    return chosen


def amount_of(
    basis: Basis,
    document: Document,
    refs: Sequence[LineRef],
    where: Mapping[LineRef, int] | None = None,
) -> Decimal | Unbindable:
    """The amount ``basis`` gives on ``document``, in Decimal, or why it gives none
    (``refs`` and ``where`` as for :func:`select`)."""
    if basis.what == "gross":
        return document.total_gross
    if basis.what == "fixed":
        return basis.amount if basis.amount is not None else ZERO
    if basis.what == "balance":
        return ZERO  # bind() computes it once the other lines are known
    if basis.what == "stated":
        return Unbindable("a stated amount needs the line's account: use bind()")
    chosen = select(basis, document, refs, where)
    if isinstance(chosen, Unbindable):
        return chosen
    lines = [document.lines[j] for j in chosen]
    if basis.what == "net":
        return sum((ln.net for ln in lines), ZERO)
    if basis.what == "tax":
        return sum((ln.tax for ln in lines), ZERO)
    rate = basis.self_rate or ZERO
    return sum((_tax(ln.net, rate, document.currency) for ln in lines), ZERO)


def bind(
    template: Template, document: Document, explanation: str = ""
) -> PostingScheme | Unbindable:
    """The scheme ``template`` gives for ``document``, every amount computed from it.

    Unbindable when a line needs what the document lacks (a line by its key, lines at a
    rate), when on a side where the template's entry took every document line once some
    line of ``document`` finds no place (or more than one), or when the document has VAT at
    a rate the template books no VAT for. Lines that come out as zero are left out.
    """
    refs = line_refs(document)
    where = positions(refs)
    lines: list[EntryLine] = []
    for tl in template.lines:
        if tl.basis.what == "balance":
            continue
        if tl.basis.what == "stated":
            amount: Decimal | Unbindable = stated_amount(document.text, tl.account) or ZERO
        else:
            amount = amount_of(tl.basis, document, refs, where)
        if isinstance(amount, Unbindable):
            return amount
        amount = quantize(amount, document.currency)
        if not amount:
            continue
        if amount < 0:
            return Unbindable(f"{tl.basis.describe()} is negative on this document")
        debit, credit = (amount, ZERO) if tl.side == "debit" else (ZERO, amount)
        lines.append(EntryLine(tl.account, debit, credit, _label(tl, document, where)))
    for tl in template.lines:
        if tl.basis.what == "balance":
            debits = sum((ln.debit for ln in lines), ZERO)
            credits = sum((ln.credit for ln in lines), ZERO)
            amount = credits - debits if tl.side == "debit" else debits - credits
            if amount > 0:
                debit, credit = (amount, ZERO) if tl.side == "debit" else (ZERO, amount)
                lines.append(EntryLine(tl.account, debit, credit, tl.description))
    problem = _uncovered(template, document, refs, where)
    if problem is not None:
        return problem
    if not lines:
        return Unbindable("every line of the template comes out as zero")
    return PostingScheme(
        document=document.id,
        kind=document.kind,
        explanation=explanation or f"as document {template.document} was posted",
        lines=tuple(lines),
        currency=document.currency,
    )


@lru_cache(maxsize=10_000)
def _stated_pattern(account: str) -> re.Pattern[str]:
    return re.compile(
        r"(?<![\w./-])" + re.escape(account) + r"\s+(-?\d{1,15}(?:\.\d{1,4})?)(?![\d.]\d)"
    )


def stated_amount(text: str, account: str) -> Decimal | None:
    """The amount ``text`` writes right after the account code (its absolute value), if any.

    ``"VAT return 02/2025: 140000 6524.39, 240000 -15920.92"`` states 6524.39 for 140000
    and 15920.92 for 240000.
    """
    if account not in text:
        return None
    match = _stated_pattern(account).search(text)
    return abs(Decimal(match.group(1))) if match else None


def _uncovered(
    template: Template,
    document: Document,
    refs: Sequence[LineRef],
    where: Mapping[LineRef, int],
) -> Unbindable | None:
    n = len(document.lines)
    for side in template.shared:
        taken = [0] * n
        for tl in template.lines:
            if tl.side != side or tl.basis.what != "net":
                continue
            chosen = select(tl.basis, document, refs, where)
            if isinstance(chosen, Unbindable):
                return chosen
            for j in chosen:
                taken[j] += 1
        for j, count in enumerate(taken):
            if count != 1:
                what = "no" if count == 0 else "more than one"
                return Unbindable(
                    f"document line {j + 1} '{document.lines[j].description[:60]}' has "
                    f"{what} place on the {side} side of the template"
                )
    taxed = {ln.tax_rate for ln in document.lines if ln.tax}
    bases = [tl.basis for tl in template.lines if tl.basis.what == "tax"]
    if taxed and not any(b.scope != "rate" for b in bases):
        missing = sorted(taxed - {b.rate for b in bases})
        if missing:
            return Unbindable(
                f"the document has VAT at {_pct(missing[0])}; the template books none"
            )
    return None


def _label(line: TemplateLine, document: Document, where: Mapping[LineRef, int]) -> str:
    """The line's description on the new document: the document line's own where it has one
    (``where``: the :func:`positions` of the document's lines)."""
    basis = line.basis
    if basis.what == "net" and len(basis.lines) == 1 and basis.scope != "rate":
        if basis.scope == "all" and len(document.lines) == 1:
            return document.lines[0].description
        j = where.get(basis.lines[0])
        if j is not None:
            return document.lines[j].description
    if basis.what == "gross" and document.kind in INVOICE_KINDS and document.number:
        return document.number
    return line.description
