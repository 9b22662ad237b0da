"""The accounting assistant: a question about posting, answered from the company's history.

:class:`Assistant` keeps the drafting agent's history index of an AIS (built on first use,
rebuilt when older than ``refresh_s``; for a question about an earlier year, an index of the
history up to that year's end) and answers a :class:`~ledgerpilot.assistant.query.Query`
with one of the backends:

``memory``
    *Grounding* first: the posted documents that match the question's kind, partner, topic
    and year (:meth:`~ledgerpilot.assistant.history.Knowledge.matches`). Nothing matching
    means "nothing fits", never a made-up scheme. For invoices and credit notes, whose line
    decides the account, the memory backend drafts the one-line document the question
    stands for (the matched line's description, the question's amounts or a nominal net of
    100) exactly as it drafts a real one, and the entry is reduced to the ``scheme`` task's
    form: account, side and basis of each line (:func:`~ledgerpilot.training.scheme_task.
    entry_structure`). Without a partner, each partner's documents are drafted: when they
    are posted differently, the answer shows each way (``varies``) rather than choosing.
    For other kinds (payments, payroll, depreciation) the structures of the matching
    entries are counted and the most frequent wins, as the ``scheme`` task's gold does.
``llm`` / ``local``
    The model is asked the ``scheme`` task it was trained on, for the grounded kind,
    partner and year; its answer is shown only when every account is a postable account
    of the chart and (with amounts) the bound entry validates.
``auto``
    Memory, and the model when one is configured: when they differ the answer says so and
    shows both (``disagree``).

Every scheme shown is validated against the chart (and, with amounts, against the
question's document: balanced, VAT and totals right), so no answer names an account the
chart lacks.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from ledgerpilot.agent.backends import BackendUnavailable, DraftRequest
from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.recall import RELATED_KINDS, HistoryIndex
from ledgerpilot.ledger import (
    KINDS,
    ChartOfAccounts,
    Document,
    Partner,
    Violation,
    format_amount,
    tax_on,
    validate,
)
from ledgerpilot.training.scheme_task import Structure, entry_structure, most_frequent

from .answers import Answer, AnswerLine, Evidence, Variant, answer_lines
from .bases import figures, question_document, read_scheme_answer, scheme_of
from .history import Knowledge, Match
from .model import ModelNotConfigured, SchemeModel, model_from_settings, scheme_messages
from .query import Query, understand
from .words import (
    CREDIT_KINDS,
    CUSTOMER_KINDS,
    INVOICE_KINDS,
    LINE_KINDS,
    PAYMENT_KINDS,
    SUPPLIER_KINDS,
)

BACKENDS = ("memory", "llm", "local", "auto")
MAX_PARTNER_VARIANTS = 6
"""Partners whose documents are drafted for a question that names none."""
DOMINANT = 0.75
"""Share of the matching entries from which one structure answers for all (payments,
payroll) when the question names no partner."""
EVIDENCE = 5
"""Historical documents listed with an answer."""
YEAR_INDEXES = 3
"""Indexes of earlier years kept at once."""


class AskSource(Protocol):
    """What the assistant reads of an AIS (an AIS connector has it)."""

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts."""
        ...

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterator[Document]:
        """Posted documents with their entries, by date."""
        ...

    def get_document(self, external_id: str) -> Document | None:
        """One document, or ``None``."""
        ...


@dataclass(frozen=True)
class Grounding:
    """The matching history of a question: the kind chosen and its documents."""

    knowledge: Knowledge
    kind: str
    partner: Partner | None
    matches: tuple[Match, ...]
    notes: tuple[str, ...] = ()


