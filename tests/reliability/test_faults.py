"""Nothing is lost and nothing is posted twice while workers, Redis, PostgreSQL and the model fail.

A synthetic company's inbox goes through draft -> approve -> post with PostgreSQL (the AIS
and the store, each a database of this test), a Redis broker and two real worker
processes (``python -m tests.workers.worker_process``, the same ``run_worker`` as
``ledgerpilot worker``), one drafting with the ``memory`` backend, the other with ``auto``
asking a model server for every document. The test plays the reviewer (approvals and
rejections in the store, then a ``decide`` task, as the web UI does) and beat
(``poll_ais`` and ``post_approved`` every second). The inbox arrives in the AIS in
:data:`BATCHES` batches over the fault window, so that work is in flight when faults
strike. At seeded random moments the test:

- SIGKILLs a worker process (and starts another in its place); besides, the first worker
  runs with the ``after_ais_commit`` fault hook and dies right after its first posting
  commits in the AIS, before the store hears of it (a supervisor starts it again);
- restarts the test's own Redis empty (queued and unacknowledged tasks are lost);
- blocks PostgreSQL for the workers (every connection through the test's proxy is cut and
  new ones are refused for a few seconds);
- makes the model server slow (past the client's timeout) or down (HTTP 503); otherwise it
  answers garbage.

Then the faults stop, the system is left to catch up, and the test checks what the
accounts must show: every document has exactly one active proposal, in a terminal or
resumable state (``proposed``, ``needs_review``, ``quarantined``, ``posted``, ``rejected``;
none left ``approved``); every approved proposal has exactly one AIS entry, counted in the
AIS by its posting key; no AIS entry without an approval; and the decision log holds each
approval and rejection once, and each posting once. It prints the counts.

The seed comes from ``LEDGERPILOT_FAULT_SEED`` (else a random one, printed: rerun with it);
the size from ``LEDGERPILOT_FAULT_DOCUMENTS`` (150 by default, for CI). The run is bounded
(:data:`FAULT_WINDOW_SECONDS` of faults, then at most :data:`DRAIN_SECONDS`), and all its
traffic stays on 127.0.0.1. The model server is the only fake (see :mod:`.kit`).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore, StoreError
from ledgerpilot.synth import generate
from ledgerpilot.workers import DECIDE, POLL_AIS, POST_APPROVED, LedgerpilotCelery, create_app
from ledgerpilot.workers.runtime import AFTER_AIS_COMMIT, FAULT_ENV
from tests.agent.drafting_kit import add_reviewers, approve
from tests.conftest import PG_PORT, _temporary_database, _unavailable
from tests.reliability.kit import FakeModelServer, PrivateRedis, TcpProxy
from tests.workers.kit import Deployment, Worker

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

DOCUMENTS = int(os.environ.get("LEDGERPILOT_FAULT_DOCUMENTS", "150"))
FAULT_WINDOW_SECONDS = float(os.environ.get("LEDGERPILOT_FAULT_WINDOW", "40"))
"""How long faults are injected, once the workers run."""
DRAIN_SECONDS = 90.0
"""How long the system may take to catch up once the faults stop."""
LOST_AFTER_SECONDS = 6.0
"""poll_ais's ``lost_after_seconds``: a claim this old without a proposal lost its task."""
BATCHES = 4
"""The inbox arrives in this many batches, spread over the fault window."""
MODEL_FAULT_SECONDS = 12.0
"""A slow or down model server stays so until it has been asked, this much longer at most."""
REJECT_SHARE = 0.1
"""Of the first proposals of documents, the share the reviewer rejects."""
TERMINAL_OR_RESUMABLE = {"proposed", "needs_review", "quarantined", "posted", "rejected"}
WORKER_OPTIONS = ("--pool", "solo", "--retries", "4", "--first-delay", "0.5")


