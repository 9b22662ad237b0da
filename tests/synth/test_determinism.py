"""Same seed, same company, byte for byte; the inbox is the history's true continuation."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from ledgerpilot.ledger import Document
from ledgerpilot.synth import generate, write_truth
from ledgerpilot.synth.year import YearRun
from tests.synth.conftest import CHARTS


def _digest(docs: Iterable[Document]) -> str:
    h = hashlib.sha256()
    for doc in docs:
        h.update(json.dumps(doc.to_json(), ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def _fingerprint(chart: str, seed: int) -> tuple[str, str, str]:
    company = generate(chart, 2, 80, seed, per_year=500)
    return _digest(company.history()), _digest(company.inbox), _digest(company.truth)


@pytest.mark.parametrize("chart", CHARTS)
def test_same_seed_gives_the_same_company(chart: str) -> None:
    assert _fingerprint(chart, 3) == _fingerprint(chart, 3)


def test_history_can_be_streamed_again_with_the_same_result() -> None:
    company = generate("hr", 2, 10, 5, per_year=400)
    assert _digest(company.history()) == _digest(company.history())


def test_a_different_seed_gives_a_different_company() -> None:
    a, b = _fingerprint("hr", 3), _fingerprint("hr", 4)
    assert a[0] != b[0] and a[2] != b[2]


@pytest.mark.parametrize("chart", CHARTS)
def test_inbox_is_what_continuing_the_history_gives(chart: str) -> None:
    """The inbox is computed from the last year alone; it must equal the full continuation."""
    company = generate(chart, 3, 250, 9, per_year=900)
    carry: list = []
    for year in range(company.start_year, company.end_year + 1):
        run = YearRun(company.plan, company._book, year, carry, noisy=True)
        for _ in run.run():
            pass
        carry = run.carry_out
    continued: list[Document] = []
    run = YearRun(company.plan, company._book, company.end_year + 1, carry, noisy=False)
    for doc in run.run():
        continued.append(doc)
        if len(continued) == 250:
            break
    assert _digest(continued) == _digest(company.truth)


def test_write_truth_writes_interchange_json_lines(tmp_path: Path) -> None:
    company = generate("de_skr03", 1, 40, 2, per_year=300)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_truth(first, company.truth) == 40
    write_truth(second, generate("de_skr03", 1, 40, 2, per_year=300).truth)
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    for line, doc in zip(lines, company.truth, strict=True):
        data = json.loads(line)
        assert data == doc.to_json()
        assert Document.from_json(data).to_json() == data


_DIGEST_SCRIPT = """
import hashlib, json
from ledgerpilot.synth import generate, summary
h = hashlib.sha256()
for chart in ("hr", "generic", "de_skr03"):
    company = generate(chart, 1, 30, 11, per_year=300)
    for doc in [*company.history(), *company.truth]:
        h.update(json.dumps(doc.to_json(), ensure_ascii=False).encode())
    h.update(json.dumps(summary(company), default=str).encode())
print(h.hexdigest())
"""


def test_same_company_whatever_the_hash_seed_of_the_process() -> None:
    """No set or hash order leaks into the output: two processes, two hash seeds, one company."""
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1
