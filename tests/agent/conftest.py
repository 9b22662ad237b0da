"""Fixtures of the agent tests: the tiny model, a small synthetic company, and real model servers.

The model servers are real OpenAI-compatible servers running here on 127.0.0.1 with the
tiny model: ``transformers serve`` (which accepts and ignores ``response_format``) and,
when ``llama-cpp-python[server]`` is installed, llama.cpp's server through
llama-cpp-python (which enforces a JSON schema with a grammar). Each is started once per
test session (per xdist worker) and stopped at its end.

:class:`EdgeProxy` is the one fake: a few lines of HTTP in front of the real server that
behave like the outside world can (a server that refuses ``response_format``, answers 503,
or is slow), and count what reaches it. It stands at the network edge, never in place of
our code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.ledger import Document
from ledgerpilot.synth import SyntheticCompany, generate
from ledgerpilot.training.tiny_model import build_test_model

SERVER_START_SECONDS = 180


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen2 model (random weights, tokenizer trained on synthetic prompts)."""
    return build_test_model(tmp_path_factory.getbasetemp())


@dataclass
class SmallCompany:
    """A one-year synthetic company with its history in memory."""

    company: SyntheticCompany
    history: list[Document]

    def first(self, kind: str) -> Document:
        """The first posted document of ``kind``."""
        return next(d for d in self.history if d.kind == kind)


@pytest.fixture(scope="session")
def small_company() -> SmallCompany:
    """300 posted documents on the hr chart and an inbox of 10."""
    company = generate("hr", years=1, inbox=10, seed=7, per_year=300)
    return SmallCompany(company, list(company.history()))


@dataclass
class ModelServer:
    """A model server process started by a fixture."""

    base_url: str
    """The OpenAI API root, ``http://127.0.0.1:PORT/v1``."""
    model: str
    """The model name requests must use."""
    process: subprocess.Popen[bytes]
    log: Path


def _start_server(
    command: list[str], base_url: str, model: str, log: Path, env: dict[str, str]
) -> ModelServer:
    """Start ``command`` and wait until ``base_url``/models answers; skip (fail in CI) if not."""
    handle = log.open("wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return ModelServer(base_url, model, process, log)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    _stop(process)
    tail = log.read_text(errors="replace")[-2000:]
    reason = f"{command[2]} did not start within {SERVER_START_SECONDS} s: {tail}"
    if _in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _server_env(tmp: Path) -> dict[str, str]:
    cache = tmp / "hf-cache"
    cache.mkdir(exist_ok=True)
    # Offline, with an empty cache of its own: nothing is downloaded, and /v1/models can
    # list the cache (transformers serve fails on a missing cache directory).
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}


@pytest.fixture(scope="session")
def transformers_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelServer]:
    """``transformers serve`` with the tiny model on CPU, on a free port of 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("transformers-serve")
    port = free_port()
    command = [
        sys.executable, "-m", "transformers.cli.transformers", "serve", str(tiny_model_dir),
        "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "warning",
    ]  # fmt: skip
    server = _start_server(
        command, f"http://127.0.0.1:{port}/v1", str(tiny_model_dir), tmp / "server.log",
        _server_env(tmp),
    )  # fmt: skip
    yield server
    _stop(server.process)


@pytest.fixture(scope="session")
def llama_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelServer]:
    """llama.cpp's server (llama-cpp-python) with the tiny model converted to GGUF."""
    pytest.importorskip(
        "llama_cpp.server",
        reason="llama-cpp-python[server] is not installed (it builds llama.cpp from source)",
    )
    from ledgerpilot.training.gguf_export import export_gguf

    tmp = tmp_path_factory.mktemp("llama-server")
    gguf = export_gguf(tiny_model_dir, tmp / "tiny.gguf")
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "tiny",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--chat_format", "chatml",
        "--n_threads", "1", "--verbose", "false",
    ]  # fmt: skip
    server = _start_server(command, f"http://127.0.0.1:{port}/v1", "tiny", tmp / "server.log",
                           _server_env(tmp))  # fmt: skip
    yield server
    _stop(server.process)


@dataclass
class EdgeProxy:
    """An HTTP proxy in front of a real model server that can act like other servers.

    ``refuse_response_format``: answer 400 to requests with ``response_format``, as servers
    without structured outputs do. ``fail_first``: answer 503 to that many requests first.
    ``delay``: seconds to hold each request. ``requests`` are the JSON bodies received,
    ``max_in_flight`` the most requests held at once.
    """

    upstream: str
    refuse_response_format: bool = False
    fail_first: int = 0
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    max_in_flight: int = 0
    base_url: str = ""
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, body: bytes) -> tuple[int, bytes]:
        """The status and body to answer a POST with."""
        payload = json.loads(body or b"{}")
        with self._lock:
            self.requests.append(payload)
            number = len(self.requests)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.delay)
            if number <= self.fail_first:
                return 503, _error("the server is overloaded, try again")
            if self.refuse_response_format and "response_format" in payload:
                return 400, _error("response_format is not supported by this server")
            request = urllib.request.Request(
                self.upstream + path.removeprefix("/v1"),
                data=body,
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=120) as reply:
                    return reply.status, reply.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()
        finally:
            with self._lock:
                self._in_flight -= 1


def _error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()


@pytest.fixture
def edge_proxy(transformers_server: ModelServer) -> Iterator[EdgeProxy]:
    """An :class:`EdgeProxy` in front of the transformers server, for one test."""
    proxy = EdgeProxy(upstream=transformers_server.base_url)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, reply = proxy.handle(self.path, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield proxy
    server.shutdown()
    server.server_close()