@dataclass
class Run:
    """The moving parts of one fault run, and what happened."""

    deployment: Deployment
    redis: PrivateRedis
    proxy: TcpProxy
    model: FakeModelServer
    rng: random.Random
    workers: list[tuple[Worker, dict[str, str]]] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    send_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _sender: LedgerpilotCelery | None = None

    @property
    def sender(self) -> LedgerpilotCelery:
        """The app this process sends tasks with, as the web UI and beat do: no results
        (nothing here waits for one, and a result store that restarts under a waiting
        client makes it give up for good)."""
        if self._sender is None:
            settings = self.deployment.settings.model_copy(update={"result_backend": "disabled"})
            self._sender = create_app(settings)
        return self._sender

    def start_worker(self, env: dict[str, str]) -> None:
        worker = self.deployment.start_worker(*WORKER_OPTIONS, **env)
        with self.lock:
            self.workers.append((worker, env))

    def hook_fired(self) -> bool:
        """Whether the worker with the fault hook has posted and killed itself (its marker)."""
        return (self.deployment.settings.data_dir / f"fault-{AFTER_AIS_COMMIT}").exists()

    def supervise(self) -> None:
        """Start a worker in place of one that died by itself (the fault hook), as a
        service manager would, without the hook."""
        with self.lock:
            dead = [(w, env) for w, env in self.workers if not w.alive()]
            self.workers = [(w, env) for w, env in self.workers if w.alive()]
        for _, env in dead:
            if env.get(FAULT_ENV):
                self.faults["died_after_ais_commit"] += 1
                print(f"  {time.strftime('%H:%M:%S')} fault: died after the AIS commit", flush=True)
            self.start_worker({k: v for k, v in env.items() if k != FAULT_ENV})

    def send(self, task: str, *args: Any, **kwargs: Any) -> bool:
        """Enqueue without waiting for a broker that is down (the caller tries again)."""
        try:
            self.sender.send_task(task, args=args, kwargs=kwargs, retry=False)
        except Exception:  # the broker is restarting: what needs doing is in the store
            self.send_failures += 1
            return False
        return True

    # -------------------------------------------------------- faults

    def inject(self, kind: str) -> None:
        """Inject one fault and undo it (a killed worker is replaced) before returning."""
        self.faults[kind] += 1
        print(f"  {time.strftime('%H:%M:%S')} fault: {kind}", flush=True)
        if kind == "kill_worker":
            with self.lock:
                worker, env = self.workers.pop(self.rng.randrange(len(self.workers)))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=30)
            if env.get(FAULT_ENV) and self.hook_fired():
                # It had died by itself after its AIS commit (the hook writes its marker
                # just before the kill) before supervise() saw it: that fault, not ours.
                self.faults["died_after_ais_commit"] += 1
                print(f"  {time.strftime('%H:%M:%S')} fault: died after the AIS commit", flush=True)
                env = {k: v for k, v in env.items() if k != FAULT_ENV}
            self.start_worker(env)
        elif kind == "restart_redis":
            self.redis.restart(down_seconds=self.rng.uniform(0.5, 2.0))
        elif kind == "block_postgres":
            self.proxy.block()
            time.sleep(self.rng.uniform(1.0, 4.0))
            self.proxy.unblock()
        elif kind in ("model_slow", "model_down"):
            # Until a few requests have felt it (documents arrive in batches), within bounds.
            mode = self.model.mode = kind.removeprefix("model_")
            least = time.monotonic() + self.rng.uniform(2.0, 4.0)
            most = least + MODEL_FAULT_SECONDS
            while time.monotonic() < least or (
                self.model.requests[mode] < 2 and time.monotonic() < most
            ):
                time.sleep(0.2)
            self.model.mode = "garbage"
        else:
            raise AssertionError(kind)

    def schedule(self) -> list[tuple[float, str]]:
        """Seeded fault moments within the window: each kind at least once."""
        kinds = ["kill_worker", "kill_worker", "restart_redis", "block_postgres"]
        kinds += ["block_postgres", "model_slow", "model_down"]
        return sorted((self.rng.uniform(2.0, FAULT_WINDOW_SECONDS - 6.0), k) for k in kinds)

    def faulting(self, started: float, plan: list[tuple[float, str]], errors: list[str]) -> None:
        """The fault thread: inject each planned fault at its moment."""
        try:
            for at, kind in plan:
                time.sleep(max(0.0, started + at - time.monotonic()))
                self.inject(kind)
        except BaseException as exc:  # reported by the main thread
            errors.append(f"{type(exc).__name__}: {exc}")


