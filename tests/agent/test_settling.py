"""decide and settle: the store decides (roles, segregation of duties), the graph posts once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.agent.checkpoints import open_checkpointer
from ledgerpilot.agent.drafting import DecisionError, decide, draft_pending, settle
from ledgerpilot.agent.graph import build_graph, thread_config
from ledgerpilot.agent.nodes import InvalidDecision
from ledgerpilot.agent.state import DraftOutcome
from ledgerpilot.connectors import ConnectorUnavailable, ReferenceAIS
from ledgerpilot.ledger import JournalEntry
from ledgerpilot.review import NotAllowed, ProposalStore, WrongStatus
from tests.agent.drafting_kit import (
    ScriptedBackend,
    add_reviewers,
    approve,
    edit,
    make_company,
    reject,
    rent_invoice,
    rent_lines,
    right_rent,
    sqlite_url,
)

INBOX = [rent_invoice(f"SI-{n}", f"2024-03-0{n}") for n in (3, 4, 5)]
GARBAGE = ScriptedBackend(["[1, 2, 3]"])
"""A backend that never answers a scheme: its drafts are quarantined."""


@pytest.fixture
def ais(tmp_path: Path) -> Iterator[ReferenceAIS]:
    """The small company with three pending rent invoices."""
    with ReferenceAIS(make_company(sqlite_url(tmp_path / "ais.sqlite"), INBOX)) as connector:
        yield connector


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProposalStore]:
    """A new proposal store with the test reviewers: ana, bob (approvers), cleo (clerk)."""
    with ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as created:
        add_reviewers(created)
        yield created


def drafted(ais: ReferenceAIS, store: ProposalStore, backend: Any = None) -> DraftOutcome:
    """Draft SI-3 (the right rent scheme by default); its outcome."""
    (outcome,) = draft_pending(ais, store, backend or ScriptedBackend([right_rent]), limit=1)
    assert outcome.proposal_id is not None
    return outcome


def log(store: ProposalStore, proposal_id: str) -> list[tuple[str, str]]:
    """The decision log as (user, action)."""
    return [(d.user, d.action) for d in store.decisions(proposal_id)]


def posted(ais: ReferenceAIS) -> int:
    """How many documents the AIS holds posted."""
    return ais.summary().posted


def graph_values(store: ProposalStore, thread: str | None) -> tuple[tuple[str, ...], Any]:
    """The paused graph's next nodes and state values."""
    assert thread is not None
    with open_checkpointer(store.url) as saver:
        snapshot = build_graph(saver).get_state(thread_config(thread))
    return snapshot.next, snapshot.values


def test_an_approval_posts_once_through_the_graph(ais: ReferenceAIS, store: ProposalStore) -> None:
    outcome = drafted(ais, store)
    pid = outcome.proposal_id
    assert pid is not None
    before = posted(ais)
    done = decide(store, ais, pid, approve("ana"))
    assert (done.applied, done.proposal.status) == (True, "posted")
    entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert entry is not None and entry.posted_by == "ana"
    assert done.proposal.ais_entry_id == entry.id
    assert log(store, pid) == [("ana", "approve"), ("ana", "post")]
    waiting, values = graph_values(store, outcome.thread_id)
    assert (waiting, values["status"], values["posting"]["key"]) == ((), "posted", pid)
    # Again, by anyone, and settling again: nothing more.
    assert decide(store, ais, pid, approve("bob")).applied is False
    assert settle(store, ais, pid).applied is False
    assert posted(ais) == before + 1
    assert log(store, pid) == [("ana", "approve"), ("ana", "post")]


def test_only_an_approver_decides(ais: ReferenceAIS, store: ProposalStore) -> None:
    pid = drafted(ais, store).proposal_id
    assert pid is not None
    with pytest.raises(NotAllowed):
        decide(store, ais, pid, approve("cleo"))
    with pytest.raises(NotAllowed):
        decide(store, ais, pid, approve("dan"))
    with pytest.raises(NotAllowed, match="there is no user 'eve'"):
        decide(store, ais, pid, approve("eve"))
    assert store.decisions(pid) == []
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]


