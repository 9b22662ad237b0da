"""What a reviewer does from the web: check and edit lines, approve, reject, bulk-approve.

Each decision is recorded in the store first (roles, statuses and segregation of duties are
the store's to enforce, in the same transaction as the status change); only then is the
workers' ``dispatch`` asked to carry it out. A dispatch that fails loses nothing: the
approval is recorded, and the workers' sweep (or ``ledgerpilot post``) posts it later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProposalNotFound, StoreError
from ..models import DecisionResult, StoredProposal
from ..queue import QueueFilter
from ..store import ProposalStore
from .views import ChartCache, CheckedLines, check_lines, same_lines, scheme_lines

log = logging.getLogger(__name__)

Dispatch = Callable[[str, dict[str, Any]], None]
"""Asks the workers to carry out a decision already recorded in the store (post an
approval, close a rejected draft); ``None`` where no worker runs. The decision has the
agent's ``Decision`` form: ``{"action", "user", "lines", "reason"}``."""

BULK_LIMIT = 1000
"""Proposals approved by one "all at or above" request; the rest wait for the next one."""


class EditRefused(Exception):
    """Edited lines that are not saved: unreadable, or no change at all (HTTP 422)."""

    def __init__(self, message: str, checked: CheckedLines) -> None:
        super().__init__(message)
        self.message = message
        self.checked = checked


@dataclass(frozen=True)
class Done:
    """A recorded decision, and whether the workers were asked to carry it out."""

    result: DecisionResult
    dispatched: bool


@dataclass
class BulkOutcome:
    """What a bulk approval did, per proposal."""

    approved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    """Already approved: nothing changed."""
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(proposal id, why not)."""
    more: bool = False
    """Whether more proposals matched than one request approves (:data:`BULK_LIMIT`)."""


@dataclass(frozen=True)
class ReviewDesk:
    """The store, the chart and the workers, as the web's handlers use them."""

    store: ProposalStore
    charts: ChartCache
    dispatch: Dispatch | None

    def proposal(self, proposal_id: str) -> StoredProposal:
        """The proposal; :class:`ProposalNotFound` when there is none."""
        found = self.store.get(proposal_id)
        if found is None:
            raise ProposalNotFound(f"there is no proposal {proposal_id[:80]!r}")
        return found

    def check(self, proposal_id: str, lines: Sequence[Mapping[str, Any]]) -> CheckedLines:
        """Validate edited lines for the proposal, saving nothing."""
        return check_lines(self.proposal(proposal_id), lines, self.charts.get())

    def edit(
        self, proposal_id: str, user: str, lines: Sequence[Mapping[str, Any]], reason: str | None
    ) -> tuple[DecisionResult, CheckedLines]:
        """Save edited lines with their violations (the proposal goes back to review).

        Raises :class:`EditRefused` when the lines cannot be read or change nothing.
        """
        proposal = self.proposal(proposal_id)
        checked = check_lines(proposal, lines, self.charts.get())
        if checked.scheme is None:
            raise EditRefused("the lines cannot be read; nothing was saved", checked)
        if same_lines(checked.scheme["lines"], scheme_lines(proposal)):
            raise EditRefused("the lines are as they were; nothing was saved", checked)
        result = self.store.edit(
            proposal_id,
            user=user,
            scheme=checked.scheme,
            violations=checked.violations,
            reason=reason or None,
        )
        return result, checked

    def approve(self, proposal_id: str, user: str, reason: str | None) -> Done:
        """Record the approval, then ask the workers to post it."""
        result = self.store.approve(proposal_id, user=user, reason=reason or None)
        decision = {
            "action": "approve",
            "user": user,
            "lines": None,
            "reason": reason or None,
        }
        return Done(result, result.applied and self._dispatch(proposal_id, decision))

    def reject(self, proposal_id: str, user: str, reason: str) -> Done:
        """Record the rejection, then ask the workers to close the draft."""
        result = self.store.reject(proposal_id, user=user, reason=reason)
        decision = {"action": "reject", "user": user, "lines": None, "reason": reason}
        return Done(result, result.applied and self._dispatch(proposal_id, decision))

    def bulk_approve(
        self, user: str, min_confidence: float, proposal_ids: Sequence[str] | None
    ) -> BulkOutcome:
        """Approve the given proposals, or (``None``) every proposed one at or above
        ``min_confidence``; those below it, or not allowed, are refused one by one."""
        outcome = BulkOutcome()
        if proposal_ids is None:
            page = self.store.queue(
                QueueFilter(status="proposed", min_confidence=min_confidence),
                sort="attention",
                page=1,
                per_page=BULK_LIMIT,
            )
            ids = [p.id for p in page.items]
            outcome.more = page.total > len(ids)
        else:
            ids = list(dict.fromkeys(proposal_ids))[:BULK_LIMIT]
            outcome.more = len(set(proposal_ids)) > len(ids)
        if not ids:
            return outcome
        results = self.store.bulk_approve(ids, user=user, min_confidence=min_confidence)
        for proposal_id, result in zip(ids, results, strict=True):
            if isinstance(result, DecisionResult):
                if result.applied:
                    outcome.approved.append(proposal_id)
                    decision = {
                        "action": "approve",
                        "user": user,
                        "lines": None,
                        "reason": None,
                    }
                    self._dispatch(proposal_id, decision)
                else:
                    outcome.unchanged.append(proposal_id)
            else:
                outcome.refused.append((proposal_id, _why(result)))
        return outcome

    def _dispatch(self, proposal_id: str, decision: dict[str, Any]) -> bool:
        if self.dispatch is None:
            return False
        try:
            self.dispatch(proposal_id, decision)
        except Exception:  # recorded already: the sweep carries it out later
            log.exception("could not hand proposal %s's %s to the workers", proposal_id, decision)
            return False
        return True


def _why(error: object) -> str:
    if isinstance(error, StoreError):
        return str(error)
    return str(error) or type(error).__name__
