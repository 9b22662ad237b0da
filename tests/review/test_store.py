"""The proposal store: its migrations, idempotent drafts, and the append-only decision log."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, exc, text

from ledgerpilot.agent.checkpoints import open_checkpointer
from ledgerpilot.ledger import Violation
from ledgerpilot.review import QueueFilter
from ledgerpilot.review.migrations import (
    TABLES,
    VERSION_TABLE,
    current_revision,
    head_revision,
    upgrade,
)
from ledgerpilot.review.models import attention_of, metadata
from ledgerpilot.review.store import (
    ProposalNotFound,
    ProposalStore,
    StoreError,
    StoreNotReady,
    WrongStatus,
)

from .store_kit import DOCUMENT, SCHEME, outcome


def differences(url: str) -> list[Any]:
    """What the database's store tables lack or have beyond the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "version_table": VERSION_TABLE,
                    "compare_type": True,
                    "include_name": lambda name, kind, _: kind != "table" or name in TABLES,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrations_create_exactly_the_models_beside_the_checkpoints(url: str) -> None:
    with open_checkpointer(url) as saver:
        saver.get_tuple({"configurable": {"thread_id": "t"}})  # makes LangGraph's tables
    ProposalStore.create(url).close()
    ProposalStore.create(url).close()  # and again: idempotent
    assert differences(url) == []
    engine = create_engine(url)
    try:
        assert current_revision(engine) == head_revision() == "0003"
    finally:
        engine.dispose()


def test_an_empty_database_is_not_a_store(url: str) -> None:
    with ProposalStore(url) as empty, pytest.raises(StoreNotReady, match="at store revision None"):
        empty.check_schema()


def test_a_draft_is_saved_once_per_document(store: ProposalStore) -> None:
    first = store.save_draft(outcome(proposal_id="a" * 32))
    again = store.save_draft(outcome(proposal_id="b" * 32, confidence=0.1))
    assert first == again == "a" * 32
    saved = store.get(first)
    assert saved is not None
    assert (saved.document_id, saved.status, saved.confidence) == ("SI-1", "proposed", 0.93)
    assert saved.scheme == SCHEME
    assert saved.violations == (
        Violation("tax_mismatch", "VAT booked is 0.00, the document's VAT is 250.00"),
    )
    assert (saved.evidence, saved.thread_id) == (("SI-0",), "draft:SI-1:x")
    assert (saved.document_kind, saved.partner_name) == ("supplier_invoice", "Office Rent Ltd")
    assert saved.created_at.tzinfo is not None
    assert saved.document == DOCUMENT
    assert saved.edited is False
    assert store.active_for("SI-1") == saved
    assert store.counts()["proposed"] == 1


def test_a_rejected_proposal_makes_way_for_a_new_draft(store: ProposalStore) -> None:
    first = store.save_draft(outcome())
    store.record_decision(first, user="ana", action="reject", status="rejected", reason="no")
    second = store.save_draft(outcome())
    assert second != first
    assert store.active_for("SI-1") == store.get(second)
    assert [p.status for p in store.list()] == ["rejected", "proposed"]


