"""Recall: the posted documents most like a new one, from an index over the history.

:meth:`HistoryIndex.build` makes one pass over the posting history (a stream; nothing is
held but what the index keeps) and returns the index: it is a value, built once, then only
read. It does not keep every historical document. It keeps the most recent few documents
of each *pool*: per partner and kind, per partner, kind and line (by the line's
description key, :func:`~ledgerpilot.agent.binding.description_key`), and, for partners
it has never seen, per kind and line, per kind and country and document note (the
boilerplate of the document's text, such as "Reverse charge: VAT to be accounted for by
the recipient"), per kind. Four hundred thousand documents fit in a few hundred
megabytes, because recurring documents evict their older copies.

Text similarity is an IDF-weighted cosine over the words of line descriptions and notes;
the words' document frequencies are counted over the whole history. :meth:`recall`
answers the graph's recall node and gives the ``llm`` backend its few-shot examples;
:class:`~ledgerpilot.agent.backends.memory.MemoryBackend` reads the pools directly.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ledgerpilot.ledger import ChartOfAccounts, Document
from ledgerpilot.ledger import documents as kinds

from .binding import Template, description_key, make_template

PoolKey = tuple[str, ...]

RELATED_KINDS: dict[str, str] = {
    kinds.SUPPLIER_CREDIT_NOTE: kinds.SUPPLIER_INVOICE,
    kinds.SUPPLIER_INVOICE: kinds.SUPPLIER_CREDIT_NOTE,
    kinds.SALES_CREDIT_NOTE: kinds.SALES_INVOICE,
    kinds.SALES_INVOICE: kinds.SALES_CREDIT_NOTE,
}
"""A kind and its mirror: a credit note posts like its invoice with every side reversed."""


@dataclass(frozen=True, slots=True)
class Keep:
    """How many of the most recent documents each pool keeps."""

    partner: int = 8
    """Per partner and kind."""
    partner_line: int = 3
    """Per partner, kind and line description key."""
    line: int = 3
    """Per kind and line key (and per kind, note and line key; kind, country, note, key)."""
    note: int = 4
    """Per kind and note (and per kind, country and note)."""
    kind: int = 8
    """Per kind."""
    recent: int = 300
    """Per kind, for the memory's self-test (:mod:`ledgerpilot.agent.calibration`)."""


@dataclass(frozen=True, slots=True)
class Recalled:
    """A historical document recalled for a new one."""

    document: Document
    """The posted document, with its entry."""
    similarity: float
    """0..1: how alike the two documents' line descriptions and notes are."""
    reason: str
    """Why it was recalled: ``same partner and kind``, ``same partner, mirrored kind``,
    ``similar text``."""


@dataclass(frozen=True, slots=True)
class PartnerHistory:
    """What the index knows of a partner."""

    documents: int
    first: dt.date
    last: dt.date


_WORD = re.compile(r"[^\W\d_]{2,}")
MAX_NOTE_WORDS = 16
RATE_IN_USE_DAYS = 120
"""A VAT rate no document line carried in this many days before the history's end is retired."""


@lru_cache(maxsize=100_000)
def note_key(text: str, partner_name: str = "") -> str:
    """The boilerplate of a document's text: its words, less numbers and the partner's name.

    ``"Osprey Apps SARL, invoice R00100/2023. Reverse charge: ..."`` and the same
    supplier's next invoice give the same note; so do two suppliers' invoices that both
    carry the reverse-charge wording. At most the first sixteen words.
    """
    own = set(_WORD.findall(partner_name.lower()))
    words = [w for w in _WORD.findall(text.lower()) if w not in own]
    return " ".join(words[:MAX_NOTE_WORDS])


def document_keys(document: Document) -> tuple[str, ...]:
    """The description keys of a document's lines, each once, in document order."""
    return tuple(dict.fromkeys(description_key(ln.description) for ln in document.lines))


def _country(document: Document) -> str:
    if document.partner is None:
        return "-"
    return document.partner.country or "?"


def _partner_id(document: Document) -> str:
    return document.partner.id if document.partner is not None else ""


def _note(document: Document) -> str:
    return note_key(document.text, document.partner.name if document.partner else "")


