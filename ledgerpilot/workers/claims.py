"""Documents claimed for drafting whose draft never came: claimed again, to be drafted again.

``poll_ais`` claims each new document once (:meth:`~ledgerpilot.review.ProposalStore.claim`)
and enqueues its draft. When that message is lost before a worker drafts it (Redis
restarted empty, the embedded broker's worker killed), the claim stays and the document
would never be enqueued again. :func:`reclaim_stale` finds such claims by their age and
moves them to the caller, one poller winning each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import update

from ledgerpilot.review import ProposalStore
from ledgerpilot.review.models import ClaimRow

IN_CHUNK = 500


def reclaim_stale(
    store: ProposalStore, document_ids: Sequence[str], older_than: dt.timedelta, by: str
) -> list[str]:
    """Claim anew, for ``by``, those of ``document_ids`` claimed longer than ``older_than`` ago.

    The caller passes documents that are pending and have no active proposal: their draft
    was lost (or is still queued behind a long backlog, when drafting it twice costs a
    backend call and stores nothing twice). One statement per chunk moves each claim, so
    of two pollers only one gets it.
    """
    now = dt.datetime.now(dt.UTC)
    moved: set[str] = set()
    ids = sorted(set(document_ids))
    for start in range(0, len(ids), IN_CHUNK):
        statement = (
            update(ClaimRow)
            .where(
                ClaimRow.document_id.in_(ids[start : start + IN_CHUNK]),
                ClaimRow.claimed_at <= now - older_than,
            )
            .values(claimed_by=by, claimed_at=now)
            .returning(ClaimRow.document_id)
        )
        with store.engine.begin() as conn:
            moved.update(conn.execute(statement).scalars())
    return [doc for doc in document_ids if doc in moved]
