"""What one worker process keeps between tasks: the store, the AIS and the drafting backend.

Each worker process opens its own connections on first use (never before the pool forks),
keeps the drafting graph's checkpointer open, and keeps one drafting backend, built from the AIS's posting history at first use and
built again when the number of posted documents has changed (looked at no more often
than every :data:`BACKEND_REFRESH_SECONDS`).

:func:`is_transient` says which errors are worth a retry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc

from ledgerpilot.agent.backends.base import Backend, BackendUnavailable
from ledgerpilot.agent.backends.factory import make_backend
from ledgerpilot.agent.checkpoints import open_checkpointer
from ledgerpilot.agent.checkpoints import unavailable as checkpoints_unavailable
from ledgerpilot.agent.drafting import DraftingAIS
from ledgerpilot.agent.graph import DraftGraph, build_graph
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.agent.settling import SettlingElsewhere
from ledgerpilot.agent.state import DraftSettings
from ledgerpilot.connectors import AIS, ConnectorUnavailable, PostingResult, open_ais
from ledgerpilot.connectors.errors import is_transient as is_transient_database_error
from ledgerpilot.ledger import ChartOfAccounts, Document, JournalEntry
from ledgerpilot.review import ProposalStore

if TYPE_CHECKING:
    from ledgerpilot.config import Settings

BACKEND_REFRESH_SECONDS = 60.0
"""How often a worker process asks the AIS whether its posting history has grown."""
FAULT_ENV = "LEDGERPILOT_FAULT"
AFTER_AIS_COMMIT = "after_ais_commit"


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says that a database, the AIS or the model server is unavailable
    right now, or that another process is settling the same proposal (worth a retry), not
    that the work itself is wrong."""
    if isinstance(error, (ConnectorUnavailable, BackendUnavailable, SettlingElsewhere)):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return is_transient_database_error(error)
    if checkpoints_unavailable(error):  # raised through LangGraph's checkpointers
        return True
    return isinstance(error, (ConnectionError, TimeoutError))


class WorkerRuntime:
    """The store, the AIS and the backend of one worker process, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.draft_settings = DraftSettings(max_repairs=settings.max_repairs)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._store: ProposalStore | None = None
        self._ais: AIS | None = None
        self._backend: tuple[Backend, ChartOfAccounts] | None = None
        self._posted = -1
        self._checked = 0.0
        self._graph: DraftGraph | None = None
        self._graph_stack: ExitStack | None = None

    def store(self) -> ProposalStore:
        """The proposal store (which must exist at the newest revision)."""
        self._own()
        if self._store is None:
            store = ProposalStore(self.settings.default_store_url())
            try:
                store.check_schema()
            except BaseException:
                store.close()
                raise
            self._store = store
        return self._store

    def ais(self) -> DraftingAIS:
        """The AIS connector the tasks use."""
        ais = self._connector()
        if os.environ.get(FAULT_ENV) == AFTER_AIS_COMMIT:
            return DiesAfterPosting(ais, self.settings.data_dir / f"fault-{AFTER_AIS_COMMIT}")
        return ais

    def backend(self) -> tuple[Backend, ChartOfAccounts]:
        """The drafting backend and the chart it was built with, built again when the AIS's
        posting history has grown."""
        with self._lock:
            now = time.monotonic()
            if self._backend is not None and now - self._checked < BACKEND_REFRESH_SECONDS:
                return self._backend
            ais = self._connector()
            posted = ais.count_history()
            self._checked = now
            if self._backend is None or posted != self._posted:
                chart = ais.chart()
                index = HistoryIndex.build(ais.history(), chart)
                name = self.settings.backend
                self._backend = make_backend(name, index, chart, self.settings), chart
                self._posted = posted
            return self._backend

    def graph(self) -> DraftGraph:
        """The drafting graph on a checkpointer of the store's database, kept open."""
        self._own()
        if self._graph is None:
            stack = ExitStack()
            saver = stack.enter_context(open_checkpointer(self.settings.default_store_url()))
            self._graph, self._graph_stack = build_graph(saver), stack
        return self._graph

    def forget_graph(self) -> None:
        """Close the checkpointer (after a transient error: the next task opens a new one)."""
        stack, self._graph, self._graph_stack = self._graph_stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):  # a broken connection closes as it can
                stack.close()

    def close(self) -> None:
        """Close the connections this process opened."""
        self.forget_graph()
        if self._store is not None:
            self._store.close()
        if self._ais is not None:
            self._ais.close()
        self._store = self._ais = None

    def _connector(self) -> AIS:
        self._own()
        if self._ais is None:
            self._ais = open_ais(self.settings.default_ais_url(), self.settings.ais_mapping)
        return self._ais

    def _own(self) -> None:
        """Forget connections inherited across a fork: a pool child opens its own."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            for holder in (self._store, self._ais):
                # Every SQL connector keeps its pool as ``engine``; one without has none to drop.
                engine = getattr(holder, "engine", None)
                if engine is not None:
                    engine.dispose(close=False)
            self._store = self._ais = None
            self._backend = None
            self._posted = -1
            self._graph = self._graph_stack = None  # the parent's checkpointer stays its own


class DiesAfterPosting:
    """The AIS, with a process that is SIGKILLed right after its posting commits: a test hook.

    Only with ``LEDGERPILOT_FAULT=after_ais_commit`` in a worker's environment: the first
    posting in that ``data_dir`` (a marker file tells) commits in the AIS, and then the
    process running the task dies before the graph's checkpoint and the store's update,
    as a power cut there would. The kill tests use it to show that the entry is still
    posted once and the store learns of it.
    """

    def __init__(self, ais: AIS, marker: Path) -> None:
        self._ais = ais
        self._marker = marker

    def chart(self) -> ChartOfAccounts:
        """The AIS's chart."""
        return self._ais.chart()

    def pending_documents(self, limit: int | None = None) -> list[Document]:
        """The AIS's pending documents."""
        return self._ais.pending_documents(limit)

    def get_document(self, external_id: str) -> Document | None:
        """A document of the AIS."""
        return self._ais.get_document(external_id)

    def post_entry(
        self, document_id: str, entry: JournalEntry, key: str, posted_by: str | None = None
    ) -> PostingResult:
        """Post, then die once, right after the commit."""
        result = self._ais.post_entry(document_id, entry, key, posted_by)
        try:
            self._marker.parent.mkdir(parents=True, exist_ok=True)
            with self._marker.open("x") as marker:
                marker.write(f"{os.getpid()} {key}\n")
        except FileExistsError:
            return result
        os.kill(os.getpid(), signal.SIGKILL)
        return result  # not reached
