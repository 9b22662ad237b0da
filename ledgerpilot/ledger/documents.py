"""Documents: what arrives in the AIS to be posted (invoices, bank lines, payroll, ...)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .money import AmountError, format_amount, is_known_currency, parse_amount, quantize
from .violations import Violation

if TYPE_CHECKING:
    from .entries import JournalEntry

SUPPLIER_INVOICE = "supplier_invoice"
SUPPLIER_CREDIT_NOTE = "supplier_credit_note"
SALES_INVOICE = "sales_invoice"
SALES_CREDIT_NOTE = "sales_credit_note"
BANK_PAYMENT = "bank_payment"
BANK_RECEIPT = "bank_receipt"
PAYROLL = "payroll"
DEPRECIATION = "depreciation"
OTHER = "other"

KINDS = (
    SUPPLIER_INVOICE,
    SUPPLIER_CREDIT_NOTE,
    SALES_INVOICE,
    SALES_CREDIT_NOTE,
    BANK_PAYMENT,
    BANK_RECEIPT,
    PAYROLL,
    DEPRECIATION,
    OTHER,
)
"""The document kinds ledgerpilot knows; other kinds are accepted as given."""

MAX_DOCUMENT_LINES = 5000
"""More lines than any real document has; a larger one is refused as malformed."""


class DocumentError(ValueError):
    """A document that cannot be read (missing fields, junk amounts, bad date)."""


@dataclass(frozen=True, slots=True)
class Partner:
    """A supplier, customer, employee or bank that a document comes from or goes to."""

    id: str
    """The partner's id in the AIS."""
    name: str
    """The partner's name as printed on documents."""
    vat: str | None = None
    """VAT identification number (``HR12345678901``), when known."""
    country: str | None = None
    """ISO 3166 country code, when known."""


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """One line of a document: what was bought or sold, its net amount and VAT."""

    description: str
    net: Decimal
    tax_rate: Decimal
    """VAT rate in percent (``Decimal("25")``); 0 for exempt or reverse-charge lines."""
    tax: Decimal


@dataclass(frozen=True, slots=True)
class Document:
    """A document in the AIS; ``entry`` is its posted journal entry, ``None`` while pending."""

    id: str
    """The document's id as the AIS (or the interchange file) gives it."""
    kind: str
    """One of :data:`KINDS`, or another kind as the AIS names it."""
    number: str
    """The number printed on the document (invoice number, statement reference)."""
    date: dt.date
    partner: Partner | None
    currency: str
    lines: tuple[DocumentLine, ...]
    total_net: Decimal
    total_tax: Decimal
    total_gross: Decimal
    text: str = ""
    """Free text: the document's note, a bank line's purpose, a payroll period."""
    entry: JournalEntry | None = None

    @property
    def is_posted(self) -> bool:
        """Whether the document already has its journal entry."""
        return self.entry is not None

    def check(self) -> list[Violation]:
        """Whether the document's own figures add up: lines to totals, net + VAT to gross."""
        found: list[Violation] = []
        if not is_known_currency(self.currency):
            found.append(
                Violation(
                    "unknown_currency", f"currency {self.currency!r} is not one ledgerpilot knows"
                )
            )
        if self.lines:
            net = sum((ln.net for ln in self.lines), Decimal(0))
            tax = sum((ln.tax for ln in self.lines), Decimal(0))
            if net != self.total_net:
                found.append(
                    Violation(
                        "document_inconsistent",
                        f"lines add up to net {net}, the document says {self.total_net}",
                    )
                )
            if tax != self.total_tax:
                found.append(
                    Violation(
                        "document_inconsistent",
                        f"lines add up to VAT {tax}, the document says {self.total_tax}",
                    )
                )
        if self.total_net + self.total_tax != self.total_gross:
            found.append(
                Violation(
                    "document_inconsistent",
                    f"net {self.total_net} + VAT {self.total_tax} is not gross {self.total_gross}",
                )
            )
        for number, ln in enumerate(self.lines, start=1):
            expected = quantize(ln.net * ln.tax_rate / 100, self.currency)
            # A cent either way is how invoicing programs round; more is an error.
            if abs(expected - ln.tax) > Decimal("0.01"):
                found.append(
                    Violation(
                        "document_inconsistent",
                        f"document line {number}: VAT {ln.tax} is not {ln.tax_rate}% of {ln.net}",
                        number,
                    )
                )
        return found

    def to_json(self) -> dict[str, Any]:
        """The interchange JSON object (with ``entry`` when posted)."""
        c = self.currency
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "number": self.number,
            "date": self.date.isoformat(),
            "partner": None if self.partner is None else _partner_json(self.partner),
            "currency": c,
            "lines": [
                {
                    "description": ln.description,
                    "net": format_amount(ln.net, c),
                    "tax_rate": _rate(ln.tax_rate),
                    "tax": format_amount(ln.tax, c),
                }
                for ln in self.lines
            ],
            "total_net": format_amount(self.total_net, c),
            "total_tax": format_amount(self.total_tax, c),
            "total_gross": format_amount(self.total_gross, c),
        }
        if self.text:
            out["text"] = self.text
        if self.entry is not None:
            out["entry"] = self.entry.to_json(c)
        return out

    @classmethod
    def from_json(cls, data: object) -> Document:
        """Read an interchange JSON object; raises :class:`DocumentError` with the reason."""
        from .entries import JournalEntry, SchemeError

        if not isinstance(data, Mapping):
            raise DocumentError("a document must be a JSON object")
        doc_id = _text(data, "id", required=True)
        currency = _text(data, "currency", required=True).upper()
        kind = _text(data, "kind", required=True)
        date = _date(data.get("date"), "date")
        raw_lines = data.get("lines", [])
        if not isinstance(raw_lines, list):
            raise DocumentError("lines must be a list")
        if len(raw_lines) > MAX_DOCUMENT_LINES:
            raise DocumentError(f"{len(raw_lines)} lines; at most {MAX_DOCUMENT_LINES} are read")
        lines = tuple(_document_line(raw, n, currency) for n, raw in enumerate(raw_lines, 1))
        partner = data.get("partner")
        entry = None
        if data.get("entry") is not None:
            try:
                entry = JournalEntry.from_json(data["entry"], currency)
            except SchemeError as exc:
                raise DocumentError(f"entry: {exc}") from None
        return cls(
            id=doc_id,
            kind=kind,
            number=_text(data, "number") or doc_id,
            date=date,
            partner=None if partner is None else _partner(partner),
            currency=currency,
            lines=lines,
            total_net=_amount(data, "total_net", currency),
            total_tax=_amount(data, "total_tax", currency),
            total_gross=_amount(data, "total_gross", currency),
            text=_text(data, "text"),
            entry=entry,
        )