def test_the_database_refuses_a_second_active_proposal(url: str, store: ProposalStore) -> None:
    store.save_draft(outcome())
    engine = create_engine(url)
    try:
        with pytest.raises(exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO proposals (id, document_id, document_kind, status, violations, "
                    "evidence, note, created_at, updated_at) VALUES ('x', 'SI-1', 'k', "
                    "'needs_review', '[]', '[]', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
    finally:
        engine.dispose()


def test_only_draft_statuses_are_saved_as_drafts(store: ProposalStore) -> None:
    with pytest.raises(StoreError, match="not 'posted'"):
        store.save_draft(outcome(status="posted"))


def test_decisions_are_appended_with_what_changed(store: ProposalStore) -> None:
    pid = store.save_draft(outcome())
    edited = {**SCHEME, "lines": [{**SCHEME["lines"][0], "account": "6000"}, SCHEME["lines"][1]]}
    first = store.record_decision(
        pid, user="ana", action="edit", status="approved", scheme=edited, violations=[],
        reason="supplies, not rent",
    )  # fmt: skip
    assert (first.user, first.action, first.reason) == ("ana", "edit", "supplies, not rent")
    assert (first.before, first.after) == (SCHEME, edited)
    assert (first.backend, first.model) == ("memory", "memory:800@2025-12-31")
    posted = store.mark_posted(pid, "4711", "ana")
    assert (posted.status, posted.ais_entry_id, posted.scheme) == ("posted", "4711", edited)
    assert posted.violations == ()
    assert store.mark_posted(pid, "4711", "ana") == store.get(pid)  # a repeat adds nothing
    log = store.decisions(pid)
    assert [(d.user, d.action, d.reason) for d in log] == [
        ("ana", "edit", "supplies, not rent"),
        ("ana", "post", "posted to the AIS as entry 4711"),
    ]
    assert log[0] == first
    assert log[1].at >= log[0].at
    assert log[1].as_json()["proposal"] == pid
    assert store.get(pid).edited is True  # type: ignore[union-attr]


def test_only_an_approved_proposal_is_marked_posted(store: ProposalStore) -> None:
    pid = store.save_draft(outcome())
    with pytest.raises(WrongStatus, match="is proposed; only an approved proposal is posted"):
        store.mark_posted(pid, "4711", "worker")
    store.record_decision(pid, user="policy:auto-approve", action="approve", status="approved")
    store.mark_posted(pid, "4711", "worker")
    with pytest.raises(WrongStatus, match="is posted as AIS entry 4711"):
        store.mark_posted(pid, "4712", "worker")
    assert [d.action for d in store.decisions(pid)] == ["approve", "post"]


def test_the_log_cannot_be_rewritten(url: str, store: ProposalStore) -> None:
    pid = store.save_draft(outcome())
    store.record_decision(pid, user="ana", action="reject", status="rejected", reason="no")
    engine = create_engine(url)
    try:
        for statement in ("UPDATE decisions SET user_name = 'mallory'", "DELETE FROM decisions"):
            with (
                pytest.raises(exc.DBAPIError, match="the decision log is append-only"),
                engine.begin() as conn,
            ):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    assert [d.user for d in store.decisions(pid)] == ["ana"]


def test_decisions_are_checked(store: ProposalStore) -> None:
    pid = store.save_draft(outcome())
    with pytest.raises(StoreError, match="action must be one of"):
        store.record_decision(pid, user="ana", action="delete", status="rejected")
    with pytest.raises(StoreError, match="status must be one of"):
        store.record_decision(pid, user="ana", action="reject", status="gone")
    with pytest.raises(StoreError, match="needs the user"):
        store.record_decision(pid, user=" ", action="reject", status="rejected")
    with pytest.raises(ProposalNotFound):
        store.record_decision("nope", user="ana", action="reject", status="rejected")
    assert store.decisions(pid) == []


def test_list_pages_and_filters_by_status(store: ProposalStore) -> None:
    ids = [store.save_draft(outcome(f"D-{n}")) for n in range(5)]
    store.save_draft(outcome("Q-1", status="quarantined", scheme=None))
    assert [p.id for p in store.list(limit=2, offset=1)] == ids[1:3]
    assert [p.document_id for p in store.list(status="quarantined")] == ["Q-1"]
    assert store.counts() == {
        "proposed": 5, "needs_review": 0, "quarantined": 1, "approved": 0, "rejected": 0,
        "posted": 0,
    }  # fmt: skip
    with pytest.raises(StoreError, match="status must be one of"):
        store.list(status="open")


def test_proposals_of_the_first_revision_get_their_queue_order(url: str) -> None:
    engine = create_engine(url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            for pid, status, violations, confidence in (
                ("p1", "proposed", "[]", 0.9),
                ("p2", "proposed", '[{"code": "unbalanced", "message": "m", "line": null}]', 0.9),
                ("p3", "needs_review", "[]", None),
                ("p4", "posted", "[]", 0.5),
            ):
                conn.execute(
                    text(
                        "INSERT INTO proposals (id, document_id, document_kind, status, "
                        "confidence, violations, evidence, note, created_at, updated_at) VALUES "
                        "(:id, :doc, 'k', :status, :confidence, :violations, '[]', '', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {
                        "id": pid,
                        "doc": f"D-{pid}",
                        "status": status,
                        "confidence": confidence,
                        "violations": violations,
                    },
                )
            conn.execute(
                text(
                    "INSERT INTO decisions (proposal_id, at, user_name, action) "
                    "VALUES ('p3', CURRENT_TIMESTAMP, 'carl', 'edit')"
                )
            )
    finally:
        engine.dispose()
    with ProposalStore.create(url) as store:
        page = store.queue()
        assert [p.id for p in page.items] == ["p3", "p2", "p1", "p4"]
        assert [p.edited for p in page.items] == [True, False, False, False]
        assert [p.id for p in store.queue(QueueFilter(has_violations=True)).items] == ["p2"]
        assert store.get("p1").document is None  # type: ignore[union-attr]
        with store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, violation_count, confidence, attention FROM proposals")
            ).all()
    assert sorted(row[1] for row in rows) == [0, 0, 0, 1]
    assert all(attention == attention_of(*keys) for *keys, attention in rows)