def test_an_edit_waits_for_a_second_approver_who_posts_the_edited_lines(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcome = drafted(ais, store)
    pid = outcome.proposal_id
    assert pid is not None
    lines = [{**line, "description": "edited"} for line in rent_lines()]
    done = decide(store, ais, pid, edit("ana", lines))
    assert (done.applied, done.proposal.status) == (True, "needs_review")
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]
    # The same lines again are no second edit.
    assert decide(store, ais, pid, edit("ana", lines)).applied is False
    with pytest.raises(NotAllowed, match="segregation of duties"):
        decide(store, ais, pid, approve("ana"))
    done = decide(store, ais, pid, approve("bob"))
    assert done.proposal.status == "posted"
    entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert entry is not None and entry.posted_by == "bob"
    assert [line.description for line in entry.lines] == ["edited"] * 3
    assert log(store, pid) == [("ana", "edit"), ("bob", "approve"), ("bob", "post")]
    stored = store.get(pid)
    assert stored is not None and stored.edited


def test_an_edit_that_does_not_validate_cannot_be_approved(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    pid = drafted(ais, store).proposal_id
    assert pid is not None
    done = decide(store, ais, pid, edit("cleo", rent_lines(net="900.00")))
    assert done.proposal.status == "needs_review"
    assert [v.code for v in done.proposal.violations] == ["unbalanced"]
    with pytest.raises(WrongStatus, match="violation"):
        decide(store, ais, pid, approve("ana"))
    done = decide(store, ais, pid, edit("cleo", rent_lines()))
    assert done.proposal.violations == ()
    assert decide(store, ais, pid, approve("ana")).proposal.status == "posted"


def test_approving_a_draft_with_violations_as_it_is_is_refused(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    backend = ScriptedBackend(['{"lines": [{"account": "6120", "debit": "1.00"}]}'])
    outcome = drafted(ais, store, backend)
    assert outcome.status == "needs_review"
    assert outcome.proposal_id is not None
    with pytest.raises(WrongStatus, match="correct its lines before approving"):
        decide(store, ais, outcome.proposal_id, approve("ana"))
    assert store.decisions(outcome.proposal_id) == []
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]


def test_a_rejection_closes_the_paused_graph(ais: ReferenceAIS, store: ProposalStore) -> None:
    outcome = drafted(ais, store)
    pid = outcome.proposal_id
    assert pid is not None
    done = decide(store, ais, pid, reject("bob", "wrong period"))
    assert (done.applied, done.proposal.status) == (True, "rejected")
    waiting, values = graph_values(store, outcome.thread_id)
    assert (waiting, values["status"], values["decision"]["user"]) == ((), "rejected", "bob")
    assert decide(store, ais, pid, reject("bob", "wrong period")).applied is False
    with pytest.raises(WrongStatus):
        decide(store, ais, pid, approve("ana"))
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]


