"""Text that a database can store: the one check shared by loading, validation and posting."""

from __future__ import annotations

from collections.abc import Iterable

NUL = "contains a NUL character, which databases cannot store"
LONE_SURROGATE = "is not valid Unicode (it has a lone surrogate)"


def unstorable(texts: Iterable[str]) -> str | None:
    """Why ``texts`` cannot all be stored as database text, or ``None`` when they can.

    PostgreSQL refuses a NUL character in text, and no UTF-8 database takes a lone surrogate
    (which JSON's ``"\\ud800"`` escape reads into). The answer completes a phrase whose
    subject is the caller's (``f"its text {problem}"``).
    """
    joined = "\x1f".join(texts)
    if "\x00" in joined:
        return NUL
    if not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return LONE_SURROGATE
    return None


def storable(text: str) -> str:
    """``text``, or ``""`` when a database cannot store it: what a reviewer's edit keeps of
    a model's explanation, which the reviewer has no way to correct."""
    return "" if unstorable((text,)) is not None else text
