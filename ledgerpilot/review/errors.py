"""What the proposal store refuses, as exceptions a caller can map to an answer.

The web UI maps :class:`NotAllowed` to 403, :class:`WrongStatus` to 409,
:class:`ProposalNotFound` and :class:`UnknownUser` to 404, and any other
:class:`StoreError` to 400; the CLI prints the message.
"""

from __future__ import annotations


class StoreError(Exception):
    """Something the store cannot do; the message says why."""


class ProposalNotFound(StoreError):
    """There is no proposal with this id."""


class StoreNotReady(StoreError):
    """The database holds no proposal store, or an older revision of it."""


class UnknownUser(StoreError):
    """There is no user of this name."""


class NotAllowed(StoreError):
    """The user may not do this: no such active user, not their role, or segregation of
    duties (an approver may not approve lines they edited themselves)."""


class WrongStatus(StoreError):
    """The proposal's status does not allow this (approving a rejected proposal, say, or
    approving lines that still have violations)."""
