"""The ``memory`` backend: post a document as the most similar historical ones were posted.

Retrieval over the posted history (:class:`~ledgerpilot.agent.recall.HistoryIndex`),
then a vote, then binding, in the manner of Odoo's predictive bills, smart_importer and
Xero's memory, but producing the whole entry with its amounts:

1. **Neighbours**, in tiers: documents of the same partner and kind; of the same partner
   and the mirrored kind (a credit note learns from the partner's invoices, every side
   reversed); then, for what the partner's history does not answer, documents of the same
   kind from other partners, those from the same country with the same note (the text's
   boilerplate, e.g. the reverse-charge wording) and the same line first.
2. **Votes**, per part of the entry, among the neighbours of the first tier that has an
   answer, weighted by recency and similarity: the *frame* (the lines on the gross total,
   such as the payable or the bank), the VAT account of each rate, and for each document
   line its *treatment* (the accounts and sides its net goes to, and any VAT self-assessed
   on it) by the line's description, so that a partner who posts different lines to
   different accounts gets each line right.
3. **Binding**: the winning parts make a template (:mod:`~ledgerpilot.agent.binding`) whose
   amounts are computed from the new document in Decimal. The scheme is validated; when it
   fails, runner-up parts are tried. When the most similar historical entry gives the same
   postings, its layout is kept.

The raw confidence multiplies, over the parts, the winner's share of the vote, a factor
for how many neighbours support it and one for the tier it came from (the partner's own
history counts most). It is then calibrated (:mod:`~ledgerpilot.agent.calibration`) into
the chance that the accountant posts the draft as it is, measured by drafting recent
documents of the history and by how often the history deviates from itself. A draft
pieced together from other partners' documents or from descriptions never seen (always
so for a partner never seen) gets at most half of that, and its note says so: the
routing policy sends it to review. Deterministic: the same index and document give the
same proposal.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ledgerpilot.ledger import ChartOfAccounts, Document, PostingScheme, validate

from ..binding import (
    LineRef,
    Unbindable,
    bind,
    line_refs,
    postings,
)
from ..calibration import Calibration, fit
from ..recall import RELATED_KINDS, HistoryIndex, document_keys, note_key, posting_class
from ..votes import (
    FOREIGN_TIERS,
    OTHER_RATE,
    TIERS,
    Neighbour,
    Part,
    Vote,
    alternatives,
    compose,
    current_rates,
    first_vote,
    frame_of,
    make_part,
    mirrored,
    open_part,
    supporters_of,
    tax_part,
    treatment,
)
from .base import DraftRequest, Proposal

MIRRORED_WEIGHT = 0.5
"""A document of the mirrored kind counts this much beside one of the same kind."""
NEAR_KEY = 0.5
"""A line description at least this similar to one in the partner's history counts as it."""
CLOSE_KEY = 0.8
"""A line description this similar to one of the partner's counts almost as the same (a
credit note's "Price reduction 10%: Project management" and the invoice's "Project
management")."""
LINE_SEARCH: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("same", ("partner",), 1.0),
    ("same", ("mirrored",), 1.0),
    ("near", ("partner", "mirrored"), CLOSE_KEY),
    ("same", ("local",), 1.0),
    ("same", ("country",), 1.0),
    ("near", ("partner", "mirrored"), NEAR_KEY),
    ("near", ("local",), NEAR_KEY),
    ("near", ("country",), NEAR_KEY),
    ("same", ("noted",), 1.0),
    ("near", ("noted",), NEAR_KEY),
    ("same", ("kind",), 1.0),
    ("near", ("kind",), NEAR_KEY),
)
"""Where a document line's treatment is looked for, in order: (``same`` description or
``near`` ones, the tiers searched together, the least similarity)."""
HABIT_TIERS = frozenset({"partner", "mirrored", "local", "noted"})
"""Tiers whose documents share the partner's VAT regime, so that their lines at the same rate
tell how VAT is self-assessed on a line they lack."""
STALE_DAYS = 270
"""A partner's evidence for a line older than this yields to newer postings of that line by
other partners that all disagree with it (a changed accounting policy)."""

