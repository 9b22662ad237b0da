"""Checks the bulk path makes per document: can the schema hold it, is it the stored one."""

from __future__ import annotations

from decimal import Decimal

from ledgerpilot.ledger import Document, JournalEntry
from ledgerpilot.ledger.money import MAX_AMOUNT
from ledgerpilot.ledger.text import unstorable

from .schema import CODE_LENGTH, KEY_LENGTH

ZERO = Decimal(0)
MAX_RATE = Decimal(1000)
"""A VAT rate of this many percent or more is junk (the column holds up to 99999.9999)."""


def check_loadable(doc: Document, postable: frozenset[str] | None) -> str | None:
    """Why the reference schema cannot take ``doc`` as given, or ``None`` when it can.

    Cheap on purpose (it runs for every document of a bulk load): key lengths, amounts and
    rates in range, text that databases can store (no NUL, no lone surrogates), and, unless
    ``postable`` is ``None``, an entry on postable accounts with one positive amount per line
    that balances.
    """
    if not 0 < len(doc.id) <= KEY_LENGTH:
        return f"the document id must have 1 to {KEY_LENGTH} characters"
    if not 0 < len(doc.kind) <= CODE_LENGTH:
        return f"the kind must have 1 to {CODE_LENGTH} characters"
    if len(doc.currency) != 3:
        return f"the currency {doc.currency[:20]!r} is not a three-letter code"
    texts = [doc.id, doc.kind, doc.number, doc.currency, doc.text]
    partner = doc.partner
    if partner is not None:
        if not 0 < len(partner.id) <= KEY_LENGTH:
            return f"the partner id must have 1 to {KEY_LENGTH} characters"
        texts += (partner.id, partner.name, partner.vat or "", partner.country or "")
    amounts = [doc.total_net, doc.total_tax, doc.total_gross]
    for ln in doc.lines:
        texts.append(ln.description)
        amounts += (ln.net, ln.tax)
        if not ZERO <= ln.tax_rate < MAX_RATE:
            return f"the VAT rate {ln.tax_rate} is not a percentage"
    if max(amounts) >= MAX_AMOUNT or min(amounts) <= -MAX_AMOUNT:
        return "an amount is absurdly large"
    entry = doc.entry
    if entry is not None:
        texts += (entry.description, entry.posted_by or "")
        texts += (ln.description for ln in entry.lines)
        if postable is not None:
            problem = _check_entry(entry, postable)
            if problem is not None:
                return problem
    problem = unstorable(texts)
    return None if problem is None else f"its text {problem}"


def _check_entry(entry: JournalEntry, postable: frozenset[str]) -> str | None:
    if not entry.lines:
        return "its journal entry has no lines"
    debit = credit = ZERO
    for number, ln in enumerate(entry.lines, start=1):
        if ln.account not in postable:
            return (
                f"entry line {number}: account {ln.account[:40]!r} is not a postable "
                "account of the chart"
            )
        if ln.debit < ZERO or ln.credit < ZERO:
            return f"entry line {number}: a negative amount"
        if ln.debit and ln.credit:
            return f"entry line {number}: both a debit and a credit"
        if not ln.debit and not ln.credit:
            return f"entry line {number}: no amount"
        debit += ln.debit
        credit += ln.credit
    if debit >= MAX_AMOUNT:
        return "its journal entry has absurdly large amounts"
    if debit != credit:
        return f"its journal entry does not balance (debits {debit}, credits {credit})"
    return None


def difference(stored: Document, new: Document) -> str | None:
    """How the ``stored`` document differs from ``new`` of the same id, or ``None``.

    The entry counts only when both have one: a pending copy of a posted document is the
    same document, and so is a posted copy of a pending one (its entry is then attached).
    Partners are compared by id; a partner's name or VAT number may change over time.
    """
    fields = (
        ("kind", stored.kind, new.kind),
        ("number", stored.number, new.number),
        ("date", stored.date, new.date),
        ("partner", _partner_id(stored), _partner_id(new)),
        ("currency", stored.currency, new.currency),
        ("total_net", stored.total_net, new.total_net),
        ("total_tax", stored.total_tax, new.total_tax),
        ("total_gross", stored.total_gross, new.total_gross),
        ("text", stored.text, new.text),
    )
    found = [
        f"{name} is {_short(old)} there, {_short(now)} here"
        for name, old, now in fields
        if old != now
    ]
    if stored.lines != new.lines:
        found.append("the document lines differ")
    if stored.entry is not None and new.entry is not None:
        a, b = stored.entry, new.entry
        if (a.date, a.description, a.lines) != (b.date, b.description, b.lines):
            found.append("the journal entries differ")
    return "; ".join(found) if found else None


def _partner_id(doc: Document) -> str | None:
    return None if doc.partner is None else doc.partner.id


def _short(value: object) -> str:
    text = str(value)
    return repr(text[:40] + "...") if len(text) > 40 else repr(text)
