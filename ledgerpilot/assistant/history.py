"""What the history knows that a question may name: partners, topics, and matching documents.

:class:`Knowledge` stands on the drafting agent's :class:`~ledgerpilot.agent.recall.HistoryIndex`
(built once from the AIS's posted history) and adds only lookups: the partners by the words
of their names, the history's line descriptions by the words of a topic, and the documents
that match a question's kind, partner, topic and year, taken from the index's own pools
(per partner and kind, per partner, kind and line, per kind and line).

A topic is found three ways, each in the question's own language where it can be:

1. the catalog's categories (:data:`~ledgerpilot.assistant.words.TOPIC_WORDS`, English,
   Croatian and German words) lead to the English line descriptions of their items;
2. words the question shares with the history's line descriptions ("office rent");
3. words it shares with the chart's account names, in English or the chart's own language
   ("Bewirtung", "reprezentacija"), lead to the lines posted to those accounts.

A word none of them knows is *unknown*: a question about something the history has never
seen is answered with "nothing fits", never with an account made up.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ledgerpilot.agent.binding import description_key
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.ledger import KINDS, ChartOfAccounts, Document, Partner
from ledgerpilot.synth.catalog import CATEGORIES

from .words import (
    CUSTOMER_KINDS,
    LEGAL_FORMS,
    STOP_WORDS,
    SUPPLIER_KINDS,
    TOPIC_WORDS,
    longest_first,
    phrase_positions,
    same_word,
    tokens,
)

KEY_SHARE = 0.5
"""A history line description matches a topic when the question's words cover this share of
its words (weighted by how rare each word is in the history)."""
CATEGORY_SCORE = 0.6
"""How well an item of a category the question names matches: as a description that shares
three fifths of its words with the question."""
ACCOUNT_SCORE = 0.55
"""How well a line posted to an account the question names matches."""
MAX_KEYS = 12
"""History line descriptions kept per topic, best first."""
TOPIC_SINGLE = frozenset(w for ws in TOPIC_WORDS.values() for p in ws for w in p.split())
"""Every word of the topic vocabulary: such a word in a partner's name names it only weakly."""


@dataclass(frozen=True)
class PartnerMatch:
    """The partner a question names."""

    partner: Partner
    words: tuple[str, ...]
    """The question's words that named it."""
    others: tuple[Partner, ...] = ()
    """Partners its words fit as well, not chosen (they have fewer documents)."""
    strong: bool = True
    """False when only topic or stop words named it ("office rent": Office Rent Ltd): those
    words still name the topic too."""


@dataclass(frozen=True)
class Topic:
    """What a question says was bought or sold, found in the history."""

    categories: tuple[str, ...] = ()
    """Catalog categories its words name (``phone``, ``rent``, ...)."""
    keys: tuple[str, ...] = ()
    """History line descriptions (as :func:`~ledgerpilot.agent.binding.description_key`
    writes them) that it matches, best first."""
    accounts: tuple[str, ...] = ()
    """Accounts whose names its words share."""
    words: tuple[str, ...] = ()
    """The question's words that named it."""
    unknown: tuple[str, ...] = ()
    """Words of the question that nothing in the history knows."""

    @property
    def said(self) -> bool:
        """Whether the question names a topic at all (known or not)."""
        return bool(self.words or self.unknown)


@dataclass(frozen=True)
class Match:
    """A historical document that matches a question, and its line that matched."""

    document: Document
    line: int = 0
    """Index of the document line the topic matched (the first line without a topic)."""