def test_a_draft_quarantined_at_drafting_is_edited_approved_and_posted_through_post(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcome = drafted(ais, store, GARBAGE)
    pid = outcome.proposal_id
    assert (outcome.status, pid) == ("quarantined", outcome.proposal_id)
    assert pid is not None
    assert graph_values(store, outcome.thread_id)[0] == ()  # the graph has ended
    decide(store, ais, pid, edit("cleo", rent_lines()))
    done = decide(store, ais, pid, approve("ana"))
    assert done.proposal.status == "posted"
    waiting, values = graph_values(store, outcome.thread_id)
    assert (waiting, values["status"], values["posting"]["key"]) == ((), "posted", pid)
    entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert entry is not None and entry.posted_by == "ana"


class Exploding:
    """A backend with a bug: it fails on every document."""

    name = "exploding"

    def propose(self, request: Any) -> Any:
        raise KeyError("tax_rate")


def test_a_draft_that_failed_without_a_checkpoint_is_posted_on_a_seeded_graph(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcome = drafted(ais, store, Exploding())
    pid = outcome.proposal_id
    assert (outcome.status, outcome.note) == (
        "quarantined",
        "drafting failed: KeyError: 'tax_rate'",
    )
    assert pid is not None
    decide(store, ais, pid, edit("cleo", rent_lines()))
    assert decide(store, ais, pid, approve("bob")).proposal.status == "posted"
    assert graph_values(store, outcome.thread_id)[1]["status"] == "posted"


def test_an_entry_the_ais_refuses_quarantines_the_approval_with_the_reason(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    pid = drafted(ais, store).proposal_id
    assert pid is not None
    # Someone posts the document by hand in the AIS meanwhile.
    by_hand = JournalEntry.from_json({"date": "2024-03-03", "lines": rent_lines()})
    ais.post_entry("SI-3", by_hand, key="by-hand")
    done = decide(store, ais, pid, approve("ana"))
    assert done.proposal.status == "quarantined"
    (*_, last) = store.decisions(pid)
    assert (last.user, last.action) == ("worker", "quarantine")
    assert last.reason is not None and last.reason.startswith("the AIS refused the entry")


class CommitThenLoseTheConnection:
    """The AIS, whose connection drops right after a posting commits (the client never hears).

    A fake at the edge of the outside world: the posting itself is the real connector's.
    """

    def __init__(self, ais: ReferenceAIS) -> None:
        self.ais = ais

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ais, name)

    def post_entry(self, *args: Any, **kwargs: Any) -> Any:
        self.ais.post_entry(*args, **kwargs)
        raise ConnectorUnavailable("posting: server closed the connection unexpectedly")


def test_a_posting_committed_but_unheard_of_is_settled_once(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    outcome = drafted(ais, store)
    pid = outcome.proposal_id
    assert pid is not None
    before = posted(ais)
    with pytest.raises(ConnectorUnavailable):
        decide(store, CommitThenLoseTheConnection(ais), pid, approve("ana"))  # type: ignore[arg-type]
    stored = store.get(pid)
    assert stored is not None and stored.status == "approved"
    assert graph_values(store, outcome.thread_id)[0] == ("post",)
    done = settle(store, ais, pid)
    assert (done.applied, done.proposal.status) == (True, "posted")
    assert posted(ais) == before + 1
    assert log(store, pid) == [("ana", "approve"), ("ana", "post")]


class DownAtPosting:
    """The AIS, with its database down whenever an entry is posted (a fake at the edge)."""

    def __init__(self, ais: ReferenceAIS) -> None:
        self.ais = ais

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ais, name)

    def post_entry(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectorUnavailable("posting: the database is unavailable (connection refused)")


def test_an_approval_outlives_an_ais_that_is_down_and_posts_once_when_settled(
    ais: ReferenceAIS, store: ProposalStore
) -> None:
    pid = drafted(ais, store).proposal_id
    assert pid is not None
    with pytest.raises(ConnectorUnavailable):
        decide(store, DownAtPosting(ais), pid, approve("ana"))  # type: ignore[arg-type]
    stored = store.get(pid)
    assert stored is not None and stored.status == "approved"
    assert log(store, pid) == [("ana", "approve")]
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]
    assert [p.id for p in store.approved_unposted()] == [pid]
    with pytest.raises(WrongStatus):
        decide(store, ais, pid, reject("bob", "too late"))
    done = settle(store, ais, pid)
    assert done.proposal.status == "posted"
    assert log(store, pid) == [("ana", "approve"), ("ana", "post")]
    entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert entry is not None and entry.posted_by == "ana"
    assert store.approved_unposted() == []


def test_decide_refuses_what_it_cannot_apply(ais: ReferenceAIS, store: ProposalStore) -> None:
    with pytest.raises(DecisionError, match="there is no proposal 'nope'"):
        decide(store, ais, "nope", approve("ana"))
    pid = drafted(ais, store).proposal_id
    assert pid is not None
    with pytest.raises(InvalidDecision):
        decide(store, ais, pid, {"action": "approve"})
    # Settling a proposal that waits for a reviewer does nothing.
    done = settle(store, ais, pid)
    assert (done.applied, done.proposal.status) == (False, "proposed")
