"""Proposal store, decisions and audit trail, and the approval web UI and JSON API.

:class:`ProposalStore` keeps drafted proposals and the append-only decision log (SQLite or
PostgreSQL, migrated from code); :mod:`ledgerpilot.agent.drafting` fills it and applies
decisions to it.
"""

from .models import STATUSES, StoredDecision, StoredProposal
from .store import ProposalNotFound, ProposalStore, StoreError, StoreNotReady

__all__ = [
    "STATUSES",
    "ProposalNotFound",
    "ProposalStore",
    "StoreError",
    "StoreNotReady",
    "StoredDecision",
    "StoredProposal",
]