@dataclass
class Reviewer:
    """The accountant: approves or rejects what is drafted, and asks the workers to carry
    it out, as the web UI does."""

    run: Run
    store: ProposalStore
    approved: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    rejected_documents: set[str] = field(default_factory=set)

    def review(self) -> None:
        """Decide every proposal waiting for review that has no decision of ours yet."""
        rng = self.run.rng
        seen = self.approved | self.rejected | self.refused
        for status in ("proposed", "needs_review"):
            for proposal in self.store.list(status, limit=10_000):
                if proposal.id in seen:
                    continue
                first = proposal.document_id not in self.rejected_documents
                if status == "needs_review" or (first and rng.random() < REJECT_SHARE):
                    if not first:
                        continue  # drafted again after our rejection: left for review
                    result = self.store.reject(proposal.id, user="bob", reason="not ours")
                    assert result.applied
                    self.rejected.add(proposal.id)
                    self.rejected_documents.add(proposal.document_id)
                    decision = {"action": "reject", "user": "bob", "lines": None,
                                "reason": "not ours"}  # fmt: skip
                else:
                    try:
                        assert self.store.approve(proposal.id, user="ana").applied
                    except StoreError:
                        self.refused.add(proposal.id)
                        continue
                    self.approved.add(proposal.id)
                    decision = approve("ana")
                self.run.send(DECIDE, proposal.id, decision)
                if rng.random() < 0.1:  # a double click
                    self.run.send(DECIDE, proposal.id, decision)

    def beat(self) -> None:
        """What beat sends: poll the AIS, sweep approvals left unposted."""
        self.run.send(POLL_AIS, lost_after_seconds=LOST_AFTER_SECONDS)
        self.run.send(POST_APPROVED, older_than_seconds=2.0)


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """The AIS and the store: a PostgreSQL database each, of this test."""
    if shutil.which("redis-server") is None:
        _unavailable("redis-server is not installed: the fault test runs a Redis of its own")
    with _temporary_database() as ais_url, _temporary_database() as store_url:
        yield ais_url, store_url


def through(proxy: TcpProxy, url: str) -> str:
    """``url`` with the proxy's port in place of PostgreSQL's."""
    parsed = make_url(url)
    assert parsed.port == PG_PORT
    return parsed.set(port=proxy.port).render_as_string(hide_password=False)


def test_nothing_is_lost_or_posted_twice_under_faults(
    tmp_path: Path, databases: tuple[str, str]
) -> None:
    seed = int(os.environ.get("LEDGERPILOT_FAULT_SEED") or random.randrange(1_000_000))
    print(f"\nfault run: seed {seed} (LEDGERPILOT_FAULT_SEED={seed} repeats it), "
          f"{DOCUMENTS} documents")  # fmt: skip
    ais_url, store_url = databases
    company = generate("hr", years=1, inbox=DOCUMENTS, seed=7, per_year=300)
    arriving = list(company.inbox)
    inbox = [d.id for d in arriving]
    batches = [arriving[n::BATCHES] for n in range(BATCHES)]
    with ReferenceAIS.create(ais_url) as ais:
        ais.load(company.history(), chart=company.chart)
        ais.load(batches.pop(0))
    assert len(set(inbox)) == DOCUMENTS
    with ProposalStore.create(store_url) as store:
        add_reviewers(store)

    redis = PrivateRedis(tmp_path).start()
    proxy = TcpProxy(PG_PORT)
    model = FakeModelServer(slow_seconds=2.5)
    deployment = Deployment(
        tmp_path, through(proxy, ais_url), through(proxy, store_url), redis.url, redis.url
    )
    run = Run(deployment, redis, proxy, model, random.Random(seed))
    store = ProposalStore(store_url)
    try:
        run.start_worker({FAULT_ENV: AFTER_AIS_COMMIT})  # memory; dies after its 1st posting
        run.start_worker(
            {
                "LEDGERPILOT_BACKEND": "auto",
                "LEDGERPILOT_AUTO_THRESHOLD": "1.01",  # the model is asked for every document
                "LEDGERPILOT_LLM_BASE_URL": model.base_url,
                "LEDGERPILOT_LLM_MODEL": "fake",
                "LEDGERPILOT_LLM_TIMEOUT": "1.0",
            }
        )
        reviewer = Reviewer(run, store)
        errors: list[str] = []
        plan = run.schedule()
        print("  plan: " + ", ".join(f"{kind} at {at:.1f} s" for at, kind in plan), flush=True)
        started = time.monotonic()
        faults = threading.Thread(target=run.faulting, args=(started, plan, errors), daemon=True)
        faults.start()
        while faults.is_alive() or time.monotonic() - started < FAULT_WINDOW_SECONDS:
            elapsed = time.monotonic() - started
            if batches and elapsed > FAULT_WINDOW_SECONDS * (BATCHES - len(batches)) / BATCHES:
                with ReferenceAIS(ais_url) as ais:  # new documents arrive in the AIS
                    assert ais.load(batches.pop(0)).inserted > 0
            run.supervise()
            reviewer.beat()
            reviewer.review()
            time.sleep(0.5)
            assert time.monotonic() - started < FAULT_WINDOW_SECONDS + 120, "faults never ended"
        faults.join()
        assert not errors, errors
        assert not batches
        # The faults are over: the system catches up by itself, beat and reviewer going on.
        drain_started = time.monotonic()
        while True:
            run.supervise()
            reviewer.beat()
            reviewer.review()
            counts = store.counts()
            active = store.active_among(inbox)
            if (
                len(active) == DOCUMENTS
                and not counts.get("approved")
                and not counts.get("proposed")
            ):
                break
            if time.monotonic() - drain_started > DRAIN_SECONDS:
                break  # the checks below say what is missing
            time.sleep(1.0)
        drained = time.monotonic() - drain_started
        check(run, reviewer, store, ais_url, inbox, drained)
    finally:
        store.close()
        deployment.stop_workers()
        if run._sender is not None:
            run._sender.close()
        proxy.close()
        model.close()
        redis.kill()