@dataclass
class Knowledge:
    """Lookups over a history index; build it with :meth:`build`."""

    index: HistoryIndex
    partners: dict[str, Partner]
    """Every partner of the history by id."""
    keys: dict[str, tuple[str, ...]]
    """Kind -> the history's line descriptions of that kind."""
    currency: str
    """The currency most of the history is in."""
    _name_tokens: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _token_partners: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, index: HistoryIndex) -> Knowledge:
        """The lookups of ``index`` (a pass over the documents the index keeps)."""
        partners: dict[str, Partner] = {}
        currencies: Counter[str] = Counter()
        for doc in index.documents.values():
            currencies[doc.currency] += 1
            if doc.partner is not None:
                partners.setdefault(doc.partner.id, doc.partner)
        keys: dict[str, list[str]] = {}
        for pool in index.pools:
            if pool[0] == "k":
                keys.setdefault(pool[1], []).append(pool[2])
        knowledge = cls(
            index,
            partners,
            {k: tuple(sorted(v)) for k, v in keys.items()},
            currencies.most_common(1)[0][0] if currencies else "EUR",
        )
        for pid, partner in partners.items():
            name = tuple(t for t in tokens(partner.name) if t not in LEGAL_FORMS and len(t) > 1)
            knowledge._name_tokens[pid] = name
            for token in set(name):
                knowledge._token_partners[token] = knowledge._token_partners.get(token, 0) + 1
        return knowledge

    @property
    def chart(self) -> ChartOfAccounts:
        """The chart of accounts."""
        return self.index.chart

    @property
    def last_date(self) -> dt.date | None:
        """The date of the latest posted document."""
        return self.index.last_date

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of documents the history holds (the known ones first)."""
        found = {pool[1] for pool in self.index.pools if pool[0] == "kind"}
        return tuple(k for k in KINDS if k in found) + tuple(sorted(found - set(KINDS)))

    def documents_of(self, partner_id: str) -> int:
        """How many documents the history holds of a partner."""
        known = self.index.partners.get(partner_id)
        return known.documents if known else 0

    # ------------------------------------------------------------ partners

    def find_partner(self, words: Sequence[str]) -> PartnerMatch | None:
        """The partner the words name, or ``None``.

        A word names a partner when it is a word of the partner's name (or an inflected form
        of it: "Telekomu"), its id or its VAT number. Words of the topic vocabulary and stop
        words name one only together with another word ("Granite Software", not "software").
        Of partners named equally well, the one with the most documents is chosen.
        """
        asked = [w for w in words if len(w) > 1]
        scored: list[tuple[int, int, str, tuple[str, ...]]] = []
        strength: dict[str, bool] = {}
        for pid, name in self._name_tokens.items():
            partner = self.partners[pid]
            ids = {pid.lower(), (partner.vat or "").lower()} - {""}
            hit = [w for w in asked if w in ids]
            strong = len(hit)
            for token in dict.fromkeys(name):
                found = next((w for w in asked if same_word(w, token) and w not in hit), None)
                if found is None:
                    continue
                hit.append(found)
                if token not in STOP_WORDS and token not in TOPIC_SINGLE and len(token) > 2:
                    strong += 1
            if strong or len(hit) >= 2:
                score = strong * 10 + len(hit)
                scored.append((score, self.documents_of(pid), pid, tuple(hit)))
                strength[pid] = strong > 0
        if not scored:
            return None
        scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
        best = scored[0]
        others = tuple(self.partners[s[2]] for s in scored[1:] if s[0] == best[0])
        return PartnerMatch(self.partners[best[2]], best[3], others[:5], strength[best[2]])

    # ------------------------------------------------------------ topics

    def topic(self, words: Sequence[str], kinds: Iterable[str]) -> Topic:
        """The topic ``words`` name among documents of ``kinds`` (every kind when empty)."""
        kinds = tuple(kinds) or self.kinds
        content = [w for w in words if w not in STOP_WORDS and len(w) > 1]
        if not content:
            return Topic()
        used = [False] * len(content)
        categories: list[str] = []
        vocabulary = {p: c for c, phrases in TOPIC_WORDS.items() for p in phrases}
        for phrase in longest_first(vocabulary):
            for start in phrase_positions(content, phrase):
                width = len(phrase.split())
                # A word may name several categories ("laptop": bought for resale, or sold):
                # the kinds of the documents decide between them.
                used[start : start + width] = [True] * width
                if vocabulary[phrase] not in categories:
                    categories.append(vocabulary[phrase])
        scores: dict[str, float] = {}
        for category in categories:
            for key in self._category_keys(category, kinds):
                scores[key] = max(scores.get(key, 0.0), CATEGORY_SCORE)
        direct, named = self._direct_keys(content, kinds)
        for key, share in direct.items():
            scores[key] = max(scores.get(key, 0.0), share)
        rest = [w for w, u in zip(content, used, strict=True) if not u and w not in named]
        accounts, named = self._account_words(rest)
        for key in self._account_keys(accounts, kinds):
            scores[key] = max(scores.get(key, 0.0), ACCOUNT_SCORE)
        rest = [w for w in rest if w not in named]
        keys = sorted(scores, key=lambda k: (-scores[k], k))
        topic_words = [w for w in content if w not in rest]
        return Topic(
            categories=tuple(categories),
            keys=tuple(keys[:MAX_KEYS]),
            accounts=tuple(accounts),
            words=tuple(dict.fromkeys(topic_words)),
            unknown=tuple(dict.fromkeys(rest)),
        )

    def _category_keys(self, category: str, kinds: Sequence[str]) -> list[str]:
        """History line descriptions holding every word of one of the category's items."""
        found = CATEGORIES.get(category)
        if found is None:
            return []
        side = CUSTOMER_KINDS if found.sale else SUPPLIER_KINDS
        items = [set(description_key(i.description).split()) for i in found.items]
        out = []
        for kind in kinds:
            if kind not in side:
                continue
            for key in self.keys.get(kind, ()):
                words = set(key.split())
                if any(item <= words for item in items):
                    out.append(key)
        return out

    def _direct_keys(
        self, words: Sequence[str], kinds: Sequence[str]
    ) -> tuple[dict[str, float], set[str]]:
        """History line descriptions whose words the question's words cover (IDF-weighted),
        with the share covered, and the question's words that covered them."""
        found: dict[str, float] = {}
        named: set[str] = set()
        for kind in kinds:
            for key in self.keys.get(kind, ()):
                weights = self.index.weights(key.split())
                total = sum(v * v for v in weights.values())
                hit = {k: w for k in weights for w in words if same_word(w, k) or same_word(k, w)}
                share = sum(weights[k] ** 2 for k in hit) / total if total else 0.0
                if share >= KEY_SHARE:
                    found[key] = max(found.get(key, 0.0), share)
                    named.update(hit.values())
        return found, named

    def _account_words(self, words: Sequence[str]) -> tuple[list[str], set[str]]:
        """Accounts used in the history (not payables, banks or VAT) whose names, in English
        or the chart's language, share a word of five letters or more with ``words``."""
        if not words:
            return [], set()
        used = {
            ln.account
            for doc in self.index.documents.values()
            if doc.entry is not None
            for ln in doc.entry.lines
        }
        found: list[str] = []
        named: set[str] = set()
        for code in sorted(used):
            account = self.chart.get(code)
            if account is None or account.role is not None:
                continue
            name_words = tokens(f"{account.name} {account.local_name or ''}")
            for w in words:
                if len(w) >= 5 and any(
                    len(t) >= 5 and (same_word(w, t) or (w[:6] == t[:6] and len(w) >= 6))
                    for t in name_words
                ):
                    found.append(code)
                    named.add(w)
        return found, named

    def _account_keys(self, accounts: Sequence[str], kinds: Sequence[str]) -> list[str]:
        """Descriptions of the document lines whose net the history posted to ``accounts``."""
        if not accounts:
            return []
        wanted = set(accounts)
        counts: Counter[str] = Counter()
        for doc in self.index.documents.values():
            if doc.kind not in kinds or doc.entry is None:
                continue
            amounts = {ln.amount for ln in doc.entry.lines if ln.account in wanted}
            for line in doc.lines:
                if line.net in amounts:
                    counts[description_key(line.description)] += 1
        return [key for key, _ in counts.most_common(MAX_KEYS)]

    # ------------------------------------------------------------ documents

    def matches(
        self,
        kinds: Iterable[str],
        partner_id: str | None,
        keys: Sequence[str],
        year: int | None = None,
    ) -> list[Match]:
        """Posted documents of ``kinds`` of the partner (``""``: without a partner) and with
        a line of the topic (either may be absent, not both), those of the best matching line description
        first, then the newest; of ``year`` when given."""
        found: dict[str, tuple[int, Match]] = {}
        for kind in tuple(kinds) or self.kinds:
            pools: list[tuple[str, ...]]
            if partner_id and keys:
                pools = [("pk", partner_id, kind, key) for key in keys]
            elif partner_id is not None:
                pools = [("p", partner_id, kind)]
            elif keys:
                pools = [("k", kind, key) for key in keys]
            else:
                pools = []
            for rank, pool in enumerate(pools):
                for doc in self.index.pool(pool):
                    if doc.id in found or (year is not None and doc.date.year != year):
                        continue
                    found[doc.id] = (rank, Match(doc, _line_of(doc, keys)))
        ordered = sorted(
            found.values(),
            key=lambda rm: (rm[0], -rm[1].document.date.toordinal(), rm[1].document.id),
        )
        return [match for _, match in ordered]

    def busiest(self, kind: str, limit: int = 5) -> list[tuple[Partner, int]]:
        """The partners with the most documents of ``kind`` in what the index keeps."""
        counts: Counter[str] = Counter()
        for doc in self.index.documents.values():
            if doc.kind == kind and doc.partner is not None:
                counts[doc.partner.id] += 1
        return [(self.partners[p], n) for p, n in counts.most_common(limit)]


def _line_of(doc: Document, keys: Sequence[str]) -> int:
    """The first line of ``doc`` whose description has one of ``keys`` (best key first)."""
    line_keys = [description_key(ln.description) for ln in doc.lines]
    for key in keys:
        if key in line_keys:
            return line_keys.index(key)
    return 0
