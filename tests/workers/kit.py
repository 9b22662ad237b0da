"""What the worker tests share: real Celery worker processes, and a small company to work on.

A :class:`Deployment` is one test's ledgerpilot: its AIS (the small rent company of
:mod:`tests.agent.drafting_kit`), its store with the test reviewers, its broker and result
backend, and the settings every process of the test reads from the environment.
:meth:`Deployment.start_worker` starts ``python -m tests.workers.worker_process`` as a
subprocess in its own process group (:meth:`Deployment.start_beat`, ``ledgerpilot beat``);
:meth:`Deployment.stop_workers` kills every group it started (fixtures call it in ``finally``), so that no worker outlives its test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ledgerpilot.config import Settings
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore
from ledgerpilot.workers import LedgerpilotCelery, create_app
from tests.agent.drafting_kit import add_reviewers, make_company, rent_invoice

REPO = Path(__file__).resolve().parents[2]
INBOX = [rent_invoice(f"SI-{n}", f"2024-03-0{n}") for n in (3, 4, 5)]
"""Three pending rent invoices; the memory backend proposes each from the two posted ones."""
START_SECONDS = 60.0
WAIT_SECONDS = 45.0
"""Ample: a task here takes well under a second; these only bound a broken test."""

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], seconds: float = WAIT_SECONDS) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` if it never does."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds:.0f} s")
        time.sleep(0.1)


@dataclass
class Worker:
    """A worker process (the leader of its own process group) and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """What the worker has logged so far."""
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self.process.poll() is None


@dataclass
class Deployment:
    """One test's AIS, store, broker and worker processes."""

    root: Path
    ais_url: str
    store_url: str
    broker_url: str | None = None
    result_backend: str | None = None
    workers: list[Worker] = field(default_factory=list)
    _app: LedgerpilotCelery | None = None

    @property
    def settings(self) -> Settings:
        """The settings of this deployment, as the worker processes read them."""
        return Settings(
            data_dir=self.root,
            ais_url=self.ais_url,
            store_url=self.store_url,
            broker_url=self.broker_url,
            result_backend=self.result_backend,
        )

    def environment(self, **extra: str) -> dict[str, str]:
        """The environment of a worker process: these settings, and ``extra``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERPILOT_")}
        env.update(
            LEDGERPILOT_DATA_DIR=str(self.root),
            LEDGERPILOT_AIS_URL=self.ais_url,
            LEDGERPILOT_STORE_URL=self.store_url,
        )
        if self.broker_url:
            env["LEDGERPILOT_BROKER_URL"] = self.broker_url
        if self.result_backend:
            env["LEDGERPILOT_RESULT_BACKEND"] = self.result_backend
        env.update(extra)
        return env

    def create(self) -> Deployment:
        """Make the AIS with its pending rent invoices and the store with the reviewers."""
        make_company(self.ais_url, INBOX)
        with ProposalStore.create(self.store_url) as store:
            add_reviewers(store)
        return self

    @property
    def app(self) -> LedgerpilotCelery:
        """The Celery app of these settings, for sending tasks as the web UI and beat do."""
        if self._app is None:
            self._app = create_app(self.settings)
        return self._app

    def send(self, task: str, *args: Any, **kwargs: Any) -> Any:
        """Enqueue ``task``; its :class:`~celery.result.AsyncResult`."""
        return self.app.send_task(task, args=args, kwargs=kwargs)

    def run(self, task: str, *args: Any, **kwargs: Any) -> Any:
        """Enqueue ``task`` and wait for a worker's result."""
        return self.send(task, *args, **kwargs).get(timeout=WAIT_SECONDS)

    def store(self) -> ProposalStore:
        """The store (close it after use)."""
        return ProposalStore(self.store_url)

    def ais(self) -> ReferenceAIS:
        """The AIS (close it after use)."""
        return ReferenceAIS(self.ais_url)

    def start_worker(self, *options: str, **env: str) -> Worker:
        """Start a worker process with ``options`` and extra environment; wait until ready."""
        command = [sys.executable, "-m", "tests.workers.worker_process", *options]
        return self._start(command, " ready.", env)

    def start_beat(self, **env: str) -> Worker:
        """Start ``ledgerpilot beat`` with extra environment; wait until it runs."""
        command = [sys.executable, "-m", "ledgerpilot.cli", "beat", "--loglevel", "INFO"]
        return self._start(command, "beat: Starting", env)

    def _start(self, command: list[str], ready: str, env: dict[str, str]) -> Worker:
        log = self.root / f"process-{len(self.workers)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.environment(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process, log)
        self.workers.append(worker)
        deadline = time.monotonic() + START_SECONDS
        while ready not in worker.output():
            if not worker.alive() or time.monotonic() > deadline:
                raise AssertionError(f"{command[2]} did not start:\n{worker.output()[-3000:]}")
            time.sleep(0.1)
        return worker

    def stop_workers(self) -> None:
        """Kill every process this deployment started, with a worker's pool children."""
        for worker in self.workers:
            # The whole group: a worker killed by the fault hook may leave pool children.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=30)
        self.workers.clear()
        if self._app is not None:
            self._app.close()
            self._app = None
