"""The vLLM command for the trained modules, and the clear refusal where vLLM cannot run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.training.serve import (
    ServeError,
    parse_modules,
    vllm_command,
    vllm_lora_rank,
    vllm_unavailable,
)


def adapter(path: Path, rank: int, rank_pattern: dict[str, int] | None = None) -> Path:
    """A LoRA adapter directory as PEFT writes its config (the weights are not read here)."""
    path.mkdir(parents=True)
    config = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": 2 * rank,
        "target_modules": ["q_proj", "v_proj"],
        "rank_pattern": rank_pattern or {},
    }
    (path / "adapter_config.json").write_text(json.dumps(config))
    return path


def test_one_adapter(tmp_path: Path) -> None:
    domain = adapter(tmp_path / "domain", 16)
    command = vllm_command("/models/qwen2.5-coder-7b", [("ledgerpilot", domain)])
    assert command.argv == (
        "vllm",
        "serve",
        "/models/qwen2.5-coder-7b",
        "--host=0.0.0.0",
        "--port=8000",
        "--served-model-name=qwen2.5-coder-7b",
        "--enable-lora",
        "--lora-modules",
        f"ledgerpilot={domain}",
        "--max-lora-rank=16",
        "--max-loras=1",
        "--structured-outputs-config.backend=xgrammar",
    )
    assert command.model_names == ("ledgerpilot", "qwen2.5-coder-7b")
    assert command.settings()["LEDGERPILOT_LLM_MODEL"] == "ledgerpilot"
    assert command.env == {}


def test_two_adapters_take_the_largest_rank_rounded_up_to_one_vllm_accepts(
    tmp_path: Path,
) -> None:
    domain = adapter(tmp_path / "domain", 16)
    numeric = adapter(tmp_path / "numeric", 8, rank_pattern={"layers.0.mlp.down_proj": 20})
    command = vllm_command(
        "/m/base",
        [("domain", domain), ("numeric", numeric)],
        port=8100,
        api_key="s3cret",
        max_model_len=8192,
        served_model_name="base",
    )
    argv = list(command.argv)
    lora = argv.index("--lora-modules")
    assert argv[lora + 1 : lora + 3] == [f"domain={domain}", f"numeric={numeric}"]
    assert "--max-lora-rank=32" in argv  # 20 (a rank pattern) rounds up to vLLM's 32
    assert "--max-loras=2" in argv and "--port=8100" in argv and "--max-model-len=8192" in argv
    # The key travels in the environment, never on the command line.
    assert command.env == {"VLLM_API_KEY": "s3cret"}
    assert "s3cret" not in command.shell()
    assert command.settings()["LEDGERPILOT_LLM_BASE_URL"] == "http://localhost:8100/v1"


def test_a_merged_model_is_served_without_lora() -> None:
    argv = vllm_command("/m/merged").argv
    assert "--enable-lora" not in argv and argv[:3] == ("vllm", "serve", "/m/merged")


@pytest.mark.parametrize(("rank", "allowed"), [(1, 8), (8, 8), (9, 16), (64, 64), (300, 320)])
def test_vllm_ranks(rank: int, allowed: int) -> None:
    assert vllm_lora_rank(rank) == allowed


def test_bad_adapters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="not a PEFT adapter directory"):
        vllm_command("/m/base", [("ledgerpilot", tmp_path)])
    with pytest.raises(ServeError, match="exceeds vLLM's largest"):
        vllm_command("/m/base", [("big", adapter(tmp_path / "big", 1024))])
    with pytest.raises(ServeError, match="give NAME=PATH"):
        parse_modules(["ledgerpilot"])
    with pytest.raises(ServeError, match="names must differ"):
        parse_modules(["a=x", "a=y"])
    with pytest.raises(ServeError, match="structured-outputs backend"):
        vllm_command("/m/base", structured_backend="regex")


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app
    from ledgerpilot.config import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()


def test_the_command_prints_what_it_would_run(tmp_path: Path) -> None:
    domain = adapter(tmp_path / "domain", 16)
    done = cli(
        "serve-model",
        "--base",
        "/m/base",
        "--adapter",
        f"ledgerpilot={domain}",
        "--print",
        env={"LEDGERPILOT_LLM_API_KEY": "s3cret"},
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == vllm_command("/m/base", [("ledgerpilot", domain)]).shell()
    assert "VLLM_API_KEY" in done.stderr and "s3cret" not in done.output
    assert "LEDGERPILOT_LLM_MODEL=ledgerpilot" in done.stderr


@pytest.mark.skipif(vllm_unavailable() is None, reason="vLLM can run here: it would start")
def test_without_vllm_or_a_gpu_it_says_so_and_suggests_alternatives(tmp_path: Path) -> None:
    domain = adapter(tmp_path / "domain", 16)
    done = cli("serve-model", "--base", "/m/base", "--adapter", f"ledgerpilot={domain}")
    assert done.exit_code == 2
    said = " ".join(done.stderr.split())
    assert "vLLM cannot run here" in said
    for hint in ("make llamacpp", "gguf_export", "transformers serve", "OpenAI-compatible"):
        assert hint in said
    for setting in ("LEDGERPILOT_LLM_BASE_URL", "LEDGERPILOT_LLM_MODEL", "LEDGERPILOT_LLM_API_KEY"):
        assert setting in said


def test_a_missing_adapter_is_an_input_error(tmp_path: Path) -> None:
    done = cli("serve-model", "--base", "/m/base", "--adapter", f"x={tmp_path}", "--print")
    assert done.exit_code == 2
    assert "no adapter_config.json" in done.stderr