class Assistant:
    """Answers questions about posting from an AIS's history."""

    def __init__(
        self,
        source: AskSource,
        *,
        models: Callable[[str], SchemeModel | None] | None = None,
        refresh_s: float = 600.0,
    ) -> None:
        """``models(backend_name)`` gives the scheme model of ``llm``, ``local`` or ``auto``
        (default: from the settings, :func:`~.model.model_from_settings`)."""
        self.source = source
        self.refresh_s = refresh_s
        self._models = models or _settings_model
        self._lock = threading.Lock()
        self._main: Knowledge | None = None
        self._built = 0.0
        self._by_year: dict[int, Knowledge] = {}
        self._loaded: dict[str, SchemeModel | None] = {}

    # ------------------------------------------------------------ history

    def knowledge(self, year: int | None = None) -> Knowledge:
        """The history's lookups; for a ``year`` before the history's last, the history up
        to that year's end."""
        with self._lock:
            if self._main is None or time.monotonic() - self._built > self.refresh_s:
                chart = self.source.chart()
                self._main = Knowledge.build(HistoryIndex.build(self.source.history(), chart))
                self._built = time.monotonic()
                self._by_year.clear()
            main = self._main
            last = main.last_date
            if year is None or last is None or year >= last.year:
                return main
            found = self._by_year.get(year)
            if found is None:
                history = self.source.history(until=dt.date(year + 1, 1, 1))
                found = Knowledge.build(HistoryIndex.build(history, main.chart))
                if len(self._by_year) >= YEAR_INDEXES:
                    self._by_year.pop(next(iter(self._by_year)))
                self._by_year[year] = found
            return found

    def document(self, document_id: str) -> Document | None:
        """A document of the AIS (for the evidence's links)."""
        return self.source.get_document(document_id)

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts the answers are validated against."""
        return self.knowledge().chart

    def model(self, backend: str) -> SchemeModel | None:
        """The scheme model of a backend (loaded once); raises :class:`ModelNotConfigured`."""
        if backend not in BACKENDS:
            raise ModelNotConfigured(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
        with self._lock:
            if backend not in self._loaded:
                self._loaded[backend] = self._models(backend)
            return self._loaded[backend]

    # ------------------------------------------------------------ asking

    def understand(self, text: str, previous: Query | None = None) -> Query:
        """The question resolved against the history (continuing ``previous``)."""
        return understand(text, self.knowledge(), previous)

    def ask(self, text: str, backend: str = "memory", previous: Query | None = None) -> Answer:
        """Understand and answer one question (no conversation kept: see
        :mod:`~ledgerpilot.assistant.conversation`)."""
        return self.answer(self.understand(text, previous), backend)

    def answer(self, query: Query, backend: str = "memory") -> Answer:
        """The answer to ``query`` with ``backend``; raises :class:`ModelNotConfigured` for
        a model backend without settings."""
        model = self.model(backend)
        grounded = self._ground(query, self.knowledge(query.year))
        if isinstance(grounded, Answer):
            return replace(grounded, backend=backend)
        if backend in ("llm", "local"):
            assert model is not None
            try:
                return self._modelled(query, grounded, model)
            except BackendUnavailable as exc:
                return Answer("unavailable", backend, f"The model could not be asked: {exc}.")
        remembered = self._remembered(query, grounded)
        if model is None or remembered.status != "answered":
            return remembered
        try:
            learned = self._modelled(query, grounded, model)
        except BackendUnavailable as exc:
            return _add(remembered, f"The model was not asked: {exc}.")
        if learned.status != "answered":
            return _add(remembered, f"The model's answer was not used: {learned.explanation}")
        if _shape(learned.lines) == _shape(remembered.lines):
            return _add(remembered, f"The model ({model.model}) gives the same scheme.")
        return replace(
            remembered,
            status="disagree",
            backend="auto",
            lines=(),
            explanation="The history and the model disagree on this scheme, so neither is "
            "chosen: compare both with the documents it rests on before posting.",
            variants=(
                Variant("memory", remembered.lines, evidence=_ids(remembered.evidence)),
                Variant(learned.backend, learned.lines, evidence=_ids(learned.evidence)),
            ),
        )

    # ------------------------------------------------------------ grounding

    def _ground(self, query: Query, k: Knowledge) -> Grounding | Answer:
        """The matching documents and the kind, or the answer that there are none."""
        partner = k.partners.get(query.partner_id) if query.partner_id else None
        kinds = query.kinds or k.kinds
        what = _kinds_in_words(query.kinds)
        of = f" of {partner.name}" if partner else ""
        if query.partner_id and partner is None:
            until = f" up to {query.year}" if query.year else ""
            return _nothing(
                f"The history has no documents of {query.partner_name}{until} to base a posting "
                "scheme on."
            )
        if query.unknown and not query.keys:
            return _nothing(
                f"The history has no {what}{of} about “{' '.join(query.unknown)}”: nothing "
                "to base a posting scheme on, so none is given."
            )
        if query.topic and not query.keys:
            return _nothing(
                f"The history has no {what}{of} for “{' '.join(query.topic)}”: nothing to "
                "base a posting scheme on, so none is given."
            )
        notes: list[str] = []
        pid = partner.id if partner else None
        if partner is None and not query.keys:
            # Payroll, depreciation and the like have no partner: their own pool answers.
            if not query.kinds or not k.matches(query.kinds, "", ()):
                return _unclear(query, k)
            pid = ""
        matches = k.matches(kinds, pid, query.keys, query.year)
        if not matches and query.year is not None:
            matches = k.matches(kinds, pid, query.keys)
            if matches:
                notes.append(
                    f"The history has none of these in {query.year}; the latest before it "
                    f"({matches[0].document.date.isoformat()}) is used."
                )
        mirrored = ""
        if not matches and query.kinds and set(query.kinds) <= set(RELATED_KINDS):
            # A credit note never seen: posted as the invoices it corrects, sides reversed.
            invoices = tuple(RELATED_KINDS[c] for c in query.kinds)
            matches = k.matches(invoices, pid, query.keys, query.year)
            if matches:
                mirrored = RELATED_KINDS[matches[0].document.kind]
                notes.append(
                    f"The history has no {what} like it; the memory posts it as the "
                    f"{_kinds_in_words((matches[0].document.kind,))} it corrects, every side "
                    "reversed."
                )
        if not matches and partner is not None and query.keys:
            matches = k.matches(kinds, None, query.keys, query.year) or k.matches(
                kinds, None, query.keys
            )
            if matches:
                notes.append(
                    f"{partner.name} has no such {what} in the history; other partners' are used."
                )
        if not matches:
            about = f" for “{' '.join(query.topic)}”" if query.topic else ""
            return _nothing(f"The history has no {what}{of}{about} to base a posting scheme on.")
        if mirrored:
            return Grounding(k, mirrored, partner, tuple(matches), tuple(notes))
        counts = Counter(m.document.kind for m in matches)
        if len(query.kinds) == 1:
            kind = query.kinds[0]
        else:
            kind = max(counts, key=lambda c: (c in LINE_KINDS, counts[c], c in KINDS, c))
        chosen = tuple(m for m in matches if m.document.kind == kind)
        return Grounding(k, kind, partner, chosen, tuple(notes))

    # ------------------------------------------------------------ memory

    def _remembered(self, query: Query, g: Grounding) -> Answer:
        """The memory's answer: drafted per partner (invoices, credit notes) or counted."""
        if g.kind in LINE_KINDS:
            return self._drafted(query, g)
        return self._counted(query, g)

    def _drafted(self, query: Query, g: Grounding) -> Answer:
        k, chart = g.knowledge, g.knowledge.chart
        memory = MemoryBackend(k.index, chart, calibrate=False)
        exemplars: list[tuple[Partner | None, Match]] = []
        if g.partner is not None:
            exemplars.append((g.partner, g.matches[0]))
        else:
            seen: set[str] = set()
            for match in g.matches:
                who = match.document.partner
                if (who.id if who else "") in seen:
                    continue
                seen.add(who.id if who else "")
                exemplars.append((who, match))
                if len(exemplars) >= MAX_PARTNER_VARIANTS:
                    break
        ways: dict[Structure, list[_Draft]] = {}
        for who, match in exemplars:
            draft = self._draft(query, g, memory, who, match)
            if draft is not None:
                ways.setdefault(draft.structure, []).append(draft)
        if not ways:
            return _nothing("The history's postings do not fit this document.", g)
        if len(ways) > 1:
            variants = tuple(
                Variant(
                    "memory",
                    answer_lines(s, chart, drafts[0].amounts if query.amount else None),
                    partners=tuple(d.partner for d in drafts),
                    evidence=tuple(i for d in drafts for i in d.evidence[:2]),
                )
                for s, drafts in ways.items()
            )
            return Answer(
                "varies",
                "memory",
                f"The history posts {_topic_in_words(query, g)} in {len(ways)} ways, depending "
                "on the partner (each is shown with the partners posted that way): name the "
                "partner to get one scheme.",
                kind=g.kind,
                year=query.year,
                currency=exemplars[0][1].document.currency,
                variants=variants,
                evidence=_evidence(k, [i for d in next(iter(ways.values())) for i in d.evidence]),
                model=memory.model,
            )
        structure, drafts = next(iter(ways.items()))
        draft = drafts[0]
        if draft.violations:
            return Answer(
                "refused",
                "memory",
                "The history's scheme does not validate against the chart today, so it is not "
                "shown: " + "; ".join(v.message for v in draft.violations[:3]),
                kind=g.kind,
                violations=tuple(draft.violations),
            )
        partner = g.partner
        # "would be": the history's own postings of it are missing (another partner's, or
        # the invoices a credit note corrects, stand in)
        text = f"{_upper(_topic_in_words(query, g))} {'would be' if g.notes else 'were'} posted "
        text += "this way"
        if partner is None and len(drafts) > 1:
            text += f" for every partner ({', '.join(d.partner for d in drafts[:4])})"
        text += f", e.g. “{draft.line}”. " + " ".join(g.notes)
        if query.other_partners and partner is not None:
            text += f" (The question's words also fit {', '.join(query.other_partners[:3])}.)"
        return Answer(
            "answered",
            "memory",
            " ".join((text + _amounts_note(query, draft.amounts, draft.currency)).split()),
            kind=g.kind,
            partner_id=partner.id if partner else None,
            partner_name=partner.name if partner else None,
            year=query.year or draft.year,
            currency=draft.currency,
            lines=answer_lines(structure, chart, draft.amounts if query.amount else None),
            evidence=_evidence(k, [i for d in drafts for i in d.evidence]),
            model=memory.model,
        )

    def _draft(
        self,
        query: Query,
        g: Grounding,
        memory: MemoryBackend,
        who: Partner | None,
        match: Match,
    ) -> _Draft | None:
        """The memory's draft of the one-line document the question stands for."""
        k, source = g.knowledge, match.document
        line = source.lines[match.line] if source.lines else None
        if line is None:
            return None
        if query.rate is not None:
            rate = Decimal(query.rate)
        elif query.year is None:
            rate = k.index.current_rate(line.tax_rate)
        else:
            rate = line.tax_rate
        amounts = figures(query.amount_value, query.basis, rate, source.currency)
        own = source.partner is not None and who is not None and source.partner.id == who.id
        date = k.last_date or source.date
        doc = question_document(
            g.kind,
            who,
            line.description,
            amounts,
            date,
            source.currency,
            source.text if own else "",
        )
        proposal = memory.propose(DraftRequest(doc, k.chart))
        if proposal.scheme is None:
            return None
        posted = replace(doc, entry=proposal.scheme.to_entry(date))
        summed: dict[tuple[str, str], Decimal] = {}
        for ln in proposal.scheme.lines:
            summed[(ln.account, ln.side)] = (
                summed.get((ln.account, ln.side), Decimal(0)) + ln.amount
            )
        return _Draft(
            structure=_self_assessed(entry_structure(posted, k.chart), doc, summed),
            amounts=summed,
            partner=who.name if who else "(no partner)",
            evidence=proposal.evidence,
            violations=tuple(validate(proposal.scheme, k.chart, doc)),
            line=line.description,
            currency=source.currency,
            year=source.date.year,
        )

    def _counted(self, query: Query, g: Grounding) -> Answer:
        """The most frequent structure of the matching entries (payments, payroll, ...)."""
        k, chart = g.knowledge, g.knowledge.chart
        structures = [(entry_structure(m.document, chart), m) for m in g.matches]
        counts = Counter(s for s, _ in structures)
        best, n = most_frequent([s for s, _ in reversed(structures)])
        currency = g.matches[0].document.currency
        if g.partner is None and len(counts) > 1 and n / len(structures) < DOMINANT:
            variants = tuple(
                Variant(
                    "memory",
                    answer_lines(s, chart, None),
                    partners=tuple(
                        dict.fromkeys(
                            m.document.partner.name if m.document.partner else "(no partner)"
                            for t, m in structures
                            if t == s
                        )
                    ),
                    evidence=tuple(m.document.id for t, m in structures if t == s)[:3],
                )
                for s, _ in counts.most_common(3)
            )
            return Answer(
                "varies",
                "memory",
                f"The history posts {_topic_in_words(query, g)} in {len(counts)} ways: "
                + (
                    "name the partner to get one scheme."
                    if any(m.document.partner for m in g.matches)
                    else "say what it is for (a line of the document) to get one scheme."
                ),
                kind=g.kind,
                currency=currency,
                variants=variants,
                model=f"memory:{k.index.indexed}",
            )
        used = [m for s, m in structures if s == best]
        bad = [
            line.account
            for line in best
            if chart.get(line.account) is None or not chart[line.account].postable
        ]
        if bad:
            return Answer(
                "refused",
                "memory",
                f"The history posts these to {', '.join(bad)}, which the chart does not have "
                "(or takes no postings) today: no scheme is shown.",
                kind=g.kind,
            )
        amounts: dict[tuple[str, str], Decimal] | None = None
        note = ""
        if query.amount is not None:
            amounts, note = self._bound(query, g, best, used[0])
        partner = g.partner
        text = (
            f"{_upper(_topic_in_words(query, g))} were posted this way in {n} of the "
            f"{len(structures)} matching entries. " + " ".join(g.notes) + note
        )
        return Answer(
            "answered",
            "memory",
            " ".join((text + (_amounts_note(query, amounts, currency) if amounts else "")).split()),
            kind=g.kind,
            partner_id=partner.id if partner else None,
            partner_name=partner.name if partner else None,
            year=query.year or used[0].document.date.year,
            currency=currency,
            lines=answer_lines(best, chart, amounts),
            evidence=tuple(Evidence.of(m.document, m.line) for m in used[:EVIDENCE]),
            model=f"memory:{k.index.indexed}",
        )

    def _bound(
        self, query: Query, g: Grounding, structure: Structure, match: Match
    ) -> tuple[dict[tuple[str, str], Decimal] | None, str]:
        """The question's amounts bound to a structure, or why they cannot be."""
        source = match.document
        line = source.lines[match.line] if source.lines else None
        rate = (
            Decimal(query.rate)
            if query.rate is not None
            else (line.tax_rate if line else Decimal(0))
        )
        amounts = figures(query.amount_value, query.basis, rate, source.currency)
        doc = question_document(
            g.kind, g.partner, line.description if line else "", amounts,
            g.knowledge.last_date or source.date, source.currency,
        )  # fmt: skip
        scheme = scheme_of(structure, doc, "")
        if isinstance(scheme, str):
            return None, f" No amounts: {scheme}."
        found = validate(scheme, g.knowledge.chart, doc)
        if found:
            return None, f" No amounts: {found[0].message}."
        summed: dict[tuple[str, str], Decimal] = {}
        for ln in scheme.lines:
            summed[(ln.account, ln.side)] = (
                summed.get((ln.account, ln.side), Decimal(0)) + ln.amount
            )
        return summed, ""

    # ------------------------------------------------------------ the model

    def _modelled(self, query: Query, g: Grounding, model: SchemeModel) -> Answer:
        """The model's answer to the ``scheme`` task for the grounded kind and partner."""
        k, chart = g.knowledge, g.knowledge.chart
        partner = g.partner
        if partner is None:
            named = Counter(m.document.partner.id for m in g.matches if m.document.partner)
            partner = k.partners[named.most_common(1)[0][0]] if named else None
        year = query.year or g.matches[0].document.date.year
        messages = scheme_messages(
            g.kind, partner.id if partner else "", partner.name if partner else "", year
        )
        structure, found = read_scheme_answer(model.complete(messages), chart)
        if structure is None:
            return Answer(
                "refused",
                model.name,
                "The model's answer is not shown: " + "; ".join(v.message for v in found[:3]) + ".",
                kind=g.kind,
                violations=tuple(found),
                model=model.model,
            )
        own = [
            m
            for m in g.matches
            if partner is None or (m.document.partner and m.document.partner.id == partner.id)
        ]
        amounts: dict[tuple[str, str], Decimal] | None = None
        if query.amount is not None:
            amounts, note = self._bound(
                query, replace(g, partner=partner), structure, (own or list(g.matches))[0]
            )
            if amounts is None:
                return Answer(
                    "refused", model.name, f"The model's scheme does not fit the amounts:{note}",
                    kind=g.kind, model=model.model,
                )  # fmt: skip
        who = f" of {partner.name}" if partner else ""
        return Answer(
            "answered",
            model.name,
            f"The model's posting scheme for {_kinds_in_words((g.kind,))}{who} in {year}."
            + (_amounts_note(query, amounts, g.matches[0].document.currency) if amounts else ""),
            kind=g.kind,
            partner_id=partner.id if partner else None,
            partner_name=partner.name if partner else None,
            year=year,
            currency=g.matches[0].document.currency,
            lines=answer_lines(structure, chart, amounts),
            evidence=tuple(Evidence.of(m.document, m.line) for m in own[:EVIDENCE]),
            model=model.model,
        )