def check(
    run: Run, reviewer: Reviewer, store: ProposalStore, ais_url: str, inbox: list[str],
    drained: float,
) -> None:  # fmt: skip
    """The end state the accounts must show, and the counts printed."""
    proposals = store.list(limit=100_000)
    by_document: dict[str, list[Any]] = {}
    for proposal in proposals:
        by_document.setdefault(proposal.document_id, []).append(proposal)
    active = {d: [p for p in ps if p.status != "rejected"] for d, ps in by_document.items()}
    lost = [d for d in inbox if not active.get(d)]
    drafted_twice = {d: [p.id for p in ps] for d, ps in active.items() if len(ps) > 1}
    statuses = Counter(p.status for p in proposals)
    engine = create_engine(ais_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.posting_key, d.external_id FROM journal_entries e"
                    " JOIN documents d ON d.id = e.document_id WHERE e.posting_key IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    entries = Counter(key for key, _ in rows)
    posted_documents = Counter(document for _, document in rows)
    logs = {p.id: Counter(d.action for d in store.decisions(p.id)) for p in proposals}
    by_id = {p.id: p for p in proposals}
    posted = {p.id for p in proposals if p.status == "posted"}
    approved_in_log = {pid for pid, log in logs.items() if log["approve"]}
    duplicates = sum(n - 1 for n in entries.values()) + sum(
        n - 1 for n in posted_documents.values()
    )
    summary = {
        "documents": len(inbox),
        "proposals": len(proposals),
        "faults": dict(run.faults),
        "model_requests": dict(run.model.requests),
        "postgres_connections_cut": run.proxy.cut,
        "postgres_connections_refused": run.proxy.refused,
        "sends_failed_while_redis_down": run.send_failures,
        "approved": len(reviewer.approved),
        "rejected": len(reviewer.rejected),
        "postings": len(entries),
        "duplicates": duplicates,
        "lost": len(lost),
        "statuses": dict(statuses),
        "drain_seconds": round(drained, 1),
    }
    print("  result: " + ", ".join(f"{k} = {v}" for k, v in summary.items()), flush=True)
    kinds = ("kill_worker", "restart_redis", "block_postgres", "model_slow", "model_down")
    for kind in (*kinds, "died_after_ais_commit"):
        assert run.faults[kind] >= 1, f"no {kind} fault was injected"
    assert not lost, f"documents without an active proposal: {lost[:10]}"
    assert not drafted_twice, f"documents drafted twice: {list(drafted_twice.items())[:5]}"
    assert set(statuses) <= TERMINAL_OR_RESUMABLE, f"left in between: {statuses}"
    # Every approved proposal: exactly one AIS entry (or set aside with the AIS's reason).
    assert duplicates == 0, f"duplicate AIS entries: {entries.most_common(3)}"
    for pid in reviewer.approved:
        proposal = by_id[pid]
        if proposal.status == "posted":
            assert entries[pid] == 1, f"{pid} is posted but has {entries[pid]} AIS entries"
            assert proposal.ais_entry_id is not None
        else:
            assert proposal.status == "quarantined" and entries[pid] == 0, (pid, proposal.status)
            assert proposal.note, f"{pid} was set aside without a reason"
    # No AIS entry without an approval.
    assert set(entries) == posted, set(entries) ^ posted
    assert posted <= reviewer.approved and posted <= approved_in_log
    assert approved_in_log == reviewer.approved, approved_in_log ^ reviewer.approved
    # The decision log: each approval and rejection once, each posting once.
    for pid in reviewer.approved:
        assert logs[pid]["approve"] == 1, (pid, logs[pid])
        assert logs[pid]["post"] == (1 if pid in posted else 0), (pid, logs[pid])
        assert logs[pid]["reject"] == 0, (pid, logs[pid])
    for pid in reviewer.rejected:
        assert logs[pid]["reject"] == 1 and logs[pid]["approve"] == 0, (pid, logs[pid])
        assert by_id[pid].status == "rejected"
        assert entries[pid] == 0
    assert len(reviewer.approved) > DOCUMENTS // 2, "too little got approved to show anything"