NO_HISTORY = "no history for this partner"
INVALID_FACTOR = 0.1
"""A draft whose best binding still fails validation is worth a tenth of its confidence."""
Asked = dict[tuple[Hashable, ...], tuple[Vote, float, str] | None]
"""Votes already cast while drafting one document, by the question they answer."""
GENERALIZED_CAP = 0.5
"""The most the memory vouches for a draft it had to piece together from other partners'
documents or from descriptions it has not seen: the routing policy sends it to review."""


@dataclass
class MemoryBackend:
    """Proposes the scheme the most similar posted documents vote for, bound to the new one.

    ``MemoryBackend(index)``: the index of the posted history
    (:meth:`HistoryIndex.build <ledgerpilot.agent.recall.HistoryIndex.build>`); the chart
    defaults to the index's. Unless ``calibrate`` is off, construction drafts up to
    ``self_test`` recent documents of each kind of the history (each without itself) to
    calibrate the confidence (:mod:`ledgerpilot.agent.calibration`), which takes a second
    or two.
    """

    index: HistoryIndex
    chart: ChartOfAccounts | None = None
    """The chart to validate against (the index's by default)."""
    half_life_days: float = 365.0
    """A neighbour this many days older than the document weighs half as much."""
    calibrate: bool = True
    """Whether to calibrate the confidence on a self-test of the history."""
    self_test: int = 300
    """At most this many recent documents per kind are drafted for the calibration."""
    calibration: Calibration | None = None
    """The calibration in use (made on construction when ``calibrate`` and not given)."""
    name: str = field(default="memory", init=False)
    recalls_itself: bool = field(default=True, init=False)
    """It recalls history from its own index: the graph need not hand it examples."""

    def __post_init__(self) -> None:
        if self.chart is None:
            self.chart = self.index.chart
        if self.calibrate and self.calibration is None:
            self.calibration = self._self_test()

    # ------------------------------------------------------------ proposing

    def propose(self, request: DraftRequest) -> Proposal:
        """The memory's proposal for ``request.document``; never raises for a bad document."""
        chart = request.chart or self.chart or self.index.chart
        proposal = self._propose(request.document, chart)
        if self.calibration is None or proposal.scheme is None:
            return proposal
        cls = posting_class((ln.account for ln in proposal.scheme.lines), chart)
        calibrated = self.calibration.apply(request.document.kind, cls, proposal.confidence)
        if proposal.extra.get("generalized"):
            calibrated *= GENERALIZED_CAP
        if not proposal.extra.get("valid", True):
            calibrated *= INVALID_FACTOR
        extra = {**proposal.extra, "raw_confidence": proposal.confidence}
        return replace(proposal, confidence=round(calibrated, 6), extra=extra)

    def _self_test(self) -> Calibration:
        """Draft recent documents of the history as if new; tabulate how many come out exact."""
        outcomes = []
        chart = self.chart or self.index.chart
        for key in sorted(k for k in self.index.pools if k[0] == "recent"):
            for doc in self.index.pool(key)[: self.self_test]:
                assert doc.entry is not None
                proposal = self._propose(replace(doc, entry=None), chart)
                scheme = proposal.scheme
                exact = (
                    scheme is not None
                    and not validate(scheme, chart, doc)
                    and postings(scheme.lines) == postings(doc.entry.lines)
                )
                cls = posting_class((ln.account for ln in doc.entry.lines), chart)
                outcomes.append(((doc.kind, cls), proposal.confidence, exact))
        return fit(outcomes, self.index.changes)

    def _propose(self, doc: Document, chart: ChartOfAccounts) -> Proposal:
        """The proposal with the raw (uncalibrated) confidence."""
        known = self.index.knows_partner(doc)
        tiers = self._tiers(doc)
        if not any(tiers.values()):
            return Proposal(
                backend=self.name,
                scheme=None,
                confidence=0.0,
                note=f"{NO_HISTORY if not known else 'no history'} and no similar "
                f"{doc.kind.replace('_', ' ')} in the history",
                model=self.model,
            )
        parts, refs = self._vote(doc, tiers)
        best: tuple[PostingScheme, list[Part]] | None = None
        for attempt in alternatives(parts):
            scheme = bind(compose(attempt, refs, doc, self.index.current_rate), doc, "")
            if isinstance(scheme, Unbindable):
                continue
            if best is None:
                best = (scheme, attempt)
            if not validate(scheme, chart, doc):
                best = (scheme, attempt)
                break
        if best is None:
            return Proposal(
                backend=self.name,
                scheme=None,
                confidence=0.0,
                note="the history's postings do not fit this document",
                model=self.model,
            )
        scheme, chosen = best
        confidence = math.prod(p.confidence for p in chosen)
        valid = not validate(scheme, chart, doc)
        if not valid:
            confidence *= INVALID_FACTOR
        generalized = (doc.partner is not None and not known) or any(
            p.tier in FOREIGN_TIERS or not p.exact for p in chosen
        )
        if generalized:
            confidence *= GENERALIZED_CAP
        used = supporters_of(chosen)
        scheme = self._layout(scheme, doc, used)
        evidence = tuple(dict.fromkeys(n.document.id for n in used))
        note = self._note(doc, known, chosen, evidence)
        return Proposal(
            backend=self.name,
            scheme=replace(scheme, explanation=note),
            confidence=round(confidence, 6),
            evidence=evidence,
            raw="",
            model=self.model,
            note=note,
            extra={
                "parts": {p.name: round(p.confidence, 4) for p in chosen},
                "generalized": generalized,
                "valid": valid,
            },
        )

    @property
    def model(self) -> str:
        """What produced the proposal: the memory and the size of its history."""
        last = self.index.last_date.isoformat() if self.index.last_date else "-"
        return f"memory:{self.index.indexed}@{last}"

    # ------------------------------------------------------------ neighbours

    def _weight(self, doc: Document, other: Document) -> float:
        age = max(0, (doc.date - other.date).days)
        return 0.5 ** (age / self.half_life_days)

    def _neighbours(
        self,
        doc: Document,
        ids: Iterable[str],
        tier: str,
        factor: float = 1.0,
        flipped: Iterable[str] = (),
    ) -> list[Neighbour]:
        """Neighbours from documents ``ids`` of the same kind and ``flipped`` ones of the
        mirrored kind (their templates with every side reversed, weighing less)."""
        out = []
        seen: set[str] = set()
        for i, flip in [*((i, tier == "mirrored") for i in ids), *((i, True) for i in flipped)]:
            if i in seen or i == doc.id:
                continue
            seen.add(i)
            other = self.index.documents[i]
            template = self.index.template(other)
            if flip:
                template = mirrored(template)
            sim = self.index.document_similarity(doc, other)
            weight = self._weight(doc, other) * factor * (0.1 + sim) ** 2
            if flip and tier != "mirrored":
                weight *= MIRRORED_WEIGHT
            out.append(Neighbour(other, template, weight, sim, tier))
        return out

    def _tiers(self, doc: Document) -> dict[str, list[Neighbour]]:
        pools = self.index.pools
        pid = doc.partner.id if doc.partner is not None else ""
        keys = document_keys(doc)
        mirror = RELATED_KINDS.get(doc.kind)

        def partner_ids(kind: str) -> list[str]:
            ids = [i for key in keys for i in pools.get(("pk", pid, kind, key), ())]
            # Without a partner, "the partner's documents" would be every document of the kind.
            return ids + list(pools.get(("p", pid, kind), ())) if pid else ids

        kind, country = doc.kind, (doc.partner.country or "?") if doc.partner else "-"
        note = note_key(doc.text, doc.partner.name if doc.partner else "")
        local = [i for key in keys for i in pools.get(("cnk", kind, country, note, key), ())]
        national = [i for key in keys for i in pools.get(("ck", kind, country, key), ())]
        # A credit note of a partner never seen: invoices of the same country tell the
        # accounts of its lines (their notes differ, so only the country is compared).
        national_mirrored: list[str] = []
        if mirror:
            for key in keys:
                for other, _ in self.index.nearest_keys(mirror, key, 2):
                    national_mirrored += pools.get(("ck", mirror, country, other), ())
            national_mirrored += pools.get(("c", mirror, country), ())
        noted = [i for key in keys for i in pools.get(("nk", kind, note, key), ())]
        near: list[str] = []
        for key in keys:
            if ("k", kind, key) in pools:
                near += pools[("k", kind, key)]
            else:
                for other, _ in self.index.nearest_keys(kind, key):
                    near += pools.get(("k", kind, other), ())
        return {
            "partner": self._neighbours(doc, partner_ids(kind), "partner"),
            "mirrored": self._neighbours(doc, partner_ids(mirror), "mirrored")
            if mirror and pid
            else [],
            "local": self._neighbours(
                doc, local + list(pools.get(("cn", kind, country, note), ())), "local"
            ),
            "country": self._neighbours(
                doc,
                national + list(pools.get(("c", kind, country), ())),
                "country",
                flipped=national_mirrored,
            )
            if pid
            else [],
            "noted": self._neighbours(doc, noted + list(pools.get(("n", kind, note), ())), "noted"),
            "kind": self._neighbours(
                doc,
                near
                + list(pools.get(("p", "", kind), ()) if not pid else ())
                + list(pools.get(("kind", kind), ())),
                "kind",
            ),
        }

    # ------------------------------------------------------------ voting

    def _vote(
        self, doc: Document, tiers: dict[str, list[Neighbour]]
    ) -> tuple[list[Part], tuple[LineRef, ...]]:
        refs = line_refs(doc)
        parts: list[Part] = []
        frame = first_vote(tiers, lambda n, vote: vote.add(frame_of(n.template), n.weight, n))
        if frame is not None:
            parts.append(make_part(("frame", None), *frame))
        open_lines = open_part(tiers)
        if open_lines is not None:
            parts.append(open_lines)
        # Votes that do not depend on the line itself (how a tier self-assesses VAT at a rate,
        # the lines nearest a description) are cast once per draft, not once per line.
        asked: Asked = {}
        for j, (ref, line) in enumerate(zip(refs, doc.lines, strict=True)):
            for what in ("net", "self_tax"):
                part = self._line_part(tiers, j, ref, line.tax_rate, what, asked)
                if part is not None:
                    parts.append(part)
        for rate in sorted({ln.tax_rate for ln in doc.lines if ln.tax}):
            part = tax_part(tiers, rate)
            if part is not None:
                parts.append(part)
        return parts, refs

    def _line_part(
        self,
        tiers: dict[str, list[Neighbour]],
        index: int,
        ref: LineRef,
        rate: Decimal,
        what: str,
        asked: Asked,
    ) -> Part | None:
        """The vote on how a document line's net is posted (``net``), or the VAT self-assessed
        on it (``self_tax``), by its description, in the steps of :data:`LINE_SEARCH`: the
        same description in the partner's documents, a very close one there, the same in
        documents of the partner's country, ..., the nearest in any document of the kind.

        Self-assessed VAT follows the partner more than the line: when no line of that
        description is in the partner's (or a same-regime) tier, the tier's lines at the same
        rate vote on it. ``asked`` keeps such votes for the document's other lines.
        """
        slot = ("line" if what == "net" else "reverse charge", index)
        for step, group, least in LINE_SEARCH:
            vote = Vote()
            if step == "same":
                for n in (n for t in group for n in tiers[t]):
                    found = treatment(n.template, ref, rate, what)
                    if found is not None:
                        vote.add(found[0], n.weight * (1.0 if found[1] else OTHER_RATE), n)
                if vote:
                    part = make_part(slot, vote, group[0])
                    if what == "net" and group[0] in ("partner", "mirrored"):
                        return self._fresher(tiers, part, ref, rate) or part
                    if what == "self_tax":
                        return current_rates(tiers, part, ref, rate)
                    return part
                if what == "self_tax" and group[0] in HABIT_TIERS:
                    habit = self._habit(tiers, group[0], slot, rate, asked)
                    if habit is not None:
                        return habit
            else:
                near = self._nearest(tiers, group, slot, ref[0], rate, what, least, asked)
                if near is not None:
                    return near
        # Nothing like it anywhere: post it as the lines of the most similar documents are
        # posted, so that the reviewer gets a complete draft (with a low confidence).
        return self._nearest(tiers, TIERS, slot, ref[0], rate, what, 0.0, asked, closeness=0.2)

    def _habit(
        self,
        tiers: dict[str, list[Neighbour]],
        tier: str,
        slot: tuple[str, int],
        rate: Decimal,
        asked: Asked,
    ) -> Part | None:
        """How a tier self-assesses VAT on its lines at ``rate``, whatever their description."""
        question = ("habit", tier, rate)
        if question not in asked:
            vote = Vote()
            for n in tiers[tier]:
                for other in n.template.refs:
                    found = treatment(n.template, other, rate, "self_tax")
                    if found is not None and found[1]:
                        vote.add(found[0], n.weight, n)
            asked[question] = (vote, 0.0, tier) if vote else None
        answer = asked[question]
        return None if answer is None else make_part(slot, answer[0], tier, 0.9)

    def _nearest(
        self,
        tiers: dict[str, list[Neighbour]],
        group: Sequence[str],
        slot: tuple[str, int],
        key: str,
        rate: Decimal,
        what: str,
        least: float,
        asked: Asked,
        closeness: float | None = None,
    ) -> Part | None:
        """The vote of the lines in ``group``'s documents whose descriptions are at least
        ``least`` similar to ``key``, each weighing by its similarity (to the fourth)."""
        question = ("near", tuple(group), key, rate, what, least)
        if question not in asked:
            vote = Vote()
            best, tier = 0.0, group[0]
            for n in (n for t in group for n in tiers[t]):
                for other in n.template.refs:
                    sim = self.index.line_similarity(key, other[0])
                    if sim < least:
                        continue
                    found = treatment(n.template, other, rate, what)
                    if found is not None:
                        weight = n.weight * max(sim, 0.05) ** 4 * (1.0 if found[1] else OTHER_RATE)
                        vote.add(found[0], weight, n)
                        if sim > best:
                            best, tier = sim, n.tier
            asked[question] = (vote, best, tier) if vote else None
        answer = asked[question]
        if answer is None:
            return None
        vote, best, tier = answer
        part = make_part(slot, vote, tier, best if closeness is None else closeness)
        part.exact = False
        return part

    def _fresher(
        self, tiers: dict[str, list[Neighbour]], part: Part, ref: LineRef, rate: Decimal
    ) -> Part | None:
        """Other partners' newer postings of this line, when they all disagree with the
        partner's stale evidence for it (an accounting policy changed since)."""
        newest = max(n.document.date for n in part.supporters[0])
        latest = max((n.document.date for t in TIERS for n in tiers[t]), default=newest)
        if (latest - newest).days <= STALE_DAYS:
            return None
        for tier in FOREIGN_TIERS:
            vote = Vote()
            for n in tiers[tier]:
                if n.document.date <= newest:
                    continue
                found = treatment(n.template, ref, rate, "net")
                if found is not None and found[1]:
                    vote.add(found[0], n.weight, n)
            if len(vote.weights) == 1 and len(next(iter(vote.support.values()))) >= 2:
                fresh = make_part(part.slot, vote, tier)
                if fresh.value != part.value:
                    return fresh
        return None

    # ------------------------------------------------------------ the answer

    def _layout(
        self, scheme: PostingScheme, doc: Document, used: Sequence[Neighbour]
    ) -> PostingScheme:
        """The scheme in the layout of the closest neighbour that posts the same amounts."""
        target = postings(scheme.lines)
        refs = set(line_refs(doc))
        for n in sorted(used, key=lambda n: -n.weight):
            if set(n.template.refs) != refs:
                continue
            direct = bind(n.template, doc)
            if not isinstance(direct, Unbindable) and postings(direct.lines) == target:
                return direct
        return scheme

    def _note(
        self, doc: Document, known: bool, parts: Sequence[Part], evidence: Sequence[str]
    ) -> str:
        tiers = {p.tier for p in parts}
        if doc.partner is not None and not known:
            head = f"{NO_HISTORY}; posted like similar documents of other partners"
        elif tiers == {"partner"} and doc.partner is not None:
            head = f"as {doc.partner.name} was posted before"
        elif "mirrored" in tiers:
            head = "as this partner's documents of the mirrored kind, sides reversed"
        elif tiers & FOREIGN_TIERS and doc.partner is not None:
            head = "partly from similar documents of other partners"
        else:
            head = f"as similar {doc.kind.replace('_', ' ')} documents were posted"
        weak = [p.name for p in parts if p.confidence < 0.6 and p.value]
        tail = f"; unsure of {', '.join(weak[:3])}" if weak else ""
        return f"{head} ({', '.join(evidence[:3])}){tail}"
