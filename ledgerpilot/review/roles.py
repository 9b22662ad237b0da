"""Roles and what each may do.

A clerk looks at drafts and corrects their lines; an approver approves and rejects them; an
auditor reads everything, the decision and access logs included; an admin manages users.
Everyone signed in may look at the queue and ask the assistant.
"""

from __future__ import annotations

ROLES = ("clerk", "approver", "auditor", "admin")
"""Every role a user can have."""

PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "edit": frozenset({"clerk", "approver"}),
    "decide": frozenset({"approver"}),
    "bulk_approve": frozenset({"approver"}),
    "audit": frozenset({"auditor", "admin"}),
    "users": frozenset({"admin"}),
    "ask": frozenset(ROLES),
}
"""Each action, and the roles allowed to do it."""


def can(role: str, action: str) -> bool:
    """Whether a user with ``role`` may do ``action``; an unknown action is a programming error."""
    try:
        allowed = PERMISSIONS[action]
    except KeyError:
        raise ValueError(
            f"action must be one of {', '.join(PERMISSIONS)}, not {action!r}"
        ) from None
    return role in allowed
