"""Violations: accounting problems reported as values, never raised."""

from __future__ import annotations

from typing import NamedTuple


class Violation(NamedTuple):
    """One thing wrong with a posting scheme or a document."""

    code: str
    """A stable machine code from :data:`CODES`."""
    message: str
    """What is wrong, in words a bookkeeper understands."""
    line: int | None = None
    """1-based number of the scheme line at fault, or ``None`` for the whole scheme."""

    def as_dict(self) -> dict[str, object]:
        """The JSON form ``{"code", "message", "line"}``."""
        return {"code": self.code, "message": self.message, "line": self.line}


CODES: dict[str, str] = {
    # The contract of the architecture.
    "unbalanced": "total debits differ from total credits",
    "unknown_account": "an account code that is not in the chart",
    "non_postable_account": "an account that takes no postings (a summary or group account)",
    "both_sides": "a line with both a debit and a credit amount",
    "zero_line": "a line with neither a debit nor a credit amount",
    "negative_amount": "a negative debit or credit",
    "empty": "a scheme without lines",
    "total_mismatch": "the entry does not settle the document's gross total",
    "tax_mismatch": "the VAT in the entry differs from the document's VAT",
    "currency_mismatch": "the scheme is in another currency than its document",
    # What the work showed is needed as well.
    "malformed": "the scheme is not a JSON object of the posting-scheme form",
    "bad_amount": "an amount that is not money (a float, separators, too many decimals, junk)",
    "too_many_lines": "more lines than any real entry has",
    "unknown_currency": "a currency whose minor unit ledgerpilot does not know",
    "wrong_document": "the scheme names another document than the one being posted",
    "document_inconsistent": "the document's own figures do not add up",
    "unstorable_text": "text a database cannot store (a NUL character, a lone surrogate)",
}
"""Every violation code, with what it means."""
