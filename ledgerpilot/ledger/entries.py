"""Journal entries and posting schemes, and reading them safely from untrusted JSON.

A *posting scheme* is what a backend proposes for a document and what the model is trained
to emit: ``{"document", "kind", "explanation", "lines": [{"account", "debit", "credit",
"description"}]}`` with amounts as strings. A *journal entry* is what is (or was) posted:
a date and balanced lines. Both share :class:`EntryLine`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .money import AmountError, format_amount, parse_amount
from .violations import Violation

MAX_SCHEME_LINES = 500
"""More lines than any drafted entry needs; a longer scheme is refused unread."""
MAX_SCHEME_BYTES = 1_000_000
"""A scheme's JSON text is refused above this size, before it is parsed."""
MAX_DESCRIPTION = 1000
"""Characters allowed in a line's description or a scheme's explanation."""

ZERO = Decimal(0)


class SchemeError(ValueError):
    """A journal entry that cannot be read (used where one clear error is wanted)."""


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One line of a journal entry: an account and either a debit or a credit."""

    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    description: str = ""

    @property
    def side(self) -> str:
        """``"debit"`` or ``"credit"``: the side this line's amount is on."""
        return "credit" if self.credit and not self.debit else "debit"

    @property
    def amount(self) -> Decimal:
        """The line's amount, whichever side it is on."""
        return self.debit if self.debit else self.credit

    def to_json(self, currency: str = "EUR") -> dict[str, str]:
        """``{"account", "debit", "credit", "description"}`` with amounts as strings."""
        return {
            "account": self.account,
            "debit": format_amount(self.debit, currency),
            "credit": format_amount(self.credit, currency),
            "description": self.description,
        }


def totals(lines: Iterable[EntryLine]) -> tuple[Decimal, Decimal]:
    """Total debits and total credits of ``lines``."""
    debit = credit = ZERO
    for ln in lines:
        debit += ln.debit
        credit += ln.credit
    return debit, credit


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A posted (or to be posted) journal entry."""

    date: dt.date
    lines: tuple[EntryLine, ...]
    description: str = ""
    id: str | None = None
    """The entry's id in the AIS, once posted."""
    posted_by: str | None = None
    """Who posted it, when the AIS records users."""
    posted_at: dt.datetime | None = None
    """When it was posted, when the AIS records times."""

    def is_balanced(self) -> bool:
        """Whether debits equal credits."""
        debit, credit = totals(self.lines)
        return debit == credit

    def to_json(self, currency: str = "EUR") -> dict[str, Any]:
        """The interchange form ``{"date", "lines": [...]}``."""
        out: dict[str, Any] = {
            "date": self.date.isoformat(),
            "lines": [ln.to_json(currency) for ln in self.lines],
        }
        if self.description:
            out["description"] = self.description
        if self.id is not None:
            out["id"] = self.id
        if self.posted_by:
            out["posted_by"] = self.posted_by
        if self.posted_at is not None:
            out["posted_at"] = self.posted_at.isoformat(timespec="seconds")
        return out

    @classmethod
    def from_json(cls, data: object, currency: str = "EUR") -> JournalEntry:
        """Read the interchange form; raises :class:`SchemeError` with the reason."""
        if not isinstance(data, Mapping):
            raise SchemeError("an entry must be a JSON object with date and lines")
        try:
            text = str(data.get("date"))
            if len(text) != 10 or text[4] != "-" or text[7] != "-":
                raise ValueError(text)
            date = dt.date.fromisoformat(text)
        except ValueError:
            raise SchemeError(
                f"entry date {str(data.get('date'))[:40]!r} is not YYYY-MM-DD"
            ) from None
        lines, found = _read_lines(data.get("lines"), currency)
        if found:
            first = found[0]
            where = f"line {first.line}: " if first.line else ""
            raise SchemeError(f"{where}{first.message}")
        posted_at = None
        if data.get("posted_at"):
            try:
                posted_at = dt.datetime.fromisoformat(str(data["posted_at"]))
            except ValueError:
                raise SchemeError(
                    f"posted_at {str(data['posted_at'])[:40]!r} is not an ISO date-time"
                ) from None
        entry_id = data.get("id")
        return cls(
            date=date,
            lines=tuple(lines),
            description=str(data.get("description") or ""),
            id=None if entry_id is None else str(entry_id),
            posted_by=str(data["posted_by"]) if data.get("posted_by") else None,
            posted_at=posted_at,
        )


@dataclass(frozen=True, slots=True)
class PostingScheme:
    """A proposed posting for one document."""

    document: str
    """The id of the document it posts."""
    kind: str
    """The document's kind."""
    explanation: str
    """Why these accounts: what the backend based its proposal on."""
    lines: tuple[EntryLine, ...]
    currency: str | None = None
    """The currency of the amounts, when the scheme states one (else the document's)."""

    def to_json(self, currency: str | None = None) -> dict[str, Any]:
        """The contract's JSON form, amounts as strings."""
        cur = currency or self.currency or "EUR"
        out: dict[str, Any] = {
            "document": self.document,
            "kind": self.kind,
            "explanation": self.explanation,
            "lines": [ln.to_json(cur) for ln in self.lines],
        }
        if self.currency:
            out["currency"] = self.currency
        return out

    def to_entry(self, date: dt.date) -> JournalEntry:
        """The journal entry this scheme posts on ``date``."""
        return JournalEntry(date=date, lines=self.lines, description=self.explanation)


# "[.]" rather than "\\." : some grammar compilers (llama.cpp) mistranslate the escape.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,14})([.][0-9]{1,3})?$"

