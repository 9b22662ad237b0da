"""The drafting graph driven directly: load, recall, propose, check, repair, route, review, post."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from ledgerpilot.agent.checkpoints import open_checkpointer
from ledgerpilot.agent.graph import DraftGraph, build_graph, thread_config
from ledgerpilot.agent.nodes import (
    InvalidDecision,
    UnexpectedState,
    after_review,
    after_route,
    read_decision,
)
from ledgerpilot.agent.policy import RoutingPolicy
from ledgerpilot.agent.state import DraftContext, DraftSettings, DraftState
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.ledger import Document
from tests.agent.drafting_kit import (
    ScriptedBackend,
    make_company,
    rent_invoice,
    rent_lines,
    right_rent,
    scheme_for,
    sqlite_url,
)

PENDING = rent_invoice("SI-3", "2024-03-05")
BROKEN = rent_invoice("BAD-1", "2024-03-06", gross="1300.00")  # 1000 + 250 is not 1300
UNBALANCED = scheme_for(
    "SI-3",
    [
        {"account": "6120", "debit": "1000.00", "credit": "0.00", "description": "rent"},
        {"account": "2110", "debit": "0.00", "credit": "1250.00", "description": "payable"},
    ],
)


@pytest.fixture
def ais(tmp_path: Path) -> Iterator[ReferenceAIS]:
    """The small company: two posted rent invoices, one pending, one with broken figures."""
    url = make_company(sqlite_url(tmp_path / "ais.sqlite"), [PENDING, BROKEN])
    with ReferenceAIS(url) as connector:
        yield connector


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[DraftGraph]:
    """The graph with a SQLite checkpointer in tmp_path."""
    with open_checkpointer(sqlite_url(tmp_path / "store.sqlite")) as saver:
        yield build_graph(saver)


def context(ais: ReferenceAIS, backend: ScriptedBackend, **settings: Any) -> DraftContext:
    """A run context; recall gives the partner's posted invoices, newest first."""

    def recall(document: Document) -> list[Document]:
        return [d for d in reversed(list(ais.history())) if d.partner == document.partner]

    return DraftContext(ais, backend, ais.chart(), recall, DraftSettings(**settings))


def draft(graph: DraftGraph, ctx: DraftContext, doc_id: str = "SI-3") -> dict[str, Any]:
    """Run the graph for ``doc_id`` until it pauses or ends; its state."""
    config = thread_config(f"draft:{doc_id}:p1")
    graph.invoke({"document_id": doc_id, "proposal_id": "p1"}, config, context=ctx)
    return graph.get_state(config).values


def resume(graph: DraftGraph, ctx: DraftContext, decision: Any, doc_id: str = "SI-3") -> Any:
    """Resume the paused graph with ``decision``; its state snapshot."""
    config = thread_config(f"draft:{doc_id}:p1")
    graph.invoke(Command(resume=decision), config, context=ctx)
    return graph.get_state(config)


