"""Writing an approved entry into Tryton as the invoice's move, through Tryton's model layer.

Why trytond's model layer and not SQL inserts: a Tryton move is more than rows. Tryton
numbers it from the fiscal year's sequence when it is posted, checks that it balances, that
its period is open, that party-required accounts have a party (and other accounts none),
that no account is closed, and keeps the invoice's workflow (number, state, lines to pay)
in step with its move. Inserting rows would bypass all of that, and a later upgrade of
Tryton could change any of it. proteus would work too, but it is a client API over the
same model layer, slower and with nothing more to offer in process.

What is written: a move in the invoice's journal, in the period of the entry's date, with
``origin`` the invoice (``account.invoice,<id>``), one line per entry line (with the
invoice's party on party-required accounts, the due date on the invoice's payable or
receivable account). It becomes the invoice's move (replacing the draft move Tryton
proposes when a supplier invoice is validated). Under ``post=posted`` the invoice is then
posted by Tryton's own workflow, which posts the move; under ``post=draft`` the invoice is
validated and the move waits, as a draft, for a Tryton user to post the invoice.

The posting key rides in the move's description as ``... [ledgerpilot:KEY]``: visible to a
Tryton user, kept by Tryton through posting, and found again without a table or module of
ledgerpilot's own in the Tryton database (Tryton's move has no free reference field; adding
one would take a Tryton module). Two posts of one document are serialised by locking the
invoice's row in the Tryton transaction, and the key is looked up again under that lock.
"""

from __future__ import annotations

from typing import Any

from ledgerpilot.ledger import JournalEntry

from ..errors import AlreadyPosted, EntryRefused, PostingConflict
from ..posting import PostingResult
from .reading import marker, split_description
from .runtime import PostMode


def write_move(
    pool: Any,
    company_id: int,
    invoice_id: int,
    document_id: str,
    entry: JournalEntry,
    key: str,
    mode: PostMode,
) -> PostingResult:
    """Write ``entry`` as the move of invoice ``invoice_id`` (run inside :func:`runtime.run`)."""
    from trytond.exceptions import UserError, UserWarning

    Invoice = pool.get("account.invoice")
    Move = pool.get("account.move")
    Line = pool.get("account.move.line")
    Account = pool.get("account.account")
    Period = pool.get("account.period")

    invoice = Invoice(invoice_id)
    Invoice.lock([invoice])
    known = _by_key(Move, key)
    if known is not None:
        origin = known.origin
        if getattr(origin, "__name__", None) != "account.invoice" or origin.id != invoice_id:
            raise PostingConflict(
                f"posting key {key[:80]!r} was already used for move {known.id} of "
                f"{_origin_text(origin)}, not {document_id[:80]!r}"
            )
        return PostingResult(str(known.id), False)
    current = invoice.move
    if invoice.state not in ("draft", "validated") or (
        current is not None
        and (current.state == "posted" or split_description(current.description)[1] is not None)
    ):
        other = split_description(current.description)[1] if current is not None else None
        how = f" under the key {other!r}" if other else ""
        raise AlreadyPosted(
            f"document {document_id[:80]!r} is already posted"
            + (f" as move {current.id}{how}" if current is not None else f" ({invoice.state})")
        )
    try:
        accounts = {
            a.code: a
            for a in Account.search(
                [("company", "=", company_id), ("code", "in", [ln.account for ln in entry.lines])]
            )
        }
        period = Period.find(invoice.company, date=entry.date)
        lines = []
        missing = sorted({ln.account for ln in entry.lines} - set(accounts))
        if missing:
            raise EntryRefused(f"Tryton has no account {', '.join(missing)}")
        for ln in entry.lines:
            account = accounts[ln.account]
            line = Line(
                account=account,
                debit=ln.debit,
                credit=ln.credit,
                description=ln.description or None,
            )
            if account.party_required:
                line.party = invoice.party
            if account == invoice.account:
                line.maturity_date = invoice.payment_term_date or entry.date
            lines.append(line)
        move = Move(
            company=invoice.company,
            journal=invoice.journal,
            period=period,
            date=entry.date,
            origin=invoice,
            description=f"{entry.description} {marker(key)}".strip(),
            lines=lines,
        )
        move.save()
        if current is not None:
            # The draft move Tryton proposed when the supplier invoice was validated.
            invoice.move = None
            invoice.save()
            Move.delete([current])
        invoice.move = move
        if invoice.invoice_date is None:
            invoice.invoice_date = entry.date
        if entry.date != invoice.invoice_date:
            invoice.accounting_date = entry.date
        invoice.save()
        if mode == "posted":
            Invoice.post([invoice])
        elif invoice.state == "draft":
            Invoice.validate_invoice([invoice])
    except (UserError, UserWarning) as error:
        raise EntryRefused(f"Tryton refused the entry for {document_id[:80]!r}: {error}") from None
    return PostingResult(str(move.id), True)


def _by_key(Move: Any, key: str) -> Any:
    """The move written under ``key``, if any."""
    text = marker(key)
    # LIKE's wildcards in a key only widen the search; the exact match is made here.
    for move in Move.search([("description", "like", f"%{text}")], order=[("id", "ASC")]):
        if (move.description or "").endswith(text):
            return move
    return None


def _origin_text(origin: Any) -> str:
    if origin is None:
        return "no document"
    name = getattr(origin, "__name__", "")
    if name == "account.invoice":
        return f"document 'invoice-{origin.id}'"
    return f"{name},{getattr(origin, 'id', '?')}"
