"""Real Celery workers carry out drafts and decisions once each, whatever is lost or killed.

Every test starts real worker processes (``python -m tests.workers.worker_process``, the
same :func:`~ledgerpilot.workers.run_worker` as ``ledgerpilot worker``), never eager mode:
against Redis and PostgreSQL as in production, and against the embedded SQLite broker.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.drafting import draft_pending
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.review import ProposalStore, StoredProposal
from ledgerpilot.workers import DECIDE, DRAFT_DOCUMENT, POLL_AIS, POST_APPROVED, QUEUE
from ledgerpilot.workers import dispatch_decision as make_dispatch
from ledgerpilot.workers.runtime import AFTER_AIS_COMMIT, FAULT_ENV
from tests.agent.drafting_kit import approve, reject
from tests.workers.kit import INBOX, Deployment, wait_for

pytestmark = [
    pytest.mark.slow,
    # kombu's SQLAlchemy transport (the embedded broker) uses a loader SQLAlchemy deprecates.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]
DOCUMENTS = [document.id for document in INBOX]


# ------------------------------------------------------------ helpers


def proposals(deployment: Deployment) -> dict[str, StoredProposal]:
    """Every proposal of the deployment, by document (a second one for a document fails)."""
    with deployment.store() as store:
        found = store.list(limit=1000)
    by_document = {p.document_id: p for p in found}
    assert len(by_document) == len(found), "a document was drafted twice"
    return by_document


def all_drafted(deployment: Deployment) -> dict[str, StoredProposal]:
    """Wait until every inbox document has its proposal."""
    return wait_for(
        "a proposal for each document",
        lambda: (found := proposals(deployment)) and set(found) == set(DOCUMENTS) and found,
    )


def status(deployment: Deployment, proposal_id: str) -> StoredProposal:
    """The proposal as the store holds it."""
    with deployment.store() as store:
        found = store.get(proposal_id)
    assert found is not None
    return found


def wait_status(deployment: Deployment, proposal_id: str, wanted: str) -> StoredProposal:
    """Wait until the proposal has the ``wanted`` status."""
    return wait_for(
        f"proposal {proposal_id} to be {wanted}",
        lambda: (p := status(deployment, proposal_id)).status == wanted and p,
    )


def posted_entries(deployment: Deployment) -> int:
    """How many documents the AIS holds posted."""
    with deployment.ais() as ais:
        return ais.summary().posted


def log(deployment: Deployment, proposal_id: str) -> list[tuple[str, str]]:
    """The proposal's decision log as (user, action)."""
    with deployment.store() as store:
        return [(d.user, d.action) for d in store.decisions(proposal_id)]


def approve_and_dispatch(deployment: Deployment, proposal_id: str, user: str = "ana") -> None:
    """Approve in the store, then ask the workers to carry it out, as the web UI does."""
    with deployment.store() as store:
        assert store.approve(proposal_id, user=user).applied
    make_dispatch(deployment.settings)(proposal_id, approve(user))


def draft_here(deployment: Deployment) -> dict[str, StoredProposal]:
    """Draft the inbox in this process (when the drafting is not what a test is about)."""
    with deployment.ais() as ais, ProposalStore(deployment.store_url) as store:
        index = HistoryIndex.build(ais.history(), ais.chart())
        list(draft_pending(ais, store, MemoryBackend(index)))
    return proposals(deployment)


# ------------------------------------------------------------ the task flow


