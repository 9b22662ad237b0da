"""Run a test's Python script in a fresh interpreter, to see what it imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_script(script: str, *args: str, cwd: Path, drop_env: str) -> Any:
    """Run ``script`` with ``args`` in a new Python process, without the environment
    variables starting with ``drop_env`` and in ``cwd`` (no ``.env`` file of the
    developer's); the JSON of its last printed line. Fails the test if the script fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_env)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
