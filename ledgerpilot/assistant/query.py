"""A question understood against the history, and how a follow-up keeps the context.

:func:`understand` reads a question (:func:`~ledgerpilot.assistant.question.read_question`),
finds the partner and the topic it names in the history
(:class:`~ledgerpilot.assistant.history.Knowledge`) and, when it continues a conversation,
fills in what it leaves out from the previous question. A question that names a topic
("and the office rent?") starts afresh; one that names only a partner ("and for Telekom?"),
an amount ("what if it is 500.00 net?"), a rate, a year, or the kind of the same partner's
document ("and the credit note?", "and the payment?") changes just that; a question that
names a partner and a kind, or another kind of document ("and payroll?"), starts afresh.

:class:`Query` is plain data (JSON in the conversation's checkpoints), so a conversation
paused today continues with tomorrow's code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from .history import Knowledge
from .question import read_question
from .words import LINE_KINDS, PAYMENT_KINDS

CONTINUING_KINDS = LINE_KINDS | frozenset(PAYMENT_KINDS)
"""Kinds a follow-up may name and keep the partner: \"and the credit note?\", \"and the payment?\"."""


@dataclass(frozen=True)
class Query:
    """What is asked, with every piece resolved against the history."""

    text: str
    """The question as asked."""
    kinds: tuple[str, ...] = ()
    """The document kinds it allows (empty: any)."""
    partner_id: str | None = None
    partner_name: str | None = None
    other_partners: tuple[str, ...] = ()
    """Names of partners the question's words fit as well (not chosen)."""
    partner_words: tuple[str, ...] = ()
    """The words that named the partner."""
    topic: tuple[str, ...] = ()
    """The words that named what was bought or sold."""
    categories: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    """The history's line descriptions the topic matches, best first."""
    unknown: tuple[str, ...] = ()
    """Words nothing in the history knows."""
    year: int | None = None
    amount: str | None = None
    """The amount given, as a decimal string (``"1250.00"``)."""
    basis: str | None = None
    """``net`` or ``gross``: what the amount is (gross when not said)."""
    rate: str | None = None
    """The VAT rate given, in percent."""
    follow_up: bool = False
    """Whether it continued the previous question (what it left out came from there)."""
    kept: tuple[str, ...] = field(default_factory=tuple)
    """What it took from the previous question (``partner``, ``topic``, ``amount``, ...)."""

    @property
    def amount_value(self) -> Decimal | None:
        """The amount as Decimal."""
        return None if self.amount is None else Decimal(self.amount)

    @property
    def rate_value(self) -> Decimal | None:
        """The rate as Decimal."""
        return None if self.rate is None else Decimal(self.rate)

    def as_json(self) -> dict[str, Any]:
        """The query as JSON (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Query:
        """A query from :meth:`as_json` (unknown keys are ignored)."""
        known = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                values[key] = tuple(value) if isinstance(value, list) else value
        return cls(**values)


def understand(text: str, knowledge: Knowledge, previous: Query | None = None) -> Query:
    """The question in ``text`` resolved against ``knowledge``, continuing ``previous``.

    Raises :class:`~ledgerpilot.assistant.question.QuestionError` for a question without
    words.
    """
    question = read_question(text)
    named = knowledge.find_partner(question.words)
    rest = [w for w in question.words if named is None or not named.strong or w not in named.words]
    topic = knowledge.topic(rest, question.kinds)
    own = Query(
        text=question.text,
        kinds=question.kinds,
        partner_id=named.partner.id if named else None,
        partner_name=named.partner.name if named else None,
        other_partners=tuple(p.name for p in named.others) if named else (),
        partner_words=named.words if named else (),
        topic=topic.words,
        categories=topic.categories,
        keys=topic.keys,
        unknown=topic.unknown,
        year=question.year,
        amount=None if question.amount is None else f"{question.amount:f}",
        basis=question.basis,
        rate=None if question.rate is None else f"{question.rate.normalize():f}",
    )
    if previous is None or topic.said or (own.partner_id and own.kinds):
        return own
    if own.kinds and not set(own.kinds) & CONTINUING_KINDS:
        return own  # "and payroll?": a new subject
    kept: list[str] = []
    merged = replace(own, follow_up=True)
    if own.partner_id is None and previous.partner_id is not None:
        merged = replace(
            merged,
            partner_id=previous.partner_id,
            partner_name=previous.partner_name,
            partner_words=previous.partner_words,
        )
        kept.append("partner")
    kinds = own.kinds or previous.kinds
    if (previous.topic or previous.keys) and (not kinds or set(kinds) & LINE_KINDS):
        merged = replace(
            merged,
            topic=previous.topic,
            categories=previous.categories,
            keys=_keys_for(previous, knowledge, own.kinds),
            unknown=previous.unknown,
        )
        kept.append("topic")
    if not own.kinds and previous.kinds:
        merged = replace(merged, kinds=previous.kinds)
        kept.append("kind")
    if own.year is None and previous.year is not None:
        merged = replace(merged, year=previous.year)
        kept.append("year")
    if own.amount is None and previous.amount is not None:
        merged = replace(merged, amount=previous.amount, basis=previous.basis)
        kept.append("amount")
    if own.rate is None and previous.rate is not None:
        merged = replace(merged, rate=previous.rate)
        kept.append("rate")
    return replace(merged, kept=tuple(kept))


def _keys_for(previous: Query, knowledge: Knowledge, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The previous topic's line descriptions, found again among ``kinds`` when the follow-up
    changes the kind ("and the credit note?")."""
    if not kinds or set(kinds) <= set(previous.kinds):
        return previous.keys
    again = knowledge.topic(list(previous.topic), kinds)
    return again.keys or previous.keys
