"""Combining LoRA modules on the tiny model: every method, --full, the check, clear errors, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ledgerpilot.training.merge import (
    CHECK_PROMPTS,
    MergeCheckFailed,
    MergeError,
    merge_adapters,
    parse_weights,
)
from ledgerpilot.training.tiny_model import build_test_model


def make_adapter(base: Path, out: Path, rank: int, seed: int) -> Path:
    """A LoRA adapter on ``base`` with random, non-zero A and B matrices (no training)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False,  # B is random too, so the module changes the outputs
    )
    get_peft_model(model, config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's tiny model (shared with the other tests of the same worker)."""
    return build_test_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def modules(base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two rank-4 modules (domain, numeric) and a rank-2 one."""
    tmp = tmp_path_factory.mktemp("modules")
    return {
        "domain": make_adapter(base, tmp / "domain", 4, 1),
        "numeric": make_adapter(base, tmp / "numeric", 4, 2),
        "small": make_adapter(base, tmp / "small", 2, 3),
    }


def logits(model: Any, base: Path) -> list[torch.Tensor]:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(base)
    with torch.no_grad():
        return [
            model(input_ids=tokenizer(text, return_tensors="pt")["input_ids"]).logits
            for text in CHECK_PROMPTS
        ]


def max_diff(first: list[torch.Tensor], second: list[torch.Tensor]) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize(
    ("method", "density", "rank"),
    [
        ("linear", None, 4),
        ("ties", 0.5, 4),
        ("dare_ties", 0.7, 4),
        ("svd", None, 4),
        ("cat", None, 8),
    ],
)
def test_each_method_saves_an_adapter_that_reproduces_the_combination(
    base: Path,
    modules: dict[str, Path],
    tmp_path: Path,
    method: str,
    density: float | None,
    rank: int,
) -> None:
    pairs = [("domain", modules["domain"]), ("numeric", modules["numeric"])]
    result = merge_adapters(base, pairs, method, [1.0, 1.0], tmp_path / "out", density=density)
    assert result.max_abs_diff <= result.tolerance == 1e-3
    assert result.changed_base > 0.1  # the modules really change the outputs
    assert result.rank == rank
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert config["r"] == rank and config["base_model_name_or_path"] == str(base)
    report = json.loads((tmp_path / "out" / "merge_report.json").read_text())
    assert report["method"] == method and report["ranks"] == {"domain": 4, "numeric": 4}
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_cat_is_exactly_both_modules_applied_together(
    base: Path, modules: dict[str, Path], tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    pairs = [("domain", modules["domain"]), ("numeric", modules["numeric"])]
    result = merge_adapters(base, pairs, "cat", [1.0, 1.0], tmp_path / "cat")
    assert result.from_exact == 0.0

    both: Any = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
        modules["domain"],
        adapter_name="domain",
    )
    both.load_adapter(modules["numeric"], adapter_name="numeric")
    both.base_model.set_adapter(["domain", "numeric"])  # the sum of both updates
    combined = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), tmp_path / "cat"
    )
    assert max_diff(logits(both, base), logits(combined, base)) < 1e-4
    # An approximate method is measurably away from the exact sum, and says by how much.
    approximate = merge_adapters(base, pairs, "linear", [1.0, 1.0], tmp_path / "linear")
    assert approximate.from_exact > 1e-3


def test_full_merge_saves_a_servable_model_equal_to_the_adapter(
    base: Path, modules: dict[str, Path], tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pairs = [("domain", modules["domain"]), ("numeric", modules["numeric"])]
    adapter = merge_adapters(base, pairs, "svd", [1.0, 0.5], tmp_path / "adapter")
    full = merge_adapters(base, pairs, "svd", [1.0, 0.5], tmp_path / "full", full=True)
    assert full.full and adapter.max_abs_diff <= 1e-3 and full.max_abs_diff <= 1e-3
    assert not (tmp_path / "full" / "adapter_config.json").exists()

    merged: Any = AutoModelForCausalLM.from_pretrained(tmp_path / "full", dtype=torch.float32)
    tokenizer: Any = AutoTokenizer.from_pretrained(tmp_path / "full")
    assert len(tokenizer) == merged.config.vocab_size
    assert tokenizer.chat_template == AutoTokenizer.from_pretrained(base).chat_template
    with_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), tmp_path / "adapter"
    )
    assert max_diff(logits(merged, base), logits(with_adapter, base)) < 1e-4


def test_a_result_off_by_more_than_the_tolerance_fails_loudly(
    base: Path, modules: dict[str, Path], tmp_path: Path
) -> None:
    pairs = [("domain", modules["domain"]), ("numeric", modules["numeric"])]
    # Merged weights round differently from base + B @ A: a zero tolerance cannot hold.
    with pytest.raises(MergeCheckFailed, match="do not serve it") as failure:
        merge_adapters(base, pairs, "linear", [1, 1], tmp_path / "out", full=True, tolerance=0)
    assert "logits differ by up to" in str(failure.value)
    report = json.loads((tmp_path / "out" / "merge_report.json").read_text())
    assert report["max_abs_diff"] > 0


def test_linear_refuses_modules_of_different_ranks_and_svd_takes_them(
    base: Path, modules: dict[str, Path], tmp_path: Path
) -> None:
    pairs = [("domain", modules["domain"]), ("numeric", modules["small"])]
    for method in ("linear", "ties"):
        with pytest.raises(MergeError, match=r"same LoRA rank, got domain r=4, numeric r=2.*svd"):
            merge_adapters(
                base,
                pairs,
                method,
                [1, 1],
                tmp_path / method,
                density=0.5 if method == "ties" else None,
            )
        assert not (tmp_path / method).exists()  # refused before anything was written
    result = merge_adapters(base, pairs, "svd", [1, 1], tmp_path / "svd")
    assert result.rank == 4 and result.ranks == {"domain": 4, "numeric": 2}


@pytest.mark.parametrize(
    ("method", "density", "message"),
    [
        ("ties", None, "give --density"),
        ("dare_ties", 1.5, r"must be in \(0, 1\]"),
        ("linear", 0.5, "takes no --density"),
        ("svd", 0.5, "svd takes --svd-rank"),
        ("slerp", None, "unknown method"),
    ],
)
def test_density_and_method_mistakes_are_explained(
    base: Path,
    modules: dict[str, Path],
    tmp_path: Path,
    method: str,
    density: float | None,
    message: str,
) -> None:
    pairs = [("domain", modules["domain"]), ("numeric", modules["numeric"])]
    with pytest.raises(MergeError, match=message):
        merge_adapters(base, pairs, method, [1, 1], tmp_path / "out", density=density)


def test_inputs_are_checked(base: Path, modules: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MergeError, match="not a PEFT adapter directory"):
        merge_adapters(base, [("domain", tmp_path)], "linear", [1], tmp_path / "out")
    with pytest.raises(MergeError, match="gives 1 weight"):
        parse_weights("1", 2)
    with pytest.raises(MergeError, match="numbers separated by commas"):
        parse_weights("1;1", 2)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(MergeError, match="not empty"):
        merge_adapters(base, [("domain", modules["domain"])], "linear", [1], tmp_path / "taken")


def run_cli(*args: str) -> Any:
    """The ``ledgerpilot`` command run in this process (quicker than a new one with torch)."""
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    return CliRunner().invoke(app, list(args))


def test_the_merge_command(base: Path, modules: dict[str, Path], tmp_path: Path) -> None:
    common = ["merge", "--base", str(base), "--adapter", f"domain={modules['domain']}"]
    done = run_cli(
        *common,
        "--adapter",
        f"numeric={modules['numeric']}",
        "--method",
        "dare_ties",
        "--density",
        "0.8",
        "--weights",
        "1,0.5",
        "--out",
        str(tmp_path / "out"),
        "--full",
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["full"] and result["weights"] == [1.0, 0.5] and result["density"] == 0.8
    assert result["max_abs_diff"] <= result["tolerance"]
    assert (tmp_path / "out" / "model.safetensors").is_file()

    refused = run_cli(
        *common, "--adapter", f"numeric={modules['small']}", "--out", str(tmp_path / "no")
    )
    assert refused.exit_code == 2
    assert "linear needs modules of the same LoRA rank" in " ".join(refused.stderr.split())
