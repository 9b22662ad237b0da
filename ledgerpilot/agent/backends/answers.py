"""Reading a model's answer: the posting-scheme JSON in it, and how sure the model was.

Shared by the ``llm`` and ``local`` backends. Nothing here raises for a bad answer: prose,
code fences, a cut-off or absent JSON object all come back as violations for the repair
loop.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence

from ...ledger import PostingScheme, Violation, parse_scheme

DEFAULT_CONFIDENCE = 0.5
"""Confidence of a readable scheme when the model's token probabilities are not known."""

_FENCED = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)
_ACCOUNT = re.compile(r'"account"\s*:\s*"([^"\\]*)"')
_MAX_CANDIDATES = 64
"""Opening braces tried at most: bounds the work on a long garbage answer."""


def _escape_controls(text: str) -> str:
    """``text`` with raw control characters inside JSON strings written as ``\\uXXXX``.

    Strict JSON forbids them there, yet models (and grammar-constrained decoders that allow
    any character in a string) write raw newlines and tabs into descriptions; outside
    strings, where they are whitespace, they are kept.
    """
    out: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            elif char < " ":
                char = f"\\u{ord(char):04x}"
        elif char == '"':
            in_string = True
        out.append(char)
    return "".join(out)


def _objects(text: str) -> Iterator[str]:
    """JSON objects found in ``text``, left to right, as source text that strict JSON reads.

    Raw control characters inside strings are tolerated and escaped in the text returned.
    """
    decoder = json.JSONDecoder(strict=False)
    position = 0
    tried = 0
    while tried < _MAX_CANDIDATES:
        start = text.find("{", position)
        if start < 0:
            return
        tried += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            position = start + 1
            continue
        if isinstance(value, dict):
            yield _escape_controls(text[start:end])
        position = end


def extract_json(text: str) -> str | None:
    """The text of the posting-scheme JSON object in a model's answer, or ``None``.

    Looks in fenced code blocks first, then anywhere in the text (past leading prose);
    prefers an object with ``"lines"``, else the first object found. Returns the object's
    source text, so that :func:`~ledgerpilot.ledger.parse_scheme` still sees JSON numbers.
    """
    first: str | None = None
    sources = [m.group(1) for m in _FENCED.finditer(text)] + [text]
    for source in sources:
        for candidate in _objects(source):
            if '"lines"' in candidate:
                return candidate
            first = first or candidate
    return first


def read_answer(text: str) -> tuple[PostingScheme | None, tuple[Violation, ...]]:
    """A model's answer as a scheme and the violations met reading it; never raises."""
    if not text.strip():
        return None, (Violation("malformed", "the answer is empty"),)
    candidate = extract_json(text)
    if candidate is None:
        shown = " ".join(text.split())[:80]
        return None, (
            Violation(
                "malformed",
                f"the answer holds no complete JSON object (cut off?); it begins {shown!r}",
            ),
        )
    scheme, found = parse_scheme(candidate)
    return scheme, tuple(found)


def answer_confidence(tokens: Sequence[tuple[str, float]], text: str) -> float:
    """How sure the model was of its accounts, from the log-probabilities of its tokens.

    ``tokens`` are the generated pieces of ``text`` with their natural-log probabilities.
    The accounts are the decision that matters (amounts are bound from the document), so
    the confidence is the probability of the least certain account code: for each
    ``"account": "..."`` value, the product of the probabilities of the tokens that overlap
    it, then the minimum. When the pieces do not spell ``text`` or no account is found, it
    is the geometric mean probability of all tokens. 0 for no tokens.
    """
    if not tokens:
        return 0.0
    spans = [m.span(1) for m in _ACCOUNT.finditer(text)]
    if not spans or "".join(piece for piece, _ in tokens) != text:
        return math.exp(sum(lp for _, lp in tokens) / len(tokens))
    starts: list[int] = []
    position = 0
    for piece, _ in tokens:
        starts.append(position)
        position += len(piece)
    weakest = 1.0
    for begin, end in spans:
        logprob = sum(
            lp
            for (piece, lp), start in zip(tokens, starts, strict=True)
            if start < max(end, begin + 1) and start + len(piece) > begin
        )
        weakest = min(weakest, math.exp(logprob))
    return weakest
