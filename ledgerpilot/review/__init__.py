"""Proposal store, decisions and audit trail, users and roles, and the approval queue.

:class:`ProposalStore` keeps drafted proposals, the append-only decision log, users with
their sessions and API tokens, and the access log (SQLite or PostgreSQL, migrated from
code). It is where reviewers' decisions are checked and recorded: roles, segregation of
duties, and which status may follow which. :mod:`ledgerpilot.agent.drafting` fills it and
carries its decisions out.
"""

from .errors import (
    NotAllowed,
    ProposalNotFound,
    StoreError,
    StoreNotReady,
    UnknownUser,
    WrongStatus,
)
from .models import (
    STATUSES,
    AccessRecord,
    DecisionResult,
    StoredDecision,
    StoredProposal,
    User,
)
from .queue import SORTS, QueueFilter, QueuePage
from .roles import PERMISSIONS, ROLES, can
from .store import ProposalStore

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "SORTS",
    "STATUSES",
    "AccessRecord",
    "DecisionResult",
    "NotAllowed",
    "ProposalNotFound",
    "ProposalStore",
    "QueueFilter",
    "QueuePage",
    "StoreError",
    "StoreNotReady",
    "StoredDecision",
    "StoredProposal",
    "UnknownUser",
    "User",
    "WrongStatus",
    "can",
]
