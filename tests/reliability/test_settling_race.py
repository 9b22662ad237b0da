"""Two processes settling the same approval at once post it once and never set it aside.

A ``decide`` task and the ``post_approved`` sweep (or a double click's two ``decide``
tasks) can settle one approval in two worker processes at the same moment, each resuming
the drafting graph on its own checkpointer. The fault test (``test_faults.py``) caught
this interleaving: settler B resumes the graph from the review step, but writes its
"approved" step only after settler A has posted; A then reads B's half-done step as the
graph's newest. A must step back (:class:`~ledgerpilot.agent.settling.SettlingElsewhere`,
which the workers retry), not report an unexpected state, which the workers answered by
quarantining an approval whose entry was already in the AIS.

Here that interleaving is forced with pauses around the real PostgreSQL checkpointer's
reads and writes (timing only: every call goes through unchanged), in two threads with a
store, an AIS connection and a graph each, as two worker processes have.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.checkpoints import open_checkpointer
from ledgerpilot.agent.drafting import draft_pending, settle
from ledgerpilot.agent.graph import build_graph
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.agent.settling import SettlingElsewhere
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore
from ledgerpilot.workers.runtime import is_transient
from tests.agent.drafting_kit import add_reviewers, make_company, rent_invoice
from tests.conftest import _temporary_database

pytestmark = [pytest.mark.postgres]

WAIT = 30.0


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """The AIS and the store: a PostgreSQL database each, of this test."""
    with _temporary_database() as ais_url, _temporary_database() as store_url:
        yield ais_url, store_url


class SecondLook:
    """Settler A's graph: before its second look at the state (after posting), it lets B
    write its step and waits until B has."""

    def __init__(self, graph: Any, release: threading.Event, written: threading.Event) -> None:
        self._graph, self._release, self._written, self._looks = graph, release, written, 0

    def get_state(self, config: Any) -> Any:
        self._looks += 1
        if self._looks == 2:
            self._release.set()
            assert self._written.wait(WAIT)
        return self._graph.get_state(config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


def test_a_settler_that_reads_another_ones_half_done_step_steps_back(
    databases: tuple[str, str],
) -> None:
    ais_url, store_url = databases
    make_company(ais_url, [rent_invoice("SI-3", "2024-03-03")])
    with ReferenceAIS(ais_url) as ais, ProposalStore.create(store_url) as store:
        add_reviewers(store)
        index = HistoryIndex.build(ais.history(), ais.chart())
        list(draft_pending(ais, store, MemoryBackend(index)))
        pid = store.list("proposed")[0].id
        assert store.approve(pid, user="ana").applied
        before = ais.summary().posted
    loaded, release, written, finish = (threading.Event() for _ in range(4))
    outcome: dict[str, Any] = {}

    def settler_b() -> None:
        with (
            ReferenceAIS(ais_url) as ais,
            ProposalStore(store_url) as store,
            open_checkpointer(store_url) as saver,
        ):
            real_get, real_put = saver.get_tuple, saver.put
            calls = {"get": 0, "put": 0}

            def get_tuple(*args: Any, **kwargs: Any) -> Any:
                found = real_get(*args, **kwargs)
                calls["get"] += 1
                if calls["get"] == 2:  # the graph has loaded the review step: wait for A
                    loaded.set()
                    assert release.wait(WAIT)
                return found

            def put(*args: Any, **kwargs: Any) -> Any:
                stored = real_put(*args, **kwargs)
                calls["put"] += 1
                if calls["put"] == 1:  # the "approved" step is written: let A look
                    written.set()
                    assert finish.wait(WAIT)
                return stored

            saver.get_tuple = get_tuple  # type: ignore[method-assign]
            saver.put = put  # type: ignore[method-assign]
            try:
                outcome["b"] = settle(store, ais, pid, graph=build_graph(saver)).proposal.status
            except Exception as exc:
                outcome["b"] = exc

    b = threading.Thread(target=settler_b)
    b.start()
    try:
        assert loaded.wait(WAIT)
        with (
            ReferenceAIS(ais_url) as ais,
            ProposalStore(store_url) as store,
            open_checkpointer(store_url) as saver,
        ):
            graph = SecondLook(build_graph(saver), release, written)
            with pytest.raises(SettlingElsewhere) as stepped_back:
                settle(store, ais, pid, graph=graph)  # type: ignore[arg-type]
            assert is_transient(stepped_back.value)  # a worker retries it
            assert store.get(pid).status == "approved"  # type: ignore[union-attr]
    finally:
        release.set()
        finish.set()
        b.join(timeout=WAIT)
    assert outcome["b"] == "posted", outcome["b"]
    with (
        ReferenceAIS(ais_url) as ais,
        ProposalStore(store_url) as store,
        open_checkpointer(store_url) as saver,
    ):
        # A's retry finds the posting done: nothing twice.
        again = settle(store, ais, pid, graph=build_graph(saver))
        assert again.proposal.status == "posted" and not again.applied
        assert ais.summary().posted == before + 1
        assert [d.action for d in store.decisions(pid)] == ["approve", "post"]
