"""The browser harness: Playwright for Python driving Debian's chromium.

Playwright downloads no browser here (``playwright install`` is never run): it launches
``/usr/bin/chromium``, which :func:`chromium_executable` installs with apt
(``install_chromium.sh``) when it is missing, or skips the browser tests saying why. Each
test gets a fresh, empty profile directory and a 1280x800 viewport.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SCRIPT = Path(__file__).with_name("install_chromium.sh")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container: chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
INSTALL_TIMEOUT_S = 600


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's chromium through Playwright")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _install_chromium() -> None:
    """Run install_chromium.sh once per machine, even with several xdist workers asking."""
    if shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium")
    if os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing; install it as root: apt-get install -y chromium")
    lock_path = Path(tempfile.gettempdir()) / "ledgerpilot-chromium-install.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # apt holds its own lock; this one just waits politely
        if CHROMIUM.exists():
            return
        try:
            result = subprocess.run(
                ["sh", str(INSTALL_SCRIPT)],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"installing chromium with apt took over {INSTALL_TIMEOUT_S} s")
        if result.returncode != 0 or not CHROMIUM.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            pytest.skip("apt-get could not install chromium: " + " | ".join(tail))


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's chromium, installed with apt if it is missing (skips when that fails)."""
    if not CHROMIUM.exists():
        _install_chromium()
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """A running Playwright driver for the session."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_context(playwright: Any, chromium_executable: Path, tmp_path: Path) -> Iterator[Any]:
    """A chromium window of 1280x800 with a new, empty user-data-dir; closed after the test."""
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "chromium-profile"),
        executable_path=str(chromium_executable),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport=VIEWPORT,
        timeout=60_000,
    )
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()
