"""Reading a question's own words: kind, side, amount and its basis, VAT rate, year.

Nothing here looks at the history: :func:`read_question` takes the text apart, and
:mod:`~ledgerpilot.assistant.history` then finds the partner and the topic among the words
that are left. Amounts are read in both styles, ``1,250.00`` and ``1.250,00`` (and
``1 250,00``, ``1250``): the last separator followed by one or two digits is the decimal
point, a separator followed by three digits groups thousands. Amounts become ``Decimal``;
a float never touches them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .words import (
    BASIS_WORDS,
    CURRENCY_WORDS,
    CUSTOMER_KINDS,
    KIND_PHRASES,
    SIDE_WORDS,
    SUPPLIER_KINDS,
    longest_first,
    normalize,
    phrase_positions,
    same_word,
    tokens,
)

MAX_QUESTION = 500
"""Characters of a question read; the rest is ignored."""
MAX_AMOUNT = Decimal("1000000000000")

_NUMBER = re.compile(
    r"(?<![\w.,])"
    r"(\d{1,3}(?:(?:[.,\u00a0' ]|\u202f)\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
    r"(?![\w]|[.,]\d)"
    r"(\s*%)?"
)


class QuestionError(ValueError):
    """A question that cannot be read (empty, or only punctuation)."""


@dataclass(frozen=True)
class Question:
    """What a question says by its own words."""

    text: str
    """The question as asked (at most :data:`MAX_QUESTION` characters)."""
    kinds: tuple[str, ...] = ()
    """The document kinds its words allow, most specific first; empty when it names none."""
    side: str | None = None
    """``supplier`` or ``customer`` when a word says so ("purchase", "kupcu")."""
    amount: Decimal | None = None
    """The amount it gives, if any."""
    amount_text: str = ""
    """The amount as written."""
    basis: str | None = None
    """``net`` or ``gross`` when it says which the amount is."""
    rate: Decimal | None = None
    """The VAT rate in percent it gives ("at 25%"), if any."""
    year: int | None = None
    """The year it asks about ("in 2024"), if any."""
    words: tuple[str, ...] = ()
    """The words left for the partner and the topic, in order (stop words included)."""


def read_amount(text: str) -> Decimal:
    """An amount written ``1,250.00``, ``1.250,00``, ``1 250,00`` or ``1250`` as Decimal.

    Raises :class:`ValueError` for text that is not such a number.
    """
    digits = re.sub(r"[\u00a0\u202f' ]", "", text.strip())
    if not re.fullmatch(r"\d[\d.,]*", digits):
        raise ValueError(f"not an amount: {text!r}")
    separators = [c for c in digits if c in ".,"]
    if separators:
        last = max(digits.rfind("."), digits.rfind(","))
        decimals = len(digits) - last - 1
        grouping = separators[:-1] if decimals in (1, 2) else separators
        groups = re.split(r"[.,]", digits[:last] if decimals in (1, 2) else digits)
        if (
            len(set(grouping)) > 1
            or (decimals in (1, 2) and digits[last] in grouping)
            or (grouping and any(len(g) != 3 for g in groups[1:]))
            or decimals not in (1, 2, 3)
        ):
            raise ValueError(f"not an amount: {text!r}")
        whole = "".join(groups)
        digits = f"{whole}.{digits[last + 1 :]}" if decimals in (1, 2) else whole
    try:
        value = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if value >= MAX_AMOUNT:
        raise ValueError(f"amount {text!r} is absurdly large")
    return value


def read_question(text: str) -> Question:
    """Take a question apart; raises :class:`QuestionError` when it holds no words."""
    text = " ".join(text.split())[:MAX_QUESTION]
    if not any(re.search(r"[^\W\d_]", word) for word in tokens(text)):
        raise QuestionError("ask a question in words, e.g. how do I post a phone bill?")
    amount: Decimal | None = None
    amount_text = ""
    rate: Decimal | None = None
    year: int | None = None
    plain = normalize(text)
    spans: list[tuple[int, int]] = []
    for match in _NUMBER.finditer(plain):
        number, percent = match.group(1), match.group(2)
        if percent:
            if rate is None:
                try:
                    rate = read_amount(number)
                except ValueError:
                    continue
            spans.append(match.span())
            continue
        if re.fullmatch(r"(19|20)\d\d", number) and not _near_basis(plain, match.span()):
            year = year or int(number)
            spans.append(match.span())
            continue
        try:
            value = read_amount(number)
        except ValueError:
            continue
        spans.append(match.span())
        if amount is None:
            amount, amount_text = value, number
    for start, end in reversed(spans):
        plain = plain[:start] + " " + plain[end:]
    words = tokens(plain)
    used = [False] * len(words)

    def take(phrases: list[str]) -> list[str]:
        found = []
        for phrase in phrases:
            for start in phrase_positions(words, phrase):
                width = len(phrase.split())
                if not any(used[start : start + width]):
                    used[start : start + width] = [True] * width
                    found.append(phrase)
        return found

    by_phrase = {p: group for phrases, group in KIND_PHRASES.items() for p in phrases}
    said_kinds = [by_phrase[p] for p in take(longest_first(by_phrase))]
    side = None
    for name, side_words in SIDE_WORDS.items():
        if take(list(side_words)):
            side = side or name
    basis = None
    for name, basis_words in BASIS_WORDS.items():
        if take(longest_first(basis_words)):
            basis = basis or name
    for n, word in enumerate(words):
        if word in CURRENCY_WORDS:
            used[n] = True
    return Question(
        text=text,
        kinds=_kinds(said_kinds, side),
        side=side,
        amount=amount,
        amount_text=amount_text,
        basis=basis,
        rate=rate,
        year=year,
        words=tuple(w for w, u in zip(words, used, strict=True) if not u),
    )


def _near_basis(text: str, span: tuple[int, int]) -> bool:
    """Whether a number stands beside a basis or currency word (then it is an amount)."""
    before = tokens(text[max(0, span[0] - 12) : span[0]])[-1:]
    after = tokens(text[span[1] : span[1] + 12])[:1]
    known = [w for ws in BASIS_WORDS.values() for w in ws] + list(CURRENCY_WORDS)
    return any(same_word(w, k) for w in before + after for k in known)


def _kinds(said: list[tuple[str, ...]], side: str | None) -> tuple[str, ...]:
    """The kinds the phrases allow (the narrowest group said), narrowed by the side."""
    if not said:
        if side == "supplier":
            return SUPPLIER_KINDS
        if side == "customer":
            return CUSTOMER_KINDS
        return ()
    narrowest = min(said, key=len)
    if side is not None and len(narrowest) > 1:
        allowed = SUPPLIER_KINDS if side == "supplier" else CUSTOMER_KINDS
        narrowed = tuple(k for k in narrowest if k in allowed)
        if narrowed:
            return narrowed
    return narrowest