def check_the_task_flow(deployment: Deployment) -> None:
    """poll -> drafts (each document once) -> approval in the store -> decide -> posted once."""
    assert deployment.run(POLL_AIS) == {"pending": 3, "enqueued": 3, "lost": 0}
    assert deployment.run(POLL_AIS) == {"pending": 3, "enqueued": 0, "lost": 0}
    drafted = all_drafted(deployment)
    assert {p.status for p in drafted.values()} == {"proposed"}, [p.note for p in drafted.values()]
    before = posted_entries(deployment)
    pid = drafted["SI-3"].id
    approve_and_dispatch(deployment, pid)
    done = wait_status(deployment, pid, "posted")
    assert done.ais_entry_id is not None
    assert posted_entries(deployment) == before + 1
    assert log(deployment, pid) == [("ana", "approve"), ("ana", "post")]
    # Delivered twice, a task does nothing twice.
    again = deployment.run(DECIDE, pid, approve("ana"))
    assert (again["status"], again["applied"], again["ais_entry"]) == (
        "posted",
        False,
        done.ais_entry_id,
    )
    redrafted = deployment.run(DRAFT_DOCUMENT, "SI-4")
    assert redrafted["note"] == f"already drafted: proposal {drafted['SI-4'].id}"
    assert posted_entries(deployment) == before + 1
    assert log(deployment, pid) == [("ana", "approve"), ("ana", "post")]
    assert proposals(deployment)["SI-4"].id == drafted["SI-4"].id
    # A rejection carried out by a worker closes the draft; nothing is posted.
    other = drafted["SI-5"].id
    with deployment.store() as store:
        store.reject(other, user="bob", reason="a duplicate invoice")
    closed = deployment.run(DECIDE, other, reject("bob", "a duplicate invoice"))
    assert (closed["status"], closed["applied"]) == ("rejected", False)
    assert posted_entries(deployment) == before + 1


@pytest.mark.redis
@pytest.mark.postgres
def test_the_task_flow_through_redis_and_postgresql(production: Deployment) -> None:
    production.start_worker("--pool", "prefork", "--concurrency", "2")
    check_the_task_flow(production)


def test_the_task_flow_on_the_embedded_broker(embedded: Deployment) -> None:
    embedded.start_worker("--pool", "prefork", "--concurrency", "2")
    check_the_task_flow(embedded)


def test_beat_polls_the_ais_and_sweeps_approvals_left_unposted(embedded: Deployment) -> None:
    every_second = {"LEDGERPILOT_POLL_SECONDS": "1"}
    embedded.start_worker("--pool", "solo", **every_second)
    embedded.start_beat(**every_second)
    drafted = all_drafted(embedded)  # poll_ais, sent by beat, enqueued each document
    # Approved in the store, but no task asked for: the sweep posts it.
    pid = drafted["SI-4"].id
    with embedded.store() as store:
        store.approve(pid, user="bob")
    assert wait_status(embedded, pid, "posted").ais_entry_id is not None
    assert log(embedded, pid) == [("bob", "approve"), ("bob", "post")]
    assert len(proposals(embedded)) == 3


# ------------------------------------------------------------ killed, lost, failing


@pytest.mark.redis
@pytest.mark.postgres
def test_a_worker_killed_between_the_ais_commit_and_the_store_update_posts_once(
    production: Deployment,
) -> None:
    drafted = draft_here(production)
    before = posted_entries(production)
    dying = production.start_worker("--pool", "solo", **{FAULT_ENV: AFTER_AIS_COMMIT})
    pid = drafted["SI-3"].id
    approve_and_dispatch(production, pid)
    wait_for("the worker to die after the AIS commit", lambda: not dying.alive())
    assert (production.root / f"fault-{AFTER_AIS_COMMIT}").exists()
    assert posted_entries(production) == before + 1  # the AIS committed ...
    assert status(production, pid).status == "approved"  # ... the store never heard
    # A new worker; the sweep finds the approval unposted and settles it: no second entry.
    production.start_worker("--pool", "solo")
    swept = production.run(POST_APPROVED, older_than_seconds=0)
    assert swept == {"posted": 1}
    done = status(production, pid)
    assert done.status == "posted" and done.ais_entry_id is not None
    assert posted_entries(production) == before + 1
    assert log(production, pid) == [("ana", "approve"), ("ana", "post")]
    assert production.run(POST_APPROVED, older_than_seconds=0) == {}


