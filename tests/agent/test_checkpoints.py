"""Paused drafts survive in both checkpointers and are resumed by a new instance, once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from ledgerpilot.agent.checkpoints import CheckpointerError, open_checkpointer
from ledgerpilot.agent.drafting import decide, draft_pending
from ledgerpilot.agent.graph import build_graph, thread_config
from ledgerpilot.agent.state import DraftContext
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore, WrongStatus
from tests.agent.drafting_kit import (
    ScriptedBackend,
    add_reviewers,
    approve,
    edit,
    make_company,
    rent_invoice,
    rent_lines,
    right_rent,
    sqlite_url,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store (and its checkpoints): a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "store.sqlite")
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def ais_url(tmp_path: Path) -> str:
    """The small company with one pending rent invoice."""
    return make_company(sqlite_url(tmp_path / "ais.sqlite"), [rent_invoice("SI-3", "2024-03-05")])


def drafted(ais_url: str, store_url: str) -> str:
    """Draft the pending invoice (the test reviewers in the store); its proposal's id."""
    with ReferenceAIS(ais_url) as ais, ProposalStore.create(store_url) as store:
        add_reviewers(store)
        (outcome,) = draft_pending(ais, store, ScriptedBackend([right_rent]))
    assert outcome.status == "proposed"
    assert outcome.proposal_id is not None
    return outcome.proposal_id


def entries(ais_url: str) -> list[tuple[str, str | None]]:
    """(document id, posted by) of every entry posted through ledgerpilot."""
    with ReferenceAIS(ais_url) as ais:
        return [
            (d.id, d.entry.posted_by)
            for d in ais.all_documents()
            if d.entry is not None and d.id.startswith("SI-")
        ]


def test_the_checkpointer_follows_the_store_url(store_url: str) -> None:
    with open_checkpointer(store_url) as saver:
        kind = SqliteSaver if store_url.startswith("sqlite") else PostgresSaver
        assert isinstance(saver, kind)


def test_other_databases_are_refused() -> None:
    with pytest.raises(CheckpointerError, match="no checkpointer for 'mysql' URLs"):
        open_checkpointer("mysql://u@localhost/x").__enter__()


def test_a_paused_draft_is_resumed_by_another_process_and_posted_once(
    ais_url: str, store_url: str
) -> None:
    proposal_id = drafted(ais_url, store_url)
    with ProposalStore(store_url) as store:
        proposal = store.get(proposal_id)
        assert proposal is not None and proposal.thread_id is not None
    with open_checkpointer(store_url) as saver:
        snapshot = build_graph(saver).get_state(thread_config(proposal.thread_id))
        assert snapshot.next == ("review",)
    assert entries(ais_url) == []
    # A new process, as a worker would be: nothing shared but the two URLs.
    script = textwrap.dedent(
        f"""
        from ledgerpilot.agent.drafting import decide
        from ledgerpilot.connectors import ReferenceAIS
        from ledgerpilot.review.store import ProposalStore
        with ReferenceAIS({ais_url!r}) as ais, ProposalStore({store_url!r}) as store:
            done = decide(store, ais, {proposal_id!r}, {approve("ana")!r})
            print(done.applied, done.proposal.status)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "posted"]
    assert entries(ais_url) == [("SI-3", "ana")]
    # Approving again, here: nothing new, not even in the log.
    with ReferenceAIS(ais_url) as ais, ProposalStore(store_url) as store:
        again = decide(store, ais, proposal_id, approve("bob"))
        assert (again.applied, again.proposal.status) == (False, "posted")
        assert [d.action for d in store.decisions(proposal_id)] == ["approve", "post"]
        posted = store.get(proposal_id)
        assert posted is not None and posted.ais_entry_id is not None
    assert entries(ais_url) == [("SI-3", "ana")]


def test_resuming_the_finished_graph_twice_posts_nothing_more(ais_url: str, store_url: str) -> None:
    proposal_id = drafted(ais_url, store_url)
    with ReferenceAIS(ais_url) as ais, ProposalStore(store_url) as store:
        decide(store, ais, proposal_id, approve("ana"))
        proposal = store.get(proposal_id)
        assert proposal is not None and proposal.thread_id is not None
        ctx = DraftContext(ais, ScriptedBackend([]), ais.chart())
        for _ in range(2):
            with open_checkpointer(store_url) as saver:
                graph = build_graph(saver)
                graph.invoke(
                    Command(resume=approve("ana")), thread_config(proposal.thread_id), context=ctx
                )
    assert entries(ais_url) == [("SI-3", "ana")]


def test_rejection_posts_nothing_and_is_logged(ais_url: str, store_url: str) -> None:
    proposal_id = drafted(ais_url, store_url)
    decision = {"action": "reject", "user": "ana", "lines": None, "reason": "not ours"}
    with ReferenceAIS(ais_url) as ais, ProposalStore(store_url) as store:
        done = decide(store, ais, proposal_id, decision)
        assert (done.applied, done.proposal.status) == (True, "rejected")
        (logged,) = store.decisions(proposal_id)
        assert (logged.user, logged.action, logged.reason) == ("ana", "reject", "not ours")
        assert logged.before is not None and logged.before["lines"] == rent_lines()
        assert logged.after is None
        assert (logged.backend, logged.model) == ("scripted", "scripted-1")
        # Approving after the rejection is refused.
        with pytest.raises(WrongStatus):
            decide(store, ais, proposal_id, approve("bob"))
        assert store.get(proposal_id).status == "rejected"  # type: ignore[union-attr]
    assert entries(ais_url) == []


def test_an_edit_is_validated_then_posted_as_edited_by_a_second_approver(
    ais_url: str, store_url: str
) -> None:
    proposal_id = drafted(ais_url, store_url)
    lines = [
        {"account": "6000", "debit": "1000.00", "credit": "0.00", "description": "Expenses"},
        *rent_lines()[1:],
    ]
    bad = [{**lines[0], "account": "9999"}, *lines[1:]]
    with ReferenceAIS(ais_url) as ais, ProposalStore(store_url) as store:
        refused = decide(store, ais, proposal_id, edit("ana", bad))
        assert (refused.applied, refused.proposal.status) == (True, "needs_review")
        stored = store.get(proposal_id)
        assert stored is not None
        assert {v.code for v in stored.violations} == {"unknown_account"}
        assert entries(ais_url) == []
        fixed = {**edit("cleo", lines), "reason": "office supplies, not rent"}
        done = decide(store, ais, proposal_id, fixed)
        assert (done.applied, done.proposal.status) == (True, "needs_review")
        assert done.proposal.violations == ()
        assert entries(ais_url) == []
        done = decide(store, ais, proposal_id, approve("bob"))
        assert (done.applied, done.proposal.status) == (True, "posted")
        log = store.decisions(proposal_id)
        assert [d.action for d in log] == ["edit", "edit", "approve", "post"]
        assert log[1].before is not None and log[1].before["lines"][0]["account"] == "9999"
        assert log[1].after is not None and log[1].after["lines"][0]["account"] == "6000"
        document = ais.get_document("SI-3")
        assert document is not None and document.entry is not None
        assert [ln.account for ln in document.entry.lines] == ["6000", "1310", "2110"]
        assert document.entry.posted_by == "bob"
