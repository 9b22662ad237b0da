"""Run in a process of its own: the Tryton connector on PostgreSQL (trytond picks its backend
once per process, and the test process already runs it on SQLite).

``python -m tests.connectors.tryton_pg_check build URL``: build the test company's Tryton
database into the empty PostgreSQL database at the ``tryton+`` URL.
``python -m tests.connectors.tryton_pg_check post URL``: read it, post one approved entry,
check the move with Tryton's model layer, and print what was seen as one JSON line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ledgerpilot.connectors import AlreadyPosted
from ledgerpilot.connectors.tryton import demo, open_tryton
from tests.connectors import tryton_kit as kit


def build(url: str) -> None:
    """Build the kit's company into ``url``."""
    company = kit.company()
    demo.build(url, company.chart, company.history(), company.truth, company.name)


def post(url: str) -> dict[str, Any]:
    """Read, post once, post again, and look in Tryton; what was seen."""
    with open_tryton(url) as ais:
        pending = ais.pending_documents()
        history = list(ais.history())
        document = next(d for d in pending if d.kind == "supplier_invoice")
        entry = kit.entry_from_invoice(ais, document)
        first = ais.post_entry(document.id, entry, "pg-1")
        second = ais.post_entry(document.id, entry, "pg-1")
        try:
            ais.post_entry(document.id, entry, "pg-2")
            refused = False
        except AlreadyPosted:
            refused = True

        def seen(pool: Any) -> dict[str, Any]:
            move = pool.get("account.move")(int(first.entry_id))
            return {
                "state": move.state,
                "balance": str(sum(ln.debit - ln.credit for ln in move.lines)),
                "in_period": move.period.start_date <= move.date <= move.period.end_date,
                "invoice": move.origin.state,
            }

        return {
            "chart": len(ais.chart()),
            "pending": len(pending),
            "history": len(history),
            "balanced": all(d.entry is not None and d.entry.is_balanced() for d in history),
            "consistent": all(not d.check() for d in pending + history),
            "created": [first.created, second.created],
            "same_move": first.entry_id == second.entry_id,
            "refused": refused,
            "tryton": kit.in_tryton(ais, seen),
            "after": [len(ais.pending_documents()), ais.count_history()],
            "ok": ais.check().ok,
        }


if __name__ == "__main__":
    command, url = sys.argv[1], sys.argv[2]
    if command == "build":
        build(url)
    else:
        print(json.dumps(post(url)))