@dataclass(frozen=True)
class _Draft:
    structure: Structure
    amounts: dict[tuple[str, str], Decimal]
    partner: str
    evidence: tuple[str, ...]
    violations: tuple[Violation, ...]
    line: str
    currency: str
    year: int


def _self_assessed(
    structure: Structure, doc: Document, amounts: dict[tuple[str, str], Decimal]
) -> Structure:
    """``other`` bases of a document without VAT named as the VAT self-assessed on its net
    when they are a whole rate of it (the ``scheme`` task names only the rates it lists:
    Luxembourg's 17 %, say, would stay ``other``)."""
    if doc.total_tax or not doc.total_net:
        return structure
    out = []
    for line in structure:
        amount = amounts.get((line.account, line.side))
        if line.amount == "other" and amount is not None:
            rate = (amount * 100 / doc.total_net).quantize(Decimal("0.01"))
            if (
                rate == rate.to_integral_value()
                and 0 < rate < 50
                and tax_on(doc.total_net, rate, doc.currency) == amount
            ):
                line = replace(line, amount=f"{rate.normalize():f}% of net (self-assessed)")
        out.append(line)
    return tuple(out)


def _settings_model(backend: str) -> SchemeModel | None:
    from ledgerpilot.config import get_settings

    return model_from_settings(backend, get_settings())


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