POSTING_SCHEME_JSON_SCHEMA: dict[str, Any] = {
    "title": "PostingScheme",
    "type": "object",
    "additionalProperties": False,
    "required": ["document", "kind", "explanation", "lines"],
    "properties": {
        # Bounded strings make constrained decoding terminate even when a model repeats itself.
        "document": {"type": "string", "maxLength": 200},
        "kind": {"type": "string", "maxLength": 64},
        "explanation": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 40,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["account", "debit", "credit", "description"],
                "properties": {
                    "account": {"type": "string", "maxLength": 40},
                    "debit": {"type": "string", "pattern": AMOUNT_PATTERN},
                    "credit": {"type": "string", "pattern": AMOUNT_PATTERN},
                    "description": {"type": "string", "maxLength": 200},
                },
            },
        },
    },
}
"""The JSON schema of a posting scheme: passed to model servers as structured output."""


class _JsonNumber(str):
    """A number literal from JSON text, kept as text so that it never becomes a float."""


def parse_scheme(
    raw: str | bytes | Mapping[str, Any], max_lines: int = MAX_SCHEME_LINES
) -> tuple[PostingScheme | None, list[Violation]]:
    """Read a posting scheme from untrusted JSON text or an already-decoded object.

    Never raises: malformed JSON, missing fields, amounts as JSON numbers or with separators,
    negative or absurd amounts, oversized or deeply nested input all come back as
    violations. The scheme is ``None`` when nothing usable could be read; otherwise it holds
    the lines that could be read, and the violations say what was wrong with the others.
    """
    data: object
    if isinstance(raw, (str, bytes)):
        if len(raw) > MAX_SCHEME_BYTES:
            return None, [
                Violation(
                    "malformed",
                    f"the scheme is {len(raw)} bytes; at most {MAX_SCHEME_BYTES} are read",
                )
            ]
        try:
            data = json.loads(raw, parse_float=_JsonNumber, parse_int=_JsonNumber)
        except RecursionError:
            return None, [Violation("malformed", "the JSON is nested too deeply")]
        except (ValueError, TypeError) as exc:
            return None, [Violation("malformed", f"not valid JSON: {str(exc)[:200]}")]
    else:
        data = raw
    if not isinstance(data, Mapping):
        return None, [Violation("malformed", "a posting scheme must be a JSON object")]
    found: list[Violation] = []
    raw_lines = data.get("lines")
    if raw_lines is None:
        return None, [Violation("malformed", 'the scheme has no "lines"')]
    if not isinstance(raw_lines, list):
        return None, [Violation("malformed", '"lines" must be a list')]
    if len(raw_lines) > max_lines:
        return None, [
            Violation(
                "too_many_lines", f"{len(raw_lines)} lines; a scheme may have at most {max_lines}"
            )
        ]
    currency = data.get("currency")
    if currency is not None and not isinstance(currency, str):
        found.append(Violation("malformed", '"currency" must be a string'))
        currency = None
    lines, line_found = _read_lines(raw_lines, currency)
    found.extend(line_found)
    fields = {}
    for key in ("document", "kind", "explanation"):
        value = data.get(key, "")
        if isinstance(value, _JsonNumber):
            value = str(value)
        if not isinstance(value, str):
            found.append(Violation("malformed", f'"{key}" must be a string'))
            value = ""
        elif len(value) > MAX_DESCRIPTION:
            found.append(
                Violation("malformed", f'"{key}" is longer than {MAX_DESCRIPTION} characters')
            )
            value = value[:MAX_DESCRIPTION]
        fields[key] = value
    scheme = PostingScheme(
        document=fields["document"],
        kind=fields["kind"],
        explanation=fields["explanation"],
        lines=tuple(lines),
        currency=currency.upper() if currency else None,
    )
    return scheme, found


def _read_lines(raw_lines: object, currency: str | None) -> tuple[list[EntryLine], list[Violation]]:
    if not isinstance(raw_lines, list):
        return [], [Violation("malformed", '"lines" must be a list')]
    lines: list[EntryLine] = []
    found: list[Violation] = []
    for number, raw in enumerate(raw_lines, start=1):
        if not isinstance(raw, Mapping):
            found.append(Violation("malformed", "a line must be a JSON object", number))
            continue
        account = raw.get("account")
        if isinstance(account, _JsonNumber) or not isinstance(account, str) or not account.strip():
            found.append(
                Violation("malformed", '"account" must be the account code as a string', number)
            )
            continue
        amounts = []
        for side in ("debit", "credit"):
            value = raw.get(side, "0")
            if value is None or value == "":
                value = "0"
            if isinstance(value, _JsonNumber):
                found.append(
                    Violation(
                        "bad_amount",
                        f'{side} must be a string like "123.45", got the JSON '
                        f"number {str(value)[:30]}",
                        number,
                    )
                )
                break
            try:
                amounts.append(parse_amount(value, currency))
            except AmountError as exc:
                found.append(Violation("bad_amount", f"{side}: {exc}", number))
                break
        if len(amounts) != 2:
            continue
        description = raw.get("description", "")
        if not isinstance(description, str):
            description = str(description) if isinstance(description, _JsonNumber) else ""
        if len(description) > MAX_DESCRIPTION:
            found.append(
                Violation(
                    "malformed", f"description is longer than {MAX_DESCRIPTION} characters", number
                )
            )
            description = description[:MAX_DESCRIPTION]
        lines.append(EntryLine(account.strip(), amounts[0], amounts[1], description))
    return lines, found
