"""``ledgerpilot eval --documents``: a given sample of the hold-out, drafted by the local
model in batches, as benchmarks/bench_sft.py drafts its test sample."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.synth import generate
from ledgerpilot.training.tiny_model import build_test_model

HOLDOUT = dt.date(2025, 1, 1)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A two-year company in SQLite and the ids of its held-out posted documents."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'ais.sqlite'}"
    synthetic = generate("generic", years=2, inbox=0, seed=5, per_year=120)
    with ReferenceAIS.create(url) as ais:
        ais.load(synthetic.history(), chart=synthetic.chart)
        held = [d.id for d in ais.history(since=HOLDOUT) if d.entry is not None]
    yield url, held


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app
    from ledgerpilot.config import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()


def test_eval_drafts_the_documents_of_a_file(
    company: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, held = company
    sample = tmp_path / "test_docs.txt"
    sample.write_text(f"# a sample\n{held[9]}\n\n{held[2]}\n", encoding="utf-8")
    done = cli(
        "eval",
        "--ais",
        url,
        "--holdout-from",
        HOLDOUT.isoformat(),
        "--documents",
        str(sample),
        "--no-baseline",
        "--json",
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["documents"] == 2
    listed = tmp_path / "ids.json"
    listed.write_text(json.dumps([held[2], held[9], held[11]]), encoding="utf-8")
    done = cli(
        "eval", "--ais", url, "--holdout-from", HOLDOUT.isoformat(), "--documents",
        str(listed), "--no-baseline", "--json", "--workers", "3",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["documents"] == 3


def test_eval_refuses_ids_outside_the_hold_out(
    company: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, held = company
    sample = tmp_path / "test_docs.txt"
    sample.write_text(f"{held[0]}\nNOT-A-DOCUMENT\n", encoding="utf-8")
    done = cli("eval", "--ais", url, "--holdout-from", HOLDOUT.isoformat(), "--documents",
               str(sample), "--no-baseline")  # fmt: skip
    assert done.exit_code == 2
    assert "NOT-A-DOCUMENT" in done.output and "hold-out" in done.output
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    done = cli("eval", "--ais", url, "--holdout-from", HOLDOUT.isoformat(), "--documents",
               str(empty))  # fmt: skip
    assert done.exit_code == 2 and "no document ids" in done.output


def test_eval_with_the_local_model_in_batches(
    company: tuple[str, list[str]], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The local backend's options reach it: batches of 3, short answers, no repairs."""
    url, held = company
    model_dir = build_test_model(tmp_path_factory.getbasetemp())
    sample = tmp_path / "test_docs.txt"
    sample.write_text("\n".join(held[:5]) + "\n", encoding="utf-8")
    runs = []
    for batch in ("1", "3"):
        done = cli(
            "eval", "--ais", url, "--holdout-from", HOLDOUT.isoformat(), "--backend", "local",
            "--documents", str(sample), "--no-baseline", "--json", "--batch-size", batch,
            "--max-new-tokens", "6", "--max-repairs", "0", "--threads", "1",
            env={"LEDGERPILOT_LOCAL_MODEL_DIR": str(model_dir), "LEDGERPILOT_LOCAL_PROMPT":
                 "compact", "LEDGERPILOT_LOCAL_EXAMPLES": "1"},
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        runs.append(json.loads(done.stdout))
    for result in runs:
        assert result["backend"] == "local" and result["documents"] == 5
        # The random model's six tokens are no scheme: every draft is quarantined.
        assert result["metrics"]["parsed"] == 0.0
        assert result["metrics"]["statuses"]["quarantined"] == 5
    for result in runs:
        for key in ("seconds_per_document", "index_seconds"):
            result["metrics"].pop(key)
    assert runs[0] == runs[1]