def _rate(rate: Decimal) -> str:
    text = f"{rate.normalize():f}"
    return text


def _partner_json(p: Partner) -> dict[str, Any]:
    out: dict[str, Any] = {"id": p.id, "name": p.name}
    if p.vat:
        out["vat"] = p.vat
    if p.country:
        out["country"] = p.country
    return out


def _text(data: Mapping[str, Any], key: str, required: bool = False) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise DocumentError(f"{key} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DocumentError(f"{key} must be a string, got {type(value).__name__}")
    return str(value)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(value: object, what: str) -> dt.date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise DocumentError(f'{what} must be a date as "YYYY-MM-DD", got {value!r}')
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise DocumentError(f"{what} {value[:40]!r} is not a date as YYYY-MM-DD") from None


def _amount(data: Mapping[str, Any], key: str, currency: str) -> Decimal:
    if key not in data or data[key] is None:
        raise DocumentError(f"{key} is missing")
    try:
        return parse_amount(data[key], currency)
    except AmountError as exc:
        raise DocumentError(f"{key}: {exc}") from None


def _document_line(raw: object, number: int, currency: str) -> DocumentLine:
    if not isinstance(raw, Mapping):
        raise DocumentError(f"document line {number} must be a JSON object")
    try:
        rate = parse_amount(raw.get("tax_rate", "0"))
        if not Decimal(0) <= rate <= Decimal(100):
            raise DocumentError(f"document line {number}: tax_rate {rate} is not a percentage")
        return DocumentLine(
            description=_text(raw, "description"),
            net=parse_amount(raw.get("net"), currency),
            tax_rate=rate,
            tax=parse_amount(raw.get("tax", "0"), currency),
        )
    except AmountError as exc:
        raise DocumentError(f"document line {number}: {exc}") from None


def _partner(raw: object) -> Partner:
    if not isinstance(raw, Mapping):
        raise DocumentError("partner must be a JSON object with id and name")
    pid = _text(raw, "id", required=True)
    return Partner(
        id=pid,
        name=_text(raw, "name") or pid,
        vat=_text(raw, "vat") or None,
        country=_text(raw, "country") or None,
    )


def date_from_json(value: object, what: str = "date") -> dt.date:
    """Read a ``YYYY-MM-DD`` date; raises :class:`DocumentError`."""
    return _date(value, what)
