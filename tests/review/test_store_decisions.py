"""Reviewers' decisions in the store: which transitions are allowed, by whom, and once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest

from ledgerpilot.ledger import Violation
from ledgerpilot.review import DecisionResult, NotAllowed, StoreError, WrongStatus
from ledgerpilot.review.store import ProposalNotFound, ProposalStore

from .store_kit import SCHEME, TAX_MISMATCH, add_people, clean, outcome

EDITED = {**SCHEME, "lines": [{**SCHEME["lines"][0], "account": "6000"}, SCHEME["lines"][1]]}
"""The rent booked as supplies instead."""


@pytest.fixture
def people(store: ProposalStore) -> ProposalStore:
    """The store with a user of every role."""
    add_people(store)
    return store


def drafted_as(store: ProposalStore, status: str) -> str:
    """A proposal without violations, brought to ``status`` the way it happens."""
    if status in ("proposed", "needs_review", "quarantined"):
        return store.save_draft(clean(status=status))
    pid = store.save_draft(clean())
    if status == "rejected":
        store.reject(pid, user="ana", reason="a duplicate of SI-0")
    else:
        store.approve(pid, user="ana")
        if status == "posted":
            store.mark_posted(pid, "4711", "worker")
    return pid


ACTIONS: dict[str, Callable[[ProposalStore, str], DecisionResult]] = {
    "edit": lambda store, pid: store.edit(pid, user="bob", scheme=EDITED, violations=[]),
    "approve": lambda store, pid: store.approve(pid, user="bob"),
    "reject": lambda store, pid: store.reject(pid, user="bob", reason="wrong partner"),
}
TRANSITIONS = [
    # (status before, action, status after; None: WrongStatus; "same": a repeat, no change)
    ("proposed", "edit", "needs_review"),
    ("proposed", "approve", "approved"),
    ("proposed", "reject", "rejected"),
    ("needs_review", "edit", "needs_review"),
    ("needs_review", "approve", "approved"),
    ("needs_review", "reject", "rejected"),
    ("quarantined", "edit", "needs_review"),
    ("quarantined", "approve", None),
    ("quarantined", "reject", "rejected"),
    ("approved", "edit", None),
    ("approved", "approve", "same"),
    ("approved", "reject", None),
    ("rejected", "edit", None),
    ("rejected", "approve", None),
    ("rejected", "reject", "same"),
    ("posted", "edit", None),
    ("posted", "approve", "same"),
    ("posted", "reject", None),
]


@pytest.mark.parametrize(("before", "action", "after"), TRANSITIONS)
def test_transitions(people: ProposalStore, before: str, action: str, after: str | None) -> None:
    pid = drafted_as(people, before)
    log = people.decisions(pid)
    if after is None:
        with pytest.raises(WrongStatus, match=f"is {before}; only"):
            ACTIONS[action](people, pid)
        assert people.get(pid).status == before  # type: ignore[union-attr]
        assert people.decisions(pid) == log
        return
    result = ACTIONS[action](people, pid)
    if after == "same":
        assert (result.applied, result.decision, result.proposal.status) == (False, None, before)
        assert people.decisions(pid) == log
        return
    assert result.applied
    assert result.proposal == people.get(pid)
    assert result.proposal.status == after
    assert people.decisions(pid) == [*log, result.decision]
    assert result.decision is not None
    assert (result.decision.user, result.decision.action) == ("bob", action)


def test_the_log_says_who_what_before_after_why_and_which_model(people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    edit = people.edit(pid, user="carl", scheme=EDITED, violations=[], reason="supplies, not rent")
    approve = people.approve(pid, user="ana", reason="looks right")
    assert edit.proposal.status == "needs_review"
    assert edit.proposal.violations == ()
    assert approve.proposal.scheme == EDITED
    assert approve.proposal.edited
    rows = [
        (d.user, d.action, d.before, d.after, d.reason, d.backend, d.model)
        for d in people.decisions(pid)
    ]
    model = "memory:800@2025-12-31"
    assert rows == [
        ("carl", "edit", SCHEME, EDITED, "supplies, not rent", "memory", model),
        ("ana", "approve", EDITED, EDITED, "looks right", "memory", model),
    ]
    rejected = people.save_draft(outcome("SI-2"))
    people.reject(rejected, user="bob", reason="a duplicate of SI-1")
    [reject] = people.decisions(rejected)
    assert (reject.before, reject.after, reject.reason) == (SCHEME, None, "a duplicate of SI-1")


def test_an_edit_keeps_the_violations_it_is_given(people: ProposalStore) -> None:
    pid = people.save_draft(clean())
    unbalanced = Violation("unbalanced", "debits 1000.00, credits 900.00")
    edited = people.edit(pid, user="carl", scheme=EDITED, violations=[unbalanced, TAX_MISMATCH])
    assert edited.proposal.violations == (unbalanced, TAX_MISMATCH)
    with pytest.raises(WrongStatus, match=r"2 violation\(s\) \(unbalanced, tax_mismatch\)"):
        people.approve(pid, user="ana")
    people.edit(pid, user="carl", scheme=SCHEME, violations=[])
    assert people.approve(pid, user="ana").proposal.status == "approved"


def test_an_edit_that_changes_no_line_changes_nothing(people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    result = people.edit(pid, user="ana", scheme=dict(SCHEME), violations=[])
    assert (result.applied, result.decision, result.proposal.status) == (False, None, "proposed")
    assert people.editors(pid) == set()
    assert people.decisions(pid) == []


def test_lines_with_violations_or_no_lines_are_not_approved(people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    with pytest.raises(WrongStatus, match=r"1 violation\(s\) \(tax_mismatch\); correct"):
        people.approve(pid, user="ana")
    empty = people.save_draft(clean("SI-2", status="needs_review", scheme=None))
    with pytest.raises(WrongStatus, match="has no lines to approve"):
        people.approve(empty, user="ana")
    assert people.counts()["approved"] == 0


@pytest.mark.parametrize(
    ("user", "action", "message"),
    [
        (
            "carl",
            "approve",
            "'carl' has the role clerk; approving or rejecting needs the role approver",
        ),
        (
            "carl",
            "reject",
            "'carl' has the role clerk; approving or rejecting needs the role approver",
        ),
        (
            "aud",
            "edit",
            "'aud' has the role auditor; editing lines needs the role clerk or approver",
        ),
        (
            "adm",
            "approve",
            "'adm' has the role admin; approving or rejecting needs the role approver",
        ),
        ("zoe", "approve", "there is no user 'zoe'"),
        ("zoe", "edit", "there is no user 'zoe'"),
    ],
)
def test_a_decision_needs_a_user_in_the_right_role(
    people: ProposalStore, user: str, action: str, message: str
) -> None:
    pid = people.save_draft(clean())
    with pytest.raises(NotAllowed, match=message):
        if action == "edit":
            people.edit(pid, user=user, scheme=EDITED, violations=[])
        elif action == "approve":
            people.approve(pid, user=user)
        else:
            people.reject(pid, user=user, reason="no")
    assert people.get(pid).status == "proposed"  # type: ignore[union-attr]
    assert people.decisions(pid) == []


def test_a_clerk_edits_and_an_approver_decides(people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    people.edit(pid, user="carl", scheme=EDITED, violations=[])
    assert people.editors(pid) == {"carl"}
    result = people.approve(pid, user="ana")
    assert (result.applied, result.proposal.status, result.proposal.edited) == (
        True,
        "approved",
        True,
    )


def test_an_approver_who_edited_the_lines_cannot_approve_them(people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    people.edit(pid, user="ana", scheme=EDITED, violations=[])
    with pytest.raises(NotAllowed, match=r"'ana' edited the lines .* segregation of duties"):
        people.approve(pid, user="ana")
    assert people.get(pid).status == "needs_review"  # type: ignore[union-attr]
    assert people.approve(pid, user="bob").proposal.status == "approved"
    assert [(d.user, d.action) for d in people.decisions(pid)] == [
        ("ana", "edit"),
        ("bob", "approve"),
    ]


def test_an_editor_may_still_reject(people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    people.edit(pid, user="ana", scheme=EDITED, violations=[])
    assert people.reject(pid, user="ana", reason="not ours").proposal.status == "rejected"


def test_a_deactivated_approver_decides_nothing(people: ProposalStore) -> None:
    pid = people.save_draft(clean())
    people.deactivate("ana")
    with pytest.raises(NotAllowed, match="'ana' is deactivated"):
        people.approve(pid, user="ana")


def test_a_rejection_needs_a_reason(people: ProposalStore) -> None:
    pid = people.save_draft(clean())
    with pytest.raises(StoreError, match="needs a reason"):
        people.reject(pid, user="ana", reason="  ")


def test_an_unknown_proposal(people: ProposalStore) -> None:
    with pytest.raises(ProposalNotFound, match="no proposal 'nope'"):
        people.approve("nope", user="ana")


def test_bulk_approval_takes_what_is_confident_and_clean(people: ProposalStore) -> None:
    sure = people.save_draft(clean("SI-1", confidence=0.97))
    unsure = people.save_draft(clean("SI-2", confidence=0.50))
    flawed = people.save_draft(outcome("SI-3", confidence=0.99))
    done = people.save_draft(clean("SI-4", confidence=0.99))
    people.approve(done, user="bob")
    own = people.save_draft(outcome("SI-5", confidence=0.99))
    people.edit(own, user="ana", scheme=EDITED, violations=[])
    results = people.bulk_approve(
        [sure, unsure, flawed, done, own, "nope"], user="ana", min_confidence=0.9
    )
    assert isinstance(results[0], DecisionResult) and results[0].applied
    assert results[0].decision is not None
    assert results[0].decision.reason == "bulk approval of proposals at confidence 0.90 or above"
    assert isinstance(results[1], NotAllowed)
    assert "confidence 0.50; bulk approval takes 0.90 or above" in str(results[1])
    assert isinstance(results[2], WrongStatus)
    assert isinstance(results[3], DecisionResult) and not results[3].applied
    assert isinstance(results[4], NotAllowed) and "segregation of duties" in str(results[4])
    assert isinstance(results[5], ProposalNotFound)
    assert people.counts()["approved"] == 2
    with pytest.raises(NotAllowed, match="'carl' has the role clerk; bulk approval needs"):
        people.bulk_approve([unsure], user="carl", min_confidence=0.1)
    with pytest.raises(StoreError, match="between 0 and 1"):
        people.bulk_approve([unsure], user="ana", min_confidence=90)


def test_approved_and_not_posted(people: ProposalStore) -> None:
    first = people.save_draft(clean("SI-1"))
    second = people.save_draft(clean("SI-2"))
    people.save_draft(clean("SI-3"))
    people.approve(first, user="ana")
    people.approve(second, user="ana")
    people.mark_posted(second, "4711", "worker")
    assert [p.id for p in people.approved_unposted()] == [first]
    assert people.approved_unposted(older_than=dt.timedelta(hours=1)) == []


# ------------------------------------------------------------ double clicks


def race(url: str, contenders: int, act: Callable[[ProposalStore, int], Any]) -> list[Any]:
    """Run ``act(store, n)`` in ``contenders`` threads at once, each with a store of its
    own (as separate web workers would have); what each returned or raised."""
    stores = [ProposalStore(url) for _ in range(contenders)]
    start = threading.Barrier(contenders)
    results: list[Any] = [None] * contenders

    def contend(n: int) -> None:
        start.wait()
        try:
            results[n] = act(stores[n], n)
        except Exception as exc:  # what the other click gets, checked by the caller
            results[n] = exc

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    return results


@pytest.mark.parametrize("round_", range(3))
def test_approvals_at_once_make_one_decision(url: str, people: ProposalStore, round_: int) -> None:
    pid = people.save_draft(clean())
    results = race(url, 4, lambda store, _: store.approve(pid, user="ana"))
    assert sorted(r.applied for r in results) == [False, False, False, True]
    assert [d.action for d in people.decisions(pid)] == ["approve"]


def test_an_approval_and_a_rejection_at_once_make_one_decision(
    url: str, people: ProposalStore
) -> None:
    pid = people.save_draft(clean())

    def decide(store: ProposalStore, n: int) -> DecisionResult:
        if n % 2:
            return store.approve(pid, user="ana")
        return store.reject(pid, user="bob", reason="no")

    results = race(url, 4, decide)
    applied = [r for r in results if isinstance(r, DecisionResult) and r.applied]
    assert len(applied) == 1
    # The others find it decided: a repeat of the same decision, or WrongStatus for the other.
    rest = [r for r in results if r not in applied]
    assert all(isinstance(r, WrongStatus | DecisionResult) for r in rest)
    [decision] = people.decisions(pid)
    assert decision == applied[0].decision
    assert people.get(pid).status == applied[0].proposal.status  # type: ignore[union-attr]


def test_the_same_edit_twice_at_once_is_one_edit(url: str, people: ProposalStore) -> None:
    pid = people.save_draft(outcome())
    results = race(
        url, 3, lambda store, _: store.edit(pid, user="carl", scheme=EDITED, violations=[])
    )
    assert sorted(r.applied for r in results) == [False, False, True]
    assert [d.action for d in people.decisions(pid)] == ["edit"]