def posting_class(accounts: Iterable[str], chart: ChartOfAccounts) -> str:
    """``partner`` when an entry touches a payable or receivable account, else ``own``.

    A bank line paying a supplier can land on the wrong payables account; a bank fee cannot.
    """
    for code in accounts:
        account = chart.get(code)
        if account is not None and account.role in ("payable", "receivable"):
            return "partner"
    return "own"


def _latest(
    compared: dict[tuple[str, str, int], list[int]], enough: int = 200
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per kind and class, the latest years' comparisons, back until there are ``enough``."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for group in sorted({(k, c) for k, c, _ in compared}):
        total = changed = 0
        for year in sorted((y for k, c, y in compared if (k, c) == group), reverse=True):
            n, c = compared[(*group, year)]
            total, changed = total + n, changed + c
            if total >= enough:
                break
        out[group] = (total, changed)
    return out


@dataclass
class HistoryIndex:
    """Recent posted documents in pools, word statistics, and what is known of partners.

    Build it with :meth:`build`; do not mutate it afterwards (templates are cached as they
    are first asked for, which changes nothing anyone can observe).
    """

    chart: ChartOfAccounts
    documents: dict[str, Document]
    """The documents the index keeps, by id (the most recent of each pool)."""
    pools: dict[PoolKey, tuple[str, ...]]
    """Pool key -> ids of its documents, most recent first."""
    partners: dict[str, PartnerHistory]
    """Partner id -> how many documents it has in the history, first and last date."""
    idf: dict[str, float]
    """Word -> inverse document frequency over line descriptions and notes."""
    indexed: int
    """How many documents the history held."""
    last_date: dt.date | None
    """The date of the latest document indexed."""
    changes: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """(kind, :func:`posting_class`) -> (documents compared, documents posted otherwise): how
    often, in the latest year of the history, a document was posted on other accounts than
    the previous document of the same partner, kind and line descriptions (a clerk's slip,
    or a change)."""
    rates: dict[Decimal, dt.date] = field(default_factory=dict)
    """VAT rate -> the last date a document line of the history carried it."""
    keep: Keep = field(default_factory=Keep)
    _templates: dict[str, Template] = field(default_factory=dict, repr=False)
    _keys_by_kind: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)
    _nearest: dict[tuple[str, str], tuple[tuple[str, float], ...]] = field(
        default_factory=dict, repr=False
    )
    _line_sims: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ building

    @classmethod
    def build(
        cls, history: Iterable[Document], chart: ChartOfAccounts, keep: Keep | None = None
    ) -> HistoryIndex:
        """Index posted documents (in date order, as an AIS's history streams them).

        Documents without an entry are skipped. The history is read once.
        """
        keep = keep or Keep()
        pools: dict[PoolKey, deque[str]] = {}
        refs: dict[str, int] = {}
        kept: dict[str, Document] = {}
        partner_counts: dict[str, int] = {}
        partner_first: dict[str, dt.date] = {}
        partner_last: dict[str, dt.date] = {}
        df: dict[str, int] = {}
        rates: dict[Decimal, dt.date] = {}
        previous: dict[tuple[str, str, tuple[str, ...]], frozenset[tuple[str, str]]] = {}
        compared: dict[tuple[str, str, int], list[int]] = {}
        open_items = chart.with_role("payable") | chart.with_role("receivable")
        indexed = 0
        last: dt.date | None = None

        def push(key: PoolKey, doc: Document, size: int) -> None:
            pool = pools.get(key)
            if pool is None:
                pool = pools[key] = deque()
            elif len(pool) >= size:
                old = pool.popleft()
                count = refs[old] - 1
                if count:
                    refs[old] = count
                else:
                    del refs[old]
                    del kept[old]
            pool.append(doc.id)
            if doc.id in refs:
                refs[doc.id] += 1
            else:
                refs[doc.id] = 1
                kept[doc.id] = doc

        for doc in history:
            if doc.entry is None:
                continue
            indexed += 1
            if last is None or doc.date > last:
                last = doc.date
            pid = _partner_id(doc)
            if pid:
                partner_counts[pid] = partner_counts.get(pid, 0) + 1
                partner_first.setdefault(pid, doc.date)
                partner_last[pid] = doc.date
            kind = doc.kind
            for line in doc.lines:
                if line.tax_rate and rates.get(line.tax_rate, doc.date) <= doc.date:
                    rates[line.tax_rate] = doc.date
            keys = document_keys(doc)
            note = _note(doc)
            country = _country(doc)
            for word in set(" ".join((*keys, note)).split()):
                df[word] = df.get(word, 0) + 1
            accounts = frozenset((ln.account, ln.side) for ln in doc.entry.lines)
            before = previous.get((pid, kind, keys))
            if before is not None:
                group = "partner" if any(a in open_items for a, _ in accounts) else "own"
                counts = compared.setdefault((kind, group, doc.date.year), [0, 0])
                counts[0] += 1
                counts[1] += before != accounts
            previous[(pid, kind, keys)] = accounts
            push(("p", pid, kind), doc, keep.partner)
            for key in keys:
                push(("pk", pid, kind, key), doc, keep.partner_line)
                push(("k", kind, key), doc, keep.line)
                push(("nk", kind, note, key), doc, keep.line)
                push(("ck", kind, country, key), doc, keep.line)
                push(("cnk", kind, country, note, key), doc, keep.line)
            push(("cn", kind, country, note), doc, keep.note)
            push(("c", kind, country), doc, keep.note)
            push(("n", kind, note), doc, keep.note)
            push(("kind", kind), doc, keep.kind)
            push(("recent", kind), doc, keep.recent)

        idf = {w: math.log((indexed + 1) / (n + 1)) + 1.0 for w, n in df.items()}
        ordered = {
            key: tuple(sorted(pool, key=lambda i: (kept[i].date, i), reverse=True))
            for key, pool in pools.items()
        }
        known = {
            pid: PartnerHistory(n, partner_first[pid], partner_last[pid])
            for pid, n in partner_counts.items()
        }
        index = cls(chart, kept, ordered, known, idf, indexed, last, _latest(compared), rates, keep)
        for pool_key in ordered:
            if pool_key[0] == "k":
                kind_keys = index._keys_by_kind.setdefault(pool_key[1], {})
                kind_keys[pool_key[2]] = pool_key[2].split()
        return index

    # ------------------------------------------------------------ lookups

    def pool(self, key: PoolKey) -> list[Document]:
        """The documents of a pool, most recent first (empty for a pool never filled)."""
        return [self.documents[i] for i in self.pools.get(key, ())]

    def template(self, document: Document) -> Template:
        """The template of a kept document (made on first use, then cached)."""
        found = self._templates.get(document.id)
        if found is None:
            found = self._templates[document.id] = make_template(document, self.chart)
        return found

    def current_rate(self, rate: Decimal) -> Decimal:
        """``rate``, or the rate in use nearest to it when the history stopped using it.

        A rate is in use when a document line carried it in the last :data:`RATE_IN_USE_DAYS`
        of the history. Self-assessed VAT (reverse charge) follows the domestic rate: when
        Luxembourg's 16 % became 17 % again, an old template's 16 % means 17 %.
        """
        if not rate or self.last_date is None or rate not in self.rates:
            return rate
        horizon = self.last_date - dt.timedelta(days=RATE_IN_USE_DAYS)
        if self.rates[rate] >= horizon:
            return rate
        in_use = [r for r, day in self.rates.items() if day >= horizon]
        if not in_use:
            return rate
        return min(in_use, key=lambda r: (abs(r - rate), -r))

    def knows_partner(self, document: Document) -> bool:
        """Whether the history has documents of this document's partner."""
        return document.partner is not None and document.partner.id in self.partners

    def weights(self, words: Iterable[str]) -> dict[str, float]:
        """IDF weight of each word (unknown words weigh as the rarest)."""
        rare = math.log(self.indexed + 1) + 1.0
        return {w: self.idf.get(w, rare) for w in words}

    def similarity(self, a: Iterable[str], b: Iterable[str]) -> float:
        """IDF-weighted cosine of two bags of texts' words (0..1)."""
        wa = self.weights(" ".join(a).split())
        wb = self.weights(" ".join(b).split())
        if not wa or not wb:
            return 1.0 if not wa and not wb else 0.0
        dot = sum(v * v for w, v in wa.items() if w in wb)
        na = math.sqrt(sum(v * v for v in wa.values()))
        nb = math.sqrt(sum(v * v for v in wb.values()))
        return min(1.0, dot / (na * nb))

    def line_similarity(self, key: str, other: str) -> float:
        """How alike two line descriptions are: the cosine, or nine tenths of the share of
        ``other``'s words (IDF-weighted) found in ``key``, whichever is more.

        A credit note's "Price reduction 10%: Project management" contains the invoice's
        "Project management" whole.
        """
        if key == other:
            return 1.0
        cached = self._line_sims.get((key, other))
        if cached is not None:
            return cached
        cosine = self.similarity([key], [other])
        wo = self.weights(other.split())
        words = set(key.split())
        total = sum(v * v for v in wo.values())
        contained = sum(v * v for w, v in wo.items() if w in words) / total if total else 0.0
        found = max(cosine, 0.9 * contained)
        if len(self._line_sims) < 500_000:
            self._line_sims[(key, other)] = found
        return found

    def document_similarity(self, a: Document, b: Document) -> float:
        """How alike two documents' line descriptions are, with their notes counting less."""
        lines = self.similarity(document_keys(a), document_keys(b))
        notes = self.similarity([_note(a)], [_note(b)])
        return 0.8 * lines + 0.2 * notes

    def nearest_keys(self, kind: str, key: str, limit: int = 3) -> tuple[tuple[str, float], ...]:
        """Line keys of ``kind`` in the history most like ``key``, with their similarity."""
        cached = self._nearest.get((kind, key))
        if cached is not None:
            return cached[:limit]
        vocabulary = self._keys_by_kind.get(kind, {})
        words = set(key.split())
        scored = []
        for other, other_words in vocabulary.items():
            if words.intersection(other_words):
                scored.append((self.line_similarity(key, other), other))
        scored.sort(key=lambda p: (-p[0], p[1]))
        found = tuple((other, sim) for sim, other in scored[:8])
        self._nearest[(kind, key)] = found
        return found[:limit]

    # ------------------------------------------------------------ recall

    def recall(self, document: Document, k: int = 5) -> list[Recalled]:
        """The ``k`` posted documents most like ``document``, best first.

        First documents of the same partner and kind (those with the most alike lines
        first, then the most recent), then of the same partner and the mirrored kind (a
        credit note's invoices), then documents of the same kind by text similarity of
        line descriptions and notes (partners' documents from the same country and with
        the same note first). ``document`` itself is never among them.
        """
        out: list[Recalled] = []
        seen = {document.id}
        pid = _partner_id(document)
        for kind, reason in (
            (document.kind, "same partner and kind"),
            (RELATED_KINDS.get(document.kind, ""), "same partner, mirrored kind"),
        ):
            if not kind or (not pid and kind != document.kind):
                continue
            found = self._ranked(document, self._partner_candidates(pid, kind, document), seen)
            out.extend(Recalled(d, sim, reason) for sim, d in found[: k - len(out)])
            if len(out) >= k:
                return out
        found = self._ranked(document, self._similar_candidates(document), seen)
        out.extend(Recalled(d, sim, "similar text") for sim, d in found[: k - len(out)])
        return out

    def _partner_candidates(self, pid: str, kind: str, document: Document) -> Iterator[str]:
        for key in document_keys(document):
            yield from self.pools.get(("pk", pid, kind, key), ())
        yield from self.pools.get(("p", pid, kind), ())

    def _similar_candidates(self, document: Document) -> Iterator[str]:
        kind, note, country = document.kind, _note(document), _country(document)
        for key in document_keys(document):
            yield from self.pools.get(("cnk", kind, country, note, key), ())
            yield from self.pools.get(("nk", kind, note, key), ())
            for near, _ in self.nearest_keys(kind, key):
                yield from self.pools.get(("k", kind, near), ())
        yield from self.pools.get(("cn", kind, country, note), ())
        yield from self.pools.get(("n", kind, note), ())
        yield from self.pools.get(("kind", kind), ())

    def _ranked(
        self, document: Document, ids: Iterable[str], seen: set[str]
    ) -> list[tuple[float, Document]]:
        found = []
        for i in ids:
            if i in seen:
                continue
            seen.add(i)
            doc = self.documents[i]
            found.append((self.document_similarity(document, doc), doc))
        found.sort(key=lambda p: (-round(p[0], 2), -p[1].date.toordinal(), p[1].id))
        return found