KIND_NAMES = {
    "supplier_invoice": "supplier invoices",
    "supplier_credit_note": "supplier credit notes",
    "sales_invoice": "sales invoices",
    "sales_credit_note": "sales credit notes",
    "bank_payment": "bank payments",
    "bank_receipt": "bank receipts",
    "payroll": "payroll entries",
    "depreciation": "depreciation entries",
    "other": "other entries",
}
GROUP_NAMES = (
    (INVOICE_KINDS, "invoices"),
    (CREDIT_KINDS, "credit notes"),
    (PAYMENT_KINDS, "payments"),
    (SUPPLIER_KINDS, "supplier documents"),
    (CUSTOMER_KINDS, "customer documents"),
)


def _kinds_in_words(kinds: tuple[str, ...]) -> str:
    """``("supplier_invoice",)`` -> ``supplier invoices``; a group by what it shares."""
    if len(kinds) == 1:
        return KIND_NAMES.get(kinds[0], kinds[0].replace("_", " ") + " documents")
    for group, name in GROUP_NAMES:
        if set(kinds) <= set(group):
            return name
    return "documents"


def _topic_in_words(query: Query, g: Grounding) -> str:
    what = _kinds_in_words((g.kind,))
    if g.partner is not None:
        what += f" of {g.partner.name}"
    if query.topic:
        what += f" for “{' '.join(query.topic)}”"
    return what


