"""``ledgerpilot ask`` through Typer's runner: JSON answers, exit codes, and two consecutive
calls that continue one conversation (kept in the data directory) unless ``--new``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledgerpilot.cli import app
from ledgerpilot.config import get_settings

from .conftest import store_url


@pytest.fixture
def cli(generic_ais_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``ask`` over the English company, with its own data directory and store."""
    monkeypatch.setenv("LEDGERPILOT_DATA_DIR", str(tmp_path))
    for name in ("LEDGERPILOT_LLM_BASE_URL", "LEDGERPILOT_LOCAL_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def ask(*args: str) -> tuple[int, str]:
        result = runner.invoke(
            app, ["ask", "--ais", generic_ais_url, "--store", store_url(tmp_path), *args]
        )
        return result.exit_code, result.stdout

    yield ask
    get_settings.cache_clear()


def test_json_answer_then_a_follow_up_in_the_next_call(cli: Any, tmp_path: Path) -> None:
    code, text = cli("--json", "How do I post a phone bill?")
    assert code == 0, text
    first = json.loads(text)
    assert first["status"] == "answered" and first["backend"] == "memory"
    assert [(ln["account"], ln["side"], ln["amount"]) for ln in first["scheme"]["lines"]] == [
        ("1310", "debit", "tax at 17%"), ("6000", "debit", "net"), ("2110", "credit", "gross"),
    ]  # fmt: skip
    assert first["evidence"] and all(i.startswith("SI-") for i in first["evidence"])
    assert (tmp_path / "ask-thread").read_text().strip() == first["thread"]

    code, text = cli("--json", "and for 1,170.00 gross?")
    assert code == 0, text
    second = json.loads(text)
    assert second["thread"] == first["thread"] and second["understood"]["kept"] == ["topic", "kind"]
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in second["entry"]["lines"]] == [
        ("1310", "170.00", "0.00"), ("6000", "1000.00", "0.00"), ("2110", "0.00", "1170.00"),
    ]  # fmt: skip

    code, text = cli("--json", "--new", "and for 1,170.00 gross?")
    third = json.loads(text)
    assert code == 1 and third["thread"] != first["thread"] and third["status"] == "unclear"


def test_nothing_fits_exits_1_and_a_missing_model_exits_2(cli: Any) -> None:
    code, text = cli("--json", "How do I post the purchase of a yacht?")
    assert code == 1 and json.loads(text)["status"] == "nothing_fits"
    code, _ = cli("--backend", "llm", "How do I post a phone bill?")
    assert code == 2


def test_the_table_for_reading(cli: Any) -> None:
    code, text = cli("--thread", "ask:cli:readable-table", "How do I post the office rent?")
    assert code == 0
    assert "answered" in text and "6120" in text and "Rent" in text and "rests on" in text