def test_garbage_then_a_valid_scheme_is_proposed_after_two_attempts(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    backend = ScriptedBackend(["Sure! Here is the entry: debit rent, credit payable.", right_rent])
    state = draft(graph, context(ais, backend))
    assert state["status"] == "proposed"
    assert state["attempts"] == 2
    assert state["violations"] == []
    assert [line["account"] for line in state["proposal"]["scheme"]["lines"]] == [
        "6120",
        "1310",
        "2110",
    ]
    first, second = backend.requests
    assert (first.attempt, first.feedback, first.previous) == (1, (), None)
    assert second.attempt == 2
    assert [v.code for v in second.feedback] == ["malformed"]
    assert second.previous == "Sure! Here is the entry: debit rent, credit payable."


def test_a_backend_that_never_gets_it_right_needs_review_after_n_repairs(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    backend = ScriptedBackend([UNBALANCED])
    state = draft(graph, context(ais, backend))
    assert state["status"] == "needs_review"
    assert state["attempts"] == 3  # the first proposal and the default two repairs
    assert [v["code"] for v in state["violations"]] == ["unbalanced", "tax_mismatch"]
    assert [r.attempt for r in backend.requests] == [1, 2, 3]
    assert [v.code for v in backend.requests[2].feedback] == ["unbalanced", "tax_mismatch"]


def test_the_number_of_repairs_is_a_setting(ais: ReferenceAIS, graph: DraftGraph) -> None:
    backend = ScriptedBackend([UNBALANCED])
    state = draft(graph, context(ais, backend, max_repairs=0))
    assert (state["status"], state["attempts"], len(backend.requests)) == ("needs_review", 1, 1)


def test_recalled_history_reaches_the_backend_as_examples_and_evidence(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    backend = ScriptedBackend([right_rent])
    state = draft(graph, context(ais, backend))
    assert [ex.id for ex in backend.requests[0].examples] == ["H-2", "H-1"]
    assert backend.requests[0].examples[0].entry is not None
    assert state["evidence"] == ["H-2", "H-1"]
    assert state["examples"] == []  # not kept in the paused draft


def test_a_document_with_broken_figures_is_quarantined_without_asking_the_backend(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    backend = ScriptedBackend([right_rent])
    state = draft(graph, context(ais, backend), "BAD-1")
    assert state["status"] == "quarantined"
    assert state["reason"] == "the document's own figures do not add up"
    assert [v["code"] for v in state["violations"]] == ["document_inconsistent"]
    assert backend.requests == []


def test_a_document_missing_from_the_ais_is_quarantined(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    state = draft(graph, context(ais, ScriptedBackend([right_rent])), "NOPE-1")
    assert state["status"] == "quarantined"
    assert state["reason"] == "there is no document 'NOPE-1' in the AIS"


def test_a_valid_but_unsure_proposal_needs_review(ais: ReferenceAIS, graph: DraftGraph) -> None:
    backend = ScriptedBackend([right_rent], confidence=0.2)
    state = draft(graph, context(ais, backend))
    assert state["status"] == "needs_review"
    assert state["violations"] == []
    assert state["reason"] == "confidence 0.20 is below 0.50"


def test_no_answer_at_all_is_quarantined_by_the_policy(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    backend = ScriptedBackend(["[1, 2, 3]"])
    state = draft(graph, context(ais, backend))
    assert state["status"] == "quarantined"
    assert state["attempts"] == 3
    assert state["reason"] == "nothing to review: scripted answer"


def test_the_draft_waits_at_review_and_nothing_is_posted(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    draft(graph, context(ais, ScriptedBackend([right_rent])))
    snapshot = graph.get_state(thread_config("draft:SI-3:p1"))
    assert snapshot.next == ("review",)
    (held,) = snapshot.interrupts
    assert held.value["proposal_id"] == "p1"
    assert held.value["proposal"]["scheme"]["lines"] == rent_lines()
    assert [d.id for d in ais.pending_documents()] == ["SI-3", "BAD-1"]


def test_approval_posts_the_entry_with_the_proposal_id_as_key(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    ctx = context(ais, ScriptedBackend([right_rent]))
    draft(graph, ctx)
    snapshot = resume(
        graph, ctx, {"action": "approve", "user": "ana", "lines": None, "reason": None}
    )
    assert snapshot.next == ()
    assert snapshot.values["status"] == "posted"
    posting = snapshot.values["posting"]
    assert (posting["created"], posting["key"]) == (True, "p1")
    entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert entry is not None
    assert (entry.id, entry.posted_by) == (posting["entry_id"], "ana")
    assert [(ln.account, str(ln.debit), str(ln.credit)) for ln in entry.lines] == [
        ("6120", "1000.00", "0.00"),
        ("1310", "250.00", "0.00"),
        ("2110", "0.00", "1250.00"),
    ]


def test_an_edit_that_does_not_validate_is_asked_again_then_posted_when_fixed(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    ctx = context(ais, ScriptedBackend([right_rent]))
    draft(graph, ctx)
    wrong = rent_lines(net="900.00")  # debits 1150, credit 1250
    snapshot = resume(graph, ctx, {"action": "edit", "user": "ana", "lines": wrong, "reason": None})
    assert snapshot.next == ("review",)
    assert snapshot.values["status"] == "needs_review"
    assert [v["code"] for v in snapshot.values["violations"]] == ["unbalanced"]
    # Approving the broken lines as they are is refused as well.
    snapshot = resume(
        graph, ctx, {"action": "approve", "user": "ana", "lines": None, "reason": None}
    )
    assert (snapshot.next, snapshot.values["status"]) == (("review",), "needs_review")
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]
    fixed = [{**line, "description": "edited"} for line in rent_lines()]
    snapshot = resume(graph, ctx, {"action": "edit", "user": "ana", "lines": fixed, "reason": None})
    assert snapshot.values["status"] == "posted"
    entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert [ln.description for ln in entry.lines] == ["edited", "edited", "edited"]  # type: ignore[union-attr]


def test_rejection_ends_without_posting(ais: ReferenceAIS, graph: DraftGraph) -> None:
    ctx = context(ais, ScriptedBackend([right_rent]))
    draft(graph, ctx)
    decision = {"action": "reject", "user": "ana", "lines": None, "reason": "wrong period"}
    snapshot = resume(graph, ctx, decision)
    assert (snapshot.next, snapshot.values["status"]) == ((), "rejected")
    assert snapshot.values["decision"] == decision
    assert ais.get_document("SI-3").entry is None  # type: ignore[union-attr]


def test_a_malformed_decision_fails_loudly_and_the_draft_keeps_waiting(
    ais: ReferenceAIS, graph: DraftGraph
) -> None:
    ctx = context(ais, ScriptedBackend([right_rent]))
    draft(graph, ctx)
    with pytest.raises(InvalidDecision, match="action must be one of approve, edit, reject"):
        resume(graph, ctx, {"action": "post", "user": "ana"})
    assert graph.get_state(thread_config("draft:SI-3:p1")).next == ("review",)


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ("approve", "a decision must be a dict, not str"),
        ({"action": "approve", "user": " "}, "a decision needs the user who made it"),
        ({"action": "edit", "user": "ana"}, "an edit needs its lines"),
        ({"action": "approve", "user": "ana", "lines": []}, "approve takes no lines"),
        ({"action": "reject", "user": "ana", "why": "x"}, "unknown fields in the decision: why"),
    ],
)
def test_decisions_are_checked(decision: object, message: str) -> None:
    with pytest.raises(InvalidDecision, match=message):
        read_decision(decision)


def test_routing_functions_fail_loudly_on_an_unexpected_status() -> None:
    with pytest.raises(UnexpectedState, match="after route: status 'drafting'"):
        after_route(DraftState(document_id="X", status="drafting"))
    with pytest.raises(UnexpectedState, match="after review: status 'posted'"):
        after_review(DraftState(document_id="X", status="posted"))


def test_a_draft_needs_its_proposal_id(ais: ReferenceAIS, graph: DraftGraph) -> None:
    ctx = context(ais, ScriptedBackend([right_rent]))
    with pytest.raises(UnexpectedState, match="proposal id"):
        graph.invoke({"document_id": "SI-3"}, thread_config("t"), context=ctx)


def test_the_routing_policy_comes_from_the_settings(ais: ReferenceAIS, graph: DraftGraph) -> None:
    backend = ScriptedBackend([right_rent], confidence=0.9)
    state = draft(graph, context(ais, backend, policy=RoutingPolicy(review_below=0.95)))
    assert state["status"] == "needs_review"


def test_the_graph_runs_without_a_checkpointer_up_to_review(ais: ReferenceAIS) -> None:
    ctx = context(ais, ScriptedBackend([right_rent]))
    result = build_graph().invoke({"document_id": "SI-3", "proposal_id": "p1"}, context=ctx)
    assert result["status"] == "proposed"
    assert "__interrupt__" in result
