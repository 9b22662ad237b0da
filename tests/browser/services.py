"""The processes of a browser test: ``ledgerpilot worker`` and ``ledgerpilot web``, each in
its own process group, started with one deployment's settings and killed afterwards.

A :class:`Deployment` holds the settings as environment variables (the embedded default:
SQLite AIS and store, kombu's SQLAlchemy broker on SQLite); :meth:`Deployment.stop` ends
every process group it started, so that no server or worker outlives its test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ledgerpilot.config import Settings

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0
STOP_SECONDS = 15.0

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], seconds: float) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds:.0f} s")
        time.sleep(0.2)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    """A started process (leader of its own group) and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """What the process has printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.popen.poll() is None


@dataclass
class Deployment:
    """One test's settings and the ledgerpilot processes running with them."""

    root: Path
    ais_url: str
    store_url: str
    base_url: str = ""
    """The web UI's address, once :meth:`start_web` has started it."""
    processes: list[Process] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        """The settings every process of this deployment reads."""
        return Settings(data_dir=self.root, ais_url=self.ais_url, store_url=self.store_url)

    def environment(self) -> dict[str, str]:
        """The environment of a process: these settings and nothing of the caller's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERPILOT_")}
        env.update(
            LEDGERPILOT_DATA_DIR=str(self.root),
            LEDGERPILOT_AIS_URL=self.ais_url,
            LEDGERPILOT_STORE_URL=self.store_url,
            # plain HTTP on localhost: the browser would not send a Secure cookie back
            LEDGERPILOT_SECURE_COOKIES="false",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, name: str, *args: str) -> Process:
        """Run ``ledgerpilot ARGS...`` in the background, its output in ``root/NAME.log``."""
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ledgerpilot.cli", *args],
                cwd=REPO,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start_worker(self) -> Process:
        """``ledgerpilot worker`` with one process; returns once Celery says it is ready."""
        worker = self.start("worker", "worker", "--concurrency", "1")
        wait_for(
            "the worker to be ready",
            lambda: " ready." in worker.output() or self._died(worker),
            START_SECONDS,
        )
        self._died(worker)
        return worker

    def start_web(self) -> str:
        """``ledgerpilot web`` on a free port; its base URL once it answers."""
        port = free_port()
        web = self.start("web", "web", "--host", "127.0.0.1", "--port", str(port))
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            self._died(web)
            try:
                with urllib.request.urlopen(f"{url}/login", timeout=2) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_for("the web UI to answer", answers, START_SECONDS)
        self.base_url = url
        return url

    def stop(self) -> None:
        """End every process group this deployment started: TERM, then KILL if need be."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=STOP_SECONDS)
            with contextlib.suppress(ProcessLookupError):  # pool children, or a stuck leader
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=STOP_SECONDS)
        self.processes.clear()

    def _died(self, process: Process) -> bool:
        if not process.alive():
            raise AssertionError(
                f"{process.name} exited with {process.popen.returncode}:\n{process.output()[-3000:]}"
            )
        return False