def test_a_pool_process_killed_after_the_ais_commit_gets_its_task_again_and_posts_once(
    embedded: Deployment,
) -> None:
    drafted = draft_here(embedded)
    before = posted_entries(embedded)
    worker = embedded.start_worker(
        "--pool", "prefork", "--concurrency", "1", **{FAULT_ENV: AFTER_AIS_COMMIT}
    )
    pid = drafted["SI-3"].id
    approve_and_dispatch(embedded, pid)
    # The pool process dies once; its task is put back (reject on worker lost) and a new
    # pool process carries it out again.
    done = wait_status(embedded, pid, "posted")
    assert (embedded.root / f"fault-{AFTER_AIS_COMMIT}").exists()
    assert "WorkerLostError" in worker.output()
    assert posted_entries(embedded) == before + 1
    assert log(embedded, pid) == [("ana", "approve"), ("ana", "post")]
    with embedded.ais() as ais:
        entry = ais.get_document("SI-3").entry  # type: ignore[union-attr]
    assert entry is not None and entry.id == done.ais_entry_id


def flush(redis_url: str, expect_queued: int) -> None:
    """Lose what Redis holds, as a Redis restarted without its data would."""
    client: Any = redis.Redis.from_url(redis_url)
    try:
        assert client.llen(QUEUE) == expect_queued
        client.flushdb()
    finally:
        client.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_tasks_lost_with_the_queue_lose_no_draft_and_no_approval(
    production: Deployment, redis_url: str
) -> None:
    # Claimed and enqueued as poll_ais does it, while no worker runs; then the queue is lost.
    with production.store() as store:
        assert store.claim(DOCUMENTS, by="ledgerpilot.poll_ais") == DOCUMENTS
    for document_id in DOCUMENTS:
        production.send(DRAFT_DOCUMENT, document_id)
    flush(redis_url, expect_queued=3)
    production.start_worker("--pool", "solo")
    # A claim without a proposal, older than lost_after_seconds: its task was lost.
    assert production.run(POLL_AIS, lost_after_seconds=0) == {
        "pending": 3,
        "enqueued": 3,
        "lost": 3,
    }
    drafted = all_drafted(production)
    before = posted_entries(production)
    # An approval whose decide task is lost the same way.
    production.stop_workers()
    pid = drafted["SI-3"].id
    approve_and_dispatch(production, pid)
    flush(redis_url, expect_queued=1)
    production.start_worker("--pool", "solo")
    assert status(production, pid).status == "approved"  # the approval is not lost
    assert production.run(POST_APPROVED, older_than_seconds=0) == {"posted": 1}
    assert status(production, pid).status == "posted"
    assert posted_entries(production) == before + 1


@pytest.mark.redis
@pytest.mark.postgres
def test_a_worker_reconnects_after_the_store_database_drops_its_connections(
    production: Deployment,
) -> None:
    worker = production.start_worker("--pool", "solo")
    assert production.run(POLL_AIS) == {"pending": 3, "enqueued": 3, "lost": 0}
    drafted = all_drafted(production)
    # As a PostgreSQL restart would: every connection to the store's database is cut,
    # the worker's open checkpointer and pooled connections among them.
    name = make_url(production.store_url).database
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:
        cut = pg.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert cut is not None and cut[0] >= 1
    pid = drafted["SI-3"].id
    approve_and_dispatch(production, pid)
    assert wait_status(production, pid, "posted").ais_entry_id is not None
    assert log(production, pid) == [("ana", "approve"), ("ana", "post")]
    assert "retry: Retry in" in worker.output()  # the cut was felt, and retried


def test_a_document_that_keeps_failing_ends_quarantined_with_the_reason(
    embedded: Deployment,
) -> None:
    # The AIS's database server is down for this worker (nothing listens on port 1).
    down = "postgresql+psycopg://postgres@127.0.0.1:1/ais"
    embedded.start_worker("--pool", "solo", "--retries", "2", LEDGERPILOT_AIS_URL=down)
    result = embedded.run(DRAFT_DOCUMENT, "SI-3")
    assert result["status"] == "quarantined"
    stored = proposals(embedded)["SI-3"]
    assert stored.id == result["proposal"]
    assert stored.status == "quarantined"
    assert stored.note.startswith("not drafted in 3 tries: ConnectorUnavailable: ")
    assert "the database is unavailable" in stored.note
    # Delivered again, the task keeps the one proposal.
    assert embedded.run(DRAFT_DOCUMENT, "SI-3")["proposal"] == stored.id
    assert len(proposals(embedded)) == 1
