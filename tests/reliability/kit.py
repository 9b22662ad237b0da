"""What the reliability tests share: servers of their own that a test may break, on 127.0.0.1.

The shared PostgreSQL and Redis serve every test running in parallel, so a fault test
never touches them. Instead it gets:

- :class:`PrivateRedis`: a ``redis-server`` of its own on a free port, without persistence,
  that the test kills and starts again (a Redis restart loses what it held, as one without
  persistence would);
- :class:`TcpProxy`: a small TCP proxy between the worker processes and the shared
  PostgreSQL; blocking it cuts every connection that goes through it and refuses new ones
  for a while, as a PostgreSQL restart or a network partition does for the workers, while
  the test itself (and every other test) reads the databases directly;
- :class:`FakeModelServer`: the one fake, at the edge of the outside world: an
  OpenAI-compatible chat server that answers garbage, answers slowly, or is down (HTTP
  503), as a real model server can. It stands where vLLM would, never in place of our code.

Everything listens on 127.0.0.1 only, on ports the operating system hands out.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------ Redis


class PrivateRedis:
    """A ``redis-server`` of the test's own, on a free port, without persistence."""

    def __init__(self, root: Path) -> None:
        self.executable = shutil.which("redis-server")
        self.port = free_port()
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        """The broker URL (database 0 of this server)."""
        return f"redis://{LOCALHOST}:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start the server and wait until it answers."""
        assert self.executable, "redis-server is not installed"
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                LOCALHOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((LOCALHOST, self.port), 1):
                return self
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the server: what it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self, down_seconds: float = 1.0) -> None:
        """Kill the server and start it again, empty, after ``down_seconds``."""
        self.kill()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1


# ------------------------------------------------------------ PostgreSQL


class TcpProxy:
    """A TCP proxy on a free port of 127.0.0.1 to ``target_port``; :meth:`block` cuts it."""

    def __init__(self, target_port: int, target_host: str = LOCALHOST) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((LOCALHOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._blocked = False
        self._closed = False
        self.cut = 0
        """Connections cut by :meth:`block`."""
        self.refused = 0
        """Connections refused while blocked."""
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def block(self) -> None:
        """Cut every connection through the proxy and refuse new ones until :meth:`unblock`."""
        with self._lock:
            self._blocked = True
            cut, self._sockets = self._sockets, set()
        for sock in cut:
            self.cut += 1
            _shut(sock)

    def unblock(self) -> None:
        """Let connections through again."""
        with self._lock:
            self._blocked = False

    def close(self) -> None:
        """Stop listening and cut everything."""
        self._closed = True
        self.block()
        _shut(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._blocked:
                self.refused += 1
                _shut(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _shut(client)
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            _shut(source)
            _shut(sink)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


# ------------------------------------------------------------ the model server


GARBAGE = 'Sure! Here is the entry: {"lines": [{"account": "??", "debit": "lots"'
"""A model answer that is no posting scheme (cut off, not JSON)."""


class FakeModelServer:
    """An OpenAI-compatible chat server at the edge, whose behaviour the test switches.

    ``mode``: ``garbage`` (a 200 answer that is no posting scheme), ``slow`` (the same
    after ``slow_seconds``, past the client's timeout), ``down`` (HTTP 503). Counts the
    requests it saw per mode.
    """

    def __init__(self, slow_seconds: float = 3.0) -> None:
        self.mode = "garbage"
        self.slow_seconds = slow_seconds
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                mode = server.mode
                server.requests[mode] += 1
                if mode == "down":
                    self._json(503, {"error": {"message": "overloaded", "type": "server_error"}})
                    return
                if mode == "slow":
                    time.sleep(server.slow_seconds)
                self._json(200, _completion(GARBAGE))

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        """The OpenAI API root."""
        return f"http://{LOCALHOST}:{self.port}/v1"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
