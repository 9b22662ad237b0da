"""Posting one approved entry into the reference schema: one transaction, idempotent on a key.

The posting key (a proposal's id, say) is stored with the entry under a unique constraint,
so that retries, crashes and double clicks produce at most one entry: a key seen before
returns the entry it produced, and two posts racing with one key are settled by the
constraint.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, exc, insert, select

from ledgerpilot.ledger import JournalEntry, PostingScheme, validate
from ledgerpilot.ledger.text import unstorable
from ledgerpilot.ledger.validation import check_document_identity

from .errors import AlreadyPosted, DocumentNotFound, EntryRefused, PostingConflict, PostingError
from .reading import list_documents, read_chart
from .schema import KEY_LENGTH, documents, journal_entries, journal_lines

d, e = documents, journal_entries


@dataclass(frozen=True, slots=True)
class PostingResult:
    """The entry a posting produced, and whether this call created it."""

    entry_id: str
    created: bool


def post_entry(
    engine: Engine,
    write_engine: Engine,
    document_id: str,
    entry: JournalEntry,
    key: str,
    posted_by: str | None = None,
) -> PostingResult:
    """Post ``entry`` for the document with external id ``document_id``; see the module doc."""
    if not key or len(key) > KEY_LENGTH:
        raise PostingError(f"the posting key must have 1 to {KEY_LENGTH} characters")
    try:
        with write_engine.begin() as conn:
            found = _entry_by_key(conn, key)
            if found is not None:
                return _known(found, document_id, key)
            return _insert_entry(conn, document_id, entry, key, posted_by)
    except exc.IntegrityError:
        # Another post with this key (or for this document) committed first.
        with engine.connect() as conn:
            found = _entry_by_key(conn, key)
            if found is None:
                other = _entry_of_document(conn, document_id)
                raise AlreadyPosted(_already_posted(document_id, other)) from None
        return _known(found, document_id, key)


def _insert_entry(
    conn: Connection, document_id: str, entry: JournalEntry, key: str, posted_by: str | None
) -> PostingResult:
    docs = list_documents(conn, d.c.external_id == document_id)
    if not docs:
        raise DocumentNotFound(f"there is no document {document_id[:80]!r} in the AIS")
    document = docs[0]
    if document.entry is not None:
        other = _entry_of_document(conn, document_id)
        if other is not None and other.posting_key == key:
            # Posted with this very key since our first look (a concurrent retry).
            return PostingResult(str(other.id), False)
        raise AlreadyPosted(_already_posted(document_id, other))
    chart = read_chart(conn)
    scheme = PostingScheme(
        document=document_id,
        kind=document.kind,
        explanation=entry.description,
        lines=entry.lines,
        currency=document.currency,
    )
    violations = validate(scheme, chart) + check_document_identity(scheme, chart, document)
    problem = unstorable(
        [posted_by or "", entry.description, *(ln.description for ln in entry.lines)]
    )
    if problem is not None:
        raise EntryRefused(f"the entry's text {problem}")
    if violations:
        listed = "; ".join((f"line {v.line}: " if v.line else "") + v.message for v in violations)
        raise EntryRefused(f"entry for document {document_id!r} refused: {listed}", violations)
    doc_db_id = conn.execute(select(d.c.id).where(d.c.external_id == document_id)).scalar_one()
    entry_id: int = conn.execute(
        insert(e)
        .values(
            document_id=doc_db_id,
            date=entry.date,
            description=entry.description,
            posting_key=key,
            posted_by=posted_by or entry.posted_by,
            posted_at=entry.posted_at or dt.datetime.now(dt.UTC),
        )
        .returning(e.c.id)
    ).scalar_one()
    conn.execute(
        insert(journal_lines),
        [
            {
                "entry_id": entry_id,
                "position": n,
                "account_code": ln.account,
                "debit": ln.debit,
                "credit": ln.credit,
                "description": ln.description,
            }
            for n, ln in enumerate(entry.lines, start=1)
        ],
    )
    return PostingResult(str(entry_id), True)


def _entry_by_key(conn: Connection, key: str) -> Any:
    return conn.execute(
        select(e.c.id, d.c.external_id)
        .select_from(e.outerjoin(d, e.c.document_id == d.c.id))
        .where(e.c.posting_key == key)
    ).first()


def _entry_of_document(conn: Connection, document_id: str) -> Any:
    return conn.execute(
        select(e.c.id, e.c.posting_key)
        .select_from(e.join(d, e.c.document_id == d.c.id))
        .where(d.c.external_id == document_id)
    ).first()


def _known(found: Any, document_id: str, key: str) -> PostingResult:
    if found.external_id != document_id:
        raise PostingConflict(
            f"posting key {key[:80]!r} was already used for entry {found.id} of document "
            f"{str(found.external_id)[:80]!r}, not {document_id[:80]!r}"
        )
    return PostingResult(str(found.id), False)


def _already_posted(document_id: str, other: Any) -> str:
    if other is None:
        return f"document {document_id[:80]!r} is already posted"
    how = f"under the key {other.posting_key!r}" if other.posting_key else "(loaded history)"
    return f"document {document_id[:80]!r} is already posted as entry {other.id} {how}"