def _amounts_note(
    query: Query, amounts: dict[tuple[str, str], Decimal] | None, currency: str
) -> str:
    if query.amount is None or not amounts:
        return ""
    basis = query.basis or "gross"
    said = "" if query.basis else " (taken as the gross)"
    rate = f" at {query.rate}% VAT" if query.rate is not None else ""
    return (
        f" Amounts for {Decimal(format_amount(Decimal(query.amount), currency)):,f} {basis}"
        f"{said}{rate}, "
        "in Decimal, balanced and validated."
    )


def _evidence(k: Knowledge, ids: list[str]) -> tuple[Evidence, ...]:
    out = []
    for i in dict.fromkeys(ids):
        doc = k.index.documents.get(i)
        if doc is not None:
            out.append(Evidence.of(doc))
        if len(out) >= EVIDENCE:
            break
    return tuple(out)


def _ids(evidence: tuple[Evidence, ...]) -> tuple[str, ...]:
    return tuple(e.id for e in evidence)


def _shape(lines: tuple[AnswerLine, ...]) -> set[tuple[str, str, str]]:
    return {(ln.account, ln.side, ln.basis) for ln in lines}


def _add(answer: Answer, text: str) -> Answer:
    return replace(answer, explanation=f"{answer.explanation} {text}".strip())


def _nothing(text: str, g: Grounding | None = None) -> Answer:
    return Answer("nothing_fits", "memory", text, kind=g.kind if g else None)


def _unclear(query: Query, k: Knowledge) -> Answer:
    if query.kinds:
        busiest = k.busiest(query.kinds[0])
        names = ", ".join(p.name for p, _ in busiest[:4])
        hint = (
            f" The history's {_kinds_in_words(query.kinds[:1])} come most from {names}."
            if names
            else ""
        )
        return Answer(
            "unclear",
            "memory",
            f"Which partner, or what was bought or sold? {_upper(_kinds_in_words(query.kinds))} "
            f"are posted in many ways.{hint}",
        )
    return Answer(
        "unclear",
        "memory",
        "Ask about a kind of document, a partner or what was bought or sold, e.g. “How do I "
        "post a phone bill?”, “Kako knjižiti račun za najam?”, “Wie buche ich die Miete?”.",
    )


__all__ = ["BACKENDS", "AskSource", "Assistant", "Grounding"]
