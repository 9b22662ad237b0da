"""The harness itself, on a trivial local page: chromium starts, runs the page's script,
takes clicks and typing, and writes a screenshot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title></head>
<body>
  <label>amount <input id="amount" name="amount"></label>
  <button id="check" type="button">check</button>
  <p id="verdict">not checked</p>
  <script>
    document.getElementById("check").addEventListener("click", () => {
      const text = document.getElementById("amount").value;
      document.getElementById("verdict").textContent =
        /^\\d+\\.\\d{2}$/.test(text) ? "valid amount" : "bad_amount";
    });
  </script>
</body></html>
"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


@pytest.fixture
def local_page() -> Iterator[str]:
    """The page above, served on 127.0.0.1 at a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chromium_runs_a_local_page(browser_context: Any, local_page: str, tmp_path: Path) -> None:
    page = browser_context.new_page()
    page.goto(local_page)
    assert page.title() == "harness"
    page.fill("#amount", "12,5")
    page.click("#check")
    assert page.text_content("#verdict") == "bad_amount"
    page.fill("#amount", "12.50")
    page.click("#check")
    assert page.text_content("#verdict") == "valid amount"
    assert page.viewport_size == {"width": 1280, "height": 800}
    shot = tmp_path / "harness.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
