"""The training config: the shipped TOML files load, and every mistake gets a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgerpilot.training.config import ConfigError, TrainConfig, load_config
from ledgerpilot.training.sft import choose_backend, read_chat_file

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

GOOD = """
base_model = "models/tiny"
output_dir = "runs/tiny"

[data]
dir = "var/dataset"

[lora]
r = 8
alpha = 16

[training]
learning_rate = 1e-3
max_steps = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["accounting-bot-qwen2.5-coder-7b", "numeric-module", "tiny-cpu"])
def test_the_shipped_configs_load(name: str) -> None:
    config = load_config(CONFIGS / f"{name}.toml")
    assert config.source == CONFIGS / f"{name}.toml"
    assert config.lora.r >= 1 and config.training.learning_rate > 0


def test_the_accounting_bot_config_has_the_papers_recipe() -> None:
    config = load_config(CONFIGS / "accounting-bot-qwen2.5-coder-7b.toml")
    lora, training = config.lora, config.training
    assert (lora.r, lora.alpha, lora.dropout) == (16, 16, 0.0)
    assert lora.target_modules == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
    ]  # fmt: skip
    assert (training.learning_rate, training.lr_scheduler) == (2e-4, "linear")
    assert training.load_in_4bit and training.max_seq_length == 2048
    assert training.response_only_loss and training.gradient_checkpointing
    numeric = load_config(CONFIGS / "numeric-module.toml")
    assert numeric.data.train_path == Path("var/numeric/numeric_train.jsonl")
    assert numeric.data.test_path is None
    # merging the two modules needs the same base, rank and targets
    assert (numeric.base_model, numeric.lora.r, numeric.lora.target_modules) == (
        config.base_model,
        lora.r,
        lora.target_modules,
    )


def test_a_good_file_reads_with_defaults_and_overrides(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), {"training.max_steps": 9, "resume": True})
    assert isinstance(config, TrainConfig)
    assert config.data.train_path == Path("var/dataset/train.jsonl")
    assert config.data.test_path == Path("var/dataset/test.jsonl")
    assert (config.training.max_steps, config.resume) == (9, True)
    assert config.training.response_only_loss is True  # the default


def test_a_misspelt_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("learning_rate", "lerning_rate"))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: unknown key 'training.lerning_rate'"


def test_an_unknown_top_level_key_and_a_missing_one(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('base_model = "models/tiny"', 'model = "models/tiny"'))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}: unknown key 'model'" in message
    assert f"{path}: missing key 'base_model'" in message


def test_a_bad_value_names_the_key_the_rule_and_the_value(tmp_path: Path) -> None:
    path = write(
        tmp_path, GOOD.replace("r = 8", "r = 0").replace("max_steps = 5", 'max_steps = "x"')
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}: lora.r: Input should be greater than or equal to 1 (got 0)" in message
    assert f"{path}: training.max_steps:" in message and "'x'" in message
    path = write(tmp_path, GOOD.replace("[training]", '[training]\nlr_scheduler = "warm"'))
    with pytest.raises(ConfigError, match=r"training\.lr_scheduler: Input should be 'linear'"):
        load_config(path)
    path = write(tmp_path, GOOD.replace("alpha = 16", "alpha = 16\ntarget_modules = []"))
    with pytest.raises(ConfigError, match="lora: target_modules is empty"):
        load_config(path)


def test_bad_toml_and_a_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "\n[training\n")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid TOML: .*line"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_missing_model_and_data_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(path)
    with pytest.raises(
        ConfigError, match=rf"{path}: base_model: models/tiny is not a model directory"
    ):
        config.check_paths()
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    config = config.model_copy(update={"base_model": model})
    with pytest.raises(ConfigError, match=r"data\.train: no such file var/dataset/train\.jsonl"):
        config.check_paths()


def test_unsloth_or_4bit_on_a_cpu_machine_is_refused_clearly(tmp_path: Path) -> None:
    from ledgerpilot.training.sft import cuda_available, unsloth_installed

    if cuda_available() and unsloth_installed():
        pytest.skip("this machine can run Unsloth")
    config = load_config(
        write(tmp_path, GOOD.replace("[training]", '[training]\nbackend = "unsloth"'))
    )
    with pytest.raises(ConfigError, match="'unsloth' needs a CUDA GPU and the unsloth package"):
        choose_backend(config)
    assert choose_backend(load_config(write(tmp_path, GOOD))) == "peft"


def test_4bit_without_a_gpu_is_refused(tmp_path: Path) -> None:
    from ledgerpilot.training import sft

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    text = GOOD.replace("[training]", "[training]\nload_in_4bit = true")
    config = load_config(write(tmp_path, text)).model_copy(update={"base_model": model})
    with pytest.raises(ConfigError, match="4-bit loading needs a CUDA GPU and bitsandbytes"):
        sft._load_peft(config, cuda=False)


def test_a_bad_data_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path.write_text(
        json.dumps(good)
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "q"}]})
        + "\n"
    )
    with pytest.raises(ConfigError, match=rf"{path}:2: the last message is not the assistant's"):
        read_chat_file(path)
    path.write_text(json.dumps(good) + "\n{oops\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: not JSON"):
        read_chat_file(path)
    path.write_text(json.dumps({"messages": [{"role": "bot", "content": "a"}]}) + "\n")
    with pytest.raises(ConfigError, match=rf"{path}:1: a message needs a role"):
        read_chat_file(path)


def test_the_cli_reports_a_config_error_with_exit_status_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    path = write(tmp_path, GOOD.replace("max_steps", "max_stepz"))
    result = CliRunner().invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 2
    assert "unknown key 'training.max_stepz'" in result.output


def test_a_gguf_file_is_refused_with_the_way_to_convert_it(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD.replace('"models/tiny"', '"models/tiny.gguf"')))
    with pytest.raises(ConfigError, match="is a GGUF file, which cannot be trained directly"):
        config.check_paths()
